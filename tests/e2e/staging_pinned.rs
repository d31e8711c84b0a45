//! Staging replaced while a rollback waits for its confirmation: someone who may manage
//! non-production resources deletes the restore's staging and makes their own under its name,
//! carrying the restore's marks copied from it. Staging's identity was pinned when
//! `check_ready` proved it, so after the confirmation the swap refuses the replacement before
//! production is touched, the failure path ends the request failed in bounded time, and the
//! replacement is left as it is (neither copied nor renamed into production, nor deleted).
//! Staging replaced while a copy-back shard runs is caught after the page it read from the
//! replacement, before anything of that page is written, and the shard never finishes.
//! Likewise an RDS snapshot by a restore's safety snapshot name is its own only when it
//! carries the marks the restore tags it with at creation.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_rds::types::Tag;
use chrono::{TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::names::names;
use lifeboat::execution::shard::Side;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Progress, Restorer};
use lifeboat::ports::FailureKind;
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_aws::rds_restore::RdsRestorer;
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::REQUESTS_TABLE;
use lifeboat_local::LocalStack;
use serde_json::{json, Value};

use crate::dynamodb_copy_back as copy_back;
use crate::restore_execution::{approve, orders, production_orders};

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

/// Waits until the restore of `id` waits for its confirmation (staging proven and pinned).
async fn awaiting_confirmation(stack: &LocalStack, id: &str) {
    eventually("the restore to await confirmation", || async {
        let r = request(stack, id).await;
        assert_ne!(r["status"], "failed", "failed before confirmation: {r}");
        (r["awaiting_confirmation"] == true).then_some(())
    })
    .await;
}

/// The request's timeline as one text.
fn timeline(r: &Value) -> String {
    r["run"]["timeline"].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_staging_replaced_while_awaiting_confirmation_is_never_copied_into_production() {
    let stack = stack().await;
    production_orders(&stack).await;
    for i in 1..=3 {
        put(&stack, "orders", &format!("o{i}"), "as it was").await;
    }
    let now = Utc::now();
    let backup_hour = hour_before(now, 2);
    scheduled_points(&stack, backup_hour).await;
    let id = file(&stack, now - TimeDelta::minutes(30)).await;
    let staging = names(&id, &ResourceKey::dynamodb("orders")).staging;
    let points = json!([{"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}]);
    let execution = execution_of(&approve(&stack, &id, points).await);
    awaiting_confirmation(&stack, &id).await;
    let before = orders(&stack).await;
    assert_eq!(before.len(), 3, "{before:?}");

    // The replacement carries the marks of the table it replaces: only its identity differs.
    let marks = [(TAG_RESTORE_REQUEST, id.as_str()), (TAG_RESTORE_ROLE, "staging")];
    stack
        .dynamodb()
        .delete_table()
        .table_name(&staging)
        .send()
        .await
        .unwrap();
    lifeboat_local::resources::dynamodb_table(&stack, &staging, &marks)
        .await
        .unwrap();
    put(&stack, &staging, "intruder", "planted").await;
    confirm(&stack, &id).await;

    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "FAILED", "{end:?}");
    assert_eq!(orders(&stack).await, before, "production is as it was");
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "failed", "{r}");
    let timeline = timeline(&r);
    assert!(
        timeline.contains(&staging) && timeline.contains("replaced under the name"),
        "the failure names staging and why: {timeline}"
    );
    // Not this restore's: left as it is, never deleted.
    let left = stack.dynamodb().scan().table_name(&staging).send().await.unwrap();
    assert_eq!(left.count(), 1, "the replacement is left as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rds_staging_replaced_while_awaiting_confirmation_never_becomes_production() {
    let stack = stack().await;
    let rds = stack.rds();
    rds.create_db_instance()
        .db_instance_identifier("db")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("lifeboat")
        .master_user_password("local-only-password")
        .backup_retention_period(3)
        .tags(Tag::builder().key(TAG_INSTANCE).value("acme").build())
        .send()
        .await
        .unwrap();
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let id = file(&stack, now - TimeDelta::minutes(30)).await;
    let n = names(&id, &ResourceKey::rds("db"));
    let target = (now - TimeDelta::minutes(35)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let points = json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]);
    let execution = execution_of(&approve(&stack, &id, points).await);
    awaiting_confirmation(&stack, &id).await;

    // The replacement carries the marks of the instance it replaces: only its identity differs.
    rds.delete_db_instance()
        .db_instance_identifier(&n.staging)
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    let mut intruder = rds
        .create_db_instance()
        .db_instance_identifier(&n.staging)
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("intruder")
        .master_user_password("intruder-password");
    for (k, v) in [(TAG_RESTORE_REQUEST, id.as_str()), (TAG_RESTORE_ROLE, "staging")] {
        intruder = intruder.tags(Tag::builder().key(k).value(v).build());
    }
    intruder.send().await.unwrap();
    confirm(&stack, &id).await;

    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "FAILED", "{end:?}");
    let out = rds.describe_db_instances().send().await.unwrap();
    let master = |name: &str| {
        (out.db_instances().iter())
            .find(|d| d.db_instance_identifier() == Some(name))
            .map(|d| d.master_username().unwrap_or_default().to_string())
    };
    assert_eq!(
        master("db").as_deref(),
        Some("lifeboat"),
        "production is the original"
    );
    assert_eq!(master(&n.staging).as_deref(), Some("intruder"), "left as it is");
    assert_eq!(
        master(&n.fallback),
        None,
        "the original never left production's name"
    );
    let db = out
        .db_instances()
        .iter()
        .find(|d| d.db_instance_identifier() == Some("db"))
        .unwrap();
    assert!(
        db.tag_list().iter().all(|t| t.key() != Some(TAG_RESTORE_REQUEST)),
        "production carries none of the restore's marks: {:?}",
        db.tag_list()
    );
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "failed", "{r}");
    let timeline = timeline(&r);
    assert!(
        timeline.contains(&n.staging) && timeline.contains("replaced under the name"),
        "the failure names staging and why: {timeline}"
    );
    assert!(!timeline.contains("unexpected state"), "{timeline}");
}

/// A snapshot of production by a restore's safety snapshot name that the restore did not
/// make (no marks: an operator's) is never taken for its safety snapshot; the one a first
/// try made is found again by a retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rds_snapshot_by_the_safety_snapshot_s_name_without_the_request_s_marks_is_refused() {
    let stack = stack().await;
    lifeboat_local::resources::rds_instance(&stack, "db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    let production = ResourceKey::rds("db");
    let restorer = RdsRestorer::new(stack.rds());
    let (theirs, ours) = ("rr-0a11ce00", "rr-0b0b0b00");
    let safety = names(theirs, &production).safety;
    stack
        .rds()
        .create_db_snapshot()
        .db_instance_identifier("db")
        .db_snapshot_identifier(&safety)
        .send()
        .await
        .unwrap();
    let refused = restorer
        .start_safety_snapshot(&production, &safety, theirs)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, FailureKind::NotOurs, "{refused}");
    assert!(refused.to_string().contains(&safety), "names it: {refused}");

    let safety = names(ours, &production).safety;
    for _ in 0..2 {
        let taken = restorer.start_safety_snapshot(&production, &safety, ours).await;
        assert_eq!(taken.unwrap(), safety, "made, then found by the retry");
    }
}

/// The copy-back's last shard (the live table's side, deleting what staging lacks) passes its
/// pin check, then staging is deleted and an empty table with no marks made under its name
/// while the shard scans the live table: the keys it then reads from the replacement are
/// caught by the check after the page, so nothing is deleted from production, the shard
/// fails `NotOurs` naming staging, and the copy-back does not count as finished (the failure
/// path undoes it rather than keeping it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staging_replaced_during_a_shards_run_is_never_read_as_staging() {
    let stack = stack().await;
    let production = ResourceKey::dynamodb("orders");
    let n = copy_back::tables(&stack, &production).await;
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let pins = copy_back::staging_pinned(&restorer, &production, &n).await;
    let target = copy_back::target_of(&production, &n, &pins);
    restorer.swap(&target, "").await.unwrap();
    let shards = copy_back::spread(restorer.swap(&target, "").await.unwrap());
    let shard = shards
        .iter()
        .find(|s| s.side == Side::Target)
        .expect("a target-side shard")
        .clone();
    // Every other shard runs to its end from the real staging first: the one raced is the
    // copy-back's last.
    for other in shards.iter().filter(|s| **s != shard) {
        while restorer
            .run_shard(&target, other, Duration::from_secs(600))
            .await
            .unwrap()
            != Progress::Done
        {}
    }
    let before = copy_back::content(&stack, "orders").await;
    assert!(
        before.len() >= 11,
        "the other shards copied staging in: {before:?}"
    );

    // The shard's scan of production is held three seconds: the replacement is made after
    // the shard checked its pin (its DescribeTable of production comes after).
    stack.edge.ledger.clear();
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "Scan")
            .target_equals("orders")
            .times(1)
            .delay(3_000),
    );
    let run = restorer.run_shard(&target, &shard, Duration::from_secs(600));
    let replace = async {
        let s = &stack;
        eventually("the shard to pass its pin check", || async move {
            (s.edge.ledger.log().iter())
                .any(|c| c.operation == "DescribeTable" && c.target == "orders")
                .then_some(())
        })
        .await;
        s.dynamodb()
            .delete_table()
            .table_name(&n.staging)
            .send()
            .await
            .unwrap();
        lifeboat_local::resources::dynamodb_table(s, &n.staging, &[])
            .await
            .unwrap();
    };
    let (ran, ()) = tokio::join!(run, replace);
    let refused = ran.unwrap_err();
    assert_eq!(refused.kind, FailureKind::NotOurs, "{refused}");
    assert!(
        refused.to_string().contains(&n.staging) && refused.to_string().contains("replaced under the name"),
        "names staging and why: {refused}"
    );
    assert_eq!(
        copy_back::content(&stack, "orders").await,
        before,
        "nothing deleted from production on the replacement's say"
    );
    // The failure path's view: the swap refuses the replacement, and the copy-back is not
    // finished, so it is undone rather than kept as if staging's content were in.
    let swap = restorer.swap(&target, "").await.unwrap_err();
    assert_eq!(swap.kind, FailureKind::NotOurs, "{swap}");
    assert!(!restorer.swap_finished(&target).await.unwrap());
}
