//! Before production is touched: check each recovery point is really restorable and hold
//! it, take a safety snapshot of production, restore into staging, and poll until both are
//! available. Moto checks none of this, so the code does it itself.

use chrono::{DateTime, Utc};
use lifeboat::catalog::PointState;
use lifeboat::execution::error::{StepError, NOT_RESTORABLE, PERMANENT, UNSUPPORTED};
use lifeboat::execution::identity::Made;
use lifeboat::execution::names::names;
use lifeboat::execution::run::{Phase, ResourceRun, Run, Step};
use lifeboat::ports::restorer::Progress;
use lifeboat::request::decision::Mode;
use lifeboat::request::lifecycle::RestoreRequest;
use lifeboat::request::options::Source;
use lifeboat::status_event::RestoreChange;
use serde_json::{json, Value};

use crate::progress::note_waiting;
use crate::task::Task;
use crate::{target, Executor};

pub async fn resolve(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::Resolve).await?;
    // Checked after the lock, so the request ends failed with the reason rather than
    // staying approved with nothing to run it.
    if run.mode == Mode::Selective {
        for r in &run.resources {
            if let Some(why) = executor.merger(r.resource.kind)?.unusable() {
                return Err(StepError::new(
                    UNSUPPORTED,
                    format!("request {id}: {}: {why}; nothing was touched", r.resource),
                ));
            }
        }
    }
    let mut staging: Vec<&str> = run.resources.iter().map(|r| r.staging.as_str()).collect();
    staging.sort_unstable();
    if let Some(pair) = staging.windows(2).find(|w| w[0] == w[1]) {
        return Err(StepError::new(
            PERMANENT,
            format!(
                "request {id}: two resources would share the staging name {}; restore them one at a time",
                pair[0]
            ),
        ));
    }
    if run.resources.is_empty() {
        return Err(StepError::new(
            NOT_RESTORABLE,
            format!("request {id} names no recovery points"),
        ));
    }
    if run.mode == Mode::Rollback {
        for r in run.resources.iter().filter(|r| r.phase < Phase::Resolved) {
            let refusal = executor
                .restorer(r.resource.kind)?
                .refusal(&r.resource)
                .await
                .map_err(|e| StepError::from_port("resolve", e))?;
            if let Some(why) = refusal {
                return Err(StepError::new(
                    NOT_RESTORABLE,
                    format!("request {id}: {why}; nothing was touched"),
                ));
            }
        }
    }
    let mut details = Vec::new();
    for r in run.resources.iter_mut().filter(|r| r.phase < Phase::Resolved) {
        let fallback = held_fallback(&stored.request, r);
        details.push(resolve_one(executor, id, r, fallback).await?);
        r.phase = Phase::Resolved;
    }
    // A retry that finds everything resolved writes nothing.
    if !details.is_empty() {
        run.record(Step::Resolve, now, details.join("; "));
        executor.save_run(&stored, run, Step::Resolve).await?;
    }
    Ok(json!({}))
}

/// The snapshot a point-in-time option of `r`'s resource holds as its fallback, in words.
fn held_fallback(request: &RestoreRequest, r: &ResourceRun) -> Option<String> {
    request
        .recovery_options
        .iter()
        .filter(|o| o.resource == r.resource)
        .find_map(|o| match &o.fallback {
            Some(Source::Snapshot { slot, service_id, .. }) => Some(format!(
                "the snapshot {} of {slot}, held by this request",
                service_id.as_deref().unwrap_or("(uncatalogued)")
            )),
            _ => None,
        })
}

/// Checks one point and holds it (a snapshot is held in the catalog; a point-in-time
/// target needs the window to still cover it, which no hold can keep: its option's fallback
/// snapshot is held instead, and named when the target has left the window).
async fn resolve_one(
    executor: &Executor,
    id: &str,
    r: &mut ResourceRun,
    fallback: Option<String>,
) -> Result<String, StepError> {
    let instead = || {
        fallback
            .as_ref()
            .map(|f| format!("; {f} can serve instead: file a request to restore it (filing holds it again)"))
            .unwrap_or_default()
    };
    let fail = |e| StepError::from_port("resolve", e);
    match &r.source {
        Source::PointInTime { target } => {
            let window = executor
                .service(&r.resource)?
                .restorable_window(&r.resource)
                .await
                .map_err(fail)?;
            match window {
                Some(w) if w.earliest <= *target && *target <= w.latest => Ok(format!(
                    "{}: {target} is inside the window {} .. {}",
                    r.resource, w.earliest, w.latest
                )),
                Some(w) => Err(StepError::new(
                    NOT_RESTORABLE,
                    format!(
                        "{}: the point-in-time target {target} is outside the restorable window {} .. {}{}",
                        r.resource,
                        w.earliest,
                        w.latest,
                        instead()
                    ),
                )),
                None => Err(StepError::new(
                    NOT_RESTORABLE,
                    format!(
                        "{}: continuous backups are off; {target} cannot be restored{}",
                        r.resource,
                        instead()
                    ),
                )),
            }
        }
        Source::Snapshot { slot, .. } => {
            let records = executor
                .catalog
                .get_points(&[(r.resource.clone(), *slot)])
                .await
                .map_err(fail)?;
            let service_id = records
                .iter()
                .find(|p| p.state == PointState::Available)
                .and_then(|p| p.service_id.clone())
                .ok_or_else(|| {
                    StepError::new(
                        NOT_RESTORABLE,
                        format!("{}: no available catalogued point for slot {slot}", r.resource),
                    )
                })?;
            let usable = executor
                .restorer(r.resource.kind)?
                .snapshot_usable(&r.resource, &service_id)
                .await
                .map_err(fail)?;
            if !usable {
                return Err(StepError::new(
                    NOT_RESTORABLE,
                    format!(
                        "{}: the service no longer holds {service_id} as available",
                        r.resource
                    ),
                ));
            }
            executor
                .catalog
                .add_hold(&r.resource, *slot, id)
                .await
                .map_err(fail)?;
            r.restore_from = Some(service_id.clone());
            Ok(format!(
                "{}: snapshot {service_id} exists and is held",
                r.resource
            ))
        }
    }
}

pub async fn safety_snapshot(
    executor: &Executor,
    task: &Task,
    now: DateTime<Utc>,
) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (mut stored, mut run) = executor.load_run(id, Step::SafetySnapshot).await?;
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase >= Phase::SafetyStarted {
            continue;
        }
        let name = names(id, &r.resource).safety;
        let snapshot = executor
            .restorer(r.resource.kind)?
            .start_safety_snapshot(&r.resource, &name, id)
            .await
            .map_err(|e| StepError::from_port("safety_snapshot", e))?;
        run.record(
            Step::SafetySnapshot,
            now,
            format!("{}: safety snapshot {snapshot}", r.resource),
        );
        let r = &mut run.resources[i];
        r.safety_snapshot = Some(snapshot);
        r.phase = Phase::SafetyStarted;
        // Saved per resource: its id is what a later failure path reports.
        stored = executor
            .save_run(&stored, run.clone(), Step::SafetySnapshot)
            .await?;
    }
    Ok(json!({}))
}

pub async fn restore_staging(
    executor: &Executor,
    task: &Task,
    now: DateTime<Utc>,
) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (mut stored, mut run) = executor.load_run(id, Step::RestoreStaging).await?;
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase >= Phase::StagingStarted {
            continue;
        }
        let staging = target(id, run.started_at, r);
        if staging.origin.is_none() {
            return Err(StepError::new(
                NOT_RESTORABLE,
                format!("{}: the snapshot was never resolved", r.resource),
            ));
        }
        executor
            .restorer(r.resource.kind)?
            .start_staging(&staging)
            .await
            .map_err(|e| StepError::from_port("restore_staging", e))?;
        run.record(
            Step::RestoreStaging,
            now,
            format!("{}: restoring into {}", r.resource, r.staging),
        );
        run.resources[i].phase = Phase::StagingStarted;
        stored = executor
            .save_run(&stored, run.clone(), Step::RestoreStaging)
            .await?;
    }
    Ok(json!({}))
}

/// One poll: `{"ready": true}` once every safety snapshot and staging resource is available.
pub async fn check_ready(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::CheckReady).await?;
    let mut waiting = Vec::new();
    let mut changed = false;
    // Only what the services wait for changed: saved and announced, nothing else.
    let mut progressed = false;
    let selective = run.mode == Mode::Selective;
    // Each staging's pinned identity, for the timeline.
    let mut pins = Vec::new();
    for r in run
        .resources
        .iter_mut()
        .filter(|r| r.phase == Phase::StagingStarted)
    {
        let restorer = executor.restorer(r.resource.kind)?;
        let fail = |e| StepError::from_port("check_ready", e);
        let safety = match &r.safety_snapshot {
            Some(s) => restorer
                .safety_snapshot_ready(&r.resource, s)
                .await
                .map_err(fail)?,
            None => Progress::Pending("no safety snapshot".into()),
        };
        let mut staging = restorer
            .staging_ready(&target(id, run.started_at, r))
            .await
            .map_err(fail)?;
        // A selective restore reads staging itself: it must be able to sign in.
        if staging.is_done() && selective {
            staging = executor
                .merger(r.resource.kind)?
                .prepare_staging(&r.staging, id)
                .await
                .map_err(fail)?;
        }
        match (safety, staging) {
            (Progress::Done, Progress::Done) => {
                // Proven this restore's and ready: pinned, so that a resource put under the
                // staging name later (during the confirmation's wait) is never taken for it.
                let pinned = restorer
                    .identity(&target(id, run.started_at, r), Made::Staging)
                    .await
                    .map_err(fail)?;
                // Production itself, where the undo puts the very original back: pinned before
                // the swap moves it, so only it is ever renamed back into production's name.
                let original = restorer
                    .original(&target(id, run.started_at, r))
                    .await
                    .map_err(fail)?;
                pins.push(format!("{}: staging {} is {pinned}", r.resource, r.staging));
                r.staging_identity = Some(pinned);
                if let Some(original) = original {
                    pins.push(format!("{}: production's original is {original}", r.resource));
                    r.fallback_identity = Some(original);
                }
                r.phase = Phase::Ready;
                note_waiting(r, None);
                changed = true;
            }
            (a, b) => {
                let whys: Vec<String> = [a, b]
                    .into_iter()
                    .filter_map(|p| match p {
                        Progress::Pending(why) => Some(why),
                        // Neither the safety snapshot nor staging spreads work over shards.
                        Progress::Spread(shards) => Some(format!("{} shards", shards.len())),
                        Progress::Done => None,
                    })
                    .collect();
                progressed |= note_waiting(r, Some(whys.join("; ")));
                waiting.extend(whys);
            }
        }
    }
    let ready = run.all_at_least(Phase::Ready);
    let mut request = stored.request.clone();
    for pin in pins {
        run.record(Step::CheckReady, now, pin);
    }
    if changed {
        if ready {
            run.record(
                Step::CheckReady,
                now,
                "safety snapshots and staging are available",
            );
        }
        request = executor.save_run(&stored, run, Step::CheckReady).await?.request;
    } else if progressed {
        crate::progress::save_progress(executor, &stored, run, Step::CheckReady, now).await;
    }
    if ready {
        // Also when a retried poll finds everything ready already: the state machine stops
        // polling once a poll answers ready, so this is the poll whose answer was lost.
        executor
            .events
            .announce(&request, RestoreChange::StagingReady)
            .await;
    }
    Ok(json!({ "ready": ready, "waiting_for": waiting }))
}

/// Whether the run has anything in staging to clean up.
pub fn has_staging(run: &Run) -> bool {
    run.resources
        .iter()
        .any(|r| r.phase >= Phase::StagingStarted && !r.staging_deleted)
}
