//! Each instance's latest successful restore drill, as the drill recorded it
//! (`drills/<instance>/latest-success.json`): an instance with none in the last 8 days is a
//! finding, and the oldest is the fleet's metric the template alarms on. And its drills of
//! the last year, failed ones too, for the page's timelines: one listing of
//! `drills/<instance>/outcomes/` each, the outcome being in the key.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::audit::{AuditReport, Finding, FindingKind};
use lifeboat::drill::records::{
    latest_success_key, outcomes_prefix, outcomes_since, DrillOutcome, DrillRecord,
};
use lifeboat::ports::FailureKind;

use crate::Auditor;

/// How old an instance's last successful drill may be: a week's turn and a day's slack.
pub const MAX_DRILL_AGE: TimeDelta = TimeDelta::days(8);
/// How far back the page shows drills: its year timeline.
const DRILL_HISTORY: TimeDelta = TimeDelta::days(366);
/// A weekly drill makes 53 a year; room for the console's too. The newest are kept.
const MAX_OUTCOMES: usize = 500;
/// The most keys listed: past it, the year's oldest drills are left off the timeline.
const MAX_LISTED: usize = 5_000;

impl Auditor {
    pub(crate) async fn attach_drills(&self, report: &mut AuditReport, now: DateTime<Utc>) {
        let mut records = BTreeMap::new();
        let mut unreadable = Vec::new();
        for instance in &report.instances {
            let key = latest_success_key(&instance.instance_id);
            let record = match self.reports.get(&key).await {
                Ok(body) => match serde_json::from_slice::<DrillRecord>(&body) {
                    Ok(record) => Some(record),
                    Err(e) => {
                        unreadable.push(Finding::new(
                            FindingKind::NotChecked,
                            key,
                            format!("unreadable: {e}"),
                        ));
                        None
                    }
                },
                Err(e) if e.kind == FailureKind::NotFound => None,
                Err(e) => {
                    unreadable.push(Finding::new(FindingKind::NotChecked, key, e.to_string()));
                    None
                }
            };
            records.insert(instance.instance_id.clone(), record);
        }
        report.attach_drills(&records, now, MAX_DRILL_AGE);
        for instance in &mut report.instances {
            let id = &instance.instance_id;
            let since = outcomes_since(id, now - DRILL_HISTORY);
            match self.reports.list(&outcomes_prefix(id), &since, MAX_LISTED).await {
                Ok(keys) => {
                    let skip = keys.len().saturating_sub(MAX_OUTCOMES);
                    instance.drills = (keys.iter().skip(skip))
                        .filter_map(|k| DrillOutcome::from_key(id, k))
                        .collect()
                }
                Err(e) => unreadable.push(Finding::new(
                    FindingKind::NotChecked,
                    outcomes_prefix(id),
                    e.to_string(),
                )),
            }
        }
        report.findings.extend(unreadable);
    }
}
