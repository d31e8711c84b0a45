//! retention-pruner: on its tick, brings the catalog in line with the services, deletes the
//! points whose every tier has expired, and writes a report of every decision and its reason.
//!
//! Its work grows with what changed, not with what exists. The catalog is the source of
//! truth; the services are asked only what the catalog cannot know:
//! - each point still being created is looked up once per tick until the service says
//!   it is available (about one call per resource per hour, see [`confirm`]);
//! - each resource's points are listed at the service once a day, on its turn of the
//!   [rotation](lifeboat::rotation) (every resource at once when the event asks, with
//!   `detail.reconcile_all`), to find points gone, adopted, duplicated or half-deleted
//!   (see [`reconcile`]);
//! - deletions are decided from the catalog, at most the configured number per resource per
//!   run, so the steady state (about one expiry per resource per hour) keeps up at any fleet
//!   size; expired points left for a later run are the backlog, counted and alarmed on.
//!
//! What it never deletes: the newest point of a resource, a held point, a point still being
//! created, anything Lifeboat did not create (the services' listings keep only Lifeboat-named
//! points, RDS snapshots also tagged `lifeboat:managed`; an uncatalogued DynamoDB backup,
//! named but unprovable, is adopted under a hold). Before deleting, it marks the record
//! deleted with a condition that no hold was placed meanwhile; a deletion interrupted after
//! that is finished on the resource's next turn. A dry run decides and reports but changes
//! nothing.

mod adopt;
mod backlog;
mod confirm;
mod delete;
mod fanout;
mod reconcile;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use lifeboat::catalog::{RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::event::{detail_flag, parse_tick, ClockGuard, Tick};
use lifeboat::fanout::{staged, Stage};
use lifeboat::inventory::{
    managed, present_counts, unmanaged_of, DiscoveredResource, ManagedResource, Unmanaged,
};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::{BackupService, Catalog, ObjectStore};
use lifeboat::retention::{plan, RetentionDecision};
use lifeboat::rotation;
use lifeboat::schedule::Slot;
use lifeboat_function::config::Fanout;
use lifeboat_function::failure::{FailureType, FunctionError};
use serde::Serialize;
use serde_json::Value;

pub use adopt::UNVERIFIED_ORIGIN;
pub use backlog::Backlog;
pub use reconcile::{Finding, Reconciled};

/// Resources worked on at once (each one's look-ups and deletions in turn).
const CONCURRENCY: usize = 8;
/// Metrics of every tick (namespace `Lifeboat`, dimension `Function`), which the template
/// alarms on: resources with points that nothing backs up any more, points the services
/// no longer hold, and expired points not yet deleted (how many, and the oldest's age).
pub const UNMANAGED_METRIC: &str = "UnmanagedResourcesWithPoints";
pub const VANISHED_METRIC: &str = "VanishedPoints";
pub const BACKLOG_METRIC: &str = "ExpiredBacklog";
pub const BACKLOG_AGE_METRIC: &str = "ExpiredBacklogOldestHours";

pub struct Pruner {
    pub catalog: Arc<dyn Catalog>,
    pub services: Vec<Arc<dyn BackupService>>,
    pub reports: Arc<dyn ObjectStore>,
    pub policies: PolicyBook,
    pub simulation: bool,
    /// How many of one resource's points one run may delete.
    pub max_deletions_per_resource: usize,
    /// The deployment's default; an event's `detail.dry_run` overrides it.
    pub dry_run: bool,
    /// How a fanned-out tick is split.
    pub fanout: Fanout,
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
    pub max_deletions_per_resource: usize,
    pub deleted: usize,
    pub kept: usize,
    /// The resources whose points were listed at the service this run (their turn of the
    /// rotation, or all of them when the event asked).
    pub reconciled_resources: usize,
    pub reconciliation: Vec<Reconciled>,
    /// Resources with recovery points that are no longer backed up: named on every tick
    /// until someone tags them again or their points are gone.
    pub unmanaged: Vec<Unmanaged>,
    pub backlog: Backlog,
    pub decisions: Vec<DecisionRecord>,
    pub failures: Vec<String>,
    /// Where the report was written.
    pub report_key: String,
}

/// The managed resources the services reported, by key, and each service's discovery (for
/// the kinds whose discovery answered).
struct Inventory {
    managed: HashMap<ResourceKey, ManagedResource>,
    discovered: Vec<(ResourceKind, Vec<DiscoveredResource>)>,
}

/// One resource's work this run: its present records and, on its turn, what its service holds.
struct ResourceRun {
    key: ResourceKey,
    records: Vec<RecoveryPoint>,
    /// Whether its points were listed at the service (its turn of the rotation).
    listed: bool,
    reconciliation: Vec<Reconciled>,
    /// Its listing failed: nothing of it is deleted this run.
    unlisted: Option<String>,
}

/// What pruning a set of resources did: the core of a whole tick and of a shard.
struct Pruned {
    reconciliation: Vec<Reconciled>,
    reconciled_resources: usize,
    decisions: Vec<DecisionRecord>,
    /// The present records after reconciliation.
    present: Vec<RecoveryPoint>,
    failures: Vec<String>,
    backlog: Backlog,
}

impl Pruned {
    fn vanished(&self) -> usize {
        self.reconciliation
            .iter()
            .filter(|r| matches!(r.finding, Finding::Vanished))
            .count()
    }

    fn deleted(&self) -> usize {
        self.decisions
            .iter()
            .filter(|d| matches!(d.outcome, Outcome::Deleted | Outcome::AlreadyGone))
            .count()
    }

    fn kept(&self) -> usize {
        self.decisions.iter().filter(|d| !d.decision.is_delete()).count()
    }
}

/// A tick's options, from its event's `detail`.
#[derive(Debug, Clone, Copy)]
struct Options {
    dry_run: bool,
    reconcile_all: bool,
}

impl Pruner {
    /// Handles one invocation: a whole tick (a Scheduled Event), or one stage of a
    /// fanned-out tick (see [`lifeboat::fanout`] and [`fanout`]).
    pub async fn invoke(&self, payload: Value, wall_clock: DateTime<Utc>) -> Result<Value, FunctionError> {
        let staged = staged(&payload)?;
        let (tick, options) = self.tick(&staged.event, wall_clock)?;
        let answer = match staged.stage {
            Stage::Whole => serde_json::to_value(self.run(&tick, options).await?),
            Stage::Plan => serde_json::to_value(self.plan_shards(&tick).await?),
            Stage::Shard { key } => serde_json::to_value(self.run_shard(&tick, options, &key).await?),
            Stage::Finish { plan, results } => {
                return self.finish_shards(&tick, options, &plan, &results).await
            }
        };
        Ok(answer.expect("answers serialize"))
    }

    /// A whole tick.
    pub async fn handle(
        &self,
        event: Value,
        wall_clock: DateTime<Utc>,
    ) -> Result<PruneReport, FunctionError> {
        let (tick, options) = self.tick(&event, wall_clock)?;
        self.run(&tick, options).await
    }

    fn tick(&self, event: &Value, wall_clock: DateTime<Utc>) -> Result<(Tick, Options), FunctionError> {
        // An old tick only deletes less than a current one would, so only the future is guarded.
        let guard = ClockGuard {
            now: wall_clock,
            max_age: None,
        };
        let tick = parse_tick(event, (!self.simulation).then_some(guard))?;
        let options = Options {
            // An event may ask for a dry run, never switch off a deployment's.
            dry_run: self.dry_run || detail_flag(&tick, "dry_run")?.unwrap_or(false),
            reconcile_all: detail_flag(&tick, "reconcile_all")?.unwrap_or(false),
        };
        tracing::info!(slot = %tick.slot, ?options, "retention tick");
        Ok((tick, options))
    }

    async fn run(&self, tick: &Tick, options: Options) -> Result<PruneReport, FunctionError> {
        let records = self.catalog.present_points().await.map_err(|e| {
            FunctionError::new(FailureType::DependencyFailed, format!("reading the catalog: {e}"))
        })?;
        let mut failures = Vec::new();
        let inventory = self.inventory(&mut failures).await;
        let pruned = self.prune(tick, options, records, &inventory).await;
        let unmanaged = self.unmanaged(&present_counts(&pruned.present), &inventory);
        self.publish_figures(
            tick,
            unmanaged.len() as u64,
            pruned.vanished() as u64,
            pruned.backlog.points as u64,
            pruned.backlog.oldest_hours,
        );
        failures.extend(pruned.failures.iter().cloned());
        let report = PruneReport {
            slot: tick.slot.to_string(),
            tick_time: tick.time,
            event_id: tick.event_id.clone(),
            dry_run: options.dry_run,
            max_deletions_per_resource: self.max_deletions_per_resource,
            deleted: pruned.deleted(),
            kept: pruned.kept(),
            reconciled_resources: pruned.reconciled_resources,
            reconciliation: pruned.reconciliation,
            unmanaged,
            backlog: pruned.backlog,
            decisions: pruned.decisions,
            failures,
            report_key: report_key(tick, options.dry_run),
        };
        self.write(&report.report_key, &report).await?;
        finish(report)
    }

    /// Confirms, reconciles (on their turn) and prunes `resources` (their present records).
    async fn prune(
        &self,
        tick: &Tick,
        options: Options,
        mut records: Vec<RecoveryPoint>,
        inventory: &Inventory,
    ) -> Pruned {
        let Options {
            dry_run,
            reconcile_all,
        } = options;
        let mut reconciliation = confirm::confirm(
            &self.services,
            self.catalog.as_ref(),
            &mut records,
            tick.time,
            dry_run,
        )
        .await;
        let runs = self
            .reconcile_turns(
                tick,
                by_resource(records, inventory),
                inventory,
                reconcile_all,
                dry_run,
            )
            .await;
        let reconciled_resources = runs.iter().filter(|r| r.listed).count();
        let mut failures = Vec::new();
        let mut decisions = Vec::new();
        let mut present = Vec::new();
        for run in runs {
            reconciliation.extend(run.reconciliation);
            match run.unlisted {
                Some(e) => failures.push(format!(
                    "listing the points of {}: {e}; none of them deleted this run",
                    run.key
                )),
                None => decisions.extend(plan(&run.records, tick.time, self.max_deletions_per_resource)),
            }
            present.extend(run.records);
        }
        failures.extend(reconciliation.iter().filter_map(|r| {
            r.error
                .as_ref()
                .map(|e| format!("{}@{}: reconciling: {e}", r.resource, r.slot))
        }));
        let by_slot: HashMap<(&ResourceKey, Slot), &RecoveryPoint> =
            present.iter().map(|r| ((&r.resource, r.slot), r)).collect();
        let decisions: Vec<DecisionRecord> = stream::iter(decisions)
            .map(|d| {
                let record = by_slot.get(&(&d.resource, d.slot)).copied();
                delete::carry_out(self, tick, record, d, dry_run)
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        failures.extend(decisions.iter().filter_map(|d| {
            d.error
                .as_ref()
                .map(|e| format!("{}@{}: deleting: {e}", d.decision.resource, d.decision.slot))
        }));
        let backlog = Backlog::of(&decisions, tick.time);
        Pruned {
            reconciliation,
            reconciled_resources,
            decisions,
            present,
            failures,
            backlog,
        }
    }

    /// The tick's metrics, which the template alarms on.
    fn publish_figures(&self, tick: &Tick, unmanaged: u64, vanished: u64, backlog: u64, backlog_hours: u64) {
        lifeboat_function::telemetry::publish_counts(
            "retention-pruner",
            &[
                (UNMANAGED_METRIC, unmanaged),
                (VANISHED_METRIC, vanished),
                (BACKLOG_METRIC, backlog),
                (BACKLOG_AGE_METRIC, backlog_hours),
            ],
            tick.time,
        );
    }

    /// Every service's managed resources; a discovery that fails is a failure of the tick
    /// (and leaves that service's resources out of the unmanaged check).
    async fn inventory(&self, failures: &mut Vec<String>) -> Inventory {
        let mut inventory = Inventory {
            managed: HashMap::new(),
            discovered: Vec::new(),
        };
        for service in &self.services {
            let kind = service.kind();
            match service.discover().await {
                Ok(found) => {
                    inventory.managed.extend(
                        found
                            .iter()
                            .filter_map(|f| managed(f, &self.policies).ok().flatten())
                            .map(|m| (m.key.clone(), m)),
                    );
                    inventory.discovered.push((kind, found));
                }
                Err(e) => failures.push(format!("discovering {} resources: {e}", kind.as_str())),
            }
        }
        inventory
    }

    /// Lists and reconciles the resources whose turn it is (all of them with `all`); the
    /// others pass through unchanged.
    async fn reconcile_turns(
        &self,
        tick: &Tick,
        resources: BTreeMap<ResourceKey, Vec<RecoveryPoint>>,
        inventory: &Inventory,
        all: bool,
        dry_run: bool,
    ) -> Vec<ResourceRun> {
        stream::iter(resources)
            .map(|(key, records)| async move {
                let mut run = ResourceRun {
                    key,
                    records,
                    listed: false,
                    reconciliation: Vec::new(),
                    unlisted: None,
                };
                let service = self.services.iter().find(|s| s.kind() == run.key.kind);
                let Some(service) = service.filter(|_| all || rotation::turn_at(&run.key, tick.slot)) else {
                    return run;
                };
                run.listed = true;
                match service.points_of(&run.key).await {
                    Ok(held) => {
                        run.reconciliation = reconcile::reconcile(
                            service.as_ref(),
                            self.catalog.as_ref(),
                            &self.policies,
                            &inventory.managed,
                            &mut run.records,
                            held,
                            tick.time,
                            dry_run,
                        )
                        .await
                    }
                    Err(e) => run.unlisted = Some(e.to_string()),
                }
                run
            })
            .buffered(CONCURRENCY)
            .collect()
            .await
    }

    /// The resources of `records` that are no longer managed, for the services whose
    /// discovery answered.
    /// The resources with present points (`counts`: how many each) that discovery found
    /// unmanaged or not at all, per service that answered.
    fn unmanaged(&self, counts: &BTreeMap<ResourceKey, usize>, inventory: &Inventory) -> Vec<Unmanaged> {
        let mut found = Vec::new();
        for (kind, discovered) in &inventory.discovered {
            let of_kind: BTreeMap<ResourceKey, usize> = counts
                .iter()
                .filter(|(r, _)| r.kind == *kind)
                .map(|(r, n)| (r.clone(), *n))
                .collect();
            found.extend(unmanaged_of(&of_kind, discovered, &self.policies));
        }
        for u in &found {
            tracing::warn!(resource = %u.resource, points = u.points, why = %u.why, "recovery points of a resource no longer backed up");
        }
        found
    }

    async fn write(&self, key: &str, report: &impl Serialize) -> Result<(), FunctionError> {
        let body = serde_json::to_vec_pretty(report).expect("reports serialize");
        self.reports
            .put(key, body, "application/json")
            .await
            .map_err(|e| {
                FunctionError::new(
                    FailureType::DependencyFailed,
                    format!("writing the report {key}: {e}"),
                )
            })
    }
}

/// The present records by resource, with every managed resource present (one without
/// records still takes its turn: the service may hold points the catalog lacks).
fn by_resource(
    records: Vec<RecoveryPoint>,
    inventory: &Inventory,
) -> BTreeMap<ResourceKey, Vec<RecoveryPoint>> {
    let mut resources: BTreeMap<ResourceKey, Vec<RecoveryPoint>> = inventory
        .managed
        .keys()
        .map(|k| (k.clone(), Vec::new()))
        .collect();
    for r in records {
        resources.entry(r.resource.clone()).or_default().push(r);
    }
    resources
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
        backlog = report.backlog.points, reconciled = report.reconciled_resources,
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
