//! What a restore made, pinned once it is proven its own: the service's record of which
//! resource it is (a DynamoDB table's `TableId` and creation time, an RDS instance's
//! `DbiResourceId`), which no other resource by the same name shares (one deleted and made
//! again under the name is another).
//!
//! A name can change hands while a restore waits (for hours, for a confirmation): staging is
//! proven this restore's once (`check_ready`, a drill's `ready`), its identity recorded in
//! the run, and every later use that changes production or reports on it (each swap poll,
//! each copy-back shard, verification, the renames, the deletion) requires the resource by
//! the name to still be that one. An undo's fallback is pinned the same way once proven.

use serde::{Deserialize, Serialize};
use std::fmt;

use chrono::{DateTime, Utc};

/// The service's own record of which resource a resource is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The service's immutable id (a DynamoDB `TableId`, an RDS `DbiResourceId`).
    pub id: String,
    /// When the service created it, where the id is not enough on its own (DynamoDB's
    /// `CreationDateTime`, alongside the `TableId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<DateTime<Utc>>,
}

impl Identity {
    /// Why the resource found (`found`, as its service describes it now) is not the one
    /// pinned as `self`, if it is not.
    pub fn differs(&self, found: &Identity) -> Option<String> {
        if self == found {
            return None;
        }
        Some(format!(
            "it is {found}, not {self}, the one proven this restore's (replaced under the name)"
        ))
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.created {
            Some(created) => write!(f, "{} (created {})", self.id, created.to_rfc3339()),
            None => write!(f, "{}", self.id),
        }
    }
}

/// What a restore made and pins: staging (a drill's sandbox too), or an undo's fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Staging,
    Fallback,
}

impl Made {
    pub fn as_str(self) -> &'static str {
        match self {
            Made::Staging => "staging",
            Made::Fallback => "fallback",
        }
    }
}

/// Why `found` may not be used as what `made` pinned (`pinned`), if it may not: nothing pinned
/// (the use comes before the proof, or the run was recorded without it) is refused too.
pub fn refusal(made: Made, pinned: Option<&Identity>, found: &Identity) -> Option<String> {
    match pinned {
        None => Some(format!(
            "no {} identity was pinned when it was proven this restore's, so it cannot be told from a look-alike",
            made.as_str()
        )),
        Some(pinned) => pinned.differs(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(id: &str, created: &str) -> Identity {
        Identity {
            id: id.into(),
            created: Some(created.parse().unwrap()),
        }
    }

    #[test]
    fn only_the_very_resource_pinned_passes() {
        let pinned = table("4f2c", "2026-12-03T06:00:01.250Z");
        assert_eq!(refusal(Made::Staging, Some(&pinned), &pinned.clone()), None);
        let made_again = table("4f2c", "2026-12-03T07:00:00Z");
        let other = table("9a71", "2026-12-03T06:00:01.250Z");
        for found in [made_again, other] {
            let why = refusal(Made::Staging, Some(&pinned), &found).expect("refused");
            assert!(why.contains(&found.to_string()), "{why}");
            assert!(why.contains("replaced under the name"), "{why}");
        }
    }

    #[test]
    fn nothing_pinned_is_refused_naming_what() {
        let found = Identity {
            id: "db-ABC".into(),
            created: None,
        };
        let why = refusal(Made::Fallback, None, &found).expect("refused");
        assert!(why.contains("no fallback identity was pinned"), "{why}");
    }

    #[test]
    fn a_pinned_identity_reads_back_as_stored() {
        let pinned = table("4f2c", "2026-12-03T06:00:01.250Z");
        let stored = serde_json::to_string(&pinned).unwrap();
        assert_eq!(serde_json::from_str::<Identity>(&stored).unwrap(), pinned);
        let rds: Identity = serde_json::from_str(r#"{"id":"db-ABC"}"#).unwrap();
        assert_eq!(rds.created, None);
    }
}
