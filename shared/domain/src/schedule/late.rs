//! Late points: a weekly or monthly slot whose point could not be taken (the service refused,
//! the quota was short, the tick never reached the resource) is taken by a later tick of the
//! tier's period (before the tier's next slot), on that tick's own point.
//!
//! - A late point is the point of its own slot, the time its data really holds, carrying the
//!   missed tier kept for the tier's retention counted from that slot: never shorter than the
//!   policy keeps a point of that time, and longer than the missed slot's point would have
//!   been kept by less than the period.
//! - Which slot it stands for is not stored: a point carrying a weekly (monthly) tier at a slot
//!   that is not one of the tier's serves the tier's latest slot before it ([`served_slot`]).
//!   A late tier is only ever taken within that slot's period, so that is the missed slot.
//! - Exactly one point per weekly (monthly) slot: a tier is owed only when no point serves its
//!   slot, and a point an attempt may have made without its answer reaching the catalog is
//!   looked up at the service first ([`Owed::unless_held`]).
//! - Knowing a missed slot adds no read per resource and tick: a tick reads its own slot's
//!   records already, and a tick that could not take a weekly or monthly point hands its tiers
//!   on there (a `due` record of the next slot, [`handed_on`]); the tick right after a weekly
//!   or monthly slot also reads that slot's record ([`reads_slot_before`]), which catches a
//!   slot whose tick never reached the resource or could not hand anything on.
//! - Nothing handed on is dropped when a later tick fails too (it never reaches the resource,
//!   its shard fails, a hand-on's write fails): every record that may owe a tier stays in the
//!   catalog's owing index until what it owes is taken on, and each tick reads that index
//!   once for the whole fleet ([`owing`]).
//! - A weekly or monthly slot is reserved by the tick before it: each tick that reaches a
//!   resource whose next slot is one writes a `due` record there unless the slot has a record
//!   ([`reserved`]). The slot's claim replaces it; a slot never claimed (its tick and the
//!   tick after both never reached the resource, or never ran) leaves it in the owing index,
//!   so a later tick still owes the slot's tiers. Only a slot whose tick before, own tick and
//!   tick after all never reached the resource stays missing.

pub mod owing;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, TimeDelta};

use super::{monthly_slot, tiers_of, weekly_slot, Slot, TierSet};
use crate::catalog::{PointState, RecoveryPoint};
use crate::policy::{Policy, Tier};
use crate::zone::Zone;

/// The tiers a point can serve late: those with a slot a week or a month apart.
pub const LONG: [Tier; 2] = [Tier::Weekly, Tier::Monthly];

/// The latest slot of `tier` at or before `slot`; `None` for the hourly tier and a tier the
/// policy does not have.
pub fn latest_slot(policy: &Policy, tz: Zone, tier: Tier, slot: Slot) -> Option<Slot> {
    let today = tz.local(slot.start()).date();
    match tier {
        Tier::Hourly => None,
        Tier::Weekly => {
            let w = policy.weekly?;
            // Two weeks of local dates, newest first: this week's slot may still be ahead.
            (0..15)
                .map(|d| today - TimeDelta::days(d))
                .filter(|d| d.weekday() == w.weekday)
                .map(|d| weekly_slot(&w, tz, d))
                .find(|s| *s <= slot)
        }
        Tier::Monthly => {
            let m = policy.monthly?;
            let first = today.with_day(1).expect("day 1 exists");
            (0..3)
                .filter_map(|k| first.checked_sub_months(Months::new(k)))
                .map(|d| monthly_slot(&m, tz, d.year(), d.month()))
                .find(|s| *s <= slot)
        }
    }
}

/// The slot of `tier` that a point of `slot` carrying it serves: `slot` itself when it is
/// one of the tier's slots (always, for the hourly tier), else the tier's latest slot before
/// it, which the point was taken late for.
pub fn served_slot(policy: &Policy, tz: Zone, tier: Tier, slot: Slot) -> Option<Slot> {
    match tier {
        Tier::Hourly => Some(slot),
        _ => latest_slot(policy, tz, tier, slot),
    }
}

/// Whether the tick of `slot` also reads the record of the slot before: only when that slot
/// is a weekly or monthly slot of the policy (one tick a week, one a month), where it tells
/// whether that slot's point was taken.
pub fn reads_slot_before(policy: &Policy, tz: Zone, slot: Slot) -> bool {
    let before = tiers_of(policy, tz, slot.prev());
    LONG.into_iter().any(|t| before.contains(t))
}

/// One weekly or monthly tier a point owes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owed {
    /// The tier's slot whose point could not be taken.
    pub missed: Slot,
    /// The slots whose points, if the service holds one, already serve the tier: attempts
    /// whose outcome the catalog does not know (a claim without the service's answer, or
    /// one that failed and handed the tier on). Each is looked up before the tier is taken
    /// again.
    pub unless_held: BTreeSet<Slot>,
}

/// The weekly and monthly tiers a point owes, each with its missed slot.
pub type Debt = BTreeMap<Tier, Owed>;

/// The weekly and monthly tiers the point of `slot` owes, from `records`: the resource's
/// records the tick read (its slot's, the slot before's when [`reads_slot_before`], and
/// those of earlier slots the owing index holds, see [`owing`]). A tier is owed when the
/// latest slot of the tier is not `slot` itself, no point of it is known, and its period is
/// still open at `slot`:
/// - a record of `slot` in state `due` hands on the tiers the tick before could not take;
/// - the slot before, when it is a weekly or monthly slot without a record: its tiers (its
///   tick never reached the resource);
/// - a record of an earlier slot: a `due` record's tiers and its own slot's (that slot was
///   never claimed), a claim's tiers when the service's answer is not recorded (its point
///   looked up first), a record of a point the service no longer holds.
pub fn owed(policy: &Policy, tz: Zone, slot: Slot, records: &[RecoveryPoint]) -> Debt {
    let mut debt = Debt::new();
    let mut owe = |tiers: &TierSet, of: Slot, unless_held: Option<Slot>| {
        for tier in LONG.into_iter().filter(|t| tiers.contains(*t)) {
            let missed = served_slot(policy, tz, tier, of);
            // Only the tier's latest slot is still in its period.
            if missed.is_none() || missed != latest_slot(policy, tz, tier, slot) || missed == Some(slot) {
                continue;
            }
            let entry = debt.entry(tier).or_insert(Owed {
                missed: missed.expect("checked above"),
                unless_held: BTreeSet::new(),
            });
            // Of several sources, every look-up they ask for: never a second point. A point of
            // a slot before the missed one cannot serve it (a reservation's slot before).
            let missed = entry.missed;
            entry.unless_held.extend(unless_held.filter(|u| *u >= missed));
        }
    };
    // One record a slot: the same record may come from the slot's read and the owing index.
    let mut by_slot: BTreeMap<Slot, &RecoveryPoint> = BTreeMap::new();
    for record in records {
        by_slot.entry(record.slot).or_insert(record);
    }
    if let Some(due) = by_slot.get(&slot).filter(|r| r.state == PointState::Due) {
        owe(&due.tiers, slot, Some(slot.prev()));
    }
    let before = slot.prev();
    if reads_slot_before(policy, tz, slot) && !by_slot.contains_key(&before) {
        owe(&tiers_of(policy, tz, before), before, None);
    }
    for r in by_slot.range(..slot).map(|(_, r)| *r) {
        match r.state {
            PointState::Due => {
                owe(&tiers_of(policy, tz, r.slot), r.slot, None);
                owe(&r.tiers, r.slot, Some(r.slot.prev()));
            }
            s if s.is_present() && r.service_id.is_some() => {}
            s if s.is_present() => owe(&r.tiers, r.slot, Some(r.slot)),
            _ => owe(&r.tiers, r.slot, None),
        }
    }
    debt
}

/// The tiers the point of `slot` takes for `debt`, each kept for its retention counted from
/// `slot`, the time the point's data holds.
pub fn late_tiers(policy: &Policy, debt: &Debt, slot: Slot) -> TierSet {
    TierSet(
        debt.keys()
            .filter_map(|t| Some((*t, policy.retention(*t)?.expiry(slot.start()))))
            .collect(),
    )
}

/// The record that hands the weekly and monthly tiers of `point` (the claim of a point that
/// could not be taken) on to the next slot, in state `due`: those whose period is still open
/// there and that the next slot does not serve itself. `None` when there are none.
pub fn handed_on(policy: &Policy, tz: Zone, point: &RecoveryPoint, why: &str) -> Option<RecoveryPoint> {
    let next = point.slot.next();
    let next_own = tiers_of(policy, tz, next);
    let tiers: BTreeMap<Tier, _> = LONG
        .into_iter()
        .filter(|t| point.tiers.contains(*t) && !next_own.contains(*t))
        .filter(|t| {
            let missed = served_slot(policy, tz, *t, point.slot);
            missed.is_some() && missed == latest_slot(policy, tz, *t, next)
        })
        .filter_map(|t| Some((t, policy.retention(t)?.expiry(next.start()))))
        .collect();
    if tiers.is_empty() {
        return None;
    }
    let tiers = TierSet(tiers);
    let note = format!(
        "the point of {} could not be taken ({why}): the point of {next} takes its {} tier late",
        point.slot,
        tiers.names().join(" and ")
    );
    Some(due(point, next, tiers, note))
}

/// The reservation of the slot after `point`'s (the point of a tick that reached the
/// resource), when that slot is a weekly or monthly slot of the policy: a `due` record there
/// carrying the slot's own weekly and monthly tiers, which the slot's claim replaces. Written
/// only where the slot has no record, it owes nothing a claim or a hand-on does not; left
/// unclaimed, it owes the slot's tiers ([`owed`]). `None` when the next slot is neither.
pub fn reserved(policy: &Policy, tz: Zone, point: &RecoveryPoint) -> Option<RecoveryPoint> {
    let next = point.slot.next();
    let own = tiers_of(policy, tz, next);
    let tiers = TierSet(own.0.into_iter().filter(|(t, _)| LONG.contains(t)).collect());
    if tiers.is_empty() {
        return None;
    }
    let note = format!(
        "reserved by the tick of {}: if no tick claims this slot, a later one takes its {} tier late",
        point.slot,
        tiers.names().join(" and ")
    );
    Some(due(point, next, tiers, note))
}

/// A `due` record of `point`'s resource at `next`, owing `tiers`, saying why in `note`.
fn due(point: &RecoveryPoint, next: Slot, tiers: TierSet, note: String) -> RecoveryPoint {
    RecoveryPoint {
        slot: next,
        tiers,
        service_id: None,
        state: PointState::Due,
        holds: Default::default(),
        note: Some(note),
        ..point.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn slot(s: &str) -> Slot {
        Slot::containing(at(s))
    }

    fn ny() -> Zone {
        Zone::named("America/New_York").unwrap()
    }

    /// The record of `slot` as the creator claims it, in `state`, with or without the
    /// service's answer.
    fn record(tz: Zone, s: &str, state: PointState, answered: bool) -> RecoveryPoint {
        let slot = slot(s);
        RecoveryPoint {
            resource: crate::catalog::ResourceKey::rds("db"),
            instance_id: "acme".into(),
            slot,
            tiers: tiers_of(&Policy::standard(), tz, slot),
            service_id: answered.then(|| format!("lifeboat-db-{}", slot.label())),
            state,
            holds: Default::default(),
            policy: "standard".into(),
            timezone: tz.name().into(),
            note: None,
            updated_at: slot.start(),
        }
    }

    fn owed_names(debt: &Debt) -> Vec<(Tier, Slot, Option<Slot>)> {
        debt.iter()
            .map(|(t, o)| {
                assert!(o.unless_held.len() <= 1, "{o:?}");
                (*t, o.missed, o.unless_held.first().copied())
            })
            .collect()
    }

    #[test]
    fn the_latest_weekly_and_monthly_slots_follow_the_zone() {
        let p = Policy::standard();
        // Saturday 2026-11-28 23:00 in New York is Sunday 04:00 UTC.
        let w = slot("2026-11-29T04:00:00Z");
        assert_eq!(latest_slot(&p, ny(), Tier::Weekly, w), Some(w));
        assert_eq!(latest_slot(&p, ny(), Tier::Weekly, w.next()), Some(w));
        assert_eq!(
            latest_slot(&p, ny(), Tier::Weekly, w.prev()),
            Some(slot("2026-11-22T04:00:00Z"))
        );
        // The month end of November in New York: 30 November 23:00 EST, 1 December 04:00 UTC.
        let m = slot("2026-12-01T04:00:00Z");
        assert_eq!(latest_slot(&p, ny(), Tier::Monthly, m.next()), Some(m));
        assert_eq!(
            latest_slot(&p, ny(), Tier::Monthly, m.prev()),
            Some(slot("2026-11-01T03:00:00Z")),
            "31 October 23:00 EDT"
        );
        assert_eq!(latest_slot(&p, ny(), Tier::Hourly, m), None);
        assert_eq!(served_slot(&p, ny(), Tier::Hourly, m), Some(m));
    }

    #[test]
    fn only_the_tick_after_a_weekly_or_monthly_slot_reads_the_slot_before() {
        let p = Policy::standard();
        let ticks = (0..24 * 31).map(|h| slot("2026-11-01T00:00:00Z").start() + TimeDelta::hours(h));
        let reading: Vec<Slot> = ticks
            .map(Slot::containing)
            .filter(|s| reads_slot_before(&p, ny(), *s))
            .collect();
        // Four Saturdays and the month end of November (the 1st's 03:00 is October's).
        assert_eq!(
            reading,
            [
                "2026-11-01T04:00:00Z",
                "2026-11-08T05:00:00Z",
                "2026-11-15T05:00:00Z",
                "2026-11-22T05:00:00Z",
                "2026-11-29T05:00:00Z",
                "2026-12-01T05:00:00Z",
            ]
            .map(slot)
        );
    }

    #[test]
    fn a_weekly_slot_refused_is_owed_by_the_next_tick_until_a_look_up_says_otherwise() {
        let p = Policy::standard();
        let w = "2026-11-28T23:00:00Z";
        let next = slot(w).next();
        // The claim stayed without the service's answer.
        let claim = record(Zone::utc(), w, PointState::Creating, false);
        let debt = owed(&p, Zone::utc(), next, std::slice::from_ref(&claim));
        assert_eq!(owed_names(&debt), [(Tier::Weekly, slot(w), Some(slot(w)))]);
        assert_eq!(late_tiers(&p, &debt, next).names(), ["weekly"]);
        assert_eq!(
            late_tiers(&p, &debt, next).expires_at(),
            Some(at("2026-12-29T00:00:00Z")),
            "a month from the point's own time"
        );
        // Its tick handed it on too: the same debt, one look-up.
        let due = handed_on(&p, Zone::utc(), &claim, "refused").unwrap();
        assert_eq!((due.slot, due.state), (next, PointState::Due));
        assert_eq!(owed(&p, Zone::utc(), next, &[claim, due]), debt);
        // Answered: nothing owed. No record at all (the tick never reached it): owed, nothing
        // to look up.
        let answered = record(Zone::utc(), w, PointState::Creating, true);
        assert!(owed(&p, Zone::utc(), next, &[answered]).is_empty());
        assert_eq!(
            owed_names(&owed(&p, Zone::utc(), next, &[])),
            [(Tier::Weekly, slot(w), None)]
        );
    }

    #[test]
    fn a_month_end_saturday_refused_for_good_hands_each_tier_on_until_its_period_ends() {
        let p = Policy::standard();
        // 2026-10-31 is a Saturday and a month end; every tick after it is refused too.
        let mut point = record(Zone::utc(), "2026-10-31T23:00:00Z", PointState::Creating, false);
        let mut last_owed: BTreeMap<(Tier, Slot), Slot> = BTreeMap::new();
        while point.slot < slot("2026-12-01T00:00:00Z") {
            let due = handed_on(&p, Zone::utc(), &point, "refused").expect("a tier to hand on");
            let debt = owed(&p, Zone::utc(), due.slot, std::slice::from_ref(&due));
            assert_eq!(
                debt.keys().collect::<Vec<_>>(),
                due.tiers.0.keys().collect::<Vec<_>>(),
                "{}: owes what was handed on",
                due.slot
            );
            for (tier, o) in &debt {
                last_owed.insert((*tier, o.missed), due.slot);
            }
            // The next tick's claim, refused in turn: its own tiers and the late ones.
            let mut tiers = tiers_of(&p, Zone::utc(), due.slot);
            tiers.0.extend(late_tiers(&p, &debt, due.slot).0);
            point = RecoveryPoint {
                tiers,
                state: PointState::Creating,
                ..due
            };
        }
        let missed = slot("2026-10-31T23:00:00Z");
        assert_eq!(
            last_owed[&(Tier::Weekly, missed)],
            slot("2026-11-07T22:00:00Z"),
            "the week through"
        );
        assert_eq!(
            last_owed[&(Tier::Monthly, missed)],
            slot("2026-11-30T22:00:00Z"),
            "the month through"
        );
        assert_eq!(
            last_owed[&(Tier::Weekly, slot("2026-11-07T23:00:00Z"))],
            slot("2026-11-14T22:00:00Z"),
            "each Saturday's own, refused in turn"
        );
    }

    #[test]
    fn a_refusal_past_the_period_leaves_the_slot_missing() {
        let p = Policy::standard();
        let w = record(Zone::utc(), "2026-11-21T23:00:00Z", PointState::Creating, false);
        let last = RecoveryPoint {
            slot: slot("2026-11-28T22:00:00Z"),
            tiers: tiers_of(&p, Zone::utc(), slot("2026-11-28T22:00:00Z")),
            ..w.clone()
        };
        let mut late = last.clone();
        late.tiers.0.insert(Tier::Weekly, at("2026-12-28T22:00:00Z"));
        assert_eq!(
            handed_on(&p, Zone::utc(), &late, "refused"),
            None,
            "the next slot is the next Saturday's own"
        );
        let due = RecoveryPoint {
            slot: slot("2026-11-28T23:00:00Z"),
            state: PointState::Due,
            ..late
        };
        assert!(owed(&p, Zone::utc(), due.slot, std::slice::from_ref(&due)).is_empty());
    }

    #[test]
    fn a_weekly_slot_whose_tick_never_reached_the_resource_owes_its_own_tier_and_what_it_was_handed() {
        let p = Policy::standard();
        // Friday 30 April 2027 23:00 is a month end; its point refused, the monthly tier is
        // handed on hour by hour to Saturday 1 May 23:00, whose tick never reaches the resource.
        let mut due = record(Zone::utc(), "2027-05-01T23:00:00Z", PointState::Due, false);
        due.tiers = TierSet([(Tier::Monthly, at("2028-05-01T23:00:00Z"))].into());
        let sunday = slot("2027-05-02T00:00:00Z");
        assert_eq!(
            owed_names(&owed(&p, Zone::utc(), sunday, &[due])),
            [
                (Tier::Weekly, slot("2027-05-01T23:00:00Z"), None),
                (
                    Tier::Monthly,
                    slot("2027-04-30T23:00:00Z"),
                    Some(slot("2027-05-01T22:00:00Z"))
                ),
            ]
        );
    }

    #[test]
    fn a_reserved_slot_never_claimed_is_owed_without_looking_the_slot_before_up() {
        let p = Policy::standard();
        let saturday = slot("2026-11-28T23:00:00Z");
        let before = record(Zone::utc(), "2026-11-28T22:00:00Z", PointState::Available, true);
        let reservation = reserved(&p, Zone::utc(), &before).expect("a weekly slot next");
        assert_eq!(
            (reservation.slot, reservation.state, reservation.tiers.names()),
            (saturday, PointState::Due, vec!["weekly"])
        );
        assert_eq!(
            reservation.tiers.expires_at(),
            Some(at("2026-12-28T23:00:00Z")),
            "the slot's own retention"
        );
        // Its own tick reads it with its slot's records: nothing owed, the claim replaces it.
        assert!(owed(&p, Zone::utc(), saturday, std::slice::from_ref(&reservation)).is_empty());
        // Its own tick and the next never reached the resource: the tier is owed, and no
        // point of the slot before is looked up (it cannot serve a later slot).
        assert_eq!(
            owed_names(&owed(&p, Zone::utc(), saturday.next().next(), &[reservation])),
            [(Tier::Weekly, saturday, None)]
        );
        let hourly = record(Zone::utc(), "2026-11-28T21:00:00Z", PointState::Available, true);
        assert_eq!(reserved(&p, Zone::utc(), &hourly), None, "an hourly slot next");
    }

    #[test]
    fn a_point_the_service_no_longer_holds_is_owed_without_a_look_up() {
        let p = Policy::standard();
        let w = "2026-11-28T23:00:00Z";
        for state in [PointState::Missing, PointState::Deleted] {
            let gone = record(Zone::utc(), w, state, true);
            assert_eq!(
                owed_names(&owed(&p, Zone::utc(), slot(w).next(), &[gone])),
                [(Tier::Weekly, slot(w), None)],
                "{state:?}"
            );
        }
    }

    #[test]
    fn a_late_point_serves_the_slot_it_was_taken_for() {
        let p = Policy::standard();
        // Sunday 05:00 UTC in New York: an hour after Saturday's 23:00 EST.
        let late = slot("2026-11-29T05:00:00Z");
        assert_eq!(
            served_slot(&p, ny(), Tier::Weekly, late),
            Some(slot("2026-11-29T04:00:00Z"))
        );
        assert_eq!(
            served_slot(&p, ny(), Tier::Weekly, slot("2026-11-29T04:00:00Z")),
            Some(slot("2026-11-29T04:00:00Z")),
            "on time"
        );
    }

    #[test]
    fn a_policy_without_the_tier_owes_none_of_it() {
        let mut p = Policy::standard();
        p.weekly = None;
        let next = slot("2026-11-29T00:00:00Z");
        assert!(!reads_slot_before(&p, Zone::utc(), next));
        assert!(owed(&p, Zone::utc(), next, &[]).is_empty());
    }
}
