//! Carrying out one retention decision: ended holds removed, the record marked deleted on the
//! condition that no hold remains, then the service's point deleted.
//!
//! In that order so that a crash between the two leaves a record saying deleted and a point
//! still held by the service, which the resource's next reconciliation finishes; never a
//! record saying present for a point that is gone.

use lifeboat::catalog::RecoveryPoint;
use lifeboat::event::Tick;
use lifeboat::ports::{Deletion, FailureKind};
use lifeboat::retention::{RetentionDecision, Verdict};

use crate::{DecisionRecord, Outcome, Pruner};

/// Carries out `d` about `record` (its present catalog record).
pub(crate) async fn carry_out(
    pruner: &Pruner,
    tick: &Tick,
    record: Option<&RecoveryPoint>,
    d: RetentionDecision,
    dry_run: bool,
) -> DecisionRecord {
    let done = |d, outcome, error| DecisionRecord {
        decision: d,
        outcome,
        error,
    };
    let Verdict::Delete { expired_at } = d.verdict else {
        return done(d, Outcome::Kept, None);
    };
    if dry_run {
        return done(d, Outcome::WouldDelete, None);
    }
    let note = format!(
        "deleted by retention-pruner at tick {}: every tier expired (last at {expired_at})",
        tick.slot
    );
    // Holds that have ended go first: the deletion's condition is that no hold remains
    // (a hold placed meanwhile still stops it).
    let expired_holds = record.map(|r| r.expired_holds(tick.time)).unwrap_or_default();
    for hold in &expired_holds {
        if let Err(e) = pruner.catalog.remove_hold(&d.resource, d.slot, hold).await {
            let error = format!("removing the ended hold {hold}: {e}");
            return done(d, Outcome::Failed, Some(error));
        }
    }
    if let Err(e) = pruner
        .catalog
        .mark_deleted(&d.resource, d.slot, &note, tick.time)
        .await
    {
        return if e.kind == FailureKind::Conflict {
            done(d, Outcome::KeptByConcurrentChange, None)
        } else {
            done(d, Outcome::Failed, Some(e.to_string()))
        };
    }
    let service_id = record.and_then(|r| r.service_id.clone());
    let service = pruner.services.iter().find(|s| s.kind() == d.resource.kind);
    let (outcome, error) = match (service, service_id) {
        (Some(service), Some(id)) => match service.delete_point(&d.resource, &id).await {
            Ok(Deletion::Deleted) => (Outcome::Deleted, None),
            Ok(Deletion::AlreadyGone) => (Outcome::AlreadyGone, None),
            // The record already says deleted: the resource's next reconciliation finishes it.
            Err(e) => (Outcome::Failed, Some(e.to_string())),
        },
        _ => (Outcome::AlreadyGone, None),
    };
    tracing::info!(resource = %d.resource, slot = %d.slot, ?outcome, "retention deletion");
    done(d, outcome, error)
}
