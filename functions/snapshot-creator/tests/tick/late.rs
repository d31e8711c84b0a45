//! Weekly and monthly points whose slot could not be taken, taken late by a later tick of the
//! tier's period (see `lifeboat::schedule::late`).

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::inventory::{PitrStatus, TAG_INSTANCE, TAG_POLICY, TAG_TIMEZONE};
use lifeboat::policy::{PolicyBook, Tier};
use lifeboat::ports::memory::world::at;
use lifeboat::ports::{Catalog, Quota};
use lifeboat::schedule::Slot;
use lifeboat_function::failure::{FailureType, FunctionError};
use snapshot_creator::{PointOutcome, ResourceReport, TickSummary};

use super::*;

/// Saturday 28 November 2026, 23:00 UTC: the weekly slot of a resource in UTC.
pub(super) const SATURDAY: &str = "2026-11-28T23:00:00Z";
pub(super) const SUNDAY: &str = "2026-11-29T00:00:00Z";

pub(super) fn slot(t: &str) -> Slot {
    Slot::containing(at(t))
}

/// A tick at `time` that fails.
pub(super) async fn refused(w: &World, time: &str) -> FunctionError {
    w.creator.handle(tick(time), at(time)).await.unwrap_err()
}

pub(super) async fn record(w: &World, resource: &ResourceKey, time: &str) -> Option<RecoveryPoint> {
    w.catalog
        .get_points(&[(resource.clone(), slot(time))])
        .await
        .unwrap()
        .into_iter()
        .next()
}

pub(super) fn report<'a>(summary: &'a TickSummary, resource: &str) -> &'a ResourceReport {
    summary.resources.iter().find(|r| r.resource == resource).unwrap()
}

/// The slots of `resource`'s points that carry `tier` and that its service holds (the
/// claims of refused ticks carry their tiers too, until the pruner finds them missing).
pub(super) async fn carrying(w: &World, resource: &ResourceKey, tier: Tier) -> Vec<Slot> {
    let held: Vec<Slot> = w
        .service(resource.kind)
        .all_points()
        .iter()
        .filter(|p| &p.resource == resource)
        .map(|p| p.slot)
        .collect();
    w.catalog
        .points_of(resource)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.state.is_present() && p.tiers.contains(tier) && held.contains(&p.slot))
        .map(|p| p.slot)
        .collect()
}

/// A fanned-out tick at `time`, each stage once: the finish's answer.
pub(super) async fn fanned_out(w: &World, time: &str) -> Value {
    let plan: Plan = serde_json::from_value(stage(w, time, json!({"stage": "plan"})).await.unwrap()).unwrap();
    let mut results = Vec::new();
    for key in &plan.shards {
        let result = stage(w, time, json!({"stage": "shard", "shard": key})).await;
        results.push(serde_json::from_value::<ShardResult>(result.unwrap()).unwrap());
    }
    stage(
        w,
        time,
        json!({"stage": "finish", "plan": plan, "results": results}),
    )
    .await
    .unwrap()
}

fn expiry(p: &RecoveryPoint, tier: Tier) -> DateTime<Utc> {
    p.tiers.0[&tier]
}

#[tokio::test]
async fn a_saturday_23_00_refusal_is_taken_late_by_the_sunday_00_00_tick() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    let orders = w.ddb.add_resource("orders", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    create(&w, "2026-11-28T22:00:00Z").await;
    // The instance is busy (a maintenance window): its Saturday snapshot is refused.
    w.rds.fail("create_point", "db");
    let err = refused(&w, SATURDAY).await;
    assert_eq!(err.kind, FailureType::ResourcesFailed);
    assert!(
        err.message.contains("rds:db: creating the point"),
        "{}",
        err.message
    );
    w.rds.heal("create_point", "db");
    let due = record(&w, &db, SUNDAY).await.expect("handed on to Sunday 00:00");
    assert_eq!((due.state, due.tiers.names()), (PointState::Due, vec!["weekly"]));
    assert!(
        due.note.as_deref().unwrap().contains("could not be taken"),
        "{due:?}"
    );

    // Sunday 00:00, through the fan-out as the schedule runs it.
    let finish = fanned_out(&w, SUNDAY).await;
    assert_eq!(finish["totals"]["created"], 2, "{finish}");
    assert_eq!(finish["totals"]["taken_late"], 1, "{finish}");
    let late = record(&w, &db, SUNDAY).await.unwrap();
    assert_eq!(late.state, PointState::Available);
    assert_eq!(
        late.note.as_deref(),
        Some(
            "takes the weekly tier of 2026-11-28T23:00:00Z late: that slot's point could not be \
             taken"
        )
    );
    assert_eq!(late.tiers.names(), ["hourly", "weekly"]);
    assert_eq!(
        expiry(&late, Tier::Weekly),
        at("2026-12-29T00:00:00Z"),
        "a month from the time its data holds"
    );
    assert_eq!(
        record(&w, &orders, SUNDAY).await.unwrap().tiers.names(),
        ["hourly"],
        "the table's weekly point was taken on time"
    );
    let made: Vec<Slot> = w.rds.all_points().iter().map(|p| p.slot).collect();
    assert_eq!(made, [slot("2026-11-28T22:00:00Z"), slot(SUNDAY)]);
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(SUNDAY)]);

    // The next tick owes nothing: one weekly point for the Saturday.
    let next = create(&w, "2026-11-29T01:00:00Z").await;
    assert_eq!(report(&next, "rds:db").tiers, ["hourly"]);
    assert!(report(&next, "rds:db").late.is_empty());
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(SUNDAY)]);
}

#[tokio::test]
async fn in_new_york_the_saturday_23_00_est_refused_is_taken_at_05_00_utc_and_reported_late() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource(
        "db",
        &[(TAG_INSTANCE, "acme"), (TAG_TIMEZONE, "America/New_York")],
        GOOD_PITR,
    );
    // Saturday 2026-11-28 23:00 EST is Sunday 04:00 UTC.
    w.rds.fail("create_point", "db");
    refused(&w, "2026-11-29T04:00:00Z").await;
    w.rds.heal("create_point", "db");
    let summary = create(&w, "2026-11-29T05:00:00Z").await;
    let db_report = report(&summary, "rds:db");
    assert_eq!(db_report.point, PointOutcome::Created);
    assert_eq!(db_report.tiers, ["hourly", "weekly"]);
    assert_eq!(
        db_report.late,
        [(Tier::Weekly, slot("2026-11-29T04:00:00Z"))].into()
    );
    assert_eq!(
        serde_json::to_value(db_report).unwrap()["late"],
        json!({"weekly": "2026-11-29T04:00:00Z"})
    );
    assert_eq!(
        carrying(&w, &db, Tier::Weekly).await,
        [slot("2026-11-29T05:00:00Z")]
    );
}

#[tokio::test]
async fn a_month_end_refusal_is_taken_at_the_next_tick_and_kept_a_year_from_it() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    // Monday 30 November: a month end, not a Saturday.
    w.rds.fail("create_point", "db");
    refused(&w, "2026-11-30T23:00:00Z").await;
    w.rds.heal("create_point", "db");
    let summary = create(&w, "2026-12-01T00:00:00Z").await;
    assert_eq!(report(&summary, "rds:db").tiers, ["hourly", "monthly"]);
    let late = record(&w, &db, "2026-12-01T00:00:00Z").await.unwrap();
    assert_eq!(expiry(&late, Tier::Monthly), at("2027-12-01T00:00:00Z"));
    assert_eq!(late.expires_at(), at("2027-12-01T00:00:00Z"));
    assert_eq!(
        carrying(&w, &db, Tier::Monthly).await,
        [slot("2026-12-01T00:00:00Z")]
    );
}

#[tokio::test]
async fn a_refusal_that_lasts_is_retried_every_tick_until_a_point_is_taken() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.fail("create_point", "db");
    let hours = [
        "2026-11-29T00:00:00Z",
        "2026-11-29T01:00:00Z",
        "2026-11-29T02:00:00Z",
    ];
    for time in std::iter::once(SATURDAY).chain(hours) {
        refused(&w, time).await;
    }
    let asked = w.rds.calls().iter().filter(|c| *c == "create_point db").count();
    assert_eq!(asked, 4, "asked again at every tick");
    w.rds.heal("create_point", "db");
    let summary = create(&w, "2026-11-29T03:00:00Z").await;
    assert_eq!(
        report(&summary, "rds:db").late,
        [(Tier::Weekly, slot(SATURDAY))].into()
    );
    assert_eq!(
        carrying(&w, &db, Tier::Weekly).await,
        [slot("2026-11-29T03:00:00Z")]
    );
    assert_eq!(w.rds.all_points().len(), 1);
}

#[tokio::test]
async fn a_refusal_that_lasts_past_the_period_leaves_the_slot_missing() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.fail("create_point", "db");
    // From Saturday 21 November 23:00 to the next Saturday 22:00, every tick refused.
    let missed = at("2026-11-21T23:00:00Z");
    let mut t = missed;
    while t < at(SATURDAY) {
        refused(&w, &t.to_rfc3339()).await;
        t += TimeDelta::hours(1);
    }
    // Every tick of the week asked for a point carrying the Saturday's weekly tier late.
    let carried: Vec<Slot> = w
        .catalog
        .points_of(&db)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.state == PointState::Creating && p.tiers.contains(Tier::Weekly))
        .map(|p| p.slot)
        .collect();
    assert_eq!(carried.len(), 7 * 24, "{carried:?}");
    assert_eq!(
        w.rds.calls().iter().filter(|c| *c == "create_point db").count(),
        7 * 24
    );
    w.rds.heal("create_point", "db");
    let summary = create(&w, SATURDAY).await;
    let own = report(&summary, "rds:db");
    assert_eq!(own.tiers, ["hourly", "weekly"], "the new Saturday's own");
    assert!(own.late.is_empty(), "the old one's period ran out");
    let weekly = record(&w, &db, SATURDAY).await.unwrap();
    assert_eq!(expiry(&weekly, Tier::Weekly), at("2026-12-28T23:00:00Z"));
    assert_eq!(w.rds.all_points().len(), 1);
}

#[tokio::test]
async fn a_point_an_earlier_attempt_made_is_looked_up_and_no_second_weekly_is_taken() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    create(&w, SATURDAY).await;
    // As if the Saturday tick had stopped after asking the service, before recording its
    // answer: a claim without an id.
    let claim = record(&w, &db, SATURDAY).await.unwrap();
    w.catalog.insert(RecoveryPoint {
        service_id: None,
        state: PointState::Creating,
        ..claim
    });
    let summary = create(&w, SUNDAY).await;
    assert_eq!(report(&summary, "rds:db").tiers, ["hourly"]);
    assert!(report(&summary, "rds:db").late.is_empty());
    assert!(
        w.rds.calls().contains(&"find_point db".to_string()),
        "{:?}",
        w.rds.calls()
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(SATURDAY)]);
}

#[tokio::test]
async fn a_weekly_point_the_quota_left_out_is_handed_on_and_taken_when_it_fits() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    let quota = |max| Quota {
        name: "RDS ManualSnapshots".into(),
        used: 100,
        max,
    };
    w.rds.set_quota(quota(100));
    let err = refused(&w, SATURDAY).await;
    assert_eq!(err.kind, FailureType::QuotaExceeded);
    let due = record(&w, &db, SUNDAY).await.expect("handed on");
    assert!(
        due.note.as_deref().unwrap().contains("refused by the quota"),
        "{due:?}"
    );
    w.rds.set_quota(quota(200));
    let summary = create(&w, SUNDAY).await;
    assert_eq!(report(&summary, "rds:db").tiers, ["hourly", "weekly"]);
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(SUNDAY)]);
}

#[tokio::test]
async fn under_a_window_served_policy_the_next_hour_takes_a_snapshot_for_the_weekly_tier_alone() {
    let w = world(PolicyBook::from_json(LEAN).unwrap());
    let four_days = PitrStatus {
        enabled: true,
        window_days: Some(4),
    };
    let db = w
        .rds
        .add_resource("db", &[(TAG_INSTANCE, "acme"), (TAG_POLICY, "lean")], four_days);
    w.rds.fail("create_point", "db");
    refused(&w, SATURDAY).await;
    w.rds.heal("create_point", "db");
    let summary = create(&w, SUNDAY).await;
    let db_report = report(&summary, "rds:db");
    assert_eq!(db_report.point, PointOutcome::Created, "not served by the window");
    assert_eq!(db_report.tiers, ["weekly"]);
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(SUNDAY)]);
    // And the hour after that is the window's again.
    let next = create(&w, "2026-11-29T01:00:00Z").await;
    assert_eq!(report(&next, "rds:db").point, PointOutcome::ServedByWindow);
}
