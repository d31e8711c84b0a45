//! An in-memory restore workflow that records what it was asked to start and resume.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::ports::workflow::{StoppedRun, WorkflowRuns};
use crate::ports::{PortError, RestoreWorkflow};

/// Records executions by name (starting one twice starts nothing new) and confirmations.
#[derive(Debug, Default)]
pub struct MemoryWorkflow {
    pub executions: Mutex<BTreeMap<String, Value>>,
    pub confirmed: Mutex<Vec<(String, Value)>>,
    /// Executions a test has made end without succeeding.
    pub stopped: Mutex<Vec<StoppedRun>>,
    /// Whether listing them fails (the service unavailable).
    pub listing_fails: Mutex<bool>,
}

#[async_trait]
impl WorkflowRuns for MemoryWorkflow {
    async fn stopped_since(
        &self,
        since: DateTime<Utc>,
        _longest: TimeDelta,
    ) -> Result<Vec<StoppedRun>, PortError> {
        if *self.listing_fails.lock().expect("lock") {
            return Err(PortError::new(
                "ListExecutions",
                "drill state machine",
                crate::ports::FailureKind::Unavailable,
                "the service is failing",
            ));
        }
        let stopped = self.stopped.lock().expect("lock");
        Ok(stopped
            .iter()
            .filter(|r| r.stopped_at >= since)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl RestoreWorkflow for MemoryWorkflow {
    async fn start(&self, name: &str, input: &Value) -> Result<String, PortError> {
        self.executions
            .lock()
            .expect("lock")
            .entry(name.to_string())
            .or_insert_with(|| input.clone());
        Ok(format!("execution:{name}"))
    }

    async fn confirm(&self, token: &str, output: &Value) -> Result<(), PortError> {
        self.confirmed
            .lock()
            .expect("lock")
            .push((token.to_string(), output.clone()));
        Ok(())
    }
}
