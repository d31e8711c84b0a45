//! Writing the day's report (JSON and the HTML page) and its metrics.

use chrono::{DateTime, Utc};
use lifeboat::audit::{AuditReport, FindingKind};
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::telemetry::{publish_counts, publish_values};

use crate::{page, AuditRun, AuditSummary, Auditor};

pub const FUNCTION: &str = "recovery-audit";
/// Per instance (dimension `Instance`): restorable promised points, as a percentage.
pub const COVERAGE_METRIC: &str = "CoveragePercent";
/// Backups found shared outside the account this run (revoked or not).
pub const EXPOSED_METRIC: &str = "ExposedSnapshots";
/// Resources with points that nothing backs up any more.
pub const UNMANAGED_METRIC: &str = "UnmanagedWithPoints";
pub const FINDINGS_METRIC: &str = "AuditFindings";

impl Auditor {
    pub(crate) async fn publish(
        &self,
        run: &AuditRun,
        report: &AuditReport,
    ) -> Result<AuditSummary, FunctionError> {
        let prefix = report_prefix(run);
        let (report_key, page_key) = (format!("{prefix}/report.json"), format!("{prefix}/report.html"));
        let json = serde_json::to_vec_pretty(report).expect("reports serialize");
        let html = page::render(report).into_bytes();
        for (key, body, content_type) in [
            (&report_key, json, "application/json"),
            (&page_key, html, "text/html; charset=utf-8"),
        ] {
            self.reports.put(key, body, content_type).await.map_err(|e| {
                FunctionError::new(
                    FailureType::DependencyFailed,
                    format!("writing the audit report: {e}"),
                )
            })?;
        }
        metrics(report, run.at);
        let summary = AuditSummary {
            report_key,
            page_key,
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
}

/// `audits/<date>`, or `audits/<date>/instances/<id>` for an audit of one instance.
fn report_prefix(run: &AuditRun) -> String {
    let date = run.at.format("%Y-%m-%d");
    match &run.instance {
        None => format!("audits/{date}"),
        Some(instance) => format!("audits/{date}/instances/{instance}"),
    }
}

fn metrics(report: &AuditReport, at: DateTime<Utc>) {
    for instance in &report.instances {
        publish_values(
            FUNCTION,
            ("Instance", &instance.instance_id),
            &[(COVERAGE_METRIC, instance.coverage_percent, "Percent")],
            at,
        );
    }
    let findings = report.all_findings();
    publish_counts(
        FUNCTION,
        &[
            (EXPOSED_METRIC, report.exposures.len() as u64),
            (UNMANAGED_METRIC, report.unmanaged.len() as u64),
            (
                FINDINGS_METRIC,
                findings.filter(|f| f.kind != FindingKind::Unmanaged).count() as u64,
            ),
        ],
        at,
    );
}
