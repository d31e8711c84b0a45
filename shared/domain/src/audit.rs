//! The daily audit: what the policy promises each resource against what exists and can be
//! restored, and who a backup is shared with.
//!
//! - [`promised`]: the slots a tier promises between a resource's first point and now.
//! - [`coverage`]: one resource's points, tier by tier, from the catalog and its service
//!   together (a point counts as restorable only when both hold it and the service says it
//!   is available), its continuous backup window, and what is wrong.
//! - [`exposure`]: who a snapshot's `restore` attribute lets restore it, and what became of
//!   an exposure found.
//! - [`lineage`]: whether a snapshot holds a customer's data (so that its sharing is guarded),
//!   and whether a table's resource policy is Lifeboat's to rewrite.
//! - [`table_policy`]: the statements of a DynamoDB table's resource policy that let
//!   outsiders in.
//! - [`finding`]: one thing wrong, of one kind.
//! - [`report`]: the day's report, per customer instance, with its coverage percentage.
//!
//! Pure: the audit function gathers the evidence through the ports and decides here.

pub mod coverage;
pub mod exposure;
pub mod finding;
pub mod lineage;
pub mod promised;
pub mod report;
pub mod table_policy;

pub use coverage::{audit_resource, Evidence, PointMark, ResourceAudit, TierCoverage, WindowCheck};
pub use exposure::{exposed_to, Exposure, ExposureKind};
pub use finding::{Finding, FindingKind};
pub use lineage::{lineage, KnownSources, Lineage, ManualSnapshot};
pub use promised::{promised_slots, GRACE};
pub use report::{AuditReport, InstanceAudit};
