//! A pin is taken only from what is proven this restore's: a DynamoDB table carrying copied
//! marks that DynamoDB records no restore of is never pinned as staging; an RDS instance
//! carrying the fallback's marks under the fallback's name that is not production's original
//! (pinned before the swap) is never renamed into production's name, nor are settings taken
//! from it, and the undo stops saying what holds which name.

use chrono::{TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::identity::Made;
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Holder, Origin, RestoreFrom, Restorer, Target};
use lifeboat::ports::FailureKind;
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_aws::rds_restore::RdsRestorer;
use lifeboat_e2e::{eventually, stack};
use lifeboat_local::names::REQUESTS_TABLE;
use lifeboat_local::{resources, LocalStack};

use crate::dynamodb_copy_back::{put, staging_marks, REQUEST};

/// A table made by a plain CreateTable after the run began (DynamoDB records no restore of
/// it) carrying marks copied from the real staging: refused as staging's pin, naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pin_is_never_taken_from_a_marked_table_no_restore_made() {
    let stack = stack().await;
    let production = ResourceKey::dynamodb("orders");
    resources::dynamodb_table(&stack, "orders", &[]).await.unwrap();
    let n = names(REQUEST, &production);
    let started = Utc::now() - TimeDelta::minutes(5);
    resources::dynamodb_table(&stack, &n.staging, &staging_marks())
        .await
        .unwrap();
    put(&stack, &n.staging, "intruder", "planted").await;
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let backup = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/backup/01700000000000-abcdefgh";
    let target = Target {
        request_id: REQUEST,
        production: &production,
        staging: &n.staging,
        fallback: &n.fallback,
        origin: Some(Origin {
            from: RestoreFrom::Snapshot(backup.into()),
            asked_after: started,
        }),
        staging_identity: None,
        fallback_identity: None,
    };
    let e = restorer.identity(&target, Made::Staging).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(
        e.to_string().contains(&format!("dynamodb:{}", n.staging)),
        "names it: {e}"
    );
    assert!(
        e.message.contains("DynamoDB records no restore that made it"),
        "says why: {e}"
    );
}

/// The master user of the instance `id`, if there is one: which instance it is, to a test.
async fn master_of(stack: &LocalStack, id: &str) -> Option<String> {
    let out = stack.rds().describe_db_instances().send().await.unwrap();
    (out.db_instances().iter())
        .find(|d| d.db_instance_identifier() == Some(id))
        .map(|d| d.master_username().unwrap_or_default().to_string())
}

/// After the swap's first step, the original is renamed away from the fallback's name and a
/// look-alike carrying the fallback's marks is made under it: the swap's next step does not
/// rename staging into production's name beside it, and the undo renames nothing into
/// production's name, refusing it as not production's original, with the names as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rds_undo_never_renames_a_look_alike_fallback_into_production() {
    let stack = stack().await;
    let production = ResourceKey::rds("db");
    let n = names(REQUEST, &production);
    let started = Utc::now() - TimeDelta::minutes(5);
    resources::rds_instance(&stack, "db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    resources::rds_instance(
        &stack,
        &n.staging,
        &[(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "staging")],
        3,
    )
    .await
    .unwrap();
    let restorer = RdsRestorer::new(stack.rds());
    let mut target = Target {
        request_id: REQUEST,
        production: &production,
        staging: &n.staging,
        fallback: &n.fallback,
        origin: Some(Origin {
            from: RestoreFrom::Snapshot("rds:db-2026-12-03-06-00".into()),
            asked_after: started,
        }),
        staging_identity: None,
        fallback_identity: None,
    };
    // As check_ready pins them: staging, and production's original.
    let staging = restorer.identity(&target, Made::Staging).await.unwrap();
    let original = restorer
        .original(&target)
        .await
        .unwrap()
        .expect("RDS pins the original");
    target.staging_identity = Some(&staging);
    target.fallback_identity = Some(&original);
    // The swap's first step: production marked as the fallback and renamed aside.
    restorer.swap(&target, "").await.unwrap();
    eventually("production set aside", || async {
        master_of(&stack, &n.fallback).await.map(|_| ())
    })
    .await;
    // The original renamed away; a look-alike carrying the fallback's marks under its name.
    stack
        .rds()
        .modify_db_instance()
        .db_instance_identifier(&n.fallback)
        .new_db_instance_identifier("original-moved")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    eventually("the original moved away", || async {
        master_of(&stack, &n.fallback).await.is_none().then_some(())
    })
    .await;
    let mut intruder = stack
        .rds()
        .create_db_instance()
        .db_instance_identifier(&n.fallback)
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("intruder")
        .master_user_password("intruder-password");
    for (k, v) in [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")] {
        intruder = intruder.tags(aws_sdk_rds::types::Tag::builder().key(k).value(v).build());
    }
    intruder.send().await.unwrap();

    let swap = restorer.swap(&target, "").await.unwrap_err();
    assert_eq!(swap.kind, FailureKind::NotOurs, "{swap}");
    assert!(
        swap.to_string().contains(&format!("rds:{}", n.fallback)),
        "{swap}"
    );
    let undo = restorer.undo_swap(&target, "").await.unwrap_err();
    assert_eq!(undo.kind, FailureKind::NotOurs, "{undo}");
    assert!(
        undo.to_string().contains(&format!("rds:{}", n.fallback)),
        "names it: {undo}"
    );
    assert!(
        undo.message.contains("not production's original"),
        "says why: {undo}"
    );
    assert_eq!(restorer.holder(&target).await.unwrap(), Holder::Nobody);
    // Nothing renamed: the names hold what they held.
    assert_eq!(master_of(&stack, "db").await, None);
    assert_eq!(master_of(&stack, &n.fallback).await.as_deref(), Some("intruder"));
    assert!(master_of(&stack, "original-moved").await.is_some());
    assert!(
        master_of(&stack, &n.staging).await.is_some(),
        "staging not renamed in"
    );
}
