//! Inventory: which resources Lifeboat manages, read from their tags.
//!
//! A resource is managed when it carries `lifeboat:instance=<instance-id>`; it may name its
//! time zone (`lifeboat:timezone`, an IANA name, default `UTC`) and its policy
//! (`lifeboat:policy`, default `standard`). A resource without the instance tag is never
//! touched. A tag with a bad value is that resource's error alone.

use std::collections::BTreeMap;

use crate::zone::Zone;

use crate::catalog::{RecoveryPoint, ResourceKey, ResourceKind};
use crate::policy::{Policy, PolicyBook, Tier, STANDARD};
use crate::schedule::{tiers_of, Slot, TierSet};

pub const TAG_INSTANCE: &str = "lifeboat:instance";
pub const TAG_TIMEZONE: &str = "lifeboat:timezone";
pub const TAG_POLICY: &str = "lifeboat:policy";

/// Tags Lifeboat puts on the snapshots it makes, so that they can be recognised (and adopted
/// back into the catalog) from the service alone.
pub const TAG_MANAGED: &str = "lifeboat:managed";
pub const TAG_SLOT: &str = "lifeboat:slot";
pub const TAG_TIERS: &str = "lifeboat:tiers";
pub const TAG_EXPIRES: &str = "lifeboat:expires";
/// Tags on what a restore creates (`staging`) or sets aside (`fallback`), with the request
/// they belong to. Such a resource is never managed, even though it carries production's
/// tags: it is not a second copy of the customer's instance to back up.
pub const TAG_RESTORE_ROLE: &str = "lifeboat:restore-role";
pub const TAG_RESTORE_REQUEST: &str = "lifeboat:restore-request";

/// Whether `tags` carry the marks of `request_id` (a restore request's or a drill's id) and,
/// if given, of `role`: what Lifeboat made for that request, the only such resources it
/// changes or deletes.
pub fn marked_for(tags: &BTreeMap<String, String>, request_id: &str, role: Option<&str>) -> bool {
    tags.get(TAG_RESTORE_REQUEST).map(String::as_str) == Some(request_id)
        && role.is_none_or(|r| tags.get(TAG_RESTORE_ROLE).map(String::as_str) == Some(r))
}

/// The continuous-backup state a service reports for a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PitrStatus {
    pub enabled: bool,
    /// The window in days, when the service reports one.
    pub window_days: Option<u8>,
}

/// A resource found by a service, before its tags are read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DiscoveredResource {
    pub key: ResourceKey,
    pub tags: BTreeMap<String, String>,
    /// Continuous-backup state, when the discovery call already told it (RDS does).
    pub pitr: Option<PitrStatus>,
}

/// A managed resource with its schedule settings resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedResource {
    pub key: ResourceKey,
    pub instance_id: String,
    pub timezone: Zone,
    pub policy: Policy,
    pub pitr: Option<PitrStatus>,
}

impl ManagedResource {
    /// The tiers this resource's point for `slot` serves: the policy's tiers due at the slot,
    /// less the hourly tier when the continuous backup window serves it instead (see
    /// [`Self::hourly_from_window`]). Empty: no point is taken.
    pub fn point_tiers(&self, slot: Slot) -> TierSet {
        let mut tiers = tiers_of(&self.policy, self.timezone, slot);
        if self.hourly_from_window() {
            tiers.0.remove(&Tier::Hourly);
        }
        tiers
    }

    /// Whether this resource's hourly points are its continuous backup window's: an RDS
    /// instance under `hourly.source: point_in_time` whose window, as its service reports it
    /// now, is on and at least the policy's. A window that is off, shorter, unknown, or
    /// raised but not yet applied (RDS applies a retention that switches backups on in the
    /// maintenance window) serves nothing: the hour gets its snapshot, as under the standard
    /// policy, until the window is there.
    pub fn hourly_from_window(&self) -> bool {
        let window_there = match (self.policy.point_in_time, self.pitr) {
            (Some(wanted), Some(found)) => {
                found.enabled && found.window_days.is_some_and(|days| days >= wanted.window_days)
            }
            _ => false,
        };
        self.key.kind == ResourceKind::RdsInstance && self.policy.hourly_from_window() && window_there
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{resource}: tag `{tag}` = {value:?} {problem}")]
pub struct TagError {
    pub resource: ResourceKey,
    pub tag: &'static str,
    pub value: String,
    pub problem: String,
}

/// Whether `id` can stand in an object key and a page's link as it is: letters, digits,
/// `-`, `_` and `.` (not first), 1 to 128 of them. What an event may name as an instance.
pub fn is_instance_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !id.starts_with('.')
}

/// The instance's name in object keys and links: its id when that is safe there, else the
/// id made safe with a hash of it, so that a tag holding `/` can never reach into another
/// instance's keys and two ids never share one.
pub fn instance_key(id: &str) -> String {
    if is_instance_id(id) {
        return id.to_string();
    }
    let safe: String = (crate::fanout::safe_name(id).chars()).take(100).collect();
    format!("{safe}-{:016x}", crate::rotation::fnv1a(id))
}

/// `Ok(None)` for a resource Lifeboat does not manage.
pub fn managed(
    found: &DiscoveredResource,
    policies: &PolicyBook,
) -> Result<Option<ManagedResource>, TagError> {
    let Some(instance_id) = found.tags.get(TAG_INSTANCE) else {
        return Ok(None);
    };
    if found.tags.contains_key(TAG_RESTORE_ROLE) {
        return Ok(None);
    }
    let error = |tag, value: &str, problem: String| TagError {
        resource: found.key.clone(),
        tag,
        value: value.to_string(),
        problem,
    };
    if instance_id.trim().is_empty() {
        return Err(error(TAG_INSTANCE, instance_id, "must not be empty".into()));
    }
    let tz_name = found.tags.get(TAG_TIMEZONE).map_or("UTC", String::as_str);
    let timezone: Zone = tz_name
        .parse()
        .map_err(|_| error(TAG_TIMEZONE, tz_name, "is not an IANA time zone name".into()))?;
    let policy_name = found.tags.get(TAG_POLICY).map_or(STANDARD, String::as_str);
    let policy = policies.get(policy_name).map_err(|_| {
        let known: Vec<&str> = policies.names().collect();
        error(
            TAG_POLICY,
            policy_name,
            format!("names no policy; known: {}", known.join(", ")),
        )
    })?;
    Ok(Some(ManagedResource {
        key: found.key.clone(),
        instance_id: instance_id.clone(),
        timezone,
        policy: policy.clone(),
        pitr: found.pitr,
    }))
}

/// A resource the catalog still holds recovery points of that Lifeboat no longer manages:
/// nothing backs it up any more, and its points age out one by one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unmanaged {
    pub resource: ResourceKey,
    /// Its points the service still holds.
    pub points: usize,
    pub why: String,
}

/// How many present points each resource of `points` has.
pub fn present_counts(points: &[RecoveryPoint]) -> BTreeMap<ResourceKey, usize> {
    let mut counts = BTreeMap::new();
    for p in points.iter().filter(|p| p.state.is_present()) {
        *counts.entry(p.resource.clone()).or_default() += 1;
    }
    counts
}

/// The resources of `points` (present recovery points) that `discovered` (a service's
/// resources, for the kinds it covers) does not show as managed, and why.
pub fn unmanaged_with_points(
    points: &[RecoveryPoint],
    discovered: &[DiscoveredResource],
    policies: &PolicyBook,
) -> Vec<Unmanaged> {
    unmanaged_of(&present_counts(points), discovered, policies)
}

/// The resources of `counts` (present points per resource) that `discovered` (a service's
/// resources, for the kinds it covers) does not show as managed, and why.
pub fn unmanaged_of(
    counts: &BTreeMap<ResourceKey, usize>,
    discovered: &[DiscoveredResource],
    policies: &PolicyBook,
) -> Vec<Unmanaged> {
    // By key: a fleet's thousands of resources are each looked up once.
    let discovered: BTreeMap<&ResourceKey, &DiscoveredResource> =
        discovered.iter().map(|d| (&d.key, d)).collect();
    counts
        .iter()
        .map(|(resource, points)| (resource, *points))
        .filter_map(|(resource, points)| {
            let why = match discovered.get(resource).copied() {
                None => "not found: deleted, or no longer tagged lifeboat:instance (the service lists only tagged resources)".to_string(),
                Some(found) => match managed(found, policies) {
                    Ok(Some(_)) => return None,
                    Err(e) => format!("its tags are wrong: {e}"),
                    Ok(None) => match found.tags.get(TAG_RESTORE_ROLE) {
                        Some(role) => format!(
                            "it carries {TAG_RESTORE_ROLE}={role} (of request {}): a restore left it marked",
                            found.tags.get(TAG_RESTORE_REQUEST).map_or("?", String::as_str)
                        ),
                        None => format!("its {TAG_INSTANCE} tag was removed"),
                    },
                },
            };
            Some(Unmanaged {
                resource: resource.clone(),
                points,
                why,
            })
        })
        .collect()
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn an_instance_id_unsafe_in_keys_is_made_safe_and_kept_apart() {
        assert_eq!(instance_key("acme.eu-1"), "acme.eu-1");
        let sneaky = instance_key("acme/runs/064500");
        assert!(
            !sneaky.contains('/') && sneaky.starts_with("acme_runs_064500-"),
            "{sneaky}"
        );
        assert_ne!(instance_key("acme x"), instance_key("acme_x"));
        assert!(is_instance_id(&instance_key(&"x".repeat(300))));
        assert!(!instance_key(".hidden").starts_with('.'));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(tags: &[(&str, &str)]) -> DiscoveredResource {
        DiscoveredResource {
            key: ResourceKey::rds("db"),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            pitr: None,
        }
    }

    #[test]
    fn staging_and_fallback_resources_are_not_managed() {
        for role in ["staging", "fallback"] {
            let tags = [(TAG_INSTANCE, "acme"), (TAG_RESTORE_ROLE, role)];
            assert_eq!(managed(&found(&tags), &PolicyBook::default()), Ok(None));
        }
    }

    #[test]
    fn untagged_resources_are_not_managed() {
        assert_eq!(
            managed(&found(&[("team", "x")]), &PolicyBook::default()),
            Ok(None)
        );
    }

    #[test]
    fn defaults_are_utc_and_standard() {
        let m = managed(&found(&[(TAG_INSTANCE, "acme")]), &PolicyBook::default())
            .unwrap()
            .unwrap();
        assert_eq!(m.timezone, Zone::utc());
        assert_eq!(m.policy.name, "standard");
        assert_eq!(m.instance_id, "acme");
    }

    #[test]
    fn an_instance_whose_window_serves_the_hourly_tier_takes_only_weekly_and_monthly_points() {
        let book = PolicyBook::from_json(
            r#"[{"name":"lean","point_in_time":{"window_days":4},
                 "hourly":{"retention":{"hours":72},"source":"point_in_time"},
                 "weekly":{"weekday":"saturday","hour":23,"retention":{"months":1}}}]"#,
        )
        .unwrap();
        let tags = [(TAG_INSTANCE, "acme"), (TAG_POLICY, "lean")];
        let with_window = |days: Option<u8>| DiscoveredResource {
            pitr: Some(PitrStatus {
                enabled: days.is_some(),
                window_days: days,
            }),
            ..found(&tags)
        };
        let db = managed(&with_window(Some(4)), &book).unwrap().unwrap();
        let table = DiscoveredResource {
            key: ResourceKey::dynamodb("orders"),
            ..found(&tags)
        };
        let table = managed(&table, &book).unwrap().unwrap();
        let slot = |t: &str| Slot::containing(t.parse().unwrap());
        let hour = slot("2026-11-28T03:00:00Z");
        let saturday = slot("2026-11-28T23:00:00Z");
        assert!(db.hourly_from_window() && !table.hourly_from_window());
        assert!(db.point_tiers(hour).is_empty(), "no snapshot for an hourly point");
        assert_eq!(db.point_tiers(saturday).names(), ["weekly"]);
        assert_eq!(table.point_tiers(hour).names(), ["hourly"], "tables keep backups");
        assert_eq!(table.point_tiers(saturday).names(), ["hourly", "weekly"]);
        // Until the window is there, the hour gets its snapshot.
        for window in [None, Some(3)] {
            let short = managed(&with_window(window), &book).unwrap().unwrap();
            assert!(!short.hourly_from_window(), "{window:?}");
            assert_eq!(short.point_tiers(hour).names(), ["hourly"], "{window:?}");
        }
        let unknown = managed(&found(&tags), &book).unwrap().unwrap();
        assert_eq!(
            unknown.point_tiers(hour).names(),
            ["hourly"],
            "not known: a snapshot"
        );
    }

    #[test]
    fn bad_tags_name_the_tag() {
        let e = managed(
            &found(&[(TAG_INSTANCE, "acme"), (TAG_TIMEZONE, "Mars/Olympus")]),
            &PolicyBook::default(),
        )
        .unwrap_err();
        assert_eq!(e.tag, TAG_TIMEZONE);
        let e = managed(
            &found(&[(TAG_INSTANCE, "acme"), (TAG_POLICY, "gold")]),
            &PolicyBook::default(),
        )
        .unwrap_err();
        assert_eq!(e.tag, TAG_POLICY);
        assert!(e.to_string().contains("known: standard"));
    }

    #[test]
    fn resources_with_points_that_are_not_managed_are_named_with_why() {
        use crate::catalog::PointState;
        use crate::schedule::{Slot, TierSet};
        let point = |resource: ResourceKey, state| RecoveryPoint {
            resource,
            instance_id: "acme".into(),
            slot: Slot::containing("2026-11-28T03:00:00Z".parse().unwrap()),
            tiers: TierSet::default(),
            service_id: Some("x".into()),
            state,
            holds: Default::default(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: "2026-11-28T03:00:00Z".parse().unwrap(),
        };
        let with = |name: &str, tags: &[(&str, &str)]| DiscoveredResource {
            key: ResourceKey::rds(name),
            ..found(tags)
        };
        let points = [
            point(ResourceKey::rds("kept"), PointState::Available),
            point(ResourceKey::rds("untagged"), PointState::Available),
            point(ResourceKey::rds("untagged"), PointState::Creating),
            point(ResourceKey::rds("marked"), PointState::Available),
            point(ResourceKey::rds("gone"), PointState::Available),
            point(ResourceKey::rds("old"), PointState::Deleted),
        ];
        let discovered = [
            with("kept", &[(TAG_INSTANCE, "acme")]),
            with("untagged", &[("team", "crm")]),
            with(
                "marked",
                &[
                    (TAG_INSTANCE, "acme"),
                    (TAG_RESTORE_ROLE, "fallback"),
                    (TAG_RESTORE_REQUEST, "rr-1"),
                ],
            ),
        ];
        let found = unmanaged_with_points(&points, &discovered, &PolicyBook::default());
        let names: Vec<(&str, usize)> = found
            .iter()
            .map(|u| (u.resource.name.as_str(), u.points))
            .collect();
        assert_eq!(names, [("gone", 1), ("marked", 1), ("untagged", 2)]);
        assert!(found[0].why.contains("not found"));
        assert!(found[1].why.contains("restore-role=fallback (of request rr-1)"));
        assert!(found[2].why.contains("tag was removed"));
    }
}
