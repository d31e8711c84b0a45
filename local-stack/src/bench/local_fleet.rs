//! A fleet on the local stack, end to end: 300 resources over three simulated days through the
//! real binaries and the fleet-tick state machines, with the edge's AWS rate limits on (RDS
//! 12 calls a second, bursts of 300; DynamoDB `CreateBackup` 50, `ListBackups` 5) and the
//! functions at their production pace and shard size. RDS's data plane is off (moto's
//! control plane only): nothing is restored, and a database copy per snapshot would not fit.
//!
//! The edge runs one warm process per function, so shards run one at a time here; the shard
//! concurrency is set to 1 to match, and each shard then paces at the whole budget, as the
//! shards of a deployment do together. Prints the wall time, the slowest tick of each
//! function, the failed invocations, the throttled calls, the calls per resource per tick and
//! whether the points kept are exactly the policy's. Takes about an hour on the reference
//! machine: the RDS budget, not moto, sets the pace.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::inventory::{TAG_INSTANCE, TAG_TIMEZONE};
use lifeboat::policy::PolicyBook;

use crate::simulation::{self, Delivery, Mode, RunReport, CREATOR, PRUNER};
use crate::stack::{LocalStack, StackConfig};
use crate::{resources, StackError};

/// Time zones the fleet's resources are spread over (a half-hour and a DST half-hour zone
/// among them).
const ZONES: [&str; 4] = ["UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"];

/// The functions' settings as a deployment's defaults, except the shard concurrency (see
/// the module's comment).
const PRODUCTION_PACE: [(&str, &str); 5] = [
    ("LIFEBOAT_SHARD_SIZE", "50"),
    ("LIFEBOAT_SHARD_CONCURRENCY", "1"),
    ("LIFEBOAT_RDS_CALLS_PER_SECOND", "8"),
    ("LIFEBOAT_DYNAMODB_LIST_BACKUPS_PER_SECOND", "3"),
    ("LIFEBOAT_DYNAMODB_CREATE_BACKUPS_PER_SECOND", "30"),
];

/// `rds` instances and `tables` tables, `days` of full-mode ticks ending at `end`.
pub async fn local_fleet(
    rds: usize,
    tables: usize,
    days: i64,
    end: DateTime<Utc>,
) -> Result<String, StackError> {
    let mut config = StackConfig::from_env();
    config.function_env.extend(
        PRODUCTION_PACE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    // Control plane only: 11,000 snapshot copies of even empty databases would not fit in
    // memory, and nothing here restores data.
    config.rds_data = false;
    let stack = LocalStack::start(config).await?;
    // Room for every point the policy keeps: the quota is not what this measures.
    stack.edge.set_rds_snapshot_quota(100 * rds as u64 + 100);
    for i in 0..rds.max(tables) {
        let tags = [
            (TAG_INSTANCE, format!("customer-{:03}", i)),
            (TAG_TIMEZONE, ZONES[i % ZONES.len()].to_string()),
        ];
        let tags: Vec<(&str, &str)> = tags.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if i < rds {
            resources::rds_instance(&stack, &format!("fleet-db-{i:03}"), &tags, 3).await?;
        }
        if i < tables {
            resources::dynamodb_table(&stack, &format!("fleet-table-{i:03}"), &tags).await?;
        }
    }
    let managed = simulation::managed_resources(&stack, &PolicyBook::default()).await?;
    let start = end - TimeDelta::days(days);
    let ticks = simulation::plan(Mode::Full, start, end, &managed);
    let started = Instant::now();
    let report = simulation::run_delivered(&stack, &ticks, Delivery::FanOut).await?;
    let wall = started.elapsed();
    let last = ticks.last().map_or(end, |t| t.time);
    let coverage = simulation::coverage(&stack, &managed, start, end, last).await?;
    Ok(render(&report, &coverage, managed.len(), days, wall))
}

fn render(
    report: &RunReport,
    coverage: &simulation::Coverage,
    resources: usize,
    days: i64,
    wall: Duration,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "A fleet on the local stack: {resources} resources, {days} simulated days, {} ticks through the fleet-tick state machines, AWS's rate limits on:",
        report.ticks
    );
    let _ = writeln!(out, "  wall time {:.1} min", wall.as_secs_f64() / 60.0);
    for function in [CREATOR, PRUNER] {
        let times: Vec<Duration> = report
            .calls
            .iter()
            .filter(|c| c.tick.function == function)
            .map(|c| c.elapsed)
            .collect();
        let total: Duration = times.iter().sum();
        let _ = writeln!(
            out,
            "  {function:<18} mean {:.1} s per tick, slowest {:.1} s",
            total.as_secs_f64() / times.len().max(1) as f64,
            times.iter().max().copied().unwrap_or_default().as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "  failed invocations {}, throttled calls {} (retried by the SDK)",
        report.failures.len(),
        report.throttled()
    );
    for (tick, error) in report.failures.iter().take(3) {
        let _ = writeln!(out, "      {} {}: {error}", tick.function, tick.time);
    }
    let missing: usize = coverage.rows.iter().map(|r| r.missing().len()).sum();
    let extra: usize = coverage.rows.iter().map(|r| r.extra().len()).sum();
    let _ = writeln!(
        out,
        "  coverage {}: {missing} points missing, {extra} extra, {} catalog/service mismatches",
        if coverage.is_exact() {
            "exactly the policy's"
        } else {
            "NOT the policy's"
        },
        coverage.catalog_mismatches.len()
    );
    let steady = report.since(coverage.at - TimeDelta::days(1));
    let _ = writeln!(out, "  AWS calls per resource per tick over the last day:");
    out.push_str(&steady.render_calls(resources));
    out
}
