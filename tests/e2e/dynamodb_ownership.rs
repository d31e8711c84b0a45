//! DynamoDB tables by the names Lifeboat gives its own (a drill's `lbd-` sandbox, a restore's
//! `lbs-` staging) are taken, marked, read or deleted only when provably the restore's own:
//! its marks, or DynamoDB's record of the restore call that made it. Look-alikes (made before
//! the restore call, managed, another drill's) are refused and left exactly as they were, by
//! the restorer on its own, by the drill and its hourly sweep, and by a rollback; the
//! restore's own table is still taken after a crash between its restore call and its marks.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Tag};
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::drill::plan::sandbox_name;
use lifeboat::execution::identity::Made;
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_POLICY, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Origin, Progress, RestoreFrom, Restorer, Target};
use lifeboat::ports::{Deletion, FailureKind};
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::{REQUESTS_TABLE, TESTER};
use lifeboat_local::stack::Invocation;
use lifeboat_local::{drills, resources, LocalStack};
use serde_json::json;

use crate::restore_execution::{approve, orders, production_orders};

const REQUEST: &str = "rr-0a11ce00-0000-4000-8000-000000000001";
const DRILL: &str = "drill-drill-acme-7";

/// What a table holds and carries: what a refused restore must leave as it was.
type Snapshot = (BTreeMap<String, String>, BTreeMap<String, String>);

async fn snapshot(stack: &LocalStack, table: &str) -> Snapshot {
    let items = stack.dynamodb().scan().table_name(table).send().await.unwrap();
    let items = items
        .items()
        .iter()
        .map(|i| (i["pk"].as_s().unwrap().clone(), format!("{:?}", i.get("v"))))
        .collect();
    let arn = stack
        .dynamodb()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_string();
    let tags = stack
        .dynamodb()
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    let tags = tags
        .tags()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    (items, tags)
}

async fn put(stack: &LocalStack, table: &str, pk: &str, v: &str) {
    stack
        .dynamodb()
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

pub(crate) async fn tag(stack: &LocalStack, table: &str, tags: &[(&str, &str)]) {
    let arn = stack
        .dynamodb()
        .describe_table()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_string();
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    stack
        .dynamodb()
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
}

async fn restore_from(stack: &LocalStack, table: &str, backup: &str) {
    stack
        .dynamodb()
        .restore_table_from_backup()
        .target_table_name(table)
        .backup_arn(backup)
        .send()
        .await
        .unwrap();
}

async fn exists(stack: &LocalStack, table: &str) -> bool {
    let tables = stack.dynamodb().list_tables().send().await.unwrap();
    tables.table_names().iter().any(|t| t == table)
}

/// Production `orders` with three items, and a backup of it; the backup's ARN.
async fn orders_backed_up(stack: &LocalStack) -> String {
    resources::dynamodb_table(stack, "orders", &[]).await.unwrap();
    for i in 1..=3 {
        put(stack, "orders", &format!("o{i}"), "as backed up").await;
    }
    let out = stack
        .dynamodb()
        .create_backup()
        .table_name("orders")
        .backup_name("lifeboat-orders-20261203t0500z")
        .send()
        .await
        .unwrap();
    out.backup_details().unwrap().backup_arn().to_string()
}

/// A table by a restore's name that is not the restore's.
#[derive(Debug, Clone, Copy)]
enum LookAlike {
    /// Made by hand, with no marks: no restore made it.
    Untagged,
    /// Restored from the very backup, but before the restore was asked for.
    RestoredBefore,
    /// Restored from the backup after the restore was asked for, but managed.
    Managed,
    /// Restored from the backup after the restore was asked for, but marked as another's.
    Another,
}

const LOOK_ALIKES: [LookAlike; 4] = [
    LookAlike::Untagged,
    LookAlike::RestoredBefore,
    LookAlike::Managed,
    LookAlike::Another,
];

/// Makes `kind` of look-alike by the name `table`, holding an item of its own; the time the
/// restore is then taken to have been asked for.
async fn look_alike(stack: &LocalStack, kind: LookAlike, table: &str, backup: &str) -> DateTime<Utc> {
    let asked_after = match kind {
        LookAlike::Untagged => {
            let asked_after = Utc::now();
            resources::dynamodb_table(stack, table, &[]).await.unwrap();
            asked_after
        }
        LookAlike::RestoredBefore => {
            restore_from(stack, table, backup).await;
            Utc::now()
        }
        LookAlike::Managed | LookAlike::Another => {
            let asked_after = Utc::now();
            restore_from(stack, table, backup).await;
            asked_after
        }
    };
    match kind {
        LookAlike::Managed => tag(stack, table, &[(TAG_INSTANCE, "acme")]).await,
        LookAlike::Another => {
            tag(
                stack,
                table,
                &[
                    (TAG_RESTORE_REQUEST, "drill-someone-else"),
                    (TAG_RESTORE_ROLE, "staging"),
                ],
            )
            .await
        }
        LookAlike::Untagged | LookAlike::RestoredBefore => {}
    }
    put(stack, table, "its-own", "the look-alike's").await;
    asked_after
}

fn target<'a>(
    request_id: &'a str,
    production: &'a ResourceKey,
    staging: &'a str,
    from: RestoreFrom,
    asked_after: DateTime<Utc>,
) -> Target<'a> {
    Target {
        request_id,
        production,
        staging,
        fallback: "",
        origin: Some(Origin { from, asked_after }),
        staging_identity: None,
        fallback_identity: None,
    }
}

/// Calls by `caller` that read or change `table`'s data, or delete it, since the ledger was
/// last cleared (marks are compared whole: a tag call names no table).
fn touching(stack: &LocalStack, table: &str, caller: &str) -> Vec<String> {
    const TOUCH: [&str; 8] = [
        "Scan",
        "Query",
        "GetItem",
        "BatchGetItem",
        "BatchWriteItem",
        "PutItem",
        "TagResource",
        "DeleteTable",
    ];
    (stack.edge.ledger.log().iter())
        .filter(|c| c.caller == caller && TOUCH.contains(&c.operation.as_str()) && c.target.contains(table))
        .map(|c| format!("{} by {}", c.operation, c.caller))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_look_alike_of_a_sandbox_or_staging_table_is_refused_untouched_and_never_deleted() {
    let stack = stack().await;
    let backup = orders_backed_up(&stack).await;
    let production = ResourceKey::dynamodb("orders");
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let sandbox = sandbox_name(DRILL, &production);
    let staging = names(REQUEST, &production).staging;
    for (request_id, name) in [(DRILL, sandbox.as_str()), (REQUEST, staging.as_str())] {
        for kind in LOOK_ALIKES {
            let asked_after = look_alike(&stack, kind, name, &backup).await;
            let before = snapshot(&stack, name).await;
            stack.edge.ledger.clear();
            let from = RestoreFrom::Snapshot(backup.clone());
            let t = target(request_id, &production, name, from, asked_after);
            let case = format!("{name} {kind:?}");

            let start = restorer.start_staging(&t).await.unwrap_err();
            assert_eq!(start.kind, FailureKind::NotOurs, "{case}: {start}");
            assert!(start.to_string().contains(name), "names the table: {start}");
            let ready = restorer.staging_ready(&t).await.unwrap_err();
            assert_eq!(ready.kind, FailureKind::NotOurs, "{case}: {ready}");
            let delete = restorer.delete_staging(&t).await.unwrap_err();
            assert_eq!(delete.kind, FailureKind::NotOurs, "{case}: {delete}");
            assert!(delete.message.contains("not this restore's"), "{case}: {delete}");

            assert_eq!(touching(&stack, name, TESTER), Vec::<String>::new(), "{case}");
            assert_eq!(snapshot(&stack, name).await, before, "{case}: left as it was");
            let restores = (stack.edge.ledger.log().iter())
                .filter(|c| c.operation.starts_with("RestoreTable"))
                .count();
            assert_eq!(restores, 0, "{case}: no restore over it");
            stack
                .dynamodb()
                .delete_table()
                .table_name(name)
                .send()
                .await
                .unwrap();
        }
    }
}

/// The first try's restore call went through and its process died before it heard back (or
/// before the table was ACTIVE to be marked): the retry finds the table unmarked, and takes it
/// on DynamoDB's word that this restore made it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_restores_own_table_is_taken_after_a_crash_before_its_marks_and_deleted_at_the_end() {
    let stack = stack().await;
    let backup = orders_backed_up(&stack).await;
    let production = ResourceKey::dynamodb("orders");
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let sandbox = sandbox_name(DRILL, &production);
    let staging = names(REQUEST, &production).staging;
    let at = Utc::now() - TimeDelta::minutes(5);
    let cases = [
        (DRILL, sandbox.as_str(), RestoreFrom::Snapshot(backup.clone())),
        (REQUEST, staging.as_str(), RestoreFrom::PointInTime(at)),
    ];
    for (request_id, name, from) in cases {
        let asked_after = Utc::now();
        // What the crashed first try asked for.
        match &from {
            RestoreFrom::Snapshot(arn) => restore_from(&stack, name, arn).await,
            RestoreFrom::PointInTime(at) => {
                stack
                    .dynamodb()
                    .restore_table_to_point_in_time()
                    .source_table_name("orders")
                    .target_table_name(name)
                    .restore_date_time(aws_sdk_dynamodb::primitives::DateTime::from_secs(at.timestamp()))
                    .send()
                    .await
                    .unwrap();
            }
        }
        stack.edge.ledger.clear();
        let t = target(request_id, &production, name, from, asked_after);
        restorer.start_staging(&t).await.unwrap();
        let restores = (stack.edge.ledger.log().iter())
            .filter(|c| c.operation.starts_with("RestoreTable"))
            .count();
        assert_eq!(restores, 0, "{name}: the retry takes the first try's table");
        assert_eq!(restorer.staging_ready(&t).await.unwrap(), Progress::Done);
        let (_, tags) = snapshot(&stack, name).await;
        assert_eq!(
            tags.get(TAG_RESTORE_REQUEST).map(String::as_str),
            Some(request_id)
        );
        assert_eq!(tags.get(TAG_RESTORE_ROLE).map(String::as_str), Some("staging"));
        assert_eq!(
            restorer.delete_staging(&t).await.unwrap(),
            Deletion::Deleted,
            "{name}"
        );
        assert!(!exists(&stack, name).await, "{name} is gone");
        assert_eq!(restorer.delete_staging(&t).await.unwrap(), Deletion::AlreadyGone);
    }
}

/// acme's managed `acme-orders` (seven items) with a scheduled backup three hours ago.
async fn acme_orders(stack: &LocalStack) {
    let tags = [(TAG_INSTANCE, "acme"), (TAG_POLICY, "standard")];
    resources::dynamodb_table(stack, "acme-orders", &tags)
        .await
        .unwrap();
    for i in 0..7 {
        put(stack, "acme-orders", &format!("order#{i}"), "placed").await;
    }
    scheduled_points(stack, hour_before(Utc::now(), 3)).await;
}

/// A look-alike holding production's very items would make every check pass: the drill must
/// refuse it and fail, and neither it nor the hourly sweep may scan, mark or delete it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_whose_sandbox_name_a_look_alike_holds_fails_and_neither_it_nor_the_sweep_touches_it() {
    let stack = stack().await;
    acme_orders(&stack).await;
    let execution = "drill-acme-lookalike";
    let sandbox = sandbox_name(
        &format!("drill-{execution}"),
        &ResourceKey::dynamodb("acme-orders"),
    );
    resources::dynamodb_table(&stack, &sandbox, &[]).await.unwrap();
    for i in 0..7 {
        put(&stack, &sandbox, &format!("order#{i}"), "placed").await;
    }
    let before = snapshot(&stack, &sandbox).await;
    stack.edge.ledger.clear();

    match drills::run(&stack, execution, &json!({"instance_id": "acme"}))
        .await
        .unwrap()
    {
        Invocation::Failed { error_type, .. } => assert_eq!(error_type, "Lifeboat.DrillFailed"),
        succeeded => panic!("a drill restoring nothing must not pass: {succeeded:?}"),
    }
    let report = todays_drill_report(&stack, "acme", execution).await;
    let table = &report["resources"][0];
    assert_eq!(table["resource"], "dynamodb:acme-orders", "{report:#}");
    assert!(
        table["error"].as_str().unwrap().contains("not this restore's"),
        "{table}"
    );
    assert_eq!(table["sandbox_deleted"], false, "{table}");
    assert_eq!(
        snapshot(&stack, &sandbox).await,
        before,
        "the look-alike as it was"
    );
    assert_eq!(touching(&stack, &sandbox, "restore-drill"), Vec::<String>::new());

    // The next hour's sweep finds the failed drill and leaves the look-alike, saying so.
    let mut hourly = event(PRUNER, &(Utc::now() + TimeDelta::minutes(20)).to_rfc3339());
    hourly["detail"] = json!({"instance": "nobody"});
    let answer = match stack.invoke("restore-drill", &hourly).await.unwrap() {
        Invocation::Succeeded(v) => v,
        failed => panic!("the hourly event failed: {failed:?}"),
    };
    assert_eq!(answer["swept"]["sandboxes_deleted"], 0, "{answer}");
    assert_eq!(answer["swept"]["not_deleted"], json!([sandbox]), "{answer}");
    assert_eq!(
        snapshot(&stack, &sandbox).await,
        before,
        "the look-alike as it was"
    );
    assert_eq!(touching(&stack, &sandbox, "restore-drill"), Vec::<String>::new());
}

/// The drill's start dies right after DynamoDB made its sandbox: the state machine's retry
/// takes that sandbox (unmarked, but restored from the plan's backup after the plan), checks
/// it and deletes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_restarted_after_a_crash_between_its_restore_and_its_marks_goes_on_with_its_own_sandbox() {
    let stack = stack().await;
    acme_orders(&stack).await;
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "RestoreTableFromBackup")
            .by("restore-drill")
            .times(1)
            .kill_caller(),
    );
    match drills::run(&stack, "drill-acme-crash", &json!({"instance_id": "acme"}))
        .await
        .unwrap()
    {
        Invocation::Succeeded(_) => {}
        failed => panic!("the retried start takes its own sandbox: {failed:?}"),
    }
    let restores: Vec<_> = calls_by(&stack, "restore-drill")
        .into_iter()
        .filter(|c| c.operation == "RestoreTableFromBackup")
        .collect();
    assert_eq!(restores.len(), 1, "restored once: {restores:?}");
    assert_eq!(restores[0].injected.as_deref(), Some("kill_caller"));
    let tables = stack.dynamodb().list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().iter().any(|t| t.starts_with("lbd-")),
        "{:?}",
        tables.table_names()
    );
}

/// Files a rollback of `orders` to its scheduled backup two hours ago, with three items
/// changed since; the request.
async fn orders_to_roll_back(stack: &LocalStack) -> (String, DateTime<Utc>) {
    production_orders(stack).await;
    put(stack, "orders", "o1", "as it was").await;
    let now = Utc::now();
    let backup_hour = hour_before(now, 2);
    scheduled_points(stack, backup_hour).await;
    put(stack, "orders", "o1", "changed later").await;
    let id = file(stack, now - TimeDelta::minutes(30)).await;
    (id, backup_hour)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_whose_staging_name_a_look_alike_holds_fails_and_leaves_it() {
    let stack = stack().await;
    let (id, backup_hour) = orders_to_roll_back(&stack).await;
    let staging = names(&id, &ResourceKey::dynamodb("orders")).staging;
    resources::dynamodb_table(&stack, &staging, &[]).await.unwrap();
    put(&stack, &staging, "its-own", "the look-alike's").await;
    let before = (snapshot(&stack, &staging).await, orders(&stack).await);
    stack.edge.ledger.clear();

    let points = json!([{"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}]);
    let execution = execution_of(&approve(&stack, &id, points).await);
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "FAILED", "{end:?}");
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(
        (snapshot(&stack, &staging).await, orders(&stack).await),
        before,
        "the look-alike and production as they were"
    );
    assert_eq!(
        touching(&stack, &staging, "restore-executor"),
        Vec::<String>::new()
    );
    // Refused at its restore: never restored, never taken, and the outcome says why.
    let (report, _) = report(&stack, &id).await;
    let cause = report["outcome"]["cause"].as_str().unwrap();
    assert!(
        cause.contains(&format!("dynamodb:{staging}")) && cause.contains("not this restore's"),
        "{cause}"
    );
    assert_eq!(report["resources"][0]["phase"], "safety_started", "{report:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_restarted_after_a_crash_between_its_staging_restore_and_its_marks_goes_on() {
    let stack = stack().await;
    let (id, backup_hour) = orders_to_roll_back(&stack).await;
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "RestoreTableFromBackup")
            .by("restore-executor")
            .times(1)
            .kill_caller(),
    );
    let points = json!([{"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}]);
    let execution = execution_of(&approve(&stack, &id, points).await);
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    assert_eq!(
        orders(&stack).await.get("o1").map(String::as_str),
        Some("as it was"),
        "rolled back from its own staging"
    );
    let restores: Vec<_> = calls_by(&stack, "restore-executor")
        .into_iter()
        .filter(|c| c.operation == "RestoreTableFromBackup")
        .collect();
    assert_eq!(restores.len(), 1, "restored once: {restores:?}");
    assert_eq!(restores[0].injected.as_deref(), Some("kill_caller"));
    let staging = names(&id, &ResourceKey::dynamodb("orders")).staging;
    assert!(!exists(&stack, &staging).await, "staging deleted at the end");
}

/// A table proven this restore's by DynamoDB's record alone (the restore's process died before
/// marking it) is marked before it is deleted: the roles may delete only a table marked as a
/// restore's, so an unmarked delete would be refused in AWS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmarked_table_proven_the_restores_is_marked_before_it_is_deleted() {
    let stack = stack().await;
    let backup = orders_backed_up(&stack).await;
    let production = ResourceKey::dynamodb("orders");
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let sandbox = sandbox_name(DRILL, &production);
    let asked_after = Utc::now();
    restore_from(&stack, &sandbox, &backup).await;
    stack.edge.ledger.clear();
    let t = target(
        DRILL,
        &production,
        &sandbox,
        RestoreFrom::Snapshot(backup),
        asked_after,
    );
    // Marked, and deleted at the next poll (the marks take a moment to reach IAM).
    let first = restorer.delete_staging(&t).await.unwrap_err();
    assert_eq!(first.kind, FailureKind::Conflict, "{first}");
    assert!(exists(&stack, &sandbox).await);
    assert_eq!(restorer.delete_staging(&t).await.unwrap(), Deletion::Deleted);
    let writes: Vec<String> = (stack.edge.ledger.log().into_iter())
        .filter(|c| ["TagResource", "DeleteTable"].contains(&c.operation.as_str()))
        .map(|c| c.operation)
        .collect();
    assert_eq!(writes, ["TagResource", "DeleteTable"], "marked, then deleted");
    assert!(!exists(&stack, &sandbox).await);
}

/// A point-in-time restore of production by the staging name, made after the run started but
/// to another instant than the one this restore asks for (someone else's restore), is not
/// this restore's staging: refused, untouched (the edge reports the instant each
/// `RestoreTableToPointInTime` asked for, as DynamoDB does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_point_in_time_restore_of_production_to_another_instant_is_not_the_restores_staging() {
    let stack = stack().await;
    orders_backed_up(&stack).await;
    let production = ResourceKey::dynamodb("orders");
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let staging = names(REQUEST, &production).staging;
    let asked_after = Utc::now();
    let at = Utc::now() - TimeDelta::minutes(5);
    let elsewhen = at - TimeDelta::minutes(5);
    stack
        .dynamodb()
        .restore_table_to_point_in_time()
        .source_table_name("orders")
        .target_table_name(&staging)
        .restore_date_time(aws_sdk_dynamodb::primitives::DateTime::from_secs(
            elsewhen.timestamp(),
        ))
        .send()
        .await
        .unwrap();
    let before = snapshot(&stack, &staging).await;
    stack.edge.ledger.clear();
    let t = target(
        REQUEST,
        &production,
        &staging,
        RestoreFrom::PointInTime(at),
        asked_after,
    );
    let refused = restorer.start_staging(&t).await.unwrap_err();
    assert_eq!(refused.kind, FailureKind::NotOurs, "{refused}");
    assert!(
        refused.to_string().contains(&staging) && refused.message.contains("restored to"),
        "names the table and the instant: {refused}"
    );
    let delete = restorer.delete_staging(&t).await.unwrap_err();
    assert_eq!(delete.kind, FailureKind::NotOurs, "{delete}");
    assert_eq!(touching(&stack, &staging, TESTER), Vec::<String>::new());
    assert_eq!(snapshot(&stack, &staging).await, before, "left as it was");
}

/// Backups of production by the names a rollback gives its own (safety, pre-swap, retired),
/// made before the rollback asked for them: never taken for its own. Its safety and pre-swap
/// backups are ones it asks for (an undo would otherwise put production back to the older
/// state), and a look-alike retired backup is not reported as the live table kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_by_the_rollbacks_names_made_before_it_asked_are_never_taken_for_its_own() {
    let stack = stack().await;
    orders_backed_up(&stack).await;
    let production = ResourceKey::dynamodb("orders");
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let n = names(REQUEST, &production);
    let mut older = BTreeMap::new();
    let mut newest = aws_sdk_dynamodb::primitives::DateTime::from_secs(0);
    for name in [&n.safety, &n.pre_swap, &n.retired] {
        let out = stack
            .dynamodb()
            .create_backup()
            .table_name("orders")
            .backup_name(name)
            .send()
            .await
            .unwrap();
        let details = out.backup_details().unwrap();
        newest = newest.max(*details.backup_creation_date_time());
        older.insert(name.clone(), details.backup_arn().to_string());
    }
    // The rollback asks later than the look-alikes were made, by more than the clocks' margin.
    let made = chrono::DateTime::from_timestamp(newest.secs(), newest.subsec_nanos()).unwrap();
    let margin = chrono::TimeDelta::seconds(5); // the restorer's CLOCK_MARGIN
    lifeboat_e2e::eventually("the look-alikes to be older than the clocks' margin", || async {
        (chrono::Utc::now() > made + margin).then_some(())
    })
    .await;
    stack.edge.ledger.clear();
    let taken = restorer
        .start_safety_snapshot(&production, &n.safety, REQUEST)
        .await
        .unwrap();
    assert_ne!(
        taken, older[&n.safety],
        "a backup of its own, not the older one by its name"
    );
    assert_eq!(
        restorer
            .start_safety_snapshot(&production, &n.safety, REQUEST)
            .await
            .unwrap(),
        taken,
        "a retry finds the one it took"
    );
    let created = |stack: &LocalStack| {
        (stack.edge.ledger.log().iter())
            .filter(|c| c.operation == "CreateBackup")
            .count()
    };
    assert_eq!(created(&stack), 1);

    // Staging as check_ready leaves it (restored from the safety backup, marked, pinned): the
    // swap's first step asks for its own pre-swap backup.
    let asked_after = Utc::now();
    restore_from(&stack, &n.staging, &taken).await;
    let marks = [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "staging")];
    tag(&stack, &n.staging, &marks).await;
    let t = target(
        REQUEST,
        &production,
        &n.staging,
        RestoreFrom::Snapshot(taken),
        asked_after,
    );
    let pinned = restorer.identity(&t, Made::Staging).await.unwrap();
    let t = Target {
        staging_identity: Some(&pinned),
        ..t
    };
    stack.edge.ledger.clear();
    let first = restorer.swap(&t, &n.safety).await.unwrap();
    assert!(
        matches!(first, Progress::Pending(ref why) if why.contains(&n.pre_swap)),
        "{first:?}"
    );
    assert_eq!(created(&stack), 1, "its own pre-swap backup asked for");
    assert_eq!(
        restorer.kept_aside(&t).await.unwrap(),
        None,
        "a retired backup it never took is not reported kept"
    );
}
