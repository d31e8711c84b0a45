//! A weekly point whose slot was refused, taken late by the next tick, on the local stack:
//! ticks through the creator's fleet-tick state machine, RDS refusing the Saturday 23:00
//! `CreateDBSnapshot` once (an instance busy in its maintenance window), the pruner's
//! reconciliation, and the audit that shows the week's point as late, not missing.

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
    let audit_at = at("2026-11-29T03:10:00Z");
    set_window(
        &stack,
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
    let day: Value =
        serde_json::from_slice(&reports_object(&stack, "audits/2026-11-29/report.json").await).unwrap();
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
