//! `copy_back`: one shard of work a step spread over the state machine's Map (`RunShards`),
//! run for this invocation's budget and resumed by the next from its checkpoint. The shard
//! must be of a resource of the run, at the phase its purpose belongs to: a shard handed out
//! by a swap that has since failed is not run, nor an undo's once the undo is over. A shard
//! whose source table is not the one pinned copies nothing.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, INVALID_INPUT, PERMANENT};
use lifeboat::execution::run::{Phase, Step};
use lifeboat::execution::shard::{Purpose, Shard};
use lifeboat::ports::restorer::Progress;
use lifeboat::ports::FailureKind;
use serde_json::{json, Value};

use crate::task::Task;
use crate::{target, Executor};

pub async fn copy_back(executor: &Executor, task: &Task, _now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let shard: Shard = task
        .shard
        .clone()
        .ok_or_else(|| StepError::new(INVALID_INPUT, "task copy_back: `shard` is required"))
        .and_then(|v| {
            serde_json::from_value(v)
                .map_err(|e| StepError::new(INVALID_INPUT, format!("task copy_back: `shard`: {e}")))
        })?;
    let (_, run) = executor.load_run(id, Step::CopyBack).await?;
    let r = run
        .resources
        .iter()
        .find(|r| r.resource == shard.resource)
        .ok_or_else(|| {
            StepError::new(
                PERMANENT,
                format!("request {id}: {} is not restored by this run", shard.resource),
            )
        })?;
    let expected = match shard.purpose {
        Purpose::Swap => Phase::Swapping,
        Purpose::Verify => Phase::Swapped,
        Purpose::Undo | Purpose::UndoCheck => Phase::Undoing,
    };
    if r.phase != expected {
        return Err(StepError::new(
            PERMANENT,
            format!(
                "request {id}: shard {} belongs to phase {expected:?}, and {} is {:?}",
                shard.label(),
                r.resource,
                r.phase
            ),
        ));
    }
    let progress = match executor
        .restorer(r.resource.kind)?
        .run_shard(&target(id, run.started_at, r), &shard, executor.shard_budget)
        .await
    {
        Ok(progress) => progress,
        // An undo's shard whose fallback is not the one pinned copies nothing and ends: the
        // failure path's next step finds the same and stops the undo with what stands on
        // record, where a failed shard would fail the failure path itself.
        Err(e) if e.kind == FailureKind::NotOurs && shard.purpose.undoes() => {
            tracing::error!(request = id, shard = %shard.label(), error = %e, "an undo's shard refused its source");
            return Ok(json!({ "done": true, "shard": shard.label(), "refused": e.to_string() }));
        }
        Err(e) => return Err(StepError::from_port("copy_back", e)),
    };
    Ok(json!({ "done": progress == Progress::Done, "shard": shard.label() }))
}
