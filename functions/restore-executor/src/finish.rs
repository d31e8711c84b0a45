//! `finish`: a verified restore completes: its holds released, the request completed, the
//! report written.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::StepError;
use lifeboat::execution::run::{Outcome, Step};
use lifeboat::request::lifecycle::Status;
use serde_json::{json, Value};

use crate::outcome::{announce_end, end};
use crate::task::Task;
use crate::Executor;

pub async fn finish(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::Finish).await?;
    if stored.request.status == Status::Completed {
        announce_end(executor, &stored.request).await;
        return Ok(json!({ "status": "completed", "report": run.report }));
    }
    run.outcome = Some(Outcome::Completed);
    run.record(Step::Finish, now, "restore completed");
    end(
        executor,
        stored,
        run,
        Status::Completed,
        "restore completed".into(),
        now,
    )
    .await
}
