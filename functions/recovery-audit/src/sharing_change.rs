//! The fast path of exposure: CloudTrail's record of a `ModifyDBSnapshotAttribute` call,
//! delivered by an EventBridge rule within minutes of the call. The one snapshot it names is
//! checked and, when it is a backup Lifeboat answers for (a managed instance's, an
//! offboarded one's whose points Lifeboat keeps, or Lifeboat-named) and reaches outside the
//! account and the accounts it trusts, revoked at once. The daily sweep's weekly rotation is the backstop for what this path misses (a rule
//! disabled, an event lost).

use chrono::{DateTime, Utc};
use lifeboat::audit::{Exposure, Finding, FindingKind};
use lifeboat::catalog::{parse_point_name, ResourceKey, ResourceKind};
use lifeboat::event::EventError;
use lifeboat::inventory::managed;
use lifeboat::status_event::fleet::audit_finding;
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::telemetry::publish_counts;
use serde::Serialize;
use serde_json::Value;

use crate::publish::{EXPOSED_METRIC, FUNCTION};
use crate::Auditor;

pub const DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
const EVENT_NAME: &str = "ModifyDBSnapshotAttribute";

/// The snapshot whose sharing a call changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharingChange {
    pub snapshot: String,
    pub event_id: String,
}

/// `Ok(None)` for an event that is not CloudTrail's (a scheduled audit).
pub fn parse(event: &Value) -> Result<Option<SharingChange>, EventError> {
    if event.get("detail-type").and_then(Value::as_str) != Some(DETAIL_TYPE) {
        return Ok(None);
    }
    let detail = &event["detail"];
    match detail["eventName"].as_str() {
        Some(EVENT_NAME) => {}
        other => {
            return Err(EventError::Invalid(format!(
                "field `detail.eventName` must be \"{EVENT_NAME}\" (the only call whose record this function acts on), got {other:?}"
            )))
        }
    }
    let snapshot = detail["requestParameters"]["dBSnapshotIdentifier"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            EventError::Invalid(
                "field `detail.requestParameters.dBSnapshotIdentifier` must name the snapshot".into(),
            )
        })?;
    Ok(Some(SharingChange {
        snapshot: snapshot.to_string(),
        event_id: event["id"].as_str().unwrap_or_default().to_string(),
    }))
}

/// What was found and done.
#[derive(Debug, Clone, Serialize)]
pub struct SharingVerdict {
    pub snapshot: String,
    /// The instance it was taken of, when the snapshot still exists.
    pub instance: Option<String>,
    /// Whether it is a backup Lifeboat answers for: of a managed instance, or of one whose
    /// points Lifeboat still keeps (an offboarded customer's), or Lifeboat-named.
    pub in_scope: bool,
    pub exposure: Option<Exposure>,
    pub report_key: String,
}

impl Auditor {
    /// Checks one snapshot now and revokes what reaches outside the account.
    pub(crate) async fn sharing_changed(
        &self,
        change: &SharingChange,
        now: DateTime<Utc>,
    ) -> Result<SharingVerdict, FunctionError> {
        let dependency =
            |e: lifeboat::ports::PortError| FunctionError::new(FailureType::DependencyFailed, e.to_string());
        let instance = self
            .sharing
            .instance_of(&change.snapshot)
            .await
            .map_err(dependency)?;
        let in_scope = match &instance {
            Some(name) => self
                .answers_for(name, &change.snapshot)
                .await
                .map_err(dependency)?,
            None => false,
        };
        let exposure = match (&instance, in_scope) {
            (Some(name), true) => {
                let restorers = self
                    .sharing
                    .restorers(&change.snapshot)
                    .await
                    .map_err(dependency)?;
                let outside = self.outside(&restorers);
                if outside.is_empty() {
                    None
                } else {
                    let owner = ResourceKey::rds(name.clone()).to_string();
                    Some(
                        self.close_snapshot(self.dry_run, owner, change.snapshot.clone(), outside)
                            .await,
                    )
                }
            }
            _ => None,
        };
        let verdict = SharingVerdict {
            snapshot: change.snapshot.clone(),
            instance,
            in_scope,
            report_key: format!(
                "audits/{}/sharing/{}-{}.json",
                now.format("%Y-%m-%d"),
                change.snapshot,
                now.format("%H%M%S")
            ),
            exposure,
        };
        tracing::info!(verdict = %serde_json::to_string(&verdict).unwrap_or_default(), "snapshot sharing changed");
        if let Some(exposure) = &verdict.exposure {
            let body = serde_json::to_vec_pretty(&verdict).expect("verdicts serialize");
            self.reports
                .put(&verdict.report_key, body, "application/json")
                .await
                .map_err(dependency)?;
            publish_counts(FUNCTION, &[(EXPOSED_METRIC, 1)], now);
            if !self.dry_run {
                let finding = Finding::new(
                    FindingKind::Exposed,
                    exposure.subject.clone(),
                    "shared outside the account".into(),
                );
                let instance = match verdict.instance.as_deref() {
                    Some(rds) => self.customer_of(rds).await,
                    None => None,
                };
                self.events
                    .publish(&audit_finding(
                        now.date_naive(),
                        instance.as_deref(),
                        &finding,
                        now,
                    ))
                    .await;
            }
            if let Some(error) = &exposure.error {
                return Err(FunctionError::new(
                    FailureType::ResourcesFailed,
                    format!(
                        "{} is shared outside the account and could not be revoked: {error}",
                        change.snapshot
                    ),
                ));
            }
        }
        Ok(verdict)
    }

    /// The customer instance RDS instance `rds` is backed up for, as its catalog says.
    async fn customer_of(&self, rds: &str) -> Option<String> {
        let points = self
            .catalog
            .present_points_of(&ResourceKey::rds(rds))
            .await
            .ok()?;
        points.first().map(|p| p.instance_id.clone())
    }

    /// Whether snapshot `snapshot` of RDS instance `instance` is one Lifeboat answers for.
    async fn answers_for(&self, instance: &str, snapshot: &str) -> Result<bool, lifeboat::ports::PortError> {
        if parse_point_name(snapshot).is_some() {
            return Ok(true);
        }
        let key = ResourceKey::rds(instance);
        if !self.catalog.present_points_of(&key).await?.is_empty() {
            return Ok(true);
        }
        for service in (self.services.iter()).filter(|s| s.kind() == ResourceKind::RdsInstance) {
            let found = service.discover().await?;
            if let Some(d) = found.iter().find(|d| d.key == key) {
                return Ok(matches!(managed(d, &self.policies), Ok(Some(_))));
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_cloudtrail_record_names_its_snapshot_and_a_scheduled_event_is_not_one() {
        let record = json!({"id": "ct-1", "detail-type": DETAIL_TYPE, "source": "aws.rds",
            "detail": {"eventName": EVENT_NAME, "requestParameters": {"dBSnapshotIdentifier": "acme-db-x", "attributeName": "restore", "valuesToAdd": ["all"]}}});
        assert_eq!(parse(&record).unwrap().unwrap().snapshot, "acme-db-x");
        assert_eq!(parse(&json!({"detail-type": "Scheduled Event"})).unwrap(), None);
    }

    #[test]
    fn a_record_of_another_call_or_without_a_snapshot_is_refused_with_its_field_named() {
        let other = json!({"detail-type": DETAIL_TYPE, "detail": {"eventName": "DeleteDBSnapshot"}});
        assert!(parse(&other)
            .unwrap_err()
            .to_string()
            .contains("detail.eventName"));
        let nameless =
            json!({"detail-type": DETAIL_TYPE, "detail": {"eventName": EVENT_NAME, "requestParameters": {}}});
        assert!(parse(&nameless)
            .unwrap_err()
            .to_string()
            .contains("detail.requestParameters.dBSnapshotIdentifier"));
    }
}
