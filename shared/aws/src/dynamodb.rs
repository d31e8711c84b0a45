//! DynamoDB tables and their on-demand backups.
//!
//! Tables are found through the Resource Groups Tagging API (one paged call for the whole
//! fleet instead of one tag lookup per table). Backup names are not unique in DynamoDB, so
//! callers claim the slot in the catalog before creating and look before creating again.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::types::{
    BackupStatus, BackupSummary, BackupTypeFilter, PointInTimeRecoveryDescription,
    PointInTimeRecoverySpecification, PointInTimeRecoveryStatus,
};

use super::tagged::tagged;
use super::{port_error, utc};
use lifeboat::catalog::{parse_point_name, PointState, ResourceKey, ResourceKind};
use lifeboat::inventory::{DiscoveredResource, PitrStatus};
use lifeboat::ports::{BackupService, Deletion, FailureKind, NewPoint, PortError, Quota, ServicePoint};
use lifeboat::request::options::RestorableWindow;
use lifeboat::schedule::Slot;

pub struct DynamoBackups {
    dynamodb: aws_sdk_dynamodb::Client,
    tagging: aws_sdk_resourcegroupstagging::Client,
}

impl DynamoBackups {
    pub fn new(dynamodb: aws_sdk_dynamodb::Client, tagging: aws_sdk_resourcegroupstagging::Client) -> Self {
        DynamoBackups { dynamodb, tagging }
    }

    /// The tables tagged `lifeboat:instance` (with `instance`'s value only, when given).
    async fn tables(&self, instance: Option<&str>) -> Result<Vec<DiscoveredResource>, PortError> {
        let tagged = tagged(&self.tagging, "dynamodb:table", instance).await?;
        Ok(tagged
            .into_iter()
            .filter_map(|t| {
                Some(DiscoveredResource {
                    key: ResourceKey::dynamodb(table_name_of(&t.arn)?),
                    tags: t.tags,
                    pitr: None,
                })
            })
            .collect())
    }

    /// The table's point-in-time recovery description (status, window, period).
    async fn point_in_time_recovery(
        &self,
        resource: &ResourceKey,
    ) -> Result<Option<PointInTimeRecoveryDescription>, PortError> {
        let out = self
            .dynamodb
            .describe_continuous_backups()
            .table_name(&resource.name)
            .send()
            .await
            .map_err(|e| port_error("DescribeContinuousBackups", resource, e))?;
        Ok(out
            .continuous_backups_description
            .and_then(|d| d.point_in_time_recovery_description))
    }

    async fn list(&self, table: Option<&str>) -> Result<Vec<ServicePoint>, PortError> {
        let mut points = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let out = self
                .dynamodb
                .list_backups()
                .set_table_name(table.map(str::to_string))
                .backup_type(BackupTypeFilter::User)
                .set_exclusive_start_backup_arn(start.take())
                .send()
                .await
                .map_err(|e| port_error("ListBackups", table.unwrap_or("dynamodb:*"), e))?;
            points.extend(out.backup_summaries().iter().filter_map(service_point));
            match out.last_evaluated_backup_arn() {
                Some(arn) if !arn.is_empty() => start = Some(arn.to_string()),
                _ => return Ok(points),
            }
        }
    }
}

fn backup_state(status: &BackupStatus) -> PointState {
    match status {
        BackupStatus::Available => PointState::Available,
        BackupStatus::Creating => PointState::Creating,
        BackupStatus::Deleted => PointState::Deleted,
        _ => PointState::Missing,
    }
}

/// A Lifeboat backup: named by Lifeboat for the table it backs up.
fn service_point(b: &BackupSummary) -> Option<ServicePoint> {
    let (resource, slot) = parse_point_name(b.backup_name()?)?;
    if Some(resource) != b.table_name() {
        return None;
    }
    let state = backup_state(b.backup_status()?);
    Some(ServicePoint {
        resource: ResourceKey::dynamodb(resource),
        slot,
        service_id: b.backup_arn()?.to_string(),
        state,
        tags: BTreeMap::new(),
    })
}

/// `arn:aws:dynamodb:region:account:table/NAME` → `NAME`.
fn table_name_of(arn: &str) -> Option<&str> {
    arn.split_once(":table/")
        .map(|(_, name)| name)
        .filter(|n| !n.contains('/'))
}

#[async_trait]
impl BackupService for DynamoBackups {
    fn kind(&self) -> ResourceKind {
        ResourceKind::DynamoTable
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, PortError> {
        self.tables(None).await
    }

    async fn discover_instance(&self, instance_id: &str) -> Result<Vec<DiscoveredResource>, PortError> {
        self.tables(Some(instance_id)).await
    }

    async fn pitr_status(&self, resource: &ResourceKey) -> Result<PitrStatus, PortError> {
        let pitr = self.point_in_time_recovery(resource).await?;
        let pitr = pitr.as_ref();
        let enabled =
            pitr.and_then(|p| p.point_in_time_recovery_status()) == Some(&PointInTimeRecoveryStatus::Enabled);
        Ok(PitrStatus {
            enabled,
            // DynamoDB's default window, when none was set, is 35 days.
            window_days: enabled.then(|| {
                pitr.and_then(|p| p.recovery_period_in_days())
                    .and_then(|d| u8::try_from(d).ok())
                    .unwrap_or(35)
            }),
        })
    }

    async fn restorable_window(&self, resource: &ResourceKey) -> Result<Option<RestorableWindow>, PortError> {
        let Some(pitr) = self
            .point_in_time_recovery(resource)
            .await?
            .filter(|p| p.point_in_time_recovery_status() == Some(&PointInTimeRecoveryStatus::Enabled))
        else {
            return Ok(None);
        };
        let earliest = pitr.earliest_restorable_date_time().and_then(utc);
        let latest = pitr.latest_restorable_date_time().and_then(utc);
        Ok(earliest
            .zip(latest)
            .map(|(earliest, latest)| RestorableWindow { earliest, latest }))
    }

    async fn raise_pitr_window(&self, resource: &ResourceKey, days: u8) -> Result<(), PortError> {
        let found = self.pitr_status(resource).await?;
        if found.enabled && found.window_days.unwrap_or(0) >= days {
            // A shorter recovery period drops the restorable history beyond it: never.
            return Ok(());
        }
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .recovery_period_in_days(i32::from(days))
            .build()
            .map_err(|e| {
                PortError::new(
                    "UpdateContinuousBackups",
                    resource,
                    FailureKind::Refused,
                    e.to_string(),
                )
            })?;
        self.dynamodb
            .update_continuous_backups()
            .table_name(&resource.name)
            .point_in_time_recovery_specification(spec)
            .send()
            .await
            .map_err(|e| port_error("UpdateContinuousBackups", resource, e))?;
        Ok(())
    }

    async fn snapshot_quota(&self) -> Result<Option<Quota>, PortError> {
        // On-demand backups have no count quota.
        Ok(None)
    }

    async fn points(&self) -> Result<Vec<ServicePoint>, PortError> {
        self.list(None).await
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError> {
        let points = self.list(Some(&resource.name)).await?;
        Ok(points.into_iter().filter(|p| &p.resource == resource).collect())
    }

    async fn find_point(
        &self,
        resource: &ResourceKey,
        slot: Slot,
    ) -> Result<Option<ServicePoint>, PortError> {
        let points = self.list(Some(&resource.name)).await?;
        Ok(points
            .into_iter()
            .find(|p| p.slot == slot && p.state.is_present()))
    }

    async fn describe_point(
        &self,
        resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Option<ServicePoint>, PortError> {
        match self
            .dynamodb
            .describe_backup()
            .backup_arn(service_id)
            .send()
            .await
        {
            Ok(out) => Ok(out.backup_description().and_then(|d| {
                let details = d.backup_details()?;
                let (table, slot) = parse_point_name(details.backup_name())?;
                let source = d.source_table_details().map(|t| t.table_name())?;
                (table == resource.name && source == table).then(|| ServicePoint {
                    resource: resource.clone(),
                    slot,
                    service_id: details.backup_arn().to_string(),
                    state: backup_state(details.backup_status()),
                    tags: BTreeMap::new(),
                })
            })),
            Err(e) => {
                let e = port_error("DescribeBackup", service_id, e);
                if e.kind == FailureKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn create_point(&self, point: &NewPoint) -> Result<ServicePoint, PortError> {
        let name = point.resource.point_name(point.slot);
        // Backup names are not unique and CreateBackup takes no idempotency token: an SDK retry
        // after a lost answer could make a second backup. A failure here fails the resource;
        // the tick's retry looks for the backup before creating again.
        let out = self
            .dynamodb
            .create_backup()
            .table_name(&point.resource.name)
            .backup_name(&name)
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default().retry_config(RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| port_error("CreateBackup", &name, e))?;
        let details = out.backup_details().ok_or_else(|| {
            PortError::new(
                "CreateBackup",
                &name,
                FailureKind::Refused,
                "the answer lacks the backup",
            )
        })?;
        Ok(ServicePoint {
            resource: point.resource.clone(),
            slot: point.slot,
            service_id: details.backup_arn().to_string(),
            state: match details.backup_status() {
                BackupStatus::Available => PointState::Available,
                _ => PointState::Creating,
            },
            tags: BTreeMap::new(),
        })
    }

    async fn delete_point(&self, _resource: &ResourceKey, service_id: &str) -> Result<Deletion, PortError> {
        match self.dynamodb.delete_backup().backup_arn(service_id).send().await {
            Ok(_) => Ok(Deletion::Deleted),
            Err(e) => {
                let e = port_error("DeleteBackup", service_id, e);
                if e.kind == FailureKind::NotFound {
                    Ok(Deletion::AlreadyGone)
                } else {
                    Err(e)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_come_from_table_arns_only() {
        assert_eq!(
            table_name_of("arn:aws:dynamodb:eu-west-1:123:table/orders"),
            Some("orders")
        );
        assert_eq!(
            table_name_of("arn:aws:dynamodb:eu-west-1:123:table/orders/stream/x"),
            None
        );
        assert_eq!(table_name_of("arn:aws:rds:eu-west-1:123:db:x"), None);
    }
}
