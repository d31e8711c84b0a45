//! A fault at each step in turn (5xx, refusal, staging stuck `creating`, a failure after the
//! swap began): retried to success, or ending with production untouched and the request
//! failed; and failures after the swap that keep or undo what it changed.

use super::*;

/// What a refused step's calls answer: a refusal no retry can fix.
const REFUSAL: &str = "InvalidParameterCombination";

/// A fault rule on the executor's calls of `operation`.
fn executor_calls(operation: &str) -> FaultRuleBuilder {
    FaultRule::on_operation(operation).by("restore-executor")
}

/// Each step in turn meets a fault. Failures end with production untouched, staging
/// deleted, holds released and the request failed; transient faults are retried through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_at_each_step_are_retried_or_end_with_production_untouched() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let cases = [
        (
            "resolve",
            executor_calls("DescribeDBInstanceAutomatedBackups").server_error(500),
            "Lifeboat.Retryable",
        ),
        (
            "safety_snapshot",
            executor_calls("CreateDBSnapshot").refuse(REFUSAL),
            "Lifeboat.Permanent",
        ),
        (
            "restore_staging",
            executor_calls("RestoreDBInstanceToPointInTime").server_error(500),
            "Lifeboat.Retryable",
        ),
        (
            "check_ready",
            executor_calls("DescribeDBInstances")
                .target_contains("lbs-")
                .report_creating(),
            "Lifeboat.StagingTimeout",
        ),
        // The two renames pass; giving the restored instance production's tags is refused.
        (
            "swap",
            executor_calls("AddTagsToResource")
                .skip(1)
                .times(1)
                .refuse(REFUSAL),
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
        .add(executor_calls("CreateDBSnapshot").times(2).throttle());
    stack.edge.faults.add(
        executor_calls("RestoreDBInstanceToPointInTime")
            .times(4)
            .server_error(500),
    );
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
    stack.edge.faults.add(
        executor_calls("DeleteTable")
            .target_contains("lbs-")
            .refuse(REFUSAL),
    );
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
    stack.edge.faults.add(
        executor_calls("PutObject")
            .target_contains("report.json")
            .skip(1)
            .times(1)
            .refuse(REFUSAL),
    );
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
    stack.edge.faults.add(
        executor_calls("ModifyDBInstance")
            .skip(2)
            .times(1)
            .refuse("InvalidParameterCombination"),
    );
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
    stack.edge.faults.add(
        FaultRule::on("rds", "DescribeDBInstances")
            .by("restore-executor")
            .target_equals("db")
            .after("RemoveTagsFromResource")
            .skip(1)
            .times(3)
            .report_status("backing-up"),
    );
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
    stack.edge.faults.add(
        executor_calls("BatchWriteItem")
            .skip(1)
            .times(1)
            .refuse("ValidationException"),
    );
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

/// After both renames, every tagging of the new production is refused for good (a tag policy,
/// a full tag set): no retry cures it. The restore ends in bounded time, with the instance
/// that now serves production left serving and nothing deleted, and the request says what
/// happened and what is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_after_the_swap_ends_the_restore_naming_what_is_missing() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    // The fallback's marks (the first tagging) pass; every later tagging or untagging of
    // `db` is refused.
    stack.edge.faults.add(
        executor_calls("AddTagsToResource")
            .target_contains(":db:db")
            .skip(1)
            .refuse("TagPolicyViolation"),
    );
    stack.edge.faults.add(
        executor_calls("RemoveTagsFromResource")
            .target_contains(":db:db")
            .refuse("TagPolicyViolation"),
    );
    let (id, execution) = roll_db_back_five_minutes(&stack).await;
    eventually("the restore to wait for confirmation", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(
        (end.status.as_str(), end.error.as_deref()),
        ("FAILED", Some("Lifeboat.Permanent")),
        "the failure path ended, not itself failed: {end:?}"
    );
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "failed", "{r}");
    let deletes = (calls_by(&stack, "restore-executor").into_iter())
        .filter(|c| c.operation == "DeleteDBInstance" && !c.target.contains("lbs-"))
        .count();
    assert_eq!(deletes, 0, "nothing that served production is deleted");
    let ids = instance_ids(&stack).await;
    assert!(
        ids.contains(&"db".to_string()),
        "production's name still serves: {ids:?}"
    );
    let n = names(&id, &ResourceKey::rds("db"));
    assert_eq!(
        instance_ids(&stack).await,
        vec!["db".to_string(), n.fallback.clone()]
    );
    let serving = tags(&instance(&stack, "db").await.unwrap());
    assert_eq!(
        serving.get(TAG_RESTORE_REQUEST),
        Some(&id),
        "the restored instance serves"
    );
    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["resources"][0]["phase"], "swapped", "{report:#}");
    for said in [
        "TagPolicyViolation",
        "the undo could not go on",
        "production stays the restored instance",
        &n.fallback,
    ] {
        assert!(markdown.contains(said), "the report says {said:?}: {markdown}");
    }
    // The engineer watching sees it: the request's last word says which and why.
    let last = r["run"]["timeline"].as_array().unwrap().last().unwrap()["detail"].clone();
    assert!(
        last.as_str().unwrap().contains("undo stopped")
            && last.as_str().unwrap().contains("TagPolicyViolation"),
        "{last}"
    );
}
