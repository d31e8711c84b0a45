//! Restore execution end to end: the real definition from `infra/` executed by moto's Step
//! Functions interpreter, its tasks served by the real restore-executor binary, requests
//! filed, approved and confirmed through the restore-request API.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_rds::types::Tag;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::Catalog;
use lifeboat_aws::CatalogTable;
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::{FaultAction, FaultRule};
use lifeboat_local::names::engineer;
use lifeboat_local::names::CATALOG_TABLE;
use lifeboat_local::LocalStack;
use serde_json::{json, Value};

const ACME: [(&str, &str); 2] = [(TAG_INSTANCE, "acme"), ("team", "crm")];

/// Production `db` with settings a restore does not copy: a parameter group, security
/// groups, deletion protection, a backup retention and tags.
async fn production_db(stack: &LocalStack) {
    let rds = stack.rds();
    rds.create_db_parameter_group()
        .db_parameter_group_name("acme-pg")
        .db_parameter_group_family("postgres16")
        .description("acme's tuned parameters")
        .send()
        .await
        .unwrap();
    let mut create = rds
        .create_db_instance()
        .db_instance_identifier("db")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("lifeboat")
        .master_user_password("local-only-password")
        .db_parameter_group_name("acme-pg")
        .vpc_security_group_ids("sg-acme")
        .deletion_protection(true)
        .backup_retention_period(3);
    for (k, v) in ACME {
        create = create.tags(Tag::builder().key(k).value(v).build());
    }
    create.send().await.unwrap();
}

/// Production table `orders`.
async fn production_orders(stack: &LocalStack) {
    lifeboat_local::resources::dynamodb_table(stack, "orders", &ACME)
        .await
        .unwrap();
}

async fn put(stack: &LocalStack, pk: &str, v: &str) {
    stack
        .dynamodb()
        .put_item()
        .table_name("orders")
        .item("pk", AttributeValue::S(pk.into()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

/// `orders` as `pk → v`.
async fn orders(stack: &LocalStack) -> BTreeMap<String, String> {
    let out = stack.dynamodb().scan().table_name("orders").send().await.unwrap();
    out.items()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_s().unwrap().clone();
            (s("pk"), s("v"))
        })
        .collect()
}

/// A scheduled snapshot of every acme resource for the hour `t`, reconciled as available.
/// Approves `id` for a rollback to `points`; the API's answer.
async fn approve(stack: &LocalStack, id: &str, points: Value) -> Answer {
    let body = json!({"decision": "approve", "reason": "a mass deletion by an integration",
        "mode": "rollback", "recovery_points": points});
    api_json(
        stack,
        &engineer("erin"),
        "POST",
        &format!("/restore-requests/{id}/decision"),
        &body,
    )
    .await
}

/// Files a loss a minute ago and approves rolling `db` back to five minutes ago; the
/// request and the execution approval started.
async fn roll_db_back_five_minutes(stack: &LocalStack) -> (String, String) {
    let target = (Utc::now() - TimeDelta::minutes(5))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let id = file(stack, Utc::now() - TimeDelta::minutes(1)).await;
    let points = json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]);
    let execution = execution_of(&approve(stack, &id, points).await);
    (id, execution)
}

/// Changes production's backup retention, as someone might while a restore is prepared.
async fn set_production_retention(stack: &LocalStack, days: i32) {
    stack
        .rds()
        .modify_db_instance()
        .db_instance_identifier("db")
        .backup_retention_period(days)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
}

async fn instance(stack: &LocalStack, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    let out = stack
        .rds()
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()?;
    out.db_instances().first().cloned()
}

fn tags(db: &aws_sdk_rds::types::DbInstance) -> BTreeMap<String, String> {
    db.tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn instance_ids(stack: &LocalStack) -> Vec<String> {
    let out = stack.rds().describe_db_instances().send().await.unwrap();
    let mut ids: Vec<String> = out
        .db_instances()
        .iter()
        .map(|d| d.db_instance_identifier().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn table_names(stack: &LocalStack) -> Vec<String> {
    let mut names = stack
        .dynamodb()
        .list_tables()
        .send()
        .await
        .unwrap()
        .table_names()
        .to_vec();
    names.sort();
    names
}

/// Whether any catalog record is still held by `id`.
async fn holds_of(stack: &LocalStack, id: &str) -> usize {
    CatalogTable::new(stack.dynamodb(), CATALOG_TABLE)
        .all_points()
        .await
        .unwrap()
        .iter()
        .filter(|p| p.holds.iter().any(|h| h == id))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_rds_to_a_point_in_time_and_dynamodb_to_a_backup() {
    let stack = stack().await;
    production_db(&stack).await;
    production_orders(&stack).await;
    put(&stack, "o1", "as it was").await;
    put(&stack, "o2", "as it was").await;
    let now = Utc::now();
    let backup_hour = hour_before(now, 2);
    scheduled_points(&stack, backup_hour).await;
    // After the backup: o1 changed, o2 deleted, o3 written.
    put(&stack, "o1", "changed later").await;
    stack
        .dynamodb()
        .delete_item()
        .table_name("orders")
        .key("pk", AttributeValue::S("o2".into()))
        .send()
        .await
        .unwrap();
    put(&stack, "o3", "written later").await;
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;

    let id = file(&stack, now - TimeDelta::minutes(30)).await;
    let target = (now - TimeDelta::minutes(35))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let approval = approve(
        &stack,
        &id,
        json!([
            {"resource": "rds:db", "kind": "point_in_time", "target": target},
            {"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}
        ]),
    )
    .await;
    let execution = execution_of(&approval);
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");

    let db_names = names(&id, &ResourceKey::rds("db"));
    let table_names_of = names(&id, &ResourceKey::dynamodb("orders"));
    // RDS: the rename swap, with production's settings on the restored instance.
    let prod = instance(&stack, "db").await.expect("production exists");
    let prod_tags = tags(&prod);
    assert_eq!(
        prod_tags.get(TAG_RESTORE_REQUEST),
        Some(&id),
        "production is the restored instance"
    );
    assert!(!prod_tags.contains_key(TAG_RESTORE_ROLE));
    assert_eq!(prod_tags.get("team").map(String::as_str), Some("crm"));
    assert_eq!(prod_tags.get(TAG_INSTANCE).map(String::as_str), Some("acme"));
    assert_eq!(prod.db_instance_status(), Some("available"));
    assert_eq!(prod.deletion_protection(), Some(true));
    assert_eq!(prod.backup_retention_period(), Some(3));
    assert_eq!(
        prod.db_parameter_groups()[0].db_parameter_group_name(),
        Some("acme-pg")
    );
    let fallback = instance(&stack, &db_names.fallback)
        .await
        .expect("the fallback is kept");
    assert_eq!(
        tags(&fallback).get(TAG_RESTORE_ROLE).map(String::as_str),
        Some("fallback")
    );
    assert!(
        instance(&stack, &db_names.staging).await.is_none(),
        "staging became production"
    );
    assert!(rds_snapshots(&stack).await.contains(&db_names.safety));

    // DynamoDB: the items as of the backup, later ones gone, the table kept.
    assert_eq!(
        orders(&stack).await,
        BTreeMap::from([
            ("o1".into(), "as it was".into()),
            ("o2".into(), "as it was".into())
        ])
    );
    assert!(dynamodb_backups(&stack).await.contains(&table_names_of.safety));
    assert!(!table_names(&stack).await.contains(&table_names_of.staging));

    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["awaiting_confirmation"], false);
    assert_eq!(holds_of(&stack, &id).await, 0, "holds are released");

    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["outcome"]["result"], "completed");
    assert_eq!(report["approved_by"], json!(engineer("erin")));
    assert_eq!(report["confirmed_by"], json!(engineer("eli")));
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    assert_eq!(resources[0]["restores_to"], json!(target));
    assert_eq!(
        resources[0]["fallback"],
        json!(format!("RDS instance {}", db_names.fallback))
    );
    assert!(resources
        .iter()
        .all(|r| r["restored"] == true && r["staging_deleted"] == true));
    let steps: Vec<&str> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in [
        "begin",
        "resolve",
        "safety_snapshot",
        "restore_staging",
        "check_ready",
        "await_confirmation",
        "swap",
        "verify",
        "clean_up",
        "finish",
    ] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    assert!(
        markdown.contains("**completed**") && markdown.contains(&db_names.fallback),
        "{markdown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_rds_to_a_snapshot_carries_production_settings_over() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    let snapshot_hour = hour_before(now, 3);
    scheduled_points(&stack, snapshot_hour).await;
    // Production's settings changed after the snapshot: the restore must end with these.
    set_production_retention(&stack, 7).await;
    let arn = instance(&stack, "db")
        .await
        .unwrap()
        .db_instance_arn()
        .unwrap()
        .to_string();
    stack
        .rds()
        .add_tags_to_resource()
        .resource_name(&arn)
        .tags(Tag::builder().key("cost-centre").value("cs-42").build())
        .send()
        .await
        .unwrap();

    let id = file(&stack, now - TimeDelta::hours(2)).await;
    let execution = execution_of(
        &approve(
            &stack,
            &id,
            json!([{"resource": "rds:db", "kind": "snapshot", "slot": snapshot_hour}]),
        )
        .await,
    );
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");

    let n = names(&id, &ResourceKey::rds("db"));
    let prod = instance(&stack, "db").await.unwrap();
    let prod_tags = tags(&prod);
    assert_eq!(prod_tags.get(TAG_RESTORE_REQUEST), Some(&id));
    assert_eq!(prod_tags.get("cost-centre").map(String::as_str), Some("cs-42"));
    assert_eq!(prod.backup_retention_period(), Some(7));
    assert_eq!(prod.deletion_protection(), Some(true));
    assert_eq!(
        prod.db_parameter_groups()[0].db_parameter_group_name(),
        Some("acme-pg")
    );
    let groups: Vec<&str> = prod
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, ["sg-acme"]);
    assert_eq!(
        instance_ids(&stack).await,
        vec!["db".to_string(), n.fallback.clone()]
    );

    let (report, _) = report(&stack, &id).await;
    let snapshot = ResourceKey::rds("db").point_name(lifeboat::schedule::Slot::containing(snapshot_hour));
    assert_eq!(report["resources"][0]["restore_from"], json!(snapshot));
    assert_eq!(report["resources"][0]["safety_snapshot"], json!(n.safety));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_step_refuses_requests_not_approved_or_already_executing_and_bad_input() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let id = file(&stack, now - TimeDelta::minutes(30)).await;
    let before = request(&stack, &id).await;

    let not_approved = start_from_console(&stack, "console-early", &json!({"request_id": id})).await;
    let end = finished(&stack, &not_approved).await;
    assert_eq!(
        (end.status.as_str(), end.error.as_deref()),
        ("FAILED", Some("Lifeboat.NotApproved")),
        "{end:?}"
    );
    assert!(end.cause.unwrap_or_default().contains("submitted"));
    assert_eq!(request(&stack, &id).await, before, "a refusal writes nothing");

    for (name, input, fragment) in [
        ("console-empty", json!({}), "request_id"),
        ("console-typo", json!({"request": id}), "request_id"),
        (
            "console-zero",
            json!({"request_id": id, "max_polls": 0}),
            "max_polls",
        ),
        ("console-extra", json!({"request_id": id, "force": true}), "force"),
    ] {
        let end = finished(&stack, &start_from_console(&stack, name, &input).await).await;
        assert_eq!(
            (end.status.as_str(), end.error.as_deref()),
            ("FAILED", Some("Lifeboat.InvalidInput")),
            "{input}"
        );
        assert!(end.cause.unwrap_or_default().contains(fragment), "{input}");
    }
    assert_eq!(request(&stack, &id).await, before);

    let first = execution_of(
        &approve(
            &stack,
            &id,
            json!([{"resource": "rds:db", "kind": "point_in_time",
        "target": (now - TimeDelta::minutes(35)).duration_trunc(TimeDelta::seconds(1)).unwrap()}]),
        )
        .await,
    );
    eventually("the approved request to execute", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    let second = start_from_console(&stack, "console-second", &json!({"request_id": id})).await;
    let end = finished(&stack, &second).await;
    assert_eq!(end.error.as_deref(), Some("Lifeboat.NotApproved"), "{end:?}");
    assert!(
        end.cause.unwrap_or_default().contains(&first),
        "names the execution that holds it"
    );
    let r = request(&stack, &id).await;
    assert_eq!(
        (r["status"].as_str(), r["run"]["execution"].as_str()),
        (Some("executing"), Some(first.as_str()))
    );

    // A second request for the same database waits its turn: refused, still approved.
    let other = file(&stack, now - TimeDelta::minutes(20)).await;
    let target = (now - TimeDelta::minutes(25))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let other_execution = execution_of(
        &approve(
            &stack,
            &other,
            json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]),
        )
        .await,
    );
    let end = finished(&stack, &other_execution).await;
    assert_eq!(end.error.as_deref(), Some("Lifeboat.NotApproved"), "{end:?}");
    assert!(end
        .cause
        .unwrap_or_default()
        .contains(&format!("rds:db is being restored (held by {id} (execution")));
    assert_eq!(request(&stack, &other).await["status"], "approved");
}

/// Files and approves a point-in-time rollback of `db` whose execution does not start
/// (StartExecution fails), so that the test starts it from the console with its own input.
async fn approved_without_execution(stack: &LocalStack, now: DateTime<Utc>) -> String {
    let id = file(stack, now - TimeDelta::minutes(30)).await;
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
    let target = (now - TimeDelta::minutes(35))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let answer = approve(
        stack,
        &id,
        json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]),
    )
    .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    stack.edge.faults.clear();
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_outside_the_window_is_refused_before_anything_is_created() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let id = approved_without_execution(&stack, now).await;
    // Between approval and execution the window moved past the target.
    set_window(&stack, "rds:db", now - TimeDelta::minutes(10), now).await;
    let snapshots_before = rds_snapshots(&stack).await;

    let execution = start_from_console(
        &stack,
        &id,
        &json!({"request_id": id, "poll_interval_seconds": 0}),
    )
    .await;
    let end = finished(&stack, &execution).await;
    assert_eq!(
        (end.status.as_str(), end.error.as_deref()),
        ("FAILED", Some("Lifeboat.NotRestorable")),
        "{end:?}"
    );
    assert_eq!(instance_ids(&stack).await, vec!["db".to_string()]);
    assert_eq!(
        rds_snapshots(&stack).await,
        snapshots_before,
        "no safety snapshot was taken"
    );
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "failed");
    let reason = r["history"].as_array().unwrap().last().unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("outside the restorable window"), "{reason}");
    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["outcome"]["error"], "Lifeboat.NotRestorable");
    assert!(markdown.contains("production untouched"), "{markdown}");
}

/// A point-in-time option holds the latest snapshot before the loss as its fallback: filed
/// near the window's end and decided days later, the target has left the window, yet the
/// hourly snapshot just before the loss was not pruned, and the failed restore names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_in_time_request_holds_the_snapshot_before_the_loss_as_its_fallback() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    let (before, last_before, after) = (hour_before(now, 2), hour_before(now, 1), hour_before(now, 0));
    for hour in [before, last_before, after] {
        scheduled_points(&stack, hour).await;
    }
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let occurred_at = last_before + TimeDelta::minutes(45);
    let id = file(&stack, occurred_at).await;
    let filed = request(&stack, &id).await;
    let option = &filed["recovery_options"][0];
    assert_eq!(option["source"]["kind"], "point_in_time", "{option}");
    assert_eq!(option["fallback"]["slot"], json!(last_before), "{option}");
    let fallback = ResourceKey::rds("db").point_name(lifeboat::schedule::Slot::containing(last_before));

    // Three days on, the hourly tier of every point before the loss has expired.
    let later = last_before + TimeDelta::hours(73);
    tick(&stack, PRUNER, &(later + TimeDelta::minutes(30)).to_rfc3339()).await;
    let snapshots = rds_snapshots(&stack).await;
    assert!(
        snapshots.contains(&fallback),
        "the held fallback survives: {snapshots:?}"
    );
    let unheld = ResourceKey::rds("db").point_name(lifeboat::schedule::Slot::containing(before));
    assert!(
        !snapshots.contains(&unheld),
        "an unheld expired point goes: {snapshots:?}"
    );

    // The target has left the window: the restore refuses it, naming the held fallback.
    set_window(&stack, "rds:db", now - TimeDelta::minutes(10), now).await;
    let target = (occurred_at - TimeDelta::minutes(5))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let execution = execution_of(
        &approve(
            &stack,
            &id,
            json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]),
        )
        .await,
    );
    let end = finished(&stack, &execution).await;
    assert_eq!(end.error.as_deref(), Some("Lifeboat.NotRestorable"), "{end:?}");
    assert!(
        end.cause.unwrap_or_default().contains(&fallback),
        "names the fallback"
    );
    let (report, _) = report(&stack, &id).await;
    assert_eq!(
        report["resources"][0]["fallback_snapshot"]["slot"],
        json!(last_before)
    );

    // The failed request keeps its holds a week, so a new request can be filed for the
    // fallback before the pruner takes it; then they end, and the pruner goes on.
    tick(&stack, PRUNER, &(later + TimeDelta::hours(2)).to_rfc3339()).await;
    assert!(
        rds_snapshots(&stack).await.contains(&fallback),
        "held a while after the failure"
    );
    tick(&stack, PRUNER, &(now + TimeDelta::days(8)).to_rfc3339()).await;
    assert!(!rds_snapshots(&stack).await.contains(&fallback), "the hold ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_confirmation_in_time_ends_cleanly_with_production_untouched() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let id = approved_without_execution(&stack, now).await;
    let execution = start_from_console(
        &stack,
        &id,
        &json!({"request_id": id, "poll_interval_seconds": 0, "confirmation_timeout_seconds": 2}),
    )
    .await;
    let end = finished(&stack, &execution).await;
    assert_eq!(
        (end.status.as_str(), end.error.as_deref()),
        ("FAILED", Some("Lifeboat.Timeout")),
        "{end:?}"
    );
    assert_eq!(
        instance_ids(&stack).await,
        vec!["db".to_string()],
        "staging is deleted"
    );
    let prod = instance(&stack, "db").await.unwrap();
    assert!(
        !tags(&prod).contains_key(TAG_RESTORE_REQUEST),
        "production is the original"
    );
    let r = request(&stack, &id).await;
    assert_eq!(
        (r["status"].as_str(), r["awaiting_confirmation"].as_bool()),
        (Some("failed"), Some(false))
    );
    assert_eq!(holds_of(&stack, &id).await, 0);
    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["outcome"]["error"], "States.Timeout");
    assert!(report["outcome"]["cause"]
        .as_str()
        .unwrap()
        .contains("no engineer confirmed in time"));
    assert!(markdown.contains("Not confirmed"), "{markdown}");
    // A late confirmation finds nothing waiting.
    let late = api_json(
        &stack,
        &engineer("eli"),
        "POST",
        &format!("/restore-requests/{id}/confirm"),
        &Value::Null,
    )
    .await;
    assert_eq!(late.status, 409, "{}", late.body);
}

/// The token the restore of `id` waits on, as an engineer with access to the requests table
/// would read it for the console.
async fn task_token(stack: &LocalStack, id: &str) -> Option<String> {
    let item = stack
        .dynamodb()
        .get_item()
        .table_name(lifeboat_local::names::REQUESTS_TABLE)
        .key("id", AttributeValue::S(id.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    item.item()
        .and_then(|i| i.get("task_token"))
        .and_then(|t| t.as_s().ok())
        .cloned()
}

/// A confirmation sent from the console (`SendTaskSuccess`) never passed the intake's checks;
/// the executor applies them: the approver's own confirmation is refused, nothing is touched,
/// the refusal is on the record, and the restore waits for a second engineer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_confirmation_by_the_approver_is_refused_and_the_restore_waits_for_another() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let (id, execution) = roll_db_back_five_minutes(&stack).await;
    eventually("the restore to wait for confirmation", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    let first = task_token(&stack, &id).await.expect("a task token");
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    sfn.send_task_success()
        .task_token(&first)
        .output(json!({"confirmed_by": engineer("erin")}).to_string())
        .send()
        .await
        .unwrap();
    eventually("the restore to wait again, on a new token", || async {
        let r = request(&stack, &id).await;
        let waiting = r["awaiting_confirmation"] == true;
        let token = task_token(&stack, &id).await;
        (waiting && token.is_some_and(|t| t != first)).then_some(r)
    })
    .await;
    let r = request(&stack, &id).await;
    let refused = r["run"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["detail"].as_str().unwrap().contains("approved this restore"));
    assert!(refused, "the refusal is on the record: {r}");
    assert!(r["run"]["confirmed_by"].is_null());
    let prod = instance(&stack, "db").await.unwrap();
    assert!(
        !tags(&prod).contains_key(TAG_RESTORE_REQUEST),
        "production untouched"
    );

    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    assert_eq!(
        request(&stack, &id).await["run"]["confirmed_by"],
        json!(engineer("eli"))
    );
}

fn fault(
    operation: &str,
    target: Option<&str>,
    times: Option<u32>,
    skip: u32,
    action: FaultAction,
) -> FaultRule {
    FaultRule {
        service: None,
        operation: Some(operation.into()),
        caller: Some("restore-executor".into()),
        target_contains: target.map(str::to_string),
        target_equals: None,
        after: None,
        skip,
        times,
        action,
    }
}

/// Each step in turn meets a fault. Failures end with production untouched, staging
/// deleted, holds released and the request failed; transient faults are retried through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_each_step_are_retried_or_end_with_production_untouched() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let server_error = || FaultAction::ServerError { status: 500 };
    let refused = || FaultAction::Refuse {
        code: "InvalidParameterCombination".into(),
    };
    let cases = [
        (
            "resolve",
            fault(
                "DescribeDBInstanceAutomatedBackups",
                None,
                None,
                0,
                server_error(),
            ),
            "Lifeboat.Retryable",
        ),
        (
            "safety_snapshot",
            fault("CreateDBSnapshot", None, None, 0, refused()),
            "Lifeboat.Permanent",
        ),
        (
            "restore_staging",
            fault("RestoreDBInstanceToPointInTime", None, None, 0, server_error()),
            "Lifeboat.Retryable",
        ),
        (
            "check_ready",
            fault(
                "DescribeDBInstances",
                Some("lbs-"),
                None,
                0,
                FaultAction::ReportCreating,
            ),
            "Lifeboat.StagingTimeout",
        ),
        // The two renames pass; giving the restored instance production's tags is refused.
        (
            "swap",
            fault("AddTagsToResource", None, Some(1), 1, refused()),
            "Lifeboat.Permanent",
        ),
    ];
    for (step, rule, error) in cases {
        stack.edge.faults.add(rule);
        let (id, execution) = roll_db_back_five_minutes(&stack).await;
        if step == "swap" {
            confirm(&stack, &id).await;
        }
        let end = finished(&stack, &execution).await;
        stack.edge.faults.clear();
        assert_eq!(
            (end.status.as_str(), end.error.as_deref()),
            ("FAILED", Some(error)),
            "{step}: {end:?}"
        );
        // Once the restored instance carried production's name it is kept aside, never
        // deleted: it holds what production took before the undo.
        let mut expected = vec!["db".to_string()];
        if step == "swap" {
            expected.push(names(&id, &ResourceKey::rds("db")).retired);
        }
        assert_eq!(
            instance_ids(&stack).await,
            expected,
            "{step}: staging deleted, fallback back"
        );
        let prod = instance(&stack, "db").await.unwrap();
        let prod_tags = tags(&prod);
        assert!(
            !prod_tags.contains_key(TAG_RESTORE_REQUEST) && !prod_tags.contains_key(TAG_RESTORE_ROLE),
            "{step}: {prod_tags:?}"
        );
        assert_eq!(prod.deletion_protection(), Some(true), "{step}");
        let r = request(&stack, &id).await;
        assert_eq!(r["status"], "failed", "{step}: {r}");
        assert_eq!(holds_of(&stack, &id).await, 0, "{step}");
        let (report, _) = report(&stack, &id).await;
        assert_eq!(report["outcome"]["error"], error, "{step}");
        if step == "swap" {
            let phases: Vec<&str> = report["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["phase"].as_str().unwrap())
                .collect();
            assert_eq!(phases, ["undone"], "the swap was undone");
        }
    }

    // Throttling and 5xx that stop before the retries run out are retried to success.
    stack.edge.ledger.clear();
    stack
        .edge
        .faults
        .add(fault("CreateDBSnapshot", None, Some(2), 0, FaultAction::Throttle));
    stack.edge.faults.add(fault(
        "RestoreDBInstanceToPointInTime",
        None,
        Some(4),
        0,
        server_error(),
    ));
    let (id, execution) = roll_db_back_five_minutes(&stack).await;
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    let throttled = stack
        .edge
        .ledger
        .log()
        .iter()
        .filter(|c| c.caller == "restore-executor" && c.status >= 400)
        .count();
    assert!(throttled >= 6, "the faults fired: {throttled}");
    assert_eq!(
        tags(&instance(&stack, "db").await.unwrap()).get(TAG_RESTORE_REQUEST),
        Some(&id)
    );

    // A failure after verification (here: deleting DynamoDB staging, refused) keeps the
    // confirmed, verified restore; the request completes with the failure recorded, staging
    // is reported left in place, and the execution fails so the alarm shows it.
    production_orders(&stack).await;
    let pitr = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .build()
        .unwrap();
    stack
        .dynamodb()
        .update_continuous_backups()
        .table_name("orders")
        .point_in_time_recovery_specification(pitr)
        .send()
        .await
        .unwrap();
    put(&stack, "o1", "kept").await;
    let now = Utc::now();
    set_window(&stack, "dynamodb:orders", now - TimeDelta::hours(72), now).await;
    stack
        .edge
        .faults
        .add(fault("DeleteTable", Some("lbs-"), None, 0, refused()));
    let target = (now - TimeDelta::minutes(5))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let id = file(&stack, now - TimeDelta::minutes(1)).await;
    let execution = execution_of(
        &approve(
            &stack,
            &id,
            json!([{"resource": "dynamodb:orders", "kind": "point_in_time", "target": target}]),
        )
        .await,
    );
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    stack.edge.faults.clear();
    assert_eq!(end.error.as_deref(), Some("Lifeboat.Permanent"), "{end:?}");
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "completed", "{r}");
    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["outcome"]["result"], "completed");
    assert_eq!(report["resources"][0]["phase"], "verified");
    assert_eq!(report["resources"][0]["staging_deleted"], false);
    assert!(markdown.contains("staging left in place"), "{markdown}");
    let staging = names(&id, &ResourceKey::dynamodb("orders")).staging;
    assert!(
        table_names(&stack).await.contains(&staging),
        "staging is left, and reported"
    );

    // The last step failing (its report refused once; the report written while waiting for
    // confirmation went through) also keeps the verified restore, and the report is
    // written by the failure path.
    stack
        .edge
        .faults
        .add(fault("PutObject", Some("report.json"), Some(1), 1, refused()));
    let (id, execution) = roll_db_back_five_minutes(&stack).await;
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    stack.edge.faults.clear();
    assert_eq!(end.error.as_deref(), Some("Lifeboat.Permanent"), "{end:?}");
    assert_eq!(request(&stack, &id).await["status"], "completed");
    assert_eq!(
        tags(&instance(&stack, "db").await.unwrap()).get(TAG_RESTORE_REQUEST),
        Some(&id),
        "the verified restore stands"
    );
    let (report, _) = lifeboat_e2e::report(&stack, &id).await;
    assert_eq!(report["outcome"]["result"], "completed");
}

/// The reproduction: the renames pass, then RDS refuses the `ModifyDBInstance` that
/// gives the restored instance production's settings. The restored instance has carried
/// production's name (and taken its writes), so the undo moves it aside as `lbr-…`, marked,
/// and keeps it: no instance is deleted, the original is production again, and the report
/// names what was kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_failing_after_the_rename_keeps_the_restored_instance_that_served_production() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    // Two renames pass; the third ModifyDBInstance (the settings) is refused.
    stack.edge.faults.add(fault(
        "ModifyDBInstance",
        None,
        Some(1),
        2,
        FaultAction::Refuse {
            code: "InvalidParameterCombination".into(),
        },
    ));
    let (id, execution) = roll_db_back_five_minutes(&stack).await;
    eventually("the restore to wait for confirmation", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    // Production's retention changed since staging was made: the swap has settings to apply.
    set_production_retention(&stack, 7).await;
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(
        (end.status.as_str(), end.error.as_deref()),
        ("FAILED", Some("Lifeboat.Permanent")),
        "{end:?}"
    );
    let n = names(&id, &ResourceKey::rds("db"));
    assert_eq!(
        instance_ids(&stack).await,
        vec!["db".to_string(), n.retired.clone()]
    );
    let kept = tags(&instance(&stack, &n.retired).await.unwrap());
    assert_eq!(
        kept.get(TAG_RESTORE_ROLE).map(String::as_str),
        Some("served-production")
    );
    assert_eq!(kept.get(TAG_RESTORE_REQUEST), Some(&id));
    let prod = instance(&stack, "db").await.unwrap();
    assert!(
        !tags(&prod).contains_key(TAG_RESTORE_REQUEST),
        "the original is production again"
    );
    assert_eq!(prod.deletion_protection(), Some(true));
    let deletes = calls_by(&stack, "restore-executor")
        .into_iter()
        .filter(|c| c.operation == "DeleteDBInstance")
        .count();
    assert_eq!(deletes, 0, "no instance is deleted");
    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["resources"][0]["phase"], "undone");
    assert_eq!(report["resources"][0]["kept"], json!(n.retired));
    assert!(markdown.contains(&n.retired), "{markdown}");
}

/// Right after the swap RDS may start a backup of the renamed instance: verify waits for
/// it to settle (polled like the other steps) instead of undoing a good restore.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_waits_for_a_backup_right_after_the_swap_and_the_restore_completes() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    // After the swap's last change (its final look passes), production reads as backing-up
    // three times: what verify sees first.
    stack.edge.faults.add(FaultRule {
        service: Some("rds".into()),
        operation: Some("DescribeDBInstances".into()),
        caller: Some("restore-executor".into()),
        target_contains: None,
        target_equals: Some("db".into()),
        after: Some("RemoveTagsFromResource".into()),
        skip: 1,
        times: Some(3),
        action: FaultAction::ReportStatus {
            status: "backing-up".into(),
        },
    });
    let (id, execution) = roll_db_back_five_minutes(&stack).await;
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    let settled = stack
        .edge
        .ledger
        .log()
        .iter()
        .filter(|c| c.injected.as_deref() == Some("report_status backing-up"))
        .count();
    assert_eq!(settled, 3, "verify saw the backup");
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(
        tags(&instance(&stack, "db").await.unwrap()).get(TAG_RESTORE_REQUEST),
        Some(&id),
        "the restore stands"
    );
}

/// A DynamoDB copy-back refused half-way (after its deletes, before its puts) is undone from
/// the backup taken when the swap started: the live table ends exactly as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_swap_failing_half_way_is_undone_from_the_pre_swap_backup() {
    let stack = stack().await;
    production_orders(&stack).await;
    put(&stack, "o1", "as it was").await;
    let now = Utc::now();
    let backup_hour = hour_before(now, 2);
    scheduled_points(&stack, backup_hour).await;
    put(&stack, "o1", "changed later").await;
    put(&stack, "o2", "written later").await;
    let before = orders(&stack).await;

    let id = file(&stack, now - TimeDelta::minutes(30)).await;
    assert!(holds_of(&stack, &id).await > 0, "filing held the backup");
    let execution = execution_of(
        &approve(
            &stack,
            &id,
            json!([{"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}]),
        )
        .await,
    );
    // The copy-back's first batch (deleting o2) goes through; its second (the puts) is refused.
    stack.edge.faults.add(fault(
        "BatchWriteItem",
        None,
        Some(1),
        1,
        FaultAction::Refuse {
            code: "ValidationException".into(),
        },
    ));
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(
        (end.status.as_str(), end.error.as_deref()),
        ("FAILED", Some("Lifeboat.Permanent")),
        "{end:?}"
    );
    let writes: Vec<u16> = calls_by(&stack, "restore-executor")
        .iter()
        .filter(|c| c.operation == "BatchWriteItem")
        .map(|c| c.status)
        .collect();
    assert_eq!(
        writes[..2],
        [200, 400],
        "the deletes went through, the puts were refused"
    );
    assert_eq!(
        orders(&stack).await,
        before,
        "the live table is as it was before the restore"
    );
    let n = names(&id, &ResourceKey::dynamodb("orders"));
    let tables = table_names(&stack).await;
    assert!(
        !tables.contains(&n.staging) && !tables.contains(&n.fallback),
        "{tables:?}"
    );
    let backups = dynamodb_backups(&stack).await;
    assert!(
        backups.contains(&n.safety) && backups.contains(&n.pre_swap),
        "{backups:?}"
    );
    assert!(
        backups.contains(&n.retired),
        "the live table as the failed copy-back left it is kept: {backups:?}"
    );
    assert_eq!(request(&stack, &id).await["status"], "failed");
    assert_eq!(holds_of(&stack, &id).await, 0, "holds are released");
    let (report, _) = report(&stack, &id).await;
    assert_eq!(report["resources"][0]["phase"], "undone");
    assert_eq!(report["resources"][0]["staging_deleted"], true);
    assert!(
        report["resources"][0]["kept"]
            .as_str()
            .unwrap()
            .contains(&n.retired),
        "{}",
        report["resources"][0]
    );
}
