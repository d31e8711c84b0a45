//! The simulation: drive the scheduled functions through the local stack, tick by tick.
//!
//! Full mode fires every hourly creation tick (:00) and pruning tick (:30) from start to end.
//! Fast-forward fires only the ticks the end state depends on: the slots inside the hourly
//! tier's retention before the end, every weekly and monthly slot, and the pruning tick after
//! each; it must reach the same end state. Then [`coverage`] compares, per resource and tier,
//! the recovery points present against what the policy expects.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::RecoveryPoint;
use lifeboat::inventory::{managed, ManagedResource};
use lifeboat::policy::{PolicyBook, Tier};
use lifeboat::ports::{BackupService, Catalog};
use lifeboat::schedule::{tiers_of, Slot};
use lifeboat_aws::CatalogTable;
use serde_json::{json, Value};

use crate::names::{arn, ACCOUNT, CATALOG_TABLE, REGION};
use crate::stack::{Invocation, LocalStack};
use crate::StackError;

pub const CREATOR: &str = "snapshot-creator";
pub const PRUNER: &str = "retention-pruner";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    FastForward,
}

/// One scheduled invocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tick {
    pub time: DateTime<Utc>,
    pub function: &'static str,
}

impl Tick {
    /// The EventBridge Scheduler event for this tick.
    pub fn event(&self) -> Value {
        json!({
            "version": "0",
            "id": format!("sim-{}-{}", self.function, self.time.format("%Y%m%dT%H%MZ")),
            "detail-type": "Scheduled Event",
            "source": "aws.scheduler",
            "account": ACCOUNT,
            "time": self.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "region": REGION,
            "resources": [arn("scheduler", "schedule/default/lifeboat-simulation")],
            "detail": {}
        })
    }
}

/// The ticks of a simulation from the slot of `start` to the slot of `end`, inclusive.
pub fn plan(
    mode: Mode,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    resources: &[ManagedResource],
) -> Vec<Tick> {
    let first = Slot::at_or_after(start);
    let last = Slot::containing(end);
    let slots = std::iter::successors(Some(first), |s| Some(s.next())).take_while(|s| *s <= last);
    let creation: BTreeSet<Slot> = match mode {
        Mode::Full => slots.collect(),
        Mode::FastForward => slots.filter(|s| matters_at_end(*s, last, resources)).collect(),
    };
    let mut ticks: Vec<Tick> = creation
        .into_iter()
        .flat_map(|s| {
            [
                Tick {
                    time: s.start(),
                    function: CREATOR,
                },
                Tick {
                    time: s.start() + TimeDelta::minutes(30),
                    function: PRUNER,
                },
            ]
        })
        .collect();
    ticks.sort();
    ticks
}

/// Whether the slot can hold a point that is still kept at the end: a weekly or monthly slot
/// of some resource, or a slot inside some resource's hourly retention before the end.
fn matters_at_end(slot: Slot, last: Slot, resources: &[ManagedResource]) -> bool {
    resources.iter().any(|r| {
        let tiers = tiers_of(&r.policy, r.timezone, slot);
        tiers.contains(Tier::Weekly)
            || tiers.contains(Tier::Monthly)
            || r.policy
                .hourly
                .is_some_and(|h| h.retention.expiry(slot.start()) > last.start() + TimeDelta::minutes(30))
    })
}

/// Calls one function made during one tick.
#[derive(Debug, Clone)]
pub struct TickCalls {
    pub tick: Tick,
    pub calls: u64,
    /// Calls the edge refused for the account's rate limits (retried by the SDK).
    pub throttled: u64,
    pub by_operation: BTreeMap<String, u64>,
    /// From starting the tick to its function's answer (every stage of a fanned-out tick).
    pub elapsed: std::time::Duration,
}

/// What a simulation run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub ticks: usize,
    /// Ticks whose invocation failed, with the error.
    pub failures: Vec<(Tick, String)>,
    pub calls: Vec<TickCalls>,
}

impl RunReport {
    /// Calls per managed resource per tick of `function`: (mean, max).
    pub fn calls_per_resource(&self, function: &str, resources: usize) -> (f64, f64) {
        let per: Vec<f64> = self
            .calls
            .iter()
            .filter(|c| c.tick.function == function)
            .map(|c| c.calls as f64 / resources.max(1) as f64)
            .collect();
        let mean = per.iter().sum::<f64>() / per.len().max(1) as f64;
        (mean, per.iter().copied().fold(0.0, f64::max))
    }

    /// Calls refused for the rate limits, over every tick.
    pub fn throttled(&self) -> u64 {
        self.calls.iter().map(|c| c.throttled).sum()
    }

    /// Calls of `function` per tick, by operation (mean over its ticks).
    pub fn operations_per_tick(&self, function: &str) -> BTreeMap<String, f64> {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        let mut ticks = 0;
        for c in self.calls.iter().filter(|c| c.tick.function == function) {
            ticks += 1;
            for (op, n) in &c.by_operation {
                *totals.entry(op.clone()).or_default() += n;
            }
        }
        totals
            .into_iter()
            .map(|(op, n)| (op, n as f64 / ticks.max(1) as f64))
            .collect()
    }

    /// Only the ticks after `from`.
    pub fn since(&self, from: DateTime<Utc>) -> RunReport {
        let calls: Vec<TickCalls> = self
            .calls
            .iter()
            .filter(|c| c.tick.time > from)
            .cloned()
            .collect();
        RunReport {
            ticks: calls.len(),
            failures: self
                .failures
                .iter()
                .filter(|(t, _)| t.time > from)
                .cloned()
                .collect(),
            calls,
        }
    }

    /// The per-function call figures, as printed.
    pub fn render_calls(&self, resources: usize) -> String {
        let mut out = String::new();
        for function in [CREATOR, PRUNER] {
            let (mean, max) = self.calls_per_resource(function, resources);
            let _ = writeln!(out, "  {function:<18} mean {mean:.2}, max {max:.2}");
            for (op, n) in self.operations_per_tick(function) {
                let _ = writeln!(out, "      {op:<40} {n:.2} per tick");
            }
        }
        out
    }
}

/// How a tick reaches its function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One invocation for the whole tick, through the Lambda Invoke API.
    Whole,
    /// Through the function's fleet-tick state machine: plan, shards, finish (see
    /// [`crate::fleet_tick`]), as the template's schedules start it.
    FanOut,
}

/// Fires the ticks in order through the Lambda Invoke API and records each tick's AWS calls.
pub async fn run(stack: &LocalStack, ticks: &[Tick]) -> Result<RunReport, StackError> {
    run_delivered(stack, ticks, Delivery::Whole).await
}

/// Fires the ticks in order, each delivered as `delivery` says, and records each tick's AWS
/// calls (its function's, in every stage).
pub async fn run_delivered(
    stack: &LocalStack,
    ticks: &[Tick],
    delivery: Delivery,
) -> Result<RunReport, StackError> {
    let mut report = RunReport::default();
    for tick in ticks {
        stack.edge.ledger.clear();
        let started = std::time::Instant::now();
        let outcome = match delivery {
            Delivery::Whole => stack.invoke(tick.function, &tick.event()).await?,
            Delivery::FanOut => crate::fleet_tick::run(stack, tick.function, &tick.event()).await?,
        };
        let elapsed = started.elapsed();
        tracing::info!(function = tick.function, time = %tick.time, ?elapsed, failed = matches!(outcome, Invocation::Failed { .. }), "tick delivered");
        let mut by_operation = BTreeMap::new();
        let mut calls = 0;
        let mut throttled = 0;
        for c in stack
            .edge
            .ledger
            .log()
            .iter()
            .filter(|c| c.caller == tick.function)
        {
            *by_operation
                .entry(format!("{}:{}", c.service, c.operation))
                .or_default() += 1;
            calls += 1;
            throttled += u64::from(c.injected.as_deref() == Some("rate_limited"));
        }
        report.calls.push(TickCalls {
            tick: tick.clone(),
            calls,
            throttled,
            by_operation,
            elapsed,
        });
        if let Invocation::Failed { error_type, message } = outcome {
            report
                .failures
                .push((tick.clone(), format!("{error_type}: {message}")));
        }
        report.ticks += 1;
    }
    Ok(report)
}

/// The stack's managed resources, read from their tags as the functions read them.
pub async fn managed_resources(
    stack: &LocalStack,
    policies: &PolicyBook,
) -> Result<Vec<ManagedResource>, StackError> {
    let mut found = Vec::new();
    for service in services(stack) {
        let discovered = service.discover().await?;
        found.extend(
            discovered
                .iter()
                .filter_map(|d| managed(d, policies).ok().flatten()),
        );
    }
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}

fn services(stack: &LocalStack) -> Vec<Arc<dyn BackupService>> {
    lifeboat_aws::backup_services(stack.sdk_config())
}

/// The points present in the catalog, as (resource, slot, tiers), for comparing end states.
pub async fn end_state(
    stack: &LocalStack,
) -> Result<BTreeSet<(String, String, Vec<&'static str>)>, StackError> {
    Ok(present_points(stack)
        .await?
        .into_iter()
        .map(|p| (p.resource.to_string(), p.slot.to_string(), p.tiers.names()))
        .collect())
}

async fn present_points(stack: &LocalStack) -> Result<Vec<RecoveryPoint>, StackError> {
    let catalog = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let points = catalog.all_points().await?;
    Ok(points.into_iter().filter(|p| p.state.is_present()).collect())
}

/// One resource's points of one tier: expected by the policy against present.
#[derive(Debug, Clone)]
pub struct CoverageRow {
    pub resource: String,
    pub timezone: String,
    pub tier: Tier,
    pub expected: BTreeSet<Slot>,
    pub present: BTreeSet<Slot>,
}

impl CoverageRow {
    pub fn missing(&self) -> Vec<Slot> {
        self.expected.difference(&self.present).copied().collect()
    }

    pub fn extra(&self) -> Vec<Slot> {
        self.present.difference(&self.expected).copied().collect()
    }
}

#[derive(Debug, Clone)]
pub struct Coverage {
    pub at: DateTime<Utc>,
    pub rows: Vec<CoverageRow>,
    /// Points the catalog has that the service does not, or the other way round.
    pub catalog_mismatches: Vec<String>,
}

impl Coverage {
    pub fn is_exact(&self) -> bool {
        self.catalog_mismatches.is_empty()
            && self
                .rows
                .iter()
                .all(|r| r.missing().is_empty() && r.extra().is_empty())
    }
}

/// Per resource and tier, the points kept at `at` (the last pruning tick) against the slots of
/// `start..=end` whose tier the policy still keeps at `at`.
pub async fn coverage(
    stack: &LocalStack,
    resources: &[ManagedResource],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<Coverage, StackError> {
    let points = present_points(stack).await?;
    let mut rows = Vec::new();
    for r in resources {
        let slots: Vec<Slot> = std::iter::successors(Some(Slot::at_or_after(start)), |s| Some(s.next()))
            .take_while(|s| *s <= Slot::containing(end))
            .collect();
        for tier in Tier::ALL {
            // No snapshot to count when the continuous backup window serves the tier; the
            // creator checks that window on every tick.
            if r.policy.retention(tier).is_none() || (tier == Tier::Hourly && r.hourly_from_window()) {
                continue;
            }
            let live = |tiers: &lifeboat::schedule::TierSet| tiers.live_at(at).any(|(t, _)| t == tier);
            rows.push(CoverageRow {
                resource: r.key.to_string(),
                timezone: r.timezone.name().to_string(),
                tier,
                expected: slots
                    .iter()
                    .copied()
                    .filter(|s| live(&r.point_tiers(*s)))
                    .collect(),
                present: points
                    .iter()
                    .filter(|p| p.resource == r.key && live(&p.tiers))
                    .map(|p| p.slot)
                    .collect(),
            });
        }
    }
    let mut catalog_mismatches = Vec::new();
    for service in services(stack) {
        let held = service.points().await?;
        let held: BTreeSet<(String, Slot)> = held.iter().map(|p| (p.resource.to_string(), p.slot)).collect();
        let catalogued: BTreeSet<(String, Slot)> = points
            .iter()
            .filter(|p| p.resource.kind == service.kind())
            .map(|p| (p.resource.to_string(), p.slot))
            .collect();
        for (r, s) in catalogued.difference(&held) {
            catalog_mismatches.push(format!("{r}@{s}: in the catalog, not at the service"));
        }
        for (r, s) in held.difference(&catalogued) {
            catalog_mismatches.push(format!("{r}@{s}: at the service, not in the catalog"));
        }
    }
    Ok(Coverage {
        at,
        rows,
        catalog_mismatches,
    })
}

/// The coverage table and call figures, as printed at the end of a simulation.
pub fn render(coverage: &Coverage, report: &RunReport, resources: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Recovery points kept at {} (by tier, against the policy):",
        coverage.at.to_rfc3339()
    );
    let _ = writeln!(
        out,
        "  {:<28} {:<20} {:<8} {:>8} {:>8} {:>8} {:>6}",
        "resource", "time zone", "tier", "expected", "present", "missing", "extra"
    );
    for row in &coverage.rows {
        let _ = writeln!(
            out,
            "  {:<28} {:<20} {:<8} {:>8} {:>8} {:>8} {:>6}",
            row.resource,
            row.timezone,
            row.tier.as_str(),
            row.expected.len(),
            row.present.len(),
            row.missing().len(),
            row.extra().len()
        );
        for s in row.missing() {
            let _ = writeln!(out, "      missing {s}");
        }
        for s in row.extra() {
            let _ = writeln!(out, "      extra   {s}");
        }
    }
    for m in &coverage.catalog_mismatches {
        let _ = writeln!(out, "  catalog mismatch: {m}");
    }
    let _ = writeln!(
        out,
        "\nAWS calls per resource per tick ({resources} managed resources, {} ticks):",
        report.ticks
    );
    out.push_str(&report.render_calls(resources));
    if report.failures.is_empty() {
        let _ = writeln!(out, "\nEvery invocation succeeded.");
    } else {
        let _ = writeln!(out, "\n{} invocation(s) failed:", report.failures.len());
        for (tick, e) in &report.failures {
            let _ = writeln!(out, "  {} {}: {e}", tick.function, tick.time.to_rfc3339());
        }
    }
    out
}
