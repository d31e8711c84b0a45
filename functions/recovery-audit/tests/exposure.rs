//! The exposure guard on in-memory ports: every copy of a customer's data is guarded by its
//! lineage (snapshots of what restores and drills made, final snapshots, safety snapshots the
//! catalog never named, tagged copies), through the daily sweep and CloudTrail's fast path;
//! an unrelated snapshot is left alone; DynamoDB resource policies that let outsiders in are
//! removed from Lifeboat's own tables and reported on production's.

mod audit_world;

use audit_world::*;
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::memory::world::{at, scheduled_event, PITR_3_DAYS};
use lifeboat::rotation::daily_turn_at;
use lifeboat::schedule::Slot;
use lifeboat_function::failure::FailureType;
use serde_json::{json, Value};

const REQUEST: &str = "rr-7f3a91c2-0d4e-4b8a-9c1e-5f2d3b4a6e70";
const OUTSIDER: &str = "210987654321";

/// acme's database, backed up, and what a rollback of it left: the old production kept as
/// `lbf-…` (production's tags with the restore's marks), as the executor leaves it.
fn rolled_back() -> (World, String) {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    let fallback = names(REQUEST, &ResourceKey::rds("acme-db")).fallback;
    w.ports.rds.add_resource(
        &fallback,
        &[
            (TAG_INSTANCE, "acme"),
            (TAG_RESTORE_ROLE, "fallback"),
            (TAG_RESTORE_REQUEST, REQUEST),
        ],
        PITR_3_DAYS,
    );
    (w, fallback)
}

fn exposures(report: &Value) -> Vec<(String, String, bool)> {
    report["exposures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["subject"].as_str().unwrap().to_string(),
                e["lineage"].as_str().unwrap_or("").to_string(),
                e["revoked"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// CloudTrail's record of a `ModifyDBSnapshotAttribute` call, as EventBridge delivers it.
fn sharing_record(snapshot: &str) -> Value {
    json!({"version": "0", "id": "ct-1", "detail-type": "AWS API Call via CloudTrail", "source": "aws.rds",
        "account": ACCOUNT, "time": AT, "region": "eu-west-1", "resources": [],
        "detail": {"eventSource": "rds.amazonaws.com", "eventName": "ModifyDBSnapshotAttribute",
            "requestParameters": {"dBSnapshotIdentifier": snapshot, "attributeName": "restore", "valuesToAdd": ["all"]}}})
}

#[tokio::test]
async fn snapshots_of_every_instance_restores_and_drills_make_are_revoked_by_the_daily_sweep() {
    let (w, fallback) = rolled_back();
    let made = names(REQUEST, &ResourceKey::rds("acme-db"));
    w.sharing.add_snapshot(&fallback, "kept-before-cleanup", &["all"]);
    // Instances gone since: a staging instance, a retired one, a drill's sandbox.
    w.sharing.add_snapshot(&made.staging, "staging-copy", &[OUTSIDER]);
    w.sharing.add_snapshot(&made.retired, "retired-copy", &["all"]);
    w.sharing
        .add_snapshot("lbd-5c1e0a9f-acme-db", "sandbox-copy", &["all"]);
    w.audit(json!({})).await.expect("revoked");
    for copy in [
        "kept-before-cleanup",
        "staging-copy",
        "retired-copy",
        "sandbox-copy",
    ] {
        assert!(w.sharing.restorers_now(copy).is_empty(), "{copy}");
    }
    let report = w.report("audits/2026-12-03/report.json");
    let found = exposures(&report);
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found
        .iter()
        .all(|(_, lineage, revoked)| lineage == "made_by_lifeboat" && *revoked));
    // The kept instance carries acme's tags: its copy is acme's finding, announced as acme's.
    let acme: Vec<&str> = report["instances"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["subject"].as_str().unwrap())
        .collect();
    assert_eq!(acme, ["kept-before-cleanup"], "{report}");
}

#[tokio::test]
async fn a_final_snapshot_a_safety_snapshot_the_catalog_never_named_and_a_tagged_copy_are_revoked() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    // initech offboarded and its instance deleted: its points are kept, and so is the
    // final snapshot RDS took under the deleted instance's name.
    w.backed_up(
        ResourceKind::RdsInstance,
        "initech-db",
        "initech",
        "2026-12-01T00:00:00Z",
    );
    w.ports.rds.remove_resource(&ResourceKey::rds("initech-db"));
    w.sharing.add_snapshot("initech-db", "initech-db-final", &["all"]);
    // A restore's safety snapshot of an instance neither managed nor catalogued now.
    let safety = names(REQUEST, &ResourceKey::rds("old-db")).safety;
    w.sharing.add_snapshot("old-db", &safety, &["all"]);
    // A copy that came along with acme's tags, of an instance no one knows.
    w.sharing.add_tagged_snapshot(
        "scratch-db",
        "copy-for-analysis",
        &[(TAG_INSTANCE, "acme")],
        &[OUTSIDER],
    );
    // And someone else's snapshot, nothing to do with a customer.
    w.sharing
        .add_snapshot("marketing-db", "campaign-export", &["all"]);
    w.audit(json!({"sweep_all": true})).await.expect("revoked");
    let report = w.report("audits/2026-12-03/report.json");
    let mut found = exposures(&report);
    found.sort();
    assert_eq!(
        found,
        [
            ("copy-for-analysis".to_string(), "tagged".to_string(), true),
            ("initech-db-final".to_string(), "kept".to_string(), true),
            (safety.clone(), "named_by_lifeboat".to_string(), true),
        ]
    );
    assert_eq!(
        w.sharing.restorers_now("campaign-export"),
        ["all"],
        "not a customer's"
    );
    assert!(
        !w.sharing
            .revocations()
            .iter()
            .any(|(s, _)| s == "campaign-export"),
        "{:?}",
        w.sharing.revocations()
    );
    // The tagged copy is acme's finding.
    assert!(report["instances"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["subject"] == "copy-for-analysis"));
}

/// An RDS instance name whose rotation turn is (or is not) the audit's day.
fn instance_on_turn(on: bool) -> String {
    let day = Slot::containing(at(AT));
    (0..)
        .map(|i| format!("db-{i}"))
        .find(|name| daily_turn_at(&ResourceKey::rds(name), day, 7) == on)
        .unwrap()
}

#[tokio::test]
async fn copies_are_swept_on_every_run_and_an_instance_s_own_snapshots_on_its_turn() {
    let w = world();
    let (resting, due) = (instance_on_turn(false), instance_on_turn(true));
    for name in [&resting, &due] {
        w.backed_up(ResourceKind::RdsInstance, name, name, "2026-12-01T00:00:00Z");
        w.sharing.add_snapshot(name, &format!("{name}-by-hand"), &["all"]);
    }
    let fallback = names(REQUEST, &ResourceKey::rds(&resting)).fallback;
    w.sharing
        .add_snapshot(&fallback, "resting-fallback-copy", &["all"]);
    w.audit(json!({})).await.expect("audited");
    assert_eq!(
        w.sharing.restorers_now(&format!("{resting}-by-hand")),
        ["all"],
        "not its turn"
    );
    assert!(w.sharing.restorers_now(&format!("{due}-by-hand")).is_empty());
    assert!(
        w.sharing.restorers_now("resting-fallback-copy").is_empty(),
        "every run"
    );
}

#[tokio::test]
async fn a_fleet_s_sweep_lists_the_account_a_hundred_snapshots_a_call() {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    for i in 0..230 {
        w.sharing
            .add_snapshot("acme-db", &format!("acme-db-copy-{i:03}"), &[]);
    }
    w.audit(json!({"sweep_all": true})).await.expect("audited");
    assert_eq!(w.sharing.listings(), ["*", "*", "*"], "230 snapshots in 3 pages");
}

#[tokio::test]
async fn an_audit_of_one_instance_sweeps_the_copies_its_tags_claim_and_lists_nothing_else() {
    let (w, fallback) = rolled_back();
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-12-01T00:00:00Z",
    );
    w.sharing.set_page_size(2);
    w.sharing.add_snapshot(&fallback, "kept-copy", &["all"]);
    for i in 0..3 {
        w.sharing
            .add_snapshot("acme-db", &format!("acme-db-by-hand-{i}"), &[OUTSIDER]);
    }
    w.sharing.add_snapshot("globex-db", "globex-db-by-hand", &["all"]);
    w.audit(json!({"instance": "acme"})).await.expect("audited");
    assert!(w.sharing.restorers_now("kept-copy").is_empty());
    for i in 0..3 {
        assert!(
            w.sharing
                .restorers_now(&format!("acme-db-by-hand-{i}"))
                .is_empty(),
            "page {i}"
        );
    }
    assert_eq!(
        w.sharing.restorers_now("globex-db-by-hand"),
        ["all"],
        "another instance's"
    );
    let sources = format!("acme-db,{fallback}");
    assert_eq!(
        w.sharing.listings(),
        [sources.clone(), sources],
        "its instances only, page by page"
    );
}

#[tokio::test]
async fn a_share_of_a_kept_fallback_s_snapshot_is_revoked_as_soon_as_cloudtrail_reports_it() {
    let (w, fallback) = rolled_back();
    w.sharing.add_snapshot(&fallback, "kept-copy", &["all", ACCOUNT]);
    let verdict = w
        .auditor
        .invoke(sharing_record("kept-copy"), at(AT))
        .await
        .expect("revoked");
    assert_eq!(w.sharing.restorers_now("kept-copy"), [ACCOUNT]);
    assert_eq!(verdict["in_scope"], true);
    assert_eq!(verdict["lineage"], "made_by_lifeboat");
    assert_eq!(verdict["exposure"]["revoked"], true);
    assert_eq!(verdict["instance"], fallback.as_str());
    // Neither managed nor catalogued, tags nor name: not the guard's to touch.
    w.sharing
        .add_snapshot("marketing-db", "campaign-export", &["all"]);
    let verdict = (w.auditor.invoke(sharing_record("campaign-export"), at(AT)).await).expect("nothing to do");
    assert_eq!(
        (verdict["in_scope"].as_bool(), &verdict["exposure"]),
        (Some(false), &Value::Null)
    );
    assert_eq!(w.sharing.restorers_now("campaign-export"), ["all"]);
}

#[tokio::test]
async fn cloudtrail_s_record_of_a_tagged_copy_or_a_safety_snapshot_the_catalog_never_named_revokes_it() {
    let w = world();
    w.sharing.add_tagged_snapshot(
        "scratch-db",
        "copy-for-analysis",
        &[(TAG_INSTANCE, "acme")],
        &["all"],
    );
    let safety = names(REQUEST, &ResourceKey::rds("old-db")).safety;
    w.sharing.add_snapshot("old-db", &safety, &[OUTSIDER]);
    for (snapshot, lineage) in [
        ("copy-for-analysis", "tagged"),
        (safety.as_str(), "named_by_lifeboat"),
    ] {
        let verdict = w
            .auditor
            .invoke(sharing_record(snapshot), at(AT))
            .await
            .expect("revoked");
        assert_eq!(verdict["lineage"], lineage, "{verdict}");
        assert!(w.sharing.restorers_now(snapshot).is_empty(), "{snapshot}");
    }
    let events = w.ports.events.published();
    let first: Value = serde_json::from_str(&events[0].detail_json()).unwrap();
    assert_eq!(first["instance_id"], "acme", "the copy's tags name its instance");
}

#[tokio::test]
async fn the_shards_of_a_fanned_out_audit_sweep_copies_claimed_by_their_instances_and_those_no_one_claims() {
    let (w, fallback) = rolled_back();
    let w = World {
        auditor: recovery_audit::Auditor {
            shard_size: 1,
            ..w.auditor
        },
        ..w
    };
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-12-01T00:00:00Z",
    );
    // A sandbox whose tags were stripped: no instance claims it.
    w.ports
        .rds
        .add_resource("lbd-5c1e0a9f-globex-db", &[], PITR_3_DAYS);
    w.sharing.add_snapshot(&fallback, "kept-copy", &["all"]);
    w.sharing
        .add_snapshot("lbd-5c1e0a9f-globex-db", "sandbox-copy", &["all"]);
    let event = scheduled_event(AT, json!({}));
    let plan = w
        .auditor
        .invoke(json!({"stage": "plan", "event": event}), at(AT))
        .await
        .unwrap();
    let mut results = Vec::new();
    for key in plan["shards"].as_array().unwrap() {
        let stage = json!({"stage": "shard", "shard": key, "event": event});
        results.push(w.auditor.invoke(stage, at(AT)).await.unwrap());
    }
    let finish = json!({"stage": "finish", "plan": plan, "results": results, "event": event});
    let summary = w.auditor.invoke(finish, at(AT)).await.expect("finished");
    assert!(w.sharing.restorers_now("kept-copy").is_empty(), "acme's shard");
    assert!(
        w.sharing.restorers_now("sandbox-copy").is_empty(),
        "dealt to a shard"
    );
    assert_eq!(summary["exposures"], 2);
    assert_eq!(
        w.sharing.listings().iter().filter(|l| *l == "*").count(),
        1,
        "no shard lists the whole account: only the plan's walk, whose one page is all of it"
    );
    let acme = w.report("audits/2026-12-03/instances/acme/report.json");
    assert_eq!(
        acme["exposures"][0]["subject"], "kept-copy",
        "on acme's own report"
    );
}

// DynamoDB tables' resource policies.

/// A policy of `statements`, as the console writes one.
fn policy(statements: Value) -> String {
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

fn public_read(sid: &str) -> Value {
    json!({"Sid": sid, "Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": "*"})
}

fn own_app() -> Value {
    json!({"Sid": "OwnApp", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT}:role/app")},
        "Action": "dynamodb:*", "Resource": "*"})
}

/// acme's orders table and a restore's staging table of it, marked as the restore marks it.
fn with_tables() -> (World, String) {
    let w = world();
    w.backed_up(
        ResourceKind::DynamoTable,
        "acme-orders",
        "acme",
        "2026-12-01T00:00:00Z",
    );
    w.tables.add_table("acme-orders", &[(TAG_INSTANCE, "acme")]);
    let staging = names(REQUEST, &ResourceKey::dynamodb("acme-orders")).staging;
    w.tables.add_table(
        &staging,
        &[(TAG_RESTORE_ROLE, "staging"), (TAG_RESTORE_REQUEST, REQUEST)],
    );
    (w, staging)
}

#[tokio::test]
async fn a_staging_table_s_statement_granting_everyone_is_removed_and_the_rest_kept() {
    let (w, staging) = with_tables();
    w.tables
        .put(&staging, &policy(json!([own_app(), public_read("Public")])));
    w.audit(json!({})).await.expect("removed");
    let now = w.tables.policy_now(&staging).expect("the rest is kept");
    assert_eq!(now["Statement"].as_array().unwrap().len(), 1);
    assert_eq!(now["Statement"][0]["Sid"], "OwnApp");
    let report = w.report("audits/2026-12-03/report.json");
    let e = &report["exposures"][0];
    assert_eq!(
        (e["kind"].as_str(), e["subject"].as_str(), e["statement"].as_str()),
        (
            Some("table_policy"),
            Some(format!("dynamodb:{staging}").as_str()),
            Some("Public")
        )
    );
    assert_eq!(
        (e["exposed_to"].clone(), e["revoked"].clone()),
        (json!(["*"]), json!(true))
    );
    assert!(report["findings"][0]["what"]
        .as_str()
        .unwrap()
        .ends_with(": removed"));
}

#[tokio::test]
async fn a_policy_left_with_no_statement_is_deleted_at_the_revision_read() {
    let (w, staging) = with_tables();
    w.tables.put(&staging, &policy(json!(public_read("Public"))));
    w.audit(json!({})).await.expect("removed");
    assert_eq!(w.tables.policy_now(&staging), None);
    assert_eq!(w.tables.writes(), [format!("delete {staging}")]);
}

#[tokio::test]
async fn a_production_table_s_outside_grant_is_reported_and_left_for_the_operator() {
    let (w, _) = with_tables();
    let partner = json!({"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{OUTSIDER}:root")},
        "Action": "dynamodb:Query", "Resource": "*"});
    w.tables.put("acme-orders", &policy(json!([own_app(), partner])));
    let summary = w.audit(json!({})).await.expect("reported, not a failure");
    assert_eq!(summary["exposures"], 1);
    assert!(w.tables.writes().is_empty());
    assert_eq!(
        w.tables.policy_now("acme-orders").unwrap()["Statement"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let report = w.report("audits/2026-12-03/report.json");
    let e = &report["exposures"][0];
    assert_eq!(e["revoked"], false);
    assert!(e["left"].as_str().unwrap().contains("production table"), "{e}");
    let finding = &report["instances"][0]["findings"][0];
    assert_eq!(finding["kind"], "exposed");
    assert!(
        finding["what"]
            .as_str()
            .unwrap()
            .contains(&format!("statement Partner lets arn:aws:iam::{OUTSIDER}:root")),
        "{finding}"
    );
}

#[tokio::test]
async fn a_table_named_like_lifeboat_s_without_its_marks_is_reported_and_left() {
    let (w, _) = with_tables();
    w.tables.add_table("lbs-lookalike-orders", &[]);
    w.tables
        .put("lbs-lookalike-orders", &policy(json!(public_read("Public"))));
    w.audit(json!({})).await.expect("reported");
    assert!(w.tables.writes().is_empty());
    let report = w.report("audits/2026-12-03/report.json");
    assert!(report["exposures"][0]["left"].as_str().unwrap().contains("marks"));
}

#[tokio::test]
async fn a_dry_run_reports_a_staging_table_s_outside_grant_and_changes_nothing() {
    let (w, staging) = with_tables();
    w.tables.put(&staging, &policy(json!(public_read("Public"))));
    let summary = w.audit(json!({"dry_run": true})).await.expect("reported");
    assert_eq!(summary["exposures"], 1);
    assert!(w.tables.writes().is_empty());
    assert!(w.tables.policy_now(&staging).is_some());
}

#[tokio::test]
async fn a_policy_changed_since_it_was_read_is_not_overwritten_and_fails_the_audit() {
    let (w, staging) = with_tables();
    w.tables
        .put(&staging, &policy(json!([own_app(), public_read("Public")])));
    w.tables.race_on_read(&staging);
    let e = w.audit(json!({})).await.unwrap_err();
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    assert_eq!(
        w.tables.policy_now(&staging).unwrap()["Statement"]
            .as_array()
            .unwrap()
            .len(),
        2,
        "the change made meanwhile stands"
    );
    let report = w.report("audits/2026-12-03/report.json");
    assert!(
        report["exposures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("revision"),
        "{report}"
    );
}

#[tokio::test]
async fn a_grant_pinned_to_the_account_is_no_exposure_and_an_unreadable_policy_fails_the_audit() {
    let (w, staging) = with_tables();
    let pinned = json!({"Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": "*",
        "Condition": {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}}});
    w.tables.put(&staging, &policy(json!([pinned])));
    let summary = w.audit(json!({})).await.expect("nothing exposed");
    assert_eq!(summary["exposures"], 0);
    w.tables.fail_reading("acme-orders");
    let later: DateTime<Utc> = at(AT) + TimeDelta::minutes(10);
    let e = w
        .auditor
        .invoke(scheduled_event(&later.to_rfc3339(), json!({})), later)
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    let report = w.report("audits/2026-12-03/report.json");
    let finding = &report["findings"][0];
    assert_eq!(
        (finding["kind"].as_str(), finding["subject"].as_str()),
        (Some("not_checked"), Some("dynamodb:acme-orders"))
    );
}

#[tokio::test]
async fn a_table_both_discovered_by_its_tags_and_listed_by_its_name_is_reported_once() {
    let (w, staging) = with_tables();
    // Someone gave the staging table acme's tag: discovery finds it too (not managed: it
    // carries the restore's mark).
    let marks = [(TAG_INSTANCE, "acme"), (TAG_RESTORE_ROLE, "staging")];
    w.ports.ddb.add_resource(&staging, &marks, PITR_3_DAYS);
    w.tables.put(&staging, &policy(json!(public_read("Public"))));
    let _ = w.audit(json!({})).await;
    let report = w.report("audits/2026-12-03/report.json");
    assert_eq!(report["exposures"].as_array().unwrap().len(), 1, "{report}");
}
