//! `await_confirmation`: the state machine waits (`.waitForTaskToken`) for an engineer
//! before production is touched. The token is stored on the request, where the intake's
//! confirm endpoint finds it; an engineer in the console can send it with `SendTaskSuccess`.
//! What the confirmation must be, and what is recorded once it comes, is in
//! [`crate::production`]. Each wait is announced (`Restore Awaiting Confirmation`).

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, INVALID_INPUT, PERMANENT};
use lifeboat::execution::run::{Phase, Step};
use lifeboat::status_event::RestoreChange;
use serde_json::{json, Value};

use crate::report::write_report;
use crate::task::Task;
use crate::Executor;

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
    if stored.request.awaiting_confirmation && stored.task_token.as_deref() == Some(token.as_str()) {
        // A retry of this very wait, whose write went in: the same wait, recorded once and
        // announced with the same event id.
        write_report(executor, &stored.request, now).await?;
        executor
            .events
            .announce(&stored.request, RestoreChange::AwaitingConfirmation)
            .await;
        return Ok(json!({}));
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
    executor
        .events
        .announce(&next.request, RestoreChange::AwaitingConfirmation)
        .await;
    Ok(json!({}))
}
