//! `verify`: a rollback's check that production is what was restored (polled: states that
//! settle by themselves are waited for), or a selective restore's check of production's own
//! record of the merge ([`crate::selective::verify_merge`]).

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, VERIFICATION_FAILED};
use lifeboat::execution::run::{Phase, Step};
use lifeboat::execution::shard::Purpose;
use lifeboat::ports::restorer::Verification;
use lifeboat::request::decision::Mode;
use serde_json::{json, Value};

use crate::progress::{note_counted, note_waiting};
use crate::task::Task;
use crate::{target, Executor};

/// One look at every swapped resource: `{"done": true}` once all are verified. A state
/// that settles by itself (a backup right after the rename) is waited for, polled like the
/// other steps; only a real difference fails the restore.
pub async fn verify(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::Verify).await?;
    if run.mode == Mode::Selective {
        return crate::selective::verify_merge(executor, task, now).await;
    }
    let mut waiting = Vec::new();
    let mut shards = Vec::new();
    let mut changed = false;
    let mut progressed = false;
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase != Phase::Swapped {
            continue;
        }
        let verification = executor
            .restorer(r.resource.kind)?
            .verify(&target(id, run.started_at, r))
            .await
            .map_err(|e| StepError::from_port("verify", e))?;
        let (detail, differences) = match verification {
            Verification::Passed(detail) => (detail, None),
            Verification::PassedWithDifferences(detail) => (detail.clone(), Some(detail)),
            Verification::Settling(why) => {
                progressed |= note_waiting(&mut run.resources[i], Some(why.clone()));
                waiting.push(why);
                continue;
            }
            Verification::Spread(more) => {
                waiting.push(format!("{}: {} comparison shards to run", r.resource, more.len()));
                shards.extend(more);
                progressed |= note_counted(
                    executor,
                    id,
                    run.started_at,
                    &mut run.resources[i],
                    Purpose::Verify,
                    now,
                )
                .await;
                continue;
            }
            Verification::Failed(detail) => {
                return Err(StepError::new(
                    VERIFICATION_FAILED,
                    format!("{}: {detail}", r.resource),
                ));
            }
        };
        run.record(Step::Verify, now, detail);
        run.resources[i].phase = Phase::Verified;
        run.resources[i].differences = differences;
        note_waiting(&mut run.resources[i], None);
        // The final count, for the reader and the report.
        note_counted(
            executor,
            id,
            run.started_at,
            &mut run.resources[i],
            Purpose::Verify,
            now,
        )
        .await;
        changed = true;
    }
    if changed {
        executor.save_run(&stored, run, Step::Verify).await?;
    } else if progressed {
        crate::progress::save_progress(executor, &stored, run, Step::Verify, now).await;
    }
    Ok(json!({ "done": waiting.is_empty(), "waiting_for": waiting, "shards": shards }))
}
