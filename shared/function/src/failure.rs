//! How a function invocation fails, with a stable error type per kind of failure.
//!
//! Lambda reports `error_type` to its caller; EventBridge Scheduler's retries, Step Functions'
//! `Retry`/`Catch` and the alarms match on it, so the names below are a contract.

use lambda_runtime::Diagnostic;

use crate::config::ConfigError;
use lifeboat::event::EventError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureType {
    /// The event is malformed; nothing was written. Permanent.
    InvalidEvent,
    /// The event's time is too far ahead of the wall clock; nothing was written. Permanent.
    EventFromTheFuture,
    /// The event's time is too old for a snapshot to belong to its slot; nothing was written.
    EventTooOld,
    /// The function's environment is wrong. Permanent until redeployed.
    Configuration,
    /// A service quota would be exceeded; nothing was created for that service.
    QuotaExceeded,
    /// Some resources failed; the others were handled. A retry redoes only what is missing;
    /// a failure no retry can fix (a bad tag, a refused call) fails every retry and keeps the
    /// alarm on until someone fixes its cause.
    ResourcesFailed,
    /// A dependency every resource needs (the catalog, the reports bucket) failed. Retryable.
    DependencyFailed,
}

impl FailureType {
    pub fn name(self) -> &'static str {
        match self {
            FailureType::InvalidEvent => "InvalidEvent",
            FailureType::EventFromTheFuture => "EventFromTheFuture",
            FailureType::EventTooOld => "EventTooOld",
            FailureType::Configuration => "Configuration",
            FailureType::QuotaExceeded => "QuotaExceeded",
            FailureType::ResourcesFailed => "ResourcesFailed",
            FailureType::DependencyFailed => "DependencyFailed",
        }
    }
}

/// A failed invocation: its type and what went wrong, naming resources and steps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", kind.name())]
pub struct FunctionError {
    pub kind: FailureType,
    pub message: String,
}

impl FunctionError {
    pub fn new(kind: FailureType, message: impl Into<String>) -> Self {
        FunctionError {
            kind,
            message: message.into(),
        }
    }
}

impl From<EventError> for FunctionError {
    fn from(e: EventError) -> Self {
        let kind = match e {
            EventError::Invalid(_) => FailureType::InvalidEvent,
            EventError::FromTheFuture { .. } => FailureType::EventFromTheFuture,
            EventError::TooOld { .. } => FailureType::EventTooOld,
        };
        FunctionError::new(kind, e.to_string())
    }
}

impl From<ConfigError> for FunctionError {
    fn from(e: ConfigError) -> Self {
        FunctionError::new(FailureType::Configuration, e.to_string())
    }
}

/// Answers every invocation with the configuration error, so that a misconfigured deployment
/// fails visibly, with the variable named and the `Configuration` type, instead of dying at
/// start where callers only see the runtime's exit.
pub async fn serve_configuration_error(error: ConfigError) -> Result<(), lambda_runtime::Error> {
    tracing::error!(%error, "misconfigured");
    let error = FunctionError::from(error);
    lambda_runtime::run(lambda_runtime::service_fn(
        move |_: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let error = error.clone();
            async move { Err::<serde_json::Value, FunctionError>(error) }
        },
    ))
    .await
}

impl From<FunctionError> for Diagnostic {
    fn from(e: FunctionError) -> Diagnostic {
        Diagnostic {
            error_type: e.kind.name().to_string(),
            error_message: e.message,
        }
    }
}
/// A state machine step's failure as Lambda reports it: the step's stable name is the error
/// type the definition's `Retry` and `Catch` match.
pub fn step_failure(e: lifeboat::execution::error::StepError) -> Diagnostic {
    Diagnostic {
        error_type: e.name.to_string(),
        error_message: e.message,
    }
}
