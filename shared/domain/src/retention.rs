//! Retention decisions: which recovery points to delete now, which to keep, and why.
//!
//! Pure: given the catalog's points and "now", it decides; the pruner carries it out and
//! writes every decision into its report. The guarantees, each checked by property tests:
//! a point is deleted only when every tier has expired (`now >= slot + retention`); never the
//! newest point of a resource, nor its newest available one; never a held point; never a
//! point still being created; never more than the run's bound (oldest expiries go first).

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::catalog::{PointState, RecoveryPoint, ResourceKey};
use crate::policy::Tier;
use crate::schedule::Slot;

/// Why a point is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum KeepReason {
    /// At least one tier still keeps it; `until` is when the last one expires.
    Live { tiers: Vec<Tier>, until: DateTime<Utc> },
    /// Expired, but the resource's newest point (or newest available one).
    Newest,
    /// Expired, but held by these restore requests.
    Held { by: BTreeSet<String> },
    /// Expired, but the service is still creating it; deleted on a later run.
    StillCreating,
    /// Expired at `expired_at`, but this run already deleted as many of the resource's points
    /// as it may: left for the next run (a backlog).
    DeletionBoundReached { limit: usize, expired_at: DateTime<Utc> },
}

/// The verdict on one point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Verdict {
    Keep(KeepReason),
    /// Every tier expired; `expired_at` is when the last one did.
    Delete {
        expired_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionDecision {
    pub resource: ResourceKey,
    pub slot: Slot,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl RetentionDecision {
    pub fn is_delete(&self) -> bool {
        matches!(self.verdict, Verdict::Delete { .. })
    }
}

/// Decides every present point of `points` (deleted and missing ones are skipped), in input
/// order. At most `max_deletions` are `Delete`; the oldest expiries are chosen first. The
/// pruner calls it once per resource, so the bound is per resource.
pub fn plan(points: &[RecoveryPoint], now: DateTime<Utc>, max_deletions: usize) -> Vec<RetentionDecision> {
    let newest = newest_per_resource(points);
    let mut decisions: Vec<RetentionDecision> = Vec::with_capacity(points.len());
    // Indexes (into `decisions`) of the points that could be deleted, with their expiry.
    let mut deletable: Vec<(DateTime<Utc>, usize)> = Vec::new();
    for point in points.iter().filter(|p| p.state.is_present()) {
        let verdict = verdict_ignoring_bound(point, now, &newest);
        if let Verdict::Delete { expired_at } = verdict {
            deletable.push((expired_at, decisions.len()));
        }
        decisions.push(RetentionDecision {
            resource: point.resource.clone(),
            slot: point.slot,
            verdict,
        });
    }
    if deletable.len() > max_deletions {
        // Oldest expiry first; the slot breaks ties so the choice is deterministic.
        deletable.sort_unstable_by_key(|&(at, i)| (at, decisions[i].slot, i));
        for &(expired_at, i) in &deletable[max_deletions..] {
            decisions[i].verdict = Verdict::Keep(KeepReason::DeletionBoundReached {
                limit: max_deletions,
                expired_at,
            });
        }
    }
    decisions
}

fn verdict_ignoring_bound(
    point: &RecoveryPoint,
    now: DateTime<Utc>,
    newest: &HashMap<&ResourceKey, Newest>,
) -> Verdict {
    let live: Vec<Tier> = point.tiers.live_at(now).map(|(t, _)| t).collect();
    if !live.is_empty() {
        return Verdict::Keep(KeepReason::Live {
            tiers: live,
            until: point.expires_at(),
        });
    }
    if newest
        .get(&point.resource)
        .is_some_and(|n| n.protects(point.slot))
    {
        return Verdict::Keep(KeepReason::Newest);
    }
    let holds = point.live_holds(now);
    if !holds.is_empty() {
        return Verdict::Keep(KeepReason::Held { by: holds });
    }
    if point.state == PointState::Creating {
        return Verdict::Keep(KeepReason::StillCreating);
    }
    Verdict::Delete {
        expired_at: point.expires_at(),
    }
}

/// The slots a resource must keep whatever their age.
#[derive(Debug, Clone, Copy)]
struct Newest {
    any: Slot,
    available: Option<Slot>,
}

impl Newest {
    fn protects(self, slot: Slot) -> bool {
        slot == self.any || Some(slot) == self.available
    }
}

fn newest_per_resource(points: &[RecoveryPoint]) -> HashMap<&ResourceKey, Newest> {
    let mut newest: HashMap<&ResourceKey, Newest> = HashMap::new();
    for p in points.iter().filter(|p| p.state.is_present()) {
        let available = (p.state == PointState::Available).then_some(p.slot);
        newest
            .entry(&p.resource)
            .and_modify(|n| {
                n.any = n.any.max(p.slot);
                n.available = n.available.max(available);
            })
            .or_insert(Newest {
                any: p.slot,
                available,
            });
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::schedule::tiers_of;
    use crate::zone::Zone;
    use chrono::TimeDelta;

    fn point(resource: &str, slot: &str) -> RecoveryPoint {
        let slot = Slot::containing(slot.parse().unwrap());
        let key = ResourceKey::rds(resource);
        RecoveryPoint {
            service_id: Some(key.point_name(slot)),
            resource: key,
            instance_id: "i-1".into(),
            slot,
            tiers: tiers_of(&Policy::standard(), Zone::utc(), slot),
            state: PointState::Available,
            holds: BTreeSet::new(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: slot.start(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn an_hourly_point_expires_exactly_72_hours_after_its_slot() {
        let points = vec![
            point("db", "2026-11-02T03:00:00Z"),
            point("db", "2026-11-05T04:00:00Z"),
        ];
        let before = plan(&points, at("2026-11-05T02:59:59Z"), 10);
        assert!(!before[0].is_delete());
        let on_time = plan(&points, at("2026-11-05T03:00:00Z"), 10);
        assert_eq!(
            on_time[0].verdict,
            Verdict::Delete {
                expired_at: at("2026-11-05T03:00:00Z")
            }
        );
        assert!(!on_time[1].is_delete());
    }

    #[test]
    fn the_newest_point_survives_even_when_expired() {
        let points = vec![
            point("db", "2026-01-01T03:00:00Z"),
            point("db", "2026-01-01T04:00:00Z"),
        ];
        let d = plan(&points, at("2027-01-01T00:00:00Z"), 10);
        assert!(d[0].is_delete());
        assert_eq!(d[1].verdict, Verdict::Keep(KeepReason::Newest));
    }

    #[test]
    fn the_newest_available_point_survives_while_a_newer_one_is_still_creating() {
        let mut points = vec![
            point("db", "2026-01-01T03:00:00Z"),
            point("db", "2026-01-01T04:00:00Z"),
        ];
        points[1].state = PointState::Creating;
        let d = plan(&points, at("2027-01-01T00:00:00Z"), 10);
        assert_eq!(d[0].verdict, Verdict::Keep(KeepReason::Newest));
        assert_eq!(d[1].verdict, Verdict::Keep(KeepReason::Newest));
    }

    #[test]
    fn held_points_are_kept_and_say_by_whom() {
        let mut points = vec![
            point("db", "2026-01-01T03:00:00Z"),
            point("db", "2026-01-02T03:00:00Z"),
        ];
        points[0].holds.insert("req-1".into());
        let d = plan(&points, at("2027-01-01T00:00:00Z"), 10);
        assert_eq!(
            d[0].verdict,
            Verdict::Keep(KeepReason::Held {
                by: ["req-1".to_string()].into()
            })
        );
    }

    #[test]
    fn the_deletion_bound_deletes_the_oldest_first() {
        let start = at("2026-01-01T00:00:00Z");
        let points: Vec<_> = (0..10)
            .map(|h| point("db", &(start + TimeDelta::hours(h)).to_rfc3339()))
            .collect();
        let d = plan(&points, at("2026-06-01T00:00:00Z"), 3);
        let deleted: Vec<_> = d.iter().filter(|d| d.is_delete()).map(|d| d.slot).collect();
        assert_eq!(deleted, points[..3].iter().map(|p| p.slot).collect::<Vec<_>>());
        assert_eq!(
            d[5].verdict,
            Verdict::Keep(KeepReason::DeletionBoundReached {
                limit: 3,
                expired_at: points[5].expires_at()
            })
        );
    }

    #[test]
    fn deleted_and_missing_points_are_not_decided_again() {
        let mut points = vec![
            point("db", "2026-01-01T03:00:00Z"),
            point("db", "2026-01-02T03:00:00Z"),
        ];
        points[0].state = PointState::Deleted;
        let d = plan(&points, at("2027-01-01T00:00:00Z"), 10);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].verdict, Verdict::Keep(KeepReason::Newest));
    }

    #[test]
    fn a_late_weekly_point_is_kept_for_its_weekly_tier_from_its_own_slot() {
        // Saturday 23:00 was refused; Sunday 00:00 took the weekly tier late.
        let mut late = point("db", "2026-11-29T00:00:00Z");
        late.tiers.0.insert(Tier::Weekly, at("2026-12-29T00:00:00Z"));
        let points = vec![late, point("db", "2027-01-05T00:00:00Z")];
        let kept = plan(&points, at("2026-12-28T23:59:59Z"), 10);
        assert_eq!(
            kept[0].verdict,
            Verdict::Keep(KeepReason::Live {
                tiers: vec![Tier::Weekly],
                until: at("2026-12-29T00:00:00Z")
            })
        );
        assert!(plan(&points, at("2026-12-29T00:00:00Z"), 10)[0].is_delete());
    }
}
