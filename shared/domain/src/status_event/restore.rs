//! The events of a restore request's life, built from the request as stored after the
//! change: everything in them (time, status, step, id) is read from the request's audit
//! trail and its run, never from the clock of the call that publishes, so a retried step
//! that publishes again sends the same event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{event_id, summary, Detail, DetailType, StatusEvent};
use crate::execution::progress::{progress_of, RestoreProgress};
use crate::execution::run::{Outcome, Phase, Run, Step, StepRecord};
use crate::request::decision::{Mode, Verdict};
use crate::request::lifecycle::{AuditEntry, RestoreRequest, Status};
use crate::request::options::Source;

/// A change of a restore request that is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreChange {
    Filed,
    /// Approved or rejected.
    Decided,
    Cancelled,
    /// Every safety snapshot and staging resource is available.
    StagingReady,
    /// The restore waits for an engineer's confirmation (again, after a refused one).
    AwaitingConfirmation,
    Completed,
    Failed,
}

impl RestoreChange {
    pub const ALL: [RestoreChange; 7] = [
        RestoreChange::Filed,
        RestoreChange::Decided,
        RestoreChange::Cancelled,
        RestoreChange::StagingReady,
        RestoreChange::AwaitingConfirmation,
        RestoreChange::Completed,
        RestoreChange::Failed,
    ];

    pub fn detail_type(self) -> DetailType {
        match self {
            RestoreChange::Filed => DetailType::RequestFiled,
            RestoreChange::Decided => DetailType::RequestDecided,
            RestoreChange::Cancelled => DetailType::RequestCancelled,
            RestoreChange::StagingReady => DetailType::StagingReady,
            RestoreChange::AwaitingConfirmation => DetailType::AwaitingConfirmation,
            RestoreChange::Completed => DetailType::Completed,
            RestoreChange::Failed => DetailType::Failed,
        }
    }
}

/// The detail of every `Restore …` event (`infra/events/restore.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreDetail {
    /// Stable: `<request>:<change>[:<occurrence>]` (see [`super::event_id`]).
    pub event_id: String,
    pub request_id: String,
    pub instance_id: String,
    /// The request's status once the change was made.
    pub status: Status,
    /// The restore step that made the change; none before a restore runs.
    pub step: Option<Step>,
    /// What the approval chose; none before (and without) an approval.
    pub mode: Option<Mode>,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// What a rollback discards (see [`DataLossWindow`]); none when nothing is or would be
    /// discarded (a selective restore, a rejected or cancelled request, a failed restore
    /// that left production as it was).
    pub data_loss: Option<DataLossWindow>,
    /// How far the restore is, per resource, once it runs (see
    /// [`crate::execution::progress`]); names resources, unlike the summary.
    pub progress: Option<RestoreProgress>,
    /// A failed restore's error name (`Lifeboat.NotRestorable`, `Lifeboat.Timeout`, ...).
    pub error: Option<String>,
    /// Customer-safe: the instance and times only ([`super::summary`]).
    pub summary: String,
}

/// Data a rollback discards: everything written to production from `from` (the recovery
/// point) to `to`. Until the swap begins the window still grows, and `to` is the event's
/// time; from then on `to` is when production's writes stopped being lost: an RDS swap's
/// start (it takes production's name away), a DynamoDB copy-back's end (the live table takes
/// writes while it is brought to staging's content, and those may be overwritten), the later
/// of them when a restore has both; the event's time while a copy-back still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLossWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The event announcing `change` of `request`, as stored after the change; `None` when the
/// request does not (yet) carry that change.
pub fn restore_event(request: &RestoreRequest, change: RestoreChange) -> Option<StatusEvent> {
    let run = request.run.as_ref();
    let mut occurrence = None;
    let (status, at, step) = match change {
        RestoreChange::Filed => {
            let filed = request.history.first()?;
            (filed.to, filed.at, None)
        }
        RestoreChange::Decided => {
            let e = entry_to(request, &[Status::Approved, Status::Rejected])?;
            (e.to, e.at, None)
        }
        RestoreChange::Cancelled => {
            let e = entry_to(request, &[Status::Cancelled])?;
            (e.to, e.at, None)
        }
        RestoreChange::StagingReady => {
            let ready = records(run?, Step::CheckReady).last()?.at;
            (Status::Executing, ready, Some(Step::CheckReady))
        }
        RestoreChange::AwaitingConfirmation => {
            // A refused confirmation sends the restore back to wait: each wait is its own
            // event, numbered by its record in the run.
            let waits = records(run?, Step::AwaitConfirmation);
            occurrence = Some(waits.len() as u64);
            (Status::Executing, waits.last()?.at, Some(Step::AwaitConfirmation))
        }
        RestoreChange::Completed | RestoreChange::Failed => {
            let to = if change == RestoreChange::Completed {
                Status::Completed
            } else {
                Status::Failed
            };
            let e = entry_to(request, &[to])?;
            (e.to, e.at, run.and_then(|r| r.timeline.last()).map(|s| s.step))
        }
    };
    // A filing says nothing of a decision made since (a retry may rebuild it later).
    let mode = approved_mode(request).filter(|_| change != RestoreChange::Filed);
    let data_loss = data_loss(request, change, at);
    let error = match (change, run.and_then(|r| r.outcome.as_ref())) {
        (RestoreChange::Failed, Some(Outcome::Failed { error, .. })) => Some(public_name(error)),
        _ => None,
    };
    let facts = summary::Facts {
        instance: &request.instance_id,
        status,
        mode,
        at,
        restores_to: earliest_restore_point(request),
        data_loss: data_loss.map(|w| (w.from, w.to)),
        error: error.as_deref(),
    };
    let detail_type = change.detail_type();
    let summary = summary::restore(detail_type, &facts);
    // As of the change (its step and time, not the call publishing it), so a republished
    // event is the same.
    let progress = run.zip(step).map(|(r, step)| {
        for_events(RestoreProgress {
            step,
            updated_at: at,
            ..progress_of(r, at)
        })
    });
    Some(StatusEvent {
        detail_type,
        detail: Detail::Restore(RestoreDetail {
            event_id: event_id(&request.id, detail_type, occurrence),
            request_id: request.id.clone(),
            instance_id: request.instance_id.clone(),
            status,
            step,
            mode,
            at,
            data_loss,
            progress,
            error,
            summary,
        }),
    })
}

/// Progress as events carry it: without what the services wait for, whose words name
/// staging and fallback resources (the reader of the request has them).
fn for_events(mut progress: RestoreProgress) -> RestoreProgress {
    for r in &mut progress.resources {
        r.waiting_for = None;
    }
    progress
}

/// A `Restore Progress` event: `sequence` numbers the request's progress events (the same
/// number for the same progress, so a republished one keeps its id).
pub fn progress_event(request: &RestoreRequest, progress: RestoreProgress, sequence: u64) -> StatusEvent {
    let progress = for_events(progress);
    let at = progress.updated_at;
    let data_loss = progress_data_loss(request, at);
    let facts = summary::Facts {
        instance: &request.instance_id,
        status: request.status,
        mode: approved_mode(request),
        at,
        restores_to: earliest_restore_point(request),
        data_loss: data_loss.map(|w| (w.from, w.to)),
        error: None,
    };
    StatusEvent {
        detail_type: DetailType::Progress,
        detail: Detail::Restore(RestoreDetail {
            event_id: event_id(&request.id, DetailType::Progress, Some(sequence)),
            request_id: request.id.clone(),
            instance_id: request.instance_id.clone(),
            status: request.status,
            step: Some(progress.step),
            mode: facts.mode,
            at,
            data_loss,
            summary: summary::progress(&facts),
            progress: Some(progress),
            error: None,
        }),
    }
}

/// The latest audit entry that moved the request to one of `to` (not a confirmation, which
/// records the status it leaves unchanged).
fn entry_to<'a>(request: &'a RestoreRequest, to: &[Status]) -> Option<&'a AuditEntry> {
    request
        .history
        .iter()
        .rev()
        .find(|e| to.contains(&e.to) && e.from != Some(e.to))
}

fn records(run: &Run, step: Step) -> Vec<&StepRecord> {
    run.timeline.iter().filter(|s| s.step == step).collect()
}

fn approved_mode(request: &RestoreRequest) -> Option<Mode> {
    request
        .decision
        .as_ref()
        .filter(|d| d.verdict == Verdict::Approve)
        .and_then(|d| d.mode)
}

/// The earliest moment the request restores to: its run's, else its approval's, else its
/// recovery options'.
fn earliest_restore_point(request: &RestoreRequest) -> Option<DateTime<Utc>> {
    if let Some(run) = request.run.as_ref().filter(|r| !r.resources.is_empty()) {
        return run.resources.iter().map(|r| r.restores_to).min();
    }
    if let Some(d) = request
        .decision
        .as_ref()
        .filter(|d| d.verdict == Verdict::Approve)
    {
        return d
            .recovery_points
            .iter()
            .map(|p| {
                request
                    .recovery_options
                    .iter()
                    .find(|o| o.resource == p.resource && o.source == p.source)
                    .map(|o| o.restores_to)
                    .unwrap_or(match &p.source {
                        Source::PointInTime { target } => *target,
                        Source::Snapshot { slot, .. } => slot.start(),
                    })
            })
            .min();
    }
    request.recovery_options.iter().map(|o| o.restores_to).min()
}

/// What a rollback discards, as of `at`: see [`DataLossWindow`].
fn data_loss(request: &RestoreRequest, change: RestoreChange, at: DateTime<Utc>) -> Option<DataLossWindow> {
    let rollback = approved_mode(request) == Some(Mode::Rollback);
    match change {
        // What the options would cost if rolled back to now.
        RestoreChange::Filed => {
            let from = request.recovery_options.iter().map(|o| o.restores_to).min()?;
            Some(DataLossWindow { from, to: at })
        }
        RestoreChange::Decided | RestoreChange::StagingReady | RestoreChange::AwaitingConfirmation => {
            let from = earliest_restore_point(request)?;
            rollback.then_some(DataLossWindow { from, to: at })
        }
        RestoreChange::Cancelled => None,
        // Only what production really took: resources swapped (a finished DynamoDB
        // copy-back is kept even when the restore failed afterwards).
        RestoreChange::Completed | RestoreChange::Failed => {
            let run = request.run.as_ref().filter(|_| rollback)?;
            lost_to_swap(run, at, |r| matches!(r.phase, Phase::Swapped | Phase::Verified))
        }
    }
}

/// What a rollback discards as its progress is announced at `at`: the window still grows
/// until the swap begins, and from then on is what the swap loses.
fn progress_data_loss(request: &RestoreRequest, at: DateTime<Utc>) -> Option<DataLossWindow> {
    if approved_mode(request) != Some(Mode::Rollback) {
        return None;
    }
    let run = request.run.as_ref();
    match run.filter(|run| run.resources.iter().any(|r| r.production_touched())) {
        Some(run) => lost_to_swap(run, at, |r| r.production_touched()),
        None => Some(DataLossWindow {
            from: earliest_restore_point(request)?,
            to: at,
        }),
    }
}

/// What the swap of the resources `counted` loses, as of `at`: from the earliest point they
/// were rolled back to, until the last moment a write of theirs can be lost (see
/// [`crate::execution::run::ResourceRun::writes_lost_until`]).
fn lost_to_swap(
    run: &Run,
    at: DateTime<Utc>,
    counted: impl Fn(&crate::execution::run::ResourceRun) -> bool,
) -> Option<DataLossWindow> {
    let began = records(run, Step::Swap).first()?.at;
    (run.resources.iter().filter(|r| counted(r)))
        .filter_map(|r| Some((r.restores_to, r.writes_lost_until(began, at)?)))
        .reduce(|(from, to), (f, t)| (from.min(f), to.max(t)))
        .map(|(from, to)| DataLossWindow { from, to })
}

/// The error name an execution fails with: Step Functions keeps `States.` for itself, so a
/// caught `States.Timeout` is reported as `Lifeboat.Timeout` (as the executor's abort does).
fn public_name(error: &str) -> String {
    match error.strip_prefix("States.") {
        Some(rest) => format!("Lifeboat.{rest}"),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests;
