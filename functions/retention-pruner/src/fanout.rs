//! The pruner's stages of a fanned-out tick (see [`lifeboat::fanout`]).
//!
//! - `plan`: the inventory and the catalog's present records are read once, to name the
//!   resources no longer backed up (which needs the fleet in view) and to split every
//!   resource with points, or managed, into shards; a shard's object holds its resources
//!   and, for the managed ones, what discovery said of them (adoption needs their settings).
//! - `shard`: the shard's resources' records are read from the catalog one resource at a
//!   time, then confirmed, reconciled on their turn and pruned as in a whole tick; the
//!   shard's report (every decision) goes beside its object.
//! - `finish`: the tick's metrics and its report (the figures, every shard's report key),
//!   and the tick fails when the plan or any shard did.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt};
use lifeboat::catalog::{RecoveryPoint, ResourceKey};
use lifeboat::event::Tick;
use lifeboat::fanout::{self, Plan, ShardResult};
use lifeboat::inventory::{managed, DiscoveredResource};
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::shards;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{report_key, Inventory, Options, Pruner, CONCURRENCY};

/// The function's name in shard keys.
const FUNCTION: &str = "retention-pruner";

/// A shard's object.
#[derive(Debug, Serialize, Deserialize)]
struct Shard {
    resources: Vec<ResourceKey>,
    /// Discovery's view of those of `resources` that are managed.
    managed: Vec<DiscoveredResource>,
}

/// Where a shard's report goes: beside its object.
fn shard_report_key(shard: &str) -> String {
    format!("{}.report.json", shard.trim_end_matches(".json"))
}

impl Pruner {
    pub(crate) async fn plan_shards(&self, tick: &Tick) -> Result<Plan, FunctionError> {
        // Counts, not records: at 20,000 resources the present records are 1.8 million.
        let counts = self.catalog.present_counts().await.map_err(|e| {
            FunctionError::new(FailureType::DependencyFailed, format!("reading the catalog: {e}"))
        })?;
        let mut failures = Vec::new();
        let inventory = self.inventory(&mut failures).await;
        let unmanaged = self.unmanaged(&counts, &inventory);
        let resources: BTreeSet<ResourceKey> = counts
            .keys()
            .cloned()
            .chain(inventory.managed.keys().cloned())
            .collect();
        let discovered: BTreeMap<&ResourceKey, &DiscoveredResource> = inventory
            .discovered
            .iter()
            .flat_map(|(_, found)| found)
            .filter(|d| inventory.managed.contains_key(&d.key))
            .map(|d| (&d.key, d))
            .collect();
        let count = resources.len();
        let objects: Vec<(String, Shard)> =
            fanout::split(resources.into_iter().collect(), self.fanout.shard_size)
                .into_iter()
                .enumerate()
                .map(|(index, resources): (usize, Vec<ResourceKey>)| {
                    let managed = resources
                        .iter()
                        .filter_map(|k| discovered.get(k).map(|d| (*d).clone()))
                        .collect();
                    let key = fanout::shard_key(FUNCTION, tick.slot, &tick.event_id, index);
                    (key, Shard { resources, managed })
                })
                .collect();
        let keys = shards::write_all(self.reports.as_ref(), objects).await?;
        tracing::info!(slot = %tick.slot, resources = count, shards = keys.len(), "tick planned");
        Ok(Plan {
            shards: keys,
            concurrency: self.fanout.concurrency,
            resources: count,
            counts: BTreeMap::from([("unmanaged".to_string(), unmanaged.len() as u64)]),
            failures: fanout::bounded_failures(&failures),
            quota_short: false,
        })
    }

    pub(crate) async fn run_shard(
        &self,
        tick: &Tick,
        options: Options,
        key: &str,
    ) -> Result<ShardResult, FunctionError> {
        let shard: Shard = shards::read(self.reports.as_ref(), key).await?;
        let (records, unreadable, mut failures) = self.records_of(&shard.resources).await;
        // A resource whose records could not be read is left out whole: without them its
        // points at the service would look unknown to the catalog.
        let inventory = Inventory {
            managed: shard
                .managed
                .iter()
                .filter(|d| !unreadable.contains(&d.key))
                .filter_map(|d| managed(d, &self.policies).ok().flatten())
                .map(|m| (m.key.clone(), m))
                .collect(),
            discovered: Vec::new(),
        };
        let pruned = self.prune(tick, options, records, &inventory).await;
        failures.extend(pruned.failures.iter().cloned());
        let counts = BTreeMap::from([
            ("deleted".to_string(), pruned.deleted() as u64),
            ("kept".to_string(), pruned.kept() as u64),
            ("reconciled".to_string(), pruned.reconciled_resources as u64),
            ("vanished".to_string(), pruned.vanished() as u64),
            ("backlog".to_string(), pruned.backlog.points as u64),
            (
                "backlog_oldest_hours_max".to_string(),
                pruned.backlog.oldest_hours,
            ),
        ]);
        let report = json!({
            "slot": tick.slot.to_string(),
            "shard": key,
            "dry_run": options.dry_run,
            "resources": shard.resources,
            "counts": counts,
            "backlog": pruned.backlog,
            "reconciliation": pruned.reconciliation,
            "decisions": pruned.decisions,
            "failures": failures,
        });
        // Not fatal: the shard's deletions are done, and a retry of the whole shard would
        // delete a second bound's worth. The result still carries the figures and failures.
        if let Err(e) = self.write(&shard_report_key(key), &report).await {
            tracing::error!(shard = key, error = %e, "the shard's report was not written");
            failures.push(format!("writing the shard's report: {e}"));
        }
        tracing::info!(
            shard = key,
            resources = shard.resources.len(),
            failures = failures.len(),
            "shard done"
        );
        Ok(ShardResult::new(key, shard.resources.len(), counts, &failures))
    }

    /// The present records of `resources`, one query of the catalog's present index each (not
    /// the year of deleted records each resource also has); a resource whose query fails is
    /// left out of this run, and named.
    async fn records_of(
        &self,
        resources: &[ResourceKey],
    ) -> (Vec<RecoveryPoint>, BTreeSet<ResourceKey>, Vec<String>) {
        let read: Vec<_> = stream::iter(resources)
            .map(|key| async move { (key, self.catalog.present_points_of(key).await) })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut records = Vec::new();
        let mut unreadable = BTreeSet::new();
        let mut failures = Vec::new();
        for (key, result) in read {
            match result {
                Ok(points) => records.extend(points),
                Err(e) => {
                    failures.push(format!(
                        "reading the catalog of {key}: {e}; left for the next run"
                    ));
                    unreadable.insert(key.clone());
                }
            }
        }
        (records, unreadable, failures)
    }

    pub(crate) async fn finish_shards(
        &self,
        tick: &Tick,
        options: Options,
        plan: &Plan,
        results: &[ShardResult],
    ) -> Result<Value, FunctionError> {
        let failures = fanout::failures(plan, results);
        let totals = fanout::totals(results);
        let figure = |name: &str| totals.get(name).copied().unwrap_or(0);
        let unmanaged = plan.counts.get("unmanaged").copied().unwrap_or(0);
        self.publish_figures(
            tick,
            unmanaged,
            figure("vanished"),
            figure("backlog"),
            figure("backlog_oldest_hours_max"),
        );
        let report = json!({
            "slot": tick.slot.to_string(),
            "tick_time": tick.time,
            "event_id": tick.event_id,
            "dry_run": options.dry_run,
            "max_deletions_per_resource": self.max_deletions_per_resource,
            "resources": plan.resources,
            "unmanaged": unmanaged,
            "totals": totals,
            "shard_reports": plan.shards.iter().map(|s| shard_report_key(s)).collect::<Vec<_>>(),
            "failures": failures,
        });
        let key = report_key(tick, options.dry_run);
        self.write(&key, &report).await?;
        tracing::info!(slot = %tick.slot, ?totals, failures = failures.len(), report = %key, "retention tick done");
        if failures.is_empty() {
            return Ok(report);
        }
        Err(FunctionError::new(
            FailureType::ResourcesFailed,
            format!(
                "slot {}: {} problem(s) (report at {key}): {}",
                tick.slot,
                failures.len(),
                failures.join("; ")
            ),
        ))
    }
}
