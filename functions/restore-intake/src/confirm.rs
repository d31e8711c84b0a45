//! `POST /restore-requests/{id}/confirm`: an engineer confirms the step the restore state
//! machine waits on (before it touches production), by sending the task token the executor
//! stored on the request. Until something waits, the answer is 409.

use chrono::{DateTime, Utc};
use lifeboat::request::decision::parse_optional_reason;
use lifeboat::request::lifecycle::{AuditEntry, Caller};
use serde_json::json;

use crate::api::{ApiError, ApiResponse};
use crate::{Change, Intake};

pub async fn confirm(intake: &Intake, change: Change<'_>) -> Result<ApiResponse, ApiError> {
    let (caller, id, body, now) = (change.caller, change.id, change.body, change.now);
    let reason = parse_optional_reason(body)?;
    let stored = intake.load(id).await?;
    // A second person: neither whoever filed the request nor whoever approved it.
    caller.may_confirm(&stored.request)?;
    let Some(token) = stored.task_token.clone() else {
        return Err(ApiError::Conflict(format!(
            "request {id} is {}: no restore step is waiting for confirmation",
            stored.request.status.as_str()
        )));
    };
    // Sent before it is recorded: a token that was not sent must never be thrown away. A
    // second confirmation of the same token is refused by the state machine.
    let output = json!({ "confirmed_by": caller.principal, "confirmed_at": now });
    intake.workflow.confirm(&token, &output).await?;
    record(intake, caller, id, &token, reason, now).await
}

/// How many times the confirmation is recorded on a newer version of the request.
const RECORD_TRIES: usize = 3;

/// Records the confirmation already sent. The state machine moves on the moment the token
/// is answered, and the executor's swap step writes the request too; losing that race is
/// not a failed confirmation: the entry goes on the newer version. The token is cleared
/// only if it is still the one sent.
async fn record(
    intake: &Intake,
    caller: &Caller,
    id: &str,
    token: &str,
    reason: Option<String>,
    now: DateTime<Utc>,
) -> Result<ApiResponse, ApiError> {
    let mut last_error = None;
    for _ in 0..RECORD_TRIES {
        let stored = intake.load(id).await?;
        let mut next = stored.clone();
        if next.task_token.as_deref() == Some(token) {
            next.task_token = None;
            next.request.awaiting_confirmation = false;
        }
        next.request.history.push(AuditEntry {
            at: now,
            by: caller.principal.clone(),
            from: Some(stored.request.status),
            to: stored.request.status,
            reason: Some(reason.clone().unwrap_or_else(|| "confirmed".into())),
        });
        match intake.requests.replace(&next, stored.version).await {
            Ok(()) => return Ok(ApiResponse::json(200, &next.request)),
            Err(e) if e.kind == lifeboat::ports::FailureKind::Conflict => last_error = Some(e),
            Err(e) => return Err(ApiError::write_failed(e, id)),
        }
    }
    Err(ApiError::write_failed(
        last_error.expect("a conflict was recorded"),
        id,
    ))
}
