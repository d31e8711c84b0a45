//! The executor's failures, by stable name: the definition's `Retry` and `Catch` match them.

use crate::ports::{FailureKind, PortError};

/// Retry it: a throttled or unavailable service, or a write that lost a race.
pub const RETRYABLE: &str = "Lifeboat.Retryable";
/// The execution input is malformed. Nothing was read or written.
pub const INVALID_INPUT: &str = "Lifeboat.InvalidInput";
/// The request is not approved (or another execution runs it). Nothing was written.
pub const NOT_APPROVED: &str = "Lifeboat.NotApproved";
/// The recovery point cannot be restored (outside the window, or gone).
pub const NOT_RESTORABLE: &str = "Lifeboat.NotRestorable";
/// What the restore produced is not what production should now be.
pub const VERIFICATION_FAILED: &str = "Lifeboat.VerificationFailed";
/// The approval asks for something this executor does not do (a selective restore).
pub const UNSUPPORTED: &str = "Lifeboat.Unsupported";
/// A service refused a call; retrying the same call will not help.
pub const PERMANENT: &str = "Lifeboat.Permanent";
/// Production never settled for verification within the polls (the state machine's own
/// error, caught into the failure path, which keeps the swap).
pub const VERIFY_TIMEOUT: &str = "Lifeboat.VerifyTimeout";
/// The confirmation came from someone who may not confirm this restore (not engineering,
/// or the person who filed or approved it). Nothing was touched; the restore waits again.
pub const CONFIRMATION_REFUSED: &str = "Lifeboat.ConfirmationRefused";

/// A failed step: its stable name and what went wrong, naming the resource and step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct StepError {
    pub name: &'static str,
    pub message: String,
}

impl StepError {
    pub fn new(name: &'static str, message: impl Into<String>) -> StepError {
        StepError {
            name,
            message: message.into(),
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.name == RETRYABLE
    }

    /// A port failure during `step`: retryable when the service may answer next time.
    pub fn from_port(step: &str, e: PortError) -> StepError {
        let name = match e.kind {
            FailureKind::Throttled | FailureKind::Unavailable | FailureKind::Conflict => RETRYABLE,
            FailureKind::NotFound | FailureKind::Refused | FailureKind::NotOurs => PERMANENT,
        };
        StepError::new(name, format!("step {step}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_port_failures_are_retryable() {
        let e = |kind| StepError::from_port("swap", PortError::new("ModifyDBInstance", "rds:db", kind, "x"));
        assert!(e(FailureKind::Throttled).is_retryable());
        assert!(e(FailureKind::Unavailable).is_retryable());
        assert!(e(FailureKind::Conflict).is_retryable());
        assert_eq!(e(FailureKind::Refused).name, PERMANENT);
        assert_eq!(e(FailureKind::NotFound).name, PERMANENT);
        assert!(e(FailureKind::Refused).message.contains("step swap"));
        assert!(e(FailureKind::Refused).message.contains("rds:db"));
    }
}
