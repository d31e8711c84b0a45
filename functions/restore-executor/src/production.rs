//! The moment before production changes (`swap` for a rollback, `merge` for a selective
//! restore): the confirmation is checked against who may confirm and recorded, every resource
//! is marked as changing, and the token is spent, all saved before anything touches
//! production, so a failure from then on takes the failure path knowing it.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, CONFIRMATION_REFUSED, PERMANENT};
use lifeboat::execution::identity::Made;
use lifeboat::execution::run::{Phase, Run, Step};
use lifeboat::ports::StoredRequest;
use lifeboat::request::decision::Mode;
use lifeboat::request::lifecycle::RestoreRequest;
use lifeboat::request::principal::{is_person, same_person};
use lifeboat::request::roles::Roles;

use crate::task::Task;
use crate::{target, Executor};

/// Records who confirmed, from the task's confirmation (the intake's, or a console
/// `SendTaskSuccess`), the first time a step after the wait runs. A task event without one
/// (someone invoking the function by hand) is refused: production is not touched.
///
/// The confirmation is checked against the rules the intake applies, because a console
/// `SendTaskSuccess` never passed through the intake: `confirmed_by` must name an
/// engineering principal, and not the person who filed or approved the request. A refused
/// confirmation is answered with why; the state machine then waits for another.
fn take_confirmation(
    executor: &Executor,
    stored: &StoredRequest,
    run: &mut Run,
    task: &Task,
    (step, now): (Step, DateTime<Utc>),
) -> Result<(), StepError> {
    let id = &stored.request.id;
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
    let by = confirmation["confirmed_by"].as_str().unwrap_or_default().trim();
    if let Some(why) = refusal(&executor.roles, &stored.request, by) {
        return Err(StepError::new(
            CONFIRMATION_REFUSED,
            format!("request {id}: the confirmation is refused: {why}; production is not touched, and the restore waits for another"),
        ));
    }
    run.confirmed_by = Some(by.to_string());
    run.confirmed_at = Some(
        confirmation["confirmed_at"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(now),
    );
    run.record(step, now, format!("confirmed by {by}"));
    Ok(())
}

/// Why `by` may not confirm `request`, if they may not.
fn refusal(roles: &Roles, request: &RestoreRequest, by: &str) -> Option<String> {
    if by.is_empty() {
        return Some(
            "it does not say who confirmed: send {\"confirmed_by\": \"<your IAM principal ARN>\"}".into(),
        );
    }
    if !is_person(by) {
        return Some(format!(
            "{by} names no person: give your own role session's or IAM user's ARN"
        ));
    }
    if !roles.is_engineering(by) {
        return Some(format!("{by} is not an engineering principal"));
    }
    if same_person(by, &request.submitted_by) {
        return Some(format!("{by} filed this request"));
    }
    if let Some(decision) = &request.decision {
        if same_person(by, &decision.by) {
            return Some(format!("{by} approved this restore; a second engineer confirms"));
        }
    }
    None
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
    if let Err(refused) = take_confirmation(executor, &stored, &mut run, task, (step, now)) {
        if refused.name == CONFIRMATION_REFUSED {
            // On the record, for whoever looks at the request: the token is spent, and the
            // state machine asks for another confirmation.
            run.record(step, now, refused.message.clone());
            let mut next = stored.clone();
            next.task_token = None;
            next.request.awaiting_confirmation = false;
            next.request.run = Some(run);
            executor.save(&next, stored.version, step).await?;
        }
        return Err(refused);
    }
    if !run.all_at_least(from) {
        return Err(StepError::new(
            PERMANENT,
            format!(
                "request {id}: {} asked before every resource was {from:?}",
                step.as_str()
            ),
        ));
    }
    pin_unpinned(executor, id, &mut run, from, (step, now)).await?;
    let stored = mark_production_touched(executor, stored, &mut run, (from, to), step).await?;
    Ok((stored, run))
}

/// Pins what a run readied before `check_ready` pinned anything left unpinned (a run stored
/// by an older Lifeboat, waiting for its confirmation across an upgrade): staging, and an RDS
/// production's original, proven now as `check_ready` proves them, before anything moves.
/// Without it such a run would be refused at the swap. What cannot be proven fails the step
/// with production untouched.
async fn pin_unpinned(
    executor: &Executor,
    id: &str,
    run: &mut Run,
    from: Phase,
    (step, now): (Step, DateTime<Utc>),
) -> Result<(), StepError> {
    let started_at = run.started_at;
    let mut pins = Vec::new();
    for r in run.resources.iter_mut().filter(|r| r.phase == from) {
        let restorer = executor.restorer(r.resource.kind)?;
        let fail = |e| StepError::from_port(step.as_str(), e);
        if r.staging_identity.is_none() {
            let pinned =
                (restorer.identity(&target(id, started_at, r), Made::Staging).await).map_err(fail)?;
            pins.push(format!(
                "{}: staging {} is {pinned} (pinned at {})",
                r.resource,
                r.staging,
                step.as_str()
            ));
            r.staging_identity = Some(pinned);
        }
        if r.fallback_identity.is_none() {
            if let Some(original) = restorer
                .original(&target(id, started_at, r))
                .await
                .map_err(fail)?
            {
                pins.push(format!(
                    "{}: production's original is {original} (pinned at {})",
                    r.resource,
                    step.as_str()
                ));
                r.fallback_identity = Some(original);
            }
        }
    }
    for pin in pins {
        run.record(step, now, pin);
    }
    Ok(())
}
