//! The executor's steps, driven one task event at a time as the state machine sends them, on
//! in-memory ports. This file holds the fixture (the shared in-memory world and the executor
//! wired to it) and the helpers; a module per concern holds the tests: `begin` (the lock and
//! resolution), `rollback` (the happy path, retries, verification, the abort),
//! `confirmation`, `pinned` (staging pinned once proven, a look-alike never taken), `selective`
//! (plan and merge), `races` (writes that lose a race) and
//! `events` (the status events each step announces).

mod begin;
mod confirmation;
mod events;
mod pinned;
mod races;
mod rollback;
mod selective;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{Hold, PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::execution::error::{StepError, INVALID_INPUT, NOT_APPROVED, NOT_RESTORABLE, UNSUPPORTED};
use lifeboat::execution::run::{Outcome, Phase, Run, Step};
use lifeboat::policy::Tier;
use lifeboat::ports::memory::merger::MemoryMerger;
use lifeboat::ports::memory::world::{self, now, ENGINEER, ENGINEERING_ROLE, ENGINEER_2, SUPPORT};
use lifeboat::ports::memory::MemoryRequests;
use lifeboat::ports::PortError;
use lifeboat::ports::{RequestStore, StoredRequest};
use lifeboat::request::decision::{ChosenPoint, Decision, Mode, Records, Selection, Verdict};
use lifeboat::request::lifecycle::{AuditEntry, RestoreRequest, Status};
use lifeboat::request::options::Source;
use lifeboat::request::roles::Roles;
use lifeboat::request::triage::{self, Triage};
use lifeboat::request::{Affected, Cause};
use lifeboat::schedule::{Slot, TierSet};
use lifeboat_function::status_events::Announcer;
use restore_executor::Executor;
use serde_json::{json, Value};

const ID: &str = "rr-1b4e28ba-2fa1-11d2-883f-0016d3cca427";
const EXECUTION: &str =
    "arn:aws:states:us-east-1:111122223333:execution:lifeboat-restore:rr-1b4e28ba-2fa1-11d2-883f-0016d3cca427";
/// The second engineer, who confirms what `ENGINEER` approved.
const CONFIRMER: &str = ENGINEER_2;
/// The names `lifeboat::execution::names` gives request `ID`'s restore of `rds:db`.
const STAGING: &str = "lbs-1b4e28ba-db";
const FALLBACK: &str = "lbf-1b4e28ba-db";
const SAFETY: &str = "lbsafety-1b4e28ba-db";
/// Where an undo keeps the restored resource once it has served as production.
const RETIRED: &str = "lbr-1b4e28ba-db";
const BEFORE: &str = "contacts before the loss";
const AFTER: &str = "contacts after the loss";

/// The shared in-memory world, and the executor wired to it: one service (of the kind under
/// test) and its restorer.
struct World {
    ports: world::World,
    executor: Executor,
}

impl Deref for World {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.ports
    }
}

/// Instance `acme`: RDS `db` with a 72-hour window, holding what the loss left.
fn world() -> World {
    world_of(ResourceKind::RdsInstance)
}

/// Instance `acme` with one resource `db` of `kind`, as [`world`] describes it.
fn world_of(kind: ResourceKind) -> World {
    let ports = world::World::restoring(kind);
    add_database(&ports, kind, "db", AFTER);
    let executor = Executor {
        requests: ports.requests.clone(),
        locks: ports.locks.clone(),
        catalog: ports.catalog.clone(),
        services: vec![ports.service(kind).clone()],
        restorers: vec![ports.restorer.clone()],
        reports: ports.reports.clone(),
        // No engine: the selective branch is tested end to end, on real databases.
        mergers: vec![],
        batch_rows: 50_000,
        merge_budget: std::time::Duration::from_secs(600),
        shard_budget: std::time::Duration::from_secs(600),
        roles: Roles::from_lists("", &format!("{ENGINEER},{CONFIRMER},{ENGINEERING_ROLE}")),
        events: Announcer::new(ports.events.clone(), "restore-executor"),
    };
    World { ports, executor }
}

/// A resource `name` of `acme` holding `content`, with a 72-hour window.
fn add_database(ports: &world::World, kind: ResourceKind, name: &str, content: &str) {
    ports.add_acme_resource(kind, name);
    ports.restorer.add_production(name, content);
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
    ready_as(w, mode).await;
    if mode == Mode::Selective {
        steps(w, &["extract"]).await;
    }
    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(w, event).await.unwrap();
}

/// An approved request of `mode` from `rds:db`'s catalogued weekly snapshot, run until
/// `check_ready` pinned staging.
async fn ready_as(w: &World, mode: Mode) {
    catalogue_weekly(w, PointState::Available);
    let snapshot = ResourceKey::rds("db").point_name(weekly_slot());
    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &snapshot, BEFORE);
    store(w, request(Status::Approved, vec![weekly_snapshot()], mode)).await;
    steps(w, &["begin", "resolve", "safety_snapshot", "restore_staging"]).await;
    let ready = handle(w, on("check_ready")).await.unwrap();
    assert_eq!(ready["ready"], true, "{ready}");
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

/// An approved selective restore of `rds:db` from its weekly snapshot, run up to the
/// confirmation, with a merger whose extract is contacts 1..=10 in batches of 3 and whose
/// production already has contact 2.
async fn selective_staged(w: &mut World) -> Arc<MemoryMerger> {
    let merger = contacts_merger(w);
    staged_as(w, Mode::Selective).await;
    merger
}

/// The merger [`selective_staged`] describes, given to the executor.
fn contacts_merger(w: &mut World) -> Arc<MemoryMerger> {
    let merger = Arc::new(MemoryMerger::new(
        ResourceKind::RdsInstance,
        vec![("public.contacts".into(), (1..=10).collect())],
        3,
        [("public.contacts".to_string(), BTreeSet::from([2]))].into(),
    ));
    w.executor.mergers = vec![merger.clone()];
    merger
}

fn merge_event() -> Value {
    json!({"step": "merge", "request_id": ID,
        "confirmation": {"confirmed_by": CONFIRMER, "confirmed_at": "2026-11-28T11:30:00Z"}})
}
