//! The event each task of the restore state machine sends: which step, for which request,
//! and what that step needs from the execution's state.

use lifeboat::execution::error::{StepError, INVALID_INPUT};
use lifeboat::execution::run::Step;
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub step: Step,
    /// The request (every step but `begin`, which reads it from `input`).
    #[serde(default)]
    pub request_id: Option<String>,
    /// `begin`: the execution input as given.
    #[serde(default)]
    pub input: Option<Value>,
    /// `begin`: the execution's ARN.
    #[serde(default)]
    pub execution: Option<String>,
    /// `await_confirmation`: the token the state machine waits on.
    #[serde(default)]
    pub task_token: Option<String>,
    /// `swap`: what the confirmation sent (`confirmed_by`, `confirmed_at`).
    #[serde(default)]
    pub confirmation: Option<Value>,
    /// `abort`: the error the state machine caught (`Error`, `Cause`).
    #[serde(default)]
    pub error: Option<Value>,
    /// `copy_back`: the shard to run, as the step that spread it handed it out.
    #[serde(default)]
    pub shard: Option<Value>,
}

impl Task {
    pub fn parse(event: Value) -> Result<Task, StepError> {
        serde_json::from_value(event).map_err(|e| StepError::new(INVALID_INPUT, format!("task event: {e}")))
    }

    pub fn request_id(&self) -> Result<&str, StepError> {
        self.request_id.as_deref().ok_or_else(|| {
            StepError::new(
                INVALID_INPUT,
                format!("task {}: `request_id` is required", self.step.as_str()),
            )
        })
    }
}

/// A caught error's name and cause. A function error's cause is its error document; its
/// message is what people need.
pub fn caught(error: Option<&Value>) -> (String, String) {
    let name = error
        .and_then(|e| e["Error"].as_str())
        .unwrap_or("States.Unknown")
        .to_string();
    let cause = error
        .and_then(|e| e["Cause"].as_str())
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(match name.as_str() {
            "States.Timeout" => {
                "a state's timeout passed (at await_confirmation: no engineer confirmed in time)"
            }
            _ => "no cause given",
        });
    let message = serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|doc| doc["errorMessage"].as_str().map(str::to_string))
        .unwrap_or_else(|| cause.to_string());
    (name, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn function_errors_are_reported_by_their_message() {
        let e = json!({"Error": "Lifeboat.NotRestorable",
            "Cause": "{\"errorType\":\"Lifeboat.NotRestorable\",\"errorMessage\":\"outside the window\"}"});
        assert_eq!(
            caught(Some(&e)),
            ("Lifeboat.NotRestorable".into(), "outside the window".into())
        );
        let timeout = json!({"Error": "States.Timeout", "Cause": ""});
        assert!(caught(Some(&timeout)).1.contains("no engineer confirmed in time"));
        assert_eq!(caught(None).0, "States.Unknown");
    }

    #[test]
    fn unknown_steps_and_fields_are_refused() {
        assert!(Task::parse(json!({"step": "explode", "request_id": "rr-1"})).is_err());
        assert!(Task::parse(json!({"step": "swap", "request_id": "rr-1", "force": true})).is_err());
        let t = Task::parse(json!({"step": "verify", "request_id": "rr-1"})).unwrap();
        assert_eq!(t.step, Step::Verify);
    }
}
