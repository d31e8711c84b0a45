//! What the audit needs to find and close an exposure: who may restore an RDS snapshot, and
//! whether the reports bucket is closed to the public.

use async_trait::async_trait;

use super::PortError;

/// Sharing of RDS snapshots (the `restore` attribute). DynamoDB backups cannot be shared.
#[async_trait]
pub trait SnapshotSharing: Send + Sync {
    /// Every manual snapshot of the RDS instance `instance`, Lifeboat's and any other
    /// (restores' safety snapshots, operators'), by identifier. Automated snapshots cannot be
    /// shared and are not listed.
    async fn snapshots_of(&self, instance: &str) -> Result<Vec<String>, PortError>;

    /// The RDS instance the snapshot was taken of; `None` when no such snapshot exists.
    async fn instance_of(&self, snapshot: &str) -> Result<Option<String>, PortError>;

    /// The values of the snapshot's `restore` attribute: `all`, or account ids.
    async fn restorers(&self, snapshot: &str) -> Result<Vec<String>, PortError>;

    /// Removes `values` from the snapshot's `restore` attribute (nothing else changes).
    async fn revoke(&self, snapshot: &str, values: &[String]) -> Result<(), PortError>;
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
