//! The account's manual RDS snapshots, and who may restore each: its `restore` attribute,
//! read and narrowed.

use async_trait::async_trait;
use aws_sdk_rds::types::{DbSnapshot, Filter};
use aws_sdk_rds::Client;

use super::port_error;
use super::rds::tags_of;
use lifeboat::audit::ManualSnapshot;
use lifeboat::ports::{FailureKind, PortError, SnapshotPage, SnapshotSharing, SnapshotsOf};

/// The snapshot attribute that lists who may copy or restore a manual snapshot.
const RESTORE: &str = "restore";
/// The most snapshots RDS describes in one call.
const PAGE: i32 = 100;

pub struct RdsSharing {
    client: Client,
}

impl RdsSharing {
    pub fn new(client: Client) -> Self {
        RdsSharing { client }
    }
}

/// A snapshot as the audit needs it: its identifier, the instance it was taken of and its
/// tags (`DescribeDBSnapshots` answers them with the rest).
fn manual(s: &DbSnapshot) -> Option<ManualSnapshot> {
    Some(ManualSnapshot {
        id: s.db_snapshot_identifier()?.to_string(),
        instance: s.db_instance_identifier()?.to_string(),
        tags: tags_of(s.tag_list()),
    })
}

#[async_trait]
impl SnapshotSharing for RdsSharing {
    async fn manual_snapshots(
        &self,
        of: SnapshotsOf<'_>,
        marker: Option<String>,
    ) -> Result<SnapshotPage, PortError> {
        // The filter is the service's: a snapshot keeps the instance name it was taken
        // under, which after a rollback's renames or a deletion is no instance's name now.
        let (filters, scope) = match of {
            SnapshotsOf::Account => (None, "rds:snapshot:*".to_string()),
            SnapshotsOf::Instances(names) => (
                Some(vec![Filter::builder()
                    .name("db-instance-id")
                    .set_values(Some(names.to_vec()))
                    .build()]),
                format!("rds:snapshots of {}", names.join(",")),
            ),
        };
        let out = self
            .client
            .describe_db_snapshots()
            .snapshot_type("manual")
            .set_filters(filters)
            .max_records(PAGE)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| port_error("DescribeDBSnapshots", &scope, e))?;
        Ok(SnapshotPage {
            snapshots: out.db_snapshots().iter().filter_map(manual).collect(),
            next: out.marker().filter(|m| !m.is_empty()).map(String::from),
        })
    }

    async fn snapshot(&self, snapshot: &str) -> Result<Option<ManualSnapshot>, PortError> {
        match self
            .client
            .describe_db_snapshots()
            .db_snapshot_identifier(snapshot)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_snapshots().iter().find_map(manual)),
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::operation::modify_db_snapshot_attribute::ModifyDbSnapshotAttributeOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    /// IAM cannot tell removing a share from adding one: the request itself only removes.
    #[tokio::test]
    async fn a_revocation_only_removes_values_and_never_adds_any() {
        let rule = mock!(Client::modify_db_snapshot_attribute)
            .match_requests(|r| {
                r.attribute_name() == Some(RESTORE)
                    && r.values_to_add().is_empty()
                    && r.values_to_remove() == ["all".to_string()]
            })
            .then_output(|| ModifyDbSnapshotAttributeOutput::builder().build());
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, [&rule]);
        RdsSharing::new(client)
            .revoke("lbsafety-x", &["all".to_string()])
            .await
            .expect("the request removes what it names, and only that");
        assert_eq!(rule.num_calls(), 1);
    }
}
