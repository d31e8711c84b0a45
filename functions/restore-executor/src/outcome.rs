//! How a run ends, whichever step ends it: the request's holds released (a failed one's kept
//! a while), its locks released, its final state and reason recorded, and its report written
//! before the request says it is over; then `Restore Completed` or `Restore Failed` is
//! announced.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, PERMANENT};
use lifeboat::execution::run::{report_keys, Run, Step};
use lifeboat::ports::StoredRequest;
use lifeboat::request::holds;
use lifeboat::request::lifecycle::{check_transition, AuditEntry, RestoreRequest, Status};
use lifeboat::status_event::RestoreChange;
use serde_json::{json, Value};

use crate::report::write_report;
use crate::{Executor, ACTOR};

/// Releases the holds, moves the request to `to`, saves it and writes the report.
pub async fn end(
    executor: &Executor,
    stored: StoredRequest,
    mut run: Run,
    to: Status,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Value, StepError> {
    let id = stored.request.id.clone();
    check_transition(&stored.request, to).map_err(|e| StepError::new(PERMANENT, e.to_string()))?;
    let points = holds::points_of(&stored.request);
    if to == Status::Failed {
        // Kept a while: a new request for the same loss (the held fallback snapshot of a
        // target that left its window, say) can be filed before the pruner deletes them.
        let until = now + holds::FAILED_RESTORE_HOLD;
        holds::keep_for_a_while(&*executor.catalog, &points, &id, until).await;
    } else {
        holds::release(&*executor.catalog, &points, &id).await;
    }
    executor.unlock_resources(&id, &run).await;
    run.report = Some(report_keys(&id));
    let mut next = stored.clone();
    next.task_token = None;
    next.request.awaiting_confirmation = false;
    next.request.status = to;
    next.request.run = Some(run.clone());
    next.request.history.push(AuditEntry {
        at: now,
        by: ACTOR.to_string(),
        from: Some(Status::Executing),
        to,
        reason: Some(reason),
    });
    // The report first: a request marked final always has one.
    write_report(executor, &next.request, now).await?;
    executor.save(&next, stored.version, Step::Finish).await?;
    announce_end(executor, &next.request).await;
    Ok(json!({ "status": to.as_str(), "report": run.report }))
}

/// Announces how `request` ended, if it has: also from a retried step that finds the end
/// already saved (its first try may have stopped before publishing), with the same event id.
pub async fn announce_end(executor: &Executor, request: &RestoreRequest) {
    let change = match request.status {
        Status::Completed => RestoreChange::Completed,
        Status::Failed => RestoreChange::Failed,
        _ => return,
    };
    executor.events.announce(request, change).await;
}
