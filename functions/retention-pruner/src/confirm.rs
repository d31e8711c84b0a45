//! Confirming new points: each present record still `creating` is looked up at its service,
//! once per tick until the service says it is available, so a new point is usable by
//! restores within the hour without listing the resource's other points: by the id the
//! creator recorded from the service's answer (DynamoDB's `DescribeBackup`, not its scarce
//! `ListBackups`), or by name for a claim whose creation's answer was lost.
//!
//! - The service holds it: the catalog takes the service's state and id.
//! - The service does not, and the claim is older than its grace: `missing`, reported.
//! - The look-up fails: the record stays as it is; the tick reports the failure.

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use std::collections::BTreeMap;
use std::sync::Arc;

use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::ports::{BackupService, Catalog, PortError, ServicePoint, DESCRIBE_BATCH};

use crate::reconcile::{change_for, recently_claimed, write, Finding, Reconciled};

/// Look-ups under way at once.
const CONCURRENCY: usize = 8;

/// The records at `indexes` (each with the service id the creator recorded) looked up by
/// id, [`DESCRIBE_BATCH`] at a time per service (RDS answers a batch in one call).
async fn described(
    records: &[RecoveryPoint],
    indexes: Vec<(usize, &Arc<dyn BackupService>)>,
) -> Vec<(usize, Result<Option<ServicePoint>, PortError>)> {
    let mut by_service: BTreeMap<ResourceKind, (&Arc<dyn BackupService>, Vec<usize>)> = BTreeMap::new();
    for (index, service) in indexes {
        by_service
            .entry(service.kind())
            .or_insert((service, Vec::new()))
            .1
            .push(index);
    }
    let batches = by_service.into_values().flat_map(|(service, indexes)| {
        indexes
            .chunks(DESCRIBE_BATCH)
            .map(|c| (service, c.to_vec()))
            .collect::<Vec<_>>()
    });
    stream::iter(batches)
        .map(|(service, batch)| async move {
            let ids: Vec<(ResourceKey, String)> = batch
                .iter()
                .map(|&i| {
                    (
                        records[i].resource.clone(),
                        records[i].service_id.clone().unwrap_or_default(),
                    )
                })
                .collect();
            match service.describe_points(&ids).await {
                Ok(found) => batch
                    .into_iter()
                    .map(|i| {
                        // The id, and the resource and slot it must be of: what is confirmed
                        // here is what a later run deletes by that id.
                        let r = &records[i];
                        let point = found.iter().find(|p| {
                            Some(&p.service_id) == r.service_id.as_ref()
                                && p.resource == r.resource
                                && p.slot == r.slot
                        });
                        (i, Ok(point.cloned()))
                    })
                    .collect::<Vec<_>>(),
                Err(e) => batch.into_iter().map(|i| (i, Err(e.clone()))).collect(),
            }
        })
        .buffer_unordered(CONCURRENCY)
        .flat_map(stream::iter)
        .collect()
        .await
}

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
    let (by_id, by_name): (Vec<_>, Vec<_>) = creating
        .into_iter()
        .partition(|(index, _)| records[*index].service_id.is_some());
    let mut looked_up = described(records, by_id).await;
    looked_up.extend(
        stream::iter(by_name)
            .map(|(index, service)| {
                let record = &records[index];
                async move { (index, service.find_point(&record.resource, record.slot).await) }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await,
    );
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
