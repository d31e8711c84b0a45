//! Status events end to end: the real intake and executor publish to moto's EventBridge
//! through the edge, the local stack's rule sends them to a FIFO queue, and the tests read
//! the sequence a rollback and a selective restore produce, check each event against its
//! JSON Schema (`infra/events/check_events.py`), and show that a bus that does not exist
//! fails no step and is counted.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat_e2e::*;
use lifeboat_local::names::engineer;
use lifeboat_local::{resources, status_events, LocalStack};
use serde_json::{json, Value};

const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];
const DB: &str = "acme-crm-db";
const TABLE: &str = "acme-orders";

/// What no summary may contain: resources and what the restore made of them, what support
/// wrote (`lifeboat_e2e::file`'s description and context), and who did what.
const NEVER_IN_A_SUMMARY: [&str; 10] = [
    DB,
    TABLE,
    "lbs-",
    "lbf-",
    "lbsafety-",
    "lbpre-",
    "CRM sync",
    "2,000 contacts",
    "Deadline",
    "assumed-role",
];

/// The status events delivered so far, oldest first, once one of `last` has arrived.
async fn events_until(stack: &LocalStack, last: &str) -> Vec<Value> {
    let seen = Mutex::new(Vec::new());
    eventually(&format!("a {last:?} event"), || async {
        let new = status_events::take(stack.sdk_config()).await.ok()?;
        let mut seen = seen.lock().unwrap();
        seen.extend(new);
        seen.iter()
            .any(|e| e["detail-type"] == last)
            .then(|| seen.clone())
    })
    .await
}

/// The first delivery of each event id (a consumer's de-duplication), after checking that
/// every repeat of an id carries the same detail.
fn distinct(events: &[Value]) -> Vec<&Value> {
    let mut first: BTreeMap<&str, &Value> = BTreeMap::new();
    let mut order = Vec::new();
    for e in events {
        let id = e["detail"]["event_id"].as_str().expect("an event_id");
        match first.get(id) {
            Some(earlier) => assert_eq!(
                earlier["detail"], e["detail"],
                "event {id} republished differently"
            ),
            None => {
                first.insert(id, e);
                order.push(e);
            }
        }
    }
    order
}

fn detail_types(events: &[&Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap().to_string())
        .collect()
}

fn ids(events: &[&Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["detail"]["event_id"].as_str().unwrap().to_string())
        .collect()
}

/// Every event is Lifeboat's, about this request of instance `acme`, its summary safe to
/// forward; and it matches its detail-type's schema.
async fn assert_well_formed(events: &[&Value], id: &str) {
    for e in events {
        assert_eq!(e["source"], "lifeboat", "{e}");
        assert_eq!(e["detail"]["request_id"], id, "{e}");
        assert_eq!(e["detail"]["instance_id"], "acme", "{e}");
        let summary = e["detail"]["summary"].as_str().unwrap();
        assert!(summary.to_lowercase().contains("instance acme"), "{summary}");
        for secret in NEVER_IN_A_SUMMARY {
            assert!(!summary.contains(secret), "{secret:?} in the summary {summary:?}");
        }
    }
    let lines: String = events.iter().map(|e| format!("{e}\n")).collect();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/events/check_events.py");
    let out = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(lifeboat_local::moto::python())
            .arg(&script)
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the project's python runs");
        child.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn decide(stack: &LocalStack, id: &str, body: Value) -> String {
    let path = format!("/restore-requests/{id}/decision");
    execution_of(&api_json(stack, &engineer("erin"), "POST", &path, &body).await)
}

/// Production `acme-crm-db`, restorable over the last three days; a request filed for a
/// loss a minute ago and approved to roll it back to five minutes ago, confirmed and run to
/// its end. The request and the target.
async fn rolled_back(stack: &LocalStack) -> (String, DateTime<Utc>) {
    resources::rds_instance(stack, DB, &ACME, 3).await.unwrap();
    let now = Utc::now();
    set_window(stack, &format!("rds:{DB}"), now - TimeDelta::hours(72), now).await;
    let target = (now - TimeDelta::minutes(5))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let id = file(stack, now - TimeDelta::minutes(1)).await;
    let execution = decide(
        stack,
        &id,
        json!({"decision": "approve", "reason": "a mass deletion by an integration", "mode": "rollback",
               "recovery_points": [{"resource": format!("rds:{DB}"), "kind": "point_in_time", "target": target}]}),
    )
    .await;
    confirm(stack, &id).await;
    let end = finished(stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    (id, target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_announces_each_change_in_order_once_per_id() {
    let stack = stack().await;
    let (id, target) = rolled_back(&stack).await;

    let delivered = events_until(&stack, "Restore Completed").await;
    let (progress, events): (Vec<&Value>, Vec<&Value>) = distinct(&delivered)
        .into_iter()
        .partition(|e| e["detail-type"] == "Restore Progress");
    assert_eq!(
        detail_types(&events),
        [
            "Restore Request Filed",
            "Restore Request Decided",
            "Restore Staging Ready",
            "Restore Awaiting Confirmation",
            "Restore Completed"
        ]
    );
    assert_eq!(
        ids(&events),
        [
            format!("{id}:filed"),
            format!("{id}:decided"),
            format!("{id}:staging-ready"),
            format!("{id}:awaiting-confirmation:1"),
            format!("{id}:completed"),
        ]
    );
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e["detail"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["submitted", "approved", "executing", "executing", "completed"]
    );
    let completed = &events[4]["detail"];
    assert_eq!(completed["mode"], "rollback");
    assert_eq!(completed["step"], "finish");
    assert_eq!(
        events[0]["detail"]["progress"],
        Value::Null,
        "nothing runs at filing"
    );
    assert_eq!(
        completed["progress"]["resources"],
        json!([{"resource": format!("rds:{DB}"), "stage": "done", "percent": 100.0}]),
        "{completed}"
    );
    let lost_from: DateTime<Utc> = serde_json::from_value(completed["data_loss"]["from"].clone()).unwrap();
    assert_eq!(lost_from, target, "{completed}");
    // Between the wait and the end, the swap's renames as they went, one event each, at
    // the swap's step and their own time; what RDS waited for (staging and fallback names)
    // stays in the request.
    assert!(!progress.is_empty(), "the renames are announced");
    for e in &progress {
        // From the swap on, what the rollback discards is fixed: production's writes until
        // the swap took its name away.
        assert_eq!(e["detail"]["data_loss"], completed["data_loss"], "{e}");
        let p = &e["detail"]["progress"];
        assert_eq!(p["step"], "swap", "{e}");
        assert_eq!(p["resources"][0]["stage"], "renaming", "{e}");
        assert_eq!(p["resources"][0].get("waiting_for"), None, "{e}");
        assert!(!e["detail"].to_string().contains("lbf-"), "{e}");
    }
    assert!(progress.iter().all(|e| e["detail"]["event_id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{id}:progress:"))));
    assert_well_formed(&events, &id).await;
    assert_well_formed(&progress, &id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selective_restore_announces_each_change_and_loses_nothing() {
    let stack = stack().await;
    resources::dynamodb_table_keyed(&stack, TABLE, Some("sk"), &ACME)
        .await
        .unwrap();
    let put = |sk: &'static str| {
        stack
            .dynamodb()
            .put_item()
            .table_name(TABLE)
            .item("pk", AttributeValue::S("customer#1".into()))
            .item("sk", AttributeValue::S(sk.into()))
            .send()
    };
    for sk in ["1", "2", "3"] {
        put(sk).await.unwrap();
    }
    let slot = hour_before(Utc::now(), 3);
    scheduled_points(&stack, slot).await;
    stack
        .dynamodb()
        .delete_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S("customer#1".into()))
        .key("sk", AttributeValue::S("2".into()))
        .send()
        .await
        .unwrap();
    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let resource = format!("dynamodb:{TABLE}");
    let execution = decide(
        &stack,
        &id,
        json!({"decision": "approve", "reason": "an integration deleted an order", "mode": "selective",
               "recovery_points": [{"resource": resource, "kind": "snapshot", "slot": slot}],
               "selection": [{"resource": resource, "table": TABLE, "missing": true}]}),
    )
    .await;
    confirm(&stack, &id).await;
    assert_eq!(finished(&stack, &execution).await.status, "SUCCEEDED");

    let delivered = events_until(&stack, "Restore Completed").await;
    let (progress, events): (Vec<&Value>, Vec<&Value>) = distinct(&delivered)
        .into_iter()
        .partition(|e| e["detail-type"] == "Restore Progress");
    assert_eq!(
        detail_types(&events),
        [
            "Restore Request Filed",
            "Restore Request Decided",
            "Restore Staging Ready",
            "Restore Awaiting Confirmation",
            "Restore Completed"
        ]
    );
    assert_eq!(ids(&events)[4], format!("{id}:completed"));
    for e in &events[1..] {
        assert_eq!(e["detail"]["mode"], "selective", "{e}");
        assert_eq!(
            e["detail"]["data_loss"],
            Value::Null,
            "a merge discards nothing: {e}"
        );
    }
    assert_well_formed(&events, &id).await;
    assert_well_formed(&progress, &id).await;
}

/// How many status events `function` counted as not published (its metric lines).
fn failed_publishes(stack: &LocalStack, function: &str) -> u64 {
    let log =
        std::fs::read_to_string(stack.config.work_dir.join(format!("{function}.log"))).unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .filter_map(|v| v["StatusEventsFailed"].as_u64())
        .sum()
}

/// The ids of the status events `function` logged as not published.
fn unpublished(stack: &LocalStack, function: &str) -> Vec<String> {
    let log =
        std::fs::read_to_string(stack.config.work_dir.join(format!("{function}.log"))).unwrap_or_default();
    log.lines()
        .filter(|l| l.contains("status event not published"))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            (v["fields"]["event_id"].as_str())
                .or(v["event_id"].as_str())
                .map(str::to_string)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_that_does_not_exist_fails_no_step_and_every_lost_event_is_counted() {
    let stack = stack_with(&[("LIFEBOAT_EVENT_BUS", "no-such-bus")]).await;
    let (id, _) = rolled_back(&stack).await;
    assert_eq!(request(&stack, &id).await["status"], "completed");
    // Filed and decided; staging ready, the wait, the completion, and the swap's progress.
    assert_eq!(failed_publishes(&stack, "restore-intake"), 2);
    let lost = unpublished(&stack, "restore-executor");
    assert_eq!(
        failed_publishes(&stack, "restore-executor"),
        lost.len() as u64,
        "{lost:?}"
    );
    for change in ["staging-ready", "awaiting-confirmation:1", "completed"] {
        assert!(lost.contains(&format!("{id}:{change}")), "{change}: {lost:?}");
    }
    assert!(
        lost.iter().any(|e| e.starts_with(&format!("{id}:progress:"))),
        "the renames' progress: {lost:?}"
    );
    assert_eq!(
        status_events::take(stack.sdk_config()).await.unwrap(),
        Vec::<Value>::new(),
        "nothing reached the default bus"
    );
}
