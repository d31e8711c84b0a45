//! The restore side of the local stack: the requests table, the restore state machine, and
//! who is support and who is engineering.

use aws_sdk_dynamodb::types::{BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType};
use lifeboat_aws::requests_table::INSTANCE_INDEX;

use crate::names::{arn, ACCOUNT, ENGINEERING_ROLE, REQUESTS_TABLE, STATE_MACHINE, SUPPORT_ROLE};
use crate::tables::{key, string_attribute};
use crate::StackError;

/// The restore state machine, the very file the SAM template deploys.
const DEFINITION: &str = include_str!("../../infra/statemachines/restore.asl.json");

/// The executor as moto's interpreter invokes it: through the edge's Lambda Invoke API.
pub fn executor_arn() -> String {
    arn("lambda", "function:restore-executor")
}

/// The definition with its `DefinitionSubstitutions` made as the template makes them.
pub fn definition() -> String {
    DEFINITION.replace("${RestoreExecutorArn}", &executor_arn())
}

pub fn state_machine_arn() -> String {
    arn("states", &format!("stateMachine:{STATE_MACHINE}"))
}

/// The restore-intake's environment on the local stack.
pub fn intake_env() -> Vec<(&'static str, String)> {
    vec![
        ("LIFEBOAT_REQUESTS_TABLE", REQUESTS_TABLE.to_string()),
        ("LIFEBOAT_RESTORE_STATE_MACHINE_ARN", state_machine_arn()),
        ("LIFEBOAT_SUPPORT_PRINCIPALS", SUPPORT_ROLE.to_string()),
        ("LIFEBOAT_ENGINEERING_PRINCIPALS", ENGINEERING_ROLE.to_string()),
        // Moto restores at once: poll every second, and give up after ten polls.
        ("LIFEBOAT_RESTORE_POLL_INTERVAL_SECONDS", "1".to_string()),
        ("LIFEBOAT_RESTORE_MAX_POLLS", "10".to_string()),
        ("LIFEBOAT_RESTORE_CONFIRMATION_TIMEOUT_SECONDS", "600".to_string()),
    ]
}

/// Makes the requests table and the state machine, as the template does.
pub async fn create(sdk: &aws_config::SdkConfig) -> Result<(), StackError> {
    // The same table as infra/template.yaml's RequestsTable.
    let by_instance = GlobalSecondaryIndex::builder()
        .index_name(INSTANCE_INDEX)
        .key_schema(key("instance_id", KeyType::Hash)?)
        .key_schema(key("submitted_at", KeyType::Range)?)
        .projection(Projection::builder().projection_type(ProjectionType::All).build())
        .build()
        .map_err(|e| StackError::aws("GlobalSecondaryIndex instance-requests", e))?;
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(REQUESTS_TABLE)
        .key_schema(key("id", KeyType::Hash)?)
        .attribute_definitions(string_attribute("id")?)
        .attribute_definitions(string_attribute("instance_id")?)
        .attribute_definitions(string_attribute("submitted_at")?)
        .global_secondary_indexes(by_instance)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| StackError::aws("CreateTable lifeboat-restore-requests", e))?;
    aws_sdk_sfn::Client::new(sdk)
        .create_state_machine()
        .name(STATE_MACHINE)
        .definition(definition())
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/lifeboat-restore"))
        .send()
        .await
        .map_err(|e| StackError::aws("CreateStateMachine lifeboat-restore", e))?;
    Ok(())
}
