//! What is refused or runs out, with production untouched: requests not approved, already
//! executing or malformed; a point outside the window (and the fallback snapshot held for
//! it); no confirmation in time; a console confirmation by the approver.

use super::*;

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
