//! Lifeboat's domain: what the functions decide, with no AWS or database type in sight (this
//! crate depends on neither; the adapters are `lifeboat-aws` and `lifeboat-postgres`, the
//! functions' edge `lifeboat-function`).
//!
//! - [`policy`] (named policy documents),
//!   [`schedule`] (slots and tiers in a resource's time zone), [`retention`] (what to delete
//!   and why), [`catalog`] (the recovery-point model), [`inventory`] (managed resources from
//!   tags), [`event`] (the scheduled tick), [`request`] (restore requests: filing, triage,
//!   recovery options, decisions and their life), [`execution`] (a restore's run, its
//!   input, names, errors and report), [`quota`] (which new points a short snapshot quota
//!   admits), [`audit`] (the daily audit: promised points against restorable ones, and
//!   exposure), [`drill`] (restore drills: plan, checks, report), [`rotation`] (per-resource checks spread over a day's ticks), [`fanout`] (a
//!   tick split into shards run in parallel), [`status_event`] (what Lifeboat announces on
//!   EventBridge as requests and restores move on).
//! - [`ports`]: the traits the functions need, with in-memory implementations for tests.

pub mod audit;
pub mod catalog;
pub mod drill;
pub mod event;
pub mod execution;
pub mod fanout;
pub mod inventory;
pub mod policy;
pub mod ports;
pub mod quota;
pub mod request;
pub mod retention;
pub mod rotation;
pub mod schedule;
pub mod status_event;
pub mod zone;
