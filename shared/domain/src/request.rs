//! Restore requests: what support files, what engineering decides, and what it may cost.
//!
//! Pure domain, like the rest of the crate: the intake function parses HTTP bodies into these
//! types once, at its edge ([`filing`], [`decision`]), and everything after that works on
//! values that can only be valid.
//!
//! - [`filing`]: a new request, parsed and validated field by field.
//! - [`triage`]: whether it looks like an emergency under the policy, and why.
//! - [`options`]: the recovery points that could serve it, and what each would lose.
//! - [`decision`]: an engineer's approval or rejection.
//! - [`lifecycle`]: the request's states, who may move it between them, and its audit trail.
//! - [`problem`]: what is wrong with a bad input, field by field.
//! - [`principal`]: which role a session belongs to, and which person is behind it.
//! - [`roles`]: who is support and who is engineering.

mod body;
pub mod decision;
pub mod filing;
pub mod holds;
pub mod lifecycle;
pub mod options;
pub mod principal;
pub mod problem;
pub mod roles;
pub mod triage;

use serde::{Deserialize, Serialize};

/// What caused the loss, as support reports it (the policy's examples, one each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// An infrastructure failure resulted in data loss (qualifying example).
    InfrastructureFailure,
    /// A customer's API integration deleted a large volume of records it was not meant to
    /// (qualifying example, when product workflows cannot recover them).
    IntegrationMassDeletion,
    /// An individual user's edits or routine mistakes (non-qualifying).
    UserEdit,
    /// A workflow, automation or import that performed as configured (non-qualifying).
    WorkflowAsConfigured,
    /// Deletion through standard product features (non-qualifying).
    StandardProductDeletion,
    /// Configuration that can be re-created manually (non-qualifying).
    ConfigurationChange,
    Other,
}

impl Cause {
    pub const ALL: [Cause; 7] = [
        Cause::InfrastructureFailure,
        Cause::IntegrationMassDeletion,
        Cause::UserEdit,
        Cause::WorkflowAsConfigured,
        Cause::StandardProductDeletion,
        Cause::ConfigurationChange,
        Cause::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Cause::InfrastructureFailure => "infrastructure_failure",
            Cause::IntegrationMassDeletion => "integration_mass_deletion",
            Cause::UserEdit => "user_edit",
            Cause::WorkflowAsConfigured => "workflow_as_configured",
            Cause::StandardProductDeletion => "standard_product_deletion",
            Cause::ConfigurationChange => "configuration_change",
            Cause::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What the loss affected, in support's words.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    /// Object types (`contacts`, `applications`, ...).
    pub objects: Vec<String>,
    /// Specific records, by whatever identifies them to support (ids, names).
    pub records: Vec<String>,
    /// Areas of the platform (`admissions portal`, `email campaigns`, ...).
    pub areas: Vec<String>,
    /// Roughly how many records were lost, when support knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_records: Option<u64>,
}
