//! The restore-request API end to end: HTTP through the local stack's API front, the real
//! restore-intake binary, DynamoDB and Step Functions in moto, windows set at the edge.

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use lifeboat::catalog::ResourceKey;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::ports::RequestStore;
use lifeboat::ports::{Catalog, FailureKind};
use lifeboat::schedule::Slot;
use lifeboat_aws::{CatalogTable, RequestsTable};
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::{FaultAction, FaultRule};
use lifeboat_local::names::CATALOG_TABLE;
use lifeboat_local::names::{engineer, support, REQUESTS_TABLE};
use lifeboat_local::resources;
use lifeboat_local::restore_setup::state_machine_arn;
use lifeboat_local::LocalStack;
use serde_json::{json, Value};

const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];
const BOTH: &str = "arn:aws:iam::123456789012:user/pat-both";
const STRANGER: &str = "arn:aws:sts::123456789012:assumed-role/marketing/max";

fn filing(cause: &str, occurred_at: DateTime<Utc>, description: &str, estimated: Option<u64>) -> Value {
    let mut affected = json!({"objects": ["contacts"], "areas": ["CRM"]});
    if let Some(n) = estimated {
        affected["estimated_records"] = json!(n);
    }
    json!({
        "instance_id": "acme",
        "description": description,
        "occurred_at": occurred_at,
        "affected": affected,
        "business_context": "Application deadline on Monday.",
        "cause": cause
    })
}

fn mass_deletion(occurred_at: DateTime<Utc>) -> Value {
    filing(
        "integration_mass_deletion",
        occurred_at,
        "The customer's CRM sync deleted 2,000 contacts in twenty minutes.",
        Some(2000),
    )
}

fn approve() -> Value {
    json!({"decision": "approve", "reason": "an integration's unintended mass deletion", "mode": "rollback"})
}

/// Instance acme: RDS `db` and DynamoDB `orders`, both with point-in-time recovery on.
async fn acme(stack: &LocalStack) {
    resources::rds_instance(stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(stack, "orders", &ACME).await.unwrap();
    let spec = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .recovery_period_in_days(3)
        .build()
        .unwrap();
    stack
        .dynamodb()
        .update_continuous_backups()
        .table_name("orders")
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .unwrap();
}

async fn file(stack: &LocalStack, body: &Value) -> Value {
    let answer = api_json(stack, &support("sam"), "POST", "/restore-requests", body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

async fn requests_in_table(stack: &LocalStack) -> i32 {
    stack
        .dynamodb()
        .scan()
        .table_name(REQUESTS_TABLE)
        .send()
        .await
        .unwrap()
        .count()
}

/// The latest Saturday 23:00 UTC at least `days` days before `now`.
fn saturday_before(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let mut t = (now - TimeDelta::days(days))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    while !(t.weekday() == Weekday::Sat && t.hour() == 23) {
        t -= TimeDelta::hours(1);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filing_reading_listing_and_triage_of_each_policy_example() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    for resource in ["rds:db", "dynamodb:orders"] {
        set_window(&stack, resource, now - TimeDelta::hours(72), now).await;
    }
    let occurred = now - TimeDelta::hours(3);
    let examples = [
        (
            "infrastructure_failure",
            "A storage failure lost the morning's writes.",
            None,
            "likely_qualifies",
        ),
        (
            "integration_mass_deletion",
            "The CRM sync deleted 2,000 contacts.",
            Some(2000),
            "likely_qualifies",
        ),
        (
            "user_edit",
            "A counselor overwrote one student's address.",
            Some(1),
            "likely_not",
        ),
        (
            "workflow_as_configured",
            "An automation archived leads as it was set up to.",
            Some(300),
            "likely_not",
        ),
        (
            "standard_product_deletion",
            "An admin deleted a segment of contacts.",
            Some(80),
            "likely_not",
        ),
        (
            "configuration_change",
            "Someone changed the application form's fields.",
            None,
            "likely_not",
        ),
    ];
    let mut ids = Vec::new();
    for (cause, description, estimated, verdict) in examples {
        let body = file(&stack, &filing(cause, occurred, description, estimated)).await;
        assert_eq!(body["triage"]["verdict"], verdict, "{cause}: {}", body["triage"]);
        assert!(!body["triage"]["reasons"].as_array().unwrap().is_empty());
        ids.push(body["id"].as_str().unwrap().to_string());
    }

    // Inside the 72-hour window every resource is served by a point-in-time restore.
    let first = api_json(
        &stack,
        &engineer("erin"),
        "GET",
        &format!("/restore-requests/{}", ids[0]),
        &Value::Null,
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["status"], "submitted");
    assert_eq!(first.body["submitted_by"], support("sam"));
    let options = first.body["recovery_options"].as_array().unwrap();
    let resources: Vec<&str> = options.iter().map(|o| o["resource"].as_str().unwrap()).collect();
    assert_eq!(resources, vec!["rds:db", "dynamodb:orders"]);
    for option in options {
        assert_eq!(option["source"]["kind"], "point_in_time", "{option}");
        let target: DateTime<Utc> = option["restores_to"].as_str().unwrap().parse().unwrap();
        assert!(
            target < occurred && occurred - target <= TimeDelta::minutes(5) + TimeDelta::seconds(1),
            "{option}"
        );
        assert!(option["data_loss"]["seconds"].as_i64().unwrap() >= 3 * 3600);
    }
    assert_eq!(first.body["history"][0]["to"], "submitted");

    let all = api_json(
        &stack,
        &support("sue"),
        "GET",
        "/restore-requests?instance_id=acme",
        &Value::Null,
    )
    .await;
    assert_eq!(all.body["restore_requests"].as_array().unwrap().len(), 6);
    let approved = api_json(
        &stack,
        &support("sue"),
        "GET",
        "/restore-requests?instance_id=acme&status=approved",
        &Value::Null,
    )
    .await;
    assert_eq!(approved.body["restore_requests"], json!([]));
    let other = api_json(
        &stack,
        &support("sue"),
        "GET",
        "/restore-requests?instance_id=globex",
        &Value::Null,
    )
    .await;
    assert_eq!(other.body["restore_requests"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_window_a_held_snapshot_serves_and_the_pruner_keeps_it_until_rejection() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    let now = Utc::now();
    let saturday = saturday_before(now, 5);
    for hours in [-1, 0, 1] {
        let t = saturday + TimeDelta::hours(hours);
        tick(&stack, CREATOR, &t.to_rfc3339()).await;
    }
    // Reconciled: the points are recorded available.
    tick(&stack, PRUNER, &(saturday + TimeDelta::minutes(90)).to_rfc3339()).await;

    // Lost half an hour after the weekly point: more than 72 hours ago, so no point-in-time
    // restore can reach it, and the weekly snapshot is the latest point before the loss.
    let body = file(&stack, &mass_deletion(saturday + TimeDelta::minutes(30))).await;
    let id = body["id"].as_str().unwrap().to_string();
    let option = &body["recovery_options"][0];
    assert_eq!(option["source"]["kind"], "snapshot", "{option}");
    assert_eq!(
        option["restores_to"],
        json!(saturday.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    assert!(option["source"]["tiers"]
        .as_array()
        .unwrap()
        .contains(&json!("weekly")));
    let held = Slot::containing(saturday);
    let catalog_table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let records = catalog_table.points_of(&ResourceKey::rds("db")).await.unwrap();
    assert!(records
        .iter()
        .find(|r| r.slot == held)
        .unwrap()
        .holds
        .contains(&id));

    // Forty days on, the weekly tier has expired: the hold keeps the point, the other
    // expired point goes, the newest stays.
    let later = saturday + TimeDelta::days(40);
    tick(&stack, PRUNER, &later.to_rfc3339()).await;
    let names = rds_snapshots(&stack).await;
    let name = |t: DateTime<Utc>| ResourceKey::rds("db").point_name(Slot::containing(t));
    assert_eq!(names, vec![name(saturday), name(saturday + TimeDelta::hours(1))]);

    let reject = json!({"decision": "reject", "reason": "recoverable from the CRM's own history"});
    let answer = api_json(
        &stack,
        &engineer("erin"),
        "POST",
        &format!("/restore-requests/{id}/decision"),
        &reject,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "rejected");
    let records = catalog_table.points_of(&ResourceKey::rds("db")).await.unwrap();
    assert!(records.iter().find(|r| r.slot == held).unwrap().holds.is_empty());
    tick(&stack, PRUNER, &(later + TimeDelta::hours(1)).to_rfc3339()).await;
    assert_eq!(
        rds_snapshots(&stack).await,
        vec![name(saturday + TimeDelta::hours(1))]
    );

    // A loss older than the oldest point the policy keeps: nothing can serve it.
    let old = api_json(
        &stack,
        &support("sam"),
        "POST",
        "/restore-requests",
        &mass_deletion(now - TimeDelta::days(400)),
    )
    .await;
    assert_eq!(old.status, 422, "{}", old.body);
    assert_eq!(old.body["errors"][0]["field"], "occurred_at");
    assert!(old.body["detail"]
        .as_str()
        .unwrap()
        .contains("no backup can serve it"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what() {
    let support_list = format!("{},{BOTH}", lifeboat_local::names::SUPPORT_ROLE);
    let engineering_list = format!("{},{BOTH}", lifeboat_local::names::ENGINEERING_ROLE);
    let stack = stack_with(&[
        ("LIFEBOAT_SUPPORT_PRINCIPALS", &support_list),
        ("LIFEBOAT_ENGINEERING_PRINCIPALS", &engineering_list),
    ])
    .await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let body = mass_deletion(now - TimeDelta::hours(2));
    let id = file(&stack, &body).await["id"].as_str().unwrap().to_string();
    let get = format!("/restore-requests/{id}");
    let decide = format!("/restore-requests/{id}/decision");
    let cancel = format!("/restore-requests/{id}/cancel");
    let confirm = format!("/restore-requests/{id}/confirm");

    let unsigned = api(&stack, None, "GET", &get, b"", None).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.content_type, "application/problem+json");
    for (method, path, body) in [
        ("GET", get.as_str(), Value::Null),
        ("GET", "/restore-requests?instance_id=acme", Value::Null),
        ("POST", "/restore-requests", body.clone()),
        ("POST", decide.as_str(), approve()),
        ("POST", cancel.as_str(), Value::Null),
        ("POST", confirm.as_str(), Value::Null),
    ] {
        let answer = api_json(&stack, STRANGER, method, path, &body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
    }
    assert_eq!(
        api_json(&stack, &engineer("erin"), "POST", "/restore-requests", &body)
            .await
            .status,
        403
    );
    assert_eq!(
        api_json(&stack, &support("sue"), "POST", &decide, &approve())
            .await
            .status,
        403
    );
    assert_eq!(
        api_json(&stack, &support("sue"), "POST", &confirm, &Value::Null)
            .await
            .status,
        403
    );
    assert_eq!(
        api_json(&stack, &engineer("erin"), "GET", &get, &Value::Null)
            .await
            .status,
        200
    );

    // Someone who is both may file, and may not decide what they filed.
    let own = api_json(&stack, BOTH, "POST", "/restore-requests", &body).await;
    assert_eq!(own.status, 201, "{}", own.body);
    let own_decide = format!("/restore-requests/{}/decision", own.body["id"].as_str().unwrap());
    let refused = api_json(&stack, BOTH, "POST", &own_decide, &approve()).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("filed this request"));
    // Nothing refused changed anything: both requests are still submitted.
    let listed = api_json(
        &stack,
        &support("sam"),
        "GET",
        "/restore-requests?instance_id=acme&status=submitted",
        &Value::Null,
    )
    .await;
    assert_eq!(listed.body["restore_requests"].as_array().unwrap().len(), 2);
    // Support cancels.
    let cancelled = api_json(
        &stack,
        &support("sue"),
        "POST",
        &cancel,
        &json!({"reason": "the customer found the records"}),
    )
    .await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].clone()),
        (200, json!("cancelled"))
    );
}

/// Separation of duties holds between people, whatever roles they can assume: robin, who
/// can assume both the support and the engineering role, files and then may neither decide
/// nor confirm; erin approves and may not confirm; eli, a second engineer, confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_both_roles_neither_approves_their_own_request_nor_an_approver_confirms() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    set_window(&stack, "dynamodb:orders", now - TimeDelta::hours(72), now).await;
    let filed = api_json(
        &stack,
        &support("robin"),
        "POST",
        "/restore-requests",
        &mass_deletion(now - TimeDelta::minutes(30)),
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_string();
    let decide = format!("/restore-requests/{id}/decision");
    let confirm = format!("/restore-requests/{id}/confirm");

    let own = api_json(&stack, &engineer("robin"), "POST", &decide, &approve()).await;
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(own.body["detail"]
        .as_str()
        .unwrap()
        .contains("filed this request"));
    let execution = execution_of(&api_json(&stack, &engineer("erin"), "POST", &decide, &approve()).await);
    eventually("the restore to wait for confirmation", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    for (who, why) in [
        (engineer("erin"), "approved this restore"),
        (engineer("robin"), "filed this request"),
    ] {
        let answer = api_json(&stack, &who, "POST", &confirm, &Value::Null).await;
        assert_eq!(answer.status, 403, "{who}: {}", answer.body);
        assert!(
            answer.body["detail"].as_str().unwrap().contains(why),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        request(&stack, &id).await["awaiting_confirmation"],
        true,
        "still waiting"
    );
    let answer = api_json(&stack, &engineer("eli"), "POST", &confirm, &Value::Null).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    let (report, _) = report(&stack, &id).await;
    assert_eq!(report["approved_by"], json!(engineer("erin")));
    assert_eq!(report["confirmed_by"], json!(engineer("eli")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_idempotent_and_approval_starts_exactly_one_execution() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let body = mass_deletion(now - TimeDelta::hours(2)).to_string();
    let sam = support("sam");
    let first = api(
        &stack,
        Some(&sam),
        "POST",
        "/restore-requests",
        body.as_bytes(),
        Some("ticket-4711"),
    )
    .await;
    assert_eq!(first.status, 201);
    let id = first.body["id"].as_str().unwrap().to_string();
    assert_eq!(first.location, Some(format!("/restore-requests/{id}")));
    let retry = api(
        &stack,
        Some(&sam),
        "POST",
        "/restore-requests",
        body.as_bytes(),
        Some("ticket-4711"),
    )
    .await;
    assert_eq!(retry, first);
    let other_body = mass_deletion(now - TimeDelta::hours(1)).to_string();
    let reused = api(
        &stack,
        Some(&sam),
        "POST",
        "/restore-requests",
        other_body.as_bytes(),
        Some("ticket-4711"),
    )
    .await;
    assert_eq!(reused.status, 409);
    assert_eq!(reused.body["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(
        requests_in_table(&stack).await,
        2,
        "one request and one remembered answer"
    );

    // Two engineers approve at once: exactly one wins, the other learns it lost.
    let decide = format!("/restore-requests/{id}/decision");
    let (erin, eli) = (engineer("erin"), engineer("eli"));
    let approval = approve().to_string();
    let (a, b) = tokio::join!(
        api(
            &stack,
            Some(&erin),
            "POST",
            &decide,
            approval.as_bytes(),
            Some("erin-1")
        ),
        api(
            &stack,
            Some(&eli),
            "POST",
            &decide,
            approval.as_bytes(),
            Some("eli-1")
        ),
    );
    let mut statuses = vec![a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, vec![200, 409], "{} / {}", a.body, b.body);
    let (winner, key, principal) = if a.status == 200 {
        (&a, "erin-1", &erin)
    } else {
        (&b, "eli-1", &eli)
    };
    let stored = api_json(
        &stack,
        &sam,
        "GET",
        &format!("/restore-requests/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(stored.body, winner.body);
    assert_eq!(stored.body["status"], "approved");
    assert_eq!(stored.body["history"].as_array().unwrap().len(), 2);
    assert_eq!(stored.body["decision"]["by"], json!(principal));

    // The approval, retried, answers the same and starts nothing new.
    let again = api(
        &stack,
        Some(principal),
        "POST",
        &decide,
        approval.as_bytes(),
        Some(key),
    )
    .await;
    assert_eq!(&again, winner);
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    let executions = sfn
        .list_executions()
        .state_machine_arn(state_machine_arn())
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = executions.executions().iter().map(|e| e.name()).collect();
    assert_eq!(names, vec![id.as_str()]);
    assert_eq!(
        stored.body["execution"],
        json!(executions.executions()[0].execution_arn())
    );
    // Nothing waits for a confirmation yet (asked by an engineer who did not approve it).
    let confirm = api_json(
        &stack,
        &engineer("ezra"),
        "POST",
        &format!("/restore-requests/{id}/confirm"),
        &Value::Null,
    )
    .await;
    assert_eq!(confirm.status, 409, "{}", confirm.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_4xx_and_changes_nothing() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let good = mass_deletion(now - TimeDelta::hours(2));
    let id = file(&stack, &good).await["id"].as_str().unwrap().to_string();
    let before = requests_in_table(&stack).await;
    let sam = support("sam");
    let erin = engineer("erin");

    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let bodies: Vec<(Vec<u8>, u16, &str)> = vec![
        (without("instance_id").to_string().into(), 400, "instance_id"),
        (without("occurred_at").to_string().into(), 400, "occurred_at"),
        (without("cause").to_string().into(), 400, "cause"),
        (
            with("occurred_at", json!("last Tuesday")).to_string().into(),
            400,
            "occurred_at",
        ),
        (
            with("occurred_at", json!(1_700_000_000)).to_string().into(),
            400,
            "occurred_at",
        ),
        (
            with("occurred_at", json!(now + TimeDelta::days(1)))
                .to_string()
                .into(),
            400,
            "occurred_at",
        ),
        (
            with("occurred_at", json!(now - TimeDelta::days(400)))
                .to_string()
                .into(),
            422,
            "occurred_at",
        ),
        (with("cause", json!("gremlins")).to_string().into(), 400, "cause"),
        (
            with("description", json!(42)).to_string().into(),
            400,
            "description",
        ),
        (
            with("description", json!("x".repeat(5000))).to_string().into(),
            400,
            "description",
        ),
        (
            with("affected", json!(["contacts"])).to_string().into(),
            400,
            "affected",
        ),
        (
            with("submitted_by", json!("someone else")).to_string().into(),
            400,
            "submitted_by",
        ),
        (
            with("instance_id", json!("globex")).to_string().into(),
            422,
            "instance_id",
        ),
        (b"{\"instance_id\": ".to_vec(), 400, "body"),
        (b"[]".to_vec(), 400, "body"),
        (vec![b' '; 70 * 1024], 413, "body"),
    ];
    for (body, status, field) in bodies {
        let answer = api(&stack, Some(&sam), "POST", "/restore-requests", &body, None).await;
        assert_eq!(answer.status, status, "{field}: {}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body["status"], json!(status));
        let fields: Vec<&str> = answer.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{field}: {}", answer.body);
    }
    let decide = format!("/restore-requests/{id}/decision");
    let decisions = [
        (json!({"decision": "approve", "reason": "ok"}), 400, "mode"),
        (json!({"decision": "maybe", "reason": "ok"}), 400, "decision"),
        (
            json!({"decision": "approve", "reason": "ok", "mode": "selective"}),
            400,
            "selection",
        ),
        (json!({"decision": "reject"}), 400, "reason"),
        (
            json!({"decision": "approve", "reason": "ok", "mode": "rollback",
                "recovery_points": [{"resource": "rds:other", "kind": "point_in_time", "target": now}]}),
            400,
            "recovery_points[0].resource",
        ),
    ];
    for (body, status, field) in decisions {
        let answer = api_json(&stack, &erin, "POST", &decide, &body).await;
        assert_eq!(answer.status, status, "{field}: {}", answer.body);
        assert!(
            answer.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        api_json(&stack, &erin, "GET", "/restore-requests/rr-unknown", &Value::Null)
            .await
            .status,
        404
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "POST",
            "/restore-requests/rr-unknown/decision",
            &approve()
        )
        .await
        .status,
        404
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "GET",
            "/restore-requests?status=approved",
            &Value::Null
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "GET",
            "/restore-requests?instance_id=acme&color=red",
            &Value::Null
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "DELETE",
            &format!("/restore-requests/{id}"),
            &Value::Null
        )
        .await
        .status,
        405
    );
    assert_eq!(
        api_json(&stack, &erin, "GET", "/elsewhere", &Value::Null)
            .await
            .status,
        404
    );
    let bad_key = api(
        &stack,
        Some(&sam),
        "POST",
        "/restore-requests",
        good.to_string().as_bytes(),
        Some("has spaces"),
    )
    .await;
    assert_eq!(bad_key.status, 400);

    // Nothing was written, and the one request is untouched.
    assert_eq!(requests_in_table(&stack).await, before);
    let stored = api_json(
        &stack,
        &sam,
        "GET",
        &format!("/restore-requests/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(stored.body["status"], "submitted");
    assert_eq!(stored.body["history"].as_array().unwrap().len(), 1);

    // A decision in the wrong state: cancelled requests are final.
    let cancel = format!("/restore-requests/{id}/cancel");
    assert_eq!(
        api_json(&stack, &sam, "POST", &cancel, &Value::Null).await.status,
        200
    );
    let late = api_json(&stack, &erin, "POST", &decide, &approve()).await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(
        api_json(&stack, &sam, "POST", &cancel, &Value::Null).await.status,
        409
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_whose_start_failed_starts_it_when_retried() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let id = file(&stack, &mass_deletion(now - TimeDelta::hours(2))).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Step Functions fails every attempt of the SDK's retries.
    stack.edge.faults.add(FaultRule {
        service: Some("states".into()),
        operation: Some("StartExecution".into()),
        caller: None,
        target_contains: None,
        target_equals: None,
        after: None,
        skip: 0,
        times: Some(3),
        action: FaultAction::ServerError { status: 500 },
    });
    let decide = format!("/restore-requests/{id}/decision");
    let failed = api_json(&stack, &engineer("erin"), "POST", &decide, &approve()).await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    let stored = api_json(
        &stack,
        &engineer("erin"),
        "GET",
        &format!("/restore-requests/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(stored.body["status"], "approved");
    assert_eq!(stored.body["execution"], Value::Null);

    let retried = api_json(&stack, &engineer("erin"), "POST", &decide, &approve()).await;
    assert_eq!(retried.status, 200, "{}", retried.body);
    assert!(retried.body["execution"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{id}")));
    let executions = aws_sdk_sfn::Client::new(stack.sdk_config())
        .list_executions()
        .state_machine_arn(state_machine_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(executions.executions().len(), 1);
}

/// Below the API: of two replacements of one version, exactly one is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_replace_has_exactly_one_winner() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let id = file(&stack, &mass_deletion(now - TimeDelta::hours(2))).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let table = RequestsTable::new(stack.dynamodb(), REQUESTS_TABLE);
    let stored = table.get(&id).await.unwrap().unwrap();
    let mut a = stored.clone();
    a.request.description = "first".into();
    let mut b = stored.clone();
    b.request.description = "second".into();
    let (ra, rb) = tokio::join!(
        table.replace(&a, stored.version),
        table.replace(&b, stored.version)
    );
    let outcomes = [ra.is_ok(), rb.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{ra:?} {rb:?}");
    let lost = if ra.is_ok() { rb } else { ra };
    assert_eq!(lost.unwrap_err().kind, FailureKind::Conflict);
    let now_stored = table.get(&id).await.unwrap().unwrap();
    assert_eq!(now_stored.version, stored.version + 1);
}
