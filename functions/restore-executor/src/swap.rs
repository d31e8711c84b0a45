//! After confirmation: swap staging in for production, and clean up staging once verified.
//!
//! Each resource is marked `swapping` and saved before its production is touched, so a
//! failure from then on (in this step or any later one) makes the abort step restore the
//! fallback.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, RETRYABLE};
use lifeboat::execution::run::{Phase, Step};
use lifeboat::execution::shard::Purpose;
use lifeboat::ports::restorer::Progress;
use lifeboat::request::decision::Mode;
use serde_json::{json, Value};

use crate::production::start_changing_production;
use crate::progress::{note_counted, note_waiting};
use crate::staging::delete_staging;
use crate::task::Task;
use crate::{target, Executor};

/// One step of the swap of every resource: `{"done": true}` once all are swapped; until
/// then what it waits for, and `shards` when work is to be spread over the state machine's
/// Map before the next step.
pub async fn swap(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (mut stored, mut run) = start_changing_production(
        executor,
        task,
        now,
        (Step::Swap, Mode::Rollback),
        (Phase::Ready, Phase::Swapping),
    )
    .await?;
    let mut pending = Vec::new();
    let mut shards = Vec::new();
    // Progress recorded since the last save, and whether anything is to be announced.
    let (mut unsaved, mut announce) = (false, false);
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase != Phase::Swapping {
            continue;
        }
        let safety = r.safety_snapshot.clone().unwrap_or_default();
        let progress = executor
            .restorer(r.resource.kind)?
            .swap(&target(id, run.started_at, r), &safety)
            .await
            .map_err(|e| StepError::from_port("swap", e))?;
        match progress {
            Progress::Done => {
                run.record(Step::Swap, now, format!("{}: swapped", r.resource));
                run.resources[i].phase = Phase::Swapped;
                run.resources[i].swapped_at = Some(now);
                note_waiting(&mut run.resources[i], None);
                note_counted(
                    executor,
                    id,
                    run.started_at,
                    &mut run.resources[i],
                    Purpose::Swap,
                    now,
                )
                .await;
                stored = executor.save_run(&stored, run.clone(), Step::Swap).await?;
                // Saved with any progress noted before it; a swap done is no progress news.
                unsaved = false;
            }
            Progress::Pending(why) => {
                let changed = note_waiting(&mut run.resources[i], Some(why.clone()));
                (unsaved, announce) = (unsaved || changed, announce || changed);
                pending.push(why);
            }
            Progress::Spread(more) => {
                pending.push(format!("{}: {} copy-back shards to run", r.resource, more.len()));
                shards.extend(more);
                let changed = note_counted(
                    executor,
                    id,
                    run.started_at,
                    &mut run.resources[i],
                    Purpose::Swap,
                    now,
                )
                .await;
                (unsaved, announce) = (unsaved || changed, announce || changed);
            }
        }
    }
    if unsaved {
        crate::progress::save_progress(executor, &stored, run, Step::Swap, now).await;
    } else if announce {
        crate::progress::announce(executor, &stored, Step::Swap, now).await;
    }
    Ok(json!({ "done": pending.is_empty(), "waiting_for": pending, "shards": shards }))
}

pub async fn clean_up(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::CleanUp).await?;
    let busy = delete_staging(executor, id, &mut run, now).await?;
    executor.save_run(&stored, run, Step::CleanUp).await?;
    if !busy.is_empty() {
        return Err(StepError::new(
            RETRYABLE,
            format!("step clean_up: {}", busy.join("; ")),
        ));
    }
    Ok(json!({}))
}
