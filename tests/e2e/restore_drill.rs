//! Restore drills on the local stack: the template's drill state machine, run by moto with
//! the real restore-drill binary, restores an instance's RDS database (real PostgreSQL
//! data) and DynamoDB table into lbd- sandboxes, checks them against production, deletes
//! them, and reports; production's data, settings and tags are the same after as before.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use lifeboat::inventory::{TAG_INSTANCE, TAG_POLICY};
use lifeboat_e2e::*;
use lifeboat_local::demo::crm;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::stack::Invocation;
use lifeboat_local::{drills, resources, LocalStack};
use serde_json::{json, Value};

/// Production as a drill must leave it: the database's contacts, the table's items, and
/// both resources' tags and RDS settings.
async fn production(stack: &LocalStack) -> (i64, usize, Value) {
    let db = stack.postgres().connect("acme-db").await.unwrap();
    let contacts: i64 = db
        .query_one("select count(*) from contacts", &[])
        .await
        .unwrap()
        .get(0);
    let items = stack
        .dynamodb()
        .scan()
        .table_name("acme-orders")
        .send()
        .await
        .unwrap()
        .count() as usize;
    let instance = stack
        .rds()
        .describe_db_instances()
        .db_instance_identifier("acme-db")
        .send()
        .await
        .unwrap();
    let i = &instance.db_instances()[0];
    let settings = json!({
        "status": i.db_instance_status(),
        "class": i.db_instance_class(),
        "retention": i.backup_retention_period(),
        "public": i.publicly_accessible(),
        "tags": i.tag_list().iter().map(|t| (t.key().unwrap_or_default().to_string(), t.value().unwrap_or_default().to_string())).collect::<BTreeMap<_, _>>(),
    });
    (contacts, items, settings)
}

/// acme's database (CRM data) and orders table, with a scheduled point of each three hours ago.
async fn acme(stack: &LocalStack, policy: &str) {
    let tags = [(TAG_INSTANCE, "acme"), (TAG_POLICY, policy)];
    resources::rds_instance(stack, "acme-db", &tags, 3).await.unwrap();
    let db = stack.postgres().connect("acme-db").await.unwrap();
    crm::seed(&db, 500).await.unwrap();
    resources::dynamodb_table(stack, "acme-orders", &tags)
        .await
        .unwrap();
    for i in 0..7 {
        stack
            .dynamodb()
            .put_item()
            .table_name("acme-orders")
            .item("pk", AttributeValue::S(format!("order#{i}")))
            .send()
            .await
            .unwrap();
    }
    scheduled_points(stack, hour_before(Utc::now(), 3)).await;
}

/// No sandbox is left: no lbd- instance, table or database.
async fn no_sandbox_left(stack: &LocalStack) {
    let instances = stack.rds().describe_db_instances().send().await.unwrap();
    let names: Vec<&str> = instances
        .db_instances()
        .iter()
        .filter_map(|i| i.db_instance_identifier())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("lbd-")), "{names:?}");
    let tables = stack.dynamodb().list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().iter().any(|t| t.starts_with("lbd-")),
        "{:?}",
        tables.table_names()
    );
}

async fn report(stack: &LocalStack, output: &Value) -> Value {
    let key = output["outcome"]["report_key"]
        .as_str()
        .expect("the drill reported");
    serde_json::from_slice(&reports_object(stack, key).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_restores_every_resource_into_a_sandbox_checks_it_deletes_it_and_leaves_production_alone() {
    let stack = stack().await;
    acme(&stack, "standard").await;
    let before = production(&stack).await;

    let output = match drills::run(&stack, "drill-acme-1", &json!({"instance_id": "acme"}))
        .await
        .unwrap()
    {
        Invocation::Succeeded(output) => output,
        failed => panic!("the drill failed: {failed:?}"),
    };
    let report = report(&stack, &output).await;
    let resources = report["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 2, "{report:#}");
    for r in resources {
        assert!(r["sandbox"].as_str().unwrap().starts_with("lbd-"), "{r}");
        assert_eq!(r["sandbox_deleted"], true, "{r}");
        assert!(r["restore_seconds"].as_i64().is_some(), "{r}");
        assert!(r["data_age_seconds"].as_i64().unwrap() >= 3 * 3600 - 60, "{r}");
        assert!(
            r["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["passed"] == true),
            "{r}"
        );
    }
    let checks: Vec<&str> = resources
        .iter()
        .flat_map(|r| r["checks"].as_array().unwrap())
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // Announced on the bus, as an account manager's tooling would read it.
    let events = lifeboat_local::status_events::take(stack.sdk_config())
        .await
        .unwrap();
    let drill = events
        .iter()
        .find(|e| e["detail-type"] == "Drill Completed")
        .expect("a Drill Completed event");
    assert_eq!(drill["detail"]["instance_id"], "acme");
    assert_eq!(drill["detail"]["passed"], true, "{drill}");
    assert!(!drill["detail"].to_string().contains("acme-db"), "{drill}");
    assert!(checks.contains(&"rows public.contacts"), "{checks:?}");
    assert!(checks.contains(&"rows acme-orders"), "{checks:?}");
    let sample = resources
        .iter()
        .flat_map(|r| r["checks"].as_array().unwrap())
        .find(|c| {
            c["name"]
                .as_str()
                .unwrap()
                .starts_with("sample of keys read back")
        })
        .expect("the table's keys were sampled");
    assert!(
        sample["detail"]
            .as_str()
            .unwrap()
            .starts_with("7 of 7 sampled keys read back; 7 of them also in production"),
        "{sample}"
    );
    no_sandbox_left(&stack).await;
    assert_eq!(production(&stack).await, before, "production is as it was");

    // The daily audit finds the drill on record and shows it.
    let day = audit_of_acme(&stack).await;
    assert_eq!(day["instances"][0]["drills"][0]["succeeded"], true, "{day:#}");
    assert_eq!(
        day["instances"][0]["latest_drill"]["drill_id"],
        report["drill_id"]
    );
    let kinds: Vec<&str> = day["instances"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"drill_overdue"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_whose_own_check_fails_fails_and_still_deletes_its_sandboxes() {
    let policy = json!([{"name": "crm", "weekly": {"weekday": "saturday", "hour": 23, "retention": {"months": 1}},
        "hourly": {"retention": {"hours": 72}},
        "drill": {"checks": [{"sql": "select count(*) from contacts", "at_least": 1000000},
                             {"key": {"pk": {"S": "order#3"}}}]}}]);
    let stack = stack_with(&[("LIFEBOAT_POLICIES", &policy.to_string())]).await;
    acme(&stack, "crm").await;
    let before = production(&stack).await;

    match drills::run(&stack, "drill-acme-2", &json!({"instance_id": "acme"}))
        .await
        .unwrap()
    {
        Invocation::Failed { error_type, .. } => assert_eq!(error_type, "Lifeboat.DrillFailed"),
        succeeded => panic!("a check below its floor must fail the drill: {succeeded:?}"),
    }
    let report = todays_drill_report(&stack, "acme", "drill-acme-2").await;
    let checks: Vec<&Value> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["checks"].as_array().unwrap())
        .collect();
    let own_sql = checks
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with("check 0"))
        .unwrap();
    assert_eq!(own_sql["passed"], false, "{own_sql}");
    let own_key = checks
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with("check 1"))
        .unwrap();
    assert_eq!(own_key["passed"], true, "{own_key}");
    no_sandbox_left(&stack).await;
    assert_eq!(production(&stack).await, before);

    // The audit's page marks the failed drill (listed from the bucket).
    let day = audit_of_acme(&stack).await;
    let drills = day["instances"][0]["drills"].as_array().unwrap();
    assert_eq!(drills.len(), 1, "{day:#}");
    assert_eq!(drills[0]["succeeded"], false);
    assert_eq!(drills[0]["drill_id"], report["drill_id"]);
}

/// The daily audit of acme (a dry run), as its report tells it.
async fn audit_of_acme(stack: &LocalStack) -> Value {
    let mut audit = event(PRUNER, &Utc::now().to_rfc3339());
    audit["detail"] = json!({"instance": "acme", "dry_run": true});
    let answer = match stack.invoke("recovery-audit", &audit).await.unwrap() {
        Invocation::Succeeded(v) => v,
        failed => panic!("the audit failed: {failed:?}"),
    };
    serde_json::from_slice(&reports_object(stack, answer["report_key"].as_str().unwrap()).await).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_of_an_instance_nothing_carries_fails_at_its_plan_and_makes_nothing() {
    let stack = stack().await;
    match drills::run(&stack, "drill-nobody", &json!({"instance_id": "nobody"}))
        .await
        .unwrap()
    {
        Invocation::Failed { error_type, .. } => assert_eq!(error_type, "Lifeboat.DrillNotPlanned"),
        succeeded => panic!("{succeeded:?}"),
    }
    no_sandbox_left(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_whose_restore_fails_fails_cleans_up_the_other_sandbox_and_leaves_production_alone() {
    let stack = stack().await;
    acme(&stack, "standard").await;
    let before = production(&stack).await;
    stack.edge.faults.add(
        FaultRule::on("rds", "RestoreDBInstanceFromDBSnapshot")
            .by("restore-drill")
            .refuse("InsufficientDBInstanceCapacity"),
    );

    match drills::run(&stack, "drill-acme-3", &json!({"instance_id": "acme"}))
        .await
        .unwrap()
    {
        Invocation::Failed { error_type, .. } => assert_eq!(error_type, "Lifeboat.DrillFailed"),
        succeeded => panic!("a failed restore must fail the drill: {succeeded:?}"),
    }
    let report = todays_drill_report(&stack, "acme", "drill-acme-3").await;
    let db = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "rds:acme-db")
        .unwrap();
    assert!(
        db["error"]
            .as_str()
            .unwrap()
            .contains("InsufficientDBInstanceCapacity"),
        "{db}"
    );
    no_sandbox_left(&stack).await;
    assert_eq!(production(&stack).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_whose_restore_yields_an_empty_database_fails_on_its_row_counts() {
    let stack = stack().await;
    acme(&stack, "standard").await;
    let before = production(&stack).await;
    // The restore "succeeds" but the sandbox's database is empty, as a broken backup's would be.
    stack
        .edge
        .databases()
        .expect("the RDS data plane")
        .restore_empty_into("lbd-")
        .await;

    match drills::run(&stack, "drill-acme-4", &json!({"instance_id": "acme"}))
        .await
        .unwrap()
    {
        Invocation::Failed { error_type, .. } => assert_eq!(error_type, "Lifeboat.DrillFailed"),
        succeeded => panic!("an empty restore must fail the drill: {succeeded:?}"),
    }
    let report = todays_drill_report(&stack, "acme", "drill-acme-4").await;
    let db = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "rds:acme-db")
        .unwrap();
    let failed: Vec<&str> = db["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(!failed.is_empty(), "{db}");
    no_sandbox_left(&stack).await;
    assert_eq!(production(&stack).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_is_never_publicly_accessible_and_sits_in_the_drill_s_security_group() {
    use lifeboat::catalog::ResourceKey;
    use lifeboat::ports::restorer::{Origin, Progress, RestoreFrom, Restorer, Target};
    use lifeboat_aws::rds_restore::RdsRestorer;

    let stack = stack().await;
    stack
        .rds()
        .create_db_instance()
        .db_instance_identifier("open-db")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .publicly_accessible(true)
        .vpc_security_group_ids("sg-0production")
        .send()
        .await
        .unwrap();
    stack
        .rds()
        .create_db_snapshot()
        .db_instance_identifier("open-db")
        .db_snapshot_identifier("lifeboat-open-db-20261203t0000z")
        .send()
        .await
        .unwrap();
    let restorer = RdsRestorer::for_sandboxes(stack.rds(), vec!["sg-0drill".into()]);
    let production = ResourceKey::rds("open-db");
    let target = Target {
        request_id: "drill-open",
        production: &production,
        staging: "lbd-12345678-open-db",
        fallback: "",
        origin: Some(Origin {
            from: RestoreFrom::Snapshot("lifeboat-open-db-20261203t0000z".into()),
            asked_after: Utc::now(),
        }),
        staging_identity: None,
        fallback_identity: None,
    };
    restorer.start_staging(&target).await.unwrap();
    // Ready only once private (moto restores a public instance's snapshot as public).
    let mut polls = 0;
    while restorer.staging_ready(&target).await.unwrap() != Progress::Done {
        polls += 1;
        assert!(polls < 5, "the sandbox never became private");
    }
    let out = stack
        .rds()
        .describe_db_instances()
        .db_instance_identifier("lbd-12345678-open-db")
        .send()
        .await
        .unwrap();
    let sandbox = &out.db_instances()[0];
    assert_eq!(
        sandbox.publicly_accessible(),
        Some(false),
        "production is public; its sandbox never is"
    );
    let groups: Vec<&str> = sandbox
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, ["sg-0drill"]);
    restorer.delete_staging(&target).await.unwrap();
    no_sandbox_left(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_stopped_before_its_cleanup_leaves_sandboxes_the_hourly_sweep_deletes() {
    let stack = stack().await;
    acme(&stack, "standard").await;
    let before = production(&stack).await;
    // The database's sandbox never reports itself usable: the drill waits on it.
    stack.edge.faults.add(
        FaultRule::on("rds", "DescribeDBInstances")
            .by("restore-drill")
            .target_contains("lbd-")
            .report_creating(),
    );
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    let started = sfn
        .start_execution()
        .state_machine_arn(lifeboat_local::state_machines::drill_arn())
        .name("drill-acme-stopped")
        .input(json!({"instance_id": "acme", "poll_interval_seconds": 1, "max_polls": 1000}).to_string())
        .send()
        .await
        .unwrap();
    let s = &stack;
    let sandboxes = eventually("both sandboxes restored", || async move {
        let dbs = s.rds().describe_db_instances().send().await.ok()?;
        let tables = s.dynamodb().list_tables().send().await.ok()?;
        let mut found: Vec<String> = dbs
            .db_instances()
            .iter()
            .filter_map(|d| d.db_instance_identifier())
            .chain(tables.table_names().iter().map(String::as_str))
            .filter(|n| n.starts_with("lbd-"))
            .map(str::to_string)
            .collect();
        found.sort();
        (found.len() == 2).then_some(found)
    })
    .await;
    // An engineer stops it from the console before its cleanup.
    sfn.stop_execution()
        .execution_arn(started.execution_arn())
        .send()
        .await
        .unwrap();
    stack.edge.faults.clear();
    // Stopped as the service reports it (moto's interpreter ends it in its own time).
    finished(&stack, started.execution_arn()).await;

    // The next hour's event: the sweep leaves a drill alone for the minutes a step already
    // running may still take after its execution stopped.
    let mut hourly = event(
        PRUNER,
        &(Utc::now() + chrono::TimeDelta::minutes(20)).to_rfc3339(),
    );
    hourly["detail"] = json!({"instance": "nobody"});
    let answer = match stack.invoke("restore-drill", &hourly).await.unwrap() {
        Invocation::Succeeded(v) => v,
        failed => panic!("the hourly event failed: {failed:?}"),
    };
    assert_eq!(
        answer["swept"]["drills"],
        json!(["drill-drill-acme-stopped"]),
        "{answer}"
    );
    assert_eq!(answer["swept"]["sandboxes_deleted"], 2, "{answer}");
    no_sandbox_left(&stack).await;
    assert_eq!(production(&stack).await, before, "production is as it was");
    let record: Value = serde_json::from_slice(
        &reports_object(&stack, "drills/runs/drill-drill-acme-stopped/swept.json").await,
    )
    .unwrap();
    // ABORTED on AWS; moto's interpreter ends a stopped execution as FAILED when it stops
    // it in the middle of a task.
    let status = record["execution_status"].as_str().unwrap();
    assert!(["ABORTED", "FAILED"].contains(&status), "{record}");
    let mut swept: Vec<String> = record["sandboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sandbox"].as_str().unwrap().to_string())
        .collect();
    swept.sort();
    assert_eq!(swept, sandboxes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engineer_starts_a_drill_from_the_command_line_and_follows_it_to_its_report() {
    let stack = stack().await;
    acme(&stack, "standard").await;
    let arn = lifeboat_local::state_machines::drill_arn();
    let args = [
        "drills",
        "start",
        "acme",
        "--state-machine",
        &arn,
        "--poll-interval",
        "1",
        "--wait",
        "--watch-seconds",
        "1",
        "--output",
        "json",
    ];
    let run = lifeboat_local::cli::finish(&stack, lifeboat_local::cli::aws_command(&stack, &args))
        .await
        .unwrap();
    assert!(run.succeeded(), "{run:?}");
    let last: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], "SUCCEEDED", "{run:?}");
    let first_key = last["report_key"].as_str().unwrap().to_string();
    let report: Value = serde_json::from_slice(&reports_object(&stack, &first_key).await).unwrap();
    assert_eq!(report["instance_id"], "acme");
    no_sandbox_left(&stack).await;

    // A drill that fails on its checks (an empty restore) still has its report, and the
    // command names it.
    stack
        .edge
        .databases()
        .expect("the RDS data plane")
        .restore_empty_into("lbd-")
        .await;
    let run = lifeboat_local::cli::finish(&stack, lifeboat_local::cli::aws_command(&stack, &args))
        .await
        .unwrap();
    assert_eq!(run.code, Some(1), "{run:?}");
    let last: Value = serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["status"], "FAILED", "{run:?}");
    let key = last["report_key"]
        .as_str()
        .expect("a failed drill's report is named");
    let failed: Value = serde_json::from_slice(&reports_object(&stack, key).await).unwrap();
    assert_eq!(failed["instance_id"], "acme");
    assert_ne!(key, first_key, "two drills of one day keep two reports");
    assert!(
        reports_object(&stack, &first_key).await.len() > 2,
        "the first is kept"
    );

    // An instance nothing carries: the drill fails at its plan, and the command says so.
    let args = [
        "drills",
        "start",
        "nobody",
        "--state-machine",
        &arn,
        "--wait",
        "--watch-seconds",
        "1",
    ];
    let run = lifeboat_local::cli::finish(&stack, lifeboat_local::cli::aws_command(&stack, &args))
        .await
        .unwrap();
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stdout.contains("FAILED"), "{run:?}");
    assert!(run.stderr.contains("ended failed"), "{run:?}");
}
