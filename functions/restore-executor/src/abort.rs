//! `abort`, every failure path's step: it puts production back where a swap began and must
//! be undone (never deleting what served as production), deletes staging, then ends the run
//! failed, with the reason; a restore already verified, or only never seen to settle, is kept
//! and the run completes with the failure on record.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, VERIFY_TIMEOUT};
use lifeboat::execution::identity::{Identity, Made};
use lifeboat::execution::run::{Outcome, Phase, ResourceRun, Run, Step};
use lifeboat::ports::restorer::{Progress, Restorer, Target};
use lifeboat::ports::{PortError, StoredRequest};
use lifeboat::request::decision::Mode;
use lifeboat::request::lifecycle::Status;
use serde_json::{json, Value};

use crate::outcome::{announce_end, end};
use crate::staging::delete_staging;
use crate::task::{caught, Task};
use crate::undo_stopped;
use crate::{lock_holder, target, Executor};

/// One step of the failure path: `{"done": true}` once production is as it was, staging is
/// gone, holds are released, the request is failed and the report written.
pub async fn abort(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (error, cause) = caught(task.error.as_ref());
    let mut stored = executor.load(id, Step::Abort).await?;
    let failure = |reason: &str| json!({ "done": true, "status": "failed", "error": public_name(&error), "cause": reason });
    // Begin never locked it, or another execution runs it: nothing here is ours to undo.
    let ours = |run: &Run| task.execution.as_deref().is_none_or(|e| e == run.execution);
    let Some(mut run) = stored
        .request
        .run
        .clone()
        .filter(|run| stored.request.status == Status::Executing && ours(run))
    else {
        if stored.request.run.as_ref().is_some_and(ours) {
            // A retry after this execution's end was saved.
            announce_end(executor, &stored.request).await;
        }
        // A begin of this execution that took resource locks and then failed to lock the
        // request: its own locks only (another execution of the request may hold the same).
        if let (Status::Approved, Some(decision), Some(execution)) = (
            stored.request.status,
            &stored.request.decision,
            task.execution.as_deref(),
        ) {
            let holder = lock_holder(id, execution);
            for p in &decision.recovery_points {
                executor.unlock(&p.resource.to_string(), &holder).await;
            }
        }
        return Ok(failure(&format!("{error}: {cause}")));
    };
    if !run.resources.is_empty() && run.resources.iter().all(|r| r.phase == Phase::Verified) {
        let reason = format!("restore completed and verified; then {error}: {cause}");
        return keep_restore(executor, stored, run, &error, reason, now).await;
    }
    // Swapped, and only never seen to settle (a backup or maintenance outlasting the polls):
    // undoing would cost another outage and the writes since; an engineer checks instead.
    let swapped = |r: &ResourceRun| matches!(r.phase, Phase::Swapped | Phase::Verified);
    if error == VERIFY_TIMEOUT && !run.resources.is_empty() && run.resources.iter().all(swapped) {
        let reason = format!(
            "restore completed, but production did not settle for verification within the polls ({cause}): check it; nothing was undone"
        );
        return keep_restore(executor, stored, run, &error, reason, now).await;
    }
    // Undos that stopped on a refusal no retry cures, each with what stands.
    let mut stopped: Vec<String> = Vec::new();
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        // A selective restore only inserts what production lacked: there is no swap to undo.
        if run.mode == Mode::Selective || !r.production_touched() {
            continue;
        }
        if !r.undo_needed() {
            // A finished DynamoDB copy-back: the live table holds the confirmed rollback (a
            // shard finishes only with every page proven read from the pinned staging) and
            // every write since; undoing it would throw those away (named in the outcome).
            continue;
        }
        if r.phase == Phase::Swapping
            && executor
                .restorer(r.resource.kind)?
                .swap_finished(&target(id, run.started_at, r))
                .await
                .map_err(|e| StepError::from_port("abort (swap finished?)", e))?
        {
            // Its work is done though the run never heard (another resource failed first,
            // or the swap's next poll refused a staging replaced after the last shard): it
            // counts as swapped, and is kept. Every page of it was read from the pinned
            // staging, or its shard would have failed instead of finishing.
            run.resources[i].phase = Phase::Swapped;
            stored = executor.save_run(&stored, run.clone(), Step::Abort).await?;
            continue;
        }
        if r.phase != Phase::Undoing {
            // On record before the undo's first change, so its shards are accepted and a
            // shard of the failed swap is not.
            run.resources[i].phase = Phase::Undoing;
            stored = executor.save_run(&stored, run.clone(), Step::Abort).await?;
        }
        let r = &run.resources[i];
        let safety = r.safety_snapshot.clone().unwrap_or_default();
        let restorer = executor.restorer(r.resource.kind)?;
        let fail = |e| StepError::from_port("abort (undo swap)", e);
        let undone = match undo_step(restorer, &target(id, run.started_at, r), &safety).await {
            Ok((progress, pinned)) => {
                if let Some(pinned) = pinned {
                    run.record(
                        Step::Abort,
                        now,
                        format!("{}: fallback {} is {pinned}", r.resource, r.fallback),
                    );
                    run.resources[i].fallback_identity = Some(pinned);
                    stored = executor.save_run(&stored, run.clone(), Step::Abort).await?;
                }
                progress
            }
            Err(e) => {
                let refusal = fail(e);
                if refusal.is_retryable() {
                    return Err(refusal);
                }
                // No retry cures it: the undo stops where it stands, on record, and the
                // restore ends failed instead of being retried without end.
                let (phase, detail) =
                    undo_stopped::stop(restorer, &target(id, run.started_at, r), r, &refusal).await;
                tracing::error!(request = id, resource = %r.resource, error = %refusal, "the undo stopped");
                run.record(Step::Abort, now, detail.clone());
                run.resources[i].phase = phase;
                stopped.push(detail);
                stored = executor.save_run(&stored, run.clone(), Step::Abort).await?;
                continue;
            }
        };
        let r = &run.resources[i];
        match undone {
            Progress::Done => {}
            Progress::Pending(why) => return Ok(json!({ "done": false, "waiting_for": why })),
            Progress::Spread(shards) => {
                let why = format!("{}: {} undo shards to run", r.resource, shards.len());
                return Ok(json!({ "done": false, "waiting_for": why, "shards": shards }));
            }
        }
        let kept = restorer
            .kept_aside(&target(id, run.started_at, r))
            .await
            .map_err(fail)?;
        // Back as it was only if nothing was found different after the undo.
        let differences = (restorer.undo_differences(&target(id, run.started_at, r)).await).map_err(fail)?;
        let mut detail = match &differences {
            None => format!("{}: production put back as it was", r.resource),
            Some(found) => format!(
                "{}: production put back from its content before the swap, but not exactly: {found}",
                r.resource
            ),
        };
        if let Some(name) = &kept {
            detail += &format!(
                "; the restored {name}, which served as production meanwhile and holds what it took, is kept"
            );
        }
        run.record(Step::Abort, now, detail);
        run.resources[i].phase = Phase::Undone;
        run.resources[i].kept = kept;
        run.resources[i].differences = differences;
        // Saved at once: an undo is not to be done twice.
        stored = executor.save_run(&stored, run.clone(), Step::Abort).await?;
    }
    let busy = delete_staging(executor, id, &mut run, now).await?;
    if !busy.is_empty() {
        // Staging still being made: wait for it, polling like the rest of the failure path.
        executor.save_run(&stored, run, Step::Abort).await?;
        return Ok(json!({ "done": false, "waiting_for": busy }));
    }
    let reason = format!("{error}: {cause}");
    run.outcome = Some(Outcome::Failed {
        error: error.clone(),
        cause,
    });
    let inserted: u64 = run
        .selective
        .as_ref()
        .map(|s| s.merged.iter().map(|m| m.result.inserted).sum())
        .unwrap_or(0);
    let kept: Vec<&str> = run.resources.iter().filter_map(|r| r.kept.as_deref()).collect();
    // Finished copy-backs kept (an undo that stopped names its own resource).
    let rolled_back: Vec<String> = run
        .resources
        .iter()
        .filter(|r| run.mode == Mode::Rollback && r.production_touched())
        .filter(|r| r.resource.kind == lifeboat::catalog::ResourceKind::DynamoTable)
        .filter(|r| !stopped.iter().any(|s| s.starts_with(&format!("{}:", r.resource))))
        .map(|r| r.resource.to_string())
        .collect();
    let undone = run.resources.iter().filter(|r| r.phase == Phase::Undone);
    let differing: Vec<String> = (undone.clone())
        .filter(|r| r.differences.is_some())
        .map(|r| r.resource.to_string())
        .collect();
    let production = if undone.count() > 0 {
        let mut text = if differing.is_empty() {
            "production put back as it was".to_string()
        } else {
            format!(
                "production put back from before the swap, but differing from it (named above and in the report): {}",
                differing.join(", ")
            )
        };
        if !kept.is_empty() {
            text += &format!(
                "; kept, never deleted: {} (served as production until the undo)",
                kept.join(", ")
            );
        }
        if !rolled_back.is_empty() {
            text += &format!(
                "; not undone, the copy-back had finished (the table keeps the restored items and every write since): {}",
                rolled_back.join(", ")
            );
        }
        text
    } else if !rolled_back.is_empty() {
        format!(
            "not undone, the copy-back had finished (the table keeps the restored items and every write since): {}",
            rolled_back.join(", ")
        )
    } else if run
        .resources
        .iter()
        .any(|r| r.phase >= Phase::Merging && r.phase <= Phase::Merged)
    {
        // Merged rows are lost records put back where production had nothing: deleting
        // them again would be a second loss, so they stay, listed in the report. A batch
        // committed just before the failure may be missing from the run's record; the
        // database's own ledger has it.
        format!(
            "the {inserted} rows recorded as merged before the failure stay in production (see the report; PostgreSQL's lifeboat.merged_batches lists every committed batch)"
        )
    } else {
        "production untouched".to_string()
    };
    let production = match (stopped.is_empty(), production.as_str()) {
        (true, _) => production,
        (false, "production untouched") => format!("undo stopped: {}", stopped.join("; ")),
        (false, _) => format!("{production}; undo stopped: {}", stopped.join("; ")),
    };
    run.record(
        Step::Abort,
        now,
        format!("restore failed; {production}. {reason}"),
    );
    end(executor, stored, run, Status::Failed, reason.clone(), now).await?;
    Ok(failure(&reason))
}

/// The undo's next step, and the fallback's identity when its shards are about to copy from
/// a fallback not pinned yet: proven by the undo (its marks, DynamoDB's record of the restore
/// that made it), pinned before any shard reads it.
async fn undo_step(
    restorer: &dyn Restorer,
    target: &Target<'_>,
    safety: &str,
) -> Result<(Progress, Option<Identity>), PortError> {
    let progress = restorer.undo_swap(target, safety).await?;
    let pinned = match (&progress, target.fallback_identity) {
        (Progress::Spread(_), None) => Some(restorer.identity(target, Made::Fallback).await?),
        _ => None,
    };
    Ok((progress, pinned))
}

/// The error name the execution fails with: Step Functions reserves `States.` for itself,
/// so a caught `States.Timeout` ends the execution as `Lifeboat.Timeout`.
fn public_name(error: &str) -> String {
    match error.strip_prefix("States.") {
        Some(rest) => format!("Lifeboat.{rest}"),
        None => error.to_string(),
    }
}

/// A failure after every resource was verified (cleaning up staging, or finishing), or a
/// verification that only timed out waiting for production to settle, does not undo the
/// restore an engineer confirmed: the request completes, with what failed (`reason`) in its
/// timeline, and the execution still fails so the alarm shows it.
async fn keep_restore(
    executor: &Executor,
    stored: StoredRequest,
    mut run: Run,
    error: &str,
    reason: String,
    now: DateTime<Utc>,
) -> Result<Value, StepError> {
    let id = stored.request.id.clone();
    match delete_staging(executor, &id, &mut run, now).await {
        Ok(busy) if busy.is_empty() => {}
        Ok(busy) => run.record(
            Step::Abort,
            now,
            format!("staging left in place: {}", busy.join("; ")),
        ),
        Err(e) => run.record(Step::Abort, now, format!("staging left in place: {e}")),
    }
    run.outcome = Some(Outcome::Completed);
    run.record(Step::Abort, now, reason.clone());
    end(executor, stored, run, Status::Completed, reason.clone(), now).await?;
    Ok(json!({ "done": true, "status": "completed", "error": public_name(error), "cause": reason }))
}
