//! The drill's steps on in-memory ports: what a plan chooses and refuses, a sandbox restored
//! and deleted and never production, a report, and the hourly starts.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::drill::plan::drill_turn_at;
use lifeboat::execution::error::{INVALID_INPUT, NOT_RESTORABLE};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::policy::PolicyBook;
use lifeboat::ports::memory::restorer::MemoryRestorer;
use lifeboat::ports::memory::world::{self, at, scheduled_event, PITR_3_DAYS};
use lifeboat::ports::workflow::StoppedRun;
use lifeboat::schedule::{Slot, TierSet};
use lifeboat_function::status_events::Announcer;
use restore_drill::{DrillPlan, Driller, PlanItem};
use serde_json::{json, Value};

struct World {
    ports: world::World,
    restorer: Arc<MemoryRestorer>,
    driller: Driller,
}

fn world() -> World {
    let ports = world::World::new();
    let restorer = Arc::new(MemoryRestorer::new(ResourceKind::RdsInstance));
    let driller = Driller {
        catalog: ports.catalog.clone(),
        services: ports.services(),
        restorers: vec![restorer.clone()],
        inspectors: vec![],
        reports: ports.reports.clone(),
        policies: PolicyBook::default(),
        drills: Some(ports.workflow.clone()),
        runs: Some(ports.workflow.clone()),
        simulation: true,
        events: Announcer::new(ports.events.clone(), "restore-drill"),
    };
    World {
        ports,
        restorer,
        driller,
    }
}

fn now() -> DateTime<Utc> {
    at("2026-12-03T06:10:00Z")
}

impl World {
    /// An RDS instance of `instance` with available points at `slots` (and one in the making).
    fn instance(&self, name: &str, instance: &str, slots: &[&str]) -> ResourceKey {
        let key = self
            .ports
            .rds
            .add_resource(name, &[(TAG_INSTANCE, instance)], PITR_3_DAYS);
        self.restorer.add_production(name, "live");
        let mut all: Vec<(&str, PointState)> = slots.iter().map(|s| (*s, PointState::Available)).collect();
        all.push(("2026-12-03T06:00:00Z", PointState::Creating));
        for (slot, state) in all {
            let slot = Slot::containing(at(slot));
            let id = key.point_name(slot);
            self.restorer.add_snapshot(&key, &id, &format!("data of {slot}"));
            self.ports.catalog.insert(RecoveryPoint {
                resource: key.clone(),
                instance_id: instance.into(),
                slot,
                tiers: TierSet::default(),
                service_id: Some(id),
                state,
                holds: BTreeSet::new(),
                policy: "standard".into(),
                timezone: "UTC".into(),
                note: None,
                updated_at: slot.start(),
            });
        }
        key
    }

    async fn step(&self, task: Value) -> Result<Value, lifeboat::execution::error::StepError> {
        self.driller.handle(task, now()).await
    }

    /// The `restored` answers of `plan`'s sandboxes, each restored and proven ready by the
    /// real steps (its identity is what `check` inspects), as usable from `at`.
    async fn restored(&self, plan: &Value, at: DateTime<Utc>) -> Value {
        let mut restored = Vec::new();
        for item in plan["resources"].as_array().unwrap() {
            self.step(json!({"step": "start", "item": item})).await.unwrap();
            let ready = self.step(json!({"step": "ready", "item": item})).await.unwrap();
            assert_eq!(ready["ready"], true, "{ready}");
            restored.push(
                json!({"ready": {"ready": true, "at": at.to_rfc3339(), "identity": ready["identity"]}}),
            );
        }
        Value::Array(restored)
    }
}

#[tokio::test]
async fn a_plan_restores_each_resource_s_latest_available_point_into_an_lbd_sandbox() {
    let w = world();
    w.instance(
        "acme-db",
        "acme",
        &["2026-12-02T10:00:00Z", "2026-12-03T04:00:00Z"],
    );
    w.instance("globex-db", "globex", &["2026-12-03T04:00:00Z"]);
    let plan: DrillPlan = serde_json::from_value(
        w.step(json!({"step": "plan", "input": {"instance_id": "acme"}}))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(plan.resources.len(), 1, "only acme's");
    let item = &plan.resources[0];
    assert_eq!(
        item.point.to_string(),
        "2026-12-03T04:00:00Z",
        "the latest available, not the one in the making"
    );
    assert!(item.sandbox.starts_with("lbd-") && item.sandbox.ends_with("-acme-db"));
    assert_eq!(plan.drill_id, "drill-acme-20261203t0600z");
}

#[tokio::test]
async fn a_plan_with_bad_input_or_nothing_to_restore_is_refused_and_restores_nothing() {
    let w = world();
    w.instance("acme-db", "acme", &[]);
    for (input, name, says) in [
        (
            json!({"instance_id": "acme", "force": true}),
            INVALID_INPUT,
            "field `force`",
        ),
        (json!({}), INVALID_INPUT, "instance_id"),
        (
            json!({"instance_id": "acme", "point": 3}),
            INVALID_INPUT,
            "field `point`",
        ),
        (
            json!({"instance_id": "acme"}),
            NOT_RESTORABLE,
            "no available recovery point",
        ),
        (
            json!({"instance_id": "nobody"}),
            NOT_RESTORABLE,
            "lifeboat:instance=nobody",
        ),
    ] {
        let e = w.step(json!({"step": "plan", "input": input})).await.unwrap_err();
        assert_eq!(e.name, name, "{e}");
        assert!(e.message.contains(says), "{e}");
    }
    assert_eq!(w.restorer.calls("start_staging"), 0);
}

#[tokio::test]
async fn a_sandbox_is_restored_from_the_planned_point_and_deleted_and_production_never_is() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan: DrillPlan = serde_json::from_value(
        w.step(json!({"step": "plan", "input": {"instance_id": "acme"}}))
            .await
            .unwrap(),
    )
    .unwrap();
    let item = serde_json::to_value(&plan.resources[0]).unwrap();
    w.step(json!({"step": "start", "item": item})).await.unwrap();
    let sandbox = plan.resources[0].sandbox.clone();
    assert_eq!(
        w.restorer.content(&sandbox).as_deref(),
        Some("data of 2026-12-03T04:00:00Z")
    );
    let ready = w.step(json!({"step": "ready", "item": item})).await.unwrap();
    assert_eq!(ready["ready"], true);
    let cleaned = w.step(json!({"step": "clean_up", "item": item})).await.unwrap();
    assert_eq!(cleaned["deleted"], true);
    assert!(w.restorer.content(&sandbox).is_none());

    // A plan item forged to name production as its sandbox deletes nothing.
    let mut forged: PlanItem = plan.resources[0].clone();
    forged.sandbox = "acme-db".into();
    let e = w
        .step(json!({"step": "clean_up", "item": forged}))
        .await
        .unwrap_err();
    assert_eq!(e.name, INVALID_INPUT, "{e}");
    assert_eq!(
        w.restorer.calls("delete_staging"),
        1,
        "the forged item never reached the restorer"
    );
    assert_eq!(w.restorer.content("acme-db").as_deref(), Some("live"));
}

#[tokio::test]
async fn a_report_is_written_and_a_drill_without_checks_or_cleanup_fails() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = w
        .step(json!({"step": "plan", "input": {"instance_id": "acme"}}))
        .await
        .unwrap();
    let restored = w.restored(&plan, now() + TimeDelta::minutes(20)).await;
    let checked = w
        .step(json!({"step": "check", "plan": plan, "restored": restored}))
        .await
        .unwrap();
    assert_eq!(
        checked["failed"], 1,
        "kept in the bucket, counted here: {checked}"
    );
    let outcome = w
        .step(
            json!({"step": "report", "plan": plan, "restored": restored, "checked": checked,
            "cleaned": [{"resource": "rds:acme-db", "deleted": true}]}),
        )
        .await
        .unwrap();
    assert_eq!(outcome["succeeded"], false);
    assert_eq!(outcome["restore_seconds"], 20 * 60);
    let published = w.ports.events.published();
    assert_eq!(published.len(), 1, "one Drill Completed");
    assert_eq!(published[0].detail_type.as_str(), "Drill Completed");
    assert!(
        published[0].summary().contains("did not pass"),
        "{}",
        published[0].summary()
    );
    assert!(
        !published[0].detail_json().contains("acme-db"),
        "no resource names"
    );
    let md_key = outcome["report_key"].as_str().unwrap().replace(".json", ".md");
    let md = String::from_utf8(w.ports.reports.get(&md_key).unwrap()).unwrap();
    assert!(md.contains("FAILED") && md.contains("no inspector"), "{md}");
    assert!(
        w.ports.reports.get("drills/acme/latest-success.json").is_none(),
        "a failed drill is no success on record"
    );
}

#[tokio::test]
async fn each_hour_starts_the_drills_whose_turn_it_is_once() {
    let w = world();
    let instances: Vec<String> = (0..40).map(|i| format!("customer-{i}")).collect();
    for (i, instance) in instances.iter().enumerate() {
        w.instance(&format!("db-{i}"), instance, &["2026-12-03T04:00:00Z"]);
    }
    // The hour of the week at which the most of them are due.
    let due_at = |slot: Slot| instances.iter().filter(|i| drill_turn_at(i, slot)).count();
    let slot = (0..168)
        .map(|h| Slot::containing(now() + TimeDelta::hours(h)))
        .max_by_key(|s| due_at(*s))
        .unwrap();
    let due: Vec<&String> = instances.iter().filter(|i| drill_turn_at(i, slot)).collect();
    assert!(!due.is_empty());
    let started = w
        .step(scheduled_event(&slot.start().to_rfc3339(), json!({})))
        .await
        .unwrap();
    assert_eq!(started["started"]["drills"].as_array().unwrap().len(), due.len());
    let again = w
        .step(scheduled_event(&slot.start().to_rfc3339(), json!({})))
        .await
        .unwrap();
    assert_eq!(
        again["started"]["drills"], started["started"]["drills"],
        "a retried hour names the same executions"
    );
    let one = w
        .step(scheduled_event(
            &slot.start().to_rfc3339(),
            json!({"instance": "customer-7"}),
        ))
        .await
        .unwrap();
    assert_eq!(
        one["started"]["drills"],
        json!([format!("drill-customer-7-{}", slot.label())])
    );
}

#[tokio::test]
async fn a_plan_refuses_polling_settings_out_of_range_and_names_drills_after_their_execution() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    for bad in [
        json!({"instance_id": "acme", "max_polls": 0}),
        json!({"instance_id": "acme", "poll_interval_seconds": "30"}),
    ] {
        let e = w.step(json!({"step": "plan", "input": bad})).await.unwrap_err();
        assert_eq!(e.name, INVALID_INPUT, "{e}");
    }
    let plan = w
        .step(json!({"step": "plan", "input": {"instance_id": "acme"}, "execution": "console-run-1"}))
        .await
        .unwrap();
    assert_eq!(plan["drill_id"], "drill-console-run-1");
}

#[tokio::test]
async fn a_late_report_of_an_older_drill_does_not_replace_a_newer_success_on_record() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let newer = lifeboat::drill::records::DrillRecord {
        drill_id: "drill-newer".into(),
        started_at: now() + TimeDelta::hours(1),
        restore_seconds: Some(60),
    };
    w.ports.reports.insert(
        "drills/acme/latest-success.json",
        serde_json::to_vec(&newer).unwrap(),
    );
    let plan = w
        .step(json!({"step": "plan", "input": {"instance_id": "acme"}}))
        .await
        .unwrap();
    let restored = w.restored(&plan, now()).await;
    // Checks passed, kept as the check step keeps them.
    let key = format!("drills/runs/{}/checks.json", plan["drill_id"].as_str().unwrap());
    let kept = json!([{"resource": "rds:acme-db", "restore_seconds": 60,
        "checks": [{"name": "rows public.contacts", "passed": true, "detail": "5 rows"}]}]);
    w.ports.reports.insert(&key, serde_json::to_vec(&kept).unwrap());
    let checked = json!({"key": key});
    let outcome = w
        .step(
            json!({"step": "report", "plan": plan, "restored": restored, "checked": checked,
            "cleaned": [{"resource": "rds:acme-db", "deleted": true}]}),
        )
        .await
        .unwrap();
    assert_eq!(outcome["succeeded"], true);
    let record: Value =
        serde_json::from_slice(&w.ports.reports.get("drills/acme/latest-success.json").unwrap()).unwrap();
    assert_eq!(record["drill_id"], "drill-newer");
}

/// A drill of acme's database planned and its sandbox restored by the execution
/// `console-run-1`, which then stopped (`status`) before its cleanup.
async fn stopped_drill(w: &World, status: &str) -> DrillPlan {
    let plan: DrillPlan = serde_json::from_value(
        w.step(json!({"step": "plan", "input": {"instance_id": "acme"}, "execution": "console-run-1"}))
            .await
            .unwrap(),
    )
    .unwrap();
    w.step(json!({"step": "start", "item": plan.resources[0]}))
        .await
        .unwrap();
    w.step(json!({"step": "ready", "item": plan.resources[0]}))
        .await
        .unwrap();
    assert!(w.restorer.names().contains(&plan.resources[0].sandbox));
    w.ports.workflow.stopped.lock().unwrap().push(StoppedRun {
        name: "console-run-1".into(),
        status: status.into(),
        stopped_at: now() - TimeDelta::minutes(20),
    });
    plan
}

impl World {
    /// What the sweep keeps of `console-run-1`'s drill's sandboxes not yet gone, if any.
    fn left_record(&self) -> Option<Value> {
        let body = self.ports.reports.get("drills/left/drill-console-run-1.json")?;
        Some(serde_json::from_slice(&body).unwrap())
    }

    /// The sweep's record of `console-run-1`'s drill, if written.
    fn swept(&self) -> Option<Value> {
        let body = self
            .ports
            .reports
            .get("drills/runs/drill-console-run-1/swept.json")?;
        Some(serde_json::from_slice(&body).unwrap())
    }
}

async fn hourly(w: &World) -> Value {
    hourly_at(w, now()).await
}

/// The hourly schedule's event of `at`, handled at that time.
async fn hourly_at(w: &World, at: DateTime<Utc>) -> Value {
    w.driller
        .handle(scheduled_event(&at.to_rfc3339(), json!({})), at)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_hourly_sweep_deletes_the_sandbox_of_a_drill_stopped_before_its_cleanup_once_and_records_why() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = stopped_drill(&w, "TIMED_OUT").await;
    let sandbox = &plan.resources[0].sandbox;

    let answer = hourly(&w).await;
    assert_eq!(
        answer["swept"]["drills"],
        json!(["drill-console-run-1"]),
        "{answer}"
    );
    assert_eq!(answer["swept"]["sandboxes_deleted"], 1);
    assert!(!w.restorer.names().contains(sandbox), "the sandbox is gone");
    assert_eq!(
        w.restorer.content("acme-db").as_deref(),
        Some("live"),
        "production untouched"
    );
    let record = w.swept().expect("the sweep is recorded");
    assert_eq!(record["execution_status"], "TIMED_OUT");
    assert_eq!(record["sandboxes"][0]["outcome"], "deleted");

    let calls = w.restorer.calls("delete_staging");
    let again = hourly(&w).await;
    assert_eq!(again["swept"]["drills"], json!([]), "swept once");
    assert_eq!(w.restorer.calls("delete_staging"), calls);
}

#[tokio::test]
async fn a_sweep_failing_right_before_or_right_after_the_deletion_finishes_the_next_hour() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = stopped_drill(&w, "ABORTED").await;
    let sandbox = &plan.resources[0].sandbox;

    // Right before: the deletion fails; the stop is recorded with the sandbox left, which
    // the next hour deletes.
    w.restorer
        .fail("delete_staging", lifeboat::ports::FailureKind::Unavailable);
    let answer = hourly(&w).await;
    assert_eq!(answer["swept"]["left"], json!([sandbox]), "{answer}");
    assert!(w.restorer.names().contains(sandbox));
    let record = w.swept().expect("the sweep is recorded");
    assert!(record["sandboxes"][0]["outcome"]
        .as_str()
        .unwrap()
        .starts_with("not deleted"));
    w.restorer.heal("delete_staging");
    let answer = hourly_at(&w, now() + TimeDelta::hours(1)).await;
    assert_eq!(answer["swept"]["left"], json!([]), "{answer}");
    assert_eq!(answer["swept"]["sandboxes_deleted"], 1);
    assert!(!w.restorer.names().contains(sandbox));
    assert!(w.left_record().is_none(), "nothing left on record");

    // Right after: the sandbox is deleted but the sweep's record is not written.
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = stopped_drill(&w, "ABORTED").await;
    let sandbox = &plan.resources[0].sandbox;
    w.ports.reports.fail_puts_ending(Some("swept.json"));
    let answer = hourly(&w).await;
    assert_eq!(answer["swept"]["pending"], json!(["drill-console-run-1"]));
    assert!(!w.restorer.names().contains(sandbox));
    w.ports.reports.fail_puts_ending(None);

    let answer = hourly(&w).await;
    assert_eq!(answer["swept"]["drills"], json!(["drill-console-run-1"]));
    let record = w.swept().expect("the sweep is recorded");
    assert_eq!(record["sandboxes"][0]["outcome"], "already gone");
    assert_eq!(w.restorer.content("acme-db").as_deref(), Some("live"));
}

#[tokio::test]
async fn a_sandbox_the_sweep_cannot_delete_is_counted_every_hour_until_it_is_gone() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = stopped_drill(&w, "TIMED_OUT").await;
    let sandbox = &plan.resources[0].sandbox;
    w.restorer
        .fail("delete_staging", lifeboat::ports::FailureKind::Refused);

    // Every hour for three days, long after the stop has left the sweep's look-back.
    for hour in 0..72 {
        let answer = hourly_at(&w, now() + TimeDelta::hours(hour)).await;
        assert_eq!(answer["swept"]["left"], json!([sandbox]), "hour {hour}: {answer}");
    }
    assert_eq!(
        w.restorer.calls("delete_staging"),
        72,
        "tried once an hour, never twice in one"
    );
    let left = w.left_record().expect("kept on record");
    assert!(
        left["sandboxes"][0]["why"].as_str().unwrap().contains("Refused"),
        "{left}"
    );

    // Hours when the stopped drills cannot be listed still try and count what is left.
    *w.ports.workflow.listing_fails.lock().unwrap() = true;
    let at = now() + TimeDelta::hours(72);
    let e = w
        .driller
        .handle(scheduled_event(&at.to_rfc3339(), json!({})), at)
        .await
        .unwrap_err();
    assert!(e.message.contains("ListExecutions"), "{e}");
    assert_eq!(w.restorer.calls("delete_staging"), 73, "tried all the same");
    *w.ports.workflow.listing_fails.lock().unwrap() = false;

    // Deleted at last (an engineer removed what refused it): no longer counted.
    w.restorer.heal("delete_staging");
    let answer = hourly_at(&w, now() + TimeDelta::hours(73)).await;
    assert_eq!(answer["swept"]["left"], json!([]), "{answer}");
    assert!(!w.restorer.names().contains(sandbox));
    assert!(w.left_record().is_none());
    let answer = hourly_at(&w, now() + TimeDelta::hours(74)).await;
    assert_eq!(answer["swept"]["sandboxes_deleted"], 0, "{answer}");
}

#[tokio::test]
async fn a_forged_plan_on_record_never_makes_the_sweep_delete_production() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let mut plan = stopped_drill(&w, "FAILED").await;
    plan.resources[0].sandbox = "acme-db".into();
    w.ports.reports.insert(
        "drills/runs/drill-console-run-1/plan.json",
        serde_json::to_vec(&plan).unwrap(),
    );

    let answer = hourly(&w).await;
    assert_eq!(answer["swept"]["sandboxes_deleted"], 0, "{answer}");
    assert_eq!(w.restorer.content("acme-db").as_deref(), Some("live"));
    let record = w.swept().expect("the sweep is recorded");
    let outcome = record["sandboxes"][0]["outcome"].as_str().unwrap();
    assert!(
        outcome.starts_with("not deleted") && outcome.contains("refused"),
        "{outcome}"
    );
}

#[tokio::test]
async fn the_plan_and_checks_are_kept_in_the_bucket_and_each_outcome_is_recorded_for_the_audit() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = w
        .step(json!({"step": "plan", "input": {"instance_id": "acme"}, "execution": "run-9"}))
        .await
        .unwrap();
    assert!(
        w.ports.reports.get("drills/runs/drill-run-9/plan.json").is_some(),
        "the plan is on record before anything is restored"
    );
    let restored = w.restored(&plan, now()).await;
    let kept = w
        .step(json!({"step": "check", "plan": plan, "restored": restored}))
        .await
        .unwrap();
    assert_eq!(kept["key"], "drills/runs/drill-run-9/checks.json");
    let outcome = w
        .step(
            json!({"step": "report", "plan": plan, "restored": restored, "checked": kept,
            "cleaned": [{"resource": "rds:acme-db", "deleted": true}]}),
        )
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(
        &w.ports
            .reports
            .get(outcome["report_key"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert!(
        report["resources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no inspector"),
        "the report reads the kept checks: {report}"
    );
    let outcomes: Vec<String> = (w.ports.reports.keys().into_iter())
        .filter(|k| k.starts_with("drills/acme/outcomes/"))
        .collect();
    assert_eq!(
        outcomes,
        [format!(
            "drills/acme/outcomes/{}.failed.drill-run-9.json",
            now().format("%Y%m%dT%H%M%SZ")
        )]
    );

    // Checks that are not this drill's, or not kept, are refused.
    for forged in [
        json!({"key": "audits/2026-12-03/report.json"}),
        json!({"key": "drills/runs/drill-other/checks.json"}),
        json!([{"resource": "rds:acme-db", "restore_seconds": 1, "checks": [{"name": "x", "passed": true, "detail": ""}]}]),
    ] {
        let e = w
            .step(json!({"step": "report", "plan": plan, "restored": restored,
                "checked": forged, "cleaned": []}))
            .await
            .unwrap_err();
        assert_eq!(e.name, INVALID_INPUT, "{forged}");
    }
}

#[tokio::test]
async fn a_drill_stopped_moments_ago_is_left_until_its_steps_settle_and_a_later_stop_is_swept_again() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let plan = stopped_drill(&w, "ABORTED").await;
    w.ports.workflow.stopped.lock().unwrap()[0].stopped_at = now() - TimeDelta::minutes(5);
    let answer = hourly(&w).await;
    assert_eq!(
        answer["swept"]["drills"],
        json!([]),
        "a Start may still be running: {answer}"
    );
    assert!(w.restorer.names().contains(&plan.resources[0].sandbox));

    w.ports.workflow.stopped.lock().unwrap()[0].stopped_at = now() - TimeDelta::hours(1);
    assert_eq!(
        hourly(&w).await["swept"]["drills"],
        json!(["drill-console-run-1"])
    );
    // The name is used again by a later execution that also stops before its cleanup.
    w.step(json!({"step": "start", "item": plan.resources[0]}))
        .await
        .unwrap();
    w.ports.workflow.stopped.lock().unwrap()[0].stopped_at = now() - TimeDelta::minutes(30);
    let answer = hourly(&w).await;
    assert_eq!(answer["swept"]["sandboxes_deleted"], 1, "{answer}");
    assert!(!w.restorer.names().contains(&plan.resources[0].sandbox));
}

#[tokio::test]
async fn two_drills_of_one_instance_on_one_day_keep_both_reports() {
    let w = world();
    w.instance("acme-db", "acme", &["2026-12-03T04:00:00Z"]);
    let mut keys = Vec::new();
    for execution in ["morning", "evening"] {
        let plan = w
            .step(json!({"step": "plan", "input": {"instance_id": "acme"}, "execution": execution}))
            .await
            .unwrap();
        let outcome = w
            .step(json!({"step": "report", "plan": plan, "restored": [], "checked": [], "cleaned": []}))
            .await
            .unwrap();
        keys.push(outcome["report_key"].as_str().unwrap().to_string());
    }
    assert_eq!(
        keys,
        [
            "drills/acme/2026-12-03/drill-morning/report.json",
            "drills/acme/2026-12-03/drill-evening/report.json"
        ]
    );
    for key in &keys {
        let report: Value = serde_json::from_slice(&w.ports.reports.get(key).expect("kept")).unwrap();
        assert_eq!(report["drill_id"], key.split('/').nth(3).unwrap(), "{report}");
        assert!(w.ports.reports.get(&key.replace(".json", ".md")).is_some());
    }
}
