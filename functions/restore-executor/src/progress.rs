//! How far a restore is, as the polling steps record it on the run (what each resource's
//! service waits for, the work counted so far) and announce it (`Restore Progress`, once
//! per saved change: the request's version numbers the event, so a retried step that finds
//! nothing new announces nothing new). The reader (`GET /restore-requests/{id}`) and every
//! other status event show the same, from `lifeboat::execution::progress`.

use chrono::{DateTime, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::counted::Counted;
use lifeboat::execution::progress::{merged_count, progress_of};
use lifeboat::execution::run::{ResourceRun, Run, Step};
use lifeboat::execution::shard::Purpose;
use lifeboat::ports::StoredRequest;

use crate::{target, Executor};

/// Records what `r`'s service is waiting for (`None` once it waits for nothing); whether
/// that changed.
pub fn note_waiting(r: &mut ResourceRun, why: Option<String>) -> bool {
    let changed = r.waiting_for != why;
    r.waiting_for = why;
    changed
}

/// Records the work of `purpose` the restorer counts for `r` (a copy-back's items), the
/// rate counted from the first look; whether it changed. Counting is a courtesy: a service
/// that cannot say leaves the record as it was.
pub async fn note_counted(
    executor: &Executor,
    request_id: &str,
    run_started: DateTime<Utc>,
    r: &mut ResourceRun,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> bool {
    let Ok(restorer) = executor.restorer(r.resource.kind) else {
        return false;
    };
    let count = match restorer
        .counted(&target(request_id, run_started, r), purpose)
        .await
    {
        Ok(Some(count)) => count,
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(request = request_id, resource = %r.resource, error = %e, "progress: could not count the work done");
            return false;
        }
    };
    let unit = match purpose {
        Purpose::Verify => format!("{} compared", count.unit),
        _ => count.unit.to_string(),
    };
    let since = (r.counted.as_ref())
        .filter(|c| c.unit == unit)
        .map_or(now, |c| c.since);
    let next = Counted {
        done: count.done,
        total: count.total,
        unit,
        since,
        at: now,
    };
    let changed = r
        .counted
        .as_ref()
        .is_none_or(|c| (c.done, c.total, &c.unit) != (next.done, next.total, &next.unit));
    r.counted = Some(next);
    changed
}

/// Records `resource`'s merge after a batch: rows merged of all, counted from the first
/// batch of the restore (`started`, this invocation's start, when none was counted yet) to
/// the time of the batch's commit, so the rate is the merge's own.
pub fn note_merged(run: &mut Run, resource: &ResourceKey, started: DateTime<Utc>) {
    let Some(selective) = &run.selective else {
        return;
    };
    let (done, total, _, _) = merged_count(selective, resource);
    let Some(r) = run.resources.iter_mut().find(|r| &r.resource == resource) else {
        return;
    };
    let since = (r.counted.as_ref())
        .filter(|c| c.unit == "rows")
        .map_or(started, |c| c.since);
    r.counted = Some(Counted {
        done,
        total,
        unit: "rows".into(),
        since,
        at: Utc::now(),
    });
}

/// Announces the progress of `stored`'s run as saved by `step` at `now`.
pub async fn announce(executor: &Executor, stored: &StoredRequest, step: Step, now: DateTime<Utc>) {
    let Some(run) = &stored.request.run else {
        return;
    };
    let mut progress = progress_of(run, now);
    progress.step = step;
    progress.updated_at = now;
    executor
        .events
        .progress(&stored.request, progress, stored.version)
        .await;
}

/// Saves `run`, which differs from `stored`'s only in what [`note_waiting`] and
/// [`note_counted`] recorded, and announces it. Best effort: the step's own work is done or
/// waited for either way, and a courtesy write must never fail a step (a failed verify or
/// swap would be undone). The request as saved, if it was.
pub async fn save_progress(
    executor: &Executor,
    stored: &StoredRequest,
    run: Run,
    step: Step,
    now: DateTime<Utc>,
) -> Option<StoredRequest> {
    match executor.save_run(stored, run, step).await {
        Ok(saved) => {
            announce(executor, &saved, step, now).await;
            Some(saved)
        }
        Err(e) => {
            tracing::warn!(request = %stored.request.id, step = step.as_str(), error = %e, "progress not saved; the step goes on");
            None
        }
    }
}
