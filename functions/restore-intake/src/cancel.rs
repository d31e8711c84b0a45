//! `POST /restore-requests/{id}/cancel`: withdraws a request before its restore runs.
//!
//! Allowed while the request is submitted or approved. Once the executor has locked an
//! approved request (it moves it to `executing` with a conditional write), cancelling is
//! refused; a cancel that wins that race makes the executor's lock fail, and the execution
//! ends without touching anything.

use lifeboat::request::decision::parse_optional_reason;
use lifeboat::request::lifecycle::{check_transition, AuditEntry, Status};
use lifeboat::status_event::RestoreChange;

use crate::api::{ApiError, ApiResponse};
use crate::{Change, Intake};
use lifeboat::request::holds;

pub async fn cancel(intake: &Intake, change: Change<'_>) -> Result<ApiResponse, ApiError> {
    let (caller, id, body, now) = (change.caller, change.id, change.body, change.now);
    let reason = parse_optional_reason(body)?;
    let stored = intake.load(id).await?;
    if stored.request.status == Status::Cancelled {
        // A try that cancelled and then died before announcing it: the event again (its id
        // is the same), then the refusal, as for any cancel of a cancelled request.
        intake
            .events
            .announce(&stored.request, RestoreChange::Cancelled)
            .await;
    }
    check_transition(&stored.request, Status::Cancelled)?;
    let mut next = stored.clone();
    next.request.status = Status::Cancelled;
    next.request.history.push(AuditEntry {
        at: now,
        by: caller.principal.clone(),
        from: Some(stored.request.status),
        to: Status::Cancelled,
        reason,
    });
    intake
        .requests
        .replace(&next, stored.version)
        .await
        .map_err(|e| ApiError::write_failed(e, id))?;
    holds::release(&*intake.catalog, &holds::points_of(&next.request), id).await;
    intake
        .events
        .announce(&next.request, RestoreChange::Cancelled)
        .await;
    Ok(ApiResponse::json(200, &next.request))
}
