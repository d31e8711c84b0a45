//! A drill's outcome: per resource the point restored, how old its data was, how long the
//! restore took to be usable, each check, and whether the sandbox was deleted.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::checks::CheckResult;
use crate::catalog::ResourceKey;
use crate::schedule::Slot;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceDrill {
    pub resource: ResourceKey,
    pub point: Slot,
    pub sandbox: String,
    /// Seconds from the drill's start until the sandbox was usable (the restore's RTO).
    pub restore_seconds: Option<i64>,
    /// Seconds between the point's slot and the drill's start.
    pub data_age_seconds: i64,
    pub checks: Vec<CheckResult>,
    /// Whether the sandbox is gone (deleted, or never made).
    pub sandbox_deleted: bool,
    /// Why the restore or a check could not run, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ResourceDrill {
    /// Restored, checked (at least one check ran: a sandbox nothing could be compared in
    /// proves nothing) and every check passed.
    pub fn passed(&self) -> bool {
        self.error.is_none()
            && self.restore_seconds.is_some()
            && !self.checks.is_empty()
            && self.checks.iter().all(|c| c.passed)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillReport {
    pub drill_id: String,
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub resources: Vec<ResourceDrill>,
}

impl DrillReport {
    /// A drill succeeds when every resource restored, every check passed, and no sandbox
    /// was left behind.
    pub fn succeeded(&self) -> bool {
        !self.resources.is_empty() && self.resources.iter().all(|r| r.passed() && r.sandbox_deleted)
    }

    /// The slowest resource's restore: the instance's RTO.
    pub fn restore_seconds(&self) -> Option<i64> {
        self.resources
            .iter()
            .map(|r| r.restore_seconds)
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }

    /// `drills/<instance>/<date>/<drill>/report`, the key of its `.json` and `.md`: every
    /// drill of a day keeps its own.
    pub fn key_stem(&self) -> String {
        report_stem(&self.instance_id, self.started_at, &self.drill_id)
    }

    /// The report for people: outcome, RTO, data age and every check.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Restore drill {} of {}\n\n{} at {}; restore time {}.\n\n",
            self.drill_id,
            self.instance_id,
            if self.succeeded() { "Succeeded" } else { "FAILED" },
            self.started_at.to_rfc3339(),
            self.restore_seconds()
                .map_or("not reached".to_string(), |s| format!("{s} s")),
        );
        for r in &self.resources {
            md.push_str(&format!(
                "## {}\n\nPoint {} (data {} h old) into sandbox `{}`; usable after {}; sandbox {}.\n",
                r.resource,
                r.point,
                r.data_age_seconds / 3600,
                r.sandbox,
                r.restore_seconds
                    .map_or("never".to_string(), |s| format!("{s} s")),
                if r.sandbox_deleted {
                    "deleted"
                } else {
                    "NOT deleted"
                }
            ));
            if let Some(e) = &r.error {
                md.push_str(&format!("\nError: {e}\n"));
            }
            md.push('\n');
            for c in &r.checks {
                md.push_str(&format!(
                    "- {} {}: {}\n",
                    if c.passed { "ok" } else { "FAILED" },
                    c.name,
                    c.detail
                ));
            }
            md.push('\n');
        }
        md
    }
}

/// Where drill `drill_id` of `instance`, started at `started_at`, writes its report (the key
/// of its `.json` and `.md`).
pub fn report_stem(instance: &str, started_at: DateTime<Utc>, drill_id: &str) -> String {
    format!(
        "drills/{}/{}/{drill_id}/report",
        crate::inventory::instance_key(instance),
        started_at.format("%Y-%m-%d")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(restore: Option<i64>, passed: bool, deleted: bool) -> ResourceDrill {
        ResourceDrill {
            resource: ResourceKey::rds("acme-db"),
            point: Slot::containing("2026-12-03T05:00:00Z".parse().unwrap()),
            sandbox: "lbd-1234abcd-acme-db".into(),
            restore_seconds: restore,
            data_age_seconds: 4000,
            checks: vec![CheckResult {
                name: "rows contacts".into(),
                passed,
                detail: "5000 rows".into(),
            }],
            sandbox_deleted: deleted,
            error: None,
        }
    }

    fn report(resources: Vec<ResourceDrill>) -> DrillReport {
        DrillReport {
            drill_id: "drill-acme-20261203t0600z".into(),
            instance_id: "acme".into(),
            started_at: "2026-12-03T06:05:00Z".parse().unwrap(),
            finished_at: "2026-12-03T06:35:00Z".parse().unwrap(),
            resources,
        }
    }

    #[test]
    fn a_drill_succeeds_only_when_every_resource_restored_passed_and_was_cleaned_up() {
        assert!(report(vec![
            resource(Some(900), true, true),
            resource(Some(1200), true, true)
        ])
        .succeeded());
        assert!(
            !report(vec![resource(Some(900), false, true)]).succeeded(),
            "a check failed"
        );
        assert!(
            !report(vec![resource(None, true, true)]).succeeded(),
            "never usable"
        );
        assert!(
            !report(vec![resource(Some(900), true, false)]).succeeded(),
            "sandbox left behind"
        );
        assert!(!report(vec![]).succeeded(), "nothing drilled");
        let mut unchecked = resource(Some(900), true, true);
        unchecked.checks.clear();
        assert!(!report(vec![unchecked]).succeeded(), "nothing compared");
    }

    #[test]
    fn the_rto_is_the_slowest_resource_s_and_the_report_names_every_check() {
        let r = report(vec![
            resource(Some(900), true, true),
            resource(Some(1200), true, true),
        ]);
        assert_eq!(r.restore_seconds(), Some(1200));
        assert_eq!(
            r.key_stem(),
            format!("drills/acme/2026-12-03/{}/report", r.drill_id)
        );
        let md = r.markdown();
        assert!(md.contains("Succeeded") && md.contains("1200 s") && md.contains("ok rows contacts"));
        assert_eq!(report(vec![resource(None, true, true)]).restore_seconds(), None);
    }
}
