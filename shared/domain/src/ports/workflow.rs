//! The restore workflow: the state machine an approval starts and a confirmation resumes.

use async_trait::async_trait;
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
