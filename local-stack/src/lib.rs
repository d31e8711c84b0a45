//! The local stack: everything Lifeboat needs to run without an AWS account.
//!
//! [`LocalStack`] starts moto server, the [`edge`] and a [`postgres`] cluster (the RDS
//! instances' data), registers the real function binaries with the edge, and creates the
//! catalog table, reports bucket and state machines ([`restore_setup`], [`state_machines`]), and
//! the rule and queue that receive the functions' [`status_events`].
//! [`simulation`] drives the scheduled functions through
//! it tick by tick and reports coverage; [`demo`] is the main job of the README. Tests use
//! the same pieces.

pub mod api_client;
pub mod api_front;
pub mod bench;
pub mod browser;
pub mod cli;
pub mod demo;
pub mod drills;
pub mod edge;
pub mod fleet_tick;
pub mod function_settings;
pub mod http;
pub mod moto;
pub mod names;
pub mod port;
pub mod postgres;
pub mod resources;
pub mod restore_setup;
pub mod simulation;
pub mod stack;
pub mod state_machines;
pub mod status_events;
pub mod tables;

pub use stack::{LocalStack, StackConfig};

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("local stack setup: {0}")]
    Setup(String),
    #[error("{operation}: {message}")]
    Aws { operation: String, message: String },
}

impl From<lifeboat::ports::PortError> for StackError {
    fn from(e: lifeboat::ports::PortError) -> StackError {
        StackError::Aws {
            operation: format!("{} on {}", e.operation, e.resource),
            message: e.message,
        }
    }
}

impl StackError {
    pub fn aws(operation: &str, err: impl std::error::Error) -> StackError {
        StackError::Aws {
            operation: operation.to_string(),
            message: lifeboat_aws::describe(&err),
        }
    }
}
