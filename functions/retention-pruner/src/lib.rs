//! retention-pruner: on its tick, reconciles the catalog with the services, deletes the points
//! whose every tier has expired, and writes a report of every decision and its reason.
//!
//! What it never deletes: the newest point of a resource, a held point, a point still being
//! created, anything Lifeboat did not create (the services' listings keep only Lifeboat-named
//! points, RDS snapshots also tagged `lifeboat:managed`; an uncatalogued DynamoDB backup,
//! named but unprovable, is adopted under a hold), and more than the configured number per run. Before deleting, it marks the
//! record deleted with a condition that no hold was placed meanwhile; a deletion interrupted
//! after that is finished by the next run's reconciliation. A dry run decides and reports but
//! changes nothing.

mod adopt;
mod reconcile;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use lifeboat::catalog::{RecoveryPoint, ResourceKind};
use lifeboat::event::{detail_flag, parse_tick, ClockGuard, Tick};
use lifeboat::inventory::{unmanaged_with_points, Unmanaged};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::{BackupService, Catalog, FailureKind, ObjectStore};
use lifeboat::retention::{plan, RetentionDecision, Verdict};
use lifeboat_function::failure::{FailureType, FunctionError};
use serde::Serialize;
use serde_json::Value;

pub use adopt::UNVERIFIED_ORIGIN;
pub use reconcile::{Finding, Reconciled};

/// Deletions under way at once.
const CONCURRENCY: usize = 8;
/// Metrics of every tick (namespace `Lifeboat`, dimension `Function`), which the template
/// alarms on: resources with points that nothing backs up any more, and points the services
/// no longer hold.
pub const UNMANAGED_METRIC: &str = "UnmanagedResourcesWithPoints";
pub const VANISHED_METRIC: &str = "VanishedPoints";

pub struct Pruner {
    pub catalog: Arc<dyn Catalog>,
    pub services: Vec<Arc<dyn BackupService>>,
    pub reports: Arc<dyn ObjectStore>,
    pub policies: PolicyBook,
    pub simulation: bool,
    pub max_deletions_per_run: usize,
    /// The deployment's default; an event's `detail.dry_run` overrides it.
    pub dry_run: bool,
}

/// What was done about one decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Kept,
    Deleted,
    /// The service no longer had it; the record says deleted.
    AlreadyGone,
    /// A dry run: it would have been deleted.
    WouldDelete,
    /// A hold was placed, or the record changed, after planning; kept.
    KeptByConcurrentChange,
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionRecord {
    #[serde(flatten)]
    pub decision: RetentionDecision,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The report written to the reports bucket, and the invocation's answer.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub slot: String,
    pub tick_time: DateTime<Utc>,
    pub event_id: String,
    pub dry_run: bool,
    pub max_deletions_per_run: usize,
    pub deleted: usize,
    pub kept: usize,
    pub reconciliation: Vec<Reconciled>,
    /// Resources with recovery points that are no longer backed up: named on every tick
    /// until someone tags them again or their points are gone.
    pub unmanaged: Vec<Unmanaged>,
    pub decisions: Vec<DecisionRecord>,
    pub failures: Vec<String>,
    /// Where the report was written.
    pub report_key: String,
}

impl Pruner {
    pub async fn handle(
        &self,
        event: Value,
        wall_clock: DateTime<Utc>,
    ) -> Result<PruneReport, FunctionError> {
        // An old tick only deletes less than a current one would, so only the future is guarded.
        let guard = ClockGuard {
            now: wall_clock,
            max_age: None,
        };
        let tick = parse_tick(&event, (!self.simulation).then_some(guard))?;
        // An event may ask for a dry run, never switch off a deployment's.
        let dry_run = self.dry_run || detail_flag(&tick, "dry_run")?.unwrap_or(false);
        tracing::info!(slot = %tick.slot, dry_run, "retention tick");
        let mut records = self.catalog.present_points().await.map_err(|e| {
            FunctionError::new(FailureType::DependencyFailed, format!("reading the catalog: {e}"))
        })?;
        let mut failures = Vec::new();
        let mut reconciliation = Vec::new();
        let mut unreachable: Vec<ResourceKind> = Vec::new();
        for service in &self.services {
            match service.points().await {
                Ok(held) => reconciliation.extend(
                    reconcile::reconcile(
                        service.as_ref(),
                        self.catalog.as_ref(),
                        &self.policies,
                        &mut records,
                        held,
                        tick.time,
                        dry_run,
                    )
                    .await,
                ),
                Err(e) => {
                    // Without the service's view nothing of it is deleted this run.
                    failures.push(format!("listing {} points: {e}", service.kind().as_str()));
                    unreachable.push(service.kind());
                }
            }
        }
        failures.extend(reconciliation.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("{}@{}: reconciling: {e}", r.resource, r.slot))
        }));
        records.retain(|r| !unreachable.contains(&r.resource.kind));
        let unmanaged = self.unmanaged(&records, &mut failures).await;
        let decisions = plan(&records, tick.time, self.max_deletions_per_run);
        let decisions: Vec<DecisionRecord> = stream::iter(decisions)
            .map(|d| self.carry_out(&tick, &records, d, dry_run))
            .buffered(CONCURRENCY)
            .collect()
            .await;
        failures.extend(decisions.iter().filter_map(|d| {
            d.error
                .as_ref()
                .map(|e| format!("{}@{}: deleting: {e}", d.decision.resource, d.decision.slot))
        }));
        let vanished = reconciliation
            .iter()
            .filter(|r| matches!(r.finding, Finding::Vanished))
            .count();
        lifeboat_function::telemetry::publish_counts(
            "retention-pruner",
            &[
                (UNMANAGED_METRIC, unmanaged.len() as u64),
                (VANISHED_METRIC, vanished as u64),
            ],
            tick.time,
        );
        let report = PruneReport {
            slot: tick.slot.to_string(),
            tick_time: tick.time,
            event_id: tick.event_id.clone(),
            dry_run,
            max_deletions_per_run: self.max_deletions_per_run,
            deleted: decisions
                .iter()
                .filter(|d| matches!(d.outcome, Outcome::Deleted | Outcome::AlreadyGone))
                .count(),
            kept: decisions.iter().filter(|d| !d.decision.is_delete()).count(),
            reconciliation,
            unmanaged,
            decisions,
            failures,
            report_key: report_key(&tick, dry_run),
        };
        self.write(&report).await?;
        finish(report)
    }

    /// The resources of `records` that are no longer managed, for the services that could
    /// say which they manage (a discovery that fails is a failure of the tick).
    async fn unmanaged(&self, records: &[RecoveryPoint], failures: &mut Vec<String>) -> Vec<Unmanaged> {
        let mut found = Vec::new();
        for service in &self.services {
            let kind = service.kind();
            match service.discover().await {
                Ok(discovered) => {
                    let points: Vec<RecoveryPoint> = records
                        .iter()
                        .filter(|r| r.resource.kind == kind)
                        .cloned()
                        .collect();
                    found.extend(unmanaged_with_points(&points, &discovered, &self.policies));
                }
                Err(e) => failures.push(format!("discovering {} resources: {e}", kind.as_str())),
            }
        }
        for u in &found {
            tracing::warn!(resource = %u.resource, points = u.points, why = %u.why, "recovery points of a resource no longer backed up");
        }
        found
    }

    async fn carry_out(
        &self,
        tick: &Tick,
        records: &[RecoveryPoint],
        d: RetentionDecision,
        dry_run: bool,
    ) -> DecisionRecord {
        let Verdict::Delete { expired_at } = d.verdict else {
            return DecisionRecord {
                decision: d,
                outcome: Outcome::Kept,
                error: None,
            };
        };
        if dry_run {
            return DecisionRecord {
                decision: d,
                outcome: Outcome::WouldDelete,
                error: None,
            };
        }
        let note = format!(
            "deleted by retention-pruner at tick {}: every tier expired (last at {expired_at})",
            tick.slot
        );
        // Holds that have ended go first: the deletion's condition is that no hold remains
        // (a hold placed meanwhile still stops it).
        let expired_holds = records
            .iter()
            .find(|r| r.resource == d.resource && r.slot == d.slot)
            .map(|r| r.expired_holds(tick.time))
            .unwrap_or_default();
        for hold in &expired_holds {
            if let Err(e) = self.catalog.remove_hold(&d.resource, d.slot, hold).await {
                return DecisionRecord {
                    decision: d,
                    outcome: Outcome::Failed,
                    error: Some(format!("removing the ended hold {hold}: {e}")),
                };
            }
        }
        if let Err(e) = self
            .catalog
            .mark_deleted(&d.resource, d.slot, &note, tick.time)
            .await
        {
            let outcome = if e.kind == FailureKind::Conflict {
                Outcome::KeptByConcurrentChange
            } else {
                Outcome::Failed
            };
            let error = (outcome == Outcome::Failed).then(|| e.to_string());
            return DecisionRecord {
                decision: d,
                outcome,
                error,
            };
        }
        let service_id = records
            .iter()
            .find(|r| r.resource == d.resource && r.slot == d.slot)
            .and_then(|r| r.service_id.clone());
        let service = self.services.iter().find(|s| s.kind() == d.resource.kind);
        let (outcome, error) = match (service, service_id) {
            (Some(service), Some(id)) => match service.delete_point(&d.resource, &id).await {
                Ok(lifeboat::ports::Deletion::Deleted) => (Outcome::Deleted, None),
                Ok(lifeboat::ports::Deletion::AlreadyGone) => (Outcome::AlreadyGone, None),
                // The record already says deleted: the next run's reconciliation finishes it.
                Err(e) => (Outcome::Failed, Some(e.to_string())),
            },
            _ => (Outcome::AlreadyGone, None),
        };
        tracing::info!(resource = %d.resource, slot = %d.slot, ?outcome, "retention deletion");
        DecisionRecord {
            decision: d,
            outcome,
            error,
        }
    }

    async fn write(&self, report: &PruneReport) -> Result<(), FunctionError> {
        let body = serde_json::to_vec_pretty(report).expect("reports serialize");
        self.reports
            .put(&report.report_key, body, "application/json")
            .await
            .map_err(|e| {
                FunctionError::new(FailureType::DependencyFailed, format!("writing the report: {e}"))
            })
    }
}

/// One key per tick (a retried tick overwrites its own report; the bucket keeps versions).
pub fn report_key(tick: &Tick, dry_run: bool) -> String {
    let suffix = if dry_run { ".dry-run" } else { "" };
    format!(
        "retention/{}/{}{suffix}.json",
        tick.slot.start().format("%Y/%m/%d"),
        tick.slot.label()
    )
}

fn finish(report: PruneReport) -> Result<PruneReport, FunctionError> {
    tracing::info!(
        slot = %report.slot, deleted = report.deleted, kept = report.kept,
        failures = report.failures.len(), report = %report.report_key, "retention tick done"
    );
    if report.failures.is_empty() {
        return Ok(report);
    }
    Err(FunctionError::new(
        FailureType::ResourcesFailed,
        format!(
            "slot {}: {} problem(s) (report at {}): {}",
            report.slot,
            report.failures.len(),
            report.report_key,
            report.failures.join("; ")
        ),
    ))
}
