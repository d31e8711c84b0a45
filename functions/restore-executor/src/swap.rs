//! After confirmation: swap staging in for production, verify, and clean up staging.
//!
//! Each resource is marked `swapping` and saved before its production is touched, so a
//! failure from then on (in this step or any later one) makes the abort step restore the
//! fallback.

use chrono::{DateTime, Utc};
use lifeboat::catalog::ResourceKind;
use lifeboat::execution::error::{StepError, RETRYABLE, VERIFICATION_FAILED};
use lifeboat::execution::run::{Phase, Step};
use lifeboat::ports::restorer::{Progress, Verification};
use lifeboat::ports::{Deletion, FailureKind};
use lifeboat::request::decision::Mode;
use serde_json::{json, Value};

use crate::confirmation::start_changing_production;
use crate::task::Task;
use crate::{target, Executor};

/// One step of the swap of every resource: `{"done": true}` once all are swapped; until
/// then what it waits for, and `shards` when work is to be spread over the state machine's
/// Map before the next step.
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
    let mut shards = Vec::new();
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
            Progress::Spread(more) => {
                pending.push(format!("{}: {} copy-back shards to run", r.resource, more.len()));
                shards.extend(more);
            }
        }
    }
    Ok(json!({ "done": pending.is_empty(), "waiting_for": pending, "shards": shards }))
}

/// One look at every swapped resource: `{"done": true}` once all are verified. A state
/// that settles by itself (a backup right after the rename) is waited for, polled like the
/// other steps; only a real difference fails the restore.
pub async fn verify(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::Verify).await?;
    if run.mode == Mode::Selective {
        return crate::selective::verify(executor, task, now).await;
    }
    let mut waiting = Vec::new();
    let mut shards = Vec::new();
    let mut changed = false;
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
        let (detail, differences) = match verification {
            Verification::Passed(detail) => (detail, None),
            Verification::PassedWithDifferences(detail) => (detail.clone(), Some(detail)),
            Verification::Settling(why) => {
                waiting.push(why);
                continue;
            }
            Verification::Spread(more) => {
                waiting.push(format!("{}: {} comparison shards to run", r.resource, more.len()));
                shards.extend(more);
                continue;
            }
            Verification::Failed(detail) => {
                return Err(StepError::new(
                    VERIFICATION_FAILED,
                    format!("{}: {detail}", r.resource),
                ));
            }
        };
        run.record(Step::Verify, now, detail);
        run.resources[i].phase = Phase::Verified;
        run.resources[i].differences = differences;
        changed = true;
    }
    if changed {
        executor.save_run(&stored, run, Step::Verify).await?;
    }
    Ok(json!({ "done": waiting.is_empty(), "waiting_for": waiting, "shards": shards }))
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
        Deletion::AlreadyGone => "already gone (swapped in as production, or kept aside by an undo)",
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
        // An RDS production in mid-swap may be what staging was: only its undo may move it.
        // DynamoDB staging is never production (its items are copied, the table stays).
        let mid_swap = r.resource.kind == ResourceKind::RdsInstance
            && r.production_touched()
            && r.phase != Phase::Verified;
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
