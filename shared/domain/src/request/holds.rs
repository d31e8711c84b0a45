//! Holds on the recovery points a request may use: placed when it is filed (and for points
//! an approval adds), released when it is rejected or cancelled (the executor releases them
//! when a restore completes). A failed restore's holds are kept a while longer
//! ([`keep_for_a_while`]), so that a new request can be filed for the same points. A held
//! point is never pruned.

use chrono::{DateTime, TimeDelta, Utc};

use crate::catalog::Hold;

use super::lifecycle::RestoreRequest;
use crate::catalog::ResourceKey;
use crate::ports::{Catalog, PortError};
use crate::schedule::Slot;

/// Every catalogued point `request` may use: its options' snapshots (a point-in-time
/// option's fallback snapshot included) and its approval's.
pub fn points_of(request: &RestoreRequest) -> Vec<(ResourceKey, Slot)> {
    let mut points: Vec<_> = request
        .recovery_options
        .iter()
        .flat_map(|o| o.held_points())
        .collect();
    if let Some(decision) = &request.decision {
        points.extend(
            decision
                .recovery_points
                .iter()
                .filter_map(|p| Some((p.resource.clone(), p.source.snapshot_slot()?))),
        );
    }
    points.sort();
    points.dedup();
    points
}

/// Holds every point for `holder`, or none: what was placed before a failure is released.
pub async fn place(
    catalog: &dyn Catalog,
    points: &[(ResourceKey, Slot)],
    holder: &str,
) -> Result<(), PortError> {
    for (i, (resource, slot)) in points.iter().enumerate() {
        if let Err(e) = catalog.add_hold(resource, *slot, holder).await {
            release(catalog, &points[..i], holder).await;
            return Err(e);
        }
    }
    Ok(())
}

/// Releases `holder`'s holds. A failure is logged, not returned: the state change that
/// released them has happened, and a leftover hold only keeps a point longer (it is listed
/// with its holder in the pruner's report).
pub async fn release(catalog: &dyn Catalog, points: &[(ResourceKey, Slot)], holder: &str) {
    for (resource, slot) in points {
        if let Err(e) = catalog.remove_hold(resource, *slot, holder).await {
            tracing::error!(%resource, %slot, holder, error = %e, "could not release a hold");
        }
    }
}

/// How long a failed restore's holds outlive it.
pub const FAILED_RESTORE_HOLD: TimeDelta = TimeDelta::days(7);

/// Turns `holder`'s holds into holds that end at `until`: the new hold is placed before the
/// old one is released, so the points are never unheld between the two. A failure is
/// logged: the plain hold then stays (a point kept longer, listed with its holder).
pub async fn keep_for_a_while(
    catalog: &dyn Catalog,
    points: &[(ResourceKey, Slot)],
    holder: &str,
    until: DateTime<Utc>,
) {
    let lasting = Hold::until(holder, until);
    for (resource, slot) in points {
        match catalog.add_hold(resource, *slot, &lasting).await {
            Ok(()) => release(catalog, &[(resource.clone(), *slot)], holder).await,
            Err(e) => {
                tracing::error!(%resource, %slot, holder, error = %e, "could not extend a hold; the request's hold stays");
            }
        }
    }
}
