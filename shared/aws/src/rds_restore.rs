//! [`Restorer`] for RDS instances: safety snapshots, restores into a staging instance, and
//! the rename swap.
//!
//! A restored instance does not inherit production's settings, so the restore is given what
//! it accepts (subnet group, parameter group, security groups) and the swap applies the rest
//! (backup retention, deletion protection, tags) from the instance it replaces. Production
//! is renamed aside as the fallback and kept: deleting it is an engineer's later decision.
//!
//! Staging is pinned once proven ready (its `DbiResourceId`, which a rename keeps): every
//! step of the swap requires the instance it renames (staging, then the restored instance
//! under production's name) to be the one pinned and marked, immediately before it renames or
//! changes anything, so an instance put under the staging name during the confirmation's wait
//! (marked or not) never becomes production. Production's original is pinned with staging
//! (its `DbiResourceId`, before the swap sets it aside): the swap sets aside only that
//! instance and takes settings only from it, and the undo moves only what it can tell apart:
//! the pinned restored instance aside, the pinned original (marked as the fallback) back;
//! anything else under one of its names (marked or not) stops it, left as it is and named.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::primitives::DateTime as SdkDateTime;
use aws_sdk_rds::types::DbInstance;
use aws_sdk_rds::Client;

use super::port_error;
use instance_state::{
    belongs_to, has_pending_changes, identity_of, is_available, is_fallback_of, is_restored,
    not_the_original, renaming, require_original, require_restored, settling, status, undo_may_move, waiting,
};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::execution::identity::{Identity, Made};
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Holder, Progress, RestoreFrom, Restorer, Target, Verification};
use lifeboat::ports::{Deletion, FailureKind, PortError};
use settings::{carried_over, tag, tags_of, Settings};

mod instance_state;
mod settings;

pub struct RdsRestorer {
    client: Client,
    /// Set for drills' sandboxes: every restore is private and in these security groups
    /// (production's when empty), whatever production's settings say.
    sandbox_network: Option<Vec<String>>,
}

impl RdsRestorer {
    pub fn new(client: Client) -> Self {
        RdsRestorer {
            client,
            sandbox_network: None,
        }
    }

    /// A restorer for restore drills: its restores are never publicly accessible, and sit in
    /// `security_groups` (the template's drill group) rather than production's, when given.
    pub fn for_sandboxes(client: Client, security_groups: Vec<String>) -> Self {
        RdsRestorer {
            client,
            sandbox_network: Some(security_groups),
        }
    }

    async fn instance(&self, id: &str) -> Result<Option<DbInstance>, PortError> {
        match self
            .client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_instances().first().cloned()),
            Err(e) => {
                let e = port_error("DescribeDBInstances", format!("rds:{id}"), e);
                if e.kind == FailureKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn snapshot(&self, id: &str) -> Result<Option<aws_sdk_rds::types::DbSnapshot>, PortError> {
        match self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(id)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_snapshots().first().cloned()),
            Err(e) => {
                let e = port_error("DescribeDBSnapshots", id, e);
                if e.kind == FailureKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn rename(&self, from: &str, to: &str) -> Result<(), PortError> {
        self.client
            .modify_db_instance()
            .db_instance_identifier(from)
            .new_db_instance_identifier(to)
            .apply_immediately(true)
            .send()
            .await
            .map_err(|e| port_error("ModifyDBInstance (rename)", format!("rds:{from} -> {to}"), e))?;
        Ok(())
    }

    async fn add_tags(&self, db: &DbInstance, tags: &BTreeMap<String, String>) -> Result<(), PortError> {
        let arn = db.db_instance_arn().unwrap_or_default();
        let mut req = self.client.add_tags_to_resource().resource_name(arn);
        for (k, v) in tags {
            req = req.tags(tag(k, v));
        }
        req.send()
            .await
            .map_err(|e| port_error("AddTagsToResource", arn, e))?;
        Ok(())
    }

    async fn remove_tags(&self, db: &DbInstance, keys: &[&str]) -> Result<(), PortError> {
        let arn = db.db_instance_arn().unwrap_or_default();
        let mut req = self.client.remove_tags_from_resource().resource_name(arn);
        for k in keys {
            req = req.tag_keys(*k);
        }
        req.send()
            .await
            .map_err(|e| port_error("RemoveTagsFromResource", arn, e))?;
        Ok(())
    }

    /// Gives the restored instance (now production) the settings of the one it replaced;
    /// whether it had to change anything (a change takes RDS a while to apply).
    async fn carry_settings_over(
        &self,
        production: &DbInstance,
        fallback: &DbInstance,
    ) -> Result<bool, PortError> {
        let mut want = Settings::of(fallback);
        let have = Settings::of(production);
        // The policy's window is a minimum: never shorten the history the restore already has.
        want.backup_retention = want.backup_retention.max(have.backup_retention);
        let id = production.db_instance_identifier().unwrap_or_default();
        let modify = want.modifiable() != have.modifiable();
        if modify {
            let mut req = self
                .client
                .modify_db_instance()
                .db_instance_identifier(id)
                .apply_immediately(true)
                .set_backup_retention_period(want.backup_retention)
                .set_deletion_protection(want.deletion_protection)
                .set_vpc_security_group_ids(Some(want.security_groups.clone()));
            if want.parameter_group != have.parameter_group {
                req = req.set_db_parameter_group_name(want.parameter_group.clone());
            }
            req.send()
                .await
                .map_err(|e| port_error("ModifyDBInstance (settings)", format!("rds:{id}"), e))?;
        }
        let mut tags: BTreeMap<String, String> =
            want.tags.into_iter().filter(|(k, _)| carried_over(k)).collect();
        tags.extend(
            have.tags
                .get(TAG_RESTORE_REQUEST)
                .map(|v| (TAG_RESTORE_REQUEST.to_string(), v.clone())),
        );
        let retag = tags.iter().any(|(k, v)| have.tags.get(k) != Some(v));
        if retag {
            self.add_tags(production, &tags).await?;
        }
        let unmark = have.tags.contains_key(TAG_RESTORE_ROLE);
        if unmark {
            self.remove_tags(production, &[TAG_RESTORE_ROLE]).await?;
        }
        Ok(modify || retag || unmark)
    }
}

/// The restore role of a restored instance an undo kept aside.
const SERVED_PRODUCTION: &str = "served-production";

/// Where an undo keeps the restored instance (`lbr-…`).
fn retired_name(target: &Target<'_>) -> String {
    names(target.request_id, target.production).retired
}

/// Whether `db` is `target`'s staging instance: by another name than production's, and
/// marked as this request's staging (the name alone proves nothing).
fn is_staging_of(db: &DbInstance, target: &Target<'_>) -> bool {
    target.staging != target.production.name && belongs_to(db, target.request_id, Some("staging"))
}

fn unexpected(operation: &'static str, target: &Target<'_>, state: String) -> PortError {
    PortError::new(operation, target.production, FailureKind::Refused, state)
}

#[async_trait]
impl Restorer for RdsRestorer {
    fn kind(&self) -> ResourceKind {
        ResourceKind::RdsInstance
    }

    async fn snapshot_usable(&self, resource: &ResourceKey, service_id: &str) -> Result<bool, PortError> {
        let out = self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(service_id)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.db_snapshots().iter().any(|s| {
                s.db_instance_identifier() == Some(resource.name.as_str()) && s.status() == Some("available")
            })),
            Err(e) => {
                let e = port_error("DescribeDBSnapshots", service_id, e);
                if e.kind == FailureKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn start_safety_snapshot(
        &self,
        resource: &ResourceKey,
        name: &str,
        request_id: &str,
    ) -> Result<String, PortError> {
        let result = self
            .client
            .create_db_snapshot()
            .db_instance_identifier(&resource.name)
            .db_snapshot_identifier(name)
            .tags(tag(TAG_RESTORE_REQUEST, request_id))
            .tags(tag(TAG_RESTORE_ROLE, "safety"))
            .send()
            .await;
        match result {
            Ok(_) => Ok(name.to_string()),
            Err(e) => {
                let e = port_error("CreateDBSnapshot", name, e);
                if e.kind != FailureKind::Conflict {
                    return Err(e);
                }
                // A retry finds the snapshot the first try asked for, tagged as it was made:
                // a snapshot by the name without this request's marks is someone else's.
                let found = self.snapshot(name).await?;
                let ours = found.as_ref().is_some_and(|s| {
                    s.db_instance_identifier() == Some(resource.name.as_str())
                        && lifeboat::inventory::marked_for(&tags_of(s.tag_list()), request_id, Some("safety"))
                });
                if ours {
                    Ok(name.to_string())
                } else {
                    Err(PortError::new(
                        "CreateDBSnapshot",
                        name,
                        FailureKind::NotOurs,
                        format!("a snapshot by the safety snapshot's name exists and is not {request_id}'s safety snapshot of {resource}: left as it is"),
                    ))
                }
            }
        }
    }

    async fn safety_snapshot_ready(
        &self,
        _resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Progress, PortError> {
        let out = self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(service_id)
            .send()
            .await
            .map_err(|e| port_error("DescribeDBSnapshots", service_id, e))?;
        let snapshot = out.db_snapshots().first();
        let status = snapshot.and_then(|s| s.status()).unwrap_or("unknown").to_string();
        // RDS's own progress, where it reports one: a snapshot's percentage.
        let percent = snapshot
            .and_then(|s| s.percent_progress())
            .map_or(String::new(), |p| format!(" ({p}%)"));
        match status.as_str() {
            "available" => Ok(Progress::Done),
            "creating" | "pending" => Ok(Progress::Pending(format!(
                "safety snapshot {service_id} is {status}{percent}"
            ))),
            _ => Err(PortError::new(
                "DescribeDBSnapshots",
                service_id,
                FailureKind::Refused,
                format!("the safety snapshot is {status}"),
            )),
        }
    }

    async fn start_staging(&self, target: &Target<'_>) -> Result<(), PortError> {
        let from = target.restore_from()?;
        // A retry finds what the first try asked for; anything else by that name is not
        // ours to take (nor, later, to delete).
        if let Some(existing) = self.instance(target.staging).await? {
            if is_staging_of(&existing, target) {
                return Ok(());
            }
            return Err(PortError::new(
                "start_staging",
                format!("rds:{}", target.staging),
                FailureKind::NotOurs,
                "an instance by the staging name exists and is not this request's staging",
            ));
        }
        let Some(production) = self.instance(&target.production.name).await? else {
            return Err(PortError::new(
                "DescribeDBInstances",
                target.production,
                FailureKind::NotFound,
                "production is gone",
            ));
        };
        let mut settings = Settings::of(&production);
        let mut publicly_accessible = production.publicly_accessible();
        if let Some(groups) = &self.sandbox_network {
            publicly_accessible = Some(false);
            if !groups.is_empty() {
                settings.security_groups = groups.clone();
            }
        }
        let tags = [
            tag(TAG_RESTORE_REQUEST, target.request_id),
            tag(TAG_RESTORE_ROLE, "staging"),
        ];
        // Both kinds of restore are given production's settings and the staging marks, and
        // fail naming the staging instance.
        macro_rules! like_production {
            ($request:expr, $operation:literal) => {
                $request
                    .set_db_instance_class(production.db_instance_class().map(str::to_string))
                    .set_multi_az(production.multi_az())
                    // A restore defaults to the subnet group's public setting: never more
                    // reachable than production.
                    .set_publicly_accessible(publicly_accessible)
                    .set_storage_type(production.storage_type().map(str::to_string))
                    .set_iops(production.iops())
                    .set_db_subnet_group_name(settings.subnet_group.clone())
                    .set_db_parameter_group_name(settings.parameter_group.clone())
                    .set_vpc_security_group_ids(Some(settings.security_groups.clone()))
                    .deletion_protection(false)
                    .set_tags(Some(tags.to_vec()))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| port_error($operation, format!("rds:{}", target.staging), e))
            };
        }
        let result = match from {
            RestoreFrom::PointInTime(t) => like_production!(
                self.client
                    .restore_db_instance_to_point_in_time()
                    .source_db_instance_identifier(&target.production.name)
                    .target_db_instance_identifier(target.staging)
                    .restore_time(SdkDateTime::from_secs(t.timestamp())),
                "RestoreDBInstanceToPointInTime"
            ),
            RestoreFrom::Snapshot(id) => like_production!(
                self.client
                    .restore_db_instance_from_db_snapshot()
                    .db_instance_identifier(target.staging)
                    .db_snapshot_identifier(id),
                "RestoreDBInstanceFromDBSnapshot"
            ),
        };
        match result {
            Err(e) if e.kind == FailureKind::Conflict => Ok(()),
            other => other,
        }
    }

    async fn staging_ready(&self, target: &Target<'_>) -> Result<Progress, PortError> {
        match self.instance(target.staging).await? {
            // Only what this restore (or drill) restored and marked is ever taken as its
            // staging, looked at further or modified: an instance that merely has the name
            // is not, and the step fails before anything is asked of it.
            Some(db) if !is_staging_of(&db, target) => Err(PortError::new(
                "staging_ready",
                format!("rds:{}", target.staging),
                FailureKind::NotOurs,
                format!(
                    "an instance by the staging name exists and is not marked as {}'s staging instance",
                    target.request_id
                ),
            )),
            // A sandbox is never reachable from outside, whatever the restore made of it
            // (a restore from a public instance's snapshot may come up public).
            Some(db)
                if is_available(&db)
                    && self.sandbox_network.is_some()
                    && db.publicly_accessible() == Some(true) =>
            {
                self.client
                    .modify_db_instance()
                    .db_instance_identifier(target.staging)
                    .publicly_accessible(false)
                    .apply_immediately(true)
                    .send()
                    .await
                    .map_err(|e| {
                        port_error("ModifyDBInstance (private)", format!("rds:{}", target.staging), e)
                    })?;
                Ok(Progress::Pending(format!(
                    "making sandbox {} private",
                    target.staging
                )))
            }
            Some(db) if is_available(&db) => Ok(Progress::Done),
            Some(db) => Ok(waiting("restoring", &db)),
            None => Err(PortError::new(
                "DescribeDBInstances",
                format!("rds:{}", target.staging),
                FailureKind::NotFound,
                "the staging instance is gone",
            )),
        }
    }

    /// Staging's `DbiResourceId`: only of an instance marked as this request's staging and
    /// created, as RDS reports it, after the restore was asked for (RDS keeps no record of
    /// where an instance came from; a creation time it does not report proves nothing). An RDS
    /// undo restores nothing: its fallback is the original, pinned by [`Restorer::original`].
    async fn identity(&self, target: &Target<'_>, made: Made) -> Result<Identity, PortError> {
        let staging = format!("rds:{}", target.staging);
        if made == Made::Fallback {
            return Err(PortError::new(
                "identity",
                format!("rds:{}", target.fallback),
                FailureKind::Refused,
                "an RDS undo restores no fallback: there is none to pin",
            ));
        }
        let Some(db) = self.instance(target.staging).await? else {
            return Err(PortError::new(
                "identity",
                staging,
                FailureKind::NotFound,
                "the staging instance is gone",
            ));
        };
        let refused = |why: String| PortError::new("identity", &staging, FailureKind::NotOurs, why);
        if !is_staging_of(&db, target) {
            return Err(refused(format!(
                "it is not marked as {}'s staging instance",
                target.request_id
            )));
        }
        let Some(origin) = &target.origin else {
            return Err(refused(
                "no restore was asked for on record, so it cannot be told it was made by one".into(),
            ));
        };
        let Some(created) = db.instance_create_time().and_then(super::utc) else {
            return Err(refused(format!(
                "RDS reports no InstanceCreateTime for it, so it cannot be told it was made after this restore was asked for (after {})",
                origin.asked_after
            )));
        };
        if created < origin.asked_after {
            return Err(refused(format!(
                "it was created at {created}, before this restore was asked for (after {})",
                origin.asked_after
            )));
        }
        identity_of(&db).ok_or_else(|| refused("RDS reports no DbiResourceId for it".into()))
    }

    /// The instance holding production's name before the swap: the original the undo puts back.
    async fn original(&self, target: &Target<'_>) -> Result<Option<Identity>, PortError> {
        let missing = |kind, why: &str| PortError::new("identity", target.production, kind, why);
        let Some(db) = self.instance(&target.production.name).await? else {
            return Err(missing(
                FailureKind::NotFound,
                "no instance holds production's name: there is no original to pin before the swap",
            ));
        };
        (identity_of(&db).map(Some)).ok_or_else(|| {
            missing(
                FailureKind::NotOurs,
                "RDS reports no DbiResourceId for production",
            )
        })
    }

    async fn swap(&self, target: &Target<'_>, _safety_snapshot: &str) -> Result<Progress, PortError> {
        let production = self.instance(&target.production.name).await?;
        let fallback = self.instance(target.fallback).await?;
        let staging = self.instance(target.staging).await?;
        match (production, fallback, staging) {
            // 1. Production is the original: set it aside (tagged first, so it is never
            //    mistaken for a managed resource, nor anyone else's fallback).
            (Some(prod), None, Some(staging)) if !is_restored(&prod, target.request_id) => {
                require_restored("swap (set production aside)", &staging, target.staging, target)?;
                if !is_available(&prod) {
                    return Ok(waiting("setting production aside", &prod));
                }
                if !is_available(&staging) {
                    return Ok(waiting("setting production aside", &staging));
                }
                let name = &target.production.name;
                require_original("swap (set production aside)", &prod, name, target, false)?;
                let marks = BTreeMap::from([
                    (TAG_RESTORE_REQUEST.to_string(), target.request_id.to_string()),
                    (TAG_RESTORE_ROLE.to_string(), "fallback".to_string()),
                ]);
                self.add_tags(&prod, &marks).await?;
                self.rename(&target.production.name, target.fallback).await?;
                Ok(Progress::Pending(format!(
                    "renaming {} to {}",
                    target.production, target.fallback
                )))
            }
            // 2. Production's name is free: give it to staging.
            (None, Some(fallback), Some(staging)) => {
                require_restored("swap (rename staging)", &staging, target.staging, target)?;
                require_original("swap (rename staging)", &fallback, target.fallback, target, true)?;
                if !is_available(&fallback) {
                    return Ok(waiting("renaming staging", &fallback));
                }
                if !is_available(&staging) {
                    return Ok(waiting("renaming staging", &staging));
                }
                self.rename(target.staging, &target.production.name).await?;
                Ok(Progress::Pending(format!(
                    "renaming rds:{} to {}",
                    target.staging, target.production
                )))
            }
            // 3. Staging is production now: give it the settings of the one it replaced. An
            //    instance put under the staging name since is not this restore's: left alone.
            (Some(prod), Some(fallback), _) if is_restored(&prod, target.request_id) => {
                require_restored("swap (settings)", &prod, &target.production.name, target)?;
                if !is_available(&prod) {
                    return Ok(waiting("carrying settings over", &prod));
                }
                require_original("swap (settings)", &fallback, target.fallback, target, true)?;
                if self.carry_settings_over(&prod, &fallback).await? {
                    return Ok(Progress::Pending(format!(
                        "applying production's settings to {}",
                        target.production
                    )));
                }
                Ok(Progress::Done)
            }
            (prod, fallback, staging) => Err(unexpected(
                "swap",
                target,
                format!(
                    "unexpected state for a swap: production {}, fallback {}, staging {}",
                    prod.is_some(),
                    fallback.is_some(),
                    staging.is_some()
                ),
            )),
        }
    }

    async fn undo_swap(&self, target: &Target<'_>, _safety_snapshot: &str) -> Result<Progress, PortError> {
        let production = self.instance(&target.production.name).await?;
        let fallback = self.instance(target.fallback).await?;
        // Nothing moves while a rename of the swap (or of the undo) is still in flight; what
        // is only busy otherwise (a backup) is waited for only where it is renamed below.
        let retired = self.instance(&retired_name(target)).await?;
        for db in [
            &production,
            &fallback,
            &self.instance(target.staging).await?,
            &retired,
        ]
        .into_iter()
        .flatten()
        {
            if renaming(db) {
                return Ok(waiting("undoing the swap", db));
            }
        }
        let fallback = fallback.filter(|db| is_fallback_of(db, target));
        match (production, fallback) {
            // The original, never moved or renamed back: the marks the swap put on it before
            // its rename are dropped.
            (Some(prod), _) if is_fallback_of(&prod, target) => {
                require_original("undo swap", &prod, &target.production.name, target, true)?;
                self.remove_tags(&prod, &[TAG_RESTORE_ROLE, TAG_RESTORE_REQUEST])
                    .await?;
                Ok(Progress::Done)
            }
            // The restored instance holds production's name, and so every write production
            // took since the swap: it is moved aside and kept, never deleted (marked first,
            // so nothing mistakes it for staging or for a managed resource). Only the very
            // instance restored and pinned, and only with the original there to come back.
            (Some(prod), fallback) if is_restored(&prod, target.request_id) => {
                if !undo_may_move(&prod, target) {
                    require_restored("undo swap", &prod, &target.production.name, target)?;
                }
                let Some(fallback) = fallback else {
                    return Err(unexpected(
                        "undo swap",
                        target,
                        format!(
                            "the original, set aside as rds:{}, is gone or no longer marked as this restore's fallback: production stays the restored instance",
                            target.fallback
                        ),
                    ));
                };
                // Production's name is freed only for the very original to come back.
                require_original("undo swap", &fallback, target.fallback, target, true)?;
                if !is_available(&prod) {
                    return Ok(waiting("moving the restored instance aside", &prod));
                }
                let retired = retired_name(target);
                let marks = BTreeMap::from([(TAG_RESTORE_ROLE.to_string(), SERVED_PRODUCTION.to_string())]);
                self.add_tags(&prod, &marks).await?;
                self.rename(&target.production.name, &retired).await?;
                Ok(Progress::Pending(format!(
                    "renaming {} aside to rds:{retired}, kept",
                    target.production
                )))
            }
            // Someone else's instance holds production's name while the original is aside:
            // neither is moved.
            (Some(_), Some(_)) => Err(PortError::new(
                "undo swap",
                target.production,
                FailureKind::NotOurs,
                format!(
                    "production's name is held by an instance that is neither this restore's nor the original (kept as rds:{}): left as it is",
                    target.fallback
                ),
            )),
            // The original, never set aside (the swap stopped before its first rename).
            (Some(_), None) => Ok(Progress::Done),
            (None, Some(fallback)) => {
                require_original("undo swap", &fallback, target.fallback, target, true)?;
                if !is_available(&fallback) {
                    return Ok(waiting("restoring the fallback", &fallback));
                }
                self.rename(target.fallback, &target.production.name).await?;
                Ok(Progress::Pending(format!(
                    "renaming rds:{} back to {}",
                    target.fallback, target.production
                )))
            }
            (None, None) => Err(unexpected(
                "undo swap",
                target,
                format!(
                    "nothing holds production's name, and nothing by rds:{} is marked as this restore's fallback",
                    target.fallback
                ),
            )),
        }
    }

    async fn holder(&self, target: &Target<'_>) -> Result<Holder, PortError> {
        let set_aside = (self.instance(target.fallback).await?).is_some_and(|db| is_fallback_of(&db, target));
        // The original by its pin; a run readied without one can only go by the marks.
        let original = |db: &DbInstance| match target.fallback_identity {
            Some(_) => not_the_original(db, target).is_none(),
            None => is_fallback_of(db, target) || !set_aside,
        };
        Ok(match self.instance(&target.production.name).await? {
            Some(db) if undo_may_move(&db, target) => Holder::Restored,
            Some(db) if original(&db) => Holder::Original,
            Some(_) => Holder::Other,
            None => Holder::Nobody,
        })
    }

    async fn kept_aside(&self, target: &Target<'_>) -> Result<Option<String>, PortError> {
        let retired = retired_name(target);
        Ok(self
            .instance(&retired)
            .await?
            .filter(|db| belongs_to(db, target.request_id, Some(SERVED_PRODUCTION)))
            .map(|_| retired))
    }

    /// One look, which may say to look again: a status RDS leaves by itself (a backup
    /// right after the rename, settings still being applied) is `Settling`, never a failure.
    async fn verify(&self, target: &Target<'_>) -> Result<Verification, PortError> {
        let production = self.instance(&target.production.name).await?;
        let fallback = self.instance(target.fallback).await?;
        let (Some(prod), Some(fallback)) = (production, fallback) else {
            return Ok(Verification::Failed(
                "production or the fallback is missing".into(),
            ));
        };
        if !is_restored(&prod, target.request_id) {
            return Ok(Verification::Failed(
                "production is not the restored instance".into(),
            ));
        }
        require_restored("verify", &prod, &target.production.name, target)?;
        // Settings are compared with the original's only: a look-alike under the fallback's
        // name proves nothing about production.
        if let Some(why) = not_the_original(&fallback, target) {
            return Ok(Verification::Failed(format!(
                "the fallback {} is not production's original: {why}",
                target.fallback
            )));
        }
        if settling(&prod) {
            return Ok(Verification::Settling(format!(
                "{} is {}{}",
                target.production,
                status(&prod),
                if has_pending_changes(&prod) {
                    ", with changes pending"
                } else {
                    ""
                }
            )));
        }
        let mut problems = Vec::new();
        if status(&prod) != "available" {
            problems.push(format!("production is {}", status(&prod)));
        }
        if tags_of(prod.tag_list()).contains_key(TAG_RESTORE_ROLE) {
            problems.push("production still carries the staging mark".to_string());
        }
        let differences = Settings::of(&prod).differences(&Settings::of(&fallback));
        if !differences.is_empty() {
            problems.push(format!(
                "settings differ from the fallback's: {}",
                differences.join(", ")
            ));
        }
        Ok(if problems.is_empty() {
            Verification::Passed(format!(
                "{} is the restored instance, available, with the fallback's settings and tags",
                target.production
            ))
        } else {
            Verification::Failed(problems.join("; "))
        })
    }

    async fn delete_staging(&self, target: &Target<'_>) -> Result<Deletion, PortError> {
        let Some(staging) = self.instance(target.staging).await? else {
            return Ok(Deletion::AlreadyGone);
        };
        // Only ever an instance this request restored and marked as staging; once pinned,
        // only the very instance pinned.
        if !is_staging_of(&staging, target) {
            return Err(PortError::new(
                "DeleteDBInstance",
                format!("rds:{}", target.staging),
                FailureKind::NotOurs,
                "refusing to delete: it is not marked as this request's staging instance",
            ));
        }
        if let Some(why) = (target.staging_identity).and_then(|pinned| match identity_of(&staging) {
            Some(found) => pinned.differs(&found),
            None => Some("RDS reports no DbiResourceId for it".into()),
        }) {
            return Err(PortError::new(
                "DeleteDBInstance",
                format!("rds:{}", target.staging),
                FailureKind::NotOurs,
                format!("refusing to delete: {why}"),
            ));
        }
        // A restore may have copied production's deletion protection.
        if staging.deletion_protection() == Some(true) {
            self.client
                .modify_db_instance()
                .db_instance_identifier(target.staging)
                .deletion_protection(false)
                .apply_immediately(true)
                .send()
                .await
                .map_err(|e| {
                    port_error(
                        "ModifyDBInstance (deletion protection)",
                        format!("rds:{}", target.staging),
                        e,
                    )
                })?;
        }
        match self
            .client
            .delete_db_instance()
            .db_instance_identifier(target.staging)
            .skip_final_snapshot(true)
            .delete_automated_backups(true)
            .send()
            .await
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) => {
                let e = port_error("DeleteDBInstance", format!("rds:{}", target.staging), e);
                if e.kind == FailureKind::NotFound {
                    Ok(Deletion::AlreadyGone)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// What moto cannot show: RDS reporting a rename as pending under the old name, an instance
/// still `renaming`, and settings still being applied. The SDK client answers from rules.
#[cfg(test)]
mod tests;
