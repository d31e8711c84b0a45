//! Reconciliation: bring the catalog in line with what the services really hold.
//!
//! - A catalogued point the service holds: state and service id copied from the service
//!   (this is how `creating` records written by the creator become `available`).
//! - A catalogued point the service no longer holds: marked `missing` and reported, unless it
//!   was claimed so recently that its creation may still be on its way.
//! - A Lifeboat point the catalog lacks: adopted (see [`crate::adopt`]).
//! - Several service points for one slot (a creation retried after a lost answer): the
//!   catalogued one stays, the others are deleted as duplicates.
//! - A point the catalog says was deleted but the service still holds: a deletion that was
//!   interrupted part-way; it is finished. One it says is missing but is back: revived.
//!
//! The catalog is read for present records only; the rest are found by claiming the slot of
//! each leftover service point, which answers with the existing record when there is one.
//! One resource at a time, on its turn of the rotation: its points listed at the service.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::inventory::ManagedResource;

use crate::adopt::adopted;
use lifeboat::policy::PolicyBook;
use lifeboat::ports::{BackupService, Catalog, Claim, ServicePoint, StateChange};
use lifeboat::schedule::Slot;
use serde::Serialize;

/// A claim younger than this with nothing at the service is left alone: the creator that
/// claimed it may still be asking the service.
const CLAIM_GRACE: TimeDelta = TimeDelta::hours(1);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "action")]
pub enum Finding {
    /// The catalog now says what the service says.
    Synced { from: PointState, to: PointState },
    /// The service no longer holds a catalogued point.
    Vanished,
    /// A Lifeboat point the catalog lacked was added to it.
    Adopted,
    /// A deletion interrupted part-way was finished.
    DeletionFinished,
    /// A second point of the same slot (made by a retried creation) was deleted.
    DuplicateDeleted { service_id: String },
    /// A point still being created could not be looked up at its service this tick.
    Unconfirmed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Reconciled {
    pub resource: ResourceKey,
    pub slot: Slot,
    #[serde(flatten)]
    pub finding: Finding,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Reconciles `records` (one resource's present records, updated in place) against `held`,
/// what its service holds of it; `managed` gives adopted points their resource's settings.
#[allow(clippy::too_many_arguments)]
pub async fn reconcile(
    service: &dyn BackupService,
    catalog: &dyn Catalog,
    policies: &PolicyBook,
    managed: &HashMap<ResourceKey, ManagedResource>,
    records: &mut Vec<RecoveryPoint>,
    held: Vec<ServicePoint>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Vec<Reconciled> {
    let kind = service.kind();
    let (mut held, duplicates) = without_duplicates(catalog, records, held, kind).await;
    let mut findings = remove_duplicates(service, duplicates, dry_run).await;
    let mut pending = Vec::new();
    for (index, record) in records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.resource.kind == kind)
    {
        let at_service = held.remove(&(record.resource.clone(), record.slot));
        let finding = match (&at_service, record.state) {
            (Some(p), state) if p.state != state || record.service_id.as_deref() != Some(&p.service_id) => {
                Some(Finding::Synced {
                    from: state,
                    to: p.state,
                })
            }
            (None, state) if state.is_present() && !recently_claimed(record, now) => Some(Finding::Vanished),
            _ => None,
        };
        if let Some(finding) = finding {
            let change = change_for(&finding, at_service.as_ref(), now);
            pending.push((index, finding, change));
        }
    }
    findings.extend(write(catalog, records, pending, dry_run).await);
    // What is left is held by the service but absent from the present records: unknown to
    // the catalog (adopt it), or recorded as deleted or missing (finish or revive it).
    let leftovers: Vec<ServicePoint> = held.into_values().filter(|p| p.state.is_present()).collect();
    if !leftovers.is_empty() {
        for p in leftovers {
            let point = adopted(&p, managed.get(&p.resource), policies, now);
            let (finding, error, present) = if dry_run {
                (Finding::Adopted, None, Some(point))
            } else {
                settle_leftover(service, catalog, point, &p, now).await
            };
            findings.push(Reconciled {
                resource: p.resource.clone(),
                slot: p.slot,
                finding,
                error,
            });
            records.extend(present);
        }
    }
    findings
}

/// Writes the catalog changes `pending` calls for (each: an index into `records`, the
/// finding, the change) in one batch, and applies those written to `records`.
pub(crate) async fn write(
    catalog: &dyn Catalog,
    records: &mut [RecoveryPoint],
    pending: Vec<(usize, Finding, StateChange)>,
    dry_run: bool,
) -> Vec<Reconciled> {
    let changes: Vec<_> = pending
        .iter()
        .map(|(index, _, change)| {
            (
                records[*index].resource.clone(),
                records[*index].slot,
                change.clone(),
            )
        })
        .collect();
    // A dry run changes nothing, but decides on the reconciled view, as a real run would.
    let written = if dry_run || changes.is_empty() {
        changes.iter().map(|_| Ok(())).collect()
    } else {
        catalog.update_states(&changes).await
    };
    let mut findings = Vec::with_capacity(pending.len());
    for ((index, finding, change), written) in pending.into_iter().zip(written) {
        let record = &mut records[index];
        if written.is_ok() {
            record.state = change.state;
            if change.service_id.is_some() {
                record.service_id = change.service_id;
            }
        }
        findings.push(Reconciled {
            resource: record.resource.clone(),
            slot: record.slot,
            finding,
            error: written.err().map(|e| e.to_string()),
        });
    }
    findings
}

/// The service's points by slot, one each, and the extra ones to delete. Which copy of a
/// slot stays is the one the catalog records, so the records of slots with several copies
/// are read again, consistently (`records` come from an index that may lag the id the
/// creator recorded), and replace those in `records`; unreadable, no copy is deleted this run.
async fn without_duplicates(
    catalog: &dyn Catalog,
    records: &mut [RecoveryPoint],
    held: Vec<ServicePoint>,
    kind: ResourceKind,
) -> (HashMap<(ResourceKey, Slot), ServicePoint>, Vec<ServicePoint>) {
    let of_kind = |records: &[RecoveryPoint]| -> Vec<RecoveryPoint> {
        records
            .iter()
            .filter(|r| r.resource.kind == kind)
            .cloned()
            .collect()
    };
    let (kept, duplicates) = group_held(held.clone(), of_kind(records).iter());
    if duplicates.is_empty() {
        return (kept, duplicates);
    }
    let slots: BTreeSet<(ResourceKey, Slot)> =
        duplicates.iter().map(|p| (p.resource.clone(), p.slot)).collect();
    let slots: Vec<_> = slots.into_iter().collect();
    match catalog.get_points(&slots).await {
        Ok(fresh) => {
            // A record no longer present is left as read: the conditional writes refuse it.
            let fresh: Vec<RecoveryPoint> = fresh.into_iter().filter(|f| f.state.is_present()).collect();
            for f in &fresh {
                if let Some(r) = records
                    .iter_mut()
                    .find(|r| r.resource == f.resource && r.slot == f.slot)
                {
                    *r = f.clone();
                }
            }
            // Also a record the index does not show yet: the fresh read decides.
            group_held(held, of_kind(records).iter().chain(fresh.iter()))
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the records of duplicated points again: none deleted this run");
            (kept, Vec::new())
        }
    }
}

/// The service's points by slot, one each, and the extra ones: of several points for one
/// slot, the one the catalog records stays if the service still holds it (else the first
/// held by id, for a stable choice).
fn group_held<'a>(
    held: Vec<ServicePoint>,
    records: impl Iterator<Item = &'a RecoveryPoint>,
) -> (HashMap<(ResourceKey, Slot), ServicePoint>, Vec<ServicePoint>) {
    let recorded: HashMap<(&ResourceKey, Slot), &str> = records
        .filter_map(|r| Some(((&r.resource, r.slot), r.service_id.as_deref()?)))
        .collect();
    let mut groups: HashMap<(ResourceKey, Slot), Vec<ServicePoint>> = HashMap::new();
    for p in held {
        groups.entry((p.resource.clone(), p.slot)).or_default().push(p);
    }
    let mut kept = HashMap::new();
    let mut extra = Vec::new();
    for (key, mut points) in groups {
        points.sort_by(|a, b| a.service_id.cmp(&b.service_id));
        let wanted = recorded.get(&(&key.0, key.1)).copied();
        // A copy the service is deleting or has deleted never stays in place of a live one.
        let keep = points
            .iter()
            .position(|p| Some(p.service_id.as_str()) == wanted && p.state.is_present())
            .or_else(|| points.iter().position(|p| p.state.is_present()))
            .unwrap_or(0);
        kept.insert(key, points.swap_remove(keep));
        extra.extend(points);
    }
    (kept, extra)
}

/// Deletes the extra points of a slot (a dry run only reports them).
async fn remove_duplicates(
    service: &dyn BackupService,
    duplicates: Vec<ServicePoint>,
    dry_run: bool,
) -> Vec<Reconciled> {
    let mut findings = Vec::new();
    for p in duplicates {
        let error = if dry_run {
            None
        } else {
            service
                .delete_point(&p.resource, &p.service_id)
                .await
                .err()
                .map(|e| e.to_string())
        };
        findings.push(Reconciled {
            resource: p.resource,
            slot: p.slot,
            finding: Finding::DuplicateDeleted {
                service_id: p.service_id,
            },
            error,
        });
    }
    findings
}

/// Adopts a point the catalog lacks; finishes the deletion of one it records as deleted;
/// revives one it records as missing. Returns the present record, if the point stays.
async fn settle_leftover(
    service: &dyn BackupService,
    catalog: &dyn Catalog,
    point: RecoveryPoint,
    at_service: &ServicePoint,
    now: DateTime<Utc>,
) -> (Finding, Option<String>, Option<RecoveryPoint>) {
    let existing = match catalog.claim(&point).await {
        Ok(Claim::Claimed) => return (Finding::Adopted, None, Some(point)),
        Ok(Claim::Exists(existing)) => *existing,
        Err(e) => return (Finding::Adopted, Some(e.to_string()), None),
    };
    match existing.state {
        PointState::Deleted => {
            let result = service
                .delete_point(&at_service.resource, &at_service.service_id)
                .await;
            (
                Finding::DeletionFinished,
                result.err().map(|e| e.to_string()),
                None,
            )
        }
        from => {
            let change = StateChange {
                state: at_service.state,
                service_id: Some(at_service.service_id.clone()),
                note: Some("found at the service again".into()),
                at: now,
            };
            let result = catalog
                .update_state(&existing.resource, existing.slot, &change)
                .await;
            let revived = RecoveryPoint {
                state: at_service.state,
                service_id: change.service_id.clone(),
                ..existing
            };
            let finding = Finding::Synced {
                from,
                to: at_service.state,
            };
            (
                finding,
                result.as_ref().err().map(|e| e.to_string()),
                result.ok().map(|_| revived),
            )
        }
    }
}

/// A point still being created is as old as its record's last change (the creator's tick
/// time), not its slot; within the grace a service that does not show it yet (a creation on
/// its way, an eventually consistent read) is no reason to call it missing.
pub(crate) fn recently_claimed(record: &RecoveryPoint, now: DateTime<Utc>) -> bool {
    record.state == PointState::Creating && now - record.updated_at < CLAIM_GRACE
}

/// The catalog change a finding about a present record calls for.
pub(crate) fn change_for(
    finding: &Finding,
    at_service: Option<&ServicePoint>,
    now: DateTime<Utc>,
) -> StateChange {
    match (finding, at_service) {
        (Finding::Synced { to, .. }, Some(p)) => StateChange {
            state: *to,
            service_id: Some(p.service_id.clone()),
            note: None,
            at: now,
        },
        _ => StateChange {
            state: PointState::Missing,
            service_id: None,
            note: Some("vanished: the service no longer holds this point".into()),
            at: now,
        },
    }
}
