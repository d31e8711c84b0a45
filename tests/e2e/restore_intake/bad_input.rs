//! Every bad input answered with its 4xx, and nothing written.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_4xx_and_changes_nothing() {
    let stack = stack().await;
    acme(&stack).await;
    let now = Utc::now();
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;
    let good = mass_deletion(now - TimeDelta::hours(2));
    let id = file(&stack, &good).await["id"].as_str().unwrap().to_string();
    let before = requests_in_table(&stack).await;
    let sam = support("sam");
    let erin = engineer("erin");

    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let bodies: Vec<(Vec<u8>, u16, &str)> = vec![
        (without("instance_id").to_string().into(), 400, "instance_id"),
        (without("occurred_at").to_string().into(), 400, "occurred_at"),
        (without("cause").to_string().into(), 400, "cause"),
        (
            with("occurred_at", json!("last Tuesday")).to_string().into(),
            400,
            "occurred_at",
        ),
        (
            with("occurred_at", json!(1_700_000_000)).to_string().into(),
            400,
            "occurred_at",
        ),
        (
            with("occurred_at", json!(now + TimeDelta::days(1)))
                .to_string()
                .into(),
            400,
            "occurred_at",
        ),
        (
            with("occurred_at", json!(now - TimeDelta::days(400)))
                .to_string()
                .into(),
            422,
            "occurred_at",
        ),
        (with("cause", json!("gremlins")).to_string().into(), 400, "cause"),
        (
            with("description", json!(42)).to_string().into(),
            400,
            "description",
        ),
        (
            with("description", json!("x".repeat(5000))).to_string().into(),
            400,
            "description",
        ),
        (
            with("affected", json!(["contacts"])).to_string().into(),
            400,
            "affected",
        ),
        (
            with("submitted_by", json!("someone else")).to_string().into(),
            400,
            "submitted_by",
        ),
        (
            with("instance_id", json!("globex")).to_string().into(),
            422,
            "instance_id",
        ),
        (b"{\"instance_id\": ".to_vec(), 400, "body"),
        (b"[]".to_vec(), 400, "body"),
        (vec![b' '; 70 * 1024], 413, "body"),
    ];
    for (body, status, field) in bodies {
        let answer = api(&stack, Some(&sam), "POST", "/restore-requests", &body, None).await;
        assert_eq!(answer.status, status, "{field}: {}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body["status"], json!(status));
        let fields: Vec<&str> = answer.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "{field}: {}", answer.body);
    }
    let decide = format!("/restore-requests/{id}/decision");
    let decisions = [
        (json!({"decision": "approve", "reason": "ok"}), 400, "mode"),
        (json!({"decision": "maybe", "reason": "ok"}), 400, "decision"),
        (
            json!({"decision": "approve", "reason": "ok", "mode": "selective"}),
            400,
            "selection",
        ),
        (json!({"decision": "reject"}), 400, "reason"),
        (
            json!({"decision": "approve", "reason": "ok", "mode": "rollback",
                "recovery_points": [{"resource": "rds:other", "kind": "point_in_time", "target": now}]}),
            400,
            "recovery_points[0].resource",
        ),
    ];
    for (body, status, field) in decisions {
        let answer = api_json(&stack, &erin, "POST", &decide, &body).await;
        assert_eq!(answer.status, status, "{field}: {}", answer.body);
        assert!(
            answer.body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{}",
            answer.body
        );
    }
    assert_eq!(
        api_json(&stack, &erin, "GET", "/restore-requests/rr-unknown", &Value::Null)
            .await
            .status,
        404
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "POST",
            "/restore-requests/rr-unknown/decision",
            &approve()
        )
        .await
        .status,
        404
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "GET",
            "/restore-requests?status=approved",
            &Value::Null
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "GET",
            "/restore-requests?instance_id=acme&color=red",
            &Value::Null
        )
        .await
        .status,
        400
    );
    assert_eq!(
        api_json(
            &stack,
            &erin,
            "DELETE",
            &format!("/restore-requests/{id}"),
            &Value::Null
        )
        .await
        .status,
        405
    );
    assert_eq!(
        api_json(&stack, &erin, "GET", "/elsewhere", &Value::Null)
            .await
            .status,
        404
    );
    let bad_key = api(
        &stack,
        Some(&sam),
        "POST",
        "/restore-requests",
        good.to_string().as_bytes(),
        Some("has spaces"),
    )
    .await;
    assert_eq!(bad_key.status, 400);

    // Nothing was written, and the one request is untouched.
    assert_eq!(requests_in_table(&stack).await, before);
    let stored = api_json(
        &stack,
        &sam,
        "GET",
        &format!("/restore-requests/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(stored.body["status"], "submitted");
    assert_eq!(stored.body["history"].as_array().unwrap().len(), 1);

    // A decision in the wrong state: cancelled requests are final.
    let cancel = format!("/restore-requests/{id}/cancel");
    assert_eq!(
        api_json(&stack, &sam, "POST", &cancel, &Value::Null).await.status,
        200
    );
    let late = api_json(&stack, &erin, "POST", &decide, &approve()).await;
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(
        api_json(&stack, &sam, "POST", &cancel, &Value::Null).await.status,
        409
    );
}
