//! Restore drills: a recovery point of each of an instance's resources restored into a
//! sandbox on a schedule, its data checked against production, the sandbox deleted in every
//! outcome. What a drill decides, with no service in sight:
//!
//! - [`plan`]: when an instance's weekly drill falls (spread over the week's hours), which
//!   point each resource restores (the latest available, a chosen one, or one at random
//!   within the retention), and the sandbox's name (`lbd-…`, which no production resource,
//!   scheduled point or restore's staging can carry).
//! - [`checks`]: an instance's own checks from its policy document, and the comparisons of
//!   the sandbox's schema and row counts with production's.
//! - [`report`]: a drill's outcome, its restore time (RTO) and data age.
//! - [`records`]: where a drill's plan, checks, outcome and sweep are kept.
//! - [`sample`]: a table's keys sampled over a scan, to read back.
//!
//! The drill state machine and its steps are `functions/restore-drill`.

pub mod checks;
pub mod plan;
pub mod records;
pub mod report;
pub mod sample;
