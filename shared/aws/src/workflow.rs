//! The restore state machine through Step Functions.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use serde_json::Value;

use super::port_error;
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
