//! Holds on the recovery points a request may use: placed when it is filed (and for points
//! an approval adds), released when it is rejected or cancelled (the executor releases them
//! when a restore ends). A held point is never pruned.

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
