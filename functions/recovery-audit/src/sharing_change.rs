//! The fast path of exposure: CloudTrail's record of a `ModifyDBSnapshotAttribute` call,
//! delivered by an EventBridge rule within minutes of the call. The one snapshot it names is
//! checked and, when it holds a customer's data by the sweep's own rule
//! ([`lifeboat::audit::lineage`]: of a managed instance or one whose points Lifeboat keeps, of
//! an instance Lifeboat made such as a rollback's kept `lbf-` one, Lifeboat-named, or carrying
//! Lifeboat's tags) and reaches outside the account and the accounts it trusts, revoked at
//! once. The daily sweep is the backstop for what this path misses (a rule disabled, an
//! event lost).

use chrono::{DateTime, Utc};
use lifeboat::audit::{lineage, Exposure, Finding, FindingKind, KnownSources, Lineage, ManualSnapshot};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::event::EventError;
use lifeboat::inventory::{managed, TAG_INSTANCE};
use lifeboat::status_event::fleet::audit_finding;
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::telemetry::publish_counts;
use serde::Serialize;
use serde_json::Value;

use crate::guarded::Guarded;
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
    /// Whether it holds a customer's data, so that Lifeboat answers for its sharing.
    pub in_scope: bool,
    /// Why it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
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
        let snapshot = self
            .sharing
            .snapshot(&change.snapshot)
            .await
            .map_err(dependency)?;
        let instance = snapshot.as_ref().map(|s| s.instance.clone());
        let guarded = match snapshot {
            Some(snapshot) => self.guarded(snapshot).await.map_err(dependency)?,
            None => None,
        };
        let lineage = guarded.as_ref().map(|g| g.lineage);
        let exposure = match guarded {
            Some(guarded) => {
                let restorers = self
                    .sharing
                    .restorers(&change.snapshot)
                    .await
                    .map_err(dependency)?;
                let outside = self.outside(&restorers);
                if outside.is_empty() {
                    None
                } else {
                    Some(self.close_snapshot(self.dry_run, guarded.exposed(outside)).await)
                }
            }
            None => None,
        };
        let verdict = SharingVerdict {
            snapshot: change.snapshot.clone(),
            instance,
            in_scope: lineage.is_some(),
            lineage,
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
                let instance = match (&exposure.instance, verdict.instance.as_deref()) {
                    (Some(instance), _) => Some(instance.clone()),
                    (None, Some(rds)) => self.customer_of(rds).await,
                    (None, None) => None,
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

    /// `snapshot` with why it is guarded, `None` when it is not: the sweep's rule, its
    /// source instance looked up in the catalog and, only when nothing else guards it, in
    /// the services' discovery (a managed instance not backed up yet).
    async fn guarded(&self, snapshot: ManualSnapshot) -> Result<Option<Guarded>, lifeboat::ports::PortError> {
        let key = ResourceKey::rds(&snapshot.instance);
        let mut known = KnownSources::default();
        if !self.catalog.present_points_of(&key).await?.is_empty() {
            known.kept.insert(snapshot.instance.clone());
        }
        if lineage(&snapshot, &known).is_none() && self.managed_now(&key).await? {
            known.managed.insert(snapshot.instance.clone());
        }
        Ok(lineage(&snapshot, &known).map(|lineage| Guarded {
            instance: snapshot.tags.get(TAG_INSTANCE).cloned(),
            snapshot,
            lineage,
        }))
    }

    /// Whether RDS instance `key` is managed now.
    async fn managed_now(&self, key: &ResourceKey) -> Result<bool, lifeboat::ports::PortError> {
        for service in (self.services.iter()).filter(|s| s.kind() == ResourceKind::RdsInstance) {
            let found = service.discover().await?;
            if let Some(d) = found.iter().find(|d| d.key == *key) {
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
