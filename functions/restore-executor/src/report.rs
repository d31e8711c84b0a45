//! The report of a run, written to the reports bucket: while it waits for confirmation (what
//! is about to happen), and when it ends.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::StepError;
use lifeboat::execution::report::{json_report, markdown_report};
use lifeboat::execution::run::report_keys;
use lifeboat::request::lifecycle::RestoreRequest;

use crate::Executor;

/// Writes the JSON and Markdown reports of `request`'s run.
pub async fn write_report(
    executor: &Executor,
    request: &RestoreRequest,
    now: DateTime<Utc>,
) -> Result<(), StepError> {
    let Some(run) = &request.run else {
        return Ok(());
    };
    let keys = report_keys(&request.id);
    let fail = |e| StepError::from_port("report", e);
    let json = serde_json::to_vec_pretty(&json_report(request, run, now)).unwrap_or_default();
    executor
        .reports
        .put(&keys.json, json, "application/json")
        .await
        .map_err(fail)?;
    executor
        .reports
        .put(
            &keys.markdown,
            markdown_report(request, run, now).into_bytes(),
            "text/markdown",
        )
        .await
        .map_err(fail)?;
    Ok(())
}
