//! The creator's logic on in-memory ports: idempotence, isolation of failures, quota, drift,
//! weekly and monthly points taken late ([`late`]), also when a later tick fails too
//! ([`owing`]).

mod late;
mod owing;

use std::ops::Deref;

use lifeboat::catalog::{PointState, ResourceKey};
use lifeboat::fanout::{Plan, ShardResult};
use lifeboat::inventory::{PitrStatus, TAG_INSTANCE, TAG_POLICY, TAG_TIMEZONE};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::memory::world::{self, at, scheduled_event};
use lifeboat::ports::{Catalog, Quota};
use lifeboat_function::config::Fanout;
use lifeboat_function::failure::FailureType;
use serde_json::{json, Value};
use snapshot_creator::{Creator, PitrCheck, PointOutcome};

const GOOD_PITR: PitrStatus = world::PITR_3_DAYS;

/// The shared in-memory world, and the creator wired to its catalog and both services.
struct World {
    ports: world::World,
    creator: Creator,
}

impl Deref for World {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.ports
    }
}

fn world(policies: PolicyBook) -> World {
    let ports = world::World::new();
    let creator = Creator {
        catalog: ports.catalog.clone(),
        services: ports.services(),
        policies,
        simulation: false,
        shards: Some(ports.reports.clone()),
        fanout: Fanout {
            shard_size: 2,
            concurrency: 3,
        },
    };
    World { ports, creator }
}

fn tick(time: &str) -> Value {
    scheduled_event(time, json!({}))
}

/// A creation tick at `time`, with the wall clock at the same time.
async fn create(w: &World, time: &str) -> snapshot_creator::TickSummary {
    w.creator.handle(tick(time), at(time)).await.unwrap()
}

#[tokio::test]
async fn each_managed_resource_gets_one_point_per_slot_even_when_the_tick_repeats() {
    let w = world(PolicyBook::default());
    w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.ddb.add_resource("orders", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.add_resource("untagged", &[("team", "x")], GOOD_PITR);
    let now = at("2026-11-28T03:00:05Z");
    let first = w.creator.handle(tick("2026-11-28T03:00:00Z"), now).await.unwrap();
    assert!(
        first.resources.iter().all(|r| r.point == PointOutcome::Created),
        "{first:?}"
    );
    assert_eq!(first.resources.len(), 2);
    assert!(
        w.catalog.snapshot().iter().all(|r| r.service_id.is_some()),
        "the services' answers are recorded on the claims"
    );
    // As if the first run had stopped after asking the services, before recording their
    // answers: claims without ids.
    for record in w.catalog.snapshot() {
        w.catalog.insert(lifeboat::catalog::RecoveryPoint {
            service_id: None,
            state: PointState::Creating,
            ..record
        });
    }
    let second = w.creator.handle(tick("2026-11-28T03:00:00Z"), now).await.unwrap();
    assert_eq!(w.rds.all_points().len(), 1);
    assert_eq!(
        w.ddb.all_points().len(),
        1,
        "a repeated tick must not make a second DynamoDB backup"
    );
    // The claims without ids: the second run found the points instead of making more.
    assert!(
        second
            .resources
            .iter()
            .all(|r| r.point == PointOutcome::FoundAfterRetry),
        "{second:?}"
    );
    assert!(w.rds.calls().iter().all(|c| !c.contains("untagged")));
    let third = w.creator.handle(tick("2026-11-28T03:00:00Z"), now).await.unwrap();
    assert!(third
        .resources
        .iter()
        .all(|r| r.point == PointOutcome::AlreadyPresent));
}

#[tokio::test]
async fn a_claim_left_by_a_crash_before_the_service_call_is_completed() {
    let w = world(PolicyBook::default());
    w.ddb.add_resource("orders", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.ddb.fail("create_point", "orders");
    let now = at("2026-11-28T03:00:05Z");
    let err = w
        .creator
        .handle(tick("2026-11-28T03:00:00Z"), now)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::ResourcesFailed);
    assert!(err.message.contains("dynamodb:orders"), "{}", err.message);
    assert_eq!(w.catalog.snapshot().len(), 1, "the claim stays");
    assert!(w.ddb.all_points().is_empty());

    w.ddb.heal("create_point", "orders");
    let retry = w.creator.handle(tick("2026-11-28T03:00:00Z"), now).await.unwrap();
    assert_eq!(retry.resources[0].point, PointOutcome::Created);
    assert_eq!(w.ddb.all_points().len(), 1);
}

#[tokio::test]
async fn one_failing_resource_does_not_stop_the_others() {
    let w = world(PolicyBook::default());
    for name in ["a", "b", "c"] {
        w.rds.add_resource(name, &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    }
    w.rds.fail("create_point", "b");
    let err = w
        .creator
        .handle(tick("2026-11-28T03:00:00Z"), at("2026-11-28T03:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::ResourcesFailed);
    assert!(err.message.contains("rds:b"));
    let made: Vec<_> = w.rds.all_points().into_iter().map(|p| p.resource.name).collect();
    assert_eq!(made, vec!["a", "c"]);
}

#[tokio::test]
async fn a_bad_tag_fails_only_its_resource() {
    let w = world(PolicyBook::default());
    w.rds.add_resource("good", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.add_resource(
        "bad",
        &[(TAG_INSTANCE, "acme"), (TAG_TIMEZONE, "Nowhere/Land")],
        GOOD_PITR,
    );
    let err = w
        .creator
        .handle(tick("2026-11-28T03:00:00Z"), at("2026-11-28T03:00:00Z"))
        .await
        .unwrap_err();
    assert!(err.message.contains("lifeboat:timezone"), "{}", err.message);
    assert_eq!(w.rds.all_points().len(), 1);
}

#[tokio::test]
async fn a_short_quota_takes_the_points_that_fit_and_fails_the_tick_naming_the_rest() {
    let w = world(PolicyBook::default());
    for name in ["a", "b", "c"] {
        w.rds.add_resource(name, &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    }
    w.ddb.add_resource("orders", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.set_quota(Quota {
        name: "RDS ManualSnapshots".into(),
        used: 98,
        max: 100,
    });
    let err = w
        .creator
        .handle(tick("2026-11-28T03:00:00Z"), at("2026-11-28T03:00:00Z"))
        .await
        .unwrap_err();
    // The alarm still fires, and says what was taken and what was not.
    assert_eq!(err.kind, FailureType::QuotaExceeded);
    assert!(err.message.contains("ManualSnapshots"), "{}", err.message);
    assert!(
        err.message.contains("took 2") && err.message.contains("skipped 1: rds:c"),
        "{}",
        err.message
    );
    // Equal in need (hourly, no recent point): the order is by name, so a retry agrees.
    let made: Vec<String> = w
        .rds
        .all_points()
        .iter()
        .map(|p| p.resource.name.clone())
        .collect();
    assert_eq!(made, ["a", "b"], "the points that fit are made");
    assert_eq!(w.ddb.all_points().len(), 1, "other services go on");
    assert!(
        !w.catalog.snapshot().iter().any(|p| p.resource.name == "c"),
        "nothing claimed for the point left out"
    );
}

#[tokio::test]
async fn a_claim_left_without_a_point_takes_a_place_in_a_short_quota() {
    let w = world(PolicyBook::default());
    for name in ["a", "b"] {
        w.rds.add_resource(name, &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    }
    // The first try claims both slots and makes `a`'s point; `b`'s create fails.
    w.rds.fail("create_point", "b");
    let first = "2026-11-28T03:00:00Z";
    assert!(w.creator.handle(tick(first), at(first)).await.is_err());
    w.rds.heal("create_point", "b");
    // The retry: `a` now holds the last place but one; `b`'s claim still asks for a point,
    // and so does a newly tagged `c`: one place for two.
    w.rds.add_resource("c", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.set_quota(Quota {
        name: "RDS ManualSnapshots".into(),
        used: 1,
        max: 2,
    });
    let err = w.creator.handle(tick(first), at(first)).await.unwrap_err();
    assert_eq!(err.kind, FailureType::QuotaExceeded, "{}", err.message);
    assert_eq!(
        w.rds.all_points().len(),
        2,
        "never more points than the quota holds"
    );
}

#[tokio::test]
async fn at_month_end_a_short_quota_gives_the_monthly_point_to_the_resource_most_in_need() {
    let w = world(PolicyBook::default());
    // `x` has two recent points; `y` arrives later and has none.
    w.rds.add_resource("x", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    for hour in ["2026-11-30T21:00:00Z", "2026-11-30T22:00:00Z"] {
        w.creator.handle(tick(hour), at(hour)).await.unwrap();
    }
    w.rds.add_resource("y", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    // The month-end tick needs two monthly points and one fits (an all-or-nothing check
    // made none).
    w.rds.set_quota(Quota {
        name: "RDS ManualSnapshots".into(),
        used: 2,
        max: 3,
    });
    let month_end = "2026-11-30T23:00:00Z";
    let err = w
        .creator
        .handle(tick(month_end), at(month_end))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::QuotaExceeded);
    assert!(err.message.contains("took 1 (1 monthly"), "{}", err.message);
    let at_month_end: Vec<String> = w
        .catalog
        .snapshot()
        .iter()
        // Points claimed: `x`'s reservation of the slot (its tick before reached it) is none.
        .filter(|p| p.slot.start() == at(month_end) && p.state.is_present())
        .map(|p| p.resource.name.clone())
        .collect();
    assert_eq!(at_month_end, ["y"], "the resource without a recent point gets it");
}

#[tokio::test]
async fn a_short_window_is_raised_or_reported_as_the_policy_says_and_a_long_one_kept() {
    let book = PolicyBook::from_json(
        r#"[{"name":"report-only","point_in_time":{"window_days":3,"correct_drift":false},"hourly":{"retention":{"hours":72}}}]"#,
    )
    .unwrap();
    let w = world(book);
    let off = PitrStatus {
        enabled: false,
        window_days: None,
    };
    let fixed = w.ddb.add_resource("orders", &[(TAG_INSTANCE, "acme")], off);
    let watched = w.rds.add_resource(
        "db",
        &[(TAG_INSTANCE, "acme"), (TAG_POLICY, "report-only")],
        PitrStatus {
            enabled: true,
            window_days: Some(1),
        },
    );
    let long = PitrStatus {
        enabled: true,
        window_days: Some(14),
    };
    let kept = w.rds.add_resource("long-db", &[(TAG_INSTANCE, "acme")], long);
    let summary = create(&w, "2026-11-28T03:00:00Z").await;
    let by = |name: &str| {
        summary
            .resources
            .iter()
            .find(|r| r.resource.ends_with(name))
            .unwrap()
            .pitr
    };
    assert_eq!(by("orders"), PitrCheck::DriftCorrected { found: None, set: 3 });
    assert_eq!(
        by(":db"),
        PitrCheck::DriftReported {
            found: Some(1),
            wanted: 3
        }
    );
    assert_eq!(
        by(":long-db"),
        PitrCheck::Exceeds {
            window_days: 14,
            minimum: 3
        }
    );
    assert_eq!(w.ddb.pitr(&fixed), GOOD_PITR);
    assert_eq!(w.rds.pitr(&watched).window_days, Some(1));
    assert_eq!(w.rds.pitr(&kept), long, "recovery history is never shortened");
}

#[tokio::test]
async fn a_malformed_or_future_event_writes_nothing() {
    let w = world(PolicyBook::default());
    w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    let bad = w
        .creator
        .handle(
            json!({"detail-type":"Scheduled Event"}),
            at("2026-11-28T03:00:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(bad.kind, FailureType::InvalidEvent);
    let future = w
        .creator
        .handle(tick("2027-01-01T00:00:00Z"), at("2026-11-28T03:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(future.kind, FailureType::EventFromTheFuture);
    assert!(w.catalog.snapshot().is_empty());
    assert!(w.rds.all_points().is_empty());
    assert!(w.rds.calls().is_empty(), "refused before any call");
}

#[tokio::test]
async fn the_weekly_slot_is_recorded_with_its_tiers() {
    let w = world(PolicyBook::default());
    w.rds.add_resource(
        "db",
        &[(TAG_INSTANCE, "acme"), (TAG_TIMEZONE, "America/New_York")],
        GOOD_PITR,
    );
    // Saturday 2026-11-28 23:00 in New York is 04:00 UTC on Sunday.
    create(&w, "2026-11-29T04:00:00Z").await;
    let records = w.catalog.all_points().await.unwrap();
    assert_eq!(records[0].tiers.names(), vec!["hourly", "weekly"]);
    // As the service answered the creation (the memory service: at once).
    assert_eq!(records[0].state, PointState::Available);
    assert_eq!(
        records[0].service_id.as_deref(),
        Some("lifeboat-db-20261129t0400z")
    );
    assert_eq!(records[0].timezone, "America/New_York");
}

/// A policy whose RDS hourly points are the continuous backup window's.
const LEAN: &str = r#"[{"name": "lean", "point_in_time": {"window_days": 4},
    "hourly": {"retention": {"hours": 72}, "source": "point_in_time"},
    "weekly": {"weekday": "saturday", "hour": 23, "retention": {"months": 1}}}]"#;

#[tokio::test]
async fn an_instance_whose_window_serves_the_hourly_tier_takes_only_weekly_snapshots() {
    let w = world(PolicyBook::from_json(LEAN).unwrap());
    let tags = [(TAG_INSTANCE, "acme"), (TAG_POLICY, "lean")];
    let four_days = PitrStatus {
        enabled: true,
        window_days: Some(4),
    };
    w.rds.add_resource("db", &tags, four_days);
    w.ddb.add_resource("orders", &tags, GOOD_PITR);
    // No place left in the quota: an hour that needs no snapshot does not fail for it.
    let quota = |used| Quota {
        name: "RDS ManualSnapshots".into(),
        used,
        max: 100,
    };
    w.rds.set_quota(quota(100));
    let hour = create(&w, "2026-11-28T03:00:00Z").await;
    let db = hour.resources.iter().find(|r| r.resource == "rds:db").unwrap();
    assert_eq!(db.point, PointOutcome::ServedByWindow);
    assert_eq!(db.pitr, PitrCheck::Ok { window_days: 4 });
    assert!(w.rds.all_points().is_empty(), "no snapshot");
    assert_eq!(w.ddb.all_points().len(), 1, "tables keep their hourly backups");
    w.rds.set_quota(quota(0));
    create(&w, "2026-11-28T23:00:00Z").await;
    let records = w.catalog.points_of(&ResourceKey::rds("db")).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].tiers.names(),
        ["weekly"],
        "kept as long as the weekly tier says"
    );
}

/// A window that is off (or shorter, or raised but not yet applied) serves no hour: the
/// hour gets its snapshot, and the window is raised.
#[tokio::test]
async fn until_its_window_is_there_an_instance_gets_hourly_snapshots() {
    let w = world(PolicyBook::from_json(LEAN).unwrap());
    let off = PitrStatus {
        enabled: false,
        window_days: None,
    };
    w.rds
        .add_resource("db", &[(TAG_INSTANCE, "acme"), (TAG_POLICY, "lean")], off);
    let hour = create(&w, "2026-11-28T03:00:00Z").await;
    let db = &hour.resources[0];
    assert_eq!(db.point, PointOutcome::Created);
    assert_eq!(db.tiers, ["hourly"]);
    assert_eq!(db.pitr, PitrCheck::DriftCorrected { found: None, set: 4 });
    assert_eq!(w.rds.all_points().len(), 1);
}

/// One stage of a fanned-out tick at `time` (see `lifeboat::fanout`).
async fn stage(
    w: &World,
    time: &str,
    stage: Value,
) -> Result<Value, lifeboat_function::failure::FunctionError> {
    let mut payload = stage;
    payload["event"] = tick(time);
    w.creator.invoke(payload, at(time)).await
}

/// The plan, every shard (the first one twice, as a retry would), and the finish.
async fn fan_out(
    w: &World,
    time: &str,
) -> (
    Plan,
    Vec<ShardResult>,
    Result<Value, lifeboat_function::failure::FunctionError>,
) {
    let plan: Plan = serde_json::from_value(stage(w, time, json!({"stage": "plan"})).await.unwrap()).unwrap();
    let mut results = Vec::new();
    for (i, key) in plan.shards.iter().enumerate() {
        let run = || stage(w, time, json!({"stage": "shard", "shard": key}));
        if i == 0 {
            run().await.unwrap();
        }
        results.push(serde_json::from_value::<ShardResult>(run().await.unwrap()).unwrap());
    }
    let finish = stage(
        w,
        time,
        json!({"stage": "finish", "plan": plan, "results": results}),
    )
    .await;
    (plan, results, finish)
}

#[tokio::test]
async fn a_fanned_out_tick_makes_one_point_per_resource_shard_by_shard() {
    let w = world(PolicyBook::default());
    for name in ["a", "b", "c"] {
        w.rds.add_resource(name, &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    }
    for name in ["orders", "events"] {
        w.ddb.add_resource(name, &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    }
    let (plan, results, finish) = fan_out(&w, "2026-11-28T03:00:00Z").await;
    assert_eq!((plan.resources, plan.shards.len(), plan.concurrency), (5, 3, 3));
    assert_eq!(
        results.iter().map(|r| r.resources).collect::<Vec<_>>(),
        vec![2, 2, 1],
        "every resource in exactly one shard"
    );
    assert_eq!(w.rds.all_points().len(), 3);
    assert_eq!(
        w.ddb.all_points().len(),
        2,
        "the retried shard made no second backup"
    );
    let finish = finish.unwrap();
    assert_eq!(finish["totals"]["created"], 3, "{finish}");
    assert_eq!(
        finish["totals"]["already_present"], 2,
        "the retried shard's second try found its two points recorded: {finish}"
    );
}

#[tokio::test]
async fn the_plan_ranks_the_whole_fleet_for_a_short_quota_and_the_finish_fails_naming_it() {
    let w = world(PolicyBook::default());
    for name in ["a", "b", "c"] {
        w.rds.add_resource(name, &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    }
    w.rds.set_quota(Quota {
        name: "RDS ManualSnapshots".into(),
        used: 98,
        max: 100,
    });
    let (plan, results, finish) = fan_out(&w, "2026-11-28T03:00:00Z").await;
    assert!(plan.quota_short);
    assert!(
        plan.failures[0].contains("skipped 1: rds:c"),
        "{:?}",
        plan.failures
    );
    let made: Vec<String> = w
        .rds
        .all_points()
        .iter()
        .map(|p| p.resource.name.clone())
        .collect();
    assert_eq!(
        made,
        ["a", "b"],
        "the shard of c left it out, as the plan ranked it"
    );
    assert_eq!(results[1].counts["refused_by_quota"], 1);
    let err = finish.unwrap_err();
    assert_eq!(err.kind, FailureType::QuotaExceeded);
    assert!(err.message.contains("ManualSnapshots"), "{}", err.message);
}

#[tokio::test]
async fn a_shard_that_failed_or_never_ran_fails_the_finish() {
    let w = world(PolicyBook::default());
    w.rds.add_resource("a", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.fail("create_point", "a");
    let (_, results, finish) = fan_out(&w, "2026-11-28T03:00:00Z").await;
    assert_eq!(results[0].failure_count, 1);
    let err = finish.unwrap_err();
    assert_eq!(err.kind, FailureType::ResourcesFailed);
    assert!(
        err.message.contains("rds:a: creating the point"),
        "{}",
        err.message
    );
    let plan = Plan {
        shards: vec!["s0".into(), "s1".into()],
        ..Plan::default()
    };
    let failed = ShardResult {
        shard: "s0".into(),
        failed: true,
        error: Some("Lambda.Unknown".into()),
        ..ShardResult::default()
    };
    let err = stage(
        &w,
        "2026-11-28T03:00:00Z",
        json!({"stage": "finish", "plan": plan, "results": [failed]}),
    )
    .await
    .unwrap_err();
    assert!(
        err.message.contains("shard s0 failed: Lambda.Unknown"),
        "{}",
        err.message
    );
    assert!(err.message.contains("shard s1 has no result"), "{}", err.message);
}

#[tokio::test]
async fn a_staged_invocation_without_its_bucket_or_fields_is_refused_and_writes_nothing() {
    let mut w = world(PolicyBook::default());
    w.rds.add_resource("a", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    let err = stage(&w, "2026-11-28T03:00:00Z", json!({"stage": "shard"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::InvalidEvent);
    assert!(err.message.contains("`shard`"), "{}", err.message);
    w.creator.shards = None;
    let err = stage(&w, "2026-11-28T03:00:00Z", json!({"stage": "plan"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::Configuration);
    assert!(err.message.contains("LIFEBOAT_REPORTS_BUCKET"), "{}", err.message);
    assert!(w.catalog.snapshot().is_empty());
    assert!(w.rds.all_points().is_empty());
}
