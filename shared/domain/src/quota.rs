//! Which of a tick's new points a short snapshot quota admits.
//!
//! When a service's quota cannot hold every point a tick needs, taking none of them (as an
//! all-or-nothing check would) leaves every resource without its point, the month-end ones
//! included. Instead the points that fit are taken in order of value: the longest-kept tier
//! first (monthly, then weekly, then hourly), and among equals a resource with fewer recent
//! points first, so that one resource's only recent point comes before another's second.
//! The order is total (ties broken by resource), so a retried tick admits the same points.

use std::cmp::Reverse;

use crate::catalog::ResourceKey;
use crate::policy::Tier;

/// A resource that needs a point this tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub resource: ResourceKey,
    /// The longest-kept tier the new point would serve.
    pub tier: Tier,
    /// The resource's present points of the last few days (fewer: more in need).
    pub recent_points: usize,
}

/// What a quota with `free` places left admits, and what it leaves out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Admission {
    pub admitted: Vec<Candidate>,
    pub skipped: Vec<Candidate>,
}

impl Admission {
    /// How many of the admitted serve `tier` at best.
    pub fn admitted_of(&self, tier: Tier) -> usize {
        self.admitted.iter().filter(|c| c.tier == tier).count()
    }
}

pub fn admit(mut candidates: Vec<Candidate>, free: u64) -> Admission {
    candidates.sort_by(|a, b| {
        (Reverse(a.tier), a.recent_points, &a.resource).cmp(&(Reverse(b.tier), b.recent_points, &b.resource))
    });
    let free = usize::try_from(free).unwrap_or(usize::MAX).min(candidates.len());
    let skipped = candidates.split_off(free);
    Admission {
        admitted: candidates,
        skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ResourceKind;

    fn candidate(name: &str, tier: Tier, recent_points: usize) -> Candidate {
        Candidate {
            resource: ResourceKey {
                kind: ResourceKind::RdsInstance,
                name: name.into(),
            },
            tier,
            recent_points,
        }
    }

    fn names(list: &[Candidate]) -> Vec<&str> {
        list.iter().map(|c| c.resource.name.as_str()).collect()
    }

    #[test]
    fn longer_kept_tiers_come_first() {
        let a = admit(
            vec![
                candidate("h", Tier::Hourly, 0),
                candidate("m", Tier::Monthly, 70),
                candidate("w", Tier::Weekly, 70),
            ],
            2,
        );
        assert_eq!(names(&a.admitted), ["m", "w"]);
        assert_eq!(names(&a.skipped), ["h"]);
        assert_eq!(a.admitted_of(Tier::Monthly), 1);
    }

    #[test]
    fn among_equals_the_resource_with_fewer_recent_points_first() {
        let a = admit(
            vec![
                candidate("b", Tier::Hourly, 3),
                candidate("a", Tier::Hourly, 5),
                candidate("c", Tier::Hourly, 0),
            ],
            2,
        );
        assert_eq!(names(&a.admitted), ["c", "b"]);
        assert_eq!(names(&a.skipped), ["a"]);
    }

    #[test]
    fn the_order_is_total_so_a_retry_admits_the_same() {
        let list = vec![candidate("y", Tier::Weekly, 1), candidate("x", Tier::Weekly, 1)];
        let mut reversed = list.clone();
        reversed.reverse();
        assert_eq!(admit(list, 1), admit(reversed, 1));
        assert_eq!(
            names(
                &admit(
                    vec![candidate("y", Tier::Weekly, 1), candidate("x", Tier::Weekly, 1)],
                    1
                )
                .admitted
            ),
            ["x"]
        );
    }

    #[test]
    fn no_room_admits_nothing_and_room_for_all_skips_nothing() {
        let list = vec![candidate("a", Tier::Monthly, 0), candidate("b", Tier::Hourly, 0)];
        assert_eq!(admit(list.clone(), 0).admitted, vec![]);
        assert_eq!(admit(list.clone(), 5).skipped, vec![]);
        assert_eq!(admit(list, 5).admitted.len(), 2);
    }
}
