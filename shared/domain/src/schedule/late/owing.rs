//! The owing index: how a tick finds what earlier ticks left owed when the tick meant to take
//! it did not (it never reached the resource, its shard failed, or a hand-on's write failed).
//!
//! - A record may owe a weekly or monthly tier while no point is known to serve it: a `due`
//!   record, and the claim of a point carrying such a tier until the service's answer is
//!   recorded on it ([`may_owe`]). The catalog keeps these in a sparse index. A record leaves
//!   it when the service's answer is recorded, when it is marked deleted, or when a later tick
//!   discharges it: that tick's own record now carries what it owed, or nothing is owed any
//!   more. A claim the service turned out not to hold (marked missing) stays in the index: what
//!   it carried is still owed.
//! - Each tick reads the index once, for the whole fleet, over the earlier slots whose weekly
//!   or monthly period may still be open ([`window`]). Only records that may owe are there, so
//!   the read costs what is owed, not a read per resource.
//! - A record whose discharge was lost stays in the index after a later point took what it
//!   owed. Before a tier it owes is taken, the resource's present points are checked
//!   ([`drop_served`]), so that tier is not taken twice.

use chrono::TimeDelta;

use super::{served_slot, Debt, LONG};
use crate::catalog::{PointState, RecoveryPoint};
use crate::policy::{Policy, Tier};
use crate::schedule::Slot;
use crate::zone::Zone;

/// The longest a weekly or monthly tier's period can be: a month of 31 days, and the
/// hour a change of summer time may move a local slot by, with room to spare.
pub const LONGEST_PERIOD: TimeDelta = TimeDelta::days(32);

/// Whether the catalog puts `record`, as written, in the owing index: a `due` record, or a
/// claim carrying a weekly or monthly tier without the service's answer.
pub fn may_owe(record: &RecoveryPoint) -> bool {
    let long = LONG.into_iter().any(|t| record.tiers.contains(t));
    let unanswered = record.state.is_present() && record.service_id.is_none();
    long && (record.state == PointState::Due || unanswered)
}

/// The first and the last slot whose owing records the tick of `slot` reads: every earlier
/// slot whose weekly or monthly period may still be open at `slot`. Its own slot's record is
/// read with the slot's records already.
pub fn window(slot: Slot) -> (Slot, Slot) {
    (Slot::containing(slot.start() - LONGEST_PERIOD), slot.prev())
}

/// Drops from `debt` (the point of `slot`'s) the tiers an earlier point already serves:
/// one of `present` (the resource's present records) whose service's answer is recorded and
/// which carries the tier for the same missed slot. Answers the tiers dropped.
pub fn drop_served(
    policy: &Policy,
    tz: Zone,
    slot: Slot,
    debt: &mut Debt,
    present: &[RecoveryPoint],
) -> Vec<Tier> {
    let serves = |tier: Tier, missed: Slot| {
        present.iter().any(|p| {
            p.slot < slot
                && p.state.is_present()
                && p.service_id.is_some()
                && p.tiers.contains(tier)
                && served_slot(policy, tz, tier, p.slot) == Some(missed)
        })
    };
    let served: Vec<Tier> = debt
        .iter()
        .filter(|(tier, owed)| serves(**tier, owed.missed))
        .map(|(tier, _)| *tier)
        .collect();
    for tier in &served {
        debt.remove(tier);
    }
    served
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::{DateTime, Utc};

    use super::super::{handed_on, late_tiers, owed, Owed};
    use super::*;
    use crate::catalog::ResourceKey;
    use crate::schedule::{tiers_of, TierSet};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn slot(s: &str) -> Slot {
        Slot::containing(at(s))
    }

    const SATURDAY: &str = "2026-11-28T23:00:00Z";

    /// The creator's claim of `s` with the slot's own tiers, answered or not.
    fn claim(s: &str, answered: bool) -> RecoveryPoint {
        let slot = slot(s);
        RecoveryPoint {
            resource: ResourceKey::rds("db"),
            instance_id: "acme".into(),
            slot,
            tiers: tiers_of(&Policy::standard(), Zone::utc(), slot),
            service_id: answered.then(|| format!("lifeboat-db-{}", slot.label())),
            state: PointState::Creating,
            holds: Default::default(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: slot.start(),
        }
    }

    fn owed_at(s: &str, records: &[RecoveryPoint]) -> Vec<(Tier, Slot, BTreeSet<Slot>)> {
        owed(&Policy::standard(), Zone::utc(), slot(s), records)
            .into_iter()
            .map(|(t, o)| (t, o.missed, o.unless_held))
            .collect()
    }

    #[test]
    fn only_dues_and_unanswered_weekly_or_monthly_claims_may_owe() {
        let saturday = claim(SATURDAY, false);
        assert!(may_owe(&saturday));
        let due = handed_on(&Policy::standard(), Zone::utc(), &saturday, "refused").unwrap();
        assert!(may_owe(&due));
        assert!(!may_owe(&claim(SATURDAY, true)), "answered");
        assert!(!may_owe(&claim("2026-11-28T22:00:00Z", false)), "hourly only");
        let missing = RecoveryPoint {
            state: PointState::Missing,
            ..saturday
        };
        assert!(
            !may_owe(&missing),
            "never written so: a claim becomes missing by an update"
        );
    }

    #[test]
    fn a_tick_reads_the_owing_records_of_the_longest_period_before_it() {
        assert_eq!(
            window(slot("2026-12-31T00:00:00Z")),
            (slot("2026-11-29T00:00:00Z"), slot("2026-12-30T23:00:00Z"))
        );
        // Every period of the standard policy in New York, across the change of time, fits.
        let p = Policy::standard();
        let ny = Zone::named("America/New_York").unwrap();
        let mut t = slot("2026-01-01T00:00:00Z");
        while t < slot("2027-01-01T00:00:00Z") {
            for tier in LONG {
                let missed = super::super::latest_slot(&p, ny, tier, t).unwrap();
                assert!(missed >= window(t).0, "{tier} of {missed} at {t}");
            }
            t = Slot::containing(t.start() + TimeDelta::hours(7));
        }
    }

    #[test]
    fn a_due_left_by_a_tick_that_never_came_is_owed_by_a_later_one() {
        // Saturday refused, handed on to Sunday 00:00, whose tick never reached the resource.
        let saturday = claim(SATURDAY, false);
        let due = handed_on(&Policy::standard(), Zone::utc(), &saturday, "refused").unwrap();
        assert_eq!(
            owed_at("2026-11-29T01:00:00Z", std::slice::from_ref(&due)),
            [(Tier::Weekly, slot(SATURDAY), [slot(SATURDAY)].into())],
            "the refused attempt is looked up first"
        );
        // The refused claim read too, a day later: one tier, one look-up.
        assert_eq!(
            owed_at("2026-11-30T01:00:00Z", &[saturday, due.clone()]),
            [(Tier::Weekly, slot(SATURDAY), [slot(SATURDAY)].into())]
        );
        // On the next Saturday the week is over: nothing is owed, the slot stays missing.
        assert!(owed_at("2026-12-05T23:00:00Z", &[due]).is_empty());
    }

    #[test]
    fn a_claim_whose_hand_on_was_lost_is_owed_after_its_point_is_looked_up() {
        // Sunday 03:00 took the Saturday's weekly tier late, was refused, and its hand-on to
        // 04:00 was never written.
        let p = Policy::standard();
        let mut late = claim("2026-11-29T03:00:00Z", false);
        late.tiers.0.insert(Tier::Weekly, at("2026-12-29T03:00:00Z"));
        assert_eq!(
            owed_at("2026-11-29T05:00:00Z", std::slice::from_ref(&late)),
            [(
                Tier::Weekly,
                slot(SATURDAY),
                [slot("2026-11-29T03:00:00Z")].into()
            )]
        );
        // Marked missing by the pruner (the service never held it): owed with no look-up.
        let missing = RecoveryPoint {
            state: PointState::Missing,
            ..late
        };
        let debt = owed(&p, Zone::utc(), slot("2026-11-29T05:00:00Z"), &[missing]);
        assert_eq!(
            debt[&Tier::Weekly],
            Owed {
                missed: slot(SATURDAY),
                unless_held: BTreeSet::new()
            }
        );
        assert_eq!(
            late_tiers(&p, &debt, slot("2026-11-29T05:00:00Z")).expires_at(),
            Some(at("2026-12-29T05:00:00Z")),
            "kept from the late point's own time"
        );
    }

    #[test]
    fn a_tier_an_answered_point_took_late_is_not_owed_again() {
        let p = Policy::standard();
        let tick = slot("2026-11-29T06:00:00Z");
        let due = handed_on(&p, Zone::utc(), &claim(SATURDAY, false), "refused").unwrap();
        let mut debt = owed(&p, Zone::utc(), tick, &[due]);
        assert!(debt.contains_key(&Tier::Weekly));
        // Unanswered, or last week's weekly: no proof the Saturday is served.
        let mut late = claim("2026-11-29T02:00:00Z", false);
        late.tiers.0.insert(Tier::Weekly, at("2026-12-29T02:00:00Z"));
        let last_week = claim("2026-11-21T23:00:00Z", true);
        assert!(drop_served(&p, Zone::utc(), tick, &mut debt, &[late.clone(), last_week]).is_empty());
        late.service_id = Some("lifeboat-db-20261129t0200z".into());
        assert_eq!(
            drop_served(&p, Zone::utc(), tick, &mut debt, &[late]),
            [Tier::Weekly]
        );
        assert!(debt.is_empty());
    }

    #[test]
    fn a_month_end_due_left_on_a_saturday_owes_both_tiers_until_each_period_ends() {
        let p = Policy::standard();
        // Friday 30 April 2027 23:00 refused: the monthly tier handed on to the hours after;
        // the due of Saturday 1 May 23:00 (a weekly slot) is never claimed.
        let mut due = claim("2027-05-01T23:00:00Z", false);
        due.state = PointState::Due;
        due.tiers = TierSet([(Tier::Monthly, at("2028-05-01T23:00:00Z"))].into());
        let records = std::slice::from_ref(&due);
        let tiers = |s: &str| {
            owed(&p, Zone::utc(), slot(s), records)
                .into_keys()
                .collect::<Vec<_>>()
        };
        assert_eq!(tiers("2027-05-02T05:00:00Z"), [Tier::Weekly, Tier::Monthly]);
        assert_eq!(tiers("2027-05-08T23:00:00Z"), [Tier::Monthly], "the week is over");
        assert_eq!(tiers("2027-05-31T22:00:00Z"), [Tier::Monthly]);
        assert!(tiers("2027-05-31T23:00:00Z").is_empty(), "the month is over");
    }
}
