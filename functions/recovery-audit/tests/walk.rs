//! A fanned-out audit's walk of the account on in-memory ports: guarded copies whose source
//! instance no shard lists (gone from the account and the catalog) revoked as one
//! invocation revokes them; the walk going on each run where the last stopped and starting
//! over at the end; a retried plan walking the same pages, a dry run moving nothing; a page
//! that could not be listed failing the audit and listed again the next run.

mod audit_world;

use audit_world::*;
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::memory::world::{at, scheduled_event};
use lifeboat_function::failure::{FailureType, FunctionError};
use recovery_audit::walk::{WalkRecord, RECORD};
use serde_json::{json, Value};

const REQUEST: &str = "rr-0a11ce00-5eed-4b8a-9c1e-5f2d3b4a6e70";
const OUTSIDER: &str = "210987654321";

/// acme's and globex's databases, backed up, in shards of one resource; the account's
/// listing walked `pages` pages of `page_size` snapshots a run.
fn fleet(pages: usize, page_size: usize) -> World {
    let w = world();
    for (db, instance) in [("acme-db", "acme"), ("globex-db", "globex")] {
        w.backed_up(ResourceKind::RdsInstance, db, instance, "2026-12-01T00:00:00Z");
    }
    w.sharing.set_page_size(page_size);
    World {
        auditor: recovery_audit::Auditor {
            shard_size: 1,
            walk: recovery_audit::AccountWalk {
                pages,
                ..w.auditor.walk
            },
            ..w.auditor
        },
        ..w
    }
}

impl World {
    /// The audit's plan, its shards and its finish at `time`, as the state machine runs them.
    async fn fanned_out_at(&self, time: DateTime<Utc>, detail: Value) -> Result<Value, FunctionError> {
        let event = scheduled_event(&time.to_rfc3339(), detail);
        let plan = self
            .auditor
            .invoke(json!({"stage": "plan", "event": event}), time)
            .await?;
        let mut results = Vec::new();
        for key in plan["shards"].as_array().unwrap() {
            let stage = json!({"stage": "shard", "shard": key, "event": event});
            results.push(self.auditor.invoke(stage, time).await?);
        }
        let finish = json!({"stage": "finish", "plan": plan, "results": results, "event": event});
        self.auditor.invoke(finish, time).await
    }

    fn walk_record(&self) -> WalkRecord {
        serde_json::from_slice(&self.ports.reports.get(RECORD).expect("the walk's record")).unwrap()
    }

    /// Which of `snapshots` are still shared outside the account.
    fn still_shared(&self, snapshots: &[impl AsRef<str>]) -> Vec<String> {
        (snapshots.iter().map(AsRef::as_ref))
            .filter(|s| self.sharing.restorers_now(s).iter().any(|r| r != ACCOUNT))
            .map(str::to_string)
            .collect()
    }
}

fn day(n: i64) -> DateTime<Utc> {
    at(AT) + TimeDelta::days(n)
}

fn exposures(report: &Value) -> Vec<(String, String, String)> {
    let mut found: Vec<_> = (report["exposures"].as_array().unwrap().iter())
        .filter(|e| e["kind"] == "snapshot")
        .map(|e| {
            (
                e["subject"].as_str().unwrap().to_string(),
                e["lineage"].as_str().unwrap().to_string(),
                e["owner"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Copies of `gone-db`, deleted and never catalogued, and of a rollback's kept `lbf-`
/// instance deleted since, each shared outside; and an unrelated snapshot shared publicly.
fn copies_of_gone_instances(w: &World) -> Vec<String> {
    let safety = names(REQUEST, &ResourceKey::rds("gone-db")).safety;
    let fallback = names(REQUEST, &ResourceKey::rds("acme-db")).fallback;
    w.sharing.add_tagged_snapshot(
        "gone-db",
        &safety,
        &[(TAG_RESTORE_ROLE, "safety"), (TAG_RESTORE_REQUEST, REQUEST)],
        &["all"],
    );
    w.sharing.add_tagged_snapshot(
        "gone-db",
        "acme-copy",
        &[(TAG_INSTANCE, "acme")],
        &["all", ACCOUNT],
    );
    w.sharing
        .add_snapshot(&fallback, "final-before-delete", &[OUTSIDER]);
    w.sharing
        .add_snapshot("analytics-db", "analytics-nightly", &["all"]);
    vec![safety, "acme-copy".into(), "final-before-delete".into()]
}

#[tokio::test]
async fn a_fanned_out_audit_revokes_guarded_copies_of_instances_gone_from_the_account_as_one_invocation_does()
{
    let whole = fleet(100, 100);
    let copies = copies_of_gone_instances(&whole);
    whole.audit(json!({})).await.expect("one invocation");
    let expected = exposures(&whole.report("audits/2026-12-03/report.json"));
    assert_eq!(expected.len(), 3, "{expected:?}");

    let w = fleet(100, 100);
    copies_of_gone_instances(&w);
    let summary = w
        .fanned_out_at(at(AT), json!({}))
        .await
        .expect("the fanned-out audit");
    assert_eq!(
        w.still_shared(&copies),
        Vec::<String>::new(),
        "every guarded copy revoked"
    );
    assert_eq!(
        w.sharing.restorers_now("analytics-nightly"),
        ["all"],
        "an unrelated snapshot is left alone"
    );
    assert_eq!(summary["exposures"], 3, "{summary}");
    let day = w.report("audits/2026-12-03/report.json");
    assert_eq!(exposures(&day), expected, "the day one invocation reports");
    let lineages: Vec<&str> = expected.iter().map(|(_, l, _)| l.as_str()).collect();
    assert_eq!(lineages, ["tagged", "made_by_lifeboat", "named_by_lifeboat"]);
    let acme = w.report("audits/2026-12-03/instances/acme/report.json");
    assert_eq!(
        acme["exposures"][0]["subject"], "acme-copy",
        "the copy its tags say is acme's went to acme's shard, and shows on acme's page"
    );
    assert_eq!(w.walk_record().next, None, "the one page was the whole account");
}

#[tokio::test]
async fn the_walk_goes_on_each_run_where_the_last_stopped_and_starts_over_at_the_end() {
    // Two pages of one snapshot a run; the account holds five copies of a gone instance,
    // listed in identifier order (acme-db and globex-db have no manual snapshots).
    let w = fleet(2, 1);
    let copies = ["copy-1", "copy-2", "copy-3", "copy-4", "copy-5"];
    for copy in copies {
        w.sharing
            .add_tagged_snapshot("gone-db", copy, &[(TAG_INSTANCE, "acme")], &["all"]);
    }
    w.fanned_out_at(day(0), json!({})).await.unwrap();
    assert_eq!(w.still_shared(&copies), ["copy-3", "copy-4", "copy-5"]);
    assert_eq!(w.walk_record().next.as_deref(), Some("copy-2"));

    // A dry run walks on from there, reports, and leaves both the copies and the walk.
    let dry = w.fanned_out_at(day(1), json!({"dry_run": true})).await.unwrap();
    assert_eq!(dry["exposures"], 2, "{dry}");
    assert_eq!(w.still_shared(&copies), ["copy-3", "copy-4", "copy-5"]);
    assert_eq!(w.walk_record().next.as_deref(), Some("copy-2"));

    w.fanned_out_at(day(1), json!({})).await.unwrap();
    assert_eq!(w.still_shared(&copies), ["copy-5"]);
    w.fanned_out_at(day(2), json!({})).await.unwrap();
    assert_eq!(w.still_shared(&copies), Vec::<String>::new());
    let record = w.walk_record();
    assert_eq!(
        (record.next, record.last_pass_ended),
        (None, Some(day(2))),
        "the end of the listing reached"
    );

    // Shared again: the next run starts over and finds it.
    w.sharing
        .add_tagged_snapshot("gone-db", "copy-1", &[(TAG_INSTANCE, "acme")], &["all"]);
    w.fanned_out_at(day(3), json!({})).await.unwrap();
    assert_eq!(w.still_shared(&copies), Vec::<String>::new());
    assert_eq!(w.walk_record().pass_started, Some(day(3)));
}

#[tokio::test]
async fn a_plan_retried_after_it_walked_walks_the_same_pages_again() {
    let w = fleet(2, 1);
    let copies = ["copy-1", "copy-2", "copy-3", "copy-4"];
    for copy in copies {
        w.sharing.add_tagged_snapshot("gone-db", copy, &[], &[]);
    }
    w.fanned_out_at(day(0), json!({})).await.unwrap();
    for copy in ["copy-3", "copy-4"] {
        w.sharing
            .add_tagged_snapshot("gone-db", copy, &[(TAG_INSTANCE, "acme")], &["all"]);
    }
    // The plan walks copy-3 and copy-4, then fails before its plan is on record.
    w.ports.reports.fail_puts_ending(Some("plan.json"));
    let e = w
        .fanned_out_at(day(1), json!({}))
        .await
        .expect_err("the plan failed");
    assert_eq!(e.kind, FailureType::DependencyFailed);
    w.ports.reports.fail_puts_ending(None);
    // Retried, it deals what it walked, not the pages after.
    w.fanned_out_at(day(1), json!({})).await.unwrap();
    assert_eq!(w.still_shared(&copies), Vec::<String>::new());
    assert_eq!(w.walk_record().from.as_deref(), Some("copy-2"));
}

#[tokio::test]
async fn a_page_that_could_not_be_listed_fails_the_audit_and_is_listed_the_next_run() {
    let w = fleet(3, 1);
    let copies = ["copy-1", "copy-2", "copy-3"];
    for copy in copies {
        w.sharing
            .add_tagged_snapshot("gone-db", copy, &[(TAG_INSTANCE, "acme")], &["all"]);
    }
    w.sharing.refuse_marker("copy-1");
    let e = w
        .fanned_out_at(day(0), json!({}))
        .await
        .expect_err("a page could not be listed");
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    let report = w.report("audits/2026-12-03/report.json");
    let finding = (report["findings"].as_array().unwrap().iter())
        .find(|f| f["kind"] == "not_checked")
        .expect("the walk's finding");
    assert!(
        finding["subject"].as_str().unwrap().contains("rds:snapshot:*"),
        "{finding}"
    );
    assert_eq!(w.still_shared(&copies), ["copy-2", "copy-3"], "copy-1 was listed");
    assert_eq!(w.walk_record().next.as_deref(), Some("copy-1"));

    w.sharing.accept_markers();
    w.fanned_out_at(day(1), json!({}))
        .await
        .expect("listed this time");
    assert_eq!(w.still_shared(&copies), Vec::<String>::new());
}

#[tokio::test]
async fn a_kept_marker_that_rds_refuses_starts_the_walk_over() {
    let w = fleet(1, 1);
    let copies = ["copy-1", "copy-2"];
    for copy in copies {
        w.sharing
            .add_tagged_snapshot("gone-db", copy, &[(TAG_INSTANCE, "acme")], &["all"]);
    }
    w.fanned_out_at(day(0), json!({})).await.unwrap();
    assert_eq!(w.still_shared(&copies), ["copy-2"]);
    w.sharing
        .add_tagged_snapshot("gone-db", "copy-1", &[(TAG_INSTANCE, "acme")], &["all"]);
    w.sharing.refuse_marker("copy-1");
    w.fanned_out_at(day(1), json!({}))
        .await
        .expect("not a failure: the walk starts over");
    assert_eq!(
        w.still_shared(&copies),
        ["copy-2"],
        "copy-1 again, from the start"
    );
    let record = w.walk_record();
    assert_eq!((record.from, record.pass_started), (None, Some(day(1))));
}
