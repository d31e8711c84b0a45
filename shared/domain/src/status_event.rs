//! Status events: what Lifeboat tells the world (support tooling, account managers, chat
//! rooms) each time a restore request changes state or a restore passes a step, a drill
//! ends or the audit finds something. Published on EventBridge with `source` [`SOURCE`] and
//! one detail-type per kind of change ([`DetailType`]); the detail's shape is documented by
//! the JSON Schemas in `infra/events/`.
//!
//! Two promises hold for every event:
//! - its `event_id` is deterministic: the request (or drill, or audit) and the change it
//!   announces, never a random number or the wall clock, so an event republished by a retried
//!   step carries the id of the first and consumers can de-duplicate (delivery is at least
//!   once);
//! - its `summary` is customer-safe: it names the instance and times, never a record's
//!   content, a person, or a resource identifier (no database, table, snapshot or staging
//!   name), so an account manager can forward it as it is.
//!
//! - [`restore`]: the events of a restore request's life, built from the request as stored.
//! - [`fleet`]: the events of drills and the daily audit.
//! - [`summary`]: the customer-safe sentences.

pub mod fleet;
pub mod restore;
pub mod summary;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use fleet::{AuditFindingDetail, DrillDetail};
pub use restore::{RestoreChange, RestoreDetail};

/// The `source` of every event Lifeboat publishes.
pub const SOURCE: &str = "lifeboat";

/// What an event announces: its EventBridge `detail-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetailType {
    RequestFiled,
    RequestDecided,
    RequestCancelled,
    StagingReady,
    AwaitingConfirmation,
    Progress,
    Completed,
    Failed,
    DrillCompleted,
    AuditFinding,
}

impl DetailType {
    pub const ALL: [DetailType; 10] = [
        DetailType::RequestFiled,
        DetailType::RequestDecided,
        DetailType::RequestCancelled,
        DetailType::StagingReady,
        DetailType::AwaitingConfirmation,
        DetailType::Progress,
        DetailType::Completed,
        DetailType::Failed,
        DetailType::DrillCompleted,
        DetailType::AuditFinding,
    ];

    /// The `detail-type` rules match on.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::RequestFiled => "Restore Request Filed",
            DetailType::RequestDecided => "Restore Request Decided",
            DetailType::RequestCancelled => "Restore Request Cancelled",
            DetailType::StagingReady => "Restore Staging Ready",
            DetailType::AwaitingConfirmation => "Restore Awaiting Confirmation",
            DetailType::Progress => "Restore Progress",
            DetailType::Completed => "Restore Completed",
            DetailType::Failed => "Restore Failed",
            DetailType::DrillCompleted => "Drill Completed",
            DetailType::AuditFinding => "Audit Finding",
        }
    }

    pub fn parse(s: &str) -> Option<DetailType> {
        DetailType::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The part of an event id that names the change (`completed`, `staging-ready`).
    pub fn slug(self) -> &'static str {
        match self {
            DetailType::RequestFiled => "filed",
            DetailType::RequestDecided => "decided",
            DetailType::RequestCancelled => "cancelled",
            DetailType::StagingReady => "staging-ready",
            DetailType::AwaitingConfirmation => "awaiting-confirmation",
            DetailType::Progress => "progress",
            DetailType::Completed => "completed",
            DetailType::Failed => "failed",
            DetailType::DrillCompleted => "drill-completed",
            DetailType::AuditFinding => "audit-finding",
        }
    }
}

/// An event's detail: a restore request's, a drill's or a finding's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Detail {
    Restore(RestoreDetail),
    Drill(DrillDetail),
    Audit(AuditFindingDetail),
}

/// One event, ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvent {
    pub detail_type: DetailType,
    pub detail: Detail,
}

impl StatusEvent {
    /// The id consumers de-duplicate on.
    pub fn event_id(&self) -> &str {
        match &self.detail {
            Detail::Restore(d) => &d.event_id,
            Detail::Drill(d) => &d.event_id,
            Detail::Audit(d) => &d.event_id,
        }
    }

    /// When the change happened (the event's `time`).
    pub fn at(&self) -> DateTime<Utc> {
        match &self.detail {
            Detail::Restore(d) => d.at,
            Detail::Drill(d) => d.at,
            Detail::Audit(d) => d.at,
        }
    }

    /// The request, drill or audit the event is about, for logs.
    pub fn subject(&self) -> &str {
        match &self.detail {
            Detail::Restore(d) => &d.request_id,
            Detail::Drill(d) => &d.drill_id,
            Detail::Audit(d) => &d.audit_date,
        }
    }

    pub fn summary(&self) -> &str {
        match &self.detail {
            Detail::Restore(d) => &d.summary,
            Detail::Drill(d) => &d.summary,
            Detail::Audit(d) => &d.summary,
        }
    }

    /// The detail as the JSON document EventBridge carries.
    pub fn detail_json(&self) -> String {
        serde_json::to_string(&self.detail).expect("event details serialize")
    }
}

/// An event id: the subject, then the change (`rr-6c0e…:completed`), then, for a change
/// that can happen more than once, which occurrence it is (`…:awaiting-confirmation:2`).
pub fn event_id(subject: &str, detail_type: DetailType, occurrence: Option<u64>) -> String {
    match occurrence {
        Some(n) => format!("{subject}:{}:{n}", detail_type.slug()),
        None => format!("{subject}:{}", detail_type.slug()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_types_read_back_and_their_slugs_are_distinct() {
        let mut slugs = std::collections::BTreeSet::new();
        for d in DetailType::ALL {
            assert_eq!(DetailType::parse(d.as_str()), Some(d));
            assert!(slugs.insert(d.slug()), "{d:?}");
        }
        assert_eq!(DetailType::parse("Scheduled Event"), None);
    }

    #[test]
    fn ids_name_the_subject_the_change_and_the_occurrence() {
        assert_eq!(event_id("rr-1", DetailType::Completed, None), "rr-1:completed");
        assert_eq!(
            event_id("rr-1", DetailType::AwaitingConfirmation, Some(2)),
            "rr-1:awaiting-confirmation:2"
        );
    }
}
