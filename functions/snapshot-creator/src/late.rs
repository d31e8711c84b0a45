//! The creator's side of late points (see [`lifeboat::schedule::late`]): the read of what
//! earlier ticks left owed, the checks before a weekly or monthly tier is taken again, the
//! hand-on of a point that could not be taken, and the discharge of what a tick took on.
//!
//! - What is owed is found in one read of the catalog's owing index a tick, for the whole
//!   fleet ([`Creator::owing`]); a fanned-out tick reads it in its plan and deals each shard
//!   its own resources' records. So a tick that never reached a resource, a shard that failed
//!   or a hand-on whose write failed leaves the tier owed, not lost: the next tick that
//!   reaches the resource takes it, until the tier's period ends.
//! - A late tier is taken only when no point serves its slot: for a resource with records
//!   from the owing index, its present points are read first (one read per such resource, a
//!   late point already taken whose record stayed owing); where an earlier attempt's outcome
//!   is unknown to the catalog, the service is asked for that attempt's point (one look-up
//!   per attempt of a resource that owes a tier, never per resource of the fleet).
//! - A point carrying weekly or monthly tiers that could not be taken (a failure, or a short
//!   quota) hands them on to the next slot, as a `due` record the next tick reads with its own
//!   slot's records: a refusal that lasts keeps being retried, tick after tick, until the
//!   tier's period ends.
//! - A tick that reaches a resource whose next slot is a weekly or monthly slot reserves that
//!   slot (a `due` record there, replaced by its claim), so a slot whose own tick and the
//!   tick after both never reach the resource is still owed, from the owing index.
//! - The owing records a resource's tick read are discharged once a record of its own carries
//!   what they owed (its claim, or its hand-on), or nothing they owed is owed any more. A
//!   discharge that fails leaves them owing: the next tick finds the tier served or carried.

use std::collections::BTreeSet;

use lifeboat::catalog::RecoveryPoint;
use lifeboat::event::Tick;
use lifeboat::ports::{BackupService, Catalog, Claim, PortError};
use lifeboat::schedule::late::{self, owing, Debt};
use lifeboat::schedule::Slot;

use crate::{intent, Creator, Planned};

/// Why a point carries tiers of a slot not its own, kept on its record.
pub(crate) fn note(debt: &Debt) -> Option<String> {
    let tiers: Vec<String> = debt
        .iter()
        .map(|(tier, owed)| format!("the {tier} tier of {}", owed.missed))
        .collect();
    (!tiers.is_empty()).then(|| {
        format!(
            "takes {} late: that slot's point could not be taken",
            tiers.join(" and ")
        )
    })
}

/// Drops from `planned` the late tiers a point already serves: an earlier late point whose
/// owing record was never discharged (read from the resource's present points when it has
/// owing records), or an earlier attempt's point the service holds. A read or look-up that
/// fails keeps the tier: a second point for one slot is a smaller harm than none.
pub(crate) async fn settle(
    service: &dyn BackupService,
    catalog: &dyn Catalog,
    tick: &Tick,
    planned: &mut Planned,
) {
    if !planned.owing.is_empty() && !planned.debt.is_empty() {
        drop_served(catalog, tick, planned).await;
    }
    let slots: BTreeSet<Slot> = planned
        .debt
        .values()
        .flat_map(|o| o.unless_held.iter().copied())
        .collect();
    for slot in slots {
        match service.find_point(&planned.resource.key, slot).await {
            Ok(Some(found)) => {
                let Planned { debt, tiers, .. } = planned;
                debt.retain(|tier, owed| {
                    let served = owed.unless_held.contains(&slot);
                    if served {
                        tiers.0.remove(tier);
                    }
                    !served
                });
                tracing::info!(resource = %planned.resource.key, point = %found.service_id, "the point of an earlier attempt serves its tiers: none taken late");
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(resource = %planned.resource.key, %slot, error = %e, "could not look the point of an earlier attempt up: its tiers are taken late");
            }
        }
    }
}

/// The served check of [`settle`] against the resource's present points.
async fn drop_served(catalog: &dyn Catalog, tick: &Tick, planned: &mut Planned) {
    let key = &planned.resource.key;
    match catalog.present_points_of(key).await {
        Ok(present) => {
            let resource = &planned.resource;
            let served = owing::drop_served(
                &resource.policy,
                resource.timezone,
                tick.slot,
                &mut planned.debt,
                &present,
            );
            for tier in &served {
                planned.tiers.0.remove(tier);
            }
            if !served.is_empty() {
                tracing::info!(resource = %key, ?served, "an earlier point serves what its owing records owed: none taken late");
            }
        }
        Err(e) => {
            tracing::warn!(resource = %key, error = %e, "could not read its present points: what it owes is taken late");
        }
    }
}

/// `why` added to what `record`'s note says already.
fn noted(record: &RecoveryPoint, why: &str) -> String {
    match &record.note {
        Some(note) => format!("{note}; {why}"),
        None => why.to_string(),
    }
}

impl Creator {
    /// The records of earlier slots that may still owe a weekly or monthly tier, for the
    /// whole fleet: one paged read of the owing index. A read that fails is the tick's
    /// failure; what is owed stays owed and the next tick reads it.
    pub(crate) async fn owing(&self, tick: &Tick, failures: &mut Vec<String>) -> Vec<RecoveryPoint> {
        let (from, to) = owing::window(tick.slot);
        match self.catalog.owing_between(from, to).await {
            Ok(records) => {
                if !records.is_empty() {
                    tracing::info!(slot = %tick.slot, records = records.len(), "records left owing by earlier ticks");
                }
                records
            }
            Err(e) => {
                failures.push(format!("reading what earlier ticks left owed: {e}"));
                Vec::new()
            }
        }
    }

    /// Discharges `planned`'s owing records: a record of this tick carries what they owed, or
    /// nothing they owed is owed any more (`why`, added to each one's note).
    pub(crate) async fn discharge(&self, planned: &mut Planned, why: &str) {
        for record in std::mem::take(&mut planned.owing) {
            match self
                .catalog
                .discharge(&record.resource, record.slot, &noted(&record, why))
                .await
            {
                Ok(()) => {
                    tracing::info!(resource = %record.resource, slot = %record.slot, why, "discharged")
                }
                Err(e) => {
                    tracing::warn!(resource = %record.resource, slot = %record.slot, error = %e, "could not discharge: it stays owing until a later tick finds what it owed served")
                }
            }
        }
    }

    /// Reserves the next slot when it is a weekly or monthly slot of the resource's policy
    /// (see [`late::reserved`]): if no tick claims that slot, a later tick owes its tiers.
    /// Written before the point is handled, so a hand-on of this tick replaces it.
    pub(crate) async fn reserve(&self, tick: &Tick, planned: &Planned) -> Result<(), PortError> {
        let resource = &planned.resource;
        let point = intent(tick, resource, &planned.tiers);
        let Some(mut reservation) = late::reserved(&resource.policy, resource.timezone, &point) else {
            return Ok(());
        };
        reservation.updated_at = tick.time;
        if self.catalog.reserve(&reservation).await? {
            tracing::info!(resource = %resource.key, slot = %reservation.slot, tiers = ?reservation.tiers.names(), "next slot reserved");
        }
        Ok(())
    }

    /// Hands the weekly and monthly tiers of `planned`'s point, which could not be taken
    /// (`why`), on to the next slot. A record the next slot has already (its tick came first)
    /// is left as it is.
    pub(crate) async fn hand_on(
        &self,
        tick: &Tick,
        planned: &mut Planned,
        why: &str,
    ) -> Result<(), PortError> {
        let point = match &planned.record {
            Some(claimed) => claimed.clone(),
            None => intent(tick, &planned.resource, &planned.tiers),
        };
        let resource = &planned.resource;
        let Some(mut due) = late::handed_on(&resource.policy, resource.timezone, &point, why) else {
            return Ok(());
        };
        due.updated_at = tick.time;
        match self.catalog.claim(&due).await? {
            Claim::Claimed => {
                tracing::info!(resource = %resource.key, slot = %due.slot, tiers = ?due.tiers.names(), "handed on to the next slot");
                self.discharge(planned, &format!("handed on to {}", due.slot))
                    .await;
            }
            Claim::Exists(_) => {
                tracing::warn!(resource = %resource.key, slot = %due.slot, tiers = ?due.tiers.names(), "the next slot is claimed already: its tiers were not handed on");
            }
        }
        Ok(())
    }
}
