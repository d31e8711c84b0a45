//! The creator's side of late points (see [`lifeboat::schedule::late`]): the look-up before
//! a weekly or monthly tier is taken again, and the hand-on of a point that could not be taken.
//!
//! - A late tier is taken only when no point serves its slot: where an earlier attempt's
//!   outcome is unknown to the catalog, the service is asked for that attempt's point first
//!   (one look-up per resource that owes a tier, never per resource of the fleet).
//! - A point carrying weekly or monthly tiers that could not be taken (a failure, or a short
//!   quota) hands them on to the next slot, as a `due` record the next tick reads with its own
//!   slot's records: a refusal that lasts keeps being retried, tick after tick, until the
//!   tier's period ends.

use std::collections::BTreeSet;

use lifeboat::event::Tick;
use lifeboat::ports::{BackupService, Claim, PortError};
use lifeboat::schedule::late::{self, Debt};
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

/// Drops from `planned` the late tiers that an earlier attempt's point, which the service
/// holds, already serves. A look-up that fails keeps the tier: a second point for one slot
/// is a smaller harm than none.
pub(crate) async fn settle(service: &dyn BackupService, planned: &mut Planned) {
    let slots: BTreeSet<Slot> = planned.debt.values().filter_map(|o| o.unless_held).collect();
    for slot in slots {
        match service.find_point(&planned.resource.key, slot).await {
            Ok(Some(found)) => {
                let Planned { debt, tiers, .. } = planned;
                debt.retain(|tier, owed| {
                    let served = owed.unless_held == Some(slot);
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

impl Creator {
    /// Hands the weekly and monthly tiers of `planned`'s point, which could not be taken
    /// (`why`), on to the next slot. A record the next slot has already (its tick came first)
    /// is left as it is.
    pub(crate) async fn hand_on(&self, tick: &Tick, planned: &Planned, why: &str) -> Result<(), PortError> {
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
            }
            Claim::Exists(_) => {
                tracing::warn!(resource = %resource.key, slot = %due.slot, tiers = ?due.tiers.names(), "the next slot is claimed already: its tiers were not handed on");
            }
        }
        Ok(())
    }
}
