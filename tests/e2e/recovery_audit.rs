//! The daily audit on the local stack: the real recovery-audit binary over points the real
//! creator and pruner made, snapshots shared through moto's RDS API found and revoked, a
//! point deleted behind Lifeboat's back found missing, and its HTML page opened in headless
//! Chromium.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::inventory::{TAG_INSTANCE, TAG_POLICY};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::SnapshotSharing;
use lifeboat::schedule::Slot;
use lifeboat_aws::RdsSharing;
use lifeboat_e2e::*;
use lifeboat_local::simulation::{self, Mode};
use lifeboat_local::stack::Invocation;
use lifeboat_local::{browser, resources, LocalStack};
use serde_json::{json, Value};

const AUDIT: &str = "recovery-audit";

const BRIEF: &str = r#"[{"name": "brief", "point_in_time": {"window_days": 3},
    "hourly": {"retention": {"hours": 6}},
    "weekly": {"weekday": "saturday", "hour": 23, "retention": {"months": 1}},
    "monthly": {"day": "last", "hour": 23, "retention": {"months": 12}}}]"#;

async fn audit(stack: &LocalStack, time: DateTime<Utc>, detail: Value) -> Invocation {
    let mut event = event(PRUNER, &time.to_rfc3339());
    event["detail"] = detail;
    stack.invoke(AUDIT, &event).await.expect("the Invoke API answers")
}

async fn restorers(stack: &LocalStack, snapshot: &str) -> Vec<String> {
    RdsSharing::new(stack.rds()).restorers(snapshot).await.unwrap()
}

async fn share(stack: &LocalStack, snapshot: &str, with: &[&str]) {
    stack
        .rds()
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier(snapshot)
        .attribute_name("restore")
        .set_values_to_add(Some(with.iter().map(|s| s.to_string()).collect()))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_proves_coverage_revokes_sharing_finds_a_lost_point_and_its_page_opens() {
    // The standard policy's tiers with six hours of hourly points: the audit's checks are the
    // same, and the simulation has a tenth of the standard's hourly ticks to run.
    let stack = stack_with(&[("LIFEBOAT_POLICIES", BRIEF)]).await;
    let tags = [(TAG_INSTANCE, "acme"), (TAG_POLICY, "brief")];
    resources::rds_instance(&stack, "acme-db", &tags, 3)
        .await
        .unwrap();
    resources::dynamodb_table(&stack, "acme-orders", &tags)
        .await
        .unwrap();
    let managed = simulation::managed_resources(&stack, &PolicyBook::from_json(BRIEF).unwrap())
        .await
        .unwrap();
    // Ten days to the last day of November: Saturdays, a month end and 72 hourly points.
    let end = at("2026-11-30T23:00:00Z");
    let ticks = simulation::plan(Mode::FastForward, end - TimeDelta::days(10), end, &managed);
    let report = simulation::run(&stack, &ticks).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let audit_at = end + TimeDelta::minutes(50);
    for resource in ["rds:acme-db", "dynamodb:acme-orders"] {
        set_window(
            &stack,
            resource,
            audit_at - TimeDelta::days(3),
            audit_at - TimeDelta::minutes(5),
        )
        .await;
    }

    // Someone shares a Lifeboat snapshot publicly, and an operator's own snapshot of the
    // instance with another account, through the RDS API.
    let weekly = ResourceKey::rds("acme-db").point_name(Slot::containing(at("2026-11-28T23:00:00Z")));
    assert!(
        rds_snapshots(&stack).await.contains(&weekly),
        "{:?}",
        rds_snapshots(&stack).await
    );
    share(&stack, &weekly, &["all"]).await;
    stack
        .rds()
        .create_db_snapshot()
        .db_instance_identifier("acme-db")
        .db_snapshot_identifier("acme-db-before-upgrade")
        .send()
        .await
        .unwrap();
    share(&stack, "acme-db-before-upgrade", &["210987654321"]).await;

    let answer = match audit(&stack, audit_at, json!({"sweep_all": true})).await {
        Invocation::Succeeded(v) => v,
        failed => panic!("the audit failed: {failed:?}"),
    };
    assert_eq!(answer["short"], json!([]), "{answer}");
    assert_eq!(answer["exposures"], 2);
    assert!(restorers(&stack, &weekly).await.is_empty());
    assert!(restorers(&stack, "acme-db-before-upgrade").await.is_empty());
    assert_eq!(answer["report_key"], "audits/2026-11-30/report.json");
    let day: Value =
        serde_json::from_slice(&reports_object(&stack, "audits/2026-11-30/report.json").await).unwrap();
    let acme = &day["instances"][0];
    assert_eq!(
        (acme["instance_id"].as_str(), acme["coverage_percent"].as_f64()),
        (Some("acme"), Some(100.0))
    );
    let subjects: Vec<&str> = day["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2);
    assert!(subjects.contains(&weekly.as_str()) && subjects.contains(&"acme-db-before-upgrade"));
    assert!(day["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["revoked"] == true));

    // Shared again, and CloudTrail's record of the call reaches the audit (as the template's
    // rule delivers it): revoked at once, without waiting for a sweep.
    share(&stack, "acme-db-before-upgrade", &["all"]).await;
    let record = json!({"version": "0", "id": "ct-1", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.rds", "time": audit_at.to_rfc3339(), "detail": {"eventSource": "rds.amazonaws.com",
        "eventName": "ModifyDBSnapshotAttribute", "requestParameters": {"dBSnapshotIdentifier": "acme-db-before-upgrade",
        "attributeName": "restore", "valuesToAdd": ["all"]}}});
    match stack
        .invoke(AUDIT, &record)
        .await
        .expect("the Invoke API answers")
    {
        Invocation::Succeeded(v) => assert_eq!(v["exposure"]["revoked"], true, "{v}"),
        failed => panic!("the fast path failed: {failed:?}"),
    }
    assert!(restorers(&stack, "acme-db-before-upgrade").await.is_empty());

    // A weekly point deleted behind Lifeboat's back: the next audit finds it missing.
    stack
        .rds()
        .delete_db_snapshot()
        .db_snapshot_identifier(&weekly)
        .send()
        .await
        .unwrap();
    let next = audit_at + TimeDelta::hours(1);
    for resource in ["rds:acme-db", "dynamodb:acme-orders"] {
        set_window(
            &stack,
            resource,
            next - TimeDelta::days(3),
            next - TimeDelta::minutes(5),
        )
        .await;
    }
    let answer = match audit(&stack, next, json!({"sweep_all": true})).await {
        Invocation::Succeeded(v) => v,
        failed => panic!("the audit failed: {failed:?}"),
    };
    assert_eq!(answer["exposures"], 0, "revoked for good");
    let short = answer["short"].as_array().unwrap();
    assert_eq!(short.len(), 1);
    assert_eq!(short[0][0], "acme");
    assert!(short[0][1].as_f64().unwrap() < 100.0);
    assert_eq!(
        answer["page_key"], "audits/2026-12-01/report.html",
        "the next day's"
    );
    let html = reports_object(&stack, "audits/2026-12-01/report.html").await;
    let page_text = String::from_utf8(html.clone()).unwrap();
    for outside in [
        "<script", "src=", "href=", "url(", "@import", "http://", "https://",
    ] {
        assert!(
            !page_text.contains(outside),
            "the page must stand alone: {outside}"
        );
    }

    // Opened as an engineer would: headless Chromium renders it, and a screenshot is kept.
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("recovery-audit");
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("report.html");
    std::fs::write(&page, &html).unwrap();
    let dom = browser::rendered_dom(&page, &stack.config.work_dir)
        .await
        .expect("chromium renders the page");
    assert!(dom.contains("Lifeboat recovery audit"));
    assert!(dom.contains(r#"data-instance="acme""#));
    assert!(
        dom.contains("missing_points") && dom.contains("catalog_only"),
        "the lost point is listed"
    );
    assert!(dom.contains(r#"class="missing weekly" data-slot="2026-11-28T23:00:00Z""#));
    assert_eq!(
        dom.matches(r#"class="point monthly restorable""#).count(),
        4,
        "the month end, both resources, on both timelines"
    );
    assert!(!dom.contains("window_short"), "{dom}");
    browser::screenshot(
        &page,
        &out.join("report.png"),
        (1100, 900),
        &stack.config.work_dir,
    )
    .await
    .expect("a screenshot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_is_audited_in_shards_of_whole_instances_through_the_state_machine() {
    // One resource a shard: acme's two stay together, globex gets its own.
    let stack = stack_with(&[("LIFEBOAT_SHARD_SIZE", "1")]).await;
    let acme = [(TAG_INSTANCE, "acme")];
    resources::rds_instance(&stack, "acme-db", &acme, 3)
        .await
        .unwrap();
    resources::dynamodb_table(&stack, "acme-orders", &acme)
        .await
        .unwrap();
    resources::rds_instance(&stack, "globex-db", &[(TAG_INSTANCE, "globex")], 3)
        .await
        .unwrap();
    scheduled_points(&stack, hour_before(Utc::now(), 2)).await;
    let point = rds_snapshots(&stack)
        .await
        .into_iter()
        .find(|s| s.contains("globex-db"))
        .unwrap();
    share(&stack, &point, &["all"]).await;

    let mut tick = event(PRUNER, &Utc::now().to_rfc3339());
    tick["detail"] = json!({"sweep_all": true});
    let output = match lifeboat_local::fleet_tick::run(&stack, AUDIT, &tick)
        .await
        .unwrap()
    {
        Invocation::Succeeded(output) => output,
        failed => panic!("the audit's execution failed: {failed:?}"),
    };
    assert!(
        restorers(&stack, &point).await.is_empty(),
        "revoked by globex's shard"
    );
    let day_key = output["report_key"]
        .as_str()
        .expect("the finish answers the summary");
    let day: Value = serde_json::from_slice(&reports_object(&stack, day_key).await).unwrap();
    let instances: Vec<&str> = day["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance_id"].as_str().unwrap())
        .collect();
    assert_eq!(instances, ["acme", "globex"]);
    assert_eq!(day["instances"][0]["resources"].as_array().unwrap().len(), 2);
    assert_eq!(day["exposures"][0]["subject"], point.as_str());
    // The exposure announced, naming globex and no resource.
    let events = lifeboat_local::status_events::take(stack.sdk_config())
        .await
        .unwrap();
    let exposed: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "Audit Finding" && e["detail"]["finding"] == "exposed")
        .collect();
    assert_eq!(exposed.len(), 1, "{events:?}");
    assert_eq!(exposed[0]["detail"]["instance_id"], "globex");
    assert!(
        !exposed[0]["detail"].to_string().contains("globex-db"),
        "{}",
        exposed[0]
    );
    let page_key = output["page_key"].as_str().unwrap();
    let page = String::from_utf8(reports_object(&stack, page_key).await).unwrap();
    let date = &day_key["audits/".len().."audits/".len() + 10];
    let link = page
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the day's page links each instance's page");
    let acme_page =
        String::from_utf8(reports_object(&stack, &format!("audits/{date}/{link}")).await).unwrap();
    assert!(acme_page.contains(r#"data-instance="acme""#) && acme_page.contains("<svg"));
}
