//! Who may do what: every authorization rule, and separation of duties between people
//! whatever roles they can assume.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_do_what() {
    let support_list = format!("{},{BOTH}", lifeboat_local::names::SUPPORT_ROLE);
    let engineering_list = format!("{},{BOTH}", lifeboat_local::names::ENGINEERING_ROLE);
    let stack = stack_with(&[
        ("LIFEBOAT_SUPPORT_PRINCIPALS", &support_list),
        ("LIFEBOAT_ENGINEERING_PRINCIPALS", &engineering_list),
    ])
    .await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let body = mass_deletion(now - TimeDelta::hours(2));
    let id = file(&stack, &body).await["id"].as_str().unwrap().to_string();
    let get = format!("/restore-requests/{id}");
    let decide = format!("/restore-requests/{id}/decision");
    let cancel = format!("/restore-requests/{id}/cancel");
    let confirm = format!("/restore-requests/{id}/confirm");

    let unsigned = api(&stack, None, "GET", &get, b"", None).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.content_type, "application/problem+json");
    for (method, path, body) in [
        ("GET", get.as_str(), Value::Null),
        ("GET", "/restore-requests?instance_id=acme", Value::Null),
        ("POST", "/restore-requests", body.clone()),
        ("POST", decide.as_str(), approve()),
        ("POST", cancel.as_str(), Value::Null),
        ("POST", confirm.as_str(), Value::Null),
    ] {
        let answer = api_json(&stack, STRANGER, method, path, &body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.body);
    }
    assert_eq!(
        api_json(&stack, &engineer("erin"), "POST", "/restore-requests", &body)
            .await
            .status,
        403
    );
    assert_eq!(
        api_json(&stack, &support("sue"), "POST", &decide, &approve())
            .await
            .status,
        403
    );
    assert_eq!(
        api_json(&stack, &support("sue"), "POST", &confirm, &Value::Null)
            .await
            .status,
        403
    );
    assert_eq!(
        api_json(&stack, &engineer("erin"), "GET", &get, &Value::Null)
            .await
            .status,
        200
    );

    // Someone who is both may file, and may not decide what they filed.
    let own = api_json(&stack, BOTH, "POST", "/restore-requests", &body).await;
    assert_eq!(own.status, 201, "{}", own.body);
    let own_decide = format!("/restore-requests/{}/decision", own.body["id"].as_str().unwrap());
    let refused = api_json(&stack, BOTH, "POST", &own_decide, &approve()).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("filed this request"));
    // Nothing refused changed anything: both requests are still submitted.
    let listed = api_json(
        &stack,
        &support("sam"),
        "GET",
        "/restore-requests?instance_id=acme&status=submitted",
        &Value::Null,
    )
    .await;
    assert_eq!(listed.body["restore_requests"].as_array().unwrap().len(), 2);
    // Support cancels.
    let cancelled = api_json(
        &stack,
        &support("sue"),
        "POST",
        &cancel,
        &json!({"reason": "the customer found the records"}),
    )
    .await;
    assert_eq!(
        (cancelled.status, cancelled.body["status"].clone()),
        (200, json!("cancelled"))
    );
}

/// Separation of duties holds between people, whatever roles they can assume: robin, who
/// can assume both the support and the engineering role, files and then may neither decide
/// nor confirm; erin approves and may not confirm; eli, a second engineer, confirms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_with_both_roles_neither_approves_their_own_request_nor_an_approver_confirms() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    set_window(&stack, "dynamodb:orders", now - TimeDelta::hours(72), now).await;
    let filed = api_json(
        &stack,
        &support("robin"),
        "POST",
        "/restore-requests",
        &mass_deletion(now - TimeDelta::minutes(30)),
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);
    let id = filed.body["id"].as_str().unwrap().to_string();
    let decide = format!("/restore-requests/{id}/decision");
    let confirm = format!("/restore-requests/{id}/confirm");

    let own = api_json(&stack, &engineer("robin"), "POST", &decide, &approve()).await;
    assert_eq!(own.status, 403, "{}", own.body);
    assert!(own.body["detail"]
        .as_str()
        .unwrap()
        .contains("filed this request"));
    let execution = execution_of(&api_json(&stack, &engineer("erin"), "POST", &decide, &approve()).await);
    eventually("the restore to wait for confirmation", || async {
        (request(&stack, &id).await["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    for (who, why) in [
        (engineer("erin"), "approved this restore"),
        (engineer("robin"), "filed this request"),
    ] {
        let answer = api_json(&stack, &who, "POST", &confirm, &Value::Null).await;
        assert_eq!(answer.status, 403, "{who}: {}", answer.body);
        assert!(
            answer.body["detail"].as_str().unwrap().contains(why),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        request(&stack, &id).await["awaiting_confirmation"],
        true,
        "still waiting"
    );
    let answer = api_json(&stack, &engineer("eli"), "POST", &confirm, &Value::Null).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    let (report, _) = report(&stack, &id).await;
    assert_eq!(report["approved_by"], json!(engineer("erin")));
    assert_eq!(report["confirmed_by"], json!(engineer("eli")));
}
