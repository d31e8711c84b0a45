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
            // before `since`, and so did every one after it in the listing; but a redriven
            // one keeps its start and may have stopped again since, so the listing goes on
            // past old starts while executions there were redriven... until a page holds
            // none but old, never redriven ones.
            'pages: while let Some(page) = pages.next().await {
                let page = page.map_err(|e| port_error("ListExecutions", &self.state_machine_arn, e))?;
                let mut only_old = !page.executions().is_empty();
                for e in page.executions() {
                    let old = utc(e.start_date()).is_some_and(|t| t < since - longest_run);
                    let redriven = e.redrive_count().unwrap_or(0) > 0;
                    only_old &= old && !redriven;
                    if old && !redriven {
                        continue;
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
                if only_old {
                    break 'pages;
                }
            }
        }
        Ok(stopped)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
    use aws_sdk_sfn::primitives::DateTime as SdkTime;
    use aws_sdk_sfn::types::ExecutionListItem;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    fn item(name: &str, started: &str, stopped: &str, redriven: i32) -> ExecutionListItem {
        let t = |s: &str| SdkTime::from_secs(s.parse::<DateTime<Utc>>().unwrap().timestamp());
        ExecutionListItem::builder()
            .execution_arn(format!("arn:aws:states:us-east-1:1:execution:drill:{name}"))
            .state_machine_arn("arn:aws:states:us-east-1:1:stateMachine:drill")
            .name(name)
            .status(ExecutionStatus::Failed)
            .start_date(t(started))
            .stop_date(t(stopped))
            .redrive_count(redriven)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn stopped_runs_are_read_until_a_page_of_old_starts_and_a_redriven_one_is_not_missed() {
        let page = |items: Vec<ExecutionListItem>, next: Option<&str>| {
            ListExecutionsOutput::builder()
                .set_executions(Some(items))
                .set_next_token(next.map(str::to_string))
                .build()
                .unwrap()
        };
        let failed = mock!(Client::list_executions)
            .match_requests(|r| r.status_filter() == Some(&ExecutionStatus::Failed))
            .sequence()
            .output(move || {
                page(
                    vec![
                        item("new", "2026-12-04T03:00:00Z", "2026-12-04T03:30:00Z", 0),
                        // Started five days ago, redriven, and stopped again an hour ago.
                        item("redriven", "2026-11-29T03:00:00Z", "2026-12-04T04:00:00Z", 1),
                    ],
                    Some("2"),
                )
            })
            .output(move || {
                page(
                    vec![item("old", "2026-11-29T02:00:00Z", "2026-11-29T04:00:00Z", 0)],
                    Some("3"),
                )
            })
            .build();
        let others = mock!(Client::list_executions)
            .match_requests(|r| r.status_filter() != Some(&ExecutionStatus::Failed))
            .then_output(|| {
                ListExecutionsOutput::builder()
                    .set_executions(Some(vec![]))
                    .build()
                    .unwrap()
            });
        let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, [&failed, &others]);
        let sfn = StepFunctions::new(client, "arn:aws:states:us-east-1:1:stateMachine:drill");
        let since: DateTime<Utc> = "2026-12-02T05:00:00Z".parse().unwrap();
        let stopped = sfn.stopped_since(since, TimeDelta::hours(24)).await.unwrap();
        let names: Vec<&str> = stopped.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["new", "redriven"]);
        assert_eq!(
            failed.num_calls(),
            2,
            "a page of old, never redriven starts ends the listing"
        );
    }
}
