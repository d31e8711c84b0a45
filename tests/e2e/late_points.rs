//! A weekly point whose slot was refused, taken late by the next tick, on the local stack:
//! ticks through the creator's fleet-tick state machine, RDS refusing the Saturday 23:00
//! `CreateDBSnapshot` once (an instance busy in its maintenance window), the pruner's
//! reconciliation, and the audit that shows the week's point as late, not missing. Also when
//! the ticks after the refusal fail too (a discovery refused, a shard failing, a hand-on's
//! write refused): the catalog's owing index keeps what is owed for the next tick that
//! reaches the instance. And when the Saturday's own tick and the next both never reach the
//! instance: the tick before reserved the slot.

use chrono::TimeDelta;
use lifeboat::catalog::PointState;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::policy::Tier;
use lifeboat::schedule::Slot;
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::CATALOG_TABLE;
use lifeboat_local::stack::Invocation;
use lifeboat_local::{fleet_tick, resources, LocalStack};
use serde_json::{json, Value};

const AUDIT: &str = "recovery-audit";
const SATURDAY: &str = "2026-11-28T23:00:00Z";
const SUNDAY: &str = "2026-11-29T00:00:00Z";

/// The creator's tick at `time` through its fleet-tick state machine, as the schedule runs it.
async fn fanned_out(stack: &LocalStack, time: &str) -> Invocation {
    fleet_tick::run(stack, CREATOR, &event(CREATOR, time))
        .await
        .expect("the execution ends")
}

async fn succeeded(stack: &LocalStack, time: &str) -> Value {
    match fanned_out(stack, time).await {
        Invocation::Succeeded(output) => output,
        failed => panic!("the creator's tick at {time} failed: {failed:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturday_snapshot_refused_once_is_taken_late_and_the_audit_shows_it_late() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    for time in ["2026-11-28T21:00:00Z", "2026-11-28T22:00:00Z"] {
        succeeded(&stack, time).await;
    }
    stack.edge.faults.add(
        FaultRule::on("rds", "CreateDBSnapshot")
            .times(1)
            .refuse("InvalidDBInstanceState"),
    );
    match fanned_out(&stack, SATURDAY).await {
        Invocation::Failed { error_type, message } => {
            assert_eq!(error_type, "ResourcesFailed", "{message}");
            assert!(message.contains("InvalidDBInstanceState"), "{message}");
        }
        ok => panic!("the refused tick must fail: {ok:?}"),
    }
    tick(&stack, PRUNER, "2026-11-28T23:30:00Z").await;

    let sunday = succeeded(&stack, SUNDAY).await;
    assert_eq!(sunday["totals"]["taken_late"], 1, "{sunday}");
    tick(&stack, PRUNER, "2026-11-29T00:30:00Z").await;
    succeeded(&stack, "2026-11-29T01:00:00Z").await;
    assert_eq!(
        rds_snapshots(&stack).await,
        [
            "lifeboat-db-20261128t2100z",
            "lifeboat-db-20261128t2200z",
            "lifeboat-db-20261129t0000z",
            "lifeboat-db-20261129t0100z",
        ]
    );
    let records = catalog(&stack).await;
    let at_slot = |t: &str| {
        records
            .iter()
            .find(|r| r.slot == Slot::containing(at(t)))
            .unwrap()
            .clone()
    };
    let late = at_slot(SUNDAY);
    assert_eq!(late.state, PointState::Available);
    assert_eq!(late.tiers.names(), ["hourly", "weekly"]);
    assert_eq!(late.tiers.0[&Tier::Weekly], at("2026-12-29T00:00:00Z"));
    assert_eq!(
        at_slot(SATURDAY).state,
        PointState::Missing,
        "the refused claim, found missing by the pruner"
    );
    assert_eq!(at_slot("2026-11-29T01:00:00Z").tiers.names(), ["hourly"]);

    // The pruner's full reconciliation sees the late point as the point of its own slot.
    let report = tick_with(
        &stack,
        PRUNER,
        "2026-11-29T01:30:00Z",
        json!({"reconcile_all": true}),
    )
    .await;
    let actions: Vec<&str> = report["reconciliation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.iter().all(|a| *a == "synced"),
        "nothing adopted, vanished or deleted: {report}"
    );

    // The audit the morning after: the Saturday's weekly point is covered, late.
    let day = sunday_morning_audit(&stack).await;
    let acme = &day["instances"][0];
    let tiers = acme["resources"][0]["tiers"].as_array().unwrap();
    let weekly = tiers.iter().find(|t| t["tier"] == "weekly").unwrap();
    assert_eq!(
        (&weekly["promised"], &weekly["restorable"]),
        (&json!(1), &json!(1))
    );
    assert_eq!(weekly["missing"], json!([]));
    assert_eq!(
        weekly["late"],
        json!([{"slot": SATURDAY, "taken": SUNDAY}]),
        "{weekly}"
    );
    let hourly = tiers.iter().find(|t| t["tier"] == "hourly").unwrap();
    assert_eq!(
        hourly["missing"],
        json!([SATURDAY]),
        "the hourly point of 23:00 is not taken late: its tier's period is the hour"
    );
    let notes = acme["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{acme}");
    assert!(
        notes[0]["what"].as_str().unwrap().starts_with(
            "the weekly point of 2026-11-28T23:00:00Z was taken late, at 2026-11-29T00:00:00Z (1 hour"
        ),
        "{}",
        notes[0]
    );
    let findings: Vec<&str> = acme["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["what"].as_str().unwrap())
        .collect();
    assert!(
        findings.iter().all(|f| !f.contains("weekly")),
        "no weekly point is missing: {findings:?}"
    );
    let page = String::from_utf8(reports_object(&stack, "audits/2026-11-29/report.html").await).unwrap();
    assert!(
        page.contains(
            r#"<line class="late weekly" data-slot="2026-11-28T23:00:00Z" data-taken="2026-11-29T00:00:00Z""#
        ),
        "the slot's tick on the timeline"
    );
    assert!(page.contains(r#"<circle class="point weekly late restorable" data-slot="2026-11-29T00:00:00Z""#));
    assert!(!page.contains(r#"class="missing weekly""#));
    assert!(page.contains(r#"<li class="note">"#));

    // A catalog that lost the late point's record adopts it back from the snapshot's tags,
    // with its weekly tier and expiry.
    stack
        .dynamodb()
        .delete_item()
        .table_name(CATALOG_TABLE)
        .key(
            "resource",
            aws_sdk_dynamodb::types::AttributeValue::S("rds:db".into()),
        )
        .key("slot", aws_sdk_dynamodb::types::AttributeValue::S(SUNDAY.into()))
        .send()
        .await
        .unwrap();
    let report = tick_with(
        &stack,
        PRUNER,
        "2026-11-29T02:30:00Z",
        json!({"reconcile_all": true}),
    )
    .await;
    assert!(
        report["reconciliation"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "adopted" && r["slot"] == SUNDAY),
        "{report}"
    );
    let adopted = catalog(&stack)
        .await
        .into_iter()
        .find(|r| r.slot == Slot::containing(at(SUNDAY)))
        .unwrap();
    assert!(adopted.tiers.contains(Tier::Weekly), "{adopted:?}");
    assert!(adopted.tiers.0[&Tier::Weekly] >= at("2026-12-29T00:00:00Z"));
}

/// The tick `time` through the state machine, which must fail with `message` in its error.
async fn failed_with(stack: &LocalStack, time: &str, message: &str) {
    match fanned_out(stack, time).await {
        Invocation::Failed { message: m, .. } => assert!(m.contains(message), "{time}: {m}"),
        ok => panic!("the tick at {time} must fail: {ok:?}"),
    }
}

/// The catalog's owing index, as the creator reads it for a tick at `time`.
async fn owing_at(stack: &LocalStack, time: &str) -> Vec<(String, String)> {
    use lifeboat::ports::Catalog;
    let (from, to) = lifeboat::schedule::late::owing::window(Slot::containing(at(time)));
    lifeboat_aws::CatalogTable::new(stack.dynamodb(), CATALOG_TABLE)
        .owing_between(from, to)
        .await
        .expect("the owing index reads")
        .into_iter()
        .map(|r| (r.resource.to_string(), r.slot.to_string()))
        .collect()
}

/// The creator's queries of the catalog since the ledger was cleared.
fn creator_queries(stack: &LocalStack) -> usize {
    calls_by(stack, CREATOR)
        .iter()
        .filter(|c| c.operation == "Query")
        .count()
}

/// The reviewer's probe: Saturday 23:00 refused, its weekly tier handed on to Sunday 00:00,
/// whose tick fails in discovery and never reaches the instance. The 01:00 tick takes the
/// weekly point, late; 02:00 takes an hourly one only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_tier_handed_to_a_tick_that_never_reached_the_instance_is_taken_by_the_next() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    for time in ["2026-11-28T21:00:00Z", "2026-11-28T22:00:00Z"] {
        succeeded(&stack, time).await;
    }
    stack.edge.faults.add(
        FaultRule::on("rds", "CreateDBSnapshot")
            .times(1)
            .refuse("InvalidDBInstanceState"),
    );
    failed_with(&stack, SATURDAY, "InvalidDBInstanceState").await;
    refuse_discovery(&stack);
    failed_with(&stack, SUNDAY, "discovery").await;
    stack.edge.faults.clear();

    let one = succeeded(&stack, "2026-11-29T01:00:00Z").await;
    assert_eq!(one["totals"]["taken_late"], 1, "{one}");
    let two = succeeded(&stack, "2026-11-29T02:00:00Z").await;
    assert_eq!(two["totals"]["taken_late"].as_u64().unwrap_or(0), 0, "{two}");
    let records = catalog(&stack).await;
    let at_slot = |t: &str| {
        records
            .iter()
            .find(|r| r.slot == Slot::containing(at(t)))
            .unwrap()
            .clone()
    };
    let late = at_slot("2026-11-29T01:00:00Z");
    assert_eq!(late.tiers.names(), ["hourly", "weekly"]);
    assert_eq!(late.tiers.0[&Tier::Weekly], at("2026-12-29T01:00:00Z"));
    assert_eq!(at_slot("2026-11-29T02:00:00Z").tiers.names(), ["hourly"]);
    assert_eq!(at_slot(SUNDAY).state, PointState::Due, "never claimed");
    assert!(owing_at(&stack, "2026-11-29T03:00:00Z").await.is_empty());
    assert_eq!(
        rds_snapshots(&stack).await,
        [
            "lifeboat-db-20261128t2100z",
            "lifeboat-db-20261128t2200z",
            "lifeboat-db-20261129t0100z",
            "lifeboat-db-20261129t0200z",
        ]
    );
}

/// The creator's discovery refused: its ticks never reach a resource.
fn refuse_discovery(stack: &LocalStack) {
    stack.edge.faults.add(
        FaultRule::on("rds", "DescribeDBInstances")
            .by(CREATOR)
            .refuse("InternalFailure"),
    );
    stack.edge.faults.add(
        FaultRule::on_operation("GetResources")
            .by(CREATOR)
            .refuse("InternalFailure"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weekly_tier_handed_on_survives_every_later_tick_failing_until_one_reaches_the_instance() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    for time in ["2026-11-28T21:00:00Z", "2026-11-28T22:00:00Z"] {
        succeeded(&stack, time).await;
    }
    // Saturday 23:00: the snapshot is refused; the weekly tier is handed on to 00:00.
    stack.edge.faults.add(
        FaultRule::on("rds", "CreateDBSnapshot")
            .times(1)
            .refuse("InvalidDBInstanceState"),
    );
    failed_with(&stack, SATURDAY, "InvalidDBInstanceState").await;
    // Sunday 00:00: the discovery is refused, so the tick never reaches the instance.
    refuse_discovery(&stack);
    failed_with(&stack, SUNDAY, "discovery").await;
    stack.edge.faults.clear();
    assert_eq!(
        owing_at(&stack, "2026-11-29T01:00:00Z").await,
        [
            ("rds:db".to_string(), SATURDAY.to_string()),
            ("rds:db".to_string(), SUNDAY.to_string())
        ],
        "the refused claim and the due left for the next tick"
    );
    // 01:00: the instance's shard cannot read its object and fails after its retries.
    stack.edge.faults.add(
        FaultRule::on("s3", "GetObject")
            .by(CREATOR)
            .refuse("AccessDenied"),
    );
    failed_with(&stack, "2026-11-29T01:00:00Z", "failed").await;
    stack.edge.faults.clear();
    // 02:00 takes the tier on, is refused too, and its hand-on's write is refused (the
    // claim is the tick's first PutItem, the hand-on its second).
    stack.edge.faults.add(
        FaultRule::on("rds", "CreateDBSnapshot")
            .times(1)
            .refuse("InvalidDBInstanceState"),
    );
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "PutItem")
            .by(CREATOR)
            .skip(1)
            .times(1)
            .refuse("AccessDeniedException"),
    );
    failed_with(
        &stack,
        "2026-11-29T02:00:00Z",
        "handing its weekly and monthly tiers on",
    )
    .await;
    stack.edge.faults.clear();
    assert_eq!(
        owing_at(&stack, "2026-11-29T03:00:00Z").await,
        [("rds:db".to_string(), "2026-11-29T02:00:00Z".to_string())],
        "what 00:00 owed, carried by the claim of 02:00; nothing handed on to 03:00"
    );

    // 03:00 reaches the instance and takes the Saturday's weekly point, late.
    stack.edge.ledger.clear();
    let three = succeeded(&stack, "2026-11-29T03:00:00Z").await;
    assert_eq!(three["totals"]["taken_late"], 1, "{three}");
    assert_eq!(
        creator_queries(&stack),
        2,
        "the owing index once, and the present points of the one instance that owes"
    );
    let records = catalog(&stack).await;
    let at_slot = |t: &str| {
        records
            .iter()
            .find(|r| r.slot == Slot::containing(at(t)))
            .unwrap()
            .clone()
    };
    let late = at_slot("2026-11-29T03:00:00Z");
    assert_eq!(late.tiers.names(), ["hourly", "weekly"]);
    assert_eq!(late.tiers.0[&Tier::Weekly], at("2026-12-29T03:00:00Z"));
    assert_eq!(at_slot(SUNDAY).state, PointState::Due, "never claimed");
    assert!(at_slot(SUNDAY)
        .note
        .unwrap()
        .ends_with("; the point of 2026-11-29T02:00:00Z takes on what it owed"),);
    assert!(owing_at(&stack, "2026-11-29T04:00:00Z").await.is_empty());

    stack.edge.ledger.clear();
    succeeded(&stack, "2026-11-29T04:00:00Z").await;
    assert_eq!(creator_queries(&stack), 1, "nothing owed: one query a tick");
    assert_eq!(
        rds_snapshots(&stack).await,
        [
            "lifeboat-db-20261128t2100z",
            "lifeboat-db-20261128t2200z",
            "lifeboat-db-20261129t0300z",
            "lifeboat-db-20261129t0400z",
        ],
        "one weekly point for the Saturday, at 03:00"
    );
    assert_eq!(
        catalog(&stack)
            .await
            .iter()
            .filter(|r| r.tiers.contains(Tier::Weekly) && r.service_id.is_some())
            .map(|r| r.slot.to_string())
            .collect::<Vec<_>>(),
        ["2026-11-29T03:00:00Z"]
    );
}

/// Saturday 23:00's tick and Sunday 00:00's both fail in discovery: neither reaches the
/// instance, so nothing is handed on, and from 01:00 no tick reads the Saturday's slot. The
/// 22:00 tick reserved it: the 01:00 tick, the first to reach the instance, owes the weekly
/// point from the owing index, takes it late, and the audit shows it late, not missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saturday_whose_own_tick_and_the_next_fail_in_discovery_is_taken_late_from_its_reservation() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    for time in ["2026-11-28T21:00:00Z", "2026-11-28T22:00:00Z"] {
        succeeded(&stack, time).await;
    }
    refuse_discovery(&stack);
    failed_with(&stack, SATURDAY, "discovery").await;
    failed_with(&stack, SUNDAY, "discovery").await;
    stack.edge.faults.clear();
    assert_eq!(
        owing_at(&stack, "2026-11-29T01:00:00Z").await,
        [("rds:db".to_string(), SATURDAY.to_string())],
        "the Saturday's reservation, never claimed"
    );

    let one = succeeded(&stack, "2026-11-29T01:00:00Z").await;
    assert_eq!(one["totals"]["taken_late"], 1, "{one}");
    let two = succeeded(&stack, "2026-11-29T02:00:00Z").await;
    assert_eq!(two["totals"]["taken_late"].as_u64().unwrap_or(0), 0, "{two}");
    let records = catalog(&stack).await;
    let at_slot = |t: &str| {
        records
            .iter()
            .find(|r| r.slot == Slot::containing(at(t)))
            .unwrap()
            .clone()
    };
    let late = at_slot("2026-11-29T01:00:00Z");
    assert_eq!(late.tiers.names(), ["hourly", "weekly"]);
    assert_eq!(late.tiers.0[&Tier::Weekly], at("2026-12-29T01:00:00Z"));
    let reservation = at_slot(SATURDAY);
    assert_eq!(reservation.state, PointState::Due, "never claimed");
    assert!(
        reservation
            .note
            .as_deref()
            .unwrap_or_default()
            .ends_with("; the point of 2026-11-29T01:00:00Z takes on what it owed"),
        "{reservation:?}"
    );
    assert!(owing_at(&stack, "2026-11-29T03:00:00Z").await.is_empty());
    assert_eq!(
        rds_snapshots(&stack).await,
        [
            "lifeboat-db-20261128t2100z",
            "lifeboat-db-20261128t2200z",
            "lifeboat-db-20261129t0100z",
            "lifeboat-db-20261129t0200z",
        ],
        "one weekly point for the Saturday, at 01:00"
    );

    let day = sunday_morning_audit(&stack).await;
    let tiers = day["instances"][0]["resources"][0]["tiers"].as_array().unwrap();
    let weekly = tiers.iter().find(|t| t["tier"] == "weekly").unwrap();
    assert_eq!(weekly["missing"], json!([]), "{weekly}");
    assert_eq!(
        weekly["late"],
        json!([{"slot": SATURDAY, "taken": "2026-11-29T01:00:00Z"}]),
        "{weekly}"
    );
}

/// The audit of Sunday 03:10, the morning after the Saturday, and its day's report.
async fn sunday_morning_audit(stack: &LocalStack) -> Value {
    let audit_at = at("2026-11-29T03:10:00Z");
    set_window(
        stack,
        "rds:db",
        audit_at - TimeDelta::days(3),
        audit_at - TimeDelta::minutes(5),
    )
    .await;
    let mut audit_event = event(PRUNER, &audit_at.to_rfc3339());
    audit_event["detail"] = json!({});
    match stack.invoke(AUDIT, &audit_event).await.unwrap() {
        Invocation::Succeeded(_) => {}
        failed => panic!("the audit failed: {failed:?}"),
    }
    serde_json::from_slice(&reports_object(stack, "audits/2026-11-29/report.json").await).unwrap()
}
