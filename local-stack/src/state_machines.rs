//! The drill's and the fleet ticks' state machines, made on the local stack as the template
//! makes them: the template's own definitions (`infra/statemachines/drill.asl.json`,
//! `fleet-tick.asl.json`), their `DefinitionSubstitutions` pointing at the real functions
//! behind the edge. Running them is the `drills` and `fleet_tick` modules' work.

use crate::names::{arn, ACCOUNT};
use crate::StackError;

const DRILL_DEFINITION: &str = include_str!("../../infra/statemachines/drill.asl.json");
const TICK_DEFINITION: &str = include_str!("../../infra/statemachines/fleet-tick.asl.json");

pub const DRILL: &str = "lifeboat-drill";

/// The scheduled functions whose runs fan out: the hourly ticks and the daily audit.
pub const TICK_FUNCTIONS: [&str; 3] = ["snapshot-creator", "retention-pruner", "recovery-audit"];

pub fn drill_arn() -> String {
    arn("states", &format!("stateMachine:{DRILL}"))
}

pub fn drill_definition() -> String {
    DRILL_DEFINITION.replace("${RestoreDrillArn}", &arn("lambda", "function:restore-drill"))
}

/// `function`'s tick state machine's name.
pub fn tick_name(function: &str) -> String {
    format!("lifeboat-{function}-tick")
}

pub fn tick_arn(function: &str) -> String {
    arn("states", &format!("stateMachine:{}", tick_name(function)))
}

pub fn tick_definition(function: &str) -> String {
    TICK_DEFINITION.replace("${FunctionArn}", &arn("lambda", &format!("function:{function}")))
}

/// Makes the drill's state machine and one tick state machine per fanned-out function.
pub async fn create(sdk: &aws_config::SdkConfig) -> Result<(), StackError> {
    let sfn = aws_sdk_sfn::Client::new(sdk);
    let ticks = TICK_FUNCTIONS.map(|f| (tick_name(f), tick_definition(f), "lifeboat-fleet-tick"));
    let drill = (DRILL.to_string(), drill_definition(), "lifeboat-drill");
    for (name, definition, role) in ticks.into_iter().chain([drill]) {
        sfn.create_state_machine()
            .name(&name)
            .definition(definition)
            .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/{role}"))
            .send()
            .await
            .map_err(|e| StackError::aws(&format!("CreateStateMachine {name}"), e))?;
    }
    Ok(())
}
