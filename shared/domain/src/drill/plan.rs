//! A drill's plan: its turn in the week, the point each resource restores, and the
//! sandbox it restores into.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use crate::execution::names::{rds_identifier, short_id, table_name};
use crate::rotation::fnv1a;
use crate::schedule::Slot;

/// Hours in a week: an instance's drill falls in one of them.
pub const WEEK_HOURS: u64 = 168;

/// Whether `instance`'s weekly drill starts in the hour of `slot`: at an hour of the week
/// fixed by the instance's id, so that a fleet's drills spread over the week instead of all
/// restoring at one hour (and spending the restore quotas together).
pub fn drill_turn_at(instance: &str, slot: Slot) -> bool {
    let hour = slot.start().timestamp().div_euclid(3600) as u64;
    fnv1a(instance) % WEEK_HOURS == hour % WEEK_HOURS
}

/// Which recovery point a drill restores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum PointChoice {
    /// The newest available point: what an emergency would restore first.
    Latest,
    /// The point of this slot.
    Slot { slot: Slot },
    /// One of the available points at random (as AWS Backup's restore testing offers), so
    /// that over the weeks old monthly points are proven too. The seed makes a retried
    /// plan choose the same.
    Random { seed: u64 },
}

/// The point `choice` names among `records` (one resource's catalog records): only an
/// available one, never a point being made or gone.
pub fn choose_point(records: &[RecoveryPoint], choice: PointChoice) -> Option<&RecoveryPoint> {
    let mut available: Vec<&RecoveryPoint> = records
        .iter()
        .filter(|r| r.state == PointState::Available)
        .collect();
    available.sort_by_key(|r| r.slot);
    match choice {
        PointChoice::Latest => available.last().copied(),
        PointChoice::Slot { slot } => available.into_iter().find(|r| r.slot == slot),
        PointChoice::Random { seed } => {
            let n = available.len() as u64;
            (n > 0).then(|| available[(splitmix(seed) % n) as usize])
        }
    }
}

/// SplitMix64: an even spread of seeds over the points (no dependency for one draw).
fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A drill's id: the instance and the hour it started, so a retried start finds the same.
pub fn drill_id(instance: &str, started: DateTime<Utc>) -> String {
    format!("drill-{instance}-{}", Slot::containing(started).label())
}

/// The drill id of the execution `name` (its sandboxes' names and records derive from it):
/// one per name, so that two executions never share sandboxes or records; a name with
/// characters made safe gets a hash of itself.
pub fn drill_of_execution(name: &str) -> String {
    let safe = crate::fanout::safe_name(name);
    if safe == name {
        format!("drill-{safe}")
    } else {
        format!("drill-{safe}-{:016x}", fnv1a(name))
    }
}

/// The sandbox `resource` is restored into for drill `drill_id`: `lbd-<8>-<name>`, a prefix
/// no production resource, scheduled point (`lifeboat-`) or restore (`lbs-`, `lbf-`, `lbr-`)
/// carries, so IAM can grant the drill deletes on `lbd-*` only.
pub fn sandbox_name(drill_id: &str, resource: &ResourceKey) -> String {
    let short = short_id(&format!("{:016x}", fnv1a(drill_id)));
    let name = format!("lbd-{short}-{}", resource.name);
    let (made, limit) = match resource.kind {
        ResourceKind::RdsInstance => (rds_identifier(&name), 63),
        ResourceKind::DynamoTable => (table_name(&name), 255),
    };
    if made.len() < name.len() || name.len() > limit {
        // Cut to fit: a hash of the whole name keeps two long names of one drill apart.
        let hash = format!("{:08x}", fnv1a(&resource.name) as u32);
        let keep = limit - hash.len() - 1;
        let cut: String = name.chars().take(keep).collect();
        let cut = cut.trim_end_matches('-');
        return format!("{cut}-{hash}");
    }
    made
}

/// How old the data a point holds was when the drill started.
pub fn data_age(point: &RecoveryPoint, started: DateTime<Utc>) -> TimeDelta {
    started - point.slot.start()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::schedule::TierSet;

    fn record(slot: &str, state: PointState) -> RecoveryPoint {
        RecoveryPoint {
            resource: ResourceKey::rds("acme-db"),
            instance_id: "acme".into(),
            slot: Slot::containing(slot.parse().unwrap()),
            tiers: TierSet::default(),
            service_id: Some("x".into()),
            state,
            holds: BTreeSet::new(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: slot.parse().unwrap(),
        }
    }

    #[test]
    fn every_instance_drills_once_a_week_and_a_fleet_spreads_over_the_hours() {
        let first = Slot::containing("2026-11-30T00:00:00Z".parse().unwrap());
        let mut hours = BTreeSet::new();
        for i in 0..500 {
            let instance = format!("customer-{i}");
            let turns: Vec<i64> = (0..WEEK_HOURS as i64)
                .filter(|h| drill_turn_at(&instance, Slot::containing(first.start() + TimeDelta::hours(*h))))
                .collect();
            assert_eq!(turns.len(), 1, "{instance}");
            hours.insert(turns[0]);
        }
        assert!(
            hours.len() > 120,
            "500 instances over {} of 168 hours",
            hours.len()
        );
    }

    #[test]
    fn the_latest_available_point_is_chosen_never_one_in_the_making_or_gone() {
        let records = [
            record("2026-12-01T10:00:00Z", PointState::Available),
            record("2026-12-03T10:00:00Z", PointState::Creating),
            record("2026-12-02T10:00:00Z", PointState::Available),
            record("2026-12-02T23:00:00Z", PointState::Deleted),
        ];
        let latest = choose_point(&records, PointChoice::Latest).unwrap();
        assert_eq!(latest.slot.to_string(), "2026-12-02T10:00:00Z");
        let slot = records[3].slot;
        assert!(
            choose_point(&records, PointChoice::Slot { slot }).is_none(),
            "deleted"
        );
        assert!(choose_point(&[], PointChoice::Latest).is_none());
    }

    #[test]
    fn a_random_choice_is_repeatable_by_its_seed_and_reaches_every_point() {
        let records: Vec<_> = (1..=9)
            .map(|d| record(&format!("2026-11-0{d}T23:00:00Z"), PointState::Available))
            .collect();
        let pick = |seed| choose_point(&records, PointChoice::Random { seed }).unwrap().slot;
        assert_eq!(pick(7), pick(7));
        let reached: BTreeSet<Slot> = (0..200).map(pick).collect();
        assert_eq!(reached.len(), 9);
    }

    #[test]
    fn sandboxes_are_lbd_names_valid_for_their_service_and_stable_per_drill() {
        let id = drill_id("acme", "2026-12-03T06:12:00Z".parse().unwrap());
        assert_eq!(id, "drill-acme-20261203t0600z");
        let db = sandbox_name(&id, &ResourceKey::rds("acme-db"));
        assert!(db.starts_with("lbd-") && db.ends_with("-acme-db"), "{db}");
        assert_eq!(db, sandbox_name(&id, &ResourceKey::rds("acme-db")));
        assert_ne!(
            db,
            sandbox_name("drill-acme-20261210t0600z", &ResourceKey::rds("acme-db"))
        );
        let long = sandbox_name(&id, &ResourceKey::rds("a".repeat(80)));
        assert!(
            long.len() <= 63 && !long.ends_with('-') && !long.contains("--"),
            "{long}"
        );
        let other = sandbox_name(&id, &ResourceKey::rds(format!("{}b", "a".repeat(79))));
        assert_ne!(long, other, "two long names sharing their start stay apart");
        assert!(sandbox_name(&id, &ResourceKey::dynamodb("orders")).starts_with("lbd-"));
    }
}
