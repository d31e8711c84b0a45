//! Retries: idempotent answers, exactly one execution per approval (also after a failed
//! start), and exactly one winner of two conditional replacements.

use super::*;

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
    stack.edge.faults.add(
        FaultRule::on("states", "StartExecution")
            .times(lifeboat_aws::MAX_ATTEMPTS)
            .server_error(500),
    );
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
