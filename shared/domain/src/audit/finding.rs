//! A finding: one thing wrong, about one subject, of one kind (what the page lists and the
//! alarms count).

use serde::{Deserialize, Serialize};

/// What kind of thing is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A copy of customer data someone outside the account could reach: a guarded snapshot
    /// or the reports bucket (revoked when found), a table's resource policy (removed from
    /// Lifeboat's own tables, reported on production's).
    Exposed,
    /// Promised points that are not restorable.
    MissingPoints,
    /// A managed resource never backed up.
    NoPoints,
    /// The continuous backup window is off or shorter than the policy's.
    WindowShort,
    /// The catalog offers a point its service does not hold.
    CatalogOnly,
    /// A point its service still has not made available.
    NotAvailable,
    /// A Lifeboat point the service holds and the catalog does not offer.
    ServiceOnly,
    /// A resource with points that Lifeboat no longer manages.
    Unmanaged,
    /// A resource whose tags Lifeboat cannot read.
    BadTags,
    /// An instance with no successful restore drill on record, or none for too long.
    DrillOverdue,
    /// Something the audit could not check (a service call failed).
    NotChecked,
}

/// One thing wrong, about one subject (a resource, snapshot or bucket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub subject: String,
    pub what: String,
}

impl Finding {
    pub fn new(kind: FindingKind, subject: String, what: String) -> Finding {
        Finding { kind, subject, what }
    }
}
