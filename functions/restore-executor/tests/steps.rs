//! The executor's steps, driven one task event at a time as the state machine sends them, on
//! in-memory ports: the lock, resolution and holds, the happy path, retries, and the abort.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{Hold, PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::execution::error::{StepError, INVALID_INPUT, NOT_APPROVED, NOT_RESTORABLE, UNSUPPORTED};
use lifeboat::execution::run::{Outcome, Phase, Run, Step};
use lifeboat::inventory::{PitrStatus, TAG_INSTANCE};
use lifeboat::policy::Tier;
use lifeboat::ports::memory::merger::MemoryMerger;
use lifeboat::ports::memory::restorer::MemoryRestorer;
use lifeboat::ports::memory::{MemoryCatalog, MemoryReports, MemoryService};
use lifeboat::ports::memory::{MemoryLocks, MemoryRequests};
use lifeboat::ports::PortError;
use lifeboat::ports::{RequestStore, StoredRequest};
use lifeboat::request::decision::{ChosenPoint, Decision, Mode, Records, Selection, Verdict};
use lifeboat::request::lifecycle::{AuditEntry, RestoreRequest, Status};
use lifeboat::request::options::{RestorableWindow, Source};
use lifeboat::request::roles::Roles;
use lifeboat::request::triage::{self, Triage};
use lifeboat::request::{Affected, Cause};
use lifeboat::schedule::{Slot, TierSet};
use restore_executor::Executor;
use serde_json::{json, Value};

const ID: &str = "rr-1b4e28ba-2fa1-11d2-883f-0016d3cca427";
const EXECUTION: &str =
    "arn:aws:states:us-east-1:111122223333:execution:lifeboat-restore:rr-1b4e28ba-2fa1-11d2-883f-0016d3cca427";
const SUPPORT: &str = "arn:aws:iam::111122223333:user/sam-support";
const ENGINEER: &str = "arn:aws:iam::111122223333:user/erin-engineer";
/// Engineers' role: its sessions are engineering, the role's own ARN names no one.
const ENGINEERING_ROLE: &str = "arn:aws:iam::111122223333:role/lifeboat-engineering";
/// The second engineer, who confirms what `ENGINEER` approved.
const CONFIRMER: &str = "arn:aws:iam::111122223333:user/eli-engineer";
/// The names `lifeboat::execution::names` gives request `ID`'s restore of `rds:db`.
const STAGING: &str = "lbs-1b4e28ba-db";
const FALLBACK: &str = "lbf-1b4e28ba-db";
const SAFETY: &str = "lbsafety-1b4e28ba-db";
/// Where an undo keeps the restored resource once it has served as production.
const RETIRED: &str = "lbr-1b4e28ba-db";
const BEFORE: &str = "contacts before the loss";
const AFTER: &str = "contacts after the loss";

struct World {
    rds: Arc<MemoryService>,
    requests: Arc<MemoryRequests>,
    catalog: Arc<MemoryCatalog>,
    restorer: Arc<MemoryRestorer>,
    reports: Arc<MemoryReports>,
    executor: Executor,
}

fn now() -> DateTime<Utc> {
    "2026-11-28T12:00:00Z".parse().unwrap()
}

/// Instance `acme`: RDS `db` with a 72-hour window, holding what the loss left.
fn world() -> World {
    world_of(ResourceKind::RdsInstance)
}

/// Instance `acme` with one resource `db` of `kind`, as [`world`] describes it.
fn world_of(kind: ResourceKind) -> World {
    let rds = Arc::new(MemoryService::new(kind));
    let restorer = Arc::new(MemoryRestorer::new(kind));
    add_database(&rds, &restorer, "db", AFTER);
    let requests = Arc::new(MemoryRequests::default());
    let catalog = Arc::new(MemoryCatalog::default());
    let reports = Arc::new(MemoryReports::default());
    let executor = Executor {
        requests: requests.clone(),
        locks: Arc::new(MemoryLocks::default()),
        catalog: catalog.clone(),
        services: vec![rds.clone()],
        restorers: vec![restorer.clone()],
        reports: reports.clone(),
        // No engine: the selective branch is tested end to end, on real databases.
        mergers: vec![],
        batch_rows: 50_000,
        merge_budget: std::time::Duration::from_secs(600),
        shard_budget: std::time::Duration::from_secs(600),
        roles: Roles::from_lists("", &format!("{ENGINEER},{CONFIRMER},{ENGINEERING_ROLE}")),
    };
    World {
        rds,
        requests,
        catalog,
        restorer,
        reports,
        executor,
    }
}

/// An RDS instance of `acme` holding `content`, with a 72-hour window.
fn add_database(rds: &MemoryService, restorer: &MemoryRestorer, name: &str, content: &str) {
    let key = rds.add_resource(
        name,
        &[(TAG_INSTANCE, "acme")],
        PitrStatus {
            enabled: true,
            window_days: Some(3),
        },
    );
    rds.set_window(
        &key,
        RestorableWindow {
            earliest: now() - TimeDelta::hours(72),
            latest: now() - TimeDelta::minutes(5),
        },
    );
    restorer.add_production(name, content);
}

fn point_in_time(resource: &str, target: DateTime<Utc>) -> ChosenPoint {
    ChosenPoint {
        resource: ResourceKey::rds(resource),
        source: Source::PointInTime { target },
    }
}

/// The weekly snapshot of `rds:db`, a week ago.
fn weekly_slot() -> Slot {
    Slot::containing("2026-11-21T23:00:00Z".parse().unwrap())
}

fn weekly_snapshot() -> ChosenPoint {
    ChosenPoint {
        resource: ResourceKey::rds("db"),
        source: Source::Snapshot {
            slot: weekly_slot(),
            tiers: Vec::new(),
            service_id: None,
        },
    }
}

/// Catalogues the weekly snapshot of `rds:db` in `state`; its service id.
fn catalogue_weekly(w: &World, state: PointState) -> String {
    let resource = ResourceKey::rds("db");
    let service_id = resource.point_name(weekly_slot());
    w.catalog.insert(RecoveryPoint {
        resource,
        instance_id: "acme".into(),
        slot: weekly_slot(),
        tiers: TierSet(
            [(Tier::Weekly, now() + TimeDelta::days(20))]
                .into_iter()
                .collect(),
        ),
        service_id: Some(service_id.clone()),
        state,
        holds: Default::default(),
        policy: "standard".into(),
        timezone: "UTC".into(),
        note: None,
        updated_at: now(),
    });
    service_id
}

/// A request as filed, or approved for `points` in `mode`.
fn request(status: Status, points: Vec<ChosenPoint>, mode: Mode) -> StoredRequest {
    let filed_at = now() - TimeDelta::hours(1);
    let mut request = RestoreRequest {
        id: ID.into(),
        status: Status::Submitted,
        instance_id: "acme".into(),
        description: "A CRM sync deleted 1,200 contacts.".into(),
        occurred_at: now() - TimeDelta::hours(2),
        affected: Affected {
            objects: vec!["contacts".into()],
            estimated_records: Some(1200),
            ..Affected::default()
        },
        business_context: String::new(),
        cause: Cause::IntegrationMassDeletion,
        submitted_by: SUPPORT.into(),
        submitted_at: filed_at,
        triage: Triage {
            verdict: triage::Verdict::LikelyQualifies,
            reasons: vec!["an integration deleted a large volume of records".into()],
        },
        recovery_options: Vec::new(),
        decision: None,
        execution: None,
        awaiting_confirmation: false,
        run: None,
        history: vec![AuditEntry {
            at: filed_at,
            by: SUPPORT.into(),
            from: None,
            to: Status::Submitted,
            reason: None,
        }],
    };
    if status == Status::Approved {
        let selection = match mode {
            Mode::Selective => vec![Selection {
                resource: ResourceKey::rds("db"),
                table: "contacts".into(),
                records: Records::Missing(true),
                with_dependants: false,
            }],
            Mode::Rollback => Vec::new(),
        };
        request.status = Status::Approved;
        request.decision = Some(Decision {
            verdict: Verdict::Approve,
            by: ENGINEER.into(),
            at: filed_at,
            reason: "mass deletion by an integration".into(),
            mode: Some(mode),
            recovery_points: points,
            selection,
        });
        request.execution = Some(EXECUTION.into());
        request.history.push(AuditEntry {
            at: filed_at,
            by: ENGINEER.into(),
            from: Some(Status::Submitted),
            to: Status::Approved,
            reason: Some("mass deletion by an integration".into()),
        });
    }
    StoredRequest {
        request,
        version: 0,
        task_token: None,
    }
}

async fn store(w: &World, stored: StoredRequest) {
    w.requests.create(&stored).await.unwrap();
}

async fn stored(w: &World) -> StoredRequest {
    w.requests.get(ID).await.unwrap().expect("the request exists")
}

async fn run_of(w: &World) -> Run {
    stored(w).await.request.run.expect("begin recorded a run")
}

async fn handle(w: &World, event: Value) -> Result<Value, StepError> {
    w.executor.handle(event, now()).await
}

fn begin_by(execution: &str) -> Value {
    json!({"step": "begin", "input": {"request_id": ID}, "execution": execution})
}

fn on(step: &str) -> Value {
    json!({"step": step, "request_id": ID})
}

/// Runs `steps` (each by name, on the request), which must all succeed.
async fn steps(w: &World, steps: &[&str]) {
    for step in steps {
        let event = if *step == "begin" {
            begin_by(EXECUTION)
        } else {
            on(step)
        };
        handle(w, event)
            .await
            .unwrap_or_else(|e| panic!("step {step}: {e}"));
    }
}

/// An approved rollback of `rds:db` to its catalogued weekly snapshot, run up to the
/// engineer's confirmation.
async fn staged(w: &World) {
    staged_as(w, Mode::Rollback).await;
}

/// An approved request of `mode` from `rds:db`'s catalogued weekly snapshot, run up to the
/// engineer's confirmation (a selective one through its extract).
async fn staged_as(w: &World, mode: Mode) {
    catalogue_weekly(w, PointState::Available);
    let snapshot = ResourceKey::rds("db").point_name(weekly_slot());
    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &snapshot, BEFORE);
    store(w, request(Status::Approved, vec![weekly_snapshot()], mode)).await;
    steps(w, &["begin", "resolve", "safety_snapshot", "restore_staging"]).await;
    let ready = handle(w, on("check_ready")).await.unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
    if mode == Mode::Selective {
        steps(w, &["extract"]).await;
    }
    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(w, event).await.unwrap();
}

fn swap_event() -> Value {
    json!({"step": "swap", "request_id": ID,
        "confirmation": {"confirmed_by": CONFIRMER, "confirmed_at": "2026-11-28T11:30:00Z"}})
}

fn holds(w: &World) -> Vec<String> {
    w.catalog.snapshot().into_iter().flat_map(|p| p.holds).collect()
}

/// A failed restore's holds: its own released, each turned into one that lasts a week.
fn assert_only_lasting_holds(w: &World) {
    let holds = holds(w);
    assert!(!holds.is_empty(), "the failed request's points stay held a while");
    let until = Hold::until(ID, now() + lifeboat::request::holds::FAILED_RESTORE_HOLD);
    assert!(holds.iter().all(|h| *h == until), "{holds:?}");
}

fn report(w: &World) -> Value {
    let body = w
        .reports
        .get(&format!("restores/{ID}/report.json"))
        .expect("the JSON report");
    serde_json::from_slice(&body).unwrap()
}

/// Stores the request approved for a rollback of `db` to two hours ago; that target.
async fn approve_rollback_two_hours_back(w: &World) -> DateTime<Utc> {
    let target = now() - TimeDelta::hours(2);
    let points = vec![point_in_time("db", target)];
    store(w, request(Status::Approved, points, Mode::Rollback)).await;
    target
}

#[tokio::test]
async fn begin_locks_an_approved_request_once() {
    let w = world();
    let target = approve_rollback_two_hours_back(&w).await;

    let settings = handle(&w, begin_by(EXECUTION)).await.unwrap();
    assert_eq!(settings["request_id"], ID);
    assert_eq!(settings["max_polls"], 240, "defaults are filled in: {settings}");
    let locked = stored(&w).await;
    assert_eq!(locked.request.status, Status::Executing);
    let run = locked.request.run.clone().unwrap();
    assert_eq!(run.execution, EXECUTION);
    assert_eq!(run.mode, Mode::Rollback);
    assert_eq!(run.resources.len(), 1);
    assert_eq!(run.resources[0].phase, Phase::Planned);
    assert_eq!(run.resources[0].restores_to, target);
    assert_eq!(
        (
            run.resources[0].staging.as_str(),
            run.resources[0].fallback.as_str()
        ),
        (STAGING, FALLBACK)
    );
    let last = locked.request.history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Approved), Status::Executing));
    assert_eq!(locked.request.history.len(), 3);

    // A retry of the same execution's begin answers the same and writes nothing.
    assert_eq!(handle(&w, begin_by(EXECUTION)).await.unwrap(), settings);
    assert_eq!(stored(&w).await, locked);

    // Another execution may not take it over.
    let other = format!("{EXECUTION}-again");
    let e = handle(&w, begin_by(&other)).await.unwrap_err();
    assert_eq!(e.name, NOT_APPROVED);
    assert!(e.message.contains(EXECUTION), "names who holds it: {e}");
    assert_eq!(stored(&w).await, locked);
}

#[tokio::test]
async fn begin_refuses_an_unapproved_request_and_bad_input_without_writing() {
    let w = world();
    let submitted = request(Status::Submitted, Vec::new(), Mode::Rollback);
    store(&w, submitted.clone()).await;

    let e = handle(&w, begin_by(EXECUTION)).await.unwrap_err();
    assert_eq!(e.name, NOT_APPROVED, "{e}");
    assert_eq!(stored(&w).await, submitted);

    let unknown = json!({"step": "begin", "input": {"request_id": "rr-0000"}, "execution": EXECUTION});
    assert_eq!(handle(&w, unknown).await.unwrap_err().name, NOT_APPROVED);

    for bad in [
        json!({"step": "begin", "input": {}, "execution": EXECUTION}),
        json!({"step": "begin", "input": {"request_id": "x; drop"}, "execution": EXECUTION}),
        json!({"step": "begin", "input": {"request_id": ID, "max_polls": 0}, "execution": EXECUTION}),
        json!({"step": "begin", "input": {"request_id": ID}}),
        json!({"step": "begin", "execution": EXECUTION}),
        json!({"step": "explode", "request_id": ID}),
        json!({"step": "resolve"}),
    ] {
        let e = handle(&w, bad.clone()).await.unwrap_err();
        assert_eq!(e.name, INVALID_INPUT, "{bad}: {e}");
    }
    assert_eq!(stored(&w).await, submitted);
}

#[tokio::test]
async fn a_selective_approval_with_no_engine_for_the_service_fails_at_resolve_and_touches_nothing() {
    let w = world();
    catalogue_weekly(&w, PointState::Available);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Selective),
    )
    .await;
    steps(&w, &["begin"]).await;
    assert_eq!(run_of(&w).await.mode, Mode::Selective);

    let e = handle(&w, on("resolve")).await.unwrap_err();
    assert_eq!(e.name, UNSUPPORTED, "{e}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Planned);
    assert_eq!(w.restorer.calls("snapshot_usable"), 0);
    assert!(holds(&w).is_empty());
}

#[tokio::test]
async fn resolve_accepts_point_in_time_targets_only_inside_the_window() {
    let w = world();
    let outside = now() - TimeDelta::hours(80);
    store(
        &w,
        request(
            Status::Approved,
            vec![point_in_time("db", outside)],
            Mode::Rollback,
        ),
    )
    .await;
    steps(&w, &["begin"]).await;
    let e = handle(&w, on("resolve")).await.unwrap_err();
    assert_eq!(e.name, NOT_RESTORABLE);
    assert!(e.message.contains("outside the restorable window"), "{e}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Planned);

    let w = world();
    let inside = now() - TimeDelta::hours(2);
    store(
        &w,
        request(
            Status::Approved,
            vec![point_in_time("db", inside)],
            Mode::Rollback,
        ),
    )
    .await;
    steps(&w, &["begin", "resolve"]).await;
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Resolved);
}

#[tokio::test]
async fn resolve_holds_a_snapshot_only_when_catalogued_available_and_held_by_the_service() {
    let w = world();
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback),
    )
    .await;
    steps(&w, &["begin"]).await;
    let refused = |why: &'static str| {
        let w = &w;
        async move {
            let e = handle(w, on("resolve")).await.unwrap_err();
            assert_eq!(e.name, NOT_RESTORABLE, "{why}: {e}");
            let run = run_of(w).await;
            assert_eq!(run.resources[0].phase, Phase::Planned, "{why}");
            assert!(holds(w).is_empty(), "{why}");
        }
    };
    refused("not catalogued").await;
    catalogue_weekly(&w, PointState::Creating);
    refused("still being made").await;
    catalogue_weekly(&w, PointState::Missing);
    refused("found missing by reconciliation").await;
    let service_id = catalogue_weekly(&w, PointState::Available);
    refused("catalogued, but the service lacks it").await;

    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &service_id, BEFORE);
    steps(&w, &["resolve"]).await;
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Resolved);
    assert_eq!(
        run.resources[0].restore_from.as_deref(),
        Some(service_id.as_str())
    );
    assert_eq!(holds(&w), [ID]);
}

#[tokio::test]
async fn a_rollback_runs_from_begin_to_finish() {
    let w = world();
    w.restorer.set_pending_polls("staging_ready", 1);
    w.restorer.set_pending_polls("swap", 1);
    catalogue_weekly(&w, PointState::Available);
    let snapshot = ResourceKey::rds("db").point_name(weekly_slot());
    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &snapshot, BEFORE);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback),
    )
    .await;

    steps(&w, &["begin", "resolve", "safety_snapshot", "restore_staging"]).await;
    assert_eq!(holds(&w), [ID]);
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].safety_snapshot.as_deref(), Some(SAFETY));
    assert_eq!(run.resources[0].phase, Phase::StagingStarted);
    assert_eq!(w.restorer.snapshot(SAFETY).unwrap().content, AFTER);
    assert_eq!(w.restorer.content(STAGING).as_deref(), Some(BEFORE));

    let poll = handle(&w, on("check_ready")).await.unwrap();
    assert_eq!(poll["ready"], false, "{poll}");
    assert_eq!(poll["waiting_for"].as_array().unwrap().len(), 1, "{poll}");
    let poll = handle(&w, on("check_ready")).await.unwrap();
    assert_eq!(poll["ready"], true, "{poll}");

    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(&w, event).await.unwrap();
    let waiting = stored(&w).await;
    assert_eq!(waiting.task_token.as_deref(), Some("token-1"));
    assert!(waiting.request.awaiting_confirmation);
    assert_eq!(
        report(&w)["outcome"],
        Value::Null,
        "the report tells what is about to happen"
    );
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production untouched"
    );

    let swap = handle(&w, swap_event()).await.unwrap();
    assert_eq!(swap["done"], false, "{swap}");
    let swapping = stored(&w).await;
    assert_eq!(swapping.task_token, None);
    assert!(!swapping.request.awaiting_confirmation);
    assert_eq!(swapping.request.run.unwrap().resources[0].phase, Phase::Swapping);
    let swap = handle(&w, swap_event()).await.unwrap();
    assert_eq!(swap["done"], true, "{swap}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Swapped);

    steps(&w, &["verify", "clean_up"]).await;
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Verified);
    assert!(run.resources[0].staging_deleted);

    let finished = handle(&w, on("finish")).await.unwrap();
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["report"]["json"], format!("restores/{ID}/report.json"));
    let done = stored(&w).await;
    assert_eq!(done.request.status, Status::Completed);
    let last = done.request.history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Executing), Status::Completed));
    let run = done.request.run.clone().unwrap();
    assert_eq!(run.outcome, Some(Outcome::Completed));
    assert_eq!(run.confirmed_by.as_deref(), Some(CONFIRMER));
    assert!(holds(&w).is_empty(), "holds released");

    assert_eq!(w.restorer.content("db").as_deref(), Some(BEFORE));
    assert_eq!(w.restorer.content(FALLBACK).as_deref(), Some(AFTER));
    assert_eq!(w.restorer.names(), ["db", FALLBACK], "staging is gone");
    assert_eq!(
        w.reports.keys(),
        [
            format!("restores/{ID}/report.json"),
            format!("restores/{ID}/report.md")
        ]
    );
    let json = report(&w);
    assert_eq!(json["status"], "completed");
    assert_eq!(json["confirmed_by"], CONFIRMER);
    assert_eq!(json["resources"][0]["restored"], true);
    let md = String::from_utf8(w.reports.get(&format!("restores/{ID}/report.md")).unwrap()).unwrap();
    assert!(md.contains("Outcome: **completed**"), "{md}");

    // A retried finish answers the same and writes nothing.
    assert_eq!(handle(&w, on("finish")).await.unwrap(), finished);
    assert_eq!(stored(&w).await, done);
}

#[tokio::test]
async fn every_step_may_be_retried_without_acting_twice() {
    let w = world();
    let target = now() - TimeDelta::hours(2);
    add_database(&w.rds, &w.restorer, "reports-db", "reports");
    let points = vec![point_in_time("db", target), point_in_time("reports-db", target)];
    store(&w, request(Status::Approved, points, Mode::Rollback)).await;

    steps(&w, &["begin", "resolve", "resolve"]).await;
    steps(&w, &["safety_snapshot", "safety_snapshot"]).await;
    assert_eq!(w.restorer.calls("start_safety_snapshot"), 2, "once per resource");
    steps(&w, &["restore_staging", "restore_staging"]).await;
    assert_eq!(w.restorer.calls("start_staging"), 2, "once per resource");
    let run = run_of(&w).await;
    assert!(run.all_at_least(Phase::StagingStarted), "{run:?}");
    assert_eq!(
        w.restorer.content(STAGING),
        Some(format!("db as of {target}")),
        "restored to the target"
    );

    steps(&w, &["check_ready", "check_ready"]).await;
    assert_eq!(
        w.restorer.calls("staging_ready"),
        2,
        "a ready resource is not polled again"
    );
    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(&w, event.clone()).await.unwrap();
    handle(&w, event).await.unwrap();
    for _ in 0..2 {
        assert_eq!(handle(&w, swap_event()).await.unwrap()["done"], true);
    }
    assert_eq!(w.restorer.calls("swap"), 2, "once per resource");
    steps(&w, &["verify", "verify", "clean_up", "clean_up"]).await;
    assert_eq!(w.restorer.calls("verify"), 2, "once per resource");
    assert_eq!(w.restorer.calls("delete_staging"), 2, "once per resource");
    steps(&w, &["finish", "finish"]).await;
    assert_eq!(stored(&w).await.request.status, Status::Completed);
    assert_eq!(
        stored(&w).await.request.history.len(),
        4,
        "submitted, approved, executing, completed"
    );
}

#[tokio::test]
async fn abort_after_the_swap_began_puts_production_back() {
    let w = world();
    w.restorer.set_pending_polls("swap", 5);
    w.restorer.set_pending_polls("undo_swap", 1);
    staged(&w).await;
    let swap = handle(&w, swap_event()).await.unwrap();
    assert_eq!(swap["done"], false, "{swap}");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(BEFORE),
        "the swap began"
    );

    let error =
        json!({"Error": "Lifeboat.SwapTimeout", "Cause": "the swap did not finish within max_polls polls"});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    let first = handle(&w, abort.clone()).await.unwrap();
    assert_eq!(first["done"], false, "the undo takes a poll: {first}");
    assert_eq!(stored(&w).await.request.status, Status::Executing);

    let answer = handle(&w, abort.clone()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(answer["error"], "Lifeboat.SwapTimeout");
    assert!(
        answer["cause"].as_str().unwrap().contains("did not finish"),
        "{answer}"
    );

    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production as it was"
    );
    assert!(w.restorer.resource("db").unwrap().marks.is_empty());
    // The restored resource carried production's name, so it holds whatever production took
    // before the undo: kept aside, never deleted.
    assert_eq!(
        w.restorer.names(),
        ["db", RETIRED],
        "fallback back in place, the restored resource kept aside"
    );
    let failed = stored(&w).await;
    assert_eq!(failed.request.status, Status::Failed);
    assert_eq!(failed.task_token, None);
    let last = failed.request.history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Executing), Status::Failed));
    assert!(
        last.reason.as_deref().unwrap().contains("Lifeboat.SwapTimeout"),
        "{last:?}"
    );
    let run = failed.request.run.clone().unwrap();
    assert_eq!(run.resources[0].phase, Phase::Undone);
    assert_eq!(run.resources[0].kept.as_deref(), Some(RETIRED));
    assert!(
        last.reason.is_some() && run.timeline.last().unwrap().detail.contains(RETIRED),
        "the outcome names what is kept: {:?}",
        run.timeline.last()
    );
    assert_eq!(
        run.outcome,
        Some(Outcome::Failed {
            error: "Lifeboat.SwapTimeout".into(),
            cause: "the swap did not finish within max_polls polls".into(),
        })
    );
    assert_only_lasting_holds(&w);
    assert_eq!(report(&w)["status"], "failed");
    assert_eq!(report(&w)["resources"][0]["restored"], false);

    // A retry after the end changes nothing.
    assert_eq!(handle(&w, abort).await.unwrap()["done"], true);
    assert_eq!(stored(&w).await, failed);
    assert_eq!(w.restorer.calls("undo_swap"), 2);
}

/// A state that settles by itself is waited for: verify answers "not done" until it has
/// settled, and the restore goes on; nothing is undone.
#[tokio::test]
async fn verify_waits_while_production_settles_instead_of_failing() {
    let w = world();
    w.restorer.set_pending_polls("verify", 2);
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    for _ in 0..2 {
        let answer = handle(&w, on("verify")).await.unwrap();
        assert_eq!(answer["done"], false, "{answer}");
        assert!(
            answer["waiting_for"][0].as_str().unwrap().contains("busy"),
            "{answer}"
        );
        assert_eq!(run_of(&w).await.resources[0].phase, Phase::Swapped);
    }
    let answer = handle(&w, on("verify")).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Verified);
    assert_eq!(w.restorer.calls("undo_swap"), 0);
}

/// Production swapped but never settling within the polls (a long maintenance, say) is not
/// a reason to undo the restore: it is kept, the request completes with the timeout on
/// record, and the execution still fails so the alarm shows it.
#[tokio::test]
async fn a_verification_that_only_timed_out_keeps_the_restore() {
    let w = world();
    w.restorer.set_pending_polls("verify", 99);
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    assert_eq!(handle(&w, on("verify")).await.unwrap()["done"], false);
    let error = json!({"Error": "Lifeboat.VerifyTimeout", "Cause": "production did not settle"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["status"], "completed", "{answer}");
    assert_eq!(answer["error"], "Lifeboat.VerifyTimeout");
    assert_eq!(w.restorer.calls("undo_swap"), 0, "nothing undone");
    assert_eq!(w.restorer.content("db").as_deref(), Some(BEFORE));
    assert_eq!(stored(&w).await.request.status, Status::Completed);
}

/// A DynamoDB copy-back that finished holds the confirmed rollback and every write since:
/// a later failure (here verification of another resource failing) does not undo it, even
/// when no swap step recorded the finish (its last shard done as another resource failed).
/// One that failed part-way is undone.
#[tokio::test]
async fn a_finished_dynamodb_copy_back_is_not_undone_and_one_cut_short_is() {
    for (swap_polls, undone) in [(0, false), (1, false), (3, true)] {
        let w = world_of(ResourceKind::DynamoTable);
        w.restorer.set_pending_polls("swap", swap_polls);
        let target = now() - TimeDelta::hours(2);
        let point = ChosenPoint {
            resource: ResourceKey::dynamodb("db"),
            source: Source::PointInTime { target },
        };
        store(&w, request(Status::Approved, vec![point], Mode::Rollback)).await;
        steps(
            &w,
            &[
                "begin",
                "resolve",
                "safety_snapshot",
                "restore_staging",
                "check_ready",
            ],
        )
        .await;
        let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
        handle(&w, event).await.unwrap();
        let swap = handle(&w, swap_event()).await.unwrap();
        assert_eq!(swap["done"], swap_polls == 0, "{swap}");
        let error = json!({"Error": "Lifeboat.VerificationFailed", "Cause": "another resource differs"});
        let abort = json!({"step": "abort", "request_id": ID, "error": error});
        let answer = handle(&w, abort).await.unwrap();
        assert_eq!(answer["done"], true, "{answer}");
        let run = run_of(&w).await;
        let last = run.timeline.last().unwrap().detail.clone();
        if undone {
            assert_eq!(w.restorer.calls("undo_swap"), 1);
            assert_eq!(run.resources[0].phase, Phase::Undone);
            assert_eq!(w.restorer.content("db").as_deref(), Some(AFTER));
        } else {
            assert_eq!(w.restorer.calls("undo_swap"), 0, "a finished copy-back is kept");
            assert_eq!(run.resources[0].phase, Phase::Swapped);
            assert!(last.contains("not undone"), "{last}");
            assert_eq!(
                w.restorer.content("db").as_deref(),
                Some("db as of 2026-11-28 10:00:00 UTC"),
                "the rolled-back content stays"
            );
        }
        assert_eq!(stored(&w).await.request.status, Status::Failed);
    }
}

#[tokio::test]
async fn abort_before_the_swap_leaves_production_alone() {
    let w = world();
    staged(&w).await;
    let error = json!({"Error": "States.Timeout", "Cause": ""});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true);
    assert_eq!(
        answer["error"], "Lifeboat.Timeout",
        "States. is reserved: {answer}"
    );
    assert_eq!(w.restorer.calls("undo_swap"), 0);
    assert_eq!(w.restorer.names(), ["db"], "staging deleted");
    assert_eq!(w.restorer.content("db").as_deref(), Some(AFTER));
    assert_eq!(stored(&w).await.request.status, Status::Failed);
    assert_only_lasting_holds(&w);
    assert_eq!(report(&w)["status"], "failed");
}

#[tokio::test]
async fn abort_of_a_request_never_locked_writes_nothing() {
    let w = world();
    catalogue_weekly(&w, PointState::Available);
    let approved = request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback);
    store(&w, approved.clone()).await;
    let error = json!({"Error": "Lifeboat.NotApproved", "Cause": "not ours"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(stored(&w).await, approved);
    assert!(w.reports.keys().is_empty());
    assert_eq!(w.restorer.names(), ["db"]);
}

/// Finish is caught to abort (a report it cannot write, say) after clean_up deleted staging.
#[tokio::test]
async fn a_failure_after_verification_keeps_the_verified_restore() {
    let w = world();
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    steps(&w, &["verify", "clean_up"]).await;
    // Finishing failed (say the report could not be written): the caught error reaches abort.
    let error = json!({"Error": "Lifeboat.Permanent", "Cause": "step report: put refused"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(
        answer["error"], "Lifeboat.Permanent",
        "the execution still fails, for the alarm"
    );
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(BEFORE),
        "the confirmed, verified restore stands"
    );
    assert_eq!(
        w.restorer.names(),
        ["db", FALLBACK],
        "staging deleted, the fallback kept"
    );
    let after = stored(&w).await;
    assert_eq!(after.request.status, Status::Completed);
    let run = after.request.run.unwrap();
    assert_eq!(run.outcome, Some(Outcome::Completed));
    assert!(run.timeline.iter().any(|s| s
        .detail
        .contains("completed and verified; then Lifeboat.Permanent")));
}

const ID_2: &str = "rr-2c5f39cb-3fa1-11d2-883f-0016d3cca427";

#[tokio::test]
async fn one_restore_per_resource_at_a_time() {
    let w = world();
    staged(&w).await;
    let mut second = request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback);
    second.request.id = ID_2.into();
    store(&w, second.clone()).await;
    let begin_second = json!({"step": "begin", "input": {"request_id": ID_2}, "execution": "arn:second"});
    let refused = handle(&w, begin_second.clone()).await.unwrap_err();
    assert_eq!(refused.name, NOT_APPROVED, "{refused}");
    assert!(
        refused.message.contains("rds:db is being restored") && refused.message.contains(ID),
        "{refused}"
    );
    assert_eq!(
        w.requests.get(ID_2).await.unwrap().unwrap(),
        second,
        "the second request is unchanged"
    );

    // Once the first restore ends, its lock is released.
    while handle(&w, swap_event()).await.unwrap()["done"] != true {}
    steps(&w, &["verify", "clean_up", "finish"]).await;
    handle(&w, begin_second).await.unwrap();
    assert_eq!(
        w.requests.get(ID_2).await.unwrap().unwrap().request.status,
        Status::Executing
    );
}

/// A console `SendTaskSuccess` never passed the intake's checks: the executor applies the
/// same rules. Whoever approved, whoever filed, someone outside engineering, or nobody named:
/// refused, recorded, nothing touched, and a second engineer's confirmation then goes on.
#[tokio::test]
async fn a_confirmation_from_the_approver_the_filer_or_a_stranger_is_refused_and_touches_nothing() {
    let w = world();
    staged(&w).await;
    let before = w.restorer.names();
    for (who, why) in [
        (json!(ENGINEER), "approved this restore"),
        (json!(SUPPORT), "not an engineering principal"),
        // The filer, through a session of the engineering role.
        (
            json!("arn:aws:sts::111122223333:assumed-role/lifeboat-engineering/sam-support"),
            "filed this request",
        ),
        (
            json!("arn:aws:sts::111122223333:assumed-role/marketing/max"),
            "not an engineering principal",
        ),
        (json!(null), "does not say who confirmed"),
        (json!(ENGINEERING_ROLE), "names no person"),
    ] {
        let event = json!({"step": "swap", "request_id": ID,
            "confirmation": {"confirmed_by": who, "confirmed_at": "2026-11-28T11:30:00Z"}});
        let e = handle(&w, event).await.unwrap_err();
        assert_eq!(
            e.name,
            lifeboat::execution::error::CONFIRMATION_REFUSED,
            "{who}: {e}"
        );
        assert!(e.message.contains(why), "{who}: {e}");
        let run = run_of(&w).await;
        assert!(run.confirmed_by.is_none(), "{who}");
        assert!(
            run.resources.iter().all(|r| r.phase == Phase::Ready),
            "{who}: nothing touched"
        );
        assert!(
            run.timeline.last().unwrap().detail.contains("refused"),
            "{who}: on the record"
        );
        assert_eq!(w.restorer.names(), before, "{who}");
    }
    // Waiting again (a new token), then a second engineer's confirmation goes through.
    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-2"});
    handle(&w, event).await.unwrap();
    handle(&w, swap_event()).await.unwrap();
    assert_eq!(run_of(&w).await.confirmed_by.as_deref(), Some(CONFIRMER));
}

#[tokio::test]
async fn a_swap_without_a_confirmation_touches_nothing() {
    let w = world();
    staged(&w).await;
    let e = handle(&w, on("swap")).await.unwrap_err();
    assert!(e.message.contains("no confirmation"), "{e}");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production untouched"
    );
    assert_eq!(w.restorer.calls("swap"), 0);
}

/// An approved selective restore of `rds:db` from its weekly snapshot, run up to the
/// confirmation, with a merger whose extract is contacts 1..=10 in batches of 3 and whose
/// production already has contact 2.
async fn selective_staged(w: &mut World) -> Arc<MemoryMerger> {
    let merger = Arc::new(MemoryMerger::new(
        ResourceKind::RdsInstance,
        vec![("public.contacts".into(), (1..=10).collect())],
        3,
        [("public.contacts".to_string(), BTreeSet::from([2]))].into(),
    ));
    w.executor.mergers = vec![merger.clone()];
    staged_as(w, Mode::Selective).await;
    merger
}

fn merge_event() -> Value {
    json!({"step": "merge", "request_id": ID,
        "confirmation": {"confirmed_by": CONFIRMER, "confirmed_at": "2026-11-28T11:30:00Z"}})
}

#[tokio::test]
async fn a_selective_restore_plans_before_confirmation_then_merges_batch_by_batch() {
    let mut w = world();
    w.executor.merge_budget = std::time::Duration::ZERO;
    let merger = selective_staged(&mut w).await;
    // The plan is in the report before anyone confirms; nothing is merged yet.
    let planned = report(&w);
    let table = &planned["selective"]["resources"][0]["tables"][0];
    assert_eq!(table["plan"], json!({"insert": 9, "present": 1, "conflicts": 0}));
    assert_eq!(table["batches"], 4);
    assert_eq!(merger.merge_calls(), 0);
    // A merge without a confirmation touches nothing.
    let e = handle(&w, on("merge")).await.unwrap_err();
    assert!(e.message.contains("no confirmation"), "{e}");
    assert_eq!(merger.merge_calls(), 0);

    // A zero budget: one batch per invocation, the state machine loops.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(handle(&w, merge_event()).await.unwrap()["done"].clone());
    }
    assert_eq!(answers, [json!(false), json!(false), json!(false), json!(true)]);
    assert_eq!(merger.production("public.contacts"), (1..=10).collect());
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Merged);
    assert_eq!(run.confirmed_by.as_deref(), Some(CONFIRMER));
    assert!(stored(&w).await.task_token.is_none());
    steps(&w, &["verify", "clean_up", "finish"]).await;
    assert_eq!(stored(&w).await.request.status, Status::Completed);
    assert_eq!(w.restorer.calls("swap"), 0, "a selective restore never swaps");
    let merged = &report(&w)["selective"]["resources"][0]["tables"][0]["merged"];
    assert_eq!(
        (merged["inserted"].clone(), merged["present"].clone()),
        (json!(9), json!(1))
    );
}

/// The request store, with someone else's write landing just before the executor's write
/// number `before` (counting from 0): what the intake's confirmation record does when it
/// loses the race with the step the confirmation resumed.
struct Interleaved {
    inner: Arc<MemoryRequests>,
    before: usize,
    writes: std::sync::atomic::AtomicUsize,
    meanwhile: Meanwhile,
}

/// What happens at the executor's write number `before`.
#[derive(Clone, Copy, PartialEq)]
enum Meanwhile {
    /// The intake records a confirmation first.
    Confirmation,
    /// Another execution of the step writes the run first.
    OtherRun,
    /// The write is applied, but its answer is lost: the SDK's retry of it fails its
    /// condition.
    AnswerLost,
}

impl Interleaved {
    /// As the intake records a confirmation it has already sent: a history entry, and
    /// the token cleared.
    async fn record_confirmation(&self, id: &str) {
        let stored = self.inner.get(id).await.unwrap().unwrap();
        let mut next = stored.clone();
        next.task_token = None;
        if self.meanwhile == Meanwhile::OtherRun {
            let run = next.request.run.as_mut().unwrap();
            run.record(Step::Merge, now(), "merged by someone else");
        }
        next.request.history.push(AuditEntry {
            at: now(),
            by: ENGINEER.into(),
            from: Some(stored.request.status),
            to: stored.request.status,
            reason: Some("confirmed".into()),
        });
        self.inner.replace(&next, stored.version).await.unwrap();
    }
}

#[async_trait::async_trait]
impl RequestStore for Interleaved {
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError> {
        self.inner.create(request).await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError> {
        self.inner.get(id).await
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<RestoreRequest>, PortError> {
        self.inner.list(instance_id, status).await
    }

    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError> {
        if self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != self.before {
            return self.inner.replace(request, expected_version).await;
        }
        if self.meanwhile == Meanwhile::AnswerLost {
            self.inner.replace(request, expected_version).await?;
            return Err(PortError::new(
                "PutItem",
                &request.request.id,
                lifeboat::ports::FailureKind::Conflict,
                "the conditional request failed",
            ));
        }
        self.record_confirmation(&request.request.id).await;
        self.inner.replace(request, expected_version).await
    }
}

/// `meanwhile` happens at the merge step's second write, the one recording batch 0 merged
/// (its first marks production touched).
fn meanwhile_at_batch_save(w: &mut World, meanwhile: Meanwhile) {
    w.executor.requests = Arc::new(Interleaved {
        inner: w.requests.clone(),
        before: 1,
        writes: 0.into(),
        meanwhile,
    });
}

/// Begin's lock written, its answer lost: the SDK's retry fails its condition. The request
/// is this execution's and its resource locks must stay, or another restore could run on
/// the same database at once.
#[tokio::test]
async fn begin_whose_lock_was_written_but_answered_as_a_conflict_keeps_its_resource_locks() {
    let mut w = world();
    approve_rollback_two_hours_back(&w).await;
    w.executor.requests = Arc::new(Interleaved {
        inner: w.requests.clone(),
        before: 0,
        writes: 0.into(),
        meanwhile: Meanwhile::AnswerLost,
    });
    let settings = handle(&w, begin_by(EXECUTION)).await.unwrap();
    assert_eq!(settings["request_id"], ID);
    assert_eq!(stored(&w).await.request.status, Status::Executing);
    let other = w.executor.locks.acquire("rds:db", "rr-someone-else").await;
    assert!(
        other.is_err(),
        "rds:db is still locked by {ID}, so no second restore can start on it"
    );
}

/// Answers its first read with the request as it was before another execution locked it.
struct StaleOnce {
    inner: Arc<MemoryRequests>,
    stale: std::sync::Mutex<Option<StoredRequest>>,
}

#[async_trait::async_trait]
impl RequestStore for StaleOnce {
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError> {
        self.inner.create(request).await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError> {
        let stale = self.stale.lock().unwrap().take();
        match stale {
            Some(stale) => Ok(Some(stale)),
            None => self.inner.get(id).await,
        }
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<RestoreRequest>, PortError> {
        self.inner.list(instance_id, status).await
    }

    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError> {
        self.inner.replace(request, expected_version).await
    }
}

/// Two executions of one request (the intake's, and one started from the console) begin at
/// once; the one that loses the request must not release the locks the winner holds.
#[tokio::test]
async fn a_second_execution_of_the_same_request_never_releases_the_first_ones_locks() {
    let w = world();
    approve_rollback_two_hours_back(&w).await;
    let approved = stored(&w).await;
    handle(&w, begin_by(EXECUTION)).await.unwrap();
    let second = Executor {
        requests: Arc::new(StaleOnce {
            inner: w.requests.clone(),
            stale: std::sync::Mutex::new(Some(approved)),
        }),
        locks: w.executor.locks.clone(),
        catalog: w.executor.catalog.clone(),
        services: w.executor.services.clone(),
        restorers: w.executor.restorers.clone(),
        reports: w.executor.reports.clone(),
        mergers: vec![],
        batch_rows: w.executor.batch_rows,
        merge_budget: w.executor.merge_budget,
        shard_budget: w.executor.shard_budget,
        roles: w.executor.roles.clone(),
    };
    let other = format!("{EXECUTION}-from-the-console");
    let e = second.handle(begin_by(&other), now()).await.unwrap_err();
    assert_eq!(e.name, NOT_APPROVED, "{e}");
    let intruder = w.executor.locks.acquire("rds:db", "rr-someone-else").await;
    assert!(intruder.is_err(), "rds:db is still locked by the first execution");
    assert_eq!(run_of(&w).await.execution, EXECUTION);
}

#[tokio::test]
async fn a_confirmation_recorded_while_a_batch_merges_neither_fails_the_step_nor_merges_twice() {
    let mut w = world();
    let merger = selective_staged(&mut w).await;
    meanwhile_at_batch_save(&mut w, Meanwhile::Confirmation);
    let answer = handle(&w, merge_event()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(merger.merge_calls(), 4, "every batch merged once");
    let stored = stored(&w).await;
    let confirmations = stored
        .request
        .history
        .iter()
        .filter(|e| e.reason.as_deref() == Some("confirmed"))
        .count();
    assert_eq!(confirmations, 1, "the intake's entry is kept");
    let merged = stored.request.run.unwrap().selective.unwrap().merged;
    assert_eq!(merged.len(), 4);
}

#[tokio::test]
async fn a_run_save_applied_but_answered_as_a_conflict_is_taken_as_saved() {
    let mut w = world();
    let merger = selective_staged(&mut w).await;
    meanwhile_at_batch_save(&mut w, Meanwhile::AnswerLost);
    let answer = handle(&w, merge_event()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(merger.merge_calls(), 4, "every batch merged once");
    assert_eq!(run_of(&w).await.selective.unwrap().merged.len(), 4);
}

#[tokio::test]
async fn a_run_changed_by_someone_else_while_a_batch_merges_is_a_conflict_to_retry() {
    let mut w = world();
    selective_staged(&mut w).await;
    meanwhile_at_batch_save(&mut w, Meanwhile::OtherRun);
    let e = handle(&w, merge_event()).await.unwrap_err();
    assert_eq!(e.name, lifeboat::execution::error::RETRYABLE, "{e}");
    let run = run_of(&w).await;
    assert!(run.selective.unwrap().merged.is_empty(), "the other run is kept");
    assert!(run.timeline.iter().any(|t| t.detail == "merged by someone else"));
}

#[tokio::test]
async fn a_failed_batch_is_retried_alone_and_verify_checks_production_s_record() {
    let mut w = world();
    let merger = selective_staged(&mut w).await;
    merger.fail_once("public.contacts", 1);
    let e = handle(&w, merge_event()).await.unwrap_err();
    assert_eq!(e.name, lifeboat::execution::error::RETRYABLE, "{e}");
    assert_eq!(
        run_of(&w).await.selective.unwrap().merged.len(),
        1,
        "batch 0 recorded"
    );
    assert_eq!(handle(&w, merge_event()).await.unwrap()["done"], true);
    assert_eq!(
        merger.merge_calls(),
        5,
        "batch 0 once, batch 1 twice, then 2 and 3"
    );
    // Production lost its record of a batch: verification fails and says which.
    merger.forget("public.contacts", 2);
    let e = handle(&w, on("verify")).await.unwrap_err();
    assert_eq!(e.name, lifeboat::execution::error::VERIFICATION_FAILED);
    assert!(e.message.contains("public.contacts batch 2"), "{e}");
}

#[tokio::test]
async fn a_selective_restore_failing_mid_merge_keeps_what_it_merged_and_undoes_nothing() {
    let mut w = world();
    w.executor.merge_budget = std::time::Duration::ZERO;
    let merger = selective_staged(&mut w).await;
    handle(&w, merge_event()).await.unwrap();
    let error = json!({"Error": "Lifeboat.Permanent", "Cause": "the database refused batch 1"});
    let answer = handle(
        &w,
        json!({"step": "abort", "request_id": ID, "error": error, "execution": EXECUTION}),
    )
    .await
    .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(w.restorer.calls("undo_swap"), 0);
    assert_eq!(merger.production("public.contacts"), BTreeSet::from([1, 2, 3]));
    let request = stored(&w).await.request;
    assert_eq!(request.status, Status::Failed);
    let run = request.run.unwrap();
    assert!(run.resources[0].staging_deleted);
    assert!(
        run.timeline
            .last()
            .unwrap()
            .detail
            .contains("the 2 rows recorded as merged before the failure stay"),
        "{:?}",
        run.timeline.last()
    );
}

#[tokio::test]
async fn a_selective_restore_whose_engine_cannot_connect_fails_at_resolve_before_staging() {
    let mut w = world();
    let merger = Arc::new(MemoryMerger::new(
        ResourceKind::RdsInstance,
        vec![],
        3,
        BTreeMap::new(),
    ));
    merger.make_unusable("LIFEBOAT_DB_CA_BUNDLE /var/task/rds-global-bundle.pem: not found");
    w.executor.mergers = vec![merger];
    catalogue_weekly(&w, PointState::Available);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Selective),
    )
    .await;
    steps(&w, &["begin"]).await;
    let e = handle(&w, on("resolve")).await.unwrap_err();
    assert_eq!(e.name, UNSUPPORTED, "{e}");
    assert!(e.message.contains("LIFEBOAT_DB_CA_BUNDLE"), "{e}");
    assert_eq!(w.restorer.calls("start_staging"), 0);
}
