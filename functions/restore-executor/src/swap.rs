//! After confirmation: swap staging in for production, verify, and clean up staging.
//!
//! Each resource is marked `swapping` and saved before its production is touched, so a
//! failure from then on (in this step or any later one) makes the abort step restore the
//! fallback.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, RETRYABLE, VERIFICATION_FAILED};
use lifeboat::execution::run::{Phase, Step};
use lifeboat::ports::restorer::Progress;
use lifeboat::ports::{Deletion, FailureKind};
use lifeboat::request::decision::Mode;
use serde_json::{json, Value};

use crate::confirmation::start_changing_production;
use crate::task::Task;
use crate::{target, Executor};

/// One step of the swap of every resource: `{"done": true}` once all are swapped.
pub async fn swap(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (mut stored, mut run) = start_changing_production(
        executor,
        task,
        now,
        (Step::Swap, Mode::Rollback),
        (Phase::Ready, Phase::Swapping),
    )
    .await?;
    let mut pending = Vec::new();
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase != Phase::Swapping {
            continue;
        }
        let safety = r.safety_snapshot.clone().unwrap_or_default();
        let progress = executor
            .restorer(r.resource.kind)?
            .swap(&target(id, r), &safety)
            .await
            .map_err(|e| StepError::from_port("swap", e))?;
        match progress {
            Progress::Done => {
                run.record(Step::Swap, now, format!("{}: swapped", r.resource));
                run.resources[i].phase = Phase::Swapped;
                stored = executor.save_run(&stored, run.clone(), Step::Swap).await?;
            }
            Progress::Pending(why) => pending.push(why),
        }
    }
    Ok(json!({ "done": pending.is_empty(), "waiting_for": pending }))
}

pub async fn verify(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::Verify).await?;
    if run.mode == Mode::Selective {
        return crate::selective::verify(executor, task, now).await;
    }
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase != Phase::Swapped {
            continue;
        }
        let verification = executor
            .restorer(r.resource.kind)?
            .verify(&target(id, r))
            .await
            .map_err(|e| StepError::from_port("verify", e))?;
        if !verification.ok {
            return Err(StepError::new(
                VERIFICATION_FAILED,
                format!("{}: {}", r.resource, verification.detail),
            ));
        }
        run.record(Step::Verify, now, verification.detail);
        run.resources[i].phase = Phase::Verified;
    }
    executor.save_run(&stored, run, Step::Verify).await?;
    Ok(json!({}))
}

pub async fn clean_up(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::CleanUp).await?;
    let busy = delete_staging(executor, id, &mut run, now).await?;
    executor.save_run(&stored, run, Step::CleanUp).await?;
    if !busy.is_empty() {
        return Err(StepError::new(
            RETRYABLE,
            format!("step clean_up: {}", busy.join("; ")),
        ));
    }
    Ok(json!({}))
}

fn deleted(deletion: Deletion) -> &'static str {
    match deletion {
        Deletion::Deleted => "deleted",
        Deletion::AlreadyGone => "already gone (a swapped RDS staging instance is production now)",
    }
}

/// Deletes every staging resource the run made and has not deleted yet; what could not be
/// deleted yet because it is busy (still being restored or renamed), to try again later.
pub async fn delete_staging(
    executor: &Executor,
    id: &str,
    run: &mut lifeboat::execution::run::Run,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StepError> {
    let mut busy = Vec::new();
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        // Production in mid-swap may be what staging was: only its undo may move it.
        let mid_swap = r.production_touched() && r.phase != Phase::Verified;
        if r.phase < Phase::StagingStarted || r.staging_deleted || mid_swap {
            continue;
        }
        let deletion = match executor
            .restorer(r.resource.kind)?
            .delete_staging(&target(id, r))
            .await
        {
            Ok(deletion) => deletion,
            // The service refuses to delete what it is still working on.
            Err(e) if e.kind == FailureKind::Conflict => {
                busy.push(format!(
                    "{}: staging {} is busy: {}",
                    r.resource, r.staging, e.message
                ));
                continue;
            }
            Err(e) => return Err(StepError::from_port("clean_up", e)),
        };
        run.record(
            Step::CleanUp,
            now,
            format!("{}: staging {} {}", r.resource, r.staging, deleted(deletion)),
        );
        run.resources[i].staging_deleted = true;
    }
    Ok(busy)
}
