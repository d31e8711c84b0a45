//! A weekly tier handed on is taken by the next tick that reaches the resource, whatever the
//! tick it was handed to did: never reached the resource, failed in its shard, could not
//! write its own hand-on (see `lifeboat::schedule::late::owing`). Each tick reads the owing
//! index once; a fanned-out tick in its plan only. A weekly slot whose own tick and the next
//! never reach the resource is owed from its reservation, written by the tick before.

use lifeboat::catalog::{PointState, ResourceKey};
use lifeboat::fanout::{Plan, ShardResult};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::policy::{PolicyBook, Tier};
use lifeboat::ports::memory::world::at;

use super::late::{carrying, record, refused, report, slot, SATURDAY, SUNDAY};
use super::*;

/// The hour before the Saturday's weekly slot.
const EVE: &str = "2026-11-28T22:00:00Z";
const ONE: &str = "2026-11-29T01:00:00Z";
const TWO: &str = "2026-11-29T02:00:00Z";

/// Instance `db`, whose Saturday 23:00 point is refused: its weekly tier handed on to
/// Sunday 00:00.
async fn saturday_refused(w: &World) -> ResourceKey {
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.rds.fail("create_point", "db");
    refused(w, SATURDAY).await;
    w.rds.heal("create_point", "db");
    assert_eq!(record(w, &db, SUNDAY).await.unwrap().state, PointState::Due);
    db
}

/// Sunday 00:00's tick, whose discovery fails: it never reaches the instance.
async fn sunday_never_reaches_it(w: &World) {
    w.rds.fail("discover", "*");
    let err = refused(w, SUNDAY).await;
    assert!(err.message.contains("discovery"), "{}", err.message);
    w.rds.heal("discover", "*");
}

fn note_of(record: Option<lifeboat::catalog::RecoveryPoint>) -> String {
    record.and_then(|r| r.note).unwrap_or_default()
}

#[tokio::test]
async fn a_weekly_tier_handed_to_a_tick_that_never_reached_the_resource_is_taken_by_the_next() {
    let w = world(PolicyBook::default());
    let db = saturday_refused(&w).await;
    sunday_never_reaches_it(&w).await;
    assert!(
        w.catalog.owing().contains(&(db.clone(), slot(SUNDAY))),
        "the due stays owing"
    );

    let reads = w.catalog.owing_reads();
    let one = create(&w, ONE).await;
    assert_eq!(w.catalog.owing_reads(), reads + 1, "one read of the index a tick");
    let db_report = report(&one, "rds:db");
    assert_eq!(db_report.tiers, ["hourly", "weekly"]);
    assert_eq!(db_report.late, [(Tier::Weekly, slot(SATURDAY))].into());
    assert!(
        w.rds.calls().contains(&"find_point db".to_string()),
        "the refused attempt's point is looked up first"
    );
    let late = record(&w, &db, ONE).await.unwrap();
    assert_eq!(
        late.tiers.0[&Tier::Weekly],
        at("2026-12-29T01:00:00Z"),
        "a month from the time its data holds"
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(ONE)]);
    // What was owed is discharged, saying where it went; nothing of the instance owes.
    let due = record(&w, &db, SUNDAY).await.unwrap();
    assert_eq!(due.state, PointState::Due);
    assert!(
        note_of(Some(due)).ends_with("; the point of 2026-11-29T01:00:00Z takes on what it owed"),
        "{:?}",
        record(&w, &db, SUNDAY).await
    );
    assert!(w.catalog.owing().is_empty(), "{:?}", w.catalog.owing());

    let two = create(&w, TWO).await;
    assert_eq!(report(&two, "rds:db").tiers, ["hourly"]);
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(ONE)]);
}

#[tokio::test]
async fn a_shard_that_failed_leaves_the_tier_to_the_next_tick_whose_plan_deals_it_to_the_resource() {
    let w = world(PolicyBook::default());
    let orders = w.ddb.add_resource("orders", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.ddb.add_resource("users", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    let db = saturday_refused(&w).await;
    // Sunday 00:00, fanned out: the instance's shard fails after its retries.
    let plan: Plan =
        serde_json::from_value(stage(&w, SUNDAY, json!({"stage": "plan"})).await.unwrap()).unwrap();
    let holds_db = |key: &str| {
        String::from_utf8(w.reports.get(key).unwrap())
            .unwrap()
            .contains("rds:db")
    };
    let mut results = Vec::new();
    for key in &plan.shards {
        if holds_db(key) {
            results.push(ShardResult {
                shard: key.clone(),
                failed: true,
                error: Some("Sandbox.Timedout".into()),
                ..ShardResult::default()
            });
            continue;
        }
        let result = stage(&w, SUNDAY, json!({"stage": "shard", "shard": key})).await;
        results.push(serde_json::from_value(result.unwrap()).unwrap());
    }
    let finish = json!({"stage": "finish", "plan": plan, "results": results});
    assert!(stage(&w, SUNDAY, finish).await.is_err());
    assert_eq!(record(&w, &db, SUNDAY).await.unwrap().state, PointState::Due);

    // 01:00: its plan reads the index and deals the instance's records to its shard alone.
    let reads = w.catalog.owing_reads();
    let plan: Plan = serde_json::from_value(stage(&w, ONE, json!({"stage": "plan"})).await.unwrap()).unwrap();
    assert_eq!(plan.shards.len(), 2);
    for key in &plan.shards {
        let shard: Value = serde_json::from_slice(&w.reports.get(key).unwrap()).unwrap();
        let owing: Vec<&str> = shard["owing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["resource"].as_str().unwrap())
            .collect();
        let expected: &[&str] = if holds_db(key) { &["rds:db", "rds:db"] } else { &[] };
        assert_eq!(owing, expected, "the Saturday's claim and the due, to {key}");
    }
    let mut results = Vec::new();
    for key in &plan.shards {
        let result = stage(&w, ONE, json!({"stage": "shard", "shard": key})).await;
        results.push(serde_json::from_value::<ShardResult>(result.unwrap()).unwrap());
    }
    let finish = json!({"stage": "finish", "plan": plan, "results": results});
    let totals = stage(&w, ONE, finish).await.unwrap();
    assert_eq!(totals["totals"]["taken_late"], 1, "{totals}");
    assert_eq!(w.catalog.owing_reads(), reads + 1, "no shard reads the index");
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(ONE)]);
    assert_eq!(
        carrying(&w, &orders, Tier::Weekly).await,
        [slot(SATURDAY)],
        "the table's weekly point was taken on time, and only then"
    );
    assert!(w.catalog.owing().is_empty(), "{:?}", w.catalog.owing());
}

#[tokio::test]
async fn a_tier_whose_hand_on_could_not_be_written_is_taken_by_the_next_tick() {
    let w = world(PolicyBook::default());
    let db = saturday_refused(&w).await;
    // Sunday 00:00 takes the weekly tier late, is refused too, and cannot hand it on.
    w.rds.fail("create_point", "db");
    w.catalog.fail_writes_of(&db, slot(ONE));
    let err = refused(&w, SUNDAY).await;
    assert!(
        err.message
            .contains("rds:db: handing its weekly and monthly tiers on"),
        "{}",
        err.message
    );
    w.rds.heal("create_point", "db");
    w.catalog.heal_writes();
    assert_eq!(record(&w, &db, ONE).await, None, "nothing was handed on");

    let one = create(&w, ONE).await;
    assert_eq!(
        report(&one, "rds:db").late,
        [(Tier::Weekly, slot(SATURDAY))].into()
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(ONE)]);
    assert!(w.catalog.owing().is_empty(), "{:?}", w.catalog.owing());
}

#[tokio::test]
async fn a_tier_taken_late_whose_owing_record_stayed_undischarged_is_not_taken_again() {
    let w = world(PolicyBook::default());
    let db = saturday_refused(&w).await;
    sunday_never_reaches_it(&w).await;
    // 01:00 takes the weekly tier late; the due of 00:00 cannot be discharged.
    w.catalog.fail_writes_of(&db, slot(SUNDAY));
    let one = create(&w, ONE).await;
    assert_eq!(report(&one, "rds:db").tiers, ["hourly", "weekly"]);
    w.catalog.heal_writes();
    assert_eq!(w.catalog.owing(), [(db.clone(), slot(SUNDAY))]);

    let two = create(&w, TWO).await;
    assert_eq!(
        report(&two, "rds:db").tiers,
        ["hourly"],
        "the point of 01:00 serves the Saturday"
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(ONE)]);
    assert!(w.catalog.owing().is_empty(), "discharged now");
    assert!(note_of(record(&w, &db, SUNDAY).await)
        .ends_with("nothing it owed is owed any more: a point serves it, or its period ended"),);
}

#[tokio::test]
async fn a_due_whose_week_ended_is_discharged_and_its_saturday_stays_missing() {
    let w = world(PolicyBook::default());
    let db = saturday_refused(&w).await;
    // No tick reaches the instance again before the next Saturday's.
    let next = create(&w, "2026-12-05T23:00:00Z").await;
    let own = report(&next, "rds:db");
    assert_eq!(own.tiers, ["hourly", "weekly"], "the new Saturday's own");
    assert!(own.late.is_empty());
    assert_eq!(
        carrying(&w, &db, Tier::Weekly).await,
        [slot("2026-12-05T23:00:00Z")]
    );
    assert!(w.catalog.owing().is_empty(), "{:?}", w.catalog.owing());
    assert!(note_of(record(&w, &db, SUNDAY).await).contains("nothing it owed is owed any more"));
}

#[tokio::test]
async fn a_tick_that_cannot_read_what_is_owed_takes_its_own_points_and_fails_naming_it() {
    let w = world(PolicyBook::default());
    let db = saturday_refused(&w).await;
    sunday_never_reaches_it(&w).await;
    w.catalog.fail_owing_reads(true);
    let err = refused(&w, ONE).await;
    assert_eq!(err.kind, FailureType::ResourcesFailed);
    assert!(
        err.message.contains("reading what earlier ticks left owed"),
        "{}",
        err.message
    );
    assert_eq!(
        record(&w, &db, ONE).await.unwrap().tiers.names(),
        ["hourly"],
        "its own point"
    );
    w.catalog.fail_owing_reads(false);
    let two = create(&w, TWO).await;
    assert_eq!(
        report(&two, "rds:db").late,
        [(Tier::Weekly, slot(SATURDAY))].into()
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(TWO)]);
}

/// The tick at `time`, whose discovery fails: it never reaches any resource.
async fn never_reaches(w: &World, time: &str) {
    w.rds.fail("discover", "*");
    let err = refused(w, time).await;
    assert!(err.message.contains("discovery"), "{}", err.message);
    w.rds.heal("discover", "*");
}

#[tokio::test]
async fn a_saturday_whose_own_tick_and_the_next_never_reached_the_instance_is_owed_from_its_reservation() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    create(&w, EVE).await;
    let reservation = record(&w, &db, SATURDAY).await.unwrap();
    assert_eq!(
        (reservation.state, reservation.tiers.names()),
        (PointState::Due, vec!["weekly"])
    );
    never_reaches(&w, SATURDAY).await;
    never_reaches(&w, SUNDAY).await;
    assert_eq!(
        w.catalog.owing(),
        [(db.clone(), slot(SATURDAY))],
        "the reservation owes"
    );

    let one = create(&w, ONE).await;
    assert_eq!(
        report(&one, "rds:db").late,
        [(Tier::Weekly, slot(SATURDAY))].into()
    );
    assert!(
        !w.rds.calls().contains(&"find_point db".to_string()),
        "no earlier attempt to look up: the point of 22:00 cannot serve the Saturday"
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(ONE)]);
    assert_eq!(
        record(&w, &db, ONE).await.unwrap().tiers.0[&Tier::Weekly],
        at("2026-12-29T01:00:00Z"),
        "a month from the time its data holds"
    );
    assert!(
        note_of(record(&w, &db, SATURDAY).await)
            .ends_with("; the point of 2026-11-29T01:00:00Z takes on what it owed"),
        "{:?}",
        record(&w, &db, SATURDAY).await
    );
    assert!(w.catalog.owing().is_empty(), "{:?}", w.catalog.owing());
}

#[tokio::test]
async fn a_saturday_taken_on_time_replaces_its_reservation_and_leaves_nothing_owing() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    for time in [EVE, SATURDAY, SUNDAY] {
        create(&w, time).await;
    }
    let saturday = record(&w, &db, SATURDAY).await.unwrap();
    assert_eq!(
        (saturday.state, saturday.tiers.names()),
        (PointState::Available, vec!["hourly", "weekly"])
    );
    assert_eq!(carrying(&w, &db, Tier::Weekly).await, [slot(SATURDAY)]);
    assert!(w.catalog.owing().is_empty(), "{:?}", w.catalog.owing());
}

#[tokio::test]
async fn a_reservation_that_cannot_be_written_fails_the_tick_naming_it_and_takes_the_point() {
    let w = world(PolicyBook::default());
    let db = w.rds.add_resource("db", &[(TAG_INSTANCE, "acme")], GOOD_PITR);
    w.catalog.fail_writes_of(&db, slot(SATURDAY));
    let err = refused(&w, EVE).await;
    w.catalog.heal_writes();
    assert!(
        err.message
            .contains("rds:db: reserving its next weekly or monthly slot"),
        "{}",
        err.message
    );
    assert_eq!(record(&w, &db, SATURDAY).await, None);
    assert_eq!(
        record(&w, &db, EVE).await.unwrap().state,
        PointState::Available,
        "its own point is taken"
    );
}
