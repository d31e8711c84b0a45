//! The restore state machine through Step Functions.

use async_trait::async_trait;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::Client;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{port_error, utc};
use lifeboat::ports::workflow::{StoppedRun, WorkflowRuns};
use lifeboat::ports::RestoreWorkflow;
use lifeboat::ports::{FailureKind, PortError};

pub struct StepFunctions {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        StepFunctions {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The ARN of execution `name`: executions are named, so it is known without asking.
    fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

#[async_trait]
impl RestoreWorkflow for StepFunctions {
    async fn start(&self, name: &str, input: &Value) -> Result<String, PortError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.execution_arn().to_string()),
            Err(e) => {
                let e = port_error("StartExecution", &self.state_machine_arn, e);
                // The execution exists: started by an earlier try of the same approval.
                if e.kind == FailureKind::Conflict && e.message.starts_with("ExecutionAlreadyExists") {
                    Ok(self.execution_arn(name))
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn confirm(&self, token: &str, output: &Value) -> Result<(), PortError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map_err(|e| port_error("SendTaskSuccess", &self.state_machine_arn, e))?;
        Ok(())
    }
}

#[async_trait]
impl WorkflowRuns for StepFunctions {
    async fn stopped_since(
        &self,
        since: DateTime<Utc>,
        longest_run: TimeDelta,
    ) -> Result<Vec<StoppedRun>, PortError> {
        let mut stopped = Vec::new();
        for status in [
            ExecutionStatus::Failed,
            ExecutionStatus::TimedOut,
            ExecutionStatus::Aborted,
        ] {
            let mut pages = self
                .client
                .list_executions()
                .state_machine_arn(&self.state_machine_arn)
                .status_filter(status.clone())
                .into_paginator()
                .send();
            // Newest start first: an execution started before `since - longest_run` ended
            // before `since`, and so did every one after it in the listing.
            'pages: while let Some(page) = pages.next().await {
                let page = page.map_err(|e| port_error("ListExecutions", &self.state_machine_arn, e))?;
                for e in page.executions() {
                    if utc(e.start_date()).is_some_and(|t| t < since - longest_run) {
                        break 'pages;
                    }
                    let Some(stopped_at) = e.stop_date().and_then(utc) else {
                        continue;
                    };
                    if stopped_at >= since {
                        stopped.push(StoppedRun {
                            name: e.name().to_string(),
                            status: status.as_str().to_string(),
                            stopped_at,
                        });
                    }
                }
            }
        }
        Ok(stopped)
    }
}
