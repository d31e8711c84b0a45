//! Filing, reading and listing requests; triage of each of the policy's examples; options
//! inside and outside the point-in-time window, and the holds they place, honoured by the
//! pruner and released.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filing_reading_listing_and_triage_of_each_policy_example() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    for resource in ["rds:db", "dynamodb:orders"] {
        set_window(&stack, resource, now - TimeDelta::hours(72), now).await;
    }
    let occurred = now - TimeDelta::hours(3);
    let examples = [
        (
            "infrastructure_failure",
            "A storage failure lost the morning's writes.",
            None,
            "likely_qualifies",
        ),
        (
            "integration_mass_deletion",
            "The CRM sync deleted 2,000 contacts.",
            Some(2000),
            "likely_qualifies",
        ),
        (
            "user_edit",
            "A counselor overwrote one student's address.",
            Some(1),
            "likely_not",
        ),
        (
            "workflow_as_configured",
            "An automation archived leads as it was set up to.",
            Some(300),
            "likely_not",
        ),
        (
            "standard_product_deletion",
            "An admin deleted a segment of contacts.",
            Some(80),
            "likely_not",
        ),
        (
            "configuration_change",
            "Someone changed the application form's fields.",
            None,
            "likely_not",
        ),
    ];
    let mut ids = Vec::new();
    for (cause, description, estimated, verdict) in examples {
        let body = file(&stack, &filing(cause, occurred, description, estimated)).await;
        assert_eq!(body["triage"]["verdict"], verdict, "{cause}: {}", body["triage"]);
        assert!(!body["triage"]["reasons"].as_array().unwrap().is_empty());
        ids.push(body["id"].as_str().unwrap().to_string());
    }

    // Inside the 72-hour window every resource is served by a point-in-time restore.
    let first = api_json(
        &stack,
        &engineer("erin"),
        "GET",
        &format!("/restore-requests/{}", ids[0]),
        &Value::Null,
    )
    .await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["status"], "submitted");
    assert_eq!(first.body["submitted_by"], support("sam"));
    let options = first.body["recovery_options"].as_array().unwrap();
    let resources: Vec<&str> = options.iter().map(|o| o["resource"].as_str().unwrap()).collect();
    assert_eq!(resources, vec!["rds:db", "dynamodb:orders"]);
    for option in options {
        assert_eq!(option["source"]["kind"], "point_in_time", "{option}");
        let target: DateTime<Utc> = option["restores_to"].as_str().unwrap().parse().unwrap();
        assert!(
            target < occurred && occurred - target <= TimeDelta::minutes(5) + TimeDelta::seconds(1),
            "{option}"
        );
        assert!(option["data_loss"]["seconds"].as_i64().unwrap() >= 3 * 3600);
    }
    assert_eq!(first.body["history"][0]["to"], "submitted");

    let all = api_json(
        &stack,
        &support("sue"),
        "GET",
        "/restore-requests?instance_id=acme",
        &Value::Null,
    )
    .await;
    assert_eq!(all.body["restore_requests"].as_array().unwrap().len(), 6);
    let approved = api_json(
        &stack,
        &support("sue"),
        "GET",
        "/restore-requests?instance_id=acme&status=approved",
        &Value::Null,
    )
    .await;
    assert_eq!(approved.body["restore_requests"], json!([]));
    let other = api_json(
        &stack,
        &support("sue"),
        "GET",
        "/restore-requests?instance_id=globex",
        &Value::Null,
    )
    .await;
    assert_eq!(other.body["restore_requests"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outside_the_window_a_held_snapshot_serves_and_the_pruner_keeps_it_until_rejection() {
    let stack = stack().await;
    resources::rds_instance(&stack, "db", &ACME, 3).await.unwrap();
    let now = Utc::now();
    let saturday = saturday_before(now, 5);
    for hours in [-1, 0, 1] {
        let t = saturday + TimeDelta::hours(hours);
        tick(&stack, CREATOR, &t.to_rfc3339()).await;
    }
    // Reconciled: the points are recorded available.
    tick(&stack, PRUNER, &(saturday + TimeDelta::minutes(90)).to_rfc3339()).await;

    // Lost half an hour after the weekly point: more than 72 hours ago, so no point-in-time
    // restore can reach it, and the weekly snapshot is the latest point before the loss.
    let body = file(&stack, &mass_deletion(saturday + TimeDelta::minutes(30))).await;
    let id = body["id"].as_str().unwrap().to_string();
    let option = &body["recovery_options"][0];
    assert_eq!(option["source"]["kind"], "snapshot", "{option}");
    assert_eq!(
        option["restores_to"],
        json!(saturday.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    assert!(option["source"]["tiers"]
        .as_array()
        .unwrap()
        .contains(&json!("weekly")));
    let held = Slot::containing(saturday);
    let catalog_table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let records = catalog_table.points_of(&ResourceKey::rds("db")).await.unwrap();
    assert!(records
        .iter()
        .find(|r| r.slot == held)
        .unwrap()
        .holds
        .contains(&id));

    // Forty days on, the weekly tier has expired: the hold keeps the point, the other
    // expired point goes, the newest stays.
    let later = saturday + TimeDelta::days(40);
    tick(&stack, PRUNER, &later.to_rfc3339()).await;
    let names = rds_snapshots(&stack).await;
    let name = |t: DateTime<Utc>| ResourceKey::rds("db").point_name(Slot::containing(t));
    assert_eq!(names, vec![name(saturday), name(saturday + TimeDelta::hours(1))]);

    let reject = json!({"decision": "reject", "reason": "recoverable from the CRM's own history"});
    let answer = api_json(
        &stack,
        &engineer("erin"),
        "POST",
        &format!("/restore-requests/{id}/decision"),
        &reject,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "rejected");
    let records = catalog_table.points_of(&ResourceKey::rds("db")).await.unwrap();
    assert!(records.iter().find(|r| r.slot == held).unwrap().holds.is_empty());
    tick(&stack, PRUNER, &(later + TimeDelta::hours(1)).to_rfc3339()).await;
    assert_eq!(
        rds_snapshots(&stack).await,
        vec![name(saturday + TimeDelta::hours(1))]
    );

    // A loss older than the oldest point the policy keeps: nothing can serve it.
    let old = api_json(
        &stack,
        &support("sam"),
        "POST",
        "/restore-requests",
        &mass_deletion(now - TimeDelta::days(400)),
    )
    .await;
    assert_eq!(old.status, 422, "{}", old.body);
    assert_eq!(old.body["errors"][0]["field"], "occurred_at");
    assert!(old.body["detail"]
        .as_str()
        .unwrap()
        .contains("no backup can serve it"));
}
