//! What the audit needs to find and close an exposure: the account's manual RDS snapshots and
//! who may restore each, DynamoDB tables' resource policies, and whether the reports bucket
//! is closed to the public.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::PortError;
use crate::audit::ManualSnapshot;

/// The most instances one snapshot listing names (`db-instance-id` filter values).
pub const SNAPSHOT_SOURCES_BATCH: usize = 50;

/// Which manual snapshots a listing asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotsOf<'a> {
    /// Every manual snapshot of the account.
    Account,
    /// Those taken of these instances (by the names they had then), at most
    /// [`SNAPSHOT_SOURCES_BATCH`] of them.
    Instances(&'a [String]),
}

/// One page of a snapshot listing, and where the next starts (`None`: the last).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotPage {
    pub snapshots: Vec<ManualSnapshot>,
    pub next: Option<String>,
}

/// Sharing of RDS snapshots (the `restore` attribute). DynamoDB backups cannot be shared.
#[async_trait]
pub trait SnapshotSharing: Send + Sync {
    /// One page of manual snapshots (`marker`: where the page starts, from the one before),
    /// Lifeboat's and any other (restores' safety snapshots, operators', copies), with the
    /// instance each was taken of and its tags. A page is one call to the service, so that
    /// a caller paces pages. Automated snapshots cannot be shared and are not listed.
    async fn manual_snapshots(
        &self,
        of: SnapshotsOf<'_>,
        marker: Option<String>,
    ) -> Result<SnapshotPage, PortError>;

    /// The manual snapshot `snapshot`; `None` when no such snapshot exists.
    async fn snapshot(&self, snapshot: &str) -> Result<Option<ManualSnapshot>, PortError>;

    /// The values of the snapshot's `restore` attribute: `all`, or account ids.
    async fn restorers(&self, snapshot: &str) -> Result<Vec<String>, PortError>;

    /// Removes `values` from the snapshot's `restore` attribute (nothing else changes).
    async fn revoke(&self, snapshot: &str, values: &[String]) -> Result<(), PortError>;
}

/// A table's resource policy as read, with the revision a rewrite must still find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePolicy {
    pub document: String,
    pub revision: String,
}

/// DynamoDB tables' resource policies.
#[async_trait]
pub trait TablePolicies: Send + Sync {
    /// Every table of the account, by name.
    async fn tables(&self) -> Result<Vec<String>, PortError>;

    /// The table's resource policy; `None` when it has none, or the table is gone.
    async fn policy(&self, table: &str) -> Result<Option<TablePolicy>, PortError>;

    /// The table's tags, its marks among them.
    async fn tags(&self, table: &str) -> Result<BTreeMap<String, String>, PortError>;

    /// Replaces the table's policy with `document`, only while its revision is still
    /// `revision`: a policy changed since it was read is a `Conflict`, and nothing is written.
    async fn replace_policy(&self, table: &str, document: &str, revision: &str) -> Result<(), PortError>;

    /// Deletes the table's policy, only while its revision is still `revision` (as
    /// [`Self::replace_policy`]).
    async fn delete_policy(&self, table: &str, revision: &str) -> Result<(), PortError>;
}

/// The public-access settings of a bucket Lifeboat writes (the reports bucket: reports,
/// extracts of customer records).
#[async_trait]
pub trait BucketAccess: Send + Sync {
    /// The bucket's name, for findings.
    fn bucket(&self) -> &str;

    /// What in the bucket's settings would let the public in: each of the four public-access
    /// blocks that is off (all four when none is configured). Empty when the bucket is closed.
    async fn public_openings(&self) -> Result<Vec<String>, PortError>;

    /// Turns all four public-access blocks on.
    async fn block_public_access(&self) -> Result<(), PortError>;
}
