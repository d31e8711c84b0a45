//! The restore workflow: the state machine an approval starts and a confirmation resumes.

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::PortError;

/// The restore state machine.
#[async_trait]
pub trait RestoreWorkflow: Send + Sync {
    /// Starts the execution `name` with `input`. Starting it again, however often, starts
    /// nothing new: the answer is the existing execution's id.
    async fn start(&self, name: &str, input: &Value) -> Result<String, PortError>;

    /// Resumes the execution waiting on `token`.
    async fn confirm(&self, token: &str, output: &Value) -> Result<(), PortError>;
}

/// An execution that ended without succeeding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoppedRun {
    pub name: String,
    /// `FAILED`, `TIMED_OUT` or `ABORTED`.
    pub status: String,
    pub stopped_at: DateTime<Utc>,
}

/// What became of a workflow's executions: for whoever must finish what a stopped one left.
#[async_trait]
pub trait WorkflowRuns: Send + Sync {
    /// The executions that failed, timed out or were stopped at or after `since`; none runs
    /// longer than `longest_run` (the state machine's own timeout), which bounds how far
    /// back the listing reads.
    async fn stopped_since(
        &self,
        since: DateTime<Utc>,
        longest_run: TimeDelta,
    ) -> Result<Vec<StoppedRun>, PortError>;
}
