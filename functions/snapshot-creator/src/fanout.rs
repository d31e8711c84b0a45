//! The creator's stages of a fanned-out tick (see [`lifeboat::fanout`]).
//!
//! - `plan`: the inventory, the catalog's records of the slot and its owing index are read
//!   once for the whole fleet, so the quota's admission ranks every resource against every
//!   other (a shard sees only its own); each shard's object holds its resources, as
//!   discovered, those the quota refused, and their records the owing index holds (a shard
//!   takes on only its own resources' debts, and no shard reads the index again).
//! - `shard`: the tick for the shard's resources, exactly as a whole tick does it; its counts
//!   are by outcome, and `taken_late` counts the points that took a weekly or monthly tier late.
//! - `finish`: the tick fails when the plan or any shard did (`QuotaExceeded` when the quota
//!   was short), so the alarm fires once per tick.

use std::collections::{BTreeMap, HashMap};

use lifeboat::catalog::{RecoveryPoint, ResourceKey};
use lifeboat::event::Tick;
use lifeboat::fanout::{self, Plan, ShardResult};
use lifeboat::inventory::{managed, DiscoveredResource};
use lifeboat::ports::ObjectStore;
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::shards;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::{Creator, PointOutcome};

/// The function's name in shard keys.
const FUNCTION: &str = "snapshot-creator";

/// The count of points that took a weekly or monthly tier late.
const TAKEN_LATE: &str = "taken_late";

/// A shard's object.
#[derive(Debug, Serialize, Deserialize)]
struct Shard {
    resources: Vec<DiscoveredResource>,
    /// Those of `resources` the quota admitted no new point for.
    refused: Vec<ResourceKey>,
    /// Their records of earlier slots that may owe a weekly or monthly tier.
    #[serde(default)]
    owing: Vec<RecoveryPoint>,
}

impl Creator {
    fn store(&self) -> Result<&dyn ObjectStore, FunctionError> {
        self.shards.as_deref().ok_or_else(|| {
            FunctionError::new(
                FailureType::Configuration,
                "a fanned-out tick needs LIFEBOAT_REPORTS_BUCKET, where its shards are kept",
            )
        })
    }

    pub(crate) async fn plan_shards(&self, tick: &Tick) -> Result<Plan, FunctionError> {
        let store = self.store()?;
        let mut failures = Vec::new();
        let mut found = self.inventory(&mut failures).await;
        found.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        let resources = found.len();
        let (discovered, managed): (Vec<_>, Vec<_>) = found.into_iter().unzip();
        let owing = self.owing(tick, &mut failures).await;
        let planned = self.plan(tick, managed, &owing).await?;
        let refused = self.over_quota(tick, &planned, &mut failures).await;
        for f in &failures {
            tracing::error!(slot = %tick.slot, failure = %f, "planning");
        }
        let mut owing_of: HashMap<ResourceKey, Vec<RecoveryPoint>> = HashMap::new();
        for record in owing {
            owing_of.entry(record.resource.clone()).or_default().push(record);
        }
        let objects: Vec<(String, Shard)> = fanout::split(discovered, self.fanout.shard_size)
            .into_iter()
            .enumerate()
            .map(|(index, resources)| {
                let key = fanout::shard_key(FUNCTION, tick.slot, &tick.event_id, index);
                let refused = refused
                    .iter()
                    .filter(|k| resources.iter().any(|r| &r.key == *k))
                    .cloned()
                    .collect();
                let owing = resources
                    .iter()
                    .flat_map(|r| owing_of.remove(&r.key).unwrap_or_default())
                    .collect();
                let shard = Shard {
                    resources,
                    refused,
                    owing,
                };
                (key, shard)
            })
            .collect();
        let keys = shards::write_all(store, objects).await?;
        tracing::info!(slot = %tick.slot, resources, shards = keys.len(), "tick planned");
        Ok(Plan {
            shards: keys,
            concurrency: self.fanout.concurrency,
            resources,
            counts: BTreeMap::new(),
            quota_short: !refused.is_empty(),
            // A short quota names every skipped resource: the log keeps the whole text.
            failures: fanout::bounded_failures(&failures),
        })
    }

    pub(crate) async fn run_shard(&self, tick: &Tick, key: &str) -> Result<ShardResult, FunctionError> {
        let shard: Shard = shards::read(self.store()?, key).await?;
        let mut failures = Vec::new();
        let resources = shard
            .resources
            .iter()
            .filter_map(|d| match managed(d, &self.policies) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(e.to_string());
                    None
                }
            })
            .collect();
        let reports = self
            .handle_planned(
                tick,
                self.plan(tick, resources, &shard.owing).await?,
                &shard.refused,
            )
            .await;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for r in &reports {
            *counts.entry(r.point.name()).or_default() += 1;
            let taken = matches!(r.point, PointOutcome::Created | PointOutcome::FoundAfterRetry);
            if taken && !r.late.is_empty() {
                *counts.entry(TAKEN_LATE.to_string()).or_default() += 1;
            }
            failures.extend(r.errors.iter().map(|e| format!("{}: {e}", r.resource)));
        }
        tracing::info!(
            shard = key,
            resources = reports.len(),
            failures = failures.len(),
            "shard done"
        );
        Ok(ShardResult::new(key, reports.len(), counts, &failures))
    }
}

/// The tick's end: its figures, or its failures as the invocation's error.
pub(crate) fn finish(tick: &Tick, plan: &Plan, results: &[ShardResult]) -> Result<Value, FunctionError> {
    let failures = fanout::failures(plan, results);
    let totals = fanout::totals(results);
    if failures.is_empty() {
        tracing::info!(slot = %tick.slot, ?totals, "tick done");
        return Ok(
            json!({"slot": tick.slot.to_string(), "resources": plan.resources, "shards": plan.shards.len(), "totals": totals}),
        );
    }
    tracing::error!(slot = %tick.slot, ?totals, failures = failures.len(), "tick done with failures");
    Err(crate::tick_failed(
        &tick.slot.to_string(),
        plan.quota_short,
        &failures,
    ))
}
