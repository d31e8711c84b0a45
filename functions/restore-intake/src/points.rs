//! `GET /instances/{instance_id}/recovery-points`: what an engineer could restore an instance
//! to before anyone files a request, read-only.
//!
//! Per resource of the instance: its continuous-backup window, if the service reports one, and
//! its available catalogued points, newest first, each with its tiers (and when each tier
//! expires) and what a full rollback to it would lose: everything written from the point's
//! time to now. Nothing is held or written: holds come with a filed request.

use chrono::{DateTime, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::policy::Tier;
use lifeboat::request::filing::{instance_id_chars, MAX_INSTANCE_ID};
use lifeboat::request::options::{DataLoss, InstanceResource, RestorableWindow};
use lifeboat::request::problem::{FieldError, Invalid};
use serde::Serialize;

use crate::api::{ApiError, ApiResponse};
use crate::file::instance_resources;
use crate::Intake;

/// The answer: the instance's resources and their points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub instance_id: String,
    /// The "now" every data loss is measured to.
    pub at: DateTime<Utc>,
    pub resources: Vec<ResourcePoints>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourcePoints {
    pub resource: ResourceKey,
    pub policy: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTime>,
    /// Available points, newest first.
    pub points: Vec<Point>,
}

/// A continuous-backup window: any second in it can be restored to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointInTime {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
    /// A rollback to the latest restorable time: the least a rollback can lose.
    pub least_loss: DataLoss,
    /// A rollback to the earliest restorable time: the most.
    pub most_loss: DataLoss,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Point {
    /// How an approval names this point: `snapshot:<slot>`.
    pub point: String,
    pub slot: DateTime<Utc>,
    pub tiers: Vec<TierExpiry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// Whether an open request holds it (the pruner keeps it meanwhile).
    pub held: bool,
    pub data_loss: DataLoss,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TierExpiry {
    pub tier: Tier,
    pub expires_at: DateTime<Utc>,
}

pub async fn list(intake: &Intake, instance_id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
    check_instance_id(instance_id)?;
    let resources = instance_resources(intake, instance_id).await?;
    if resources.is_empty() {
        return Err(ApiError::UnknownInstance(instance_id.to_string()));
    }
    let mut points = Vec::new();
    for r in &resources {
        points.extend(intake.catalog.present_points_of(&r.key).await?);
    }
    Ok(ApiResponse::json(
        200,
        &listing(instance_id, &resources, &points, now),
    ))
}

/// The same rule as a filing's `instance_id`, so that no odd path reaches the tag query.
fn check_instance_id(instance_id: &str) -> Result<(), Invalid> {
    let valid =
        !instance_id.is_empty() && instance_id.len() <= MAX_INSTANCE_ID && instance_id_chars(instance_id);
    if valid {
        Ok(())
    } else {
        Err(Invalid(vec![FieldError::new(
            "instance_id",
            format!("must be 1 to {MAX_INSTANCE_ID} letters, digits, '-', '_' or '.'"),
        )]))
    }
}

/// The listing of `resources` from their catalogued `points` (any state: only available
/// points can serve a rollback), at `now`.
pub fn listing(
    instance_id: &str,
    resources: &[InstanceResource],
    points: &[RecoveryPoint],
    now: DateTime<Utc>,
) -> Listing {
    let resources = resources
        .iter()
        .map(|r| {
            let mut mine: Vec<&RecoveryPoint> = points
                .iter()
                .filter(|p| p.resource == r.key && p.state == PointState::Available)
                .collect();
            mine.sort_by_key(|p| std::cmp::Reverse(p.slot));
            ResourcePoints {
                resource: r.key.clone(),
                policy: r.policy.name.clone(),
                point_in_time: r.window.map(|w| point_in_time(w, now)),
                points: mine.into_iter().map(|p| point(p, now)).collect(),
            }
        })
        .collect();
    Listing {
        instance_id: instance_id.to_string(),
        at: now,
        resources,
    }
}

fn point_in_time(w: RestorableWindow, now: DateTime<Utc>) -> PointInTime {
    PointInTime {
        earliest: w.earliest,
        latest: w.latest,
        least_loss: DataLoss::between(w.latest, now),
        most_loss: DataLoss::between(w.earliest, now),
    }
}

fn point(p: &RecoveryPoint, now: DateTime<Utc>) -> Point {
    Point {
        point: format!("snapshot:{}", p.slot),
        slot: p.slot.start(),
        tiers: p
            .tiers
            .0
            .iter()
            .map(|(tier, expires_at)| TierExpiry {
                tier: *tier,
                expires_at: *expires_at,
            })
            .collect(),
        service_id: p.service_id.clone(),
        held: !p.live_holds(now).is_empty(),
        data_loss: DataLoss::between(p.slot.start(), now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use lifeboat::policy::Policy;
    use lifeboat::schedule::{Slot, TierSet};
    use std::collections::BTreeSet;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn now() -> DateTime<Utc> {
        t("2026-11-28T12:30:00Z")
    }

    fn db(window: Option<RestorableWindow>) -> InstanceResource {
        InstanceResource {
            key: ResourceKey::rds("db"),
            policy: Policy::standard(),
            window,
        }
    }

    fn point_at(slot: &str, tiers: &[Tier], state: PointState, holds: &[&str]) -> RecoveryPoint {
        RecoveryPoint {
            resource: ResourceKey::rds("db"),
            instance_id: "acme".into(),
            slot: Slot::containing(t(slot)),
            tiers: TierSet(
                tiers
                    .iter()
                    .map(|tier| (*tier, now() + TimeDelta::days(3)))
                    .collect(),
            ),
            service_id: Some(format!("snap-{slot}")),
            state,
            holds: holds.iter().map(|h| h.to_string()).collect::<BTreeSet<_>>(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: now(),
        }
    }

    #[test]
    fn points_are_newest_first_with_the_loss_from_their_slot_to_now() {
        let points = [
            point_at(
                "2026-11-21T23:00:00Z",
                &[Tier::Hourly, Tier::Weekly],
                PointState::Available,
                &[],
            ),
            point_at(
                "2026-11-28T11:00:00Z",
                &[Tier::Hourly],
                PointState::Available,
                &["rr-1"],
            ),
            point_at("2026-11-28T10:00:00Z", &[Tier::Hourly], PointState::Deleted, &[]),
            point_at("2026-11-28T09:00:00Z", &[Tier::Hourly], PointState::Creating, &[]),
        ];
        let listing = listing("acme", &[db(None)], &points, now());
        let r = &listing.resources[0];
        assert_eq!(r.policy, "standard");
        assert_eq!(r.point_in_time, None);
        let names: Vec<&str> = r.points.iter().map(|p| p.point.as_str()).collect();
        assert_eq!(
            names,
            ["snapshot:2026-11-28T11:00:00Z", "snapshot:2026-11-21T23:00:00Z"],
            "only available points, newest first"
        );
        assert_eq!(r.points[0].data_loss.seconds, 90 * 60);
        assert_eq!(r.points[0].data_loss.since, t("2026-11-28T11:00:00Z"));
        assert_eq!(r.points[0].data_loss.until, now());
        assert!(r.points[0].held);
        assert!(!r.points[1].held);
        let tiers: Vec<Tier> = r.points[1].tiers.iter().map(|t| t.tier).collect();
        assert_eq!(tiers, [Tier::Hourly, Tier::Weekly]);
    }

    #[test]
    fn a_window_loses_least_at_its_latest_and_most_at_its_earliest() {
        let window = RestorableWindow {
            earliest: now() - TimeDelta::hours(72),
            latest: now() - TimeDelta::minutes(5),
        };
        let listing = listing("acme", &[db(Some(window))], &[], now());
        let pitr = listing.resources[0].point_in_time.clone().unwrap();
        assert_eq!(pitr.least_loss.seconds, 300);
        assert_eq!(pitr.most_loss.seconds, 72 * 3600);
    }

    #[test]
    fn an_instance_id_is_checked_as_a_filing_checks_it() {
        assert!(check_instance_id("acme-1.prod_eu").is_ok());
        for bad in ["", "acme/../x", "a b", &"x".repeat(MAX_INSTANCE_ID + 1)] {
            let e = check_instance_id(bad).unwrap_err();
            assert_eq!(e.0[0].field, "instance_id", "{bad:?}");
        }
    }
}
