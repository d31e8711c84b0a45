//! A recovery point as `--point` names it: `RESOURCE=snapshot:SLOT` or
//! `RESOURCE=point_in_time:TIME`, and as the decision body's `recovery_points` carry it.

use serde_json::{json, Value};

/// A recovery point named on the command line: `RESOURCE=snapshot:SLOT` or
/// `RESOURCE=point_in_time:TIME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenPoint {
    pub resource: String,
    pub kind: PointKind,
    /// The snapshot's slot, or the point-in-time target (RFC 3339, checked by the API).
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointKind {
    Snapshot,
    PointInTime,
}

impl ChosenPoint {
    pub fn parse(text: &str) -> Result<ChosenPoint, String> {
        let usage = "expected RESOURCE=snapshot:SLOT or RESOURCE=point_in_time:TIME, \
                     e.g. rds:acme-db=snapshot:2026-11-28T09:00:00Z";
        let (resource, point) = text.split_once('=').ok_or(usage)?;
        // Times hold colons too: the kind is what comes before the first one.
        let (kind, at) = point.split_once(':').ok_or(usage)?;
        let kind = match kind {
            "snapshot" => PointKind::Snapshot,
            "point_in_time" | "pitr" => PointKind::PointInTime,
            _ => return Err(format!("unknown kind of point {kind:?}: {usage}")),
        };
        if resource.is_empty() || at.is_empty() {
            return Err(usage.to_string());
        }
        Ok(ChosenPoint {
            resource: resource.to_string(),
            kind,
            at: at.to_string(),
        })
    }

    /// The `ChosenPoint` object of the API.
    pub fn body(&self) -> Value {
        match self.kind {
            PointKind::Snapshot => {
                json!({"resource": self.resource, "kind": "snapshot", "slot": self.at})
            }
            PointKind::PointInTime => {
                json!({"resource": self.resource, "kind": "point_in_time", "target": self.at})
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_without_a_kind_or_resource_is_refused_with_the_expected_form() {
        for bad in [
            "rds:db",
            "rds:db=2026-11-28T09:00:00Z",
            "=snapshot:2026-11-28T09:00:00Z",
            "rds:db=backup:x",
        ] {
            let e = ChosenPoint::parse(bad).unwrap_err();
            assert!(e.contains("RESOURCE=snapshot:SLOT"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_point_is_the_api_s_chosen_point() {
        let p = ChosenPoint::parse("rds:acme-db=pitr:2026-11-28T09:05:00Z").unwrap();
        assert_eq!(
            p.body(),
            json!({"resource": "rds:acme-db", "kind": "point_in_time", "target": "2026-11-28T09:05:00Z"})
        );
    }
}
