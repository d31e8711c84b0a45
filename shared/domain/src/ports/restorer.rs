//! The port of a restore's work on one service: safety snapshots, staging restores, the swap
//! into production and its undo, verification and cleanup.
//!
//! Every method is idempotent and looks before it acts, because the state machine retries
//! steps and a crashed invocation is invoked again. Long operations (restores, renames) are
//! started and then polled: a method answers [`Progress::Pending`] until done, and the
//! state machine waits between polls. Work too large for one invocation (a DynamoDB
//! copy-back) is answered as [`Progress::Spread`]: shards the state machine runs in
//! parallel through [`Restorer::run_shard`] before asking again.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use std::time::Duration;

use super::{Deletion, FailureKind, PortError};
use crate::catalog::{ResourceKey, ResourceKind};
use crate::execution::identity::{refusal, Identity, Made};
use crate::execution::shard::{Purpose, Shard};

/// Whether a polled operation is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Done,
    /// Still going: what it waits for.
    Pending(String),
    /// Not done until these shards have run (each through [`Restorer::run_shard`]).
    Spread(Vec<Shard>),
}

impl Progress {
    pub fn is_done(&self) -> bool {
        matches!(self, Progress::Done)
    }
}

/// Work a restore counts while it runs (a copy-back's items read of the two tables').
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkCount {
    pub done: u64,
    /// The service's estimate where it has one: `done` may pass it.
    pub total: u64,
    pub unit: &'static str,
}

/// What to restore into staging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreFrom {
    /// The service's point-in-time restore of production to this instant.
    PointInTime(DateTime<Utc>),
    /// An RDS snapshot identifier or a DynamoDB backup ARN.
    Snapshot(String),
}

/// Where a restore's staging comes from, and a time recorded before that restore was first
/// asked for: with the service's own record of where a resource came from, what proves that a
/// resource by the staging name is this restore's (made by its restore call, not before it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub from: RestoreFrom,
    /// Recorded before the restore was first asked for (a run's start, a drill's plan): a
    /// resource created before it is not this restore's.
    pub asked_after: DateTime<Utc>,
}

/// One restore's names for a resource, as the service methods need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    pub request_id: &'a str,
    pub production: &'a ResourceKey,
    pub staging: &'a str,
    pub fallback: &'a str,
    /// What staging is restored from and since when; `None` before the recovery point is
    /// resolved (then nothing by the staging name can be this restore's but what carries its
    /// marks).
    pub origin: Option<Origin>,
    /// Staging's identity, pinned once staging was proven this restore's and ready: what
    /// staging must still be at every later use (see [`crate::execution::identity`]).
    pub staging_identity: Option<&'a Identity>,
    /// An undo's fallback's identity: a DynamoDB undo's restore of the pre-swap backup, pinned
    /// once proven; an RDS instance's original (production before the swap sets it aside),
    /// pinned with staging (see [`Restorer::original`]).
    pub fallback_identity: Option<&'a Identity>,
}

impl Target<'_> {
    /// What staging is restored from: refused before the recovery point is resolved.
    pub fn restore_from(&self) -> Result<&RestoreFrom, PortError> {
        self.origin.as_ref().map(|o| &o.from).ok_or_else(|| {
            PortError::new(
                "start_staging",
                self.production,
                FailureKind::Refused,
                "the recovery point is not resolved: nothing to restore from",
            )
        })
    }
}

/// What holds production's name, as an engineer needs to know it when an undo cannot go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The restored resource: production holds the rollback.
    Restored,
    /// The resource that was production before the swap.
    Original,
    /// Nothing: production's name is free (between an undo's renames).
    Nobody,
    /// A resource that is neither (made under production's name by someone else while the
    /// original was aside): never moved by Lifeboat.
    Other,
    /// The service cannot tell (a table whose items a copy-back changed holds some of each).
    Unknown,
}

/// The outcome of comparing production with what was restored; each carries what was
/// compared and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Production is what was restored.
    Passed(String),
    /// The restore finished and production holds it, with differences that came after it
    /// (writes or expiries since): reported, and left as they are for an engineer.
    PassedWithDifferences(String),
    /// Production is in a state that settles by itself (a backup running, settings being
    /// applied): look again after a while.
    Settling(String),
    /// The comparison is spread over these shards: run them, then ask again.
    Spread(Vec<Shard>),
    /// Production is not what was restored.
    Failed(String),
}

#[async_trait]
pub trait Restorer: Send + Sync {
    fn kind(&self) -> ResourceKind;

    /// Whether the snapshot or backup `service_id` of `resource` exists and is usable.
    async fn snapshot_usable(&self, resource: &ResourceKey, service_id: &str) -> Result<bool, PortError>;

    /// Asks for a snapshot of production named `name`; its service id. Asking again returns
    /// the one asked for first.
    async fn start_safety_snapshot(
        &self,
        resource: &ResourceKey,
        name: &str,
        request_id: &str,
    ) -> Result<String, PortError>;

    async fn safety_snapshot_ready(
        &self,
        resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Progress, PortError>;

    /// Asks for the restore of the target's origin into `target.staging`, with production's
    /// settings where the restore takes them. Asking again does nothing; a resource by the
    /// staging name that is not provably this restore's is refused, never adopted.
    async fn start_staging(&self, target: &Target<'_>) -> Result<(), PortError>;

    /// `Done` once staging is usable and marked as this restore's; refused if what carries
    /// the staging name is not provably this restore's.
    async fn staging_ready(&self, target: &Target<'_>) -> Result<Progress, PortError>;

    /// The service's identity of what `target` names as `made` (staging once ready, an
    /// undo's fallback once restored), for the caller to pin: only a resource provably this
    /// restore's and marked as such; `NotOurs` for anything else by the name, `NotFound` for
    /// nothing. Every later use requires the resource by the name to have this identity.
    async fn identity(&self, target: &Target<'_>, made: Made) -> Result<Identity, PortError>;

    /// Production's own identity, for a restorer whose undo puts the very original back (an
    /// RDS instance the swap renames aside as the fallback): the caller pins it as
    /// `fallback_identity` before the swap's first change, and the swap and the undo take as
    /// the original only the resource of that identity. `None` where the undo makes a fallback
    /// of its own instead (DynamoDB's, pinned once restored).
    async fn original(&self, _target: &Target<'_>) -> Result<Option<Identity>, PortError> {
        Ok(None)
    }

    /// Whether what `target` names as `made` is still the resource pinned for it (proven
    /// ours, marked, and of the pinned identity): `NotOurs` naming it and why, if not.
    async fn still_pinned(&self, target: &Target<'_>, made: Made) -> Result<(), PortError> {
        let found = self.identity(target, made).await?;
        let (name, pinned) = match made {
            Made::Staging => (target.staging, target.staging_identity),
            Made::Fallback => (target.fallback, target.fallback_identity),
        };
        match refusal(made, pinned, &found) {
            None => Ok(()),
            Some(why) => Err(PortError::new(
                "identity check",
                format!("{}:{name}", self.kind().as_str()),
                FailureKind::NotOurs,
                format!("not this restore's {}, left untouched: {why}", made.as_str()),
            )),
        }
    }

    /// Takes the next step of making staging's content production's; `Done` when it is.
    /// Staging (and, once it holds production's name, the restored resource) must be the one
    /// pinned (`target.staging_identity`) and marked, at every step: `NotOurs` otherwise,
    /// before anything of production is changed by that step.
    async fn swap(&self, target: &Target<'_>, safety_snapshot: &str) -> Result<Progress, PortError>;

    /// Takes the next step of putting production back as it was before the swap. A resource
    /// that has carried production's name is never deleted: it is kept aside (see
    /// [`Restorer::kept_aside`]).
    async fn undo_swap(&self, target: &Target<'_>, safety_snapshot: &str) -> Result<Progress, PortError>;

    /// Why a rollback of `resource` cannot be done this way, if it cannot (a DynamoDB table
    /// too large to copy back): asked at resolve, before anything is made.
    async fn refusal(&self, _resource: &ResourceKey) -> Result<Option<String>, PortError> {
        Ok(None)
    }

    /// Whether the swap has finished its work on production though the run has not recorded
    /// it yet (a DynamoDB copy-back whose every shard is done): such a swap is kept, never
    /// undone.
    async fn swap_finished(&self, _target: &Target<'_>) -> Result<bool, PortError> {
        Ok(false)
    }

    /// What holds production's name now (see [`Holder`]).
    async fn holder(&self, _target: &Target<'_>) -> Result<Holder, PortError> {
        Ok(Holder::Unknown)
    }

    /// What a finished undo kept of the restored resource, because it had served as
    /// production (its name), if anything.
    async fn kept_aside(&self, _target: &Target<'_>) -> Result<Option<String>, PortError> {
        Ok(None)
    }

    /// What a finished undo found production to differ from what it put back (a DynamoDB
    /// undo compares the live table with the pre-swap content item by item), named with
    /// sample keys; `None` when it matched, or for an undo that puts the very resource back
    /// (an RDS rename).
    async fn undo_differences(&self, _target: &Target<'_>) -> Result<Option<String>, PortError> {
        Ok(None)
    }

    /// How much of the spread work of `purpose` is done, for restores that count it (a
    /// DynamoDB copy-back); `None` for those that do not, or before it started.
    async fn counted(&self, _target: &Target<'_>, _purpose: Purpose) -> Result<Option<WorkCount>, PortError> {
        Ok(None)
    }

    /// Checks production now is what was restored (staging, or the restored resource, the
    /// one pinned: `NotOurs` otherwise).
    async fn verify(&self, target: &Target<'_>) -> Result<Verification, PortError>;

    /// Runs `shard` of this resource's restore for about `budget`, resuming where its last
    /// run stopped; `Done` when the shard is finished. The table it copies or compares from
    /// (staging for a swap or verification, the fallback for an undo) must be the one pinned
    /// and marked before anything is read: `NotOurs` otherwise, and nothing is written.
    async fn run_shard(
        &self,
        target: &Target<'_>,
        shard: &Shard,
        _budget: Duration,
    ) -> Result<Progress, PortError> {
        Err(PortError::new(
            "run_shard",
            target.production,
            FailureKind::Refused,
            format!(
                "{} restores have no shards ({})",
                self.kind().as_str(),
                shard.label()
            ),
        ))
    }

    /// Deletes staging, if it is provably this request's (never production), and once
    /// pinned, the very one pinned: an `AlreadyGone` when nothing carries its name, refused
    /// when what does is not ours.
    async fn delete_staging(&self, target: &Target<'_>) -> Result<Deletion, PortError>;
}
