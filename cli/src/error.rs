//! What can go wrong, each with what to do next, and the exit code a script can act on.
//!
//! Exit codes (also in `lifeboat --help` and the README):
//! 0 done; 1 a watched restore ended failed, rejected or cancelled; 2 bad arguments or an
//! unreadable input file; 3 the API refused the call (4xx); 4 the API could not be reached
//! or failed (5xx, timeout); 5 configuration: no endpoint, no credentials, no region.

use std::process::ExitCode;

use crate::problem::Problem;

pub const EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  `requests watch`: the restore ended failed, rejected or cancelled;
     `drills start --wait`: the drill did not succeed
  2  bad arguments, or an input file that cannot be read or is not JSON
  3  the API refused the call (4xx); the fields at fault are on stderr
  4  the API could not be reached, timed out or failed (5xx)
  5  configuration: no endpoint, no AWS credentials, no region";

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Config(String),
    /// The API answered with a problem document.
    #[error("{}", .0.render())]
    Problem(Problem),
    /// The API (or API Gateway in front of it) answered an error that is not a problem
    /// document.
    #[error("{method} {url} answered {status}: {body}{hint}")]
    Http {
        method: String,
        url: String,
        status: u16,
        body: String,
        hint: &'static str,
    },
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    /// A watched restore ended without completing.
    #[error("restore request {id} ended {status}")]
    NotCompleted { id: String, status: String },
    /// A followed drill ended without succeeding.
    #[error("drill {execution} ended {status}: read its report under drills/ in the reports bucket")]
    DrillNotSucceeded { execution: String, status: String },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::NotCompleted { .. } | CliError::DrillNotSucceeded { .. } => 1,
            CliError::Usage(_) => 2,
            CliError::Problem(p) if p.status < 500 => 3,
            CliError::Http { status, .. } if *status < 500 => 3,
            CliError::Problem(_) | CliError::Http { .. } | CliError::Unreachable { .. } => 4,
            CliError::Config(_) => 5,
        }
    }

    /// Whether trying the same call again later may succeed (a watch keeps polling).
    pub fn is_transient(&self) -> bool {
        self.exit_code() == 4
    }

    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16) -> CliError {
        CliError::Problem(Problem {
            title: "t".into(),
            status,
            detail: String::new(),
            errors: Vec::new(),
        })
    }

    #[test]
    fn refusals_and_failures_of_the_api_exit_differently() {
        assert_eq!(problem(400).exit_code(), 3);
        assert_eq!(problem(409).exit_code(), 3);
        assert_eq!(problem(503).exit_code(), 4);
        assert!(problem(503).is_transient());
        assert!(!problem(404).is_transient());
        let unreachable = CliError::Unreachable {
            endpoint: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 4);
        assert_eq!(CliError::Config("no endpoint".into()).exit_code(), 5);
        assert_eq!(
            CliError::NotCompleted {
                id: "rr-1".into(),
                status: "failed".into()
            }
            .exit_code(),
            1
        );
    }
}
