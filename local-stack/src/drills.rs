//! The drill state machine on the local stack: the template's own definition
//! (`infra/statemachines/drill.asl.json`), run by moto's interpreter with every step served
//! by the real `restore-drill` binary through the edge.

use std::time::Duration;

use serde_json::Value;

use crate::fleet_tick::finished;
use crate::names::{arn, ACCOUNT};
use crate::stack::{Invocation, LocalStack};
use crate::StackError;

const DEFINITION: &str = include_str!("../../infra/statemachines/drill.asl.json");
pub const STATE_MACHINE: &str = "lifeboat-drill";

pub fn state_machine_arn() -> String {
    arn("states", &format!("stateMachine:{STATE_MACHINE}"))
}

/// The definition with its `DefinitionSubstitutions` made as the template makes them.
pub fn definition() -> String {
    DEFINITION.replace("${RestoreDrillArn}", &arn("lambda", "function:restore-drill"))
}

pub async fn create(sdk: &aws_config::SdkConfig) -> Result<(), StackError> {
    aws_sdk_sfn::Client::new(sdk)
        .create_state_machine()
        .name(STATE_MACHINE)
        .definition(definition())
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/lifeboat-drill"))
        .send()
        .await
        .map_err(|e| StackError::aws("CreateStateMachine lifeboat-drill", e))?;
    Ok(())
}

/// Runs a drill with `input` (`{"instance_id": …}`), as the console or the schedule starts
/// one, polling every second (moto restores at once), and waits for it to end.
pub async fn run(stack: &LocalStack, name: &str, input: &Value) -> Result<Invocation, StackError> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    let mut input = input.clone();
    input["poll_interval_seconds"] = 1.into();
    input["max_polls"] = 20.into();
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn())
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|e| StackError::aws("StartExecution lifeboat-drill", e))?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
    finished(&sfn, started.execution_arn(), deadline).await
}
