//! RDS DB instances and their manual snapshots.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbSnapshot, Filter, Tag};
use aws_sdk_rds::Client;

use super::tagged::tagged;
use super::{port_error, utc};
use lifeboat::catalog::{parse_point_name, PointState, ResourceKey, ResourceKind};
use lifeboat::inventory::{
    DiscoveredResource, PitrStatus, TAG_EXPIRES, TAG_INSTANCE, TAG_MANAGED, TAG_POLICY, TAG_SLOT, TAG_TIERS,
    TAG_TIMEZONE,
};
use lifeboat::ports::{BackupService, Deletion, FailureKind, NewPoint, PortError, Quota, ServicePoint};
use lifeboat::request::options::RestorableWindow;
use lifeboat::schedule::Slot;

/// The RDS account quota that manual DB snapshots count against.
pub const MANUAL_SNAPSHOTS_QUOTA: &str = "ManualSnapshots";

pub struct RdsSnapshots {
    client: Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

impl RdsSnapshots {
    pub fn new(client: Client, tagging: aws_sdk_resourcegroupstagging::Client) -> Self {
        RdsSnapshots { client, tagging }
    }
}

impl RdsSnapshots {
    /// The Lifeboat snapshot named `name`, if RDS holds it.
    async fn snapshot(&self, name: &str) -> Result<Option<ServicePoint>, PortError> {
        match self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(name)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_snapshots().iter().find_map(service_point)),
            Err(e) => {
                let e = port_error("DescribeDBSnapshots", name, e);
                if e.kind == FailureKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// `arn:aws:rds:REGION:ACCOUNT:db:NAME` → `NAME`.
fn instance_name_of(arn: &str) -> Option<&str> {
    arn.split_once(":db:")
        .map(|(_, name)| name)
        .filter(|n| !n.contains(':'))
}

pub(crate) fn tags_of(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

fn tag(key: &str, value: impl Into<String>) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// A Lifeboat snapshot: named by Lifeboat for its own instance, and tagged as managed.
fn service_point(s: &DbSnapshot) -> Option<ServicePoint> {
    let id = s.db_snapshot_identifier()?;
    let instance = s.db_instance_identifier()?;
    let (resource, slot) = parse_point_name(id)?;
    let tags = tags_of(s.tag_list());
    if resource != instance || tags.get(TAG_MANAGED).map(String::as_str) != Some("true") {
        return None;
    }
    Some(ServicePoint {
        resource: ResourceKey::rds(instance),
        slot,
        service_id: id.to_string(),
        state: state_of(s.status().unwrap_or_default()),
        tags,
    })
}

fn state_of(status: &str) -> PointState {
    match status {
        "available" => PointState::Available,
        "deleting" => PointState::Deleted,
        "failed" | "incompatible-restore" => PointState::Missing,
        _ => PointState::Creating,
    }
}

#[async_trait]
impl BackupService for RdsSnapshots {
    fn kind(&self) -> ResourceKind {
        ResourceKind::RdsInstance
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, PortError> {
        let mut found = Vec::new();
        let mut pages = self.client.describe_db_instances().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeDBInstances", "rds:*", e))?;
            for db in page.db_instances() {
                let Some(id) = db.db_instance_identifier() else {
                    continue;
                };
                if let Some(cluster) = db.db_cluster_identifier() {
                    // Aurora members are backed up through their cluster, which Lifeboat
                    // does not manage yet; snapshotting a member would fail every hour.
                    tracing::warn!(instance = id, cluster, "skipping an Aurora cluster member");
                    continue;
                }
                let days = db.backup_retention_period().unwrap_or(0);
                found.push(DiscoveredResource {
                    key: ResourceKey::rds(id),
                    tags: tags_of(db.tag_list()),
                    pitr: Some(PitrStatus {
                        enabled: days > 0,
                        window_days: u8::try_from(days).ok(),
                    }),
                });
            }
        }
        Ok(found)
    }

    /// Through the tagging API: DescribeDBInstances cannot filter by tag. The continuous
    /// backup state is left out (`pitr: None`); whoever needs it asks [`Self::pitr_status`].
    async fn discover_instance(&self, instance_id: &str) -> Result<Vec<DiscoveredResource>, PortError> {
        let tagged = tagged(&self.tagging, "rds:db", Some(instance_id)).await?;
        Ok(tagged
            .into_iter()
            .filter_map(|t| {
                Some(DiscoveredResource {
                    key: ResourceKey::rds(instance_name_of(&t.arn)?),
                    tags: t.tags,
                    pitr: None,
                })
            })
            .collect())
    }

    async fn restorable_window(&self, resource: &ResourceKey) -> Result<Option<RestorableWindow>, PortError> {
        // The automated backups carry the instance's real restore window; the instance's
        // own description has only its latest restorable time.
        let out = self
            .client
            .describe_db_instance_automated_backups()
            .db_instance_identifier(&resource.name)
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) => {
                let e = port_error("DescribeDBInstanceAutomatedBackups", resource, e);
                return if e.kind == FailureKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                };
            }
        };
        let window = out
            .db_instance_automated_backups()
            .iter()
            .filter(|b| b.status() == Some("active"))
            .filter_map(|b| b.restore_window())
            .find_map(|w| {
                let earliest = w.earliest_time().and_then(utc)?;
                let latest = w.latest_time().and_then(utc)?;
                Some(RestorableWindow { earliest, latest })
            });
        Ok(window)
    }

    async fn pitr_status(&self, resource: &ResourceKey) -> Result<PitrStatus, PortError> {
        let out = self
            .client
            .describe_db_instances()
            .db_instance_identifier(&resource.name)
            .send()
            .await
            .map_err(|e| port_error("DescribeDBInstances", resource, e))?;
        let days = out
            .db_instances()
            .first()
            .and_then(|db| db.backup_retention_period())
            .unwrap_or(0);
        Ok(PitrStatus {
            enabled: days > 0,
            window_days: u8::try_from(days).ok(),
        })
    }

    async fn raise_pitr_window(&self, resource: &ResourceKey, days: u8) -> Result<(), PortError> {
        let found = self.pitr_status(resource).await?.window_days.unwrap_or(0);
        if found >= days {
            // Lowering the retention deletes automated backups at once: never.
            return Ok(());
        }
        // Turning backups on from 0 days restarts the instance when applied at once: that is
        // left to its maintenance window. Raising the number of days is applied now.
        let enabling = found == 0;
        self.client
            .modify_db_instance()
            .db_instance_identifier(&resource.name)
            .backup_retention_period(i32::from(days))
            .apply_immediately(!enabling)
            .send()
            .await
            .map_err(|e| port_error("ModifyDBInstance", resource, e))?;
        Ok(())
    }

    async fn snapshot_quota(&self) -> Result<Option<Quota>, PortError> {
        let out = self
            .client
            .describe_account_attributes()
            .send()
            .await
            .map_err(|e| port_error("DescribeAccountAttributes", "rds:account", e))?;
        Ok(out
            .account_quotas()
            .iter()
            .find(|q| q.account_quota_name() == Some(MANUAL_SNAPSHOTS_QUOTA))
            .map(|q| Quota {
                name: format!("RDS {MANUAL_SNAPSHOTS_QUOTA}"),
                used: q.used().unwrap_or(0).max(0) as u64,
                max: q.max().unwrap_or(0).max(0) as u64,
            }))
    }

    async fn points(&self) -> Result<Vec<ServicePoint>, PortError> {
        let mut points = Vec::new();
        let mut pages = self
            .client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeDBSnapshots", "rds:*", e))?;
            points.extend(page.db_snapshots().iter().filter_map(service_point));
        }
        Ok(points)
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError> {
        let mut points = Vec::new();
        let mut pages = self
            .client
            .describe_db_snapshots()
            .db_instance_identifier(&resource.name)
            .snapshot_type("manual")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeDBSnapshots", resource, e))?;
            points.extend(
                page.db_snapshots()
                    .iter()
                    .filter_map(service_point)
                    .filter(|p| &p.resource == resource),
            );
        }
        Ok(points)
    }

    async fn find_point(
        &self,
        resource: &ResourceKey,
        slot: Slot,
    ) -> Result<Option<ServicePoint>, PortError> {
        self.snapshot(&resource.point_name(slot)).await
    }

    /// A snapshot's id is its name.
    async fn describe_point(
        &self,
        _resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Option<ServicePoint>, PortError> {
        self.snapshot(service_id).await
    }

    /// One `DescribeDBSnapshots` filtered by the snapshots' ids.
    async fn describe_points(&self, ids: &[(ResourceKey, String)]) -> Result<Vec<ServicePoint>, PortError> {
        let filter = Filter::builder()
            .name("db-snapshot-id")
            .set_values(Some(ids.iter().map(|(_, id)| id.clone()).collect()))
            .build();
        let mut found = Vec::new();
        let mut pages = self
            .client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeDBSnapshots", "rds:*", e))?;
            found.extend(page.db_snapshots().iter().filter_map(service_point));
        }
        Ok(found)
    }

    async fn create_point(&self, point: &NewPoint) -> Result<ServicePoint, PortError> {
        let name = point.resource.point_name(point.slot);
        let expires = point
            .tiers
            .expires_at()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default();
        let result = self
            .client
            .create_db_snapshot()
            .db_instance_identifier(&point.resource.name)
            .db_snapshot_identifier(&name)
            .tags(tag(TAG_MANAGED, "true"))
            .tags(tag(TAG_INSTANCE, point.instance_id.clone()))
            .tags(tag(TAG_POLICY, point.policy.clone()))
            .tags(tag(TAG_TIMEZONE, point.timezone.clone()))
            .tags(tag(TAG_SLOT, point.slot.to_string()))
            .tags(tag(TAG_TIERS, point.tiers.names().join(" ")))
            .tags(tag(TAG_EXPIRES, expires))
            .send()
            .await;
        match result {
            Ok(out) => out.db_snapshot().and_then(service_point).ok_or_else(|| {
                PortError::new(
                    "CreateDBSnapshot",
                    &name,
                    FailureKind::Refused,
                    "the answer lacks the snapshot",
                )
            }),
            Err(e) => {
                let e = port_error("CreateDBSnapshot", &name, e);
                // Identifiers are unique: a retried tick finds what the first try made.
                if e.kind == FailureKind::Conflict {
                    if let Some(existing) = self.find_point(&point.resource, point.slot).await? {
                        return Ok(existing);
                    }
                }
                Err(e)
            }
        }
    }

    async fn delete_point(&self, _resource: &ResourceKey, service_id: &str) -> Result<Deletion, PortError> {
        match self
            .client
            .delete_db_snapshot()
            .db_snapshot_identifier(service_id)
            .send()
            .await
        {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) => {
                let e = port_error("DeleteDBSnapshot", service_id, e);
                if e.kind == FailureKind::NotFound {
                    Ok(Deletion::AlreadyGone)
                } else {
                    Err(e)
                }
            }
        }
    }
}
