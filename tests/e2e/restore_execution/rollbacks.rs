//! Rollbacks that succeed: RDS to a point in time with DynamoDB to a backup, and RDS to a
//! snapshot after production's settings changed.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_rds_to_a_point_in_time_and_dynamodb_to_a_backup() {
    let stack = stack().await;
    production_db(&stack).await;
    production_orders(&stack).await;
    put(&stack, "o1", "as it was").await;
    put(&stack, "o2", "as it was").await;
    let now = Utc::now();
    let backup_hour = hour_before(now, 2);
    scheduled_points(&stack, backup_hour).await;
    // After the backup: o1 changed, o2 deleted, o3 written.
    put(&stack, "o1", "changed later").await;
    stack
        .dynamodb()
        .delete_item()
        .table_name("orders")
        .key("pk", AttributeValue::S("o2".into()))
        .send()
        .await
        .unwrap();
    put(&stack, "o3", "written later").await;
    set_window(&stack, "rds:db", now - TimeDelta::hours(72), now).await;

    let id = file(&stack, now - TimeDelta::minutes(30)).await;
    let target = (now - TimeDelta::minutes(35))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let approval = approve(
        &stack,
        &id,
        json!([
            {"resource": "rds:db", "kind": "point_in_time", "target": target},
            {"resource": "dynamodb:orders", "kind": "snapshot", "slot": backup_hour}
        ]),
    )
    .await;
    let execution = execution_of(&approval);
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");

    let db_names = names(&id, &ResourceKey::rds("db"));
    let table_names_of = names(&id, &ResourceKey::dynamodb("orders"));
    // RDS: the rename swap, with production's settings on the restored instance.
    let prod = instance(&stack, "db").await.expect("production exists");
    let prod_tags = tags(&prod);
    assert_eq!(
        prod_tags.get(TAG_RESTORE_REQUEST),
        Some(&id),
        "production is the restored instance"
    );
    assert!(!prod_tags.contains_key(TAG_RESTORE_ROLE));
    assert_eq!(prod_tags.get("team").map(String::as_str), Some("crm"));
    assert_eq!(prod_tags.get(TAG_INSTANCE).map(String::as_str), Some("acme"));
    assert_eq!(prod.db_instance_status(), Some("available"));
    assert_eq!(prod.deletion_protection(), Some(true));
    assert_eq!(prod.backup_retention_period(), Some(3));
    assert_eq!(
        prod.db_parameter_groups()[0].db_parameter_group_name(),
        Some("acme-pg")
    );
    let fallback = instance(&stack, &db_names.fallback)
        .await
        .expect("the fallback is kept");
    assert_eq!(
        tags(&fallback).get(TAG_RESTORE_ROLE).map(String::as_str),
        Some("fallback")
    );
    assert!(
        instance(&stack, &db_names.staging).await.is_none(),
        "staging became production"
    );
    assert!(rds_snapshots(&stack).await.contains(&db_names.safety));

    // DynamoDB: the items as of the backup, later ones gone, the table kept.
    assert_eq!(
        orders(&stack).await,
        BTreeMap::from([
            ("o1".into(), "as it was".into()),
            ("o2".into(), "as it was".into())
        ])
    );
    assert!(dynamodb_backups(&stack).await.contains(&table_names_of.safety));
    assert!(!table_names(&stack).await.contains(&table_names_of.staging));

    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["awaiting_confirmation"], false);
    assert_eq!(holds_of(&stack, &id).await, 0, "holds are released");
    // How far it got, per resource: done, the table's items counted by the copy-back's
    // comparison (the backup's two items against the live table's two).
    let progress = &r["progress"]["resources"];
    assert_eq!(
        progress[0],
        json!({"resource": "rds:db", "stage": "done", "percent": 100.0})
    );
    assert_eq!(progress[1]["stage"], "done", "{progress}");
    assert_eq!(progress[1]["unit"], "items compared", "{progress}");
    assert_eq!(
        (progress[1]["done"].as_u64(), progress[1]["total"].as_u64()),
        (Some(4), Some(4)),
        "{progress}"
    );

    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["outcome"]["result"], "completed");
    assert_eq!(report["approved_by"], json!(engineer("erin")));
    assert_eq!(report["confirmed_by"], json!(engineer("eli")));
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2);
    assert_eq!(resources[0]["restores_to"], json!(target));
    assert_eq!(
        resources[0]["fallback"],
        json!(format!("RDS instance {}", db_names.fallback))
    );
    assert!(resources
        .iter()
        .all(|r| r["restored"] == true && r["staging_deleted"] == true));
    let steps: Vec<&str> = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    for step in [
        "begin",
        "resolve",
        "safety_snapshot",
        "restore_staging",
        "check_ready",
        "await_confirmation",
        "swap",
        "verify",
        "clean_up",
        "finish",
    ] {
        assert!(steps.contains(&step), "{step} missing from {steps:?}");
    }
    assert!(
        markdown.contains("**completed**") && markdown.contains(&db_names.fallback),
        "{markdown}"
    );
    assert_eq!(report["progress"]["resources"], r["progress"]["resources"]);
    assert!(
        markdown.contains("- dynamodb:orders: Done, 4 of 4 items compared"),
        "{markdown}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_rds_to_a_snapshot_carries_production_settings_over() {
    let stack = stack().await;
    production_db(&stack).await;
    let now = Utc::now();
    let snapshot_hour = hour_before(now, 3);
    scheduled_points(&stack, snapshot_hour).await;
    // Production's settings changed after the snapshot: the restore must end with these.
    set_production_retention(&stack, 7).await;
    let arn = instance(&stack, "db")
        .await
        .unwrap()
        .db_instance_arn()
        .unwrap()
        .to_string();
    stack
        .rds()
        .add_tags_to_resource()
        .resource_name(&arn)
        .tags(Tag::builder().key("cost-centre").value("cs-42").build())
        .send()
        .await
        .unwrap();

    let id = file(&stack, now - TimeDelta::hours(2)).await;
    let execution = execution_of(
        &approve(
            &stack,
            &id,
            json!([{"resource": "rds:db", "kind": "snapshot", "slot": snapshot_hour}]),
        )
        .await,
    );
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");

    let n = names(&id, &ResourceKey::rds("db"));
    let prod = instance(&stack, "db").await.unwrap();
    let prod_tags = tags(&prod);
    assert_eq!(prod_tags.get(TAG_RESTORE_REQUEST), Some(&id));
    assert_eq!(prod_tags.get("cost-centre").map(String::as_str), Some("cs-42"));
    assert_eq!(prod.backup_retention_period(), Some(7));
    assert_eq!(prod.deletion_protection(), Some(true));
    assert_eq!(
        prod.db_parameter_groups()[0].db_parameter_group_name(),
        Some("acme-pg")
    );
    let groups: Vec<&str> = prod
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, ["sg-acme"]);
    assert_eq!(
        instance_ids(&stack).await,
        vec!["db".to_string(), n.fallback.clone()]
    );

    let (report, _) = report(&stack, &id).await;
    let snapshot = ResourceKey::rds("db").point_name(lifeboat::schedule::Slot::containing(snapshot_hour));
    assert_eq!(report["resources"][0]["restore_from"], json!(snapshot));
    assert_eq!(report["resources"][0]["safety_snapshot"], json!(n.safety));
}
