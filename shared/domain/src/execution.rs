//! Restore execution: what the restore state machine's steps decide, without AWS.
//!
//! The state machine (`infra/statemachines/restore.asl.json`) sequences the steps and the
//! `restore-executor` function performs them. Everything a step learns is recorded on the
//! request as its [`run::Run`], so each step can be retried (by the definition's `Retry`, or
//! by a crashed invocation being invoked again) and finds what earlier tries did.

pub mod counted;
pub mod error;
pub mod identity;
pub mod input;
pub mod names;
pub mod packing;
pub mod progress;
pub mod report;
pub mod run;
pub mod selective;
pub mod selective_report;
pub mod shard;
