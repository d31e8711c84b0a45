//! Ports: what the functions need from the outside world, as traits.
//!
//! The AWS adapters of `lifeboat-aws` implement them for a deployment (and the local stack);
//! [`memory`] implements them in memory for domain tests. Nothing here names an AWS type.

pub mod exposure;
pub mod inspector;
pub mod locks;
pub mod memory;
pub mod merger;
pub mod requests;
pub mod restorer;
pub mod status_events;
pub mod workflow;

pub use exposure::{
    BucketAccess, SnapshotPage, SnapshotSharing, SnapshotsOf, TablePolicies, TablePolicy,
    SNAPSHOT_SOURCES_BATCH,
};
pub use inspector::SandboxInspector;
pub use locks::ResourceLocks;
pub use requests::{IdempotencyStore, Remembered, RequestStore, StoredRequest};
pub use status_events::StatusEvents;
pub use workflow::RestoreWorkflow;

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use crate::inventory::{DiscoveredResource, PitrStatus};
use crate::request::options::RestorableWindow;
use crate::schedule::{Slot, TierSet};

/// How a call to a port failed, which decides whether retrying can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The service asked us to slow down.
    Throttled,
    /// The service failed or could not be reached; a retry may succeed.
    Unavailable,
    /// The thing asked for does not exist.
    NotFound,
    /// A conditional write lost (someone else changed the record first).
    Conflict,
    /// The service refused the request; retrying the same request will not help.
    Refused,
    /// A resource by the name asked for exists but is not provably this restore's (or this
    /// drill's): left exactly as it is, never taken, changed or deleted.
    NotOurs,
}

impl FailureKind {
    pub fn is_retryable(self) -> bool {
        matches!(self, FailureKind::Throttled | FailureKind::Unavailable)
    }
}

/// A failed call: which operation, on which resource, and what the service said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} on {resource} failed ({kind:?}): {message}")]
pub struct PortError {
    pub operation: &'static str,
    pub resource: String,
    pub kind: FailureKind,
    pub message: String,
}

impl PortError {
    pub fn new(
        operation: &'static str,
        resource: impl fmt::Display,
        kind: FailureKind,
        message: impl Into<String>,
    ) -> Self {
        PortError {
            operation,
            resource: resource.to_string(),
            kind,
            message: message.into(),
        }
    }
}

/// A Lifeboat-named snapshot or backup as its service holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePoint {
    pub resource: ResourceKey,
    pub slot: Slot,
    /// RDS snapshot identifier or DynamoDB backup ARN.
    pub service_id: String,
    pub state: PointState,
    /// Tags on the point (RDS snapshots carry Lifeboat's; DynamoDB backups carry none).
    pub tags: BTreeMap<String, String>,
}

/// What to create: the point of `resource` for `slot`, named by [`ResourceKey::point_name`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewPoint {
    pub resource: ResourceKey,
    pub instance_id: String,
    pub slot: Slot,
    pub tiers: TierSet,
    pub policy: String,
    pub timezone: String,
}

/// A service quota and its use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub name: String,
    pub used: u64,
    pub max: u64,
}

/// Whether a delete removed something or found it already gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    AlreadyGone,
}

/// The most ids one [`BackupService::describe_points`] call is given.
pub const DESCRIBE_BATCH: usize = 50;

/// One backup service (RDS or DynamoDB), as the scheduled functions use it.
#[async_trait]
pub trait BackupService: Send + Sync {
    fn kind(&self) -> ResourceKind;

    /// Every resource of this service that carries any tags, with its tags.
    async fn discover(&self) -> Result<Vec<DiscoveredResource>, PortError>;

    /// The resources tagged for one customer instance (`lifeboat:instance`), found without
    /// listing the fleet.
    async fn discover_instance(&self, instance_id: &str) -> Result<Vec<DiscoveredResource>, PortError>;

    /// The continuous-backup state of a resource (for services whose discovery lacks it).
    async fn pitr_status(&self, resource: &ResourceKey) -> Result<PitrStatus, PortError>;

    /// Turns continuous backups on with a window of at least `days`. A longer window is left
    /// as it is: shortening one deletes recovery history (the policy's window is a minimum).
    async fn raise_pitr_window(&self, resource: &ResourceKey, days: u8) -> Result<(), PortError>;

    /// The continuous-backup window the service reports for a resource; `None` when
    /// continuous backups are off or the service reports no window.
    async fn restorable_window(&self, resource: &ResourceKey) -> Result<Option<RestorableWindow>, PortError>;

    /// The quota on manual snapshots, where the service has one and tells it.
    async fn snapshot_quota(&self) -> Result<Option<Quota>, PortError>;

    /// Every Lifeboat-named point the service holds in the region: a listing of the whole
    /// fleet, for the simulation's and audits' views, never for an hourly tick.
    async fn points(&self) -> Result<Vec<ServicePoint>, PortError>;

    /// The Lifeboat-named points of one resource (also of a resource that no longer exists).
    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError>;

    /// The point of `resource` for `slot`, if the service holds it.
    async fn find_point(&self, resource: &ResourceKey, slot: Slot)
        -> Result<Option<ServicePoint>, PortError>;

    /// The point the service knows by `service_id` (from its creation's answer), if it
    /// still holds it: one look-up by id, which for DynamoDB is not a `ListBackups` (5 a
    /// second per account) but a `DescribeBackup`.
    async fn describe_point(
        &self,
        resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Option<ServicePoint>, PortError>;

    /// The points of `ids` (resource, service id) the service still holds, in as few calls
    /// as it allows: at most [`DESCRIBE_BATCH`] ids are passed at once; RDS answers them in
    /// one call. By default, one [`BackupService::describe_point`] each.
    async fn describe_points(&self, ids: &[(ResourceKey, String)]) -> Result<Vec<ServicePoint>, PortError> {
        let mut found = Vec::new();
        for (resource, id) in ids {
            found.extend(self.describe_point(resource, id).await?);
        }
        Ok(found)
    }

    /// Asks the service to create the point. Not idempotent on its own for every service:
    /// callers claim the slot in the catalog first and look before creating again.
    async fn create_point(&self, point: &NewPoint) -> Result<ServicePoint, PortError>;

    /// Deletes a point Lifeboat created.
    async fn delete_point(&self, resource: &ResourceKey, service_id: &str) -> Result<Deletion, PortError>;
}

/// The outcome of claiming a slot in the catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The record was written: this run creates the point.
    Claimed,
    /// A record for the slot exists already (a retry, or a concurrent run).
    Exists(Box<RecoveryPoint>),
}

/// A change to a catalogued point's state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub state: PointState,
    pub service_id: Option<String>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// The recovery-point catalog.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// The records of these (resource, slot) pairs that exist.
    async fn get_points(&self, keys: &[(ResourceKey, Slot)]) -> Result<Vec<RecoveryPoint>, PortError>;

    /// Writes `point` unless a record for its slot exists. A `due` record (tiers an earlier
    /// tick handed on to the slot, nothing asked of the service) is no point: it is replaced.
    async fn claim(&self, point: &RecoveryPoint) -> Result<Claim, PortError>;

    /// Every record of one resource, in any state.
    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<RecoveryPoint>, PortError>;

    /// The records of one resource's present points (`creating` or `available`), without the
    /// records of deleted points it keeps for 400 days (a year of hourly history per
    /// resource, which an hourly read of [`Catalog::points_of`] would pay for every time).
    /// May be a moment stale: whoever acts on it writes conditionally.
    async fn present_points_of(&self, resource: &ResourceKey) -> Result<Vec<RecoveryPoint>, PortError>;

    /// The latest available point of `resource` taken before `t` (whose slot starts before it).
    async fn latest_available_before(
        &self,
        resource: &ResourceKey,
        t: DateTime<Utc>,
    ) -> Result<Option<RecoveryPoint>, PortError>;

    /// Every record, in any state.
    async fn all_points(&self) -> Result<Vec<RecoveryPoint>, PortError>;

    /// The records of points the services should hold (`creating` or `available`). Deleted
    /// and missing records stay as the record of why, but retention need not read them.
    async fn present_points(&self) -> Result<Vec<RecoveryPoint>, PortError>;

    /// How many present points each resource has, without the records: what a fleet's plan
    /// needs (the records of 20,000 resources' present points would not fit a function).
    async fn present_counts(&self) -> Result<BTreeMap<ResourceKey, usize>, PortError>;

    /// The records of the slots `from` to `to` (both included) that may owe a weekly or
    /// monthly tier: written so ([`crate::schedule::late::owing::may_owe`]) and since neither
    /// answered by the service (a state change with a service id), marked deleted, nor
    /// discharged. Read from a sparse index of those records only, so it costs what is owed,
    /// never a read per resource; may be a moment stale.
    async fn owing_between(&self, from: Slot, to: Slot) -> Result<Vec<RecoveryPoint>, PortError>;

    /// Writes `point` (a reservation, see [`crate::schedule::late::reserved`]) unless its slot
    /// has a record already, whatever its state: `true` when written. Idempotent.
    async fn reserve(&self, point: &RecoveryPoint) -> Result<bool, PortError>;

    /// Takes a record out of those that may owe: what it owed is carried by a later record,
    /// or no longer owed. `note` (why) becomes its note. Idempotent: a record already out
    /// stays as it is; a `NotFound` error when there is no such record.
    async fn discharge(&self, resource: &ResourceKey, slot: Slot, note: &str) -> Result<(), PortError>;

    /// Sets the state (and service id, note) of a record; a `Conflict` error for a deleted one.
    /// A change with a service id to a present state is the service's answer: the record no
    /// longer owes anything.
    async fn update_state(
        &self,
        resource: &ResourceKey,
        slot: Slot,
        change: &StateChange,
    ) -> Result<(), PortError>;

    /// Sets the state of several records, in as few calls as the catalog allows; the outcome
    /// of each change, in order.
    async fn update_states(
        &self,
        changes: &[(ResourceKey, Slot, StateChange)],
    ) -> Vec<Result<(), PortError>> {
        let mut results = Vec::with_capacity(changes.len());
        for (resource, slot, change) in changes {
            results.push(self.update_state(resource, *slot, change).await);
        }
        results
    }

    /// Marks a present, unheld record deleted; a `Conflict` error when a hold was placed or
    /// the state changed meanwhile, so the caller must not delete the point.
    async fn mark_deleted(
        &self,
        resource: &ResourceKey,
        slot: Slot,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PortError>;

    /// Adds a hold on a present record; a `Conflict` error when the point is deleted or missing.
    async fn add_hold(&self, resource: &ResourceKey, slot: Slot, holder: &str) -> Result<(), PortError>;

    /// Removes a hold from a record.
    async fn remove_hold(&self, resource: &ResourceKey, slot: Slot, holder: &str) -> Result<(), PortError>;
}

/// The reports bucket, as a store of objects by key: reports written there, and the
/// extracts of selective restores written and read back.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError>;
    /// What was put at `key` (an extract batch, read back by the merge).
    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError>;
    /// The keys under `prefix` that sort after `start_after`, in order, at most `limit`:
    /// records keyed by time are read from a date on without reading the older ones.
    async fn list(&self, prefix: &str, start_after: &str, limit: usize) -> Result<Vec<String>, PortError>;
    /// Removes the object at `key`; one already gone is not an error.
    async fn delete(&self, key: &str) -> Result<(), PortError>;
}
