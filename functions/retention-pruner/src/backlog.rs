//! The backlog: expired points a run left in place (its deletion bound reached, a deletion
//! that failed, or a dry run). A backlog that stays, or grows old, means the pruner does not
//! keep up: the template alarms on its age.

use chrono::{DateTime, Utc};
use lifeboat::retention::{KeepReason, Verdict};
use serde::Serialize;

use crate::{DecisionRecord, Outcome};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Backlog {
    /// Expired points still held after this run.
    pub points: usize,
    /// When the longest-expired of them expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_expired_at: Option<DateTime<Utc>>,
    /// Whole hours since then (0 without a backlog).
    pub oldest_hours: u64,
}

impl Backlog {
    pub fn of(decisions: &[DecisionRecord], now: DateTime<Utc>) -> Backlog {
        let expiries: Vec<DateTime<Utc>> = decisions
            .iter()
            .filter_map(|d| match (&d.decision.verdict, &d.outcome) {
                (Verdict::Keep(KeepReason::DeletionBoundReached { expired_at, .. }), _) => Some(*expired_at),
                (Verdict::Delete { expired_at }, Outcome::Failed | Outcome::WouldDelete) => Some(*expired_at),
                _ => None,
            })
            .collect();
        let oldest = expiries.iter().min().copied();
        Backlog {
            points: expiries.len(),
            oldest_expired_at: oldest,
            oldest_hours: oldest.map_or(0, |at| (now - at).num_hours().max(0) as u64),
        }
    }
}
