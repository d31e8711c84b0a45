//! How far a restore is, as the polling steps record it on the run (what each resource's
//! service waits for, the work counted so far) and announce it (`Restore Progress`, once
//! per saved change: the request's version numbers the event, so a retried step that finds
//! nothing new announces nothing new). The reader (`GET /restore-requests/{id}`) and every
//! other status event show the same, from `lifeboat::execution::progress`.

use chrono::{DateTime, Utc};
use lifeboat::execution::counted::Counted;
use lifeboat::execution::progress::progress_of;
use lifeboat::execution::run::ResourceRun;
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
    r: &mut ResourceRun,
    purpose: Purpose,
    now: DateTime<Utc>,
) -> bool {
    let Ok(restorer) = executor.restorer(r.resource.kind) else {
        return false;
    };
    let count = match restorer.counted(&target(request_id, r), purpose).await {
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

/// Announces the progress of `stored`'s run as saved at `now`.
pub async fn announce(executor: &Executor, stored: &StoredRequest, now: DateTime<Utc>) {
    let Some(run) = &stored.request.run else {
        return;
    };
    executor
        .events
        .progress(&stored.request, progress_of(run, now), stored.version)
        .await;
}
