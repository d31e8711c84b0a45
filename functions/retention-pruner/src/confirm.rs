//! Confirming new points: each present record still `creating` (the creator's claim, with or
//! without the service's id) is looked up at its service by name, once per tick until the
//! service says it is available, so a new point is usable by restores within the hour
//! without listing the resource's other points.
//!
//! - The service holds it: the catalog takes the service's state and id.
//! - The service does not, and the claim is older than its grace: `missing`, reported.
//! - The look-up fails: the record stays as it is; the tick reports the failure.

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use lifeboat::catalog::{PointState, RecoveryPoint};
use lifeboat::ports::{BackupService, Catalog};
use std::sync::Arc;

use crate::reconcile::{change_for, recently_claimed, write, Finding, Reconciled};

/// Look-ups under way at once.
const CONCURRENCY: usize = 8;

/// Confirms the `creating` records of `records` (updated in place); the findings, and
/// look-ups that failed as findings carrying their error.
pub(crate) async fn confirm(
    services: &[Arc<dyn BackupService>],
    catalog: &dyn Catalog,
    records: &mut [RecoveryPoint],
    now: DateTime<Utc>,
    dry_run: bool,
) -> Vec<Reconciled> {
    let creating: Vec<(usize, &Arc<dyn BackupService>)> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.state == PointState::Creating)
        .filter_map(|(i, r)| Some((i, services.iter().find(|s| s.kind() == r.resource.kind)?)))
        .collect();
    let looked_up: Vec<_> = stream::iter(creating)
        .map(|(index, service)| {
            let record = &records[index];
            async move { (index, service.find_point(&record.resource, record.slot).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut pending = Vec::new();
    let mut failed = Vec::new();
    for (index, found) in looked_up {
        let record = &records[index];
        let at_service = match found {
            Ok(found) => found,
            Err(e) => {
                failed.push(Reconciled {
                    resource: record.resource.clone(),
                    slot: record.slot,
                    finding: Finding::Unconfirmed,
                    error: Some(format!("looking the point up: {e}")),
                });
                continue;
            }
        };
        let finding = match &at_service {
            Some(p) if p.state != record.state || record.service_id.as_deref() != Some(&p.service_id) => {
                Finding::Synced {
                    from: record.state,
                    to: p.state,
                }
            }
            None if !recently_claimed(record, now) => Finding::Vanished,
            _ => continue,
        };
        let change = change_for(&finding, at_service.as_ref(), now);
        pending.push((index, finding, change));
    }
    // Index order, so the catalog's writes and the report do not depend on answer order.
    pending.sort_by_key(|(index, _, _)| *index);
    let mut findings = write(catalog, records, pending, dry_run).await;
    findings.extend(failed);
    findings
}
