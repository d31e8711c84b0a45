//! Who may restore an RDS snapshot: its `restore` attribute, read and narrowed.

use async_trait::async_trait;
use aws_sdk_rds::Client;

use super::port_error;
use lifeboat::ports::{FailureKind, PortError, SnapshotSharing};

/// The snapshot attribute that lists who may copy or restore a manual snapshot.
const RESTORE: &str = "restore";

pub struct RdsSharing {
    client: Client,
}

impl RdsSharing {
    pub fn new(client: Client) -> Self {
        RdsSharing { client }
    }
}

#[async_trait]
impl SnapshotSharing for RdsSharing {
    async fn snapshots_of(&self, instance: &str) -> Result<Vec<String>, PortError> {
        let mut ids = Vec::new();
        let mut pages = self
            .client
            .describe_db_snapshots()
            .db_instance_identifier(instance)
            .snapshot_type("manual")
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeDBSnapshots", instance, e))?;
            // The filter is the service's: a snapshot keeps the instance name it was taken
            // under, which after a rollback's renames is not the instance's current name.
            ids.extend(
                page.db_snapshots()
                    .iter()
                    .filter_map(|s| s.db_snapshot_identifier().map(String::from)),
            );
        }
        Ok(ids)
    }

    async fn instance_of(&self, snapshot: &str) -> Result<Option<String>, PortError> {
        match self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(snapshot)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .db_snapshots()
                .iter()
                .find_map(|s| s.db_instance_identifier().map(String::from))),
            Err(e) => {
                let e = port_error("DescribeDBSnapshots", snapshot, e);
                if e.kind == FailureKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    async fn restorers(&self, snapshot: &str) -> Result<Vec<String>, PortError> {
        let out = self
            .client
            .describe_db_snapshot_attributes()
            .db_snapshot_identifier(snapshot)
            .send()
            .await
            .map_err(|e| port_error("DescribeDBSnapshotAttributes", snapshot, e))?;
        Ok(out
            .db_snapshot_attributes_result()
            .map(|r| r.db_snapshot_attributes())
            .unwrap_or_default()
            .iter()
            .filter(|a| a.attribute_name() == Some(RESTORE))
            .flat_map(|a| a.attribute_values().iter().cloned())
            .collect())
    }

    async fn revoke(&self, snapshot: &str, values: &[String]) -> Result<(), PortError> {
        self.client
            .modify_db_snapshot_attribute()
            .db_snapshot_identifier(snapshot)
            .attribute_name(RESTORE)
            .set_values_to_remove(Some(values.to_vec()))
            .send()
            .await
            .map_err(|e| port_error("ModifyDBSnapshotAttribute", snapshot, e))?;
        Ok(())
    }
}
