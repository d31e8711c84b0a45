//! Work a restore counts while it runs (a copy-back's items), as the polling step records it
//! on the resource's run.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Work counted while it runs, recorded on the resource's run by the step that polls it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub done: u64,
    /// The service's figure where it has one (a table's item count is an estimate AWS
    /// refreshes about every six hours): `done` may pass it.
    pub total: u64,
    /// `items`, `rows`.
    pub unit: String,
    /// When the counting started: the rate is `done` over the time since.
    pub since: DateTime<Utc>,
    /// When `done` was read.
    pub at: DateTime<Utc>,
}
