//! Benchmarks; they print figures and assert nothing (`lifeboat-local bench`, run by
//! `scripts/bench` on the release build).
//!
//! - Retention planning at fleet scale: 1,000,000 points over 10,000 resources, one thread.
//! - Cold start: from process spawn to the first poll of the Runtime API, median of 20, for
//!   each function beside a minimal `lambda_runtime` binary measured in the same run.
//! - Binary sizes of the same (release builds are stripped by the profile).
//! - AWS calls per resource per tick in steady state, from a full-mode simulation of a fleet.
//! - The intake's request handling ([`intake`]).
//! - The restore orchestration's overhead on the local stack ([`restore`]).
//! - Selective restore: the PostgreSQL merge beside a plain COPY, its peak memory, and
//!   DynamoDB calls per restored item ([`merge`]).
//! - The DynamoDB rollback's copy-back and its verification, shard by shard ([`copy_back`]).
//! - A fleet's hour at 1,000, 5,000 and 20,000 resources: the fan-out, the pacing and AWS's
//!   rate limits, on emulated services and a simulated clock ([`fleet`]).
//! - 300 resources over three simulated days on the local stack, end to end, with AWS's rate
//!   limits on ([`local_fleet`]; named only, it takes about an hour).

pub mod copy_back;
pub mod fleet;
pub mod fleet_audit;
pub mod intake;
pub mod local_fleet;
pub mod merge;
pub mod restore;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::inventory::{TAG_INSTANCE, TAG_TIMEZONE};
use lifeboat::policy::{Policy, PolicyBook};
use lifeboat::retention::plan;
use lifeboat::schedule::{tiers_of, Slot};
use lifeboat::zone::Zone;

use crate::edge::lambda::{FunctionHost, FunctionSpec};
use crate::names::FUNCTIONS;
use crate::simulation::{self, Mode};
use crate::stack::{LocalStack, StackConfig};
use crate::{resources, StackError};

pub const BASELINE: &str = "minimal-lambda";
const RESOURCES: usize = 10_000;
const POINTS_PER_RESOURCE: usize = 100;
const PLANNING_RUNS: usize = 7;

/// `retention::plan` over a fleet's catalog: median and best of several runs.
pub fn retention_planning() -> String {
    let now: DateTime<Utc> = "2026-11-28T12:30:00Z".parse().expect("valid time");
    let points = fleet(now);
    let mut times: Vec<Duration> = (0..PLANNING_RUNS)
        .map(|_| {
            let started = std::time::Instant::now();
            let decisions = plan(&points, now, 500);
            let elapsed = started.elapsed();
            std::hint::black_box(decisions);
            elapsed
        })
        .collect();
    times.sort();
    format!(
        "Retention planning, {} points over {RESOURCES} resources, one thread, {PLANNING_RUNS} runs:\n  median {:.3} s, best {:.3} s\n",
        points.len(),
        times[PLANNING_RUNS / 2].as_secs_f64(),
        times[0].as_secs_f64()
    )
}

const COLD_STARTS: usize = 20;

/// Cold starts and sizes of the binaries in `dir`.
pub async fn cold_starts(dir: &Path) -> Result<String, StackError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cold start, process spawn to first Runtime API poll, median of {COLD_STARTS} ({}):",
        dir.display()
    );
    let work = std::env::temp_dir().join(format!("lifeboat-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| StackError::Setup(e.to_string()))?;
    let names: Vec<&str> = std::iter::once(BASELINE).chain(FUNCTIONS).collect();
    let mut samples: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    // Round robin: drift in the machine's load then touches every binary alike, and the
    // ratios compare like with like.
    for _ in 0..COLD_STARTS {
        for name in &names {
            let sample = cold_start(dir, name, &work).await?;
            samples.entry(name).or_default().push(sample);
        }
    }
    let median = |name: &str| {
        let mut s = samples[name].clone();
        s.sort();
        s[COLD_STARTS / 2]
    };
    let baseline = median(BASELINE);
    for name in &names {
        let m = median(name);
        let size = std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
        let _ = writeln!(
            out,
            "  {name:<18} {:>8.2} ms  ({:.2}x the minimal binary)  size {:.1} MiB",
            m.as_secs_f64() * 1000.0,
            m.as_secs_f64() / baseline.as_secs_f64(),
            size as f64 / (1024.0 * 1024.0)
        );
    }
    Ok(out)
}

/// One start of `name`: spawn to its first poll of the Runtime API.
async fn cold_start(dir: &Path, name: &str, work: &Path) -> Result<Duration, StackError> {
    // The functions read their settings before polling; give them what a deployment would.
    let mut env: BTreeMap<String, String> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("LIFEBOAT_CATALOG_TABLE", "lifeboat-catalog"),
        ("LIFEBOAT_REPORTS_BUCKET", "lifeboat-reports"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(
        crate::restore_setup::intake_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    let host = FunctionHost::start(FunctionSpec {
        name: name.to_string(),
        binary: dir.join(name),
        env,
        timeout: Duration::from_secs(30),
        log: work.join(format!("{name}.log")),
    })
    .await?;
    host.ensure_process()?;
    let waited = tokio::time::timeout(Duration::from_secs(30), host.wait_for_first_poll()).await;
    host.kill();
    waited.map_err(|_| StackError::Setup(format!("{name} never polled the Runtime API")))
}

/// A fleet of `rds` RDS instances and `tables` DynamoDB tables, simulated in full mode for
/// `days`; calls per resource per tick over the last day (steady state).
pub async fn calls_per_tick(
    rds: usize,
    tables: usize,
    days: i64,
    end: DateTime<Utc>,
) -> Result<String, StackError> {
    let stack = LocalStack::start(StackConfig::from_env()).await?;
    stack.edge.set_rds_snapshot_quota(100 * rds as u64 + 100);
    let tags = [(TAG_INSTANCE, "bench"), (TAG_TIMEZONE, "Europe/Berlin")];
    for i in 0..rds {
        resources::rds_instance(&stack, &format!("bench-db-{i}"), &tags, 3).await?;
    }
    for i in 0..tables {
        resources::dynamodb_table(&stack, &format!("bench-table-{i}"), &tags).await?;
    }
    let managed = simulation::managed_resources(&stack, &PolicyBook::default()).await?;
    let ticks = simulation::plan(Mode::Full, end - TimeDelta::days(days), end, &managed);
    let report = simulation::run(&stack, &ticks).await?;
    let steady = report.since(end - TimeDelta::days(1));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "AWS calls per resource per tick, steady state (last 24 h of {days} simulated days, {rds} RDS + {tables} DynamoDB):"
    );
    out.push_str(&steady.render_calls(managed.len()));
    if !report.failures.is_empty() {
        let _ = writeln!(
            out,
            "  {} invocations failed: {:?}",
            report.failures.len(),
            report.failures.first()
        );
    }
    Ok(out)
}

/// Each resource: 72 live hourly points and 28 older points (weekly, monthly and expired
/// hourly), standard policy, spread over a few time zones.
fn fleet(now: DateTime<Utc>) -> Vec<RecoveryPoint> {
    let zones = [
        Zone::utc(),
        Zone::named("America/New_York").expect("a tz database zone"),
        Zone::named("Australia/Lord_Howe").expect("a tz database zone"),
    ];
    let policy = Policy::standard();
    let mut points = Vec::with_capacity(RESOURCES * POINTS_PER_RESOURCE);
    let newest = Slot::containing(now);
    for r in 0..RESOURCES {
        let key = ResourceKey::rds(format!("db-{r:05}"));
        let tz = zones[r % zones.len()];
        for i in 0..POINTS_PER_RESOURCE {
            // The last 72 hours, then one point a week back to about a year and a half.
            let slot = if i < 72 {
                Slot::containing(newest.start() - TimeDelta::hours(i as i64))
            } else {
                Slot::containing(newest.start() - TimeDelta::days(((i - 71) * 20) as i64))
            };
            points.push(RecoveryPoint {
                service_id: Some(key.point_name(slot)),
                resource: key.clone(),
                instance_id: format!("customer-{}", r / 2),
                slot,
                tiers: tiers_of(&policy, tz, slot),
                state: PointState::Available,
                holds: Default::default(),
                policy: policy.name.clone(),
                timezone: tz.name().to_string(),
                note: None,
                updated_at: slot.start(),
            });
        }
    }
    points
}

/// Writes `items` to `table` in batches of 25 (the benchmarks' tables, before the clock starts).
pub(crate) async fn fill_table(
    stack: &LocalStack,
    table: &str,
    items: impl Iterator<Item = std::collections::HashMap<String, AttributeValue>>,
) -> Result<(), StackError> {
    let failed = |e: &dyn std::fmt::Display| StackError::Setup(format!("filling {table}: {e}"));
    let items: Vec<_> = items.collect();
    for chunk in items.chunks(25) {
        let writes = chunk
            .iter()
            .map(|i| {
                let put = PutRequest::builder()
                    .set_item(Some(i.clone()))
                    .build()
                    .map_err(|e| failed(&e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StackError>>()?;
        stack
            .dynamodb()
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .map_err(|e| failed(&e))?;
    }
    Ok(())
}
