//! The local stack's RDS data plane, end to end through the AWS SDK: every RDS instance has a
//! PostgreSQL database named after it, which follows the instance's snapshots, restores,
//! rename and deletion as RDS's data would.

use aws_sdk_rds::error::ProvideErrorMetadata as _;
use aws_sdk_rds::primitives::DateTime as AwsTime;
use chrono::{TimeDelta, Utc};
use lifeboat_e2e::stack;
use lifeboat_local::resources;
use lifeboat_local::LocalStack;
use tokio_postgres::{Client, NoTls};

/// A session on `database` of the stack's PostgreSQL.
async fn session(stack: &LocalStack, database: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(&stack.postgres().url_for(database), NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to database {database}: {e:?}"));
    tokio::spawn(connection);
    client
}

/// The rows of `items` in `database`, by id.
async fn items(stack: &LocalStack, database: &str) -> Vec<(i32, String)> {
    session(stack, database)
        .await
        .query("SELECT id, name FROM items ORDER BY id", &[])
        .await
        .unwrap_or_else(|e| panic!("reading items in {database}: {e:?}"))
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

fn rows(expected: &[(i32, &str)]) -> Vec<(i32, String)> {
    expected
        .iter()
        .map(|(id, name)| (*id, name.to_string()))
        .collect()
}

async fn exists(stack: &LocalStack, database: &str) -> bool {
    stack.postgres().database_exists(database).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_s_database_follows_its_snapshots_restores_rename_and_deletion() {
    let stack = stack().await;
    let rds = stack.rds();

    // Created: an empty database that takes a table and rows.
    resources::rds_instance(&stack, "app", &[], 3).await.unwrap();
    assert!(exists(&stack, "app").await, "CreateDBInstance makes the database");
    let app = session(&stack, "app").await;
    app.batch_execute(
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
         INSERT INTO items VALUES (1, 'one'), (2, 'two');",
    )
    .await
    .unwrap();
    let at_snapshot = rows(&[(1, "one"), (2, "two")]);

    // A snapshot while a session stays open on the instance (as applications keep theirs).
    rds.create_db_snapshot()
        .db_instance_identifier("app")
        .db_snapshot_identifier("app-snap")
        .send()
        .await
        .unwrap();
    let after_snapshot = Utc::now();
    let databases = stack.edge.databases().expect("the stack has a data plane");
    let copy = databases
        .copy_of("app-snap")
        .await
        .expect("the snapshot has a copy");
    assert_eq!(copy.instance, "app");
    assert_eq!(items(&stack, &copy.database).await, at_snapshot);

    // Later changes stay out of the snapshot.
    app.batch_execute(
        "DELETE FROM items WHERE id = 1;
         UPDATE items SET name = 'TWO' WHERE id = 2;
         INSERT INTO items VALUES (3, 'three');",
    )
    .await
    .unwrap();
    let now = rows(&[(2, "TWO"), (3, "three")]);

    rds.restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier("app-snap")
        .db_instance_identifier("app-from-snapshot")
        .send()
        .await
        .unwrap();
    assert_eq!(items(&stack, "app-from-snapshot").await, at_snapshot);

    // A point in time after the snapshot: the newest snapshot copy at or before it (the
    // local stack keeps no log to replay). RestoreTime goes in whole seconds: round up.
    let after = AwsTime::from_secs(after_snapshot.timestamp() + 1);
    rds.restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("app")
        .target_db_instance_identifier("app-at-time")
        .restore_time(after)
        .send()
        .await
        .unwrap();
    assert_eq!(items(&stack, "app-at-time").await, at_snapshot);

    // Before any snapshot: an empty database.
    let before = AwsTime::from_secs((after_snapshot - TimeDelta::hours(1)).timestamp());
    rds.restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("app")
        .target_db_instance_identifier("app-before")
        .restore_time(before)
        .send()
        .await
        .unwrap();
    let tables = session(&stack, "app-before")
        .await
        .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", &[])
        .await
        .unwrap();
    assert!(tables.is_empty(), "a restore before every snapshot is empty");

    // The latest restorable time: the source as it is.
    rds.restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("app")
        .target_db_instance_identifier("app-latest")
        .use_latest_restorable_time(true)
        .send()
        .await
        .unwrap();
    assert_eq!(items(&stack, "app-latest").await, now);
    assert_eq!(items(&stack, "app").await, now, "restores leave the source alone");

    // A copied snapshot has the data of the original; a final snapshot keeps a deleted
    // instance's data.
    rds.copy_db_snapshot()
        .source_db_snapshot_identifier("app-snap")
        .target_db_snapshot_identifier("app-snap-copy")
        .send()
        .await
        .unwrap();
    rds.delete_db_instance()
        .db_instance_identifier("app-latest")
        .final_db_snapshot_identifier("app-latest-final")
        .send()
        .await
        .unwrap();
    assert!(!exists(&stack, "app-latest").await);
    for (snapshot, instance, expected) in [
        ("app-snap-copy", "from-copy", &at_snapshot),
        ("app-latest-final", "from-final", &now),
    ] {
        rds.restore_db_instance_from_db_snapshot()
            .db_snapshot_identifier(snapshot)
            .db_instance_identifier(instance)
            .send()
            .await
            .unwrap();
        assert_eq!(
            &items(&stack, instance).await,
            expected,
            "restored from {snapshot}"
        );
    }

    // Renamed: the database moves, and the sessions on it end (as RDS's rename cuts them).
    rds.modify_db_instance()
        .db_instance_identifier("app")
        .new_db_instance_identifier("app-old")
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
    assert!(!exists(&stack, "app").await, "the old name is free");
    assert_eq!(items(&stack, "app-old").await, now);
    assert!(
        app.simple_query("SELECT 1").await.is_err(),
        "the session on the renamed database was ended"
    );

    // Deleted: the database goes; a deleted snapshot's copy goes.
    rds.delete_db_instance()
        .db_instance_identifier("app-old")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();
    assert!(!exists(&stack, "app-old").await);
    rds.delete_db_snapshot()
        .db_snapshot_identifier("app-snap")
        .send()
        .await
        .unwrap();
    assert!(
        !exists(&stack, &copy.database).await,
        "the snapshot's copy is dropped"
    );
    assert_eq!(databases.copy_of("app-snap").await, None);
    // Only the instances alive and the snapshots kept have databases.
    let mut left = stack.postgres().databases().await.unwrap();
    left.retain(|d| !d.starts_with("lbsnap_"));
    assert_eq!(
        left,
        [
            "app-at-time",
            "app-before",
            "app-from-snapshot",
            "from-copy",
            "from-final"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_database_cannot_follow_is_refused_by_name_without_retries() {
    let stack = stack().await;
    // Something already holds the name, so the instance's database cannot be created.
    stack.postgres().create_database("clash").await.unwrap();
    // With the SDK's retries, as functions call: the answer is not retried, so the caller
    // sees why rather than moto's "already exists" on a second try.
    let err = stack
        .rds()
        .create_db_instance()
        .db_instance_identifier("clash")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("lifeboat")
        .master_user_password("local-only-password")
        .send()
        .await
        .expect_err("the database cannot follow");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let err = err.into_service_error();
    assert_eq!(err.code(), Some(lifeboat_local::edge::DATA_PLANE_FAILURE));
    assert!(
        err.message().is_some_and(|m| m.contains("clash")),
        "the answer names the database: {err:?}"
    );
    let logged = stack
        .edge
        .ledger
        .log()
        .into_iter()
        .find(|c| c.operation == "CreateDBInstance")
        .expect("the call is logged");
    assert_eq!(
        (logged.status, logged.injected.as_deref()),
        (400, Some("data_plane"))
    );
    let tries = stack
        .edge
        .ledger
        .log()
        .iter()
        .filter(|c| c.operation == "CreateDBInstance")
        .count();
    assert_eq!(tries, 1, "not retried");
}
