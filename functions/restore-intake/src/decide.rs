//! `POST /restore-requests/{id}/decision`: an engineer approves or rejects a request.
//!
//! The decision is a conditional write on the request's version, so of two engineers
//! deciding at once exactly one wins (the other gets 409). An approval then starts the
//! restore state machine with the execution named after the request: starting it again
//! (a retried decision after a failed start) never starts a second restore.

use std::collections::BTreeSet;

use lifeboat::catalog::{PointState, ResourceKey};
use lifeboat::ports::StoredRequest;
use lifeboat::request::decision::{parse_decision, ChosenPoint, Decision, DecisionInput, Verdict};
use lifeboat::request::lifecycle::{check_transition, AuditEntry, Status};
use lifeboat::request::options::Source;
use lifeboat::request::problem::{FieldError, Invalid};
use lifeboat::schedule::Slot;
use lifeboat::status_event::RestoreChange;
use serde_json::json;

use crate::api::{ApiError, ApiResponse};
use crate::{Change, Intake};
use lifeboat::request::holds;

pub async fn decide(intake: &Intake, change: Change<'_>) -> Result<ApiResponse, ApiError> {
    let (caller, id, body, now) = (change.caller, change.id, change.body, change.now);
    let input = parse_decision(body)?;
    let stored = intake.load(id).await?;
    caller.may_decide(&stored.request)?;
    if let (Status::Approved, None, DecisionInput::Approve { .. }) =
        (stored.request.status, &stored.request.execution, &input)
    {
        // Approved, but the state machine did not start (the last try failed there, maybe
        // before announcing the decision: announced again, same id).
        intake
            .events
            .announce(&stored.request, RestoreChange::Decided)
            .await;
        return start(intake, stored).await;
    }
    let mut next = stored.clone();
    let (to, decision, reason) = match input {
        DecisionInput::Reject { reason } => {
            let decision = Decision {
                verdict: Verdict::Reject,
                by: caller.principal.clone(),
                at: now,
                reason: reason.clone(),
                mode: None,
                recovery_points: Vec::new(),
                selection: Vec::new(),
            };
            (Status::Rejected, decision, reason)
        }
        DecisionInput::Approve {
            reason,
            mode,
            recovery_points,
            selection,
        } => {
            let points = chosen_points(intake, &stored, recovery_points).await?;
            check_selection_resources(&stored, &selection)?;
            let decision = Decision {
                verdict: Verdict::Approve,
                by: caller.principal.clone(),
                at: now,
                reason: reason.clone(),
                mode: Some(mode),
                recovery_points: points,
                selection,
            };
            (Status::Approved, decision, reason)
        }
    };
    if to == Status::Rejected && stored.request.status == Status::Rejected {
        // A try that rejected and then died before announcing it: the event again (same
        // id), then the refusal.
        intake
            .events
            .announce(&stored.request, RestoreChange::Decided)
            .await;
    }
    check_transition(&stored.request, to)?;
    next.request.status = to;
    next.request.decision = Some(decision);
    next.request.history.push(AuditEntry {
        at: now,
        by: caller.principal.clone(),
        from: Some(stored.request.status),
        to,
        reason: Some(reason),
    });
    // An approval may choose points the options did not hold: hold them before it counts.
    let added: Vec<_> = {
        let before: BTreeSet<_> = holds::points_of(&stored.request).into_iter().collect();
        holds::points_of(&next.request)
            .into_iter()
            .filter(|p| !before.contains(p))
            .collect()
    };
    holds::place(&*intake.catalog, &added, id).await?;
    if let Err(e) = intake.requests.replace(&next, stored.version).await {
        release_unneeded(intake, &added, id).await;
        return Err(ApiError::write_failed(e, id));
    }
    next.version = stored.version + 1;
    // Before the restore starts, so the decision is announced before any step of it.
    intake
        .events
        .announce(&next.request, RestoreChange::Decided)
        .await;
    if to == Status::Rejected {
        holds::release(&*intake.catalog, &holds::points_of(&next.request), id).await;
        return Ok(ApiResponse::json(200, &next.request));
    }
    start(intake, next).await
}

/// Releases the holds a decision that was not written placed, except those the request as
/// now stored needs. Holds are placed under the request's id, so a competing decision that
/// won, or this very one written with its answer lost, may need the same points: releasing
/// them would let the pruner delete what an approved restore is about to use. When the
/// request cannot be read, the holds stay (a leftover hold only keeps a point longer).
async fn release_unneeded(intake: &Intake, placed: &[(ResourceKey, Slot)], id: &str) {
    let needed = match intake.requests.get(id).await {
        Ok(Some(now)) if now.request.status.is_final() => BTreeSet::new(),
        Ok(Some(now)) => holds::points_of(&now.request).into_iter().collect(),
        Ok(None) => BTreeSet::new(),
        Err(e) => {
            tracing::warn!(request = id, error = %e, "a decision was not written; keeping the holds it placed");
            return;
        }
    };
    let unneeded: Vec<_> = placed.iter().filter(|p| !needed.contains(*p)).cloned().collect();
    holds::release(&*intake.catalog, &unneeded, id).await;
}

/// Starts the restore and records its execution on the request.
async fn start(intake: &Intake, mut stored: StoredRequest) -> Result<ApiResponse, ApiError> {
    let id = stored.request.id.clone();
    // The executor reads the approved request itself; the input names it (what an engineer
    // pastes into the console) with the deployment's polling settings, if it sets any.
    let mut input = intake.execution_input.clone();
    input.insert("request_id".into(), json!(id));
    let execution = intake
        .workflow
        .start(&id, &serde_json::Value::Object(input))
        .await?;
    stored.request.execution = Some(execution.clone());
    if let Err(e) = intake.requests.replace(&stored, stored.version).await {
        // A concurrent retry recorded the same execution first: the answer is the same.
        let now = intake.load(&id).await?;
        if now.request.execution.as_deref() != Some(execution.as_str()) {
            return Err(ApiError::write_failed(e, &id));
        }
        return Ok(ApiResponse::json(200, &now.request));
    }
    Ok(ApiResponse::json(200, &stored.request))
}

/// The approval's points: the request's options when none are named; otherwise each named
/// point must belong to the request's instance, and a named snapshot must be in the catalog
/// and available.
async fn chosen_points(
    intake: &Intake,
    stored: &StoredRequest,
    named: Option<Vec<ChosenPoint>>,
) -> Result<Vec<ChosenPoint>, ApiError> {
    let request = &stored.request;
    let Some(named) = named else {
        return Ok(request
            .recovery_options
            .iter()
            .map(|o| ChosenPoint {
                resource: o.resource.clone(),
                source: o.source.clone(),
            })
            .collect());
    };
    let resources = instance_keys(stored);
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, p) in named.into_iter().enumerate() {
        let field = format!("recovery_points[{i}]");
        if !resources.contains(&p.resource) {
            errors.push(FieldError::new(
                format!("{field}.resource"),
                format!(
                    "{} is not a resource of instance {}",
                    p.resource, request.instance_id
                ),
            ));
            continue;
        }
        match &p.source {
            Source::Snapshot { slot, .. } => {
                let found = intake.catalog.get_points(&[(p.resource.clone(), *slot)]).await?;
                let Some(point) = found.into_iter().find(|r| r.state == PointState::Available) else {
                    errors.push(FieldError::new(
                        format!("{field}.slot"),
                        format!("no available recovery point of {} for {slot}", p.resource),
                    ));
                    continue;
                };
                out.push(ChosenPoint {
                    resource: p.resource,
                    source: Source::Snapshot {
                        slot: *slot,
                        tiers: point.tiers.0.keys().copied().collect(),
                        service_id: point.service_id,
                    },
                });
            }
            Source::PointInTime { target } if *target > request.submitted_at.max(request.occurred_at) => {
                errors.push(FieldError::new(
                    format!("{field}.target"),
                    "must not be after the loss was reported",
                ));
            }
            Source::PointInTime { .. } => out.push(p),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Invalid(errors).into())
    }
}

fn check_selection_resources(
    stored: &StoredRequest,
    selection: &[lifeboat::request::decision::Selection],
) -> Result<(), Invalid> {
    let resources = instance_keys(stored);
    let errors: Vec<_> = selection
        .iter()
        .enumerate()
        .filter(|(_, s)| !resources.contains(&s.resource))
        .map(|(i, s)| {
            FieldError::new(
                format!("selection[{i}].resource"),
                format!(
                    "{} is not a resource of instance {}",
                    s.resource, stored.request.instance_id
                ),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Invalid(errors))
    }
}

/// The resources the request's options cover: the instance's resources when it was filed.
fn instance_keys(stored: &StoredRequest) -> BTreeSet<ResourceKey> {
    stored
        .request
        .recovery_options
        .iter()
        .map(|o| o.resource.clone())
        .collect()
}
