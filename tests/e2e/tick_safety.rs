//! One tick at a time, on the local stack: idempotence, crashes, faults, and what is never touched.

use chrono::{TimeDelta, Utc};
use lifeboat::catalog::{PointState, ResourceKey};
use lifeboat::inventory::{TAG_INSTANCE, TAG_TIMEZONE};
use lifeboat::ports::Catalog;
use lifeboat::schedule::Slot;
use lifeboat_aws::CatalogTable;
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::{CATALOG_TABLE, REPORTS_BUCKET};
use lifeboat_local::resources;
use lifeboat_local::stack::Invocation;
use serde_json::json;

const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_tick_twice_creates_nothing_new() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    let snapshots = rds_snapshots(&stack).await;
    let backups = dynamodb_backups(&stack).await;
    assert_eq!(snapshots, vec!["lifeboat-db-20261128t0300z"]);
    assert_eq!(backups, vec!["lifeboat-orders-20261128t0300z"]);
    let records = catalog(&stack).await;

    stack.edge.ledger.clear();
    let again = tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    assert_eq!(rds_snapshots(&stack).await, snapshots);
    assert_eq!(
        dynamodb_backups(&stack).await,
        backups,
        "no second backup of the same slot"
    );
    assert_eq!(catalog(&stack).await.len(), records.len());
    let creates = calls_by(&stack, CREATOR)
        .into_iter()
        .filter(|c| c.operation.starts_with("Create"))
        .count();
    assert_eq!(creates, 0, "the retry only looks: {again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_part_way_through_a_tick_converges_on_retry() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    // moto makes the backup, then the edge kills the creator before it hears back.
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "CreateBackup")
            .target_contains("orders")
            .times(1)
            .kill_caller(),
    );
    let crashed = stack
        .invoke(CREATOR, &event(CREATOR, "2026-11-28T03:00:00Z"))
        .await
        .unwrap();
    assert_eq!(crashed.error_type(), Some("Runtime.ExitError"), "{crashed:?}");
    assert_eq!(
        dynamodb_backups(&stack).await.len(),
        1,
        "the backup was made before the crash"
    );

    // The schedule's retry: a new process, the same event.
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    assert_eq!(
        dynamodb_backups(&stack).await,
        vec!["lifeboat-orders-20261128t0300z"]
    );
    assert_eq!(rds_snapshots(&stack).await, vec!["lifeboat-db-20261128t0300z"]);
    let records = catalog(&stack).await;
    assert_eq!(records.len(), 2);
    assert!(records.iter().all(|r| r.service_id.is_some()), "{records:?}");
    // And the pruner's reconciliation finds nothing to adopt or report.
    let report = tick(&stack, PRUNER, "2026-11-28T03:30:00Z").await;
    assert!(
        report["reconciliation"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["action"] == "synced"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagged_resources_and_foreign_snapshots_are_never_touched() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::rds_instance(&stack, "untagged-db", &[("team", "x")], 1)
        .await
        .unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    resources::dynamodb_table(&stack, "untagged-table", &[])
        .await
        .unwrap();
    // Snapshots and backups someone else made, one of them with a Lifeboat-looking name.
    for (id, instance) in [
        ("nightly-by-ops", "db"),
        ("lifeboat-db-20200101t0000z", "db"),
        ("x", "untagged-db"),
    ] {
        stack
            .rds()
            .create_db_snapshot()
            .db_instance_identifier(instance)
            .db_snapshot_identifier(id)
            .send()
            .await
            .unwrap();
    }
    stack
        .dynamodb()
        .create_backup()
        .table_name("orders")
        .backup_name("manual-by-ops")
        .send()
        .await
        .unwrap();
    let foreign_rds = rds_snapshots(&stack).await;

    stack.edge.ledger.clear();
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    // A year later everything Lifeboat made has expired; the pruner runs.
    tick(&stack, CREATOR, "2027-12-01T03:00:00Z").await;
    tick(&stack, PRUNER, "2027-12-01T03:30:00Z").await;

    let untouched = |c: &&lifeboat_local::edge::calls::LoggedCall| !c.target.contains("untagged");
    let calls: Vec<_> = stack
        .edge
        .ledger
        .log()
        .into_iter()
        .filter(|c| c.caller != "tester")
        .collect();
    assert!(
        calls.iter().all(|c| untouched(&c)),
        "a call named an untagged resource: {calls:?}"
    );
    let snapshots = rds_snapshots(&stack).await;
    for foreign in &foreign_rds {
        assert!(
            snapshots.contains(foreign),
            "{foreign} was deleted: {snapshots:?}"
        );
    }
    assert!(dynamodb_backups(&stack)
        .await
        .contains(&"manual-by-ops".to_string()));
    assert!(
        !snapshots.iter().any(|s| s.starts_with("lifeboat-untagged")),
        "{snapshots:?}"
    );
    assert!(!dynamodb_backups(&stack)
        .await
        .iter()
        .any(|b| b.contains("untagged")));
    assert!(
        !snapshots.contains(&"lifeboat-db-20261128t0300z".to_string()),
        "Lifeboat's own expired point goes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_point_and_held_points_survive_expiry() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    for hour in ["03", "04", "05"] {
        tick(&stack, CREATOR, &format!("2026-11-24T{hour}:00:00Z")).await;
    }
    tick(&stack, PRUNER, "2026-11-24T05:30:00Z").await;
    let catalog_table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let held = Slot::containing(at("2026-11-24T03:00:00Z"));
    catalog_table
        .add_hold(&ResourceKey::dynamodb("orders"), held, "req-42")
        .await
        .unwrap();

    // Two years later, with no tick in between: every tier of every point has expired.
    let report = tick(&stack, PRUNER, "2028-11-24T05:30:00Z").await;
    assert_eq!(
        rds_snapshots(&stack).await,
        vec!["lifeboat-db-20261124t0500z"],
        "the newest survives"
    );
    assert_eq!(
        dynamodb_backups(&stack).await,
        vec!["lifeboat-orders-20261124t0300z", "lifeboat-orders-20261124t0500z"],
        "the held point and the newest survive"
    );
    let reasons: Vec<&str> = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert_eq!(reasons.iter().filter(|r| **r == "newest").count(), 2);
    assert_eq!(reasons.iter().filter(|r| **r == "held").count(), 1);
    // The hold released, the next run deletes it.
    catalog_table
        .remove_hold(&ResourceKey::dynamodb("orders"), held, "req-42")
        .await
        .unwrap();
    tick(&stack, PRUNER, "2028-11-24T06:30:00Z").await;
    assert_eq!(
        dynamodb_backups(&stack).await,
        vec!["lifeboat-orders-20261124t0500z"]
    );
    let deleted = catalog(&stack)
        .await
        .into_iter()
        .filter(|p| p.state == PointState::Deleted)
        .count();
    // The pruner reads present points through the sparse index, never the whole table.
    let reads: Vec<String> = calls_by(&stack, PRUNER)
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert!(
        reads.iter().any(|op| op == "Query") && !reads.iter().any(|op| op == "Scan"),
        "{reads:?}"
    );
    assert_eq!(
        deleted, 4,
        "deleted points stay in the catalog as the record of why"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_future_tick_is_refused_and_a_malformed_event_writes_nothing() {
    // Simulation switch off, as in a deployment.
    let stack = stack_with(&[("LIFEBOAT_SIMULATION", "false")]).await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    stack.edge.ledger.clear();
    let future = (Utc::now() + TimeDelta::days(400)).to_rfc3339();
    for function in [CREATOR, PRUNER] {
        let refused = stack.invoke(function, &event(function, &future)).await.unwrap();
        assert_eq!(refused.error_type(), Some("EventFromTheFuture"), "{refused:?}");
        let bad_events = [
            (json!("tick"), "Scheduled Event object"),
            (
                json!({"detail-type": "Scheduled Event", "time": "tomorrow"}),
                "`time`",
            ),
            (json!({"time": future}), "`detail-type`"),
        ];
        for (bad, named) in bad_events {
            match stack.invoke(function, &bad).await.unwrap() {
                Invocation::Failed { error_type, message } => {
                    assert_eq!(error_type, "InvalidEvent", "{bad}");
                    assert!(message.contains(named), "{bad}: {message} does not name {named}");
                }
                ok => panic!("{bad} was accepted: {ok:?}"),
            }
        }
        assert!(calls_by(&stack, function).is_empty(), "{function} called AWS");
    }
    // A replayed creation tick from yesterday would label today's data with yesterday's slot.
    let stale = (Utc::now() - TimeDelta::days(1)).to_rfc3339();
    let refused = stack.invoke(CREATOR, &event(CREATOR, &stale)).await.unwrap();
    assert_eq!(refused.error_type(), Some("EventTooOld"), "{refused:?}");
    assert!(calls_by(&stack, CREATOR).is_empty());
    assert!(rds_snapshots(&stack).await.is_empty());
    assert!(catalog(&stack).await.is_empty());
    let reports = stack
        .s3()
        .list_objects_v2()
        .bucket(REPORTS_BUCKET)
        .send()
        .await
        .unwrap();
    assert_eq!(reports.key_count(), Some(0));
    // A tick at the wall clock's time is accepted.
    tick(&stack, CREATOR, &Utc::now().to_rfc3339()).await;
    assert_eq!(rds_snapshots(&stack).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_snapshot_call_is_retried_and_the_others_are_not_held_up() {
    let stack = stack().await;
    for id in ["db-a", "db-b", "db-c"] {
        resources::rds_instance(&stack, id, &ACME, 3).await.unwrap();
    }
    stack.edge.faults.add(
        FaultRule::on("rds", "CreateDBSnapshot")
            .target_contains("db-b")
            .times(2)
            .throttle(),
    );
    stack.edge.ledger.clear();
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    assert_eq!(
        rds_snapshots(&stack).await,
        vec![
            "lifeboat-db-a-20261128t0300z",
            "lifeboat-db-b-20261128t0300z",
            "lifeboat-db-c-20261128t0300z"
        ]
    );
    let creates: Vec<_> = calls_by(&stack, CREATOR)
        .into_iter()
        .filter(|c| c.operation == "CreateDBSnapshot")
        .collect();
    let b: Vec<_> = creates.iter().filter(|c| c.target.contains("db-b")).collect();
    assert_eq!(b.len(), 3, "two throttled attempts, then success: {b:?}");
    assert_eq!(
        b.iter()
            .filter(|c| c.injected.as_deref() == Some("throttle"))
            .count(),
        2
    );
    let b_done = b.last().unwrap().seq;
    for other in creates.iter().filter(|c| !c.target.contains("db-b")) {
        assert!(other.seq < b_done, "{} waited for db-b's backoff", other.target);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_snapshot_quota_takes_what_fits_and_names_the_rest() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db-a", &ACME, 3).await.unwrap();
    resources::rds_instance(&stack, "db-b", &ACME, 3).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    // Two snapshots used; the next tick needs two more but only one is left.
    stack.edge.set_rds_snapshot_quota(3);
    let message = expect_failure(
        &stack,
        CREATOR,
        &event(CREATOR, "2026-11-28T04:00:00Z"),
        "QuotaExceeded",
    )
    .await;
    assert!(
        message.contains("ManualSnapshots") && message.contains("2 used of 3"),
        "{message}"
    );
    assert!(
        message.contains("took 1") && message.contains("skipped 1: rds:db-b"),
        "{message}"
    );
    assert_eq!(
        rds_snapshots(&stack).await.len(),
        3,
        "the snapshot that fits is made"
    );
    assert_eq!(
        dynamodb_backups(&stack).await.len(),
        2,
        "DynamoDB is not held back"
    );
    // Full now: RDS itself refuses one more, whoever asks.
    let refused = stack
        .rds()
        .create_db_snapshot()
        .db_instance_identifier("db-b")
        .db_snapshot_identifier("by-hand")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_rds::error::ProvideErrorMetadata::code(&refused.into_service_error()),
        Some("SnapshotQuotaExceeded")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn points_reported_creating_are_kept_until_available_and_dry_runs_change_nothing() {
    let stack = stack().await;
    resources::rds_instance(
        &stack,
        "db",
        &[(TAG_INSTANCE, "acme"), (TAG_TIMEZONE, "Europe/London")],
        3,
    )
    .await
    .unwrap();
    // RDS answers each creation with `creating`, as it does for minutes: the creator records
    // that answer (and the snapshot's id) on its claim.
    stack.edge.faults.add(
        FaultRule::on("rds", "CreateDBSnapshot")
            .times(2)
            .report_creating(),
    );
    tick(&stack, CREATOR, "2026-11-24T03:00:00Z").await;
    tick(&stack, CREATOR, "2026-11-24T04:00:00Z").await;
    assert!(
        catalog(&stack)
            .await
            .iter()
            .all(|p| p.state == PointState::Creating && p.service_id.is_some()),
        "the claims carry the service's answers"
    );
    // The service keeps saying `creating` for this poll.
    stack.edge.faults.add(
        FaultRule::on("rds", "DescribeDBSnapshots")
            .times(1)
            .report_creating(),
    );
    let report = tick(&stack, PRUNER, "2026-12-24T04:30:00Z").await;
    assert_eq!(report["deleted"], 0);
    let reasons: Vec<_> = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["reason"].clone())
        .collect();
    assert!(reasons.contains(&json!("still_creating")), "{reasons:?}");

    let dry = stack
        .invoke(PRUNER, &{
            let mut e = event(PRUNER, "2026-12-24T05:30:00Z");
            e["detail"] = json!({"dry_run": true});
            e
        })
        .await
        .unwrap();
    let Invocation::Succeeded(dry) = dry else {
        panic!("{dry:?}")
    };
    let outcomes: Vec<_> = dry["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["outcome"].clone())
        .collect();
    assert!(outcomes.contains(&json!("would_delete")), "{outcomes:?}");
    assert_eq!(rds_snapshots(&stack).await.len(), 2, "a dry run deletes nothing");

    let report = tick(&stack, PRUNER, "2026-12-24T06:30:00Z").await;
    assert_eq!(report["deleted"], 1);
    assert_eq!(rds_snapshots(&stack).await, vec!["lifeboat-db-20261124t0400z"]);
    // Every run wrote its report to the reports bucket.
    let keys = stack
        .s3()
        .list_objects_v2()
        .bucket(REPORTS_BUCKET)
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = keys
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    assert_eq!(
        keys,
        vec![
            "retention/2026/12/24/20261224t0400z.json",
            "retention/2026/12/24/20261224t0500z.dry-run.json",
            "retention/2026/12/24/20261224t0600z.json",
        ]
    );
    let body = stack
        .s3()
        .get_object()
        .bucket(REPORTS_BUCKET)
        .key("retention/2026/12/24/20261224t0600z.json")
        .send()
        .await
        .unwrap()
        .body
        .collect()
        .await
        .unwrap()
        .into_bytes();
    let stored: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let deleted: Vec<_> = stored["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["outcome"] == "deleted")
        .collect();
    assert_eq!(deleted.len(), 1);
    assert!(
        deleted[0]["expired_at"].is_string(),
        "the report says why: {}",
        deleted[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_resource_fails_the_tick_with_a_distinct_error_but_not_the_others() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "CreateBackup")
            .target_contains("orders")
            .server_error(500),
    );
    let message = expect_failure(
        &stack,
        CREATOR,
        &event(CREATOR, "2026-11-28T03:00:00Z"),
        "ResourcesFailed",
    )
    .await;
    assert!(
        message.contains("dynamodb:orders") && message.contains("CreateBackup"),
        "{message}"
    );
    assert_eq!(
        rds_snapshots(&stack).await.len(),
        1,
        "the RDS instance got its point"
    );
    stack.edge.faults.clear();
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    assert_eq!(
        dynamodb_backups(&stack).await,
        vec!["lifeboat-orders-20261128t0300z"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misconfigured_function_answers_configuration_naming_the_variable() {
    let stack = stack_with(&[("LIFEBOAT_MAX_DELETIONS_PER_RESOURCE", "lots")]).await;
    for function in [CREATOR, PRUNER] {
        let message = expect_failure(
            &stack,
            function,
            &event(function, "2026-11-28T03:00:00Z"),
            "Configuration",
        )
        .await;
        assert!(
            message.contains("LIFEBOAT_MAX_DELETIONS_PER_RESOURCE"),
            "{message}"
        );
    }
    assert!(catalog(&stack).await.is_empty());
}

/// The policy's point-in-time window is a minimum: an instance or table that keeps more
/// recovery history keeps all of it (reported `exceeds`); only a shorter or disabled window
/// is raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_point_in_time_window_is_kept_and_only_a_shorter_one_raised() {
    let stack = stack().await;
    resources::rds_instance(&stack, "long-db", &ACME, 14)
        .await
        .unwrap();
    resources::rds_instance(&stack, "short-db", &ACME, 1)
        .await
        .unwrap();
    resources::dynamodb_table(&stack, "long-table", &ACME)
        .await
        .unwrap();
    resources::dynamodb_table(&stack, "off-table", &ACME)
        .await
        .unwrap();
    let spec = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .recovery_period_in_days(35)
        .build()
        .unwrap();
    stack
        .dynamodb()
        .update_continuous_backups()
        .table_name("long-table")
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .unwrap();

    stack.edge.ledger.clear();
    let summary = tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    let pitr_of = |name: &str| {
        summary["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"].as_str().unwrap().ends_with(&format!(":{name}")))
            .map(|r| r["pitr"].clone())
            .unwrap_or_else(|| panic!("{name} in {summary}"))
    };
    assert_eq!(
        pitr_of("long-db"),
        json!({"status": "exceeds", "window_days": 14, "minimum": 3})
    );
    assert_eq!(
        pitr_of("long-table"),
        json!({"status": "exceeds", "window_days": 35, "minimum": 3})
    );
    assert_eq!(
        pitr_of("short-db"),
        json!({"status": "drift_corrected", "found": 1, "set": 3})
    );
    assert_eq!(
        pitr_of("off-table"),
        json!({"status": "drift_corrected", "found": null, "set": 3})
    );

    let retention = |id: &'static str| {
        let rds = stack.rds();
        async move {
            rds.describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
                .unwrap()
                .db_instances()[0]
                .backup_retention_period()
        }
    };
    assert_eq!(
        retention("long-db").await,
        Some(14),
        "no recovery history deleted"
    );
    assert_eq!(retention("short-db").await, Some(3));
    let period = |table: &'static str| {
        let dynamodb = stack.dynamodb();
        async move {
            dynamodb
                .describe_continuous_backups()
                .table_name(table)
                .send()
                .await
                .unwrap()
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|p| p.recovery_period_in_days())
        }
    };
    assert_eq!(
        period("long-table").await,
        Some(35),
        "no recovery history deleted"
    );
    assert_eq!(period("off-table").await, Some(3));
    let changed: Vec<String> = calls_by(&stack, CREATOR)
        .into_iter()
        .filter(|c| c.operation == "ModifyDBInstance" || c.operation == "UpdateContinuousBackups")
        .map(|c| c.target)
        .collect();
    assert!(
        changed.iter().all(|t| !t.contains("long-")),
        "a longer window was written: {changed:?}"
    );
}

/// The metric lines (CloudWatch embedded metric format) a function wrote to its log.
fn metric_lines(stack: &lifeboat_local::LocalStack, function: &str) -> Vec<serde_json::Value> {
    let log =
        std::fs::read_to_string(stack.config.work_dir.join(format!("{function}.log"))).unwrap_or_default();
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("_aws").is_some())
        .collect()
}

/// A resource whose points the catalog holds but that is no longer backed up (its instance
/// tag removed, or a restore's mark left on it) is named on every tick and counted in a
/// metric the template alarms on; so are points that vanished from the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_no_longer_backed_up_is_named_and_counted_on_every_tick() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(&stack, "orders", &ACME).await.unwrap();
    resources::rds_instance(&stack, "kept-db", &ACME, 3)
        .await
        .unwrap();
    for hour in ["2026-11-28T03:00:00Z", "2026-11-28T04:00:00Z"] {
        tick(&stack, CREATOR, hour).await;
    }
    tick(&stack, PRUNER, "2026-11-28T04:30:00Z").await;

    // Someone untags db; a failed swap leaves orders marked; kept-db loses a snapshot.
    let arn = stack
        .rds()
        .describe_db_instances()
        .db_instance_identifier("db")
        .send()
        .await
        .unwrap()
        .db_instances()[0]
        .db_instance_arn()
        .unwrap()
        .to_string();
    stack
        .rds()
        .remove_tags_from_resource()
        .resource_name(&arn)
        .tag_keys(TAG_INSTANCE)
        .send()
        .await
        .unwrap();
    let table_arn = stack
        .dynamodb()
        .describe_table()
        .table_name("orders")
        .send()
        .await
        .unwrap()
        .table()
        .unwrap()
        .table_arn()
        .unwrap()
        .to_string();
    let mark = |k: &str, v: &str| {
        aws_sdk_dynamodb::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
            .unwrap()
    };
    stack
        .dynamodb()
        .tag_resource()
        .resource_arn(&table_arn)
        .tags(mark(lifeboat::inventory::TAG_RESTORE_ROLE, "fallback"))
        .tags(mark(lifeboat::inventory::TAG_RESTORE_REQUEST, "rr-0000aaaa"))
        .send()
        .await
        .unwrap();
    stack
        .rds()
        .delete_db_snapshot()
        .db_snapshot_identifier("lifeboat-kept-db-20261128t0300z")
        .send()
        .await
        .unwrap();

    for (n, time) in ["2026-11-28T05:30:00Z", "2026-11-28T06:30:00Z"]
        .into_iter()
        .enumerate()
    {
        tick(&stack, CREATOR, &time.replace(":30:", ":00:")).await;
        // The first lists every resource, as each one's daily turn would.
        let report = tick_with(&stack, PRUNER, time, json!({"reconcile_all": n == 0})).await;
        let unmanaged: std::collections::BTreeMap<String, (u64, String)> = report["unmanaged"]
            .as_array()
            .unwrap_or_else(|| panic!("no unmanaged in {report}"))
            .iter()
            .map(|u| {
                let why = u["why"].as_str().unwrap().to_string();
                (
                    u["resource"].as_str().unwrap().to_string(),
                    (u["points"].as_u64().unwrap(), why),
                )
            })
            .collect();
        assert_eq!(unmanaged.len(), 2, "tick {n}: {unmanaged:?}");
        let (points, why) = &unmanaged["dynamodb:orders"];
        assert_eq!(*points, 2);
        assert!(why.contains("restore-role=fallback"), "{why}");
        let (points, why) = &unmanaged["rds:db"];
        assert_eq!(*points, 2);
        assert!(why.contains("tag was removed"), "{why}");
        let metric = metric_lines(&stack, PRUNER).pop().expect("a metric line");
        assert_eq!(metric["UnmanagedResourcesWithPoints"], 2, "tick {n}: {metric}");
        assert_eq!(metric["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Lifeboat");
        // The vanished snapshot is counted on the tick that finds it gone.
        assert_eq!(
            metric["VanishedPoints"],
            if n == 0 { 1 } else { 0 },
            "tick {n}: {metric}"
        );
    }
    // Neither is backed up any more: the creator made nothing for them.
    let snapshots = rds_snapshots(&stack).await;
    assert!(
        !snapshots.iter().any(|s| s.starts_with("lifeboat-db-20261128t05")),
        "{snapshots:?}"
    );
    assert!(snapshots
        .iter()
        .any(|s| s.starts_with("lifeboat-kept-db-20261128t05")));
}
