//! Retention planning at fleet scale: 1,000,000 recovery points over 10,000 resources.
//!
//! Prints figures (no assertions): the median and best of several runs of `retention::plan`,
//! on one thread. Run with `cargo bench -p lifeboat --bench retention_plan`.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::policy::Policy;
use lifeboat::retention::plan;
use lifeboat::schedule::{tiers_of, Slot};

const RESOURCES: usize = 10_000;
const POINTS_PER_RESOURCE: usize = 100;
const RUNS: usize = 7;

fn main() {
    let now: DateTime<Utc> = "2026-11-28T12:30:00Z".parse().expect("valid time");
    let points = fleet(now);
    println!(
        "retention planning: {} points over {RESOURCES} resources, {RUNS} runs",
        points.len()
    );
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            let decisions = plan(&points, now, 500);
            let elapsed = started.elapsed();
            std::hint::black_box(decisions);
            elapsed
        })
        .collect();
    times.sort();
    println!(
        "  median {:.3} s, best {:.3} s (target: under 1 s on one core)",
        times[RUNS / 2].as_secs_f64(),
        times[0].as_secs_f64()
    );
}

/// Each resource: 72 live hourly points and 28 older points (weekly, monthly and expired
/// hourly), standard policy, spread over a few time zones.
fn fleet(now: DateTime<Utc>) -> Vec<RecoveryPoint> {
    let zones = [
        Tz::UTC,
        chrono_tz::America::New_York,
        chrono_tz::Australia::Lord_Howe,
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
