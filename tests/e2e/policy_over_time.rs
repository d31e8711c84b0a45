//! The policy over long stretches of simulated time, on the local stack.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use lifeboat::inventory::{TAG_INSTANCE, TAG_TIMEZONE};
use lifeboat::policy::{PolicyBook, Tier};
use lifeboat::schedule::Slot;
use lifeboat_e2e::*;
use lifeboat_local::simulation::{self, Mode};
use lifeboat_local::{resources, LocalStack};

/// Customer resources in time zones with DST in either hemisphere and a 45-minute offset.
const FLEET: [(&str, bool, &str); 3] = [
    ("db-new-york", true, "America/New_York"),
    ("events-lord-howe", false, "Australia/Lord_Howe"),
    ("events-kathmandu", false, "Asia/Kathmandu"),
];

async fn tag_fleet(stack: &LocalStack) {
    // A year of the policy needs about 90 manual snapshots per RDS instance; RDS's default
    // quota is 100 per region, so a fleet asks for more (see the README).
    stack.edge.set_rds_snapshot_quota(1000);
    for (name, rds, tz) in FLEET {
        let tags = [(TAG_INSTANCE, "acme"), (TAG_TIMEZONE, tz)];
        if rds {
            resources::rds_instance(stack, name, &tags, 3).await.unwrap();
        } else {
            resources::dynamodb_table(stack, name, &tags).await.unwrap();
        }
    }
}

/// The first UTC tick at or after a local wall-clock time (none of these zones has a DST
/// change at 23:00, so the local time exists exactly once).
fn first_tick_at_or_after(tz: Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let instant = tz
        .from_local_datetime(&date.and_hms_opt(hour, 0, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc);
    let floor = instant.with_minute(0).unwrap().with_second(0).unwrap();
    if floor == instant {
        floor
    } else {
        floor + TimeDelta::hours(1)
    }
}

/// The standard policy's points at `prune` (the last pruning tick), worked out from the
/// policy's text alone: the last 72 hourly slots; every Saturday 23:00 whose month is not
/// over; every month end 23:00 whose year is not over.
fn expected(tz: Tz, end: DateTime<Utc>, prune: DateTime<Utc>) -> [BTreeSet<DateTime<Utc>>; 3] {
    let hourly = (0..72).map(|h| end - TimeDelta::hours(h)).collect();
    let days = (0..400).map(|d| end.with_timezone(&tz).date_naive() - TimeDelta::days(d));
    let kept = |slot: DateTime<Utc>, months: u32| {
        slot <= end && prune < slot.checked_add_months(Months::new(months)).unwrap()
    };
    let weekly = days
        .clone()
        .filter(|d| d.weekday() == Weekday::Sat)
        .map(|d| first_tick_at_or_after(tz, d, 23))
        .filter(|s| kept(*s, 1))
        .collect();
    let monthly = days
        .filter(|d| (*d + TimeDelta::days(1)).day() == 1)
        .map(|d| first_tick_at_or_after(tz, d, 23))
        .filter(|s| kept(*s, 12))
        .collect();
    [hourly, weekly, monthly]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_forwarding_400_days_keeps_exactly_the_policy_points() {
    let stack = stack().await;
    tag_fleet(&stack).await;
    let end = at("2026-11-28T23:00:00Z");
    let start = end - TimeDelta::days(400);
    let managed = simulation::managed_resources(&stack, &PolicyBook::default())
        .await
        .unwrap();
    assert_eq!(managed.len(), FLEET.len());
    let ticks = simulation::plan(Mode::FastForward, start, end, &managed);
    let report = simulation::run(&stack, &ticks).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let prune = ticks.last().unwrap().time;
    assert_eq!(prune, end + TimeDelta::minutes(30));

    let coverage = simulation::coverage(&stack, &managed, start, end, prune)
        .await
        .unwrap();
    assert!(
        coverage.is_exact(),
        "{}",
        simulation::render(&coverage, &report, managed.len())
    );
    let points = catalog(&stack).await;
    for (name, _, tz) in FLEET {
        let tz: Tz = tz.parse().unwrap();
        let [hourly, weekly, monthly] = expected(tz, end, prune);
        assert_eq!(hourly.len(), 72);
        assert!(
            (4..=5).contains(&weekly.len()),
            "{name}: every Saturday of the last month: {weekly:?}"
        );
        assert_eq!(
            monthly.len(),
            12,
            "{name}: every month end of the last year: {monthly:?}"
        );
        let present = |tier: Tier| -> BTreeSet<DateTime<Utc>> {
            points
                .iter()
                .filter(|p| p.resource.name == name && p.state.is_present())
                .filter(|p| p.tiers.live_at(prune).any(|(t, _)| t == tier))
                .map(|p| p.slot.start())
                .collect()
        };
        assert_eq!(present(Tier::Hourly), hourly, "{name} hourly");
        assert_eq!(present(Tier::Weekly), weekly, "{name} weekly");
        assert_eq!(present(Tier::Monthly), monthly, "{name} monthly");
        // No point is kept beyond those: the union of the three tiers.
        let all: BTreeSet<Slot> = points
            .iter()
            .filter(|p| p.resource.name == name && p.state.is_present())
            .map(|p| p.slot)
            .collect();
        let union: BTreeSet<Slot> = hourly
            .iter()
            .chain(&weekly)
            .chain(&monthly)
            .map(|t| Slot::containing(*t))
            .collect();
        assert_eq!(all, union, "{name}: no more, no fewer");
    }
    // The services hold exactly what the catalog says is present.
    let live: usize = points.iter().filter(|p| p.state.is_present()).count();
    assert_eq!(
        rds_snapshots(&stack).await.len() + dynamodb_backups(&stack).await.len(),
        live
    );
}

/// Seven days, the fewest in which fast-forward still skips most ticks (the hourly tier keeps
/// 72 hours), placed so that they hold what tells the modes apart: hourly points pruned as
/// they expire, the month end of 31 October (a Saturday: weekly and monthly) in every zone
/// and New York's change from daylight time on 1 November.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mode_over_7_days_ends_where_fast_forward_does() {
    let (full, fast) = tokio::join!(stack(), stack());
    tokio::join!(tag_fleet(&full), tag_fleet(&fast));
    let end = at("2026-11-05T00:00:00Z");
    let start = end - TimeDelta::days(7);
    let managed = simulation::managed_resources(&full, &PolicyBook::default())
        .await
        .unwrap();
    let full_ticks = simulation::plan(Mode::Full, start, end, &managed);
    let fast_ticks = simulation::plan(Mode::FastForward, start, end, &managed);
    assert_eq!(full_ticks.len(), 2 * (7 * 24 + 1));
    assert!(
        fast_ticks.len() < full_ticks.len() / 2,
        "fast-forward skips most ticks"
    );
    let (full_report, fast_report) = tokio::join!(
        simulation::run(&full, &full_ticks),
        simulation::run(&fast, &fast_ticks)
    );
    let (full_report, fast_report) = (full_report.unwrap(), fast_report.unwrap());
    assert!(full_report.failures.is_empty(), "{:?}", full_report.failures);
    assert!(fast_report.failures.is_empty(), "{:?}", fast_report.failures);
    let full_state = simulation::end_state(&full).await.unwrap();
    assert_eq!(full_state, simulation::end_state(&fast).await.unwrap());
    assert_exact_coverage(&full, &managed, (start, end), &full_ticks, &full_report).await;
}

/// A policy whose RDS hourly points are the continuous backup window's (README: "Hourly points
/// from the continuous backup window").
const LEAN: &str = r#"[{"name": "lean", "point_in_time": {"window_days": 4},
    "hourly": {"retention": {"hours": 72}, "source": "point_in_time"},
    "weekly": {"weekday": "saturday", "hour": 23, "retention": {"months": 1}}}]"#;

/// Over a Saturday night the instance under `lean` gets its weekly snapshot and nothing else,
/// the table under the same policy every hourly backup, and both keep exactly the policy's
/// points; a loss inside the window is then offered a point-in-time restore, with the weekly
/// snapshot as its fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_points_from_the_window_take_no_snapshot_and_restore_to_a_point_in_time() {
    let stack = stack_with(&[("LIFEBOAT_POLICIES", LEAN)]).await;
    let tags = [(TAG_INSTANCE, "acme"), (lifeboat::inventory::TAG_POLICY, "lean")];
    resources::rds_instance(&stack, "db", &tags, 4).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &tags).await.unwrap();
    let policies = PolicyBook::from_json(LEAN).unwrap();
    let managed = simulation::managed_resources(&stack, &policies).await.unwrap();
    let end = at("2026-11-29T01:00:00Z");
    let start = end - TimeDelta::hours(4);
    let ticks = simulation::plan(Mode::Full, start, end, &managed);
    let report = simulation::run(&stack, &ticks).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_exact_coverage(&stack, &managed, (start, end), &ticks, &report).await;
    assert_eq!(rds_snapshots(&stack).await, ["lifeboat-db-20261128t2300z"]);
    assert_eq!(
        dynamodb_backups(&stack).await.len(),
        5,
        "one an hour, 21:00 to 01:00"
    );

    let now = Utc::now();
    for resource in ["rds:db", "dynamodb:orders"] {
        set_window(&stack, resource, now - TimeDelta::hours(72), now).await;
    }
    let id = file(&stack, now - TimeDelta::hours(2)).await;
    let filed = request(&stack, &id).await;
    let options = filed["recovery_options"].as_array().unwrap();
    let db = options.iter().find(|o| o["resource"] == "rds:db").unwrap();
    assert_eq!(db["source"]["kind"], "point_in_time", "{db}");
    assert_eq!(db["fallback"]["slot"], "2026-11-28T23:00:00Z", "{db}");
}
