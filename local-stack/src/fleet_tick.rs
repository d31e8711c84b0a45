//! Running the fleet-tick state machines (made by `state_machines`), one per scheduled
//! function, by moto's interpreter with every stage served by the function's real binary
//! through the edge. The simulation sends its ticks through them when asked (its
//! `Delivery::FanOut`).

use std::time::Duration;

use serde_json::Value;

use crate::stack::{Invocation, LocalStack};
use crate::state_machines::tick_arn;
use crate::StackError;

/// How often an execution's status is read while it runs.
const POLL: Duration = Duration::from_millis(50);

/// Runs `function`'s tick for `event` through its state machine, as the schedule starts it,
/// and waits for the execution to end: its output, or its error and cause.
pub async fn run(stack: &LocalStack, function: &str, event: &Value) -> Result<Invocation, StackError> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    // Named after the event, as the schedule names its executions: one per tick.
    let name: String = lifeboat::fanout::safe_name(event["id"].as_str().unwrap_or("tick"))
        .chars()
        .take(80)
        .collect();
    let started = sfn
        .start_execution()
        .state_machine_arn(tick_arn(function))
        .name(name)
        .input(event.to_string())
        .send()
        .await
        .map_err(|e| StackError::aws("StartExecution", e))?;
    // Every stage is bounded by the function's timeout; the Map's stages run in waves.
    let deadline = tokio::time::Instant::now() + stack.config.function_timeout * 20;
    finished(&sfn, started.execution_arn(), deadline).await
}

/// Waits for execution `arn` to end (until `deadline`): its output, or its error and cause.
pub async fn finished(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    deadline: tokio::time::Instant,
) -> Result<Invocation, StackError> {
    loop {
        let out = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| StackError::aws("DescribeExecution", e))?;
        match out.status().as_str() {
            "RUNNING" if tokio::time::Instant::now() < deadline => tokio::time::sleep(POLL).await,
            "RUNNING" => {
                return Err(StackError::Setup(format!(
                    "execution {arn} still running at its deadline"
                )))
            }
            "SUCCEEDED" => {
                let output = out.output().and_then(|o| serde_json::from_str(o).ok());
                return Ok(Invocation::Succeeded(output.unwrap_or(Value::Null)));
            }
            _ => {
                return Ok(Invocation::Failed {
                    error_type: out.error().unwrap_or_default().to_string(),
                    message: out.cause().unwrap_or_default().to_string(),
                })
            }
        }
    }
}
