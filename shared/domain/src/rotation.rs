//! Rotation: per-resource work spread evenly over the ticks of a day instead of repeated on
//! every tick. Checking what only the service can tell (points the catalog lacks, points gone
//! behind Lifeboat's back, duplicates, deletions interrupted part-way) lists a resource's
//! points at the service; doing that for every resource every hour would spend the services'
//! rate limits on answers that almost never change. Each resource instead takes its turn
//! once per [`ROTATION_TICKS`] hourly ticks, at an hour fixed by its key, so each tick lists
//! about 1/24 of the fleet and every resource is checked daily.

use crate::catalog::ResourceKey;
use crate::schedule::Slot;

/// A resource's turn comes once in this many hourly ticks.
pub const ROTATION_TICKS: u64 = 24;

/// Whether `resource` takes its turn at `slot`'s tick.
pub fn turn_at(resource: &ResourceKey, slot: Slot) -> bool {
    let hour = slot.start().timestamp().div_euclid(3600) as u64;
    stable_hash(resource) % ROTATION_TICKS == hour % ROTATION_TICKS
}

/// Whether `resource` takes its turn of a rotation over `days` days on the UTC day of
/// `slot`: work worth doing every few days per resource (the audit's look at who may restore
/// each snapshot) is spread over them.
pub fn daily_turn_at(resource: &ResourceKey, slot: Slot, days: u32) -> bool {
    let day = slot.start().timestamp().div_euclid(86_400) as u64;
    let days = u64::from(days.max(1));
    stable_hash(resource) % days == day % days
}

/// FNV-1a over the key's text: stable across processes and releases (unlike std's hasher,
/// seeded per process), so a resource keeps its hour from one invocation to the next.
fn stable_hash(resource: &ResourceKey) -> u64 {
    fnv1a(&resource.to_string())
}

/// FNV-1a of `text`: the one stable hash of the workspace, for whatever must map a name to
/// the same number in every process and release (a turn in a rotation, a short name).
pub fn fnv1a(text: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    text.bytes()
        .fold(OFFSET, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeDelta, Utc};

    use super::*;

    fn day_from(start: &str) -> impl Iterator<Item = Slot> {
        let first = Slot::containing(start.parse::<chrono::DateTime<Utc>>().unwrap());
        (0..ROTATION_TICKS as i64).map(move |h| Slot::containing(first.start() + TimeDelta::hours(h)))
    }

    #[test]
    fn every_resource_takes_exactly_one_turn_in_any_run_of_its_rotation_s_days() {
        let first = Slot::containing("2026-12-03T06:00:00Z".parse::<chrono::DateTime<Utc>>().unwrap());
        for days in [1, 7, 30] {
            for i in 0..100 {
                let key = ResourceKey::rds(format!("db-{i}"));
                let turns = (0..days)
                    .filter(|d| {
                        daily_turn_at(
                            &key,
                            Slot::containing(first.start() + TimeDelta::days(i64::from(*d))),
                            days,
                        )
                    })
                    .count();
                assert_eq!(turns, 1, "{key} over {days} days");
            }
        }
    }

    #[test]
    fn every_resource_takes_exactly_one_turn_in_any_24_consecutive_ticks() {
        for i in 0..200 {
            let key = if i % 2 == 0 {
                ResourceKey::rds(format!("db-{i}"))
            } else {
                ResourceKey::dynamodb(format!("table-{i}"))
            };
            for start in [
                "2026-11-28T00:00:00Z",
                "2026-11-28T07:00:00Z",
                "2027-03-28T13:00:00Z",
            ] {
                assert_eq!(
                    day_from(start).filter(|s| turn_at(&key, *s)).count(),
                    1,
                    "{key} from {start}"
                );
            }
        }
    }

    #[test]
    fn a_fleet_is_spread_over_the_day() {
        let fleet: Vec<ResourceKey> = (0..2400)
            .map(|i| ResourceKey::rds(format!("customer-{i}")))
            .collect();
        for slot in day_from("2026-11-28T00:00:00Z") {
            let turns = fleet.iter().filter(|k| turn_at(k, slot)).count();
            assert!(
                (50..=150).contains(&turns),
                "{turns} of 2400 at {slot}, expected about 100"
            );
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // A resource's hour must not move between releases: pinned here.
        assert_eq!(
            stable_hash(&ResourceKey::rds("db")),
            0x25ce_5c55_1cd6_bf04,
            "FNV-1a of \"rds:db\""
        );
    }
}
