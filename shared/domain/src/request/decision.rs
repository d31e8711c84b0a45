//! An engineer's decision (`POST /restore-requests/{id}/decision`), parsed once into a
//! [`DecisionInput`] that can only hold valid values.
//!
//! An approval names the mode, the recovery points (by default the request's recovery
//! options) and, for a selective restore, what to restore. Whether the points fit the
//! request's instance and still exist is checked against the request and the catalog by
//! the intake, which knows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::Body;
use super::options::Source;
use super::problem::{FieldError, Invalid};
use crate::catalog::ResourceKey;
use crate::schedule::Slot;

pub const MAX_REASON: usize = 2000;
pub const MAX_SELECTION_ITEMS: usize = 100;
/// The selection is stored on the request and its run, one DynamoDB item of 400 KB.
pub const MAX_SELECTION_BYTES: usize = 64 * 1024;
pub const MAX_KEYS: usize = 10_000;
pub const MAX_NAME: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Roll whole resources back to their recovery points.
    Rollback,
    /// Isolate the selected records from the points and merge them into production.
    Selective,
}

/// A recovery point chosen for one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenPoint {
    pub resource: ResourceKey,
    #[serde(flatten)]
    pub source: Source,
}

/// Which records of one table to restore in a selective restore.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    pub resource: ResourceKey,
    pub table: String,
    #[serde(flatten)]
    pub records: Records,
    /// Also the rows that depend on the selected ones (PostgreSQL foreign keys).
    #[serde(default)]
    pub with_dependants: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Records {
    /// Explicit primary keys (a value, or an object of key columns, per record).
    Keys(Vec<Value>),
    /// Rows whose columns equal these values (bound as parameters, never spliced).
    Filter(serde_json::Map<String, Value>),
    /// Every row at the recovery point that production lacks now.
    Missing(bool),
}

/// A parsed decision body.
#[derive(Debug, Clone, PartialEq)]
pub enum DecisionInput {
    Reject {
        reason: String,
    },
    Approve {
        reason: String,
        mode: Mode,
        /// `None`: the request's recovery options.
        recovery_points: Option<Vec<ChosenPoint>>,
        selection: Vec<Selection>,
    },
}

/// The decision as recorded on the request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    pub by: String,
    pub at: DateTime<Utc>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_points: Vec<ChosenPoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selection: Vec<Selection>,
}

impl Eq for Decision {}

/// A body that may be empty or `{"reason": "…"}` (cancel, confirm).
pub fn parse_optional_reason(body: &[u8]) -> Result<Option<String>, Invalid> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let value = Body::parse(body)?;
    let mut b = Body::new(&value, "")?;
    let v = b.value("reason");
    let reason = b.text(v, "reason", MAX_REASON);
    let errors = b.finish();
    if errors.is_empty() {
        Ok(reason)
    } else {
        Err(Invalid(errors))
    }
}

pub fn parse_decision(body: &[u8]) -> Result<DecisionInput, Invalid> {
    let value = Body::parse(body)?;
    let mut b = Body::new(&value, "")?;
    let v = b.required("decision");
    let verdict = b.choice(v, "decision", &["approve", "reject"], |s| match s {
        "approve" => Some(Verdict::Approve),
        "reject" => Some(Verdict::Reject),
        _ => None,
    });
    let v = b.required("reason");
    let reason = b.text(v, "reason", MAX_REASON);
    let mode_value = b.value("mode");
    let points_value = b.value("recovery_points");
    let selection_value = b.value("selection");
    let mut approval = None;
    if verdict == Some(Verdict::Approve) {
        if mode_value.is_none() {
            b.reject("mode", "is required to approve");
        }
        let mode = b.choice(mode_value, "mode", &["rollback", "selective"], |s| match s {
            "rollback" => Some(Mode::Rollback),
            "selective" => Some(Mode::Selective),
            _ => None,
        });
        let points = points_value.map(|v| chosen_points(v, &mut b.errors));
        let selection = selection_value
            .map(|v| selections(v, &mut b.errors))
            .unwrap_or_default();
        match mode {
            Some(Mode::Selective) if selection.is_empty() => b.reject(
                "selection",
                "is required for a selective restore: name what to restore",
            ),
            Some(Mode::Rollback) if selection_value.is_some() => {
                b.reject("selection", "is only for a selective restore")
            }
            _ => {}
        }
        approval = mode.map(|mode| (mode, points, selection));
    } else if verdict == Some(Verdict::Reject) {
        for (name, v) in [
            ("mode", mode_value),
            ("recovery_points", points_value),
            ("selection", selection_value),
        ] {
            if v.is_some() {
                b.reject(name, "is only for an approval");
            }
        }
    }
    let errors = b.finish();
    if !errors.is_empty() {
        return Err(Invalid(errors));
    }
    let reason = reason.expect("no errors means the reason was read");
    Ok(match approval {
        None => DecisionInput::Reject { reason },
        Some((mode, points, selection)) => DecisionInput::Approve {
            reason,
            mode,
            recovery_points: points.flatten(),
            selection,
        },
    })
}

/// `recovery_points`: `[{"resource": "rds:db", "kind": "snapshot", "slot": "…"}
/// | {"resource": …, "kind": "point_in_time", "target": "…"}]`.
fn chosen_points(value: &Value, errors: &mut Vec<FieldError>) -> Option<Vec<ChosenPoint>> {
    let Some(items) = value.as_array().filter(|a| !a.is_empty()) else {
        errors.push(FieldError::new("recovery_points", "must be a non-empty array"));
        return None;
    };
    Some(Body::each_object(items, "recovery_points", errors, |b| {
        let v = b.required("resource");
        let resource = resource_key(b, v);
        let v = b.required("kind");
        let snapshot = b.choice(v, "kind", &["snapshot", "point_in_time"], |s| match s {
            "snapshot" => Some(true),
            "point_in_time" => Some(false),
            _ => None,
        });
        let source = match snapshot {
            Some(true) => {
                let v = b.required("slot");
                b.time(v, "slot").and_then(|t| {
                    let slot = Slot::containing(t);
                    if slot.start() != t {
                        b.reject("slot", "must be on the hour (a snapshot's slot)");
                        return None;
                    }
                    Some(Source::Snapshot {
                        slot,
                        tiers: Vec::new(),
                        service_id: None,
                    })
                })
            }
            Some(false) => {
                let v = b.required("target");
                b.time(v, "target").map(|target| Source::PointInTime { target })
            }
            None => None,
        };
        Some(ChosenPoint {
            resource: resource?,
            source: source?,
        })
    }))
}

fn resource_key<'a>(b: &mut Body<'a>, v: Option<&'a Value>) -> Option<ResourceKey> {
    let text = b.text(v, "resource", MAX_NAME + 16)?;
    match ResourceKey::try_from(text) {
        Ok(key) => Some(key),
        Err(_) => {
            b.reject("resource", "must be rds:<db identifier> or dynamodb:<table name>");
            None
        }
    }
}

/// `selection`: `[{"resource": "rds:db", "table": "contacts", "keys" | "filter" | "missing": …,
/// "with_dependants": bool}]`.
fn selections(value: &Value, errors: &mut Vec<FieldError>) -> Vec<Selection> {
    let Some(items) = value.as_array() else {
        errors.push(FieldError::new("selection", "must be an array"));
        return Vec::new();
    };
    if value.to_string().len() > MAX_SELECTION_BYTES {
        errors.push(FieldError::new(
            "selection",
            format!("must be at most {MAX_SELECTION_BYTES} bytes of JSON: select by filter or `missing` rather than list that many keys"),
        ));
        return Vec::new();
    }
    if items.len() > MAX_SELECTION_ITEMS {
        errors.push(FieldError::new(
            "selection",
            format!("must have at most {MAX_SELECTION_ITEMS} items"),
        ));
        return Vec::new();
    }
    Body::each_object(items, "selection", errors, |b| {
        let v = b.required("resource");
        let resource = resource_key(b, v);
        let v = b.required("table");
        let table = b.text(v, "table", MAX_NAME);
        let records = selected_records(b);
        let v = b.value("with_dependants");
        let with_dependants = match v {
            None => false,
            Some(Value::Bool(x)) => *x,
            Some(_) => {
                b.reject("with_dependants", "must be true or false");
                false
            }
        };
        Some(Selection {
            resource: resource?,
            table: table?,
            records: records?,
            with_dependants,
        })
    })
}

/// Exactly one of `keys`, `filter`, `missing`.
fn selected_records(b: &mut Body) -> Option<Records> {
    let keys = b.value("keys");
    let filter = b.value("filter");
    let missing = b.value("missing");
    let given = [keys.is_some(), filter.is_some(), missing.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        b.reject("keys", "give exactly one of keys, filter or missing");
        return None;
    }
    if let Some(v) = keys {
        return match v.as_array() {
            Some(a) if !a.is_empty() && a.len() <= MAX_KEYS => Some(Records::Keys(a.clone())),
            _ => {
                b.reject("keys", format!("must be an array of 1 to {MAX_KEYS} keys"));
                None
            }
        };
    }
    if let Some(v) = filter {
        return match v.as_object() {
            Some(o) if !o.is_empty() && o.keys().all(|k| !k.is_empty() && k.len() <= MAX_NAME) => {
                Some(Records::Filter(o.clone()))
            }
            _ => {
                b.reject("filter", "must be an object of column names to values");
                None
            }
        };
    }
    match missing {
        Some(Value::Bool(true)) => Some(Records::Missing(true)),
        _ => {
            b.reject("missing", "must be true");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_selection_too_big_to_store_is_refused_by_name() {
        let keys: Vec<String> = (0..5000)
            .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
            .collect();
        let body = json!({"decision": "approve", "reason": "r", "mode": "selective",
            "selection": [{"resource": "rds:db", "table": "contacts", "keys": keys}]});
        let Err(Invalid(errors)) = parse_decision(body.to_string().as_bytes()) else {
            panic!("accepted a selection of {} bytes", body.to_string().len())
        };
        assert_eq!(errors[0].field, "selection");
        assert!(errors[0].detail.contains("at most 65536 bytes"), "{errors:?}");
    }
}
