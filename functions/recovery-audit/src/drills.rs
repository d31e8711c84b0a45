//! Each instance's latest successful restore drill, as the drill recorded it
//! (`drills/<instance>/latest-success.json`): an instance with none in the last 8 days is a
//! finding, and the oldest is the fleet's metric the template alarms on.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::audit::{AuditReport, Finding, FindingKind};
use lifeboat::drill::report::{latest_success_key, DrillRecord};
use lifeboat::ports::FailureKind;

use crate::Auditor;

/// How old an instance's last successful drill may be: a week's turn and a day's slack.
pub const MAX_DRILL_AGE: TimeDelta = TimeDelta::days(8);

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
        report.findings.extend(unreadable);
    }
}
