//! Writing the day's report (JSON and the HTML page) and its metrics.

use chrono::{DateTime, Utc};
use lifeboat::audit::{AuditReport, ExposureKind, FindingKind};
use lifeboat::inventory::instance_key;
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::telemetry::{publish_counts, publish_values};

use crate::{page, AuditRun, AuditSummary, Auditor};

pub const FUNCTION: &str = "recovery-audit";
/// Per instance (dimension `Instance`): restorable promised points, as a percentage.
pub const COVERAGE_METRIC: &str = "CoveragePercent";
/// Backups found shared outside the account this run (revoked or not): guarded snapshots
/// and the reports bucket, each closed when found, so any is news.
pub const EXPOSED_METRIC: &str = "ExposedSnapshots";
/// Resource-policy statements found letting outsiders at a managed or Lifeboat-made table
/// this run (removed or not). Apart from [`EXPOSED_METRIC`]: a production table's grant is
/// only reported and stays until the operator acts, which would hold the backups' alarm
/// up and hide the next shared snapshot.
pub const EXPOSED_TABLE_POLICIES_METRIC: &str = "ExposedTablePolicies";
/// Resources with points that nothing backs up any more.
pub const UNMANAGED_METRIC: &str = "UnmanagedWithPoints";
pub const FINDINGS_METRIC: &str = "AuditFindings";
/// The lowest `CoveragePercent` of the run (dimension `Function` only): what the coverage
/// alarm reads, a plain metric a daily alarm can evaluate.
pub const LOWEST_COVERAGE_METRIC: &str = "LowestCoveragePercent";
/// Days since the oldest of the instances' last successful drills (an instance with none on
/// record counts as [`NO_DRILL_DAYS`]): what the drill alarm reads.
pub const OLDEST_DRILL_METRIC: &str = "OldestSuccessfulDrillDays";
pub const NO_DRILL_DAYS: f64 = 9999.0;

/// From a page's prefix, where an instance's own page is (see [`page::InstanceLinks`]).
pub(crate) type PageLinks<'a> = &'a dyn Fn(&str, &str) -> String;

impl Auditor {
    /// Writes the report (its run's copy, and the day's latest unless a dry run) and
    /// publishes the metrics; with `links`, the page links each instance's own page.
    pub(crate) async fn publish(
        &self,
        run: &AuditRun,
        report: &AuditReport,
        links: Option<PageLinks<'_>>,
    ) -> Result<AuditSummary, FunctionError> {
        let (run_prefix, mut latest_prefix) = prefixes(run);
        // A late run (a redriven finish, an older event) never replaces a newer day's report.
        if let Some(latest) = &latest_prefix {
            if self.newer_on_record(latest, run).await {
                tracing::warn!(at = %run.at, latest, "a newer audit of the day is on record: this run keeps only its own copy");
                latest_prefix = None;
            }
        }
        let mut written = vec![run_prefix.clone()];
        written.extend(latest_prefix.clone());
        // Every run keeps its own report (a later run, a retry or a dry run never replaces
        // the record of what an earlier one revoked); a real run is also the day's latest.
        for prefix in &written {
            let link = links.map(|l| move |instance: &str| l(prefix, instance));
            let link = link.as_ref().map(|l| l as page::InstanceLinks);
            self.write_report(prefix, report, link).await?;
        }
        let prefix = latest_prefix.unwrap_or_else(|| run_prefix.clone());
        let (report_key, page_key) = (format!("{prefix}/report.json"), format!("{prefix}/report.html"));
        metrics(report, run.at);
        let summary = AuditSummary {
            report_key,
            page_key,
            run_key: format!("{run_prefix}/report.json"),
            instances: report.instances.len(),
            short: report
                .instances
                .iter()
                .filter(|i| i.coverage_percent < 100.0)
                .map(|i| (i.instance_id.clone(), i.coverage_percent))
                .collect(),
            exposures: report.exposures.len(),
            findings: report.all_findings().count(),
        };
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "audit done");
        Ok(summary)
    }

    /// Whether the report under `prefix` is of a later audit than `run`.
    async fn newer_on_record(&self, prefix: &str, run: &AuditRun) -> bool {
        #[derive(serde::Deserialize)]
        struct Generated {
            generated_at: chrono::DateTime<Utc>,
        }
        match self.reports.get(&format!("{prefix}/report.json")).await {
            Ok(body) => serde_json::from_slice::<Generated>(&body).is_ok_and(|r| r.generated_at > run.at),
            Err(_) => false,
        }
    }

    /// `report.json` and `report.html` under `prefix`.
    pub(crate) async fn write_report(
        &self,
        prefix: &str,
        report: &AuditReport,
        links: Option<page::InstanceLinks<'_>>,
    ) -> Result<(), FunctionError> {
        let json = serde_json::to_vec_pretty(report).expect("reports serialize");
        let html = page::render(report, links).into_bytes();
        for (name, body, content_type) in [
            ("report.json", json, "application/json"),
            ("report.html", html, "text/html; charset=utf-8"),
        ] {
            let key = format!("{prefix}/{name}");
            (self.reports.put(&key, body, content_type).await).map_err(|e| {
                FunctionError::new(
                    FailureType::DependencyFailed,
                    format!("writing the audit report {key}: {e}"),
                )
            })?;
        }
        Ok(())
    }
}

/// The run's own prefix (`<base>/runs/<HHMMSS>`, `-dry-run` for a dry run) and, for a
/// real run, the day's latest (`<base>`), where `<base>` is `audits/<date>`, or
/// `audits/<date>/instances/<id>` for an audit of one instance.
pub(crate) fn prefixes(run: &AuditRun) -> (String, Option<String>) {
    let date = run.at.format("%Y-%m-%d");
    let base = match &run.instance {
        None => format!("audits/{date}"),
        Some(instance) => format!("audits/{date}/instances/{}", instance_key(instance)),
    };
    let dry = if run.dry_run { "-dry-run" } else { "" };
    let run_prefix = format!("{base}/runs/{}{dry}", run.at.format("%H%M%S"));
    (run_prefix, (!run.dry_run).then_some(base))
}

fn metrics(report: &AuditReport, at: DateTime<Utc>) {
    for instance in &report.instances {
        publish_values(
            FUNCTION,
            Some(("Instance", &instance.instance_id)),
            &[(COVERAGE_METRIC, instance.coverage_percent, "Percent")],
            at,
        );
    }
    let oldest_drill = report.oldest_drill_days(at).map_or(NO_DRILL_DAYS, |d| d as f64);
    publish_values(
        FUNCTION,
        None,
        &[
            (LOWEST_COVERAGE_METRIC, report.lowest_coverage(), "Percent"),
            (OLDEST_DRILL_METRIC, oldest_drill, "Count"),
        ],
        at,
    );
    let findings = report.all_findings();
    let [backups, table_policies] = exposure_counts(report);
    publish_counts(
        FUNCTION,
        &[
            backups,
            table_policies,
            (UNMANAGED_METRIC, report.unmanaged.len() as u64),
            (
                FINDINGS_METRIC,
                findings.filter(|f| f.kind != FindingKind::Unmanaged).count() as u64,
            ),
        ],
        at,
    );
}

/// The run's exposures counted by metric: backups (snapshots, the bucket) and table policies.
fn exposure_counts(report: &AuditReport) -> [(&'static str, u64); 2] {
    let tables = (report.exposures.iter())
        .filter(|e| e.kind == ExposureKind::TablePolicy)
        .count();
    [
        (EXPOSED_METRIC, (report.exposures.len() - tables) as u64),
        (EXPOSED_TABLE_POLICIES_METRIC, tables as u64),
    ]
}

#[cfg(test)]
mod tests {
    use lifeboat::audit::Exposure;

    use super::*;

    #[test]
    fn table_policies_are_counted_apart_from_the_backups_their_alarm_watches() {
        let exposure = |kind| Exposure::found(kind, "s".into(), "o".into(), vec!["*".into()]);
        let report = AuditReport::assemble(
            "2026-12-03T06:30:00Z".parse().unwrap(),
            Vec::new(),
            vec![
                exposure(ExposureKind::Snapshot),
                exposure(ExposureKind::Bucket),
                exposure(ExposureKind::TablePolicy),
            ],
            Vec::new(),
            Vec::new(),
        );
        assert_eq!(
            exposure_counts(&report),
            [(EXPOSED_METRIC, 2), (EXPOSED_TABLE_POLICIES_METRIC, 1)]
        );
    }
}
