//! Adoption: the catalog record of a Lifeboat point found at a service but not in the catalog.
//!
//! Adoption happens off the normal path (a catalog restored from a backup, a record lost),
//! the very case where a wrong guess would lose a backup, so it errs towards keeping:
//! - tiers are recomputed from the resource's policy and time zone, and merged with what the
//!   point's own tags say (RDS snapshots carry their tiers and expiry), the later expiry winning;
//! - when neither the resource nor the point says which policy applies, every tier of the
//!   standard policy is assumed, so the point is kept for the longest of them;
//! - a DynamoDB backup is recognised by its name alone (on-demand backups carry no tags), so
//!   it is adopted under a hold that only an operator releases: never deleted automatically.

use chrono::{DateTime, Utc};
use lifeboat::catalog::{RecoveryPoint, ResourceKind};
use lifeboat::inventory::{
    managed, DiscoveredResource, ManagedResource, TAG_EXPIRES, TAG_INSTANCE, TAG_POLICY, TAG_TIERS,
    TAG_TIMEZONE,
};
use lifeboat::policy::{Policy, PolicyBook, Tier};
use lifeboat::ports::ServicePoint;
use lifeboat::schedule::TierSet;

/// The hold on adopted points whose origin cannot be proven (DynamoDB backups).
pub const UNVERIFIED_ORIGIN: &str = "lifeboat:unverified-origin";

/// The record to write for `point`, found at its service; `resource` is its managed resource
/// when discovery found one.
pub fn adopted(
    point: &ServicePoint,
    resource: Option<&ManagedResource>,
    policies: &PolicyBook,
    now: DateTime<Utc>,
) -> RecoveryPoint {
    let settings = resource.cloned().or_else(|| from_point_tags(point, policies));
    let (instance_id, mut tiers, policy, timezone) = match settings {
        Some(m) => (
            m.instance_id,
            lifeboat::schedule::tiers_of(&m.policy, m.timezone, point.slot),
            m.policy.name,
            m.timezone.name().to_string(),
        ),
        None => (
            "unknown".to_string(),
            every_tier(point),
            "unknown".to_string(),
            "UTC".to_string(),
        ),
    };
    merge_tagged_tiers(&mut tiers, point);
    let holds = match point.resource.kind {
        ResourceKind::DynamoTable => [UNVERIFIED_ORIGIN.to_string()].into(),
        ResourceKind::RdsInstance => Default::default(),
    };
    RecoveryPoint {
        resource: point.resource.clone(),
        instance_id,
        slot: point.slot,
        tiers,
        service_id: Some(point.service_id.clone()),
        state: point.state,
        holds,
        policy,
        timezone,
        note: Some("adopted: found at the service, missing from the catalog".into()),
        updated_at: now,
    }
}

/// The policy and time zone the point's own tags name, if it names an instance.
fn from_point_tags(point: &ServicePoint, policies: &PolicyBook) -> Option<ManagedResource> {
    let tags = point
        .tags
        .iter()
        .filter(|(k, _)| [TAG_INSTANCE, TAG_POLICY, TAG_TIMEZONE].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let found = DiscoveredResource {
        key: point.resource.clone(),
        tags,
        pitr: None,
    };
    managed(&found, policies).ok().flatten()
}

/// Every tier of the standard policy, from the point's slot: the longest keeping.
fn every_tier(point: &ServicePoint) -> TierSet {
    let standard = Policy::standard();
    TierSet(
        Tier::ALL
            .into_iter()
            .filter_map(|t| Some((t, standard.retention(t)?.expiry(point.slot.start()))))
            .collect(),
    )
}

/// Adds the tiers the point's tags name, each kept at least until the tagged expiry.
fn merge_tagged_tiers(tiers: &mut TierSet, point: &ServicePoint) {
    let Some(expires) = point
        .tags
        .get(TAG_EXPIRES)
        .and_then(|e| DateTime::parse_from_rfc3339(e).ok())
        .map(|e| e.with_timezone(&Utc))
    else {
        return;
    };
    let tagged = point.tags.get(TAG_TIERS).map(String::as_str).unwrap_or_default();
    for tier in tagged.split_whitespace().filter_map(Tier::parse) {
        let until = tiers.0.entry(tier).or_insert(expires);
        *until = (*until).max(expires);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat::catalog::{PointState, ResourceKey};
    use lifeboat::schedule::Slot;
    use std::collections::BTreeMap;

    fn point(resource: ResourceKey, tags: &[(&str, &str)]) -> ServicePoint {
        let slot = Slot::containing("2026-11-01T04:00:00Z".parse().unwrap());
        ServicePoint {
            service_id: resource.point_name(slot),
            resource,
            slot,
            state: PointState::Available,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn an_unknown_policy_keeps_the_point_as_long_as_any_tier_would() {
        let p = point(ResourceKey::rds("db"), &[]);
        let record = adopted(&p, None, &PolicyBook::default(), p.slot.start());
        assert_eq!(record.tiers.names(), vec!["hourly", "weekly", "monthly"]);
        assert_eq!(
            record.expires_at(),
            "2027-11-01T04:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn the_points_own_tags_are_not_shortened() {
        // A New York month-end point: in UTC it would be hourly only.
        let p = point(
            ResourceKey::rds("db"),
            &[
                (TAG_INSTANCE, "acme"),
                (TAG_TIERS, "hourly monthly"),
                (TAG_EXPIRES, "2027-11-01T04:00:00+00:00"),
            ],
        );
        let record = adopted(&p, None, &PolicyBook::default(), p.slot.start());
        assert!(record.tiers.contains(Tier::Monthly));
        assert_eq!(
            record.expires_at(),
            "2027-11-01T04:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert!(record.holds.is_empty());
    }

    #[test]
    fn dynamodb_backups_are_held_until_an_operator_says_otherwise() {
        let p = point(ResourceKey::dynamodb("orders"), &[]);
        let record = adopted(&p, None, &PolicyBook::default(), p.slot.start());
        assert!(record.holds.contains(UNVERIFIED_ORIGIN));
    }
}
