//! `begin`: validates the execution input and locks the request (approved → executing, a
//! conditional write), so exactly one execution runs a request. A refusal here writes
//! nothing: the request belongs to whoever else holds it.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, INVALID_INPUT, NOT_APPROVED};
use lifeboat::execution::input::parse_input;
use lifeboat::execution::run::{ResourceRun, Run, Step};
use lifeboat::request::decision::{ChosenPoint, Mode};
use lifeboat::request::lifecycle::{check_transition, AuditEntry, RestoreRequest, Status};
use lifeboat::request::options::Source;
use serde_json::{json, Value};

use crate::task::Task;
use crate::{Executor, ACTOR};

pub async fn begin(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let input = parse_input(task.input.as_ref().unwrap_or(&Value::Null))?;
    let execution = task
        .execution
        .clone()
        .ok_or_else(|| StepError::new(INVALID_INPUT, "task begin: `execution` is required"))?;
    let stored = executor.load(&input.request_id, Step::Begin).await?;
    let request = &stored.request;
    // The state machine branches on the mode.
    let mode = request
        .decision
        .as_ref()
        .and_then(|d| d.mode)
        .unwrap_or(Mode::Rollback);
    let settings = || {
        let mut settings = serde_json::to_value(&input).unwrap_or(json!({}));
        settings["mode"] = json!(mode);
        settings
    };
    // A retry of this very step, after the lock was written.
    if locked_by(request, &execution) {
        return Ok(settings());
    }
    check_transition(request, Status::Executing).map_err(|e| {
        let by = request
            .run
            .as_ref()
            .map(|r| format!(" by execution {}", r.execution))
            .unwrap_or_default();
        StepError::new(NOT_APPROVED, format!("step begin: {e}{by}"))
    })?;
    let decision = request.decision.as_ref().ok_or_else(|| {
        StepError::new(
            NOT_APPROVED,
            format!("step begin: request {} has no decision", request.id),
        )
    })?;
    let mut run = Run::new(execution.clone(), mode, now);
    // A selective restore stages only the resources it selects from.
    let selected = |p: &&ChosenPoint| {
        mode == Mode::Rollback || decision.selection.iter().any(|s| s.resource == p.resource)
    };
    run.resources = decision
        .recovery_points
        .iter()
        .filter(selected)
        .map(|p| {
            ResourceRun::new(
                &request.id,
                p.resource.clone(),
                p.source.clone(),
                restores_to(request, p),
            )
        })
        .collect();
    executor.lock_resources(&request.id, &run).await?;
    run.record(Step::Begin, now, format!("locked by execution {execution}"));
    let mut next = stored.clone();
    next.request.status = Status::Executing;
    next.request.execution.get_or_insert(execution.clone());
    next.request.run = Some(run);
    next.request.history.push(AuditEntry {
        at: now,
        by: ACTOR.to_string(),
        from: Some(Status::Approved),
        to: Status::Executing,
        reason: Some(format!("execution {execution}")),
    });
    if let Err(e) = executor.save(&next, stored.version, Step::Begin).await {
        // The write may have been applied with its answer lost (the SDK's retry of it then
        // fails its condition): the request is ours, and releasing its locks would let
        // another restore run on the same resources. Only a request seen to be someone
        // else's gives its locks back; unsure, they stay (a leftover lock refuses the next
        // restore, naming this request: safe) and the retry looks again.
        match executor.load(&request.id, Step::Begin).await {
            Ok(now) if locked_by(&now.request, &execution) => return Ok(settings()),
            Ok(_) => {
                if let Some(run) = &next.request.run {
                    executor.unlock_resources(&request.id, run).await;
                }
            }
            Err(unsure) => {
                tracing::warn!(request = %request.id, error = %unsure, "begin: cannot tell whether the lock was written; keeping the resource locks");
            }
        }
        return Err(e);
    }
    Ok(settings())
}

/// Whether `execution` holds `request` (its begin step's write is in).
fn locked_by(request: &RestoreRequest, execution: &str) -> bool {
    request.status == Status::Executing && request.run.as_ref().is_some_and(|r| r.execution == execution)
}

/// The instant a chosen point restores to: its recovery option's, else its own.
fn restores_to(request: &RestoreRequest, point: &ChosenPoint) -> DateTime<Utc> {
    request
        .recovery_options
        .iter()
        .find(|o| o.resource == point.resource && o.source == point.source)
        .map(|o| o.restores_to)
        .unwrap_or(match &point.source {
            Source::PointInTime { target } => *target,
            Source::Snapshot { slot, .. } => slot.start(),
        })
}
