//! `await_confirmation`: the state machine waits (`.waitForTaskToken`) for an engineer
//! before production is touched. The token is stored on the request, where the intake's
//! confirm endpoint finds it; an engineer in the console can send it with `SendTaskSuccess`.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, INVALID_INPUT, PERMANENT};
use lifeboat::execution::run::{Phase, Run, Step};
use serde_json::{json, Value};

use crate::ending::write_report;
use crate::task::Task;
use crate::Executor;
use lifeboat::ports::restore::StoredRequest;
use lifeboat::request::decision::Mode;

pub async fn await_confirmation(
    executor: &Executor,
    task: &Task,
    now: DateTime<Utc>,
) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let token = task
        .task_token
        .clone()
        .ok_or_else(|| StepError::new(INVALID_INPUT, "task await_confirmation: `task_token` is required"))?;
    let (stored, mut run) = executor.load_run(id, Step::AwaitConfirmation).await?;
    if !run.all_at_least(Phase::Ready) {
        return Err(StepError::new(
            PERMANENT,
            format!("request {id}: confirmation asked before staging was ready"),
        ));
    }
    run.record(
        Step::AwaitConfirmation,
        now,
        format!("waiting for an engineer's confirmation (POST /restore-requests/{id}/confirm, or SendTaskSuccess)"),
    );
    let mut next = stored.clone();
    next.task_token = Some(token);
    next.request.awaiting_confirmation = true;
    next.request.run = Some(run);
    executor
        .save(&next, stored.version, Step::AwaitConfirmation)
        .await?;
    // What is about to happen, for whoever confirms.
    write_report(executor, &next.request, now).await?;
    Ok(json!({}))
}

/// Records who confirmed, from the task's confirmation (the intake's, or a console
/// `SendTaskSuccess`), the first time a step after the wait runs. A task event without one
/// (someone invoking the function by hand) is refused: production is not touched.
fn take_confirmation(
    run: &mut Run,
    task: &Task,
    id: &str,
    step: Step,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    if run.confirmed_by.is_some() {
        return Ok(());
    }
    let Some(confirmation) = &task.confirmation else {
        return Err(StepError::new(
            PERMANENT,
            format!(
                "request {id}: no confirmation came with the {} step; production is not touched",
                step.as_str()
            ),
        ));
    };
    run.confirmed_by = Some(
        confirmation["confirmed_by"]
            .as_str()
            .unwrap_or("the Step Functions console (SendTaskSuccess without confirmed_by)")
            .to_string(),
    );
    run.confirmed_at = Some(
        confirmation["confirmed_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(now),
    );
    run.record(
        step,
        now,
        format!("confirmed by {}", run.confirmed_by.as_deref().unwrap_or_default()),
    );
    Ok(())
}

/// Moves every resource at `from` to `to` and spends the confirmation's token, saved before
/// production is touched (a failure from then on takes the failure path with this known);
/// returns the request as now stored. A retry that finds it done writes nothing.
async fn mark_production_touched(
    executor: &Executor,
    stored: StoredRequest,
    run: &mut Run,
    (from, to): (Phase, Phase),
    step: Step,
) -> Result<StoredRequest, StepError> {
    if !run.resources.iter().any(|r| r.phase == from) && stored.task_token.is_none() {
        return Ok(stored);
    }
    for r in run.resources.iter_mut().filter(|r| r.phase == from) {
        r.phase = to;
    }
    let mut next = stored.clone();
    next.task_token = None;
    next.request.awaiting_confirmation = false;
    next.request.run = Some(run.clone());
    executor.save(&next, stored.version, step).await?;
    next.version += 1;
    Ok(next)
}

/// The start of the step that changes production (`swap` for a rollback, `merge` for a
/// selective restore): the request's mode must be `mode`, the confirmation is recorded, every
/// resource must have reached `from`, and those at `from` are marked `to` and saved before
/// production is touched.
pub async fn start_changing_production(
    executor: &Executor,
    task: &Task,
    now: DateTime<Utc>,
    (step, mode): (Step, Mode),
    (from, to): (Phase, Phase),
) -> Result<(StoredRequest, Run), StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, step).await?;
    if run.mode != mode {
        return Err(StepError::new(
            PERMANENT,
            format!(
                "request {id} is a {} restore: step {} is not one of its steps",
                serde_json::to_value(run.mode)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("?"),
                step.as_str()
            ),
        ));
    }
    take_confirmation(&mut run, task, id, step, now)?;
    if !run.all_at_least(from) {
        return Err(StepError::new(
            PERMANENT,
            format!(
                "request {id}: {} asked before every resource was {from:?}",
                step.as_str()
            ),
        ));
    }
    let stored = mark_production_touched(executor, stored, &mut run, (from, to), step).await?;
    Ok((stored, run))
}
