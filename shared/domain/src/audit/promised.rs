//! The slots a tier promises: every slot of the tier whose point the policy still keeps at
//! `now`, from the resource's first point on, less the last [`GRACE`] (a point is made in
//! the minutes after its slot, and an RDS snapshot can take an hour to become available).

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};

use crate::policy::{Policy, Tier};
use crate::schedule::{monthly_slot, weekly_slot, Slot};
use crate::zone::Zone;

/// How long after its slot a point may still be on its way without counting as missing.
pub const GRACE: TimeDelta = TimeDelta::hours(2);

/// The slots of `tier` under `policy` in `tz` that are kept at `now` (`now` before the
/// tier's expiry of the slot), no earlier than `since` (the resource's first point) and no
/// later than `now - GRACE`, in order. Empty when the policy has no such tier.
pub fn promised_slots(policy: &Policy, tz: Zone, tier: Tier, since: Slot, now: DateTime<Utc>) -> Vec<Slot> {
    let Some(retention) = policy.retention(tier) else {
        return Vec::new();
    };
    let latest = now - GRACE;
    let earliest = now - TimeDelta::hours(retention.max_hours());
    let candidates: Vec<Slot> = match tier {
        Tier::Hourly => {
            let mut slots = Vec::new();
            let mut slot = Slot::at_or_after(earliest);
            while slot.start() <= latest {
                slots.push(slot);
                slot = slot.next();
            }
            slots
        }
        Tier::Weekly => {
            let w = policy.weekly.expect("a weekly retention means a weekly tier");
            local_dates(tz, earliest, now)
                .filter(|d| d.weekday() == w.weekday)
                .map(|d| weekly_slot(&w, tz, d))
                .collect()
        }
        Tier::Monthly => {
            let m = policy.monthly.expect("a monthly retention means a monthly tier");
            local_months(tz, earliest, now)
                .map(|(y, mo)| monthly_slot(&m, tz, y, mo))
                .collect()
        }
    };
    candidates
        .into_iter()
        .filter(|s| *s >= since && s.start() <= latest && now < retention.expiry(s.start()))
        .collect()
}

/// The local dates in `tz` from a day before `from` to `to`.
fn local_dates(tz: Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = NaiveDate> {
    let first = tz.local(from).date() - TimeDelta::days(1);
    let last = tz.local(to).date();
    first.iter_days().take_while(move |d| *d <= last)
}

/// The local (year, month) pairs in `tz` from the month before `from` to `to`'s.
fn local_months(tz: Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = (i32, u32)> {
    let first = tz.local(from).date().with_day(1).expect("day 1 exists") - Months::new(1);
    let last = tz.local(to).date();
    std::iter::successors(Some(first), |d| d.checked_add_months(Months::new(1)))
        .take_while(move |d| (d.year(), d.month()) <= (last.year(), last.month()))
        .map(|d| (d.year(), d.month()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::tiers_of;

    fn at(t: &str) -> DateTime<Utc> {
        t.parse().unwrap()
    }

    fn slot(t: &str) -> Slot {
        Slot::containing(at(t))
    }

    /// Every slot of the last year that `tiers_of` says serves `tier` and is still kept:
    /// the definition, slot by slot, against which the per-tier shortcut is checked.
    fn by_brute_force(policy: &Policy, tz: Zone, tier: Tier, since: Slot, now: DateTime<Utc>) -> Vec<Slot> {
        let mut slots = Vec::new();
        let mut s = Slot::containing(now - TimeDelta::days(400));
        while s.start() <= now - GRACE {
            let tiers = tiers_of(policy, tz, s);
            if s >= since && tiers.0.get(&tier).is_some_and(|until| now < *until) {
                slots.push(s);
            }
            s = s.next();
        }
        slots
    }

    #[test]
    fn the_standard_policy_promises_72_hours_a_month_of_saturdays_and_a_year_of_month_ends() {
        let policy = Policy::standard();
        let now = at("2026-12-03T06:30:00Z");
        let since = slot("2025-01-01T00:00:00Z");
        let hourly = promised_slots(&policy, Zone::utc(), Tier::Hourly, since, now);
        assert_eq!(hourly.len(), 70, "72 hours less the two of grace");
        assert_eq!(hourly.last(), Some(&slot("2026-12-03T04:00:00Z")));
        let weekly = promised_slots(&policy, Zone::utc(), Tier::Weekly, since, now);
        assert_eq!(
            weekly,
            ["2026-11-07", "2026-11-14", "2026-11-21", "2026-11-28"].map(|d| slot(&format!("{d}T23:00:00Z")))
        );
        let monthly = promised_slots(&policy, Zone::utc(), Tier::Monthly, since, now);
        assert_eq!(monthly.len(), 12);
        assert_eq!(monthly[0], slot("2025-12-31T23:00:00Z"));
        assert_eq!(monthly[11], slot("2026-11-30T23:00:00Z"));
    }

    #[test]
    fn nothing_is_promised_before_the_first_point() {
        let now = at("2026-12-03T06:30:00Z");
        let since = slot("2026-12-02T00:00:00Z");
        let policy = Policy::standard();
        assert_eq!(
            promised_slots(&policy, Zone::utc(), Tier::Hourly, since, now).len(),
            29
        );
        assert!(promised_slots(&policy, Zone::utc(), Tier::Weekly, since, now).is_empty());
        assert!(promised_slots(&policy, Zone::utc(), Tier::Monthly, since, now).is_empty());
    }

    #[test]
    fn the_shortcut_agrees_with_the_schedule_slot_by_slot_in_zones_with_dst() {
        let policy = Policy::standard();
        let since = slot("2025-06-01T00:00:00Z");
        for zone in [
            "UTC",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kathmandu",
            "Pacific/Kiritimati",
        ] {
            let tz = Zone::named(zone).unwrap();
            for now in [
                "2026-11-01T07:30:00Z",
                "2026-03-29T01:10:00Z",
                "2026-12-31T23:59:00Z",
                "2027-01-01T01:00:00Z",
            ] {
                let now = at(now);
                for tier in [Tier::Hourly, Tier::Weekly, Tier::Monthly] {
                    assert_eq!(
                        promised_slots(&policy, tz, tier, since, now),
                        by_brute_force(&policy, tz, tier, since, now),
                        "{zone} {now} {tier:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_policy_without_a_tier_promises_none_of_it() {
        let mut policy = Policy::standard();
        policy.weekly = None;
        let now = at("2026-12-03T06:30:00Z");
        assert!(promised_slots(&policy, Zone::utc(), Tier::Weekly, Slot::MIN, now).is_empty());
    }
}
