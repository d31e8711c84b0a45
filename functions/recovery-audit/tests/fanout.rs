//! The audit fanned out in shards (as the fleet-tick state machine runs it) on in-memory
//! ports: the same day as one invocation's, each instance's page its own, and a shard that
//! failed failing the run with its instances named.

mod audit_world;

use audit_world::*;
use lifeboat::catalog::ResourceKind;
use lifeboat::fanout::{Plan, ShardResult};
use lifeboat::ports::memory::world::{at, scheduled_event, PITR_3_DAYS};
use lifeboat_function::failure::{FailureType, FunctionError};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// acme (two resources, one snapshot shared publicly), globex, and initech's database,
/// no longer managed, with points left.
fn fleet() -> World {
    let w = world();
    w.backed_up(
        ResourceKind::RdsInstance,
        "acme-db",
        "acme",
        "2026-06-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::DynamoTable,
        "acme-orders",
        "acme",
        "2026-06-01T00:00:00Z",
    );
    w.backed_up(
        ResourceKind::RdsInstance,
        "globex-db",
        "globex",
        "2026-11-20T00:00:00Z",
    );
    let gone = w.backed_up(
        ResourceKind::RdsInstance,
        "gone-db",
        "initech",
        "2026-12-01T00:00:00Z",
    );
    w.ports.rds.add_resource(&gone.name, &[], PITR_3_DAYS);
    w.sharing
        .add_snapshot("acme-db", "acme-db-copy", &["all", ACCOUNT]);
    w.sharing
        .add_snapshot("gone-db", "gone-db-final", &["210987654321"]);
    w
}

/// [`fleet`], audited in shards of at most `size` resources.
fn fleet_in_shards_of(size: usize) -> World {
    let w = fleet();
    World {
        auditor: recovery_audit::Auditor {
            shard_size: size,
            ..w.auditor
        },
        ..w
    }
}

impl World {
    async fn stage(&self, stage: Value) -> Result<Value, FunctionError> {
        let mut payload = stage;
        payload["event"] = scheduled_event(AT, json!({"sweep_all": true}));
        self.auditor.invoke(payload, at(AT)).await
    }

    /// Plan, every shard (one failing when `fail` names it), finish.
    async fn fanned_out(&self, fail: Option<usize>) -> (Plan, Result<Value, FunctionError>) {
        let plan: Plan = serde_json::from_value(self.stage(json!({"stage": "plan"})).await.unwrap()).unwrap();
        let mut results = Vec::new();
        for (i, key) in plan.shards.iter().enumerate() {
            results.push(if fail == Some(i) {
                ShardResult {
                    shard: key.clone(),
                    failed: true,
                    error: Some("Sandbox.Timedout".into()),
                    ..ShardResult::default()
                }
            } else {
                serde_json::from_value(self.stage(json!({"stage": "shard", "shard": key})).await.unwrap())
                    .unwrap()
            });
        }
        let finish = self
            .stage(json!({"stage": "finish", "plan": plan, "results": results}))
            .await;
        (plan, finish)
    }
}

/// What a day's report says, leaving out the points (the fanned-out day keeps them in each
/// instance's own report).
fn gist(report: &Value) -> Value {
    let mut gist = report.clone();
    for instance in gist["instances"].as_array_mut().unwrap() {
        for r in instance["resources"].as_array_mut().unwrap() {
            r["points"] = json!([]);
        }
    }
    gist
}

#[tokio::test]
async fn a_fleet_audited_in_shards_reports_the_day_one_invocation_reports() {
    let whole = fleet();
    whole.audit(json!({"sweep_all": true})).await.unwrap();
    let expected = whole.report("audits/2026-12-03/report.json");

    let w = fleet_in_shards_of(2);
    let (plan, finish) = w.fanned_out(None).await;
    assert_eq!(
        plan.shards.len(),
        2,
        "acme's two resources, then globex: {plan:?}"
    );
    let summary = finish.expect("the fanned-out audit succeeds");
    assert_eq!(summary["exposures"], 2, "{summary}");
    let day = w.report("audits/2026-12-03/report.json");
    assert_eq!(gist(&day), gist(&expected));
    assert_eq!(
        w.sharing.restorers_now("acme-db-copy"),
        [ACCOUNT],
        "revoked by its shard"
    );
    assert_eq!(
        w.sharing.restorers_now("gone-db-final"),
        Vec::<String>::new(),
        "the offboarded one's too"
    );

    // The day's page links each instance's own page, which has its timelines.
    let page = w.page("audits/2026-12-03/report.html");
    assert_eq!(
        page.matches("<svg").count(),
        0,
        "no fleet of timelines on one page"
    );
    assert!(
        page.contains(r#"href="instances/acme/runs/063000/report.html""#),
        "{page}"
    );
    let acme = w.page("audits/2026-12-03/instances/acme/runs/063000/report.html");
    assert_eq!(acme.matches("<svg").count(), 2, "its week and its year");
    assert!(acme.contains("acme-db-copy"), "its exposure is on its page");
    let latest = w.report("audits/2026-12-03/instances/globex/report.json");
    assert!(!latest["instances"][0]["resources"][0]["points"]
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_shard_that_failed_fails_the_audit_naming_it_after_the_day_is_written() {
    let w = fleet_in_shards_of(2);
    let (plan, finish) = w.fanned_out(Some(1)).await;
    let e = finish.expect_err("a shard's instances were not audited");
    assert_eq!(e.kind, FailureType::ResourcesFailed);
    let day = w.report("audits/2026-12-03/report.json");
    assert_eq!(
        coverage(&day),
        BTreeMap::from([("acme".into(), 100.0), ("globex".into(), 0.0)]),
        "the failed shard's instance is named, never left out nor taken as covered"
    );
    let globex = &day["instances"][1]["findings"][0];
    assert_eq!(globex["kind"], "not_checked");
    assert!(
        globex["what"].as_str().unwrap().contains(plan.shards[1].as_str()),
        "{globex}"
    );
    assert_eq!(day["instances"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_same_audit_event_run_twice_deals_the_same_shards_and_keeps_what_the_first_revoked() {
    let w = fleet_in_shards_of(2);
    let (first, finish) = w.fanned_out(None).await;
    finish.unwrap();
    let day = w.report("audits/2026-12-03/report.json");
    // Meanwhile the fleet grows; the event started again plans nothing new.
    w.backed_up(
        ResourceKind::RdsInstance,
        "initech-db",
        "initech",
        "2026-11-20T00:00:00Z",
    );
    let (again, finish) = w.fanned_out(None).await;
    finish.unwrap();
    assert_eq!(again, first);
    assert_eq!(w.sharing.revocations().len(), 2, "nothing revoked twice");
    assert_eq!(
        w.report("audits/2026-12-03/report.json"),
        day,
        "the record stands"
    );
}

#[tokio::test]
async fn a_shard_key_not_of_this_audit_is_refused_and_nothing_is_written() {
    let w = fleet();
    let before = w.ports.reports.keys();
    let e = w
        .stage(json!({"stage": "shard", "shard": "drills/acme/latest-success.json"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureType::InvalidEvent);
    assert!(e.message.contains("not one of this audit's shards"), "{e:?}");
    assert_eq!(w.ports.reports.keys(), before);
}
