//! Recovery options: for each of an instance's resources, the point that could serve a
//! request, and what a full rollback to it would lose.
//!
//! The point-in-time target just before the loss when the service's continuous-backup window
//! still covers it; otherwise the latest catalogued snapshot taken before the loss. Snapshots
//! are named by their slot, which is when they were taken (to the hour), so "before the loss"
//! is `slot < occurred_at`.
//!
//! A point-in-time option also names that latest snapshot as its `fallback`, held with the
//! request's other points: no hold can keep a target inside a window that moves with the
//! clock, so a request confirmed late still has the snapshot just before the loss, which
//! would otherwise be pruned as its hourly tier expires.

use chrono::{DateTime, Months, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{PointState, RecoveryPoint, ResourceKey};
use crate::policy::{Policy, Retention, Tier};
use crate::schedule::Slot;

/// How far before the reported time of the loss a point-in-time restore aims: support
/// reports an approximate time, and a target a little early costs minutes of data, while a
/// target a little late restores the loss itself.
pub const PITR_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// The continuous-backup window a service reports for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorableWindow {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

/// One resource of the instance, as options need it.
#[derive(Debug, Clone)]
pub struct InstanceResource {
    pub key: ResourceKey,
    pub policy: Policy,
    /// `None` when continuous backups are off (or the service did not say).
    pub window: Option<RestorableWindow>,
}

/// What an option restores from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A point-in-time restore to `target`.
    PointInTime { target: DateTime<Utc> },
    /// A catalogued snapshot (RDS) or on-demand backup (DynamoDB).
    Snapshot {
        slot: Slot,
        tiers: Vec<Tier>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service_id: Option<String>,
    },
}

/// What a full rollback to an option would throw away: everything written since.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataLoss {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub seconds: i64,
}

impl DataLoss {
    /// What a rollback to `since` loses: everything written from then until `now`.
    pub fn between(since: DateTime<Utc>, now: DateTime<Utc>) -> DataLoss {
        DataLoss {
            since,
            until: now,
            seconds: (now - since).num_seconds().max(0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryOption {
    pub resource: ResourceKey,
    pub source: Source,
    /// The moment of the data the option brings back.
    pub restores_to: DateTime<Utc>,
    pub data_loss: DataLoss,
    /// Until when the option stays restorable without a hold: the moment the service's
    /// window moves past a point-in-time target. Snapshots are held while the request is
    /// open, so they have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restorable_until: Option<DateTime<Utc>>,
    /// A point-in-time option's fallback: the latest catalogued snapshot before the loss,
    /// held too, for when the target has left the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Source>,
}

impl Source {
    /// The slot of the catalogued point this source restores from, if it is a snapshot.
    pub fn snapshot_slot(&self) -> Option<Slot> {
        match self {
            Source::Snapshot { slot, .. } => Some(*slot),
            Source::PointInTime { .. } => None,
        }
    }
}

impl RecoveryOption {
    /// The catalog points to hold for this option: its snapshot, or its fallback.
    pub fn held_points(&self) -> Vec<(ResourceKey, Slot)> {
        [Some(&self.source), self.fallback.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(Source::snapshot_slot)
            .map(|slot| (self.resource.clone(), slot))
            .collect()
    }
}

/// Why no option can serve a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrecoverable {
    #[error("instance {0:?} has no resource managed by Lifeboat (tag lifeboat:instance)")]
    UnknownInstance(String),
    #[error(
        "the loss at {occurred_at} is older than the oldest point the policy keeps \
         ({horizon}): no backup can serve it"
    )]
    TooOld {
        occurred_at: DateTime<Utc>,
        horizon: DateTime<Utc>,
    },
    #[error("no recovery point of instance {instance_id:?} was taken before {occurred_at}")]
    NothingBefore {
        instance_id: String,
        occurred_at: DateTime<Utc>,
    },
}

/// The options for a loss at `occurred_at` of instance `instance_id`, given its resources
/// and their catalogued points (any state: only available ones serve).
pub fn recovery_options(
    instance_id: &str,
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
    resources: &[InstanceResource],
    points: &[RecoveryPoint],
) -> Result<Vec<RecoveryOption>, Unrecoverable> {
    if resources.is_empty() {
        return Err(Unrecoverable::UnknownInstance(instance_id.to_string()));
    }
    let horizon = resources
        .iter()
        .map(|r| oldest_kept(&r.policy, now))
        .min()
        .expect("at least one resource");
    if occurred_at < horizon {
        return Err(Unrecoverable::TooOld { occurred_at, horizon });
    }
    let options: Vec<RecoveryOption> = resources
        .iter()
        .filter_map(|r| option_for(r, occurred_at, now, points))
        .collect();
    if options.is_empty() {
        return Err(Unrecoverable::NothingBefore {
            instance_id: instance_id.to_string(),
            occurred_at,
        });
    }
    Ok(options)
}

fn option_for(
    resource: &InstanceResource,
    occurred_at: DateTime<Utc>,
    now: DateTime<Utc>,
    points: &[RecoveryPoint],
) -> Option<RecoveryOption> {
    // Whole seconds: the services restore to the second.
    let target = (occurred_at - PITR_MARGIN)
        .with_nanosecond(0)
        .expect("0 ns is valid");
    let latest = points
        .iter()
        .filter(|p| p.resource == resource.key && p.state == PointState::Available)
        .filter(|p| p.slot.start() < occurred_at)
        .max_by_key(|p| p.slot);
    let snapshot = |point: &RecoveryPoint| Source::Snapshot {
        slot: point.slot,
        tiers: point.tiers.0.keys().copied().collect(),
        service_id: point.service_id.clone(),
    };
    if let Some(w) = resource
        .window
        .filter(|w| w.earliest <= target && target <= w.latest)
    {
        return Some(RecoveryOption {
            resource: resource.key.clone(),
            source: Source::PointInTime { target },
            restores_to: target,
            data_loss: DataLoss::between(target, now),
            // The window's start moves with the clock: the target drops out once the window's
            // length has passed since it.
            restorable_until: Some(target + (w.latest - w.earliest).max(TimeDelta::zero())),
            fallback: latest.map(snapshot),
        });
    }
    let point = latest?;
    Some(RecoveryOption {
        resource: resource.key.clone(),
        source: snapshot(point),
        restores_to: point.slot.start(),
        data_loss: DataLoss::between(point.slot.start(), now),
        restorable_until: None,
        fallback: None,
    })
}

/// The earliest moment a point of `policy` can still be kept at `now` (the point-in-time
/// window included).
pub fn oldest_kept(policy: &Policy, now: DateTime<Utc>) -> DateTime<Utc> {
    let tiers = Tier::ALL.into_iter().filter_map(|t| policy.retention(t));
    let pitr = policy
        .point_in_time
        .map(|p| Retention::Days(u32::from(p.window_days)));
    tiers.chain(pitr).map(|r| before(now, r)).min().unwrap_or(now)
}

fn before(now: DateTime<Utc>, r: Retention) -> DateTime<Utc> {
    let earlier = match r {
        Retention::Hours(h) => now.checked_sub_signed(TimeDelta::hours(i64::from(h))),
        Retention::Days(d) => now.checked_sub_signed(TimeDelta::days(i64::from(d))),
        Retention::Months(m) => now.checked_sub_months(Months::new(m)),
    };
    earlier.unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::TierSet;
    use std::collections::{BTreeMap, BTreeSet};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        t("2026-11-28T12:00:00Z")
    }

    fn db(window: Option<RestorableWindow>) -> InstanceResource {
        InstanceResource {
            key: ResourceKey::rds("db"),
            policy: Policy::standard(),
            window,
        }
    }

    fn last_72_hours() -> Option<RestorableWindow> {
        Some(RestorableWindow {
            earliest: now() - TimeDelta::hours(72),
            latest: now() - TimeDelta::minutes(5),
        })
    }

    fn point(slot: &str, tiers: &[Tier], state: PointState) -> RecoveryPoint {
        RecoveryPoint {
            resource: ResourceKey::rds("db"),
            instance_id: "acme".into(),
            slot: Slot::containing(t(slot)),
            tiers: TierSet(
                tiers
                    .iter()
                    .map(|tier| (*tier, now()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            service_id: Some(format!("snap-{slot}")),
            state,
            holds: BTreeSet::new(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: now(),
        }
    }

    #[test]
    fn inside_the_window_the_target_is_just_before_the_loss() {
        let occurred = t("2026-11-28T09:10:00.750Z");
        let options = recovery_options("acme", occurred, now(), &[db(last_72_hours())], &[]).unwrap();
        assert_eq!(options.len(), 1);
        let target = t("2026-11-28T09:05:00Z");
        assert_eq!(options[0].source, Source::PointInTime { target });
        assert_eq!(options[0].data_loss.seconds, (now() - target).num_seconds());
        assert_eq!(
            options[0].restorable_until,
            Some(target + TimeDelta::hours(72) - TimeDelta::minutes(5))
        );
        assert_eq!(options[0].held_points(), vec![]);
    }

    /// A target inside the window leaves it as the clock moves: the latest snapshot before
    /// the loss is held with it, as its fallback.
    #[test]
    fn a_point_in_time_option_also_holds_the_latest_snapshot_before_the_loss() {
        let occurred = t("2026-11-28T09:10:00Z");
        let points = [
            point("2026-11-28T08:00:00Z", &[Tier::Hourly], PointState::Available),
            point("2026-11-28T09:00:00Z", &[Tier::Hourly], PointState::Available),
            point("2026-11-28T10:00:00Z", &[Tier::Hourly], PointState::Available),
        ];
        let options = recovery_options("acme", occurred, now(), &[db(last_72_hours())], &points).unwrap();
        assert!(matches!(options[0].source, Source::PointInTime { .. }));
        let nine = Slot::containing(t("2026-11-28T09:00:00Z"));
        assert!(matches!(options[0].fallback, Some(Source::Snapshot { slot, .. }) if slot == nine));
        assert_eq!(options[0].held_points(), vec![(ResourceKey::rds("db"), nine)]);
    }

    #[test]
    fn outside_the_window_the_latest_snapshot_before_the_loss_serves() {
        let occurred = t("2026-11-10T08:30:00Z");
        let points = [
            point("2026-10-31T23:00:00Z", &[Tier::Monthly], PointState::Available),
            point("2026-11-07T23:00:00Z", &[Tier::Weekly], PointState::Available),
            point("2026-11-14T23:00:00Z", &[Tier::Weekly], PointState::Available),
            point("2026-11-09T23:00:00Z", &[Tier::Hourly], PointState::Deleted),
        ];
        let options = recovery_options("acme", occurred, now(), &[db(last_72_hours())], &points).unwrap();
        assert_eq!(options[0].restores_to, t("2026-11-07T23:00:00Z"));
        assert!(matches!(&options[0].source, Source::Snapshot { tiers, .. } if tiers == &[Tier::Weekly]));
        assert_eq!(
            options[0].held_points(),
            vec![(
                ResourceKey::rds("db"),
                Slot::containing(t("2026-11-07T23:00:00Z"))
            )]
        );
    }

    #[test]
    fn a_snapshot_of_the_loss_hour_itself_is_before_it_only_if_its_slot_is() {
        let points = [point(
            "2026-11-20T09:00:00Z",
            &[Tier::Hourly],
            PointState::Available,
        )];
        let at_slot = recovery_options("acme", t("2026-11-20T09:00:00Z"), now(), &[db(None)], &points);
        assert!(matches!(at_slot, Err(Unrecoverable::NothingBefore { .. })));
        let after = recovery_options("acme", t("2026-11-20T09:20:00Z"), now(), &[db(None)], &points).unwrap();
        assert_eq!(after[0].restores_to, t("2026-11-20T09:00:00Z"));
    }

    #[test]
    fn a_loss_older_than_a_year_is_unrecoverable() {
        let occurred = t("2025-11-27T12:00:00Z");
        let e = recovery_options("acme", occurred, now(), &[db(None)], &[]).unwrap_err();
        assert_eq!(
            e,
            Unrecoverable::TooOld {
                occurred_at: occurred,
                horizon: t("2025-11-28T12:00:00Z")
            }
        );
        assert!(e.to_string().contains("no backup can serve it"));
    }

    #[test]
    fn an_instance_without_resources_is_unknown() {
        let e = recovery_options("nobody", now(), now(), &[], &[]).unwrap_err();
        assert_eq!(e, Unrecoverable::UnknownInstance("nobody".into()));
    }
}
