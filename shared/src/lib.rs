//! Lifeboat's common crate.
//!
//! - The domain, pure and free of AWS types: [`policy`] (named policy documents),
//!   [`schedule`] (slots and tiers in a resource's time zone), [`retention`] (what to delete
//!   and why), [`catalog`] (the recovery-point model), [`inventory`] (managed resources from
//!   tags), [`event`] (the scheduled tick), [`request`] (restore requests: filing, triage,
//!   recovery options, decisions and their life), [`execution`] (a restore's run, its
//!   input, names, errors and report).
//! - [`ports`]: the traits the functions need, with in-memory implementations for tests.
//! - [`aws`]: the adapters that implement the ports with the AWS SDK.
//! - [`config`] and [`telemetry`]: what every function reads and sets up at start.

pub mod aws;
pub mod catalog;
pub mod config;
pub mod event;
pub mod execution;
pub mod failure;
pub mod inventory;
pub mod policy;
pub mod ports;
pub mod postgres;
pub mod request;
pub mod retention;
pub mod schedule;
pub mod telemetry;
pub mod zone;
