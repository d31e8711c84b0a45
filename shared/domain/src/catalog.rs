//! The recovery-point catalog model: what Lifeboat knows about every point it made.
//!
//! The catalog (a DynamoDB table in a deployment) is the source of truth; the services are
//! reconciled against it. A point is identified by its resource and its slot, and its
//! service-side name is derived from both, so a retried tick always finds what it made before.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::schedule::{Slot, TierSet};

/// Every name Lifeboat gives a snapshot or backup starts with this.
pub const NAME_PREFIX: &str = "lifeboat-";

/// The kind of AWS resource a point belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    #[serde(rename = "rds")]
    RdsInstance,
    #[serde(rename = "dynamodb")]
    DynamoTable,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::RdsInstance => "rds",
            ResourceKind::DynamoTable => "dynamodb",
        }
    }
}

/// A managed resource, by kind and service-side name (DB identifier or table name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ResourceKey {
    pub kind: ResourceKind,
    pub name: String,
}

impl ResourceKey {
    pub fn rds(name: impl Into<String>) -> Self {
        ResourceKey {
            kind: ResourceKind::RdsInstance,
            name: name.into(),
        }
    }

    pub fn dynamodb(name: impl Into<String>) -> Self {
        ResourceKey {
            kind: ResourceKind::DynamoTable,
            name: name.into(),
        }
    }

    /// The service-side name of this resource's point for `slot`:
    /// `lifeboat-<resource>-<slot label>`, valid as an RDS snapshot identifier and as a
    /// DynamoDB backup name.
    pub fn point_name(&self, slot: Slot) -> String {
        format!("{NAME_PREFIX}{}-{}", self.name, slot.label())
    }
}

/// Splits a Lifeboat point name into the resource name and slot; `None` for any other name.
pub fn parse_point_name(name: &str) -> Option<(&str, Slot)> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (resource, label) = rest.rsplit_once('-')?;
    let slot = Slot::parse_label(label)?;
    (!resource.is_empty()).then_some((resource, slot))
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.name)
    }
}

impl From<ResourceKey> for String {
    fn from(k: ResourceKey) -> String {
        k.to_string()
    }
}

impl TryFrom<String> for ResourceKey {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (kind, name) = s
            .split_once(':')
            .ok_or_else(|| format!("resource key {s:?} has no kind prefix"))?;
        let kind = match kind {
            "rds" => ResourceKind::RdsInstance,
            "dynamodb" => ResourceKind::DynamoTable,
            other => return Err(format!("resource key {s:?} has unknown kind {other:?}")),
        };
        if name.is_empty() {
            return Err(format!("resource key {s:?} has no name"));
        }
        Ok(ResourceKey {
            kind,
            name: name.to_string(),
        })
    }
}

/// Where a point stands with its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointState {
    /// Asked for; the service is still making it.
    Creating,
    /// Restorable.
    Available,
    /// Deleted by the pruner or an operator; kept in the catalog as the record of why.
    Deleted,
    /// Catalogued, but the service no longer has it (found by reconciliation).
    Missing,
    /// Not a point yet: the weekly or monthly tiers a tick could not take, handed on to the
    /// next slot, whose tick takes them late (see `schedule::late`). That tick's
    /// claim replaces the record; nothing was asked of the service for it.
    Due,
}

impl PointState {
    /// Whether the service (should) still hold the point.
    pub fn is_present(self) -> bool {
        matches!(self, PointState::Creating | PointState::Available)
    }
}

/// One recovery point: a snapshot or on-demand backup of one resource for one slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryPoint {
    pub resource: ResourceKey,
    pub instance_id: String,
    pub slot: Slot,
    pub tiers: TierSet,
    /// RDS snapshot identifier or DynamoDB backup ARN. `None` in the claim the creator writes
    /// before asking the service (so a crash never orphans a point); the pruner's
    /// reconciliation fills it in from the service's listing within the hour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    pub state: PointState,
    /// Who holds the point (restore request ids); a held point is never deleted. A hold may
    /// expire (see [`Hold`]).
    #[serde(default)]
    pub holds: BTreeSet<String>,
    pub policy: String,
    pub timezone: String,
    /// Why the point is in its state, when it got there other than by being created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the point's state last changed.
    pub updated_at: DateTime<Utc>,
}

impl RecoveryPoint {
    /// The holds still in force at `now`.
    pub fn live_holds(&self, now: DateTime<Utc>) -> BTreeSet<String> {
        self.holds
            .iter()
            .filter(|h| !Hold::parse(h).expired(now))
            .cloned()
            .collect()
    }

    /// The holds that expired by `now`, which the pruner removes before a deletion.
    pub fn expired_holds(&self, now: DateTime<Utc>) -> Vec<String> {
        self.holds
            .iter()
            .filter(|h| Hold::parse(h).expired(now))
            .cloned()
            .collect()
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.tiers.expires_at().unwrap_or(self.slot.start())
    }

    pub fn name(&self) -> String {
        self.resource.point_name(self.slot)
    }
}

/// A hold on a recovery point: its holder (a restore request id), and for a hold that
/// outlives its request (a failed restore's, kept so that a new request can be filed for
/// the same points) when it ends: written `<holder>@until=<RFC 3339>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold<'a> {
    pub holder: &'a str,
    pub until: Option<DateTime<Utc>>,
}

const UNTIL: &str = "@until=";

impl<'a> Hold<'a> {
    pub fn parse(text: &'a str) -> Hold<'a> {
        match text.split_once(UNTIL) {
            Some((holder, until)) => match until.parse() {
                Ok(until) => Hold {
                    holder,
                    until: Some(until),
                },
                // Unreadable: a hold that never ends (keeping is the safe side).
                Err(_) => Hold {
                    holder: text,
                    until: None,
                },
            },
            None => Hold {
                holder: text,
                until: None,
            },
        }
    }

    /// The stored form of `holder`'s hold until `until`.
    pub fn until(holder: &str, until: DateTime<Utc>) -> String {
        format!(
            "{holder}{UNTIL}{}",
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.until.is_some_and(|until| now >= until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_that_end_expire_and_others_never() {
        let now: DateTime<Utc> = "2026-12-03T12:00:00Z".parse().unwrap();
        let later = Hold::until("rr-1", now + chrono::TimeDelta::days(7));
        assert_eq!(later, "rr-1@until=2026-12-10T12:00:00Z");
        assert_eq!(Hold::parse(&later).holder, "rr-1");
        assert!(!Hold::parse(&later).expired(now));
        assert!(Hold::parse(&later).expired(now + chrono::TimeDelta::days(7)));
        assert!(!Hold::parse("rr-2").expired(now + chrono::TimeDelta::days(9999)));
        assert!(!Hold::parse("rr-3@until=soon").expired(now), "unreadable: kept");
    }

    #[test]
    fn point_names_parse_back() {
        let slot = Slot::containing("2026-11-28T03:00:00Z".parse().unwrap());
        let key = ResourceKey::rds("demo-db-1");
        let name = key.point_name(slot);
        assert_eq!(name, "lifeboat-demo-db-1-20261128t0300z");
        assert_eq!(parse_point_name(&name), Some(("demo-db-1", slot)));
        assert_eq!(parse_point_name("rds:demo-db-1-20261128t0300z"), None);
        assert_eq!(parse_point_name("lifeboat-demo"), None);
        assert_eq!(parse_point_name("lifeboat--20261128t0300z"), None);
    }

    #[test]
    fn resource_keys_round_trip_as_strings() {
        let key = ResourceKey::dynamodb("orders.v2");
        let s: String = key.clone().into();
        assert_eq!(s, "dynamodb:orders.v2");
        assert_eq!(ResourceKey::try_from(s).unwrap(), key);
        assert!(ResourceKey::try_from("s3:bucket".to_string()).is_err());
    }
}
