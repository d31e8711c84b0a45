//! What every Lifeboat function shares at its edge, around its handler: [`bootstrap`] (how
//! a function starts and serves events), [`config`] (the
//! settings every function reads once at start, validated, naming a bad variable),
//! [`failure`] (how an invocation fails, with stable error names the schedules, the state
//! machine and the alarms match), [`shards`] (a fanned-out tick's shard objects), [`pacing`] (calls
//! spread within the account's rate limits), [`status_events`] (status events published
//! without ever failing a step), and [`telemetry`] (logs, and metrics as log lines).
//!
//! Not for the handlers' decisions (the domain, `lifeboat`) nor for talking to AWS
//! (`lifeboat-aws`).

pub mod bootstrap;
pub mod config;
pub mod failure;
pub mod pacing;
pub mod shards;
pub mod status_events;
pub mod telemetry;
