//! The audit's logic on in-memory ports: coverage per instance, findings, exposure revoked
//! (and left alone in a dry run), what it writes, and how it fails.

mod audit_world;

use audit_world::*;
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::ResourceKind;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::ports::memory::world::{at, scheduled_event, PITR_3_DAYS};
use lifeboat::request::options::RestorableWindow;
use lifeboat::schedule::Slot;
use lifeboat_function::failure::FailureType;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

#[tokio::test]
async fn a_fleet_with_every_promised_point_is_fully_covered_and_its_report_and_page_are_written() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2025-06-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::DynamoTable,
        "acme-orders",
        "acme",
        "2025-06-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-11-20T00:00:00Z",
    );
    let summary = w.audit(json!({})).await.expect("the audit succeeds");
    assert_eq!(summary["report_key"], "audits/2026-12-03/report.json");
    assert_eq!(summary["short"], json!([]));
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(
        coverage(&report),
        BTreeMap::from([("acme".into(), 100.0), ("globex".into(), 100.0)])
    );
    assert_eq!(
        report["instances"][0]["promised"],
        2 * (70 + 4 + 12 + 1),
        "each with its window"
    );
    assert_eq!(
        report["instances"][1]["promised"],
        70 + 2 + 1 + 1,
        "globex since 20 November: two Saturdays, a month end and the window"
    );
    assert!(finding_kinds(&report, 0).is_empty() && finding_kinds(&report, 1).is_empty());
    let page = w.page("audits/2026-12-03/report.html");
    assert!(page.contains(r#"data-instance="acme""#) && page.contains("100% covered"));
    assert_eq!(
        page.matches("<svg").count(),
        4,
        "a week's and a year's timeline per instance"
    );
}

#[tokio::test]
async fn a_lost_point_and_a_short_window_lower_the_instance_s_coverage_and_are_named() {
    let w = world();
    let db = w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2025-06-01T00:00:00Z",
    );
    w.ports
        .rds
        .remove_point(&db.point_name(Slot::containing(at("2026-11-28T23:00:00Z"))));
    w.ports.rds.set_window(
        &db,
        RestorableWindow {
            earliest: at(AT) - TimeDelta::days(1),
            latest: at(AT),
        },
    );
    let summary = w.audit(json!({})).await.expect("findings are not failures");
    assert_eq!(
        summary["short"],
        json!([["acme", 97.7]]),
        "85 of 87: a weekly point and the window"
    );
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(
        finding_kinds(&report, 0),
        ["missing_points", "catalog_only", "window_short"]
    );
    let page = w.page("audits/2026-12-03/report.html");
    assert!(page.contains("97.7% covered") && page.contains("window_short"));
    assert!(page.contains(r#"class="missing weekly" data-slot="2026-11-28T23:00:00Z""#));
}

#[tokio::test]
async fn a_snapshot_shared_outside_the_account_is_revoked_and_reported_whoever_made_it() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.add_snapshot(
        "acme-db",
        "acme-db-before-migration",
        &["all", ACCOUNT, "210987654321"],
    );
    w.sharing.add_snapshot("acme-db", "acme-db-private", &[ACCOUNT]);
    w.sharing.add_snapshot("other-db", "other-db-public", &["all"]);
    let summary = w.audit(json!({"sweep_all": true})).await.expect("revoked");
    assert_eq!(summary["exposures"], 1);
    assert_eq!(w.sharing.restorers_now("acme-db-before-migration"), [ACCOUNT]);
    assert_eq!(
        w.sharing.restorers_now("other-db-public"),
        ["all"],
        "not a managed resource's"
    );
    assert_eq!(
        w.sharing.revocations(),
        [(
            "acme-db-before-migration".to_string(),
            vec!["210987654321".to_string(), "all".to_string()]
        )]
    );
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(report["exposures"][0]["revoked"], true);
    assert_eq!(finding_kinds(&report, 0)[0], "exposed");
    // Announced, the most serious first, naming the instance and no resource.
    let events = w.ports.events.published();
    let first: Value = serde_json::from_str(&events[0].detail_json()).unwrap();
    assert_eq!(events[0].detail_type.as_str(), "Audit Finding");
    assert_eq!(
        (first["finding"].as_str(), first["instance_id"].as_str()),
        (Some("exposed"), Some("acme"))
    );
    assert!(
        !events.iter().any(|e| e.detail_json().contains("acme-db")),
        "no resource names"
    );
}

#[tokio::test]
async fn a_dry_run_reports_an_exposure_and_leaves_it() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.add_snapshot("acme-db", "acme-db-shared", &["all"]);
    w.bucket.open("BlockPublicPolicy off");
    let summary = w
        .audit(json!({"sweep_all": true, "dry_run": true}))
        .await
        .expect("a dry run");
    assert_eq!(w.sharing.restorers_now("acme-db-shared"), ["all"]);
    assert!(w.sharing.revocations().is_empty());
    use lifeboat::ports::BucketAccess;
    assert_eq!(
        w.bucket.public_openings().await.unwrap(),
        ["BlockPublicPolicy off"],
        "left open"
    );
    assert_eq!(
        summary["report_key"],
        "audits/2026-12-03/runs/063000-dry-run/report.json"
    );
    assert!(
        w.ports.reports.get("audits/2026-12-03/report.json").is_none(),
        "not the day's report"
    );
    let report = w.report("audits/2026-12-03/runs/063000-dry-run/report.json");
    assert_eq!(report["exposures"].as_array().unwrap().len(), 2);
    assert!(report["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["revoked"] == false));
    assert!(
        w.ports.events.published().is_empty(),
        "a dry run announces nothing"
    );
}

#[tokio::test]
async fn an_exposure_that_cannot_be_revoked_fails_the_audit_after_its_report_is_written() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.add_snapshot("acme-db", "acme-db-shared", &["all"]);
    w.sharing.fail_revoking("acme-db-shared");
    let e = w.audit(json!({"sweep_all": true})).await.unwrap_err();
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    assert!(
        e.message.contains("1 exposures could not be revoked"),
        "{}",
        e.message
    );
    let report = w.report("audits/2026-12-03/report.json");
    assert!(report["exposures"][0]["error"]
        .as_str()
        .unwrap()
        .contains("AccessDenied"));
}

#[tokio::test]
async fn an_open_reports_bucket_is_closed_again() {
    let w = world();
    w.bucket.open("BlockPublicAcls off");
    w.bucket.open("IgnorePublicAcls off");
    w.audit(json!({})).await.expect("closed");
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(report["exposures"][0]["subject"], "lifeboat-reports");
    assert_eq!(report["exposures"][0]["revoked"], true);
    assert_eq!(report["findings"][0]["kind"], "exposed");
}

#[tokio::test]
async fn each_instance_s_snapshots_are_swept_once_in_seven_daily_audits() {
    let w = world();
    let names: Vec<String> = (0..12).map(|i| format!("db-{i}")).collect();
    for name in &names {
        w.ports
            .rds
            .add_resource(name, &[(TAG_INSTANCE, name)], PITR_3_DAYS);
        w.sharing.add_snapshot(name, &format!("{name}-shared"), &["all"]);
    }
    let first: DateTime<Utc> = at(AT);
    for day in 0..7 {
        let time = (first + TimeDelta::days(day)).to_rfc3339();
        // Failing checks (no points at all) do not stop the sweep; only its revocations count here.
        let _ = w
            .auditor
            .invoke(scheduled_event(&time, json!({})), first + TimeDelta::days(day))
            .await;
    }
    let revoked: Vec<String> = w.sharing.revocations().into_iter().map(|(s, _)| s).collect();
    let unique: BTreeSet<&String> = revoked.iter().collect();
    assert_eq!(revoked.len(), names.len(), "{revoked:?}");
    assert_eq!(unique.len(), names.len());
}

#[tokio::test]
async fn a_resource_that_cannot_be_read_shows_no_coverage_and_fails_the_audit() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-12-01T00:00:00Z",
    );
    w.ports.rds.fail("points_of", "globex-db");
    let e = w.audit(json!({})).await.unwrap_err();
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(
        coverage(&report),
        BTreeMap::from([("acme".into(), 100.0), ("globex".into(), 0.0)])
    );
    assert_eq!(finding_kinds(&report, 1), ["not_checked"]);
}

#[tokio::test]
async fn a_resource_no_longer_managed_with_points_left_is_a_fleet_finding() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    let old = w.backed_up(
        ResourceKind::RdsInstance,
        "gone-db",
        "initech",
        "2026-12-01T00:00:00Z",
    );
    w.ports.rds.add_resource(&old.name, &[], PITR_3_DAYS);
    w.audit(json!({}))
        .await
        .expect("an unmanaged resource is a finding, not a failure");
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(report["unmanaged"][0]["resource"], "rds:gone-db");
    assert_eq!(report["findings"][0]["kind"], "unmanaged");
    assert_eq!(coverage(&report).len(), 1);
}

#[tokio::test]
async fn an_audit_of_one_instance_reads_only_its_resources_and_writes_beside_the_day_s() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.add_snapshot("acme-db", "acme-db-shared", &["all"]);
    let summary = w.audit(json!({"instance": "acme"})).await.expect("audited");
    assert_eq!(
        summary["report_key"],
        "audits/2026-12-03/instances/acme/report.json"
    );
    let report = w.report("audits/2026-12-03/instances/acme/report.json");
    assert_eq!(coverage(&report).into_keys().collect::<Vec<_>>(), ["acme"]);
    assert_eq!(
        w.sharing.restorers_now("acme-db-shared"),
        Vec::<String>::new(),
        "its own snapshots all swept"
    );
    assert!(
        !w.ports.rds.calls().iter().any(|c| c.contains("globex")),
        "{:?}",
        w.ports.rds.calls()
    );
}

#[tokio::test]
async fn a_bad_event_is_refused_and_nothing_is_written() {
    let w = world();
    w.sharing.add_snapshot("acme-db", "acme-db-shared", &["all"]);
    let e = w.audit(json!({"instance": 42})).await.unwrap_err();
    assert_eq!(e.kind, FailureType::InvalidEvent);
    assert!(e.message.contains("detail.instance"));
    assert!(w.ports.reports.keys().is_empty());
    assert!(w.sharing.revocations().is_empty());
}

/// CloudTrail's record of a `ModifyDBSnapshotAttribute` call, as EventBridge delivers it.
fn sharing_record(snapshot: &str, values: &[&str]) -> Value {
    json!({"version": "0", "id": "ct-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.rds",
        "account": ACCOUNT, "time": AT, "region": "eu-west-1", "resources": [],
        "detail": {"eventSource": "rds.amazonaws.com", "eventName": "ModifyDBSnapshotAttribute",
            "requestParameters": {"dBSnapshotIdentifier": snapshot, "attributeName": "restore", "valuesToAdd": values}}})
}

#[tokio::test]
async fn a_snapshot_shared_is_revoked_as_soon_as_cloudtrail_reports_the_call() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing
        .add_snapshot("acme-db", "acme-db-copy", &["all", ACCOUNT]);
    let verdict = w
        .auditor
        .invoke(sharing_record("acme-db-copy", &["all"]), at(AT))
        .await
        .expect("revoked");
    assert_eq!(w.sharing.restorers_now("acme-db-copy"), [ACCOUNT]);
    assert_eq!(verdict["exposure"]["revoked"], true);
    let key = verdict["report_key"].as_str().unwrap();
    assert!(
        key.starts_with("audits/2026-12-03/sharing/acme-db-copy-"),
        "{key}"
    );
    assert_eq!(w.report(key)["exposure"]["exposed_to"], json!(["all"]));
    let events = w.ports.events.published();
    assert_eq!(events.len(), 1, "the exposure announced at once");
    let detail: Value = serde_json::from_str(&events[0].detail_json()).unwrap();
    assert_eq!(
        (detail["finding"].as_str(), detail["instance_id"].as_str()),
        (Some("exposed"), Some("acme"))
    );
}

#[tokio::test]
async fn a_sharing_record_of_an_unmanaged_or_private_snapshot_changes_and_writes_nothing() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.ports
        .rds
        .add_resource("analytics-db", &[("team", "data")], PITR_3_DAYS);
    w.sharing
        .add_snapshot("analytics-db", "analytics-public", &["all"]);
    w.sharing.add_snapshot("acme-db", "acme-db-private", &[ACCOUNT]);
    for snapshot in ["analytics-public", "acme-db-private", "no-such-snapshot"] {
        let verdict = w
            .auditor
            .invoke(sharing_record(snapshot, &[]), at(AT))
            .await
            .expect("nothing to do");
        assert_eq!(verdict["exposure"], Value::Null, "{snapshot}");
    }
    assert!(w.sharing.revocations().is_empty());
    assert!(!w.ports.reports.keys().iter().any(|k| k.starts_with("audits/")));
}

#[tokio::test]
async fn a_sharing_record_whose_revocation_fails_fails_the_invocation_for_lambda_to_retry() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing
        .add_snapshot("acme-db", "acme-db-copy", &["210987654321"]);
    w.sharing.fail_revoking("acme-db-copy");
    let e = w
        .auditor
        .invoke(sharing_record("acme-db-copy", &["210987654321"]), at(AT))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    assert!(e.message.contains("acme-db-copy"), "{}", e.message);
    let written: Vec<String> = w
        .ports
        .reports
        .keys()
        .into_iter()
        .filter(|k| k.starts_with("audits/"))
        .collect();
    assert_eq!(written.len(), 1, "the verdict is written first");
}

#[tokio::test]
async fn every_run_keeps_its_own_report_and_the_day_s_is_the_latest() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.add_snapshot("acme-db", "acme-db-shared", &["all"]);
    w.audit(json!({"sweep_all": true})).await.expect("revoked");
    let later = at(AT) + TimeDelta::minutes(20);
    w.auditor
        .invoke(scheduled_event(&later.to_rfc3339(), json!({})), later)
        .await
        .expect("a second run");
    let first = w.report("audits/2026-12-03/runs/063000/report.json");
    assert_eq!(
        first["exposures"][0]["revoked"], true,
        "the revocation stays on record"
    );
    let latest = w.report("audits/2026-12-03/report.json");
    assert_eq!(latest["generated_at"], "2026-12-03T06:50:00Z");
    // A late run of an earlier event keeps its own copy and leaves the day's latest.
    let earlier = at(AT) + TimeDelta::minutes(5);
    w.auditor
        .invoke(scheduled_event(&earlier.to_rfc3339(), json!({})), later)
        .await
        .expect("a late run");
    assert!(w
        .ports
        .reports
        .get("audits/2026-12-03/runs/063500/report.json")
        .is_some());
    assert_eq!(
        w.report("audits/2026-12-03/report.json")["generated_at"],
        "2026-12-03T06:50:00Z"
    );
}

#[tokio::test]
async fn sharing_with_a_trusted_account_is_not_an_exposure() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing
        .add_snapshot("acme-db", "acme-db-dr-copy", &[DR_ACCOUNT, "all"]);
    w.audit(json!({"sweep_all": true})).await.expect("audited");
    assert_eq!(w.sharing.restorers_now("acme-db-dr-copy"), [DR_ACCOUNT]);
}

#[tokio::test]
async fn an_offboarded_instance_s_kept_snapshots_are_swept_and_revoked_on_cloudtrail_s_record() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    let gone = w.backed_up(
        ResourceKind::RdsInstance,
        "initech-db",
        "initech",
        "2026-12-01T00:00:00Z",
    );
    w.ports.rds.add_resource(&gone.name, &[], PITR_3_DAYS);
    w.sharing.add_snapshot("initech-db", "initech-db-final", &["all"]);
    w.audit(json!({"sweep_all": true})).await.expect("audited");
    assert!(
        w.sharing.restorers_now("initech-db-final").is_empty(),
        "swept as unmanaged with points"
    );
    w.sharing
        .add_snapshot("initech-db", "initech-db-final-2", &["all"]);
    w.auditor
        .invoke(sharing_record("initech-db-final-2", &["all"]), at(AT))
        .await
        .expect("revoked");
    assert!(
        w.sharing.restorers_now("initech-db-final-2").is_empty(),
        "its points are Lifeboat's to answer for"
    );
}

#[tokio::test]
async fn a_resource_whose_tags_cannot_be_read_counts_against_its_instance() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.ports.ddb.add_resource(
        "acme-orders",
        &[(TAG_INSTANCE, "acme"), ("lifeboat:timezone", "Europe/Berln")],
        PITR_3_DAYS,
    );
    w.audit(json!({})).await.expect("findings are not failures");
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(coverage(&report)["acme"], 0.0);
    assert!(finding_kinds(&report, 0).contains(&"bad_tags".to_string()));
}

#[tokio::test]
async fn a_service_that_cannot_be_discovered_leaves_no_instance_looking_covered() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.ports.ddb.fail("discover", "*");
    let e = w.audit(json!({})).await.unwrap_err();
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(coverage(&report)["acme"], 0.0, "its tables are unknown");
    assert!(
        report["unmanaged"].as_array().unwrap().is_empty(),
        "no resource is called unmanaged"
    );
}

#[tokio::test]
async fn a_snapshot_deleted_during_the_sweep_is_no_failure() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.add_snapshot("acme-db", "acme-db-pruned", &[]);
    w.sharing.vanish_on_look("acme-db-pruned");
    w.audit(json!({"sweep_all": true}))
        .await
        .expect("nothing to check is left");
}

#[tokio::test]
async fn an_audit_of_an_instance_nothing_carries_is_refused_and_writes_nothing() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    let e = w.audit(json!({"instance": "acmee"})).await.unwrap_err();
    assert_eq!(e.kind, FailureType::InvalidEvent);
    assert!(e.message.contains("lifeboat:instance=acmee"), "{}", e.message);
    assert!(!w.ports.reports.keys().iter().any(|k| k.starts_with("audits/")));
}

#[tokio::test]
async fn an_instance_whose_last_successful_drill_is_old_is_named_and_its_page_says_when() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-12-01T00:00:00Z",
    );
    w.drilled("globex", at(AT) - TimeDelta::days(10));
    w.drill_outcome("globex", at(AT) - TimeDelta::days(3), false);
    w.audit(json!({})).await.expect("a finding, not a failure");
    let report = w.report("audits/2026-12-03/report.json");
    assert!(finding_kinds(&report, 0).is_empty(), "acme drilled two days ago");
    assert_eq!(finding_kinds(&report, 1), ["drill_overdue"]);
    assert_eq!(report["instances"][1]["latest_drill"]["drill_id"], "drill-globex");
    let page = w.page("audits/2026-12-03/report.html");
    assert!(
        page.contains("Last successful restore drill: 2026-12-01 06:30 UTC"),
        "acme's"
    );
    assert!(page.contains(r#"<line class="drill succeeded""#));
    assert_eq!(
        report["instances"][1]["drills"][1]["succeeded"], false,
        "globex's failed drill is on the report: {report}"
    );
    assert!(
        page.contains("1 failed restore drill(s) in the last year; the latest 2026-11-30"),
        "globex's failed drill is named"
    );
    // Two charts (week and year) each mark the failed drill.
    assert_eq!(page.matches(r#"<line class="drill failed""#).count(), 2);
}
