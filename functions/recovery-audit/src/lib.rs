//! recovery-audit: once a day (and on demand, for the fleet or one customer instance), what
//! the policy promises each managed resource against what exists and can be restored, the
//! continuous backup windows, the resources nothing backs up any more, and every copy of a
//! customer's data that someone outside the account can reach ([`exposure`]).
//!
//! It reads; the one thing it changes is who can reach a copy: a guarded snapshot's
//! `restore` attribute loses the values that reach outside the account (`all`, other
//! accounts), the reports bucket gets its public-access blocks back, and a table Lifeboat
//! made loses the resource-policy statements that let outsiders in (a production table's are
//! only reported). Nothing is deleted, renamed or restored. A dry run (`detail.dry_run`)
//! reports the exposure and leaves it. Besides the daily run, CloudTrail's record of each
//! `ModifyDBSnapshotAttribute` call reaches it within minutes, and the one snapshot named is
//! checked at once ([`sharing_change`]).
//!
//! Output: `audits/<date>/report.json` and `report.html` (one self-contained page, the first
//! thing to open in an emergency; an on-demand audit of one instance writes under
//! `audits/<date>/instances/<id>/`), and metrics per instance (`CoveragePercent`) and for the
//! fleet (`ExposedSnapshots`, `ExposedTablePolicies`, `UnmanagedWithPoints`, `AuditFindings`).
//! The invocation fails
//! after writing the report when an exposure could not be revoked or a resource could not be
//! checked, so that the function's error alarm fires too.
//!
//! A fleet is audited through the fleet-tick state machine, in shards of whole instances
//! ([`fanout`]), its plan walking part of the account's snapshots each run for copies no
//! shard lists ([`walk`]); a bare Scheduled Event audits everything in one invocation.

mod announce;
mod drills;
mod evidence;
mod exposure;
mod fanout;
mod guarded;
mod options;
pub mod page;
pub mod publish;
pub mod settings;
pub mod sharing_change;
mod table_exposure;
pub mod timeline;
pub mod walk;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lifeboat::audit::{AuditReport, FindingKind};
use lifeboat::fanout::Stage;
use lifeboat::policy::PolicyBook;
use lifeboat::ports::{BackupService, BucketAccess, Catalog, ObjectStore, SnapshotSharing, TablePolicies};
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::status_events::Announcer;
use serde::Serialize;
use serde_json::Value;

use exposure::SweepScope;
pub use options::AuditRun;
pub use publish::{
    COVERAGE_METRIC, EXPOSED_METRIC, EXPOSED_TABLE_POLICIES_METRIC, FINDINGS_METRIC, LOWEST_COVERAGE_METRIC,
    UNMANAGED_METRIC,
};
pub use walk::AccountWalk;

pub struct Auditor {
    pub catalog: Arc<dyn Catalog>,
    pub services: Vec<Arc<dyn BackupService>>,
    pub sharing: Arc<dyn SnapshotSharing>,
    /// DynamoDB tables' resource policies.
    pub tables: Arc<dyn TablePolicies>,
    /// The reports bucket's public-access settings.
    pub bucket: Arc<dyn BucketAccess>,
    pub reports: Arc<dyn ObjectStore>,
    pub policies: PolicyBook,
    /// The account id and the accounts trusted with the company's backups (a DR account):
    /// the `restore` values that are not an exposure.
    pub account: String,
    pub trusted_accounts: Vec<String>,
    pub simulation: bool,
    /// The deployment's default; an event's `detail.dry_run` overrides it.
    pub dry_run: bool,
    /// A fanned-out audit's shards: at most this many resources each (whole instances),
    /// this many at once.
    pub shard_size: usize,
    pub shard_concurrency: u32,
    /// The days over which the daily audits sweep every managed or kept instance's snapshots'
    /// sharing once.
    pub sweep_days: u32,
    /// How a fanned-out audit's plan walks the account's manual snapshots.
    pub walk: AccountWalk,
    /// `Audit Finding` status events.
    pub events: Announcer,
}

/// The invocation's answer: where the report is, and its headline figures.
#[derive(Debug, Clone, Serialize)]
pub struct AuditSummary {
    /// The day's latest report (a dry run's own, which is not the day's).
    pub report_key: String,
    pub page_key: String,
    /// This run's own report, which no later run replaces.
    pub run_key: String,
    pub instances: usize,
    /// The instances below 100 percent, with their coverage.
    pub short: Vec<(String, f64)>,
    pub exposures: usize,
    pub findings: usize,
}

impl Auditor {
    /// Handles one invocation: a Scheduled Event, whose `detail` may name one `instance`,
    /// ask for a `dry_run`, or `sweep_all` snapshots' sharing rather than the day's seventh;
    /// or CloudTrail's record of a snapshot's sharing changed (see [`sharing_change`]).
    pub async fn invoke(&self, payload: Value, wall_clock: DateTime<Utc>) -> Result<Value, FunctionError> {
        if let Some(change) = sharing_change::parse(&payload)? {
            let verdict = self.sharing_changed(&change, wall_clock).await?;
            return Ok(serde_json::to_value(verdict).expect("verdicts serialize"));
        }
        let staged = lifeboat::fanout::staged(&payload)
            .map_err(|e| FunctionError::new(FailureType::InvalidEvent, e.to_string()))?;
        // A fanned-out audit's shards and finish run long after its event: its plan admitted it.
        let max_age = match staged.stage {
            Stage::Whole | Stage::Plan => options::MAX_EVENT_AGE,
            Stage::Shard { .. } | Stage::Finish { .. } => options::MAX_FANOUT_AGE,
        };
        let run = AuditRun::parse_within(&staged.event, wall_clock, self.simulation, self.dry_run, max_age)?;
        tracing::info!(at = %run.at, instance = ?run.instance, dry_run = run.dry_run, sweep_all = run.sweep_all, "audit");
        let answer = match staged.stage {
            Stage::Whole => serde_json::to_value(self.audit(&run).await?),
            Stage::Plan => serde_json::to_value(self.plan_shards(&run).await?),
            Stage::Shard { key } => serde_json::to_value(self.run_shard(&run, &key).await?),
            Stage::Finish { plan, results } => {
                serde_json::to_value(self.finish_shards(&run, &plan, &results).await?)
            }
        };
        Ok(answer.expect("answers serialize"))
    }

    /// Audits, writes the report and metrics, then fails if something could not be checked
    /// or an exposure could not be closed.
    pub async fn audit(&self, run: &AuditRun) -> Result<AuditSummary, FunctionError> {
        let gathered = self.gather(run).await;
        if let Some(instance) = &run.instance {
            if gathered.audits.is_empty() && gathered.undiscovered.is_empty() {
                return Err(FunctionError::new(
                    FailureType::InvalidEvent,
                    format!("field `detail.instance`: no resource carries lifeboat:instance={instance}"),
                ));
            }
        }
        let mut findings = gathered.findings;
        let mut made = gathered.made;
        // Lifeboat's own tables carry no instance's tags: the fleet's audits find them by name.
        if run.instance.is_none() {
            match self.made_tables().await {
                // A table whose tags an instance claims was discovered already.
                Ok(tables) => {
                    let discovered: Vec<_> = made.iter().map(|m| m.key.clone()).collect();
                    made.extend(tables.into_iter().filter(|t| !discovered.contains(&t.key)));
                }
                Err(finding) => findings.push(finding),
            }
        }
        let scope = SweepScope {
            managed: &gathered.managed,
            unmanaged: &gathered.unmanaged,
            made: &made,
            orphans: &[],
            whole_account: run.instance.is_none(),
        };
        let exposures = self.sweep(run, &scope).await;
        findings.extend(exposures.findings);
        let mut report = AuditReport::assemble(
            run.at,
            gathered.audits,
            exposures.found,
            gathered.unmanaged,
            findings,
        );
        self.attach_drills(&mut report, run.at).await;
        mark_undiscovered(&mut report, &gathered.undiscovered);
        let summary = self.publish(run, &report, None).await?;
        self.announce_findings(&report, run.dry_run, run.at).await;
        conclude(run, &report, summary)
    }
}

fn mark_undiscovered(report: &mut AuditReport, undiscovered: &[String]) {
    if !undiscovered.is_empty() {
        report.mark_unproven(&format!(
            "the {} resources could not be discovered",
            undiscovered.join(" and ")
        ));
    }
}

/// Fails, once the report is written, if an exposure could not be closed or something could
/// not be checked: the function's error alarm fires too.
fn conclude(
    run: &AuditRun,
    report: &AuditReport,
    summary: AuditSummary,
) -> Result<AuditSummary, FunctionError> {
    let unrevoked = report
        .exposures
        .iter()
        .filter(|e| !e.revoked && e.error.is_some())
        .count();
    let unchecked = report
        .all_findings()
        .filter(|f| f.kind == FindingKind::NotChecked)
        .count();
    if unrevoked + unchecked > 0 {
        return Err(FunctionError::new(
            FailureType::ResourcesFailed,
            format!(
                "audit at {}: {unrevoked} exposures could not be revoked, {unchecked} checks failed; see s3 {}",
                run.at, summary.report_key
            ),
        ));
    }
    Ok(summary)
}
