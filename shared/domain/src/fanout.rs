//! Fan-out: one hourly tick of a scheduled function over the fleet, split into shards that
//! the fleet-tick state machine (`infra/statemachines/fleet-tick.asl.json`) runs in parallel.
//!
//! The state machine invokes the function three times over:
//! 1. `plan`: the function reads the inventory once, decides what needs the whole fleet in
//!    view (the creator's quota admission, the pruner's unmanaged resources), splits the
//!    resources into shards of a fixed size and stores each shard's resources as an object
//!    (a fleet's resources do not fit in a state's 256 KB payload; a shard's key does). It
//!    answers the keys and how many shards may run at once.
//! 2. `shard`, once per key (a Map state, at most that many at once): the function does the
//!    tick for those resources only and answers a small [`ShardResult`]. A shard retried does
//!    exactly what its first try did: the slot's "now" is the schedule's event, carried by
//!    every stage, and the catalog's claims make the work idempotent.
//! 3. `finish`: the function sums the shards' results up and fails when any shard or the
//!    plan did, so the execution fails and the alarm fires.
//!
//! A bare Scheduled Event (no stage) is the whole tick in one invocation, as before: for a
//! small fleet, or run by hand.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::EventError;
use crate::schedule::Slot;

/// A shard's failures carried in its result (the function's log, and the pruner's shard
/// report, hold them all): enough to say what went wrong in the execution's history, small
/// enough that 400 shards' results stay far inside a state's 256 KB.
pub const FAILURES_PER_RESULT: usize = 2;
/// The longest failure text a result or a plan carries, in characters.
pub const FAILURE_CHARS: usize = 240;
/// The most failures a plan carries (the rest counted).
pub const FAILURES_PER_PLAN: usize = 20;

/// `text` cut to [`FAILURE_CHARS`] characters, marked when cut.
pub fn bounded(text: &str) -> String {
    if text.chars().count() <= FAILURE_CHARS {
        return text.to_string();
    }
    let cut: String = text.chars().take(FAILURE_CHARS).collect();
    format!("{cut}… (cut; the function's log has it whole)")
}

/// At most [`FAILURES_PER_PLAN`] of `failures`, each [`bounded`], and a count of the rest.
pub fn bounded_failures(failures: &[String]) -> Vec<String> {
    let mut kept: Vec<String> = failures
        .iter()
        .take(FAILURES_PER_PLAN)
        .map(|f| bounded(f))
        .collect();
    if failures.len() > FAILURES_PER_PLAN {
        kept.push(format!(
            "{} more (in the function's log)",
            failures.len() - FAILURES_PER_PLAN
        ));
    }
    kept
}

/// What one invocation is asked to do, and the Scheduled Event it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    pub event: Value,
    pub stage: Stage,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// The whole tick at once.
    Whole,
    Plan,
    Shard {
        key: String,
    },
    Finish {
        plan: Plan,
        results: Vec<ShardResult>,
    },
}

/// The `plan` stage's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// The shards' object keys.
    pub shards: Vec<String>,
    /// How many shards may run at once.
    pub concurrency: u32,
    pub resources: usize,
    /// Figures of the whole fleet the finish publishes (the pruner's unmanaged resources).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// What failed while planning (a discovery, a bad tag, a short quota): the tick's
    /// failures, reported by the finish.
    #[serde(default)]
    pub failures: Vec<String>,
    /// The plan's failures include a short quota.
    #[serde(default)]
    pub quota_short: bool,
}

/// One shard's answer; also what the state machine records for a shard whose invocation
/// failed after its retries (`failed`, with the error).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ShardResult {
    pub shard: String,
    #[serde(default)]
    pub failed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub resources: usize,
    /// Named figures, summed over shards by [`totals`] (maxima for names ending `_max`).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// The first [`FAILURES_PER_RESULT`] of the shard's failures.
    #[serde(default)]
    pub failures: Vec<String>,
    /// How many failures the shard had in all.
    #[serde(default)]
    pub failure_count: usize,
}

impl ShardResult {
    pub fn new(
        shard: &str,
        resources: usize,
        counts: BTreeMap<String, u64>,
        failures: &[String],
    ) -> ShardResult {
        ShardResult {
            shard: shard.to_string(),
            failed: false,
            error: None,
            resources,
            counts,
            failures: failures
                .iter()
                .take(FAILURES_PER_RESULT)
                .map(|f| bounded(f))
                .collect(),
            failure_count: failures.len(),
        }
    }
}

/// Reads an invocation's payload: `{"stage": "plan"|"shard"|"finish", "event": {...}, ...}`,
/// or a bare Scheduled Event for the whole tick.
pub fn staged(payload: &Value) -> Result<Staged, EventError> {
    let invalid = |m: String| EventError::Invalid(m);
    let Some(stage) = payload.get("stage") else {
        return Ok(Staged {
            event: payload.clone(),
            stage: Stage::Whole,
        });
    };
    let event = payload
        .get("event")
        .filter(|e| e.is_object())
        .cloned()
        .ok_or_else(|| {
            invalid("a staged invocation needs `event`, the Scheduled Event of its tick".into())
        })?;
    let field = |name: &str| {
        payload
            .get(name)
            .cloned()
            .ok_or_else(|| invalid(format!("stage {stage} needs `{name}`")))
    };
    let stage = match stage.as_str() {
        Some("plan") => Stage::Plan,
        Some("shard") => Stage::Shard {
            key: field("shard")?
                .as_str()
                .filter(|k| !k.is_empty())
                .ok_or_else(|| invalid("`shard` must be the shard's object key".into()))?
                .to_string(),
        },
        Some("finish") => Stage::Finish {
            plan: serde_json::from_value(field("plan")?).map_err(|e| invalid(format!("`plan`: {e}")))?,
            results: serde_json::from_value(field("results")?)
                .map_err(|e| invalid(format!("`results`: {e}")))?,
        },
        _ => {
            return Err(invalid(format!(
                "`stage` must be \"plan\", \"shard\" or \"finish\", got {stage}"
            )))
        }
    };
    Ok(Staged { event, stage })
}

/// `items` in shards of at most `size` (at least one item each).
pub fn split<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let size = size.max(1);
    let mut shards = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        shards.push(items.by_ref().take(size).collect());
    }
    shards
}

/// Where shard `index` of `function`'s tick `slot` (event `event_id`) is stored: apart per
/// event, so that two executions of one slot (the schedule's and a person's) never read
/// each other's shards.
pub fn shard_key(function: &str, slot: Slot, event_id: &str, index: usize) -> String {
    let id = safe_name(event_id);
    format!(
        "ticks/{function}/{}/{}/{id}/shard-{index:05}.json",
        slot.start().format("%Y/%m/%d"),
        slot.label()
    )
}

/// `text` with every character but ASCII letters, digits and `-` made `_`: safe in an
/// object key and as a Step Functions execution name (which the tick's event id names).
pub fn safe_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The shards' figures together: sums, and maxima for names ending `_max`.
pub fn totals(results: &[ShardResult]) -> BTreeMap<String, u64> {
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for (name, value) in results.iter().flat_map(|r| &r.counts) {
        let total = totals.entry(name.clone()).or_default();
        *total = if name.ends_with("_max") {
            (*total).max(*value)
        } else {
            *total + value
        };
    }
    totals
}

/// Every failure of the plan and the shards, each shard's named.
pub fn failures(plan: &Plan, results: &[ShardResult]) -> Vec<String> {
    let mut all = plan.failures.clone();
    for r in results {
        if r.failed {
            all.push(format!(
                "shard {} failed: {}",
                r.shard,
                r.error.as_deref().unwrap_or("no error given")
            ));
        }
        all.extend(r.failures.iter().map(|f| format!("shard {}: {f}", r.shard)));
        if r.failure_count > r.failures.len() {
            all.push(format!(
                "shard {}: {} more (the function's log has them all)",
                r.shard,
                r.failure_count - r.failures.len()
            ));
        }
    }
    // Shards the state machine never ran would be missing from the results.
    for key in plan
        .shards
        .iter()
        .filter(|k| !results.iter().any(|r| &r.shard == *k))
    {
        all.push(format!("shard {key} has no result"));
    }
    all
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bare_event_is_the_whole_tick_and_stages_are_read_with_their_fields() {
        let event = json!({"detail-type": "Scheduled Event", "time": "2026-11-28T03:00:00Z"});
        assert_eq!(staged(&event).unwrap().stage, Stage::Whole);
        let plan = staged(&json!({"stage": "plan", "event": event})).unwrap();
        assert_eq!((plan.stage, plan.event), (Stage::Plan, event.clone()));
        let shard =
            staged(&json!({"stage": "shard", "event": event, "shard": "ticks/x/shard-00000.json"})).unwrap();
        assert_eq!(
            shard.stage,
            Stage::Shard {
                key: "ticks/x/shard-00000.json".into()
            }
        );
        let finish = staged(&json!({
            "stage": "finish", "event": event,
            "plan": {"shards": ["a"], "concurrency": 2, "resources": 3},
            "results": [{"shard": "a", "resources": 3, "counts": {"created": 3}}]
        }))
        .unwrap();
        let Stage::Finish { plan, results } = finish.stage else {
            panic!("not a finish")
        };
        assert_eq!((plan.concurrency, results[0].counts["created"]), (2, 3));
    }

    #[test]
    fn a_malformed_stage_names_what_is_wrong() {
        let event = json!({"time": "2026-11-28T03:00:00Z"});
        for (payload, says) in [
            (json!({"stage": "plan"}), "`event`"),
            (json!({"stage": "shard", "event": event}), "`shard`"),
            (
                json!({"stage": "shard", "event": event, "shard": ""}),
                "object key",
            ),
            (
                json!({"stage": "finish", "event": event, "plan": {}, "results": []}),
                "`plan`",
            ),
            (
                json!({"stage": "sweep", "event": event}),
                "\"plan\", \"shard\" or \"finish\"",
            ),
        ] {
            let e = staged(&payload).unwrap_err().to_string();
            assert!(e.contains(says), "{payload}: {e}");
        }
    }

    #[test]
    fn shards_hold_at_most_their_size_and_every_item_once() {
        let shards = split((0..103).collect(), 25);
        assert_eq!(
            shards.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![25, 25, 25, 25, 3]
        );
        assert_eq!(shards.concat(), (0..103).collect::<Vec<_>>());
        assert!(split(Vec::<u8>::new(), 25).is_empty());
        assert_eq!(split(vec![1, 2], 0).len(), 2, "a size of 0 counts as 1");
    }

    #[test]
    fn results_sum_up_and_every_failure_is_named() {
        let plan = Plan {
            shards: vec!["a".into(), "b".into(), "c".into()],
            failures: vec!["quota short".into()],
            ..Plan::default()
        };
        let many: Vec<String> = (0..7).map(|i| format!("db-{i} failed")).collect();
        let results = vec![
            ShardResult::new(
                "a",
                2,
                BTreeMap::from([("deleted".into(), 2), ("oldest_max".into(), 5)]),
                &many,
            ),
            ShardResult {
                shard: "b".into(),
                failed: true,
                error: Some("Lambda.Unknown".into()),
                counts: BTreeMap::from([("oldest_max".into(), 9)]),
                ..ShardResult::default()
            },
        ];
        let totals = totals(&results);
        assert_eq!((totals["deleted"], totals["oldest_max"]), (2, 9));
        let all = failures(&plan, &results);
        assert_eq!(all[0], "quota short");
        assert!(all.contains(&"shard a: db-0 failed".to_string()), "{all:?}");
        let more = format!(
            "shard a: {} more (the function's log has them all)",
            7 - FAILURES_PER_RESULT
        );
        assert!(all.contains(&more), "{all:?}");
        assert!(
            all.contains(&"shard b failed: Lambda.Unknown".to_string()),
            "{all:?}"
        );
        assert!(all.contains(&"shard c has no result".to_string()), "{all:?}");
    }

    #[test]
    fn what_a_result_or_plan_carries_is_bounded_whatever_the_failures() {
        let long = "x".repeat(100_000);
        let many: Vec<String> = (0..1000).map(|_| long.clone()).collect();
        let result = ShardResult::new("s", 50, BTreeMap::new(), &many);
        assert!(serde_json::to_string(&result).unwrap().len() < 1_000);
        assert_eq!(result.failure_count, 1000);
        let plan = bounded_failures(&many);
        assert_eq!(plan.len(), FAILURES_PER_PLAN + 1);
        assert!(plan.iter().map(String::len).sum::<usize>() < 8_000);
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn shard_keys_are_apart_per_event_and_safe_as_object_keys() {
        let slot = Slot::containing("2026-11-28T03:00:00Z".parse().unwrap());
        let key = shard_key("snapshot-creator", slot, "a1b2/../c d", 7);
        assert!(key.starts_with("ticks/snapshot-creator/2026/11/28/"), "{key}");
        assert!(key.ends_with("/a1b2____c_d/shard-00007.json"), "{key}");
    }
}
