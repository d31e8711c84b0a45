//! [`Restorer`] for DynamoDB tables: on-demand safety backups, restores into a staging
//! table, and the copy-back swap.
//!
//! A restored table is a new table without production's streams, TTL, alarms, autoscaling
//! or tags, so production is never replaced: the swap backs the live table up once more
//! (`lbpre-…`, after the confirmation), and once that backup is available brings the live
//! table's items to staging's content, spread over shards the state machine runs in
//! parallel (see [`super::dynamodb_copy_back`]). Verification compares the two tables the
//! same way, writing nothing: a difference found then came after the copy-back finished
//! (a straggler write, a TTL expiry) and is reported, never undone. Only a copy-back that
//! failed part-way is undone: its shards are fenced and waited out (their writes are bounded
//! in time, so the wait is a proof, see [`super::dynamodb_copy_back`]); with no checkpoint,
//! nothing was written and nothing is undone; otherwise the live table as it was left is
//! backed up and kept (`lbr-…`), the pre-swap backup, once available, is restored into a
//! fallback table and copied back the same way, and the live table is then compared with the
//! fallback as a swap is verified: the undo says production is back as it was only when they
//! match, and names the differences (with sample keys) when they do not.
//!
//! Staging, a drill's sandbox and the fallback are found by name, but adopted, marked, read,
//! written or deleted only once [`super::dynamodb_provenance`] proves them this restore's:
//! its marks, or DynamoDB's own record of the restore that made them. Once proven and ready,
//! a table's identity is pinned by the caller (staging at `check_ready`, the fallback when
//! the undo's shards are about to copy from it): each swap poll, each shard before it reads
//! its source and after each page it reads, verification and the deletions require the
//! table by the name to be the one pinned and marked, or fail [`FailureKind::NotOurs`] with
//! production untouched by them.
//! The backups (safety, pre-swap, retired) are this restore's only as
//! [`super::dynamodb_backups`] records them, never by their names.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::DateTime as SdkDateTime;
use aws_sdk_dynamodb::types::{BackupStatus, TableStatus, Tag};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::dynamodb_backups::{described, Taken};
use super::dynamodb_copy_back::{unfinished, CopyBack, PinnedSource, Tally, WriteBounds};
use super::dynamodb_items::item_count;
use super::dynamodb_provenance::{pinned, provenance, Claim, Owned, Source};
use super::port_error;
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::execution::identity::{Identity, Made};
use lifeboat::execution::names::names;
use lifeboat::execution::shard::{Purpose, Shard};
use lifeboat::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Progress, RestoreFrom, Restorer, Target, Verification, WorkCount};
use lifeboat::ports::{Deletion, FailureKind, PortError};

pub struct DynamoRestorer {
    client: Client,
    /// The requests table, which keeps the copy-backs' plans and checkpoints.
    ledger: String,
    settings: CopyBackSettings,
}

/// How copy-backs run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyBackSettings {
    /// Items per scanned page (`None`: DynamoDB's 1 MB pages).
    pub page_items: Option<i32>,
    /// How long a shard's write batch may go on after the fence read that let it through;
    /// an undo waits [`WriteBounds::undo_wait`] after fencing before it writes anything.
    pub bounds: WriteBounds,
    /// The largest table a rollback copies back: beyond it, the shards' invocations would
    /// outgrow one execution's history (25,000 events; about a dozen per invocation, each
    /// invocation copying at least 600 MB at 1 MB/s, for the swap and again for
    /// verification). Refused at resolve, before anything is made.
    pub max_bytes: u64,
}

impl Default for CopyBackSettings {
    fn default() -> Self {
        CopyBackSettings {
            page_items: None,
            bounds: WriteBounds::default(),
            max_bytes: 150 << 30,
        }
    }
}

impl DynamoRestorer {
    pub fn new(client: Client, ledger: impl Into<String>, settings: CopyBackSettings) -> Self {
        DynamoRestorer {
            client,
            ledger: ledger.into(),
            settings,
        }
    }

    fn copy_back<'a>(&'a self, target: &Target<'a>) -> CopyBack<'a> {
        self.ledger_of(target.request_id)
    }

    /// The copy-backs' ledger of one request: plans, checkpoints, fences and backups.
    fn ledger_of<'a>(&'a self, request_id: &'a str) -> CopyBack<'a> {
        CopyBack {
            client: &self.client,
            ledger: &self.ledger,
            request_id,
            page_items: self.settings.page_items,
            bounds: self.settings.bounds,
        }
    }

    /// The shards of the copy-back of `purpose` from `source` that are not done yet, with
    /// what they add up to.
    async fn remaining(
        &self,
        target: &Target<'_>,
        purpose: Purpose,
        source: &str,
    ) -> Result<(Vec<Shard>, Tally), PortError> {
        let copy_back = self.copy_back(target);
        let tables = [source, target.production.name.as_str()];
        let shards = copy_back.plan(target.production, purpose, tables).await?;
        let checkpoints = copy_back.checkpoints(&shards).await?;
        let tally = Tally::of(&shards, &checkpoints);
        Ok((unfinished(shards, &checkpoints), tally))
    }

    /// Whether the swap's copy-back wrote (or may have written) anything.
    async fn copy_back_started(&self, target: &Target<'_>) -> Result<bool, PortError> {
        let copy_back = self.copy_back(target);
        let Some(segments) = copy_back.planned(target.production, Purpose::Swap).await? else {
            return Ok(false);
        };
        let shards = Shard::all(target.production, Purpose::Swap, segments);
        Ok(copy_back.checkpoints(&shards).await?.iter().any(Option::is_some))
    }

    /// What the checkpoints of the copy-back of `purpose` add up to, if it was planned.
    async fn tally(&self, target: &Target<'_>, purpose: Purpose) -> Result<Option<Tally>, PortError> {
        let copy_back = self.copy_back(target);
        let Some(segments) = copy_back.planned(target.production, purpose).await? else {
            return Ok(None);
        };
        let shards = Shard::all(target.production, purpose, segments);
        Ok(Some(Tally::of(&shards, &copy_back.checkpoints(&shards).await?)))
    }

    /// The table `name` if it is provably `claim`'s, `None` if there is none; refused if it
    /// is not ours.
    async fn owned(&self, name: &str, claim: &Claim<'_>) -> Result<Option<Owned>, PortError> {
        provenance(&self.client, name, claim).await
    }

    /// Whether the table `name` is ACTIVE; marks it as the claim's on the way (tags can only
    /// be put on a table that exists, and restores take none), once it is proven ours.
    async fn ready(&self, name: &str, claim: &Claim<'_>) -> Result<Progress, PortError> {
        match self.owned(name, claim).await? {
            Some(Owned {
                status: TableStatus::Active,
                arn,
                marked,
                ..
            }) => {
                if !marked {
                    self.mark(&arn, claim).await?;
                }
                Ok(Progress::Done)
            }
            Some(t) => Ok(Progress::Pending(format!("dynamodb:{name} is {}", t.status))),
            None => Err(PortError::new(
                "DescribeTable",
                format!("dynamodb:{name}"),
                FailureKind::NotFound,
                format!("the {} table is gone", claim.role),
            )),
        }
    }

    /// Puts the claim's marks on the table `arn` (proven the claim's).
    async fn mark(&self, arn: &str, claim: &Claim<'_>) -> Result<(), PortError> {
        self.client
            .tag_resource()
            .resource_arn(arn)
            .tags(tag(TAG_RESTORE_REQUEST, claim.request_id)?)
            .tags(tag(TAG_RESTORE_ROLE, claim.role)?)
            .send()
            .await
            .map_err(|e| port_error("TagResource", arn, e))?;
        Ok(())
    }

    /// Deletes the table `name` if it is provably the claim's (and, once `pin` holds an
    /// identity, the very table pinned); `AlreadyGone` if there is none.
    async fn delete_owned(
        &self,
        name: &str,
        claim: &Claim<'_>,
        pin: (Made, Option<&Identity>),
    ) -> Result<Deletion, PortError> {
        let owned = match pin {
            (_, None) => self.owned(name, claim).await?,
            (_, Some(_)) => match pinned(&self.client, name, claim, pin).await {
                Ok(owned) => Some(owned),
                Err(e) if e.kind == FailureKind::NotFound => None,
                Err(e) => return Err(e),
            },
        };
        let Some(owned) = owned else {
            return Ok(Deletion::AlreadyGone);
        };
        // Proven ours by DynamoDB's record alone (a crash before it was marked): marked first,
        // as the roles may delete only a table marked as a restore's, and deleted at the next
        // poll: tags take a moment to reach IAM's view of the table, and a delete asked at once
        // could be refused for want of them.
        if !owned.marked {
            self.mark(&owned.arn, claim).await?;
            return Err(PortError::new(
                "DeleteTable",
                format!("dynamodb:{name}"),
                FailureKind::Conflict,
                "marked as this restore's just now; deleted at the next poll",
            ));
        }
        match self.client.delete_table().table_name(name).send().await {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) => {
                let e = port_error("DeleteTable", format!("dynamodb:{name}"), e);
                if e.kind == FailureKind::NotFound {
                    Ok(Deletion::AlreadyGone)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// `Done` once the live table has an available backup named `name` taken by this restore:
    /// asked for once (see [`super::dynamodb_backups`]), then waited for (the call that asks
    /// for it never goes on: the next poll reads it back).
    async fn backed_up(&self, target: &Target<'_>, name: &str) -> Result<Progress, PortError> {
        let table = &target.production.name;
        match self.copy_back(target).take_backup(table, name).await? {
            Taken { asked_now: true, .. } => Ok(Progress::Pending(format!(
                "backing up {} as {name}",
                target.production
            ))),
            Taken {
                status: BackupStatus::Available,
                ..
            } => Ok(Progress::Done),
            Taken { status, .. } => Ok(Progress::Pending(format!(
                "backing up {} as {name}: {status}",
                target.production
            ))),
        }
    }

    /// Staging, if it is still the table pinned for it (a swap's and verification's source).
    async fn staging_pinned(&self, target: &Target<'_>) -> Result<Owned, PortError> {
        let pin = (Made::Staging, target.staging_identity);
        pinned(&self.client, target.staging, &staging_claim(target), pin).await
    }

    /// What an undo's fallback is restored from (the pre-swap backup this restore took) and
    /// the time its fence was seen in place; `None` before both are there.
    async fn fallback_made_by(
        &self,
        target: &Target<'_>,
    ) -> Result<Option<(String, DateTime<Utc>)>, PortError> {
        let copy_back = self.copy_back(target);
        let Some(fenced) = copy_back.fence_seen(target.production, Purpose::Swap).await? else {
            return Ok(None);
        };
        let backup = copy_back
            .backup_taken(&target.production.name, &pre_swap_name(target))
            .await?;
        Ok(backup.map(|b| (b.arn, fenced)))
    }

    /// The fallback, if it is still the table pinned for it (an undo's source).
    async fn fallback_pinned(&self, target: &Target<'_>) -> Result<Owned, PortError> {
        let Some((backup, fenced)) = self.fallback_made_by(target).await? else {
            return Err(PortError::new(
                "undo swap",
                format!("dynamodb:{}", target.fallback),
                FailureKind::NotOurs,
                "no fallback was restored by this undo (no fence, or no pre-swap backup): nothing by the name is its fallback",
            ));
        };
        let claim = fallback_claim(target, &backup, fenced);
        let pin = (Made::Fallback, target.fallback_identity);
        pinned(&self.client, target.fallback, &claim, pin).await
    }
}

/// The backup of the live table taken when the swap starts.
fn pre_swap_name(target: &Target<'_>) -> String {
    names(target.request_id, target.production).pre_swap
}

/// The backup of the live table taken before an undo overwrites it (`lbr-…`): kept.
fn retired_name(target: &Target<'_>) -> String {
    names(target.request_id, target.production).retired
}

/// What this restore expects of its staging table (a drill's sandbox too).
fn staging_claim<'a>(target: &'a Target<'a>) -> Claim<'a> {
    Claim {
        request_id: target.request_id,
        role: "staging",
        made_by: target.origin.as_ref().map(|o| {
            let source = match &o.from {
                RestoreFrom::Snapshot(arn) => Source::Backup(arn),
                RestoreFrom::PointInTime(at) => Source::PointInTimeOf {
                    table: &target.production.name,
                    at: *at,
                },
            };
            (source, o.asked_after)
        }),
    }
}

/// What an undo expects of its fallback table: restored from the pre-swap backup after the
/// undo saw its fence in place (recorded before the fallback's restore is asked for, and at
/// least the undo's wait before it).
fn fallback_claim<'a>(target: &'a Target<'a>, backup: &'a str, fenced: DateTime<Utc>) -> Claim<'a> {
    Claim {
        request_id: target.request_id,
        role: "fallback",
        made_by: Some((Source::Backup(backup), fenced)),
    }
}

fn tag(key: &str, value: &str) -> Result<Tag, PortError> {
    Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|e| PortError::new("TagResource", key, FailureKind::Refused, e.to_string()))
}

/// Staging and fallback tables carry the request in their names; never production's.
fn guard(target: &Target<'_>, name: &str) -> Result<(), PortError> {
    if name == target.production.name || !(name == target.staging || name == target.fallback) {
        return Err(PortError::new(
            "DeleteTable",
            format!("dynamodb:{name}"),
            FailureKind::Refused,
            "refusing to delete: not this request's staging or fallback table",
        ));
    }
    Ok(())
}

#[async_trait]
impl Restorer for DynamoRestorer {
    fn kind(&self) -> ResourceKind {
        ResourceKind::DynamoTable
    }

    async fn snapshot_usable(&self, resource: &ResourceKey, service_id: &str) -> Result<bool, PortError> {
        Ok(matches!(
            described(&self.client, service_id).await?,
            Some((BackupStatus::Available, table)) if table == resource.name
        ))
    }

    async fn start_safety_snapshot(
        &self,
        resource: &ResourceKey,
        name: &str,
        request_id: &str,
    ) -> Result<String, PortError> {
        // Backup names are not unique: the one a first try made is found by its record,
        // never by its name alone.
        let taken = self
            .ledger_of(request_id)
            .take_backup(&resource.name, name)
            .await?;
        Ok(taken.arn)
    }

    async fn safety_snapshot_ready(
        &self,
        _resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Progress, PortError> {
        match described(&self.client, service_id).await? {
            Some((BackupStatus::Available, _)) => Ok(Progress::Done),
            Some((BackupStatus::Creating, _)) => {
                Ok(Progress::Pending(format!("backup {service_id} is CREATING")))
            }
            other => Err(PortError::new(
                "DescribeBackup",
                service_id,
                FailureKind::Refused,
                format!("the safety backup is {:?}", other.map(|o| o.0)),
            )),
        }
    }

    async fn start_staging(&self, target: &Target<'_>) -> Result<(), PortError> {
        let from = target.restore_from()?;
        let claim = staging_claim(target);
        // A retry finds the table the first try restored (unmarked until it is ACTIVE); any
        // other table by the name is refused, never taken.
        if self.owned(target.staging, &claim).await?.is_some() {
            return Ok(());
        }
        let staging = format!("dynamodb:{}", target.staging);
        let result = match from {
            RestoreFrom::PointInTime(t) => self
                .client
                .restore_table_to_point_in_time()
                .source_table_name(&target.production.name)
                .target_table_name(target.staging)
                .restore_date_time(SdkDateTime::from_secs(t.timestamp()))
                .send()
                .await
                .map(|_| ())
                .map_err(|e| port_error("RestoreTableToPointInTime", &staging, e)),
            RestoreFrom::Snapshot(arn) => self
                .client
                .restore_table_from_backup()
                .target_table_name(target.staging)
                .backup_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| port_error("RestoreTableFromBackup", &staging, e)),
        };
        match result {
            // Made meanwhile: ours only if provably so.
            Err(e) if e.kind == FailureKind::Conflict => match self.owned(target.staging, &claim).await? {
                Some(_) => Ok(()),
                None => Err(e),
            },
            other => other,
        }
    }

    async fn staging_ready(&self, target: &Target<'_>) -> Result<Progress, PortError> {
        self.ready(target.staging, &staging_claim(target)).await
    }

    async fn identity(&self, target: &Target<'_>, made: Made) -> Result<Identity, PortError> {
        let owned = match made {
            Made::Staging => self.owned(target.staging, &staging_claim(target)).await?,
            Made::Fallback => match self.fallback_made_by(target).await? {
                Some((backup, fenced)) => {
                    let claim = fallback_claim(target, &backup, fenced);
                    self.owned(target.fallback, &claim).await?
                }
                None => None,
            },
        };
        let name = match made {
            Made::Staging => target.staging,
            Made::Fallback => target.fallback,
        };
        let refused = |kind, why: String| PortError::new("identity", format!("dynamodb:{name}"), kind, why);
        // Marks and DynamoDB's record of the restore, both: marks alone can be copied.
        match owned {
            Some(owned) => owned
                .to_pin(made.as_str())
                .map_err(|why| refused(FailureKind::NotOurs, why)),
            None => Err(refused(
                FailureKind::NotFound,
                format!("no {} table of this restore's", made.as_str()),
            )),
        }
    }

    async fn swap(&self, target: &Target<'_>, _safety_snapshot: &str) -> Result<Progress, PortError> {
        // Staging may have changed hands during the confirmation's wait: only the table
        // pinned at check_ready is ever copied into production.
        self.staging_pinned(target).await?;
        // The live table as it is now, after the confirmation: what an undo restores. The
        // safety backup taken before staging may be hours older.
        if let Progress::Pending(why) = self.backed_up(target, &pre_swap_name(target)).await? {
            return Ok(Progress::Pending(why));
        }
        let (left, tally) = self.remaining(target, Purpose::Swap, target.staging).await?;
        if !left.is_empty() {
            return Ok(Progress::Spread(left));
        }
        tracing::info!(production = %target.production, staging = target.staging, written = tally.written, "live table brought to the staging table's content");
        Ok(Progress::Done)
    }

    async fn undo_swap(&self, target: &Target<'_>, _safety_snapshot: &str) -> Result<Progress, PortError> {
        // 1. Stop the swap's shards (some may still run after the state machine gave up on
        //    them), and wait out the bound on their writes in flight. Never planned: no shard
        //    ever ran, no item was written.
        let Some(fenced) = self
            .copy_back(target)
            .fence(target.production, Purpose::Swap)
            .await?
        else {
            return Ok(Progress::Done);
        };
        let wait = self.settings.bounds.undo_wait();
        let settled_at = fenced + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
        if chrono::Utc::now() < settled_at {
            return Ok(Progress::Pending(format!(
                "the copy-back of {} is stopped; waiting until {settled_at} for the writes of its shards in flight",
                target.production
            )));
        }
        // 2. No checkpoint: no item was written, and undoing would only throw away the
        //    writes the live table took since the pre-swap backup.
        if !self.copy_back_started(target).await? {
            return Ok(Progress::Done);
        }
        // 3. The live table as the failed copy-back left it, writes since the swap included:
        //    backed up and kept before the undo overwrites it.
        let table = &target.production.name;
        if let Progress::Pending(why) = self.backed_up(target, &retired_name(target)).await? {
            return Ok(Progress::Pending(why));
        }
        // 4. The pre-swap backup this restore took, once available, restored into the
        //    fallback table.
        let pre_swap = self
            .copy_back(target)
            .backup_taken(table, &pre_swap_name(target))
            .await?;
        let Some(Taken {
            arn: backup, status, ..
        }) = pre_swap
        else {
            return Err(PortError::new(
                "undo swap",
                target.production,
                FailureKind::NotFound,
                "the copy-back began but this restore's pre-swap backup is gone: the live table needs an engineer",
            ));
        };
        let claim = fallback_claim(target, &backup, fenced);
        let pin = (Made::Fallback, target.fallback_identity);
        if self
            .tally(target, Purpose::UndoCheck)
            .await?
            .is_some_and(|t| t.all_done())
        {
            // Copied back and compared already: only the fallback is left to delete.
            guard(target, target.fallback)?;
            self.delete_owned(target.fallback, &claim, pin).await?;
            return Ok(Progress::Done);
        }
        if status != BackupStatus::Available {
            return Ok(Progress::Pending(format!(
                "the pre-swap backup of {} is {status}",
                target.production
            )));
        }
        // Pinned: the very table the undo proved, never restored again (a fallback gone
        // since is for an engineer, not for another restore under the name).
        if target.fallback_identity.is_some() {
            self.fallback_pinned(target).await?;
        } else if self.owned(target.fallback, &claim).await?.is_none() {
            self.client
                .restore_table_from_backup()
                .target_table_name(target.fallback)
                .backup_arn(&backup)
                .send()
                .await
                .map_err(|e| {
                    port_error(
                        "RestoreTableFromBackup",
                        format!("dynamodb:{}", target.fallback),
                        e,
                    )
                })?;
        }
        if let Progress::Pending(why) = self.ready(target.fallback, &claim).await? {
            return Ok(Progress::Pending(why));
        }
        // 5. Copied back, then compared as a swap is verified (the caller pins the fallback
        //    before the first shard reads it).
        for purpose in [Purpose::Undo, Purpose::UndoCheck] {
            let (left, _) = self.remaining(target, purpose, target.fallback).await?;
            if !left.is_empty() {
                return Ok(Progress::Spread(left));
            }
        }
        guard(target, target.fallback)?;
        self.delete_owned(target.fallback, &claim, pin).await?;
        Ok(Progress::Done)
    }

    async fn undo_differences(&self, target: &Target<'_>) -> Result<Option<String>, PortError> {
        let Some(tally) = self.tally(target, Purpose::UndoCheck).await? else {
            return Ok(None);
        };
        if tally.missing_or_different == 0 && tally.extra == 0 {
            return Ok(None);
        }
        Ok(Some(format!(
            "{} differs from its content before the swap (backup {}): {} items missing or changed and {} others, \
             written during or after the undo (sample keys: {}); left as they are for an engineer",
            target.production,
            pre_swap_name(target),
            tally.missing_or_different,
            tally.extra,
            tally.samples.join(", ")
        )))
    }

    async fn refusal(&self, resource: &ResourceKey) -> Result<Option<String>, PortError> {
        let bytes = self
            .client
            .describe_table()
            .table_name(&resource.name)
            .send()
            .await
            .map_err(|e| port_error("DescribeTable", resource, e))?
            .table()
            .and_then(|t| t.table_size_bytes())
            .unwrap_or(0);
        let max = self.settings.max_bytes;
        Ok((u64::try_from(bytes).unwrap_or(0) > max).then(|| {
            format!(
                "{resource} holds {bytes} bytes, more than a rollback copies back ({max} bytes: LIFEBOAT_COPY_BACK_MAX_GIB); restore it by hand from the recovery point"
            )
        }))
    }

    async fn swap_finished(&self, target: &Target<'_>) -> Result<bool, PortError> {
        let copy_back = self.copy_back(target);
        let Some(segments) = copy_back.planned(target.production, Purpose::Swap).await? else {
            return Ok(false);
        };
        let shards = Shard::all(target.production, Purpose::Swap, segments);
        let checkpoints = copy_back.checkpoints(&shards).await?;
        Ok(Tally::of(&shards, &checkpoints).all_done())
    }

    async fn kept_aside(&self, target: &Target<'_>) -> Result<Option<String>, PortError> {
        let retired = retired_name(target);
        Ok(self
            .copy_back(target)
            .backup_taken(&target.production.name, &retired)
            .await?
            .map(|b| {
                format!(
                    "backup {retired} ({}: the live table as the failed copy-back left it)",
                    b.arn
                )
            }))
    }

    async fn counted(&self, target: &Target<'_>, purpose: Purpose) -> Result<Option<WorkCount>, PortError> {
        // An undo copies from the pre-swap backup's restore, counted by its own shards'
        // checkpoints only: not shown.
        if matches!(purpose, Purpose::Undo | Purpose::UndoCheck) {
            return Ok(None);
        }
        let copy_back = self.copy_back(target);
        let Some(segments) = copy_back.planned(target.production, purpose).await? else {
            return Ok(None);
        };
        let shards = Shard::all(target.production, purpose, segments);
        let tally = Tally::of(&shards, &copy_back.checkpoints(&shards).await?);
        let total = item_count(&self.client, target.staging).await?
            + item_count(&self.client, &target.production.name).await?;
        Ok(Some(WorkCount {
            done: tally.scanned_source + tally.scanned_target,
            total,
            unit: "items",
        }))
    }

    async fn verify(&self, target: &Target<'_>) -> Result<Verification, PortError> {
        // Compared with the table pinned, never with whatever carries the name now.
        self.staging_pinned(target).await?;
        let (left, tally) = self.remaining(target, Purpose::Verify, target.staging).await?;
        if !left.is_empty() {
            return Ok(Verification::Spread(left));
        }
        let production = target.production;
        if tally.missing_or_different == 0 && tally.extra == 0 {
            return Ok(Verification::Passed(format!(
                "{production} holds the restored {} items exactly",
                tally.scanned_source
            )));
        }
        Ok(Verification::PassedWithDifferences(format!(
            "{production} holds the restored items but for {} missing or changed and {} others, \
             written or expired after the copy-back finished (sample keys: {}); left as they are for an engineer",
            tally.missing_or_different,
            tally.extra,
            tally.samples.join(", ")
        )))
    }

    async fn run_shard(
        &self,
        target: &Target<'_>,
        shard: &Shard,
        budget: Duration,
    ) -> Result<Progress, PortError> {
        if shard.resource != *target.production {
            return Err(PortError::new(
                "run_shard",
                target.production,
                FailureKind::Refused,
                format!("shard {} is not of this resource", shard.label()),
            ));
        }
        // The source, before anything of it is read: the table pinned and still marked (and
        // after each page's reads, still that table: see the copy-back).
        let (table, made, owned) = match shard.purpose {
            Purpose::Swap | Purpose::Verify => {
                (target.staging, Made::Staging, self.staging_pinned(target).await?)
            }
            Purpose::Undo | Purpose::UndoCheck => (
                target.fallback,
                Made::Fallback,
                self.fallback_pinned(target).await?,
            ),
        };
        let identity = owned.identity.map_err(|why| {
            PortError::new(
                "run_shard",
                format!("dynamodb:{table}"),
                FailureKind::NotOurs,
                why,
            )
        })?;
        let source = PinnedSource {
            table,
            made,
            identity: &identity,
        };
        let done = self
            .copy_back(target)
            .run(shard, &source, &target.production.name, budget)
            .await?;
        Ok(if done {
            Progress::Done
        } else {
            Progress::Pending(format!("shard {} goes on", shard.label()))
        })
    }

    async fn delete_staging(&self, target: &Target<'_>) -> Result<Deletion, PortError> {
        guard(target, target.staging)?;
        let pin = (Made::Staging, target.staging_identity);
        self.delete_owned(target.staging, &staging_claim(target), pin)
            .await
    }
}

/// What moto cannot report: a table's size (it answers 0).
#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::types::TableDescription;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    #[tokio::test]
    async fn a_table_too_large_to_copy_back_is_refused_naming_the_limit() {
        let sized = |bytes: i64| {
            mock!(Client::describe_table).then_output(move || {
                DescribeTableOutput::builder()
                    .table(TableDescription::builder().table_size_bytes(bytes).build())
                    .build()
            })
        };
        let orders = ResourceKey::dynamodb("orders");
        let settings = CopyBackSettings::default();
        let small = sized(1 << 30);
        let restorer = DynamoRestorer::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&small]),
            "requests",
            settings,
        );
        assert_eq!(restorer.refusal(&orders).await.unwrap(), None);
        let large = sized(200 << 30);
        let restorer = DynamoRestorer::new(
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&large]),
            "requests",
            settings,
        );
        let refused = restorer.refusal(&orders).await.unwrap().expect("refused");
        assert!(refused.contains("LIFEBOAT_COPY_BACK_MAX_GIB"), "{refused}");
        assert!(refused.contains("dynamodb:orders"), "{refused}");
    }
}
