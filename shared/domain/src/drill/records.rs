//! Where a drill's records live in the reports bucket, and what they hold:
//!
//! - `drills/runs/<drill>/plan.json`: the plan, written before any sandbox is made, so that
//!   whoever finds the execution stopped can still delete what it made;
//! - `drills/runs/<drill>/checks.json`: every check's result (kept out of the execution's
//!   state, which Step Functions caps at 256 KB);
//! - `drills/runs/<drill>/swept.json`: what the sweep deleted after the execution stopped
//!   before its own cleanup, and why;
//! - `drills/left/<drill>.json`: the sandboxes of a stopped drill the sweep has not yet seen
//!   gone, tried again and counted every hour until they are, then removed;
//! - `drills/<instance>/outcomes/<started>.<succeeded|failed>.<drill>.json`: one per drill,
//!   the outcome in the key, so the audit draws a year of drills from one listing;
//! - `drills/<instance>/latest-success.json`: the latest successful drill, which the audit
//!   alarms on when it is older than 8 days.
//!
//! `<instance>` is [`instance_key`]: an id a tag made unsafe in a key is made safe.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::inventory::instance_key;

/// The record of an instance's latest successful drill, which the daily audit reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRecord {
    pub drill_id: String,
    pub started_at: DateTime<Utc>,
    pub restore_seconds: Option<i64>,
}

/// Where an instance's latest successful drill is recorded.
pub fn latest_success_key(instance: &str) -> String {
    format!("drills/{}/latest-success.json", instance_key(instance))
}

/// One of a drill execution's own records: `plan`, `checks` or `swept`.
pub fn run_key(drill_id: &str, what: &str) -> String {
    format!("drills/runs/{drill_id}/{what}.json")
}

/// Where the sandboxes of a stopped drill still to be deleted are kept.
pub const LEFT_PREFIX: &str = "drills/left/";

pub fn left_key(drill_id: &str) -> String {
    format!("{LEFT_PREFIX}{drill_id}.json")
}

const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// A drill's outcome, as its key tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillOutcome {
    pub drill_id: String,
    pub started_at: DateTime<Utc>,
    pub succeeded: bool,
}

impl DrillOutcome {
    pub fn key(&self, instance: &str) -> String {
        format!(
            "{}{}.{}.{}.json",
            outcomes_prefix(instance),
            self.started_at.format(STAMP),
            if self.succeeded { "succeeded" } else { "failed" },
            self.drill_id
        )
    }

    /// The outcome a key names; `None` for a key that is not one.
    pub fn from_key(instance: &str, key: &str) -> Option<DrillOutcome> {
        let rest = key
            .strip_prefix(&outcomes_prefix(instance))?
            .strip_suffix(".json")?;
        if rest.contains('/') {
            return None;
        }
        let mut parts = rest.splitn(3, '.');
        let started = NaiveDateTime::parse_from_str(parts.next()?, STAMP)
            .ok()?
            .and_utc();
        let succeeded = match parts.next()? {
            "succeeded" => true,
            "failed" => false,
            _ => return None,
        };
        let drill_id = parts.next().filter(|d| !d.is_empty())?.to_string();
        Some(DrillOutcome {
            drill_id,
            started_at: started,
            succeeded,
        })
    }
}

pub fn outcomes_prefix(instance: &str) -> String {
    format!("drills/{}/outcomes/", instance_key(instance))
}

/// Where a listing of an instance's outcomes since `since` starts (keys sort by time).
pub fn outcomes_since(instance: &str, since: DateTime<Utc>) -> String {
    format!("{}{}", outcomes_prefix(instance), since.format(STAMP))
}

/// What the sweep did with a drill whose execution stopped before its cleanup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepRecord {
    pub drill_id: String,
    /// How the execution ended (`FAILED`, `TIMED_OUT`, `ABORTED`) and when.
    pub execution_status: String,
    pub stopped_at: DateTime<Utc>,
    pub swept_at: DateTime<Utc>,
    pub sandboxes: Vec<SweptSandbox>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweptSandbox {
    pub resource: String,
    pub sandbox: String,
    /// `deleted`, `already gone`, or why it was not.
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_s_key_reads_back_as_the_outcome_and_sorts_by_time() {
        let outcome = |t: &str, succeeded| DrillOutcome {
            drill_id: "drill-acme-20261203t0600z".into(),
            started_at: t.parse().unwrap(),
            succeeded,
        };
        let early = outcome("2026-11-26T06:05:07Z", false);
        let late = outcome("2026-12-03T06:05:07Z", true);
        assert_eq!(
            late.key("acme"),
            "drills/acme/outcomes/20261203T060507Z.succeeded.drill-acme-20261203t0600z.json"
        );
        assert_eq!(
            DrillOutcome::from_key("acme", &late.key("acme")),
            Some(late.clone())
        );
        assert_eq!(
            DrillOutcome::from_key("acme", &early.key("acme")),
            Some(early.clone())
        );
        assert!(early.key("acme") < late.key("acme"));
        let since = outcomes_since("acme", "2026-12-01T00:00:00Z".parse().unwrap());
        assert!(early.key("acme") < since && since < late.key("acme"));
        for stray in [
            "drills/acme/outcomes/notatime.failed.d.json",
            "drills/acme/outcomes/20261203T060507Z.maybe.d.json",
            "drills/acme/outcomes/20261203T060507Z.failed..json",
            "drills/globex/outcomes/20261203T060507Z.failed.d.json",
            "drills/acme/outcomes/x/20261203T060507Z.succeeded.d.json",
        ] {
            assert_eq!(DrillOutcome::from_key("acme", stray), None, "{stray}");
        }
    }
}
