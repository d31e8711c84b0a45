//! The exposure guard on the local stack, over what real restores leave: a snapshot of a
//! rollback's kept `lbf-` instance shared publicly is revoked by the daily sweep and by
//! CloudTrail's record of the share; copies of an instance gone from the account, guarded by
//! their name or tags, are revoked by the fanned-out daily audit (its walk of the account);
//! a restore's staging table whose resource policy lets everyone in loses that statement,
//! while production's outside grant is reported and left; a policy changed since it was read
//! is never overwritten.

use aws_sdk_rds::types::Tag;
use chrono::{DurationRound, TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_ROLE};
use lifeboat::ports::{FailureKind, SnapshotSharing, TablePolicies};
use lifeboat_aws::{DynamoTablePolicies, RdsSharing};
use lifeboat_e2e::*;
use lifeboat_local::names::{engineer, ACCOUNT};
use lifeboat_local::stack::Invocation;
use lifeboat_local::{fleet_tick, resources, LocalStack};
use serde_json::{json, Value};

const AUDIT: &str = "recovery-audit";
const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];
const OUTSIDER: &str = "210987654321";

/// The day's audit of the fleet, now, as the schedule sends it; its answer.
async fn audit(stack: &LocalStack) -> Value {
    let mut tick = event(PRUNER, &Utc::now().to_rfc3339());
    tick["detail"] = json!({});
    match stack.invoke(AUDIT, &tick).await.expect("the Invoke API answers") {
        Invocation::Succeeded(answer) => answer,
        failed => panic!("the audit failed: {failed:?}"),
    }
}

async fn restorers(stack: &LocalStack, snapshot: &str) -> Vec<String> {
    RdsSharing::new(stack.rds()).restorers(snapshot).await.unwrap()
}

/// Someone snapshots `instance` by hand (its tags not copied) and shares it with everyone.
async fn snapshot_and_share(stack: &LocalStack, instance: &str, snapshot: &str) {
    stack
        .rds()
        .create_db_snapshot()
        .db_instance_identifier(instance)
        .db_snapshot_identifier(snapshot)
        .tags(Tag::builder().key("purpose").value("debugging").build())
        .send()
        .await
        .unwrap();
    share_publicly(stack, snapshot).await;
}

async fn share_publicly(stack: &LocalStack, snapshot: &str) {
    stack
        .rds()
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier(snapshot)
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await
        .unwrap();
}

/// Files a loss and approves rolling `points` back; the request and its execution.
async fn approve_rollback(stack: &LocalStack, points: Value) -> (String, String) {
    let id = file(stack, Utc::now() - TimeDelta::minutes(30)).await;
    let body = json!({"decision": "approve", "reason": "a mass deletion by an integration",
        "mode": "rollback", "recovery_points": points});
    let approval = api_json(
        stack,
        &engineer("erin"),
        "POST",
        &format!("/restore-requests/{id}/decision"),
        &body,
    )
    .await;
    let execution = execution_of(&approval);
    (id, execution)
}

fn exposure_of<'a>(answer: &'a Value, subject: &str) -> &'a Value {
    answer["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subject"] == subject)
        .unwrap_or_else(|| panic!("no exposure of {subject}: {answer}"))
}

async fn day_report(stack: &LocalStack, answer: &Value) -> Value {
    let key = answer["report_key"].as_str().expect("the audit's report");
    serde_json::from_slice(&reports_object(stack, key).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_a_rollback_s_kept_instance_shared_publicly_is_revoked_by_the_sweep_and_by_cloudtrail()
{
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let target = (now - TimeDelta::minutes(35))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let (id, execution) = approve_rollback(
        &stack,
        json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]),
    )
    .await;
    confirm(&stack, &id).await;
    assert_eq!(finished(&stack, &execution).await.status, "SUCCEEDED");
    let fallback = names(&id, &ResourceKey::rds("db")).fallback;

    // The old production, kept by the rollback, snapshotted and shared with everyone.
    snapshot_and_share(&stack, &fallback, "kept-before-cleanup").await;
    let answer = audit(&stack).await;
    assert!(restorers(&stack, "kept-before-cleanup").await.is_empty());
    let exposure = exposure_of(&day_report(&stack, &answer).await, "kept-before-cleanup").clone();
    assert_eq!(exposure["lineage"], "made_by_lifeboat", "{exposure}");
    assert_eq!(exposure["owner"], format!("rds:{fallback}"));
    assert_eq!(
        exposure["instance"], "acme",
        "the kept instance carries production's tags"
    );
    assert_eq!(exposure["revoked"], true);

    // Shared again: CloudTrail's record of the call revokes it at once.
    share_publicly(&stack, "kept-before-cleanup").await;
    let record = json!({"version": "0", "id": "ct-1", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.rds", "time": Utc::now().to_rfc3339(), "detail": {"eventSource": "rds.amazonaws.com",
        "eventName": "ModifyDBSnapshotAttribute", "requestParameters": {"dBSnapshotIdentifier": "kept-before-cleanup",
        "attributeName": "restore", "valuesToAdd": ["all"]}}});
    match stack
        .invoke(AUDIT, &record)
        .await
        .expect("the Invoke API answers")
    {
        Invocation::Succeeded(v) => {
            assert_eq!(
                (v["in_scope"].as_bool(), v["lineage"].as_str()),
                (Some(true), Some("made_by_lifeboat")),
                "{v}"
            );
            assert_eq!(v["exposure"]["revoked"], true, "{v}");
        }
        failed => panic!("the fast path failed: {failed:?}"),
    }
    assert!(restorers(&stack, "kept-before-cleanup").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fanned_out_daily_audit_revokes_copies_of_an_instance_gone_from_the_account_and_the_catalog() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::rds_instance(&stack, "gone-db", &[], 3).await.unwrap();
    let rds = stack.rds();
    // A restore's safety snapshot (its marks), a copy tagged as acme's, and a snapshot
    // nothing ties to a customer, all of an instance then deleted that the catalog never knew.
    let safety = "lbsafety-0a11ce00-gone-db";
    for (snapshot, tag) in [
        (safety, Some((TAG_RESTORE_ROLE, "safety"))),
        ("acme-copy", Some((TAG_INSTANCE, "acme"))),
        ("gone-db-notes", None),
    ] {
        let tags = tag.map(|(key, value)| vec![Tag::builder().key(key).value(value).build()]);
        rds.create_db_snapshot()
            .db_instance_identifier("gone-db")
            .db_snapshot_identifier(snapshot)
            .set_tags(tags)
            .send()
            .await
            .unwrap();
    }
    rds.delete_db_instance()
        .db_instance_identifier("gone-db")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    for snapshot in [safety, "acme-copy", "gone-db-notes"] {
        share_publicly(&stack, snapshot).await;
    }

    // The day's audit as the schedule starts it: fanned out by its state machine.
    let mut tick = event(PRUNER, &Utc::now().to_rfc3339());
    tick["detail"] = json!({});
    let answer = match fleet_tick::run(&stack, AUDIT, &tick).await.unwrap() {
        Invocation::Succeeded(answer) => answer,
        failed => panic!("the audit's execution failed: {failed:?}"),
    };
    assert!(restorers(&stack, safety).await.is_empty());
    assert!(restorers(&stack, "acme-copy").await.is_empty());
    assert_eq!(
        restorers(&stack, "gone-db-notes").await,
        ["all"],
        "nothing ties it to a customer's data: left alone"
    );
    let report = day_report(&stack, &answer).await;
    for (snapshot, lineage) in [(safety, "named_by_lifeboat"), ("acme-copy", "tagged")] {
        let exposure = exposure_of(&report, snapshot);
        assert_eq!(
            (
                exposure["lineage"].as_str(),
                exposure["owner"].as_str(),
                exposure["revoked"].as_bool()
            ),
            (Some(lineage), Some("rds:gone-db"), Some(true)),
            "{exposure}"
        );
    }
    let walk: Value =
        serde_json::from_slice(&reports_object(&stack, "audits/sharing-walk.json").await).unwrap();
    assert_eq!(walk["next"], Value::Null, "the account's one page walked: {walk}");
}

/// A statement letting everyone read the table.
fn public_read(table_arn: &str) -> Value {
    json!({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": table_arn})
}

async fn table_arn(stack: &LocalStack, table: &str) -> String {
    let out = stack
        .dynamodb()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap();
    out.table().unwrap().table_arn().unwrap().to_string()
}

async fn put_policy(stack: &LocalStack, table: &str, statements: Value) {
    let arn = table_arn(stack, table).await;
    stack
        .dynamodb()
        .put_resource_policy()
        .resource_arn(&arn)
        .policy(json!({"Version": "2012-10-17", "Statement": statements}).to_string())
        .send()
        .await
        .unwrap();
}

/// The table's policy now, `None` when it has none.
async fn policy_of(stack: &LocalStack, table: &str) -> Option<Value> {
    let arn = table_arn(stack, table).await;
    match stack
        .dynamodb()
        .get_resource_policy()
        .resource_arn(&arn)
        .send()
        .await
    {
        Ok(out) => Some(serde_json::from_str(out.policy().unwrap()).unwrap()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_policy_not_found_exception()) =>
        {
            None
        }
        Err(e) => panic!("GetResourcePolicy {table}: {e:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staging_table_s_grant_to_everyone_is_removed_and_production_s_outside_grant_reported_and_left() {
    let stack = stack().await;
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    let backup_hour = hour_before(Utc::now(), 2);
    scheduled_points(&stack, backup_hour).await;
    let (id, _) = approve_rollback(
        &stack,
        json!([{"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}]),
    )
    .await;
    // The restore waits for confirmation with its staging table ready and marked.
    eventually("the staging table to await confirmation", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    let staging = names(&id, &ResourceKey::dynamodb("orders")).staging;
    let staging_arn = table_arn(&stack, &staging).await;
    let own_app = json!({"Sid": "OwnApp", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")},
        "Action": "dynamodb:Query", "Resource": &staging_arn});
    put_policy(&stack, &staging, json!([own_app, public_read(&staging_arn)])).await;
    let orders_arn = table_arn(&stack, "orders").await;
    let partner = json!({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OUTSIDER}:root")},
        "Action": "dynamodb:Query", "Resource": &orders_arn});
    put_policy(&stack, "orders", json!([partner])).await;

    let answer = audit(&stack).await;
    let report = day_report(&stack, &answer).await;
    // Staging: provably this restore's (its name and marks), the outside statement removed.
    let kept = policy_of(&stack, &staging)
        .await
        .expect("its own statement is kept");
    let sids: Vec<&str> = (kept["Statement"].as_array().unwrap().iter())
        .map(|s| s["Sid"].as_str().unwrap())
        .collect();
    assert_eq!(sids, ["OwnApp"]);
    let removed = exposure_of(&report, &format!("dynamodb:{staging}"));
    assert_eq!(
        (
            removed["kind"].as_str(),
            removed["statement"].as_str(),
            removed["revoked"].as_bool()
        ),
        (Some("table_policy"), Some("PublicRead"), Some(true)),
        "{removed}"
    );
    // Production: reported as acme's, and left as it was.
    let left = exposure_of(&report, "dynamodb:orders");
    assert_eq!(
        (left["revoked"].as_bool(), left["instance"].as_str()),
        (Some(false), Some("acme"))
    );
    assert!(
        left["left"].as_str().unwrap().contains("production table"),
        "{left}"
    );
    assert_eq!(
        policy_of(&stack, "orders").await.unwrap()["Statement"][0]["Sid"],
        "Partner"
    );
    let tags = stack
        .dynamodb()
        .list_tags_of_resource()
        .resource_arn(&staging_arn)
        .send()
        .await
        .unwrap();
    assert!(
        tags.tags().iter().any(|t| t.key() == TAG_RESTORE_ROLE),
        "the restore marked its staging table"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_rewrite_at_a_revision_no_longer_current_is_refused_and_writes_nothing() {
    let stack = stack().await;
    let table = "lbs-1b4e28ba-orders";
    resources::dynamodb_table(&stack, table, &[(TAG_RESTORE_ROLE, "staging")])
        .await
        .unwrap();
    let policies = DynamoTablePolicies::new(stack.dynamodb(), ACCOUNT);
    assert_eq!(policies.policy(table).await.unwrap(), None, "no policy yet");
    let arn = table_arn(&stack, table).await;
    put_policy(&stack, table, json!([public_read(&arn)])).await;
    let read = policies.policy(table).await.unwrap().expect("the policy put");
    // Someone changes the policy after the audit read it (revisions are DynamoDB's, by time).
    let mut attempt = 0;
    let theirs = loop {
        attempt += 1;
        let statement = json!({"Sid": format!("Theirs{attempt}"), "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}, "Action": "dynamodb:Query", "Resource": &arn});
        put_policy(&stack, table, json!([statement])).await;
        let now = policies.policy(table).await.unwrap().unwrap();
        if now.revision != read.revision {
            break now;
        }
        assert!(attempt < 1000, "the policy's revision never changed");
    };
    let refused = policies
        .replace_policy(
            table,
            &json!({"Version": "2012-10-17", "Statement": []}).to_string(),
            &read.revision,
        )
        .await
        .unwrap_err();
    assert_eq!(refused.kind, FailureKind::Conflict, "{refused}");
    let refused = policies.delete_policy(table, &read.revision).await.unwrap_err();
    assert_eq!(refused.kind, FailureKind::Conflict, "{refused}");
    assert_eq!(
        policies.policy(table).await.unwrap(),
        Some(theirs.clone()),
        "theirs stands"
    );
    // At the revision that is current, the change is made.
    policies.delete_policy(table, &theirs.revision).await.unwrap();
    assert_eq!(policy_of(&stack, table).await, None);
    assert!(policies.tables().await.unwrap().contains(&table.to_string()));
    assert_eq!(
        policies
            .tags(table)
            .await
            .unwrap()
            .get(TAG_RESTORE_ROLE)
            .map(String::as_str),
        Some("staging")
    );
}
