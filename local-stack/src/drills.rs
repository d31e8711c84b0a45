//! Running the drill state machine (made by `state_machines`) on the local stack, by moto's
//! interpreter with every step served by the real `restore-drill` binary through the edge.

use std::time::Duration;

use serde_json::Value;

use crate::fleet_tick::finished;
use crate::stack::{Invocation, LocalStack};
use crate::state_machines::drill_arn;
use crate::StackError;

/// Runs a drill with `input` (`{"instance_id": …}`), as the console or the schedule starts
/// one, polling every second (moto restores at once), and waits for it to end.
pub async fn run(stack: &LocalStack, name: &str, input: &Value) -> Result<Invocation, StackError> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    let mut input = input.clone();
    input["poll_interval_seconds"] = 1.into();
    input["max_polls"] = 20.into();
    let started = sfn
        .start_execution()
        .state_machine_arn(drill_arn())
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| StackError::aws("StartExecution lifeboat-drill", e))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    finished(&sfn, started.execution_arn(), deadline).await
}
