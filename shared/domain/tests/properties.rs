//! Property tests of the schedule and retention guarantees, over random policies, time zones
//! and timelines (DST transitions, month ends of 28 to 31 days, leap years).

use std::collections::{BTreeMap, BTreeSet};

use chrono::TimeZone;
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::policy::{HourlyTier, MonthDay, MonthlyTier, PointInTime, Policy, Retention, Tier, WeeklyTier};
use lifeboat::retention::{plan, KeepReason, Verdict};
use lifeboat::schedule::late::{
    handed_on, late_tiers, owed, owing, reads_slot_before, reserved, served_slot, LONG,
};
use lifeboat::schedule::{
    monthly_date, monthly_date_of, resolve_local, tiers_of, weekly_date_of, weekly_slot, Slot,
};
use lifeboat::zone::Zone;
use proptest::prelude::*;

/// Zones with DST (both hemispheres, a 30-minute shift), fractional offsets, and none.
const ZONES: &[&str] = &[
    "America/New_York",
    "Australia/Lord_Howe",
    "Europe/London",
    "America/St_Johns",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "America/Santiago",
    "UTC",
];

fn zone() -> impl Strategy<Value = Zone> {
    prop::sample::select(ZONES).prop_map(|name| Zone::named(name).unwrap())
}

fn weekday() -> impl Strategy<Value = Weekday> {
    (0u8..7).prop_map(|d| Weekday::try_from(d).unwrap())
}

fn month_day() -> impl Strategy<Value = MonthDay> {
    prop_oneof![Just(MonthDay::Last), (1u8..=28).prop_map(MonthDay::Day)]
}

fn date_between(from_year: i32, to_year: i32) -> impl Strategy<Value = NaiveDate> {
    let first = NaiveDate::from_ymd_opt(from_year, 1, 1).unwrap();
    let days = (NaiveDate::from_ymd_opt(to_year, 12, 31).unwrap() - first).num_days();
    (0..days).prop_map(move |d| first + TimeDelta::days(d))
}

fn retention(max_hours: u32, max_days: u32, max_months: u32) -> impl Strategy<Value = Retention> {
    prop_oneof![
        (1..=max_hours).prop_map(Retention::Hours),
        (1..=max_days).prop_map(Retention::Days),
        (1..=max_months).prop_map(Retention::Months),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop::option::of(retention(200, 8, 1)),
        prop::option::of((weekday(), 0u8..24, retention(400, 40, 2))),
        prop::option::of((month_day(), 0u8..24, retention(2000, 90, 3))),
    )
        .prop_filter("a policy has a tier", |(h, w, m)| {
            h.is_some() || w.is_some() || m.is_some()
        })
        .prop_map(|(h, w, m)| Policy {
            name: "random".into(),
            point_in_time: Some(PointInTime {
                window_days: 3,
                correct_drift: true,
            }),
            hourly: h.map(|retention| HourlyTier {
                retention,
                source: Default::default(),
            }),
            weekly: w.map(|(weekday, hour, retention)| WeeklyTier {
                weekday,
                hour,
                retention,
            }),
            monthly: m.map(|(day, hour, retention)| MonthlyTier { day, hour, retention }),
            drill: None,
        })
}

fn utc_midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap().and_utc()
}

/// Every hourly tick from `from` (inclusive) to `to` (exclusive).
fn ticks(from: DateTime<Utc>, to: DateTime<Utc>) -> impl Iterator<Item = Slot> {
    let mut slot = Slot::at_or_after(from);
    std::iter::from_fn(move || {
        let this = slot;
        slot = slot.next();
        (this.start() < to).then_some(this)
    })
}

/// The local dates of a week-day strictly inside the window, with a day's margin each side.
fn dates_inside(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    from.iter_days()
        .skip(2)
        .take_while(move |d| *d < to - TimeDelta::days(2))
}

/// The DST transition Sundays of the two zones the issue names, for a year.
fn transition_dates(tz: Zone, year: i32) -> Vec<NaiveDate> {
    let nth_sunday = |month: u32, n: u32| {
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
        let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
        first + TimeDelta::days(i64::from(to_sunday + 7 * (n - 1)))
    };
    if tz.name() == "America/New_York" {
        vec![nth_sunday(3, 2), nth_sunday(11, 1)]
    } else {
        vec![nth_sunday(4, 1), nth_sunday(10, 1)]
    }
}

fn check_weekly(tz: Zone, tier: WeeklyTier, start: NaiveDate, days: i64) -> Result<(), TestCaseError> {
    let from = utc_midnight(start);
    let to = from + TimeDelta::days(days);
    let mut found: BTreeMap<NaiveDate, Vec<Slot>> = BTreeMap::new();
    for slot in ticks(from - TimeDelta::days(1), to + TimeDelta::days(1)) {
        if let Some(date) = weekly_date_of(&tier, tz, slot) {
            prop_assert_eq!(date.weekday(), tier.weekday);
            found.entry(date).or_default().push(slot);
        }
    }
    for date in dates_inside(start, start + TimeDelta::days(days)).filter(|d| d.weekday() == tier.weekday) {
        let slots = found.get(&date).cloned().unwrap_or_default();
        prop_assert_eq!(slots.len(), 1, "{} in {}: weekly slots {:?}", date, tz, slots);
        // The slot is the first tick at or after the local hour (or the end of its gap).
        let target = resolve_local(tz, date.and_hms_opt(u32::from(tier.hour), 0, 0).unwrap());
        prop_assert!(slots[0].start() >= target && slots[0].start() - target < TimeDelta::hours(1));
        prop_assert_eq!(slots[0], weekly_slot(&tier, tz, date));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn exactly_one_weekly_point_per_week_day(
        tz in zone(), weekday in weekday(), hour in 0u8..24, start in date_between(2019, 2031)
    ) {
        let tier = WeeklyTier { weekday, hour, retention: Retention::Months(1) };
        check_weekly(tz, tier, start, 60)?;
    }

    #[test]
    fn exactly_one_weekly_point_across_dst_transitions(
        lord_howe in any::<bool>(), year in 2019i32..2032, which in 0usize..2, hour in 0u8..5, shift in -1i64..=1
    ) {
        let tz = Zone::named(if lord_howe { "Australia/Lord_Howe" } else { "America/New_York" }).unwrap();
        let transition = transition_dates(tz, year)[which];
        // The transition day itself, the day before, or after: all at the small hours.
        let weekday = (transition + TimeDelta::days(shift)).weekday();
        let tier = WeeklyTier { weekday, hour, retention: Retention::Months(1) };
        check_weekly(tz, tier, transition - TimeDelta::days(10), 20)?;
    }

    #[test]
    fn exactly_one_monthly_point_per_month(
        tz in zone(), day in month_day(), hour in 0u8..24, start in date_between(2019, 2030)
    ) {
        let tier = MonthlyTier { day, hour, retention: Retention::Months(12) };
        let from = utc_midnight(start);
        let to = from + TimeDelta::days(400);
        let mut found: BTreeMap<(i32, u32), Vec<(NaiveDate, Slot)>> = BTreeMap::new();
        for slot in ticks(from, to) {
            if let Some(date) = monthly_date_of(&tier, tz, slot) {
                prop_assert_eq!(date, monthly_date(day, date.year(), date.month()));
                found.entry((date.year(), date.month())).or_default().push((date, slot));
            }
        }
        // Every month whose policy day lies well inside the window has exactly one point.
        let mut month = NaiveDate::from_ymd_opt(start.year(), start.month(), 1).unwrap();
        while month < to.date_naive() {
            let date = monthly_date(day, month.year(), month.month());
            if date > start + TimeDelta::days(1) && date < to.date_naive() - TimeDelta::days(1) {
                let got = found.get(&(month.year(), month.month())).cloned().unwrap_or_default();
                prop_assert_eq!(got.len(), 1, "{}-{} in {}: {:?}", month.year(), month.month(), tz, got);
                if day == MonthDay::Last {
                    prop_assert_eq!((date + TimeDelta::days(1)).day(), 1, "the last day of its month");
                }
            }
            month = month.checked_add_months(chrono::Months::new(1)).unwrap();
        }
    }

    #[test]
    fn retention_never_breaks_its_guarantees(
        slots in prop::collection::vec((0usize..4, 0i64..24 * 500, 0u8..10), 1..120),
        policy in policy(),
        tz in zone(),
        now_offset in 0i64..24 * 600,
        max_deletions in 0usize..40,
    ) {
        let start = utc_midnight(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
        let mut points: BTreeMap<(usize, Slot), RecoveryPoint> = BTreeMap::new();
        for (resource, hour, kind) in slots {
            let slot = Slot::containing(start + TimeDelta::hours(hour));
            let key = ResourceKey::rds(format!("db{resource}"));
            let tiers = tiers_of(&policy, tz, slot);
            if tiers.is_empty() { continue; }
            let state = match kind { 0 => PointState::Creating, 1 => PointState::Deleted, _ => PointState::Available };
            let holds: BTreeSet<String> = if kind == 9 { ["req".to_string()].into() } else { BTreeSet::new() };
            points.insert((resource, slot), RecoveryPoint {
                service_id: Some(key.point_name(slot)), resource: key, instance_id: "i".into(), slot, tiers,
                state, holds, policy: policy.name.clone(), timezone: tz.name().into(), note: None, updated_at: slot.start(),
            });
        }
        let points: Vec<RecoveryPoint> = points.into_values().collect();
        let now = start + TimeDelta::hours(now_offset);
        let decisions = plan(&points, now, max_deletions);
        let present: Vec<&RecoveryPoint> = points.iter().filter(|p| p.state.is_present()).collect();
        prop_assert_eq!(decisions.len(), present.len());
        let deletes = decisions.iter().filter(|d| d.is_delete()).count();
        prop_assert!(deletes <= max_deletions);
        let mut deferred_expiry = None;
        let mut deleted_expiry = None;
        for (d, p) in decisions.iter().zip(&present) {
            let newest = present.iter().filter(|q| q.resource == p.resource).map(|q| q.slot).max().unwrap();
            let newest_available = present.iter().filter(|q| q.resource == p.resource && q.state == PointState::Available).map(|q| q.slot).max();
            let expired = p.tiers.0.values().all(|until| now >= *until);
            let eligible = expired && p.slot != newest && Some(p.slot) != newest_available && p.holds.is_empty() && p.state == PointState::Available;
            match &d.verdict {
                Verdict::Delete { .. } => {
                    prop_assert!(eligible, "deleted an ineligible point {:?}", p);
                    deleted_expiry = deleted_expiry.max(Some(p.expires_at()));
                }
                Verdict::Keep(KeepReason::DeletionBoundReached { .. }) => {
                    prop_assert!(eligible);
                    prop_assert_eq!(deletes, max_deletions, "deferred although the bound was not reached");
                    deferred_expiry = Some(deferred_expiry.map_or(p.expires_at(), |e: DateTime<Utc>| e.min(p.expires_at())));
                }
                Verdict::Keep(_) => prop_assert!(!eligible, "kept an eligible point {:?}: {:?}", p, d.verdict),
            }
        }
        if let (Some(deleted), Some(deferred)) = (deleted_expiry, deferred_expiry) {
            prop_assert!(deleted <= deferred, "the oldest expiries go first");
        }
    }

    #[test]
    fn hourly_creation_and_pruning_keep_exactly_the_policy_points(
        policy in policy(), tz in zone(), start in date_between(2019, 2030), days in 20i64..120
    ) {
        // Run every tick: create the slot's point, prune at :30 without a bound.
        let from = utc_midnight(start);
        let end = from + TimeDelta::days(days);
        let key = ResourceKey::dynamodb("t");
        let mut points: Vec<RecoveryPoint> = Vec::new();
        let mut last_prune = from;
        for slot in ticks(from, end) {
            let tiers = tiers_of(&policy, tz, slot);
            if !tiers.is_empty() {
                points.push(RecoveryPoint {
                    resource: key.clone(), instance_id: "i".into(), slot, tiers, service_id: None,
                    state: PointState::Available, holds: BTreeSet::new(), policy: policy.name.clone(),
                    timezone: tz.name().into(), note: None, updated_at: slot.start(),
                });
            }
            last_prune = slot.start() + TimeDelta::minutes(30);
            let decisions = plan(&points, last_prune, usize::MAX);
            let doomed: BTreeSet<Slot> = decisions.iter().filter(|d| d.is_delete()).map(|d| d.slot).collect();
            points.retain(|p| !doomed.contains(&p.slot));
        }
        // Expected: every slot of the window with a tier still live at the last prune.
        let expected: BTreeSet<Slot> = ticks(from, end)
            .filter(|s| tiers_of(&policy, tz, *s).live_at(last_prune).next().is_some())
            .collect();
        let kept: BTreeSet<Slot> = points.iter().map(|p| p.slot).collect();
        let newest = points.iter().map(|p| p.slot).max();
        let extra: Vec<_> = kept.difference(&expected).filter(|s| Some(**s) != newest).collect();
        let missing: Vec<_> = expected.difference(&kept).collect();
        prop_assert!(extra.is_empty() && missing.is_empty(), "extra {:?} missing {:?}", extra, missing);
        // And per tier: the live points of a tier are exactly its slots within retention.
        for tier in Tier::ALL {
            let live = points.iter().filter(|p| p.tiers.live_at(last_prune).any(|(t, _)| t == tier)).count();
            let wanted = ticks(from, end).filter(|s| tiers_of(&policy, tz, *s).live_at(last_prune).any(|(t, _)| t == tier)).count();
            prop_assert_eq!(live, wanted, "tier {}", tier);
        }
    }
}

/// What happens to one resource at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The point is taken.
    Taken,
    /// The point is taken, but discharging the owing records the tick read fails.
    TakenDischargeLost,
    /// The service refuses the point; its weekly and monthly tiers are handed on.
    Refused,
    /// Refused, and the write of the hand-on fails too.
    RefusedHandOnLost,
    /// The tick never reaches the resource (a failed discovery or shard).
    Unreached,
}

impl Outcome {
    fn takes(self) -> bool {
        matches!(self, Outcome::Taken | Outcome::TakenDischargeLost)
    }
}

/// The catalog of one resource as the creator keeps it: its records by slot, the slots the
/// owing index holds (set by a write of a record that may owe, cleared by the service's
/// answer and by a discharge), and the slots whose points the service holds.
#[derive(Default)]
struct Kept {
    records: BTreeMap<Slot, RecoveryPoint>,
    owing: BTreeSet<Slot>,
    held: BTreeSet<Slot>,
}

impl Kept {
    fn write(&mut self, record: RecoveryPoint) {
        if owing::may_owe(&record) {
            self.owing.insert(record.slot);
        } else {
            self.owing.remove(&record.slot);
        }
        self.records.insert(record.slot, record);
    }
}

/// One resource's ticks from `from` to `end` as the creator takes them, each with its
/// `outcome`: what the catalog holds and the service has.
fn take_points(
    policy: &Policy,
    tz: Zone,
    from: DateTime<Utc>,
    end: DateTime<Utc>,
    outcome: impl Fn(Slot) -> Outcome,
) -> Kept {
    let key = ResourceKey::rds("db");
    let mut kept = Kept::default();
    for slot in ticks(from, end) {
        let outcome = outcome(slot);
        if outcome == Outcome::Unreached {
            continue;
        }
        // A tick that reaches the resource reserves its next slot when that is a weekly or
        // monthly one, unless the slot has a record; a hand-on of this tick replaces it.
        let template = RecoveryPoint {
            resource: key.clone(),
            instance_id: "i".into(),
            slot,
            tiers: Default::default(),
            service_id: None,
            state: PointState::Creating,
            holds: BTreeSet::new(),
            policy: policy.name.clone(),
            timezone: tz.name().into(),
            note: None,
            updated_at: slot.start(),
        };
        if let Some(reservation) = reserved(policy, tz, &template) {
            if !kept.records.contains_key(&reservation.slot) {
                kept.write(reservation);
            }
        }
        // What the tick reads: its slot's record, the slot before's after a long slot, and
        // the owing index's records of earlier slots.
        let mut read: Vec<RecoveryPoint> = kept.records.get(&slot).cloned().into_iter().collect();
        if reads_slot_before(policy, tz, slot) {
            read.extend(kept.records.get(&slot.prev()).cloned());
        }
        let (first, last) = owing::window(slot);
        let owing_read: Vec<Slot> = kept.owing.range(first..=last).copied().collect();
        read.extend(owing_read.iter().map(|s| kept.records[s].clone()));
        let mut debt = owed(policy, tz, slot, &read);
        if !owing_read.is_empty() {
            let present: Vec<RecoveryPoint> = kept
                .records
                .values()
                .filter(|r| r.state.is_present())
                .cloned()
                .collect();
            owing::drop_served(policy, tz, slot, &mut debt, &present);
        }
        debt.retain(|_, o| o.unless_held.iter().all(|s| !kept.held.contains(s)));
        let discharges = outcome != Outcome::TakenDischargeLost;
        if debt.is_empty() && discharges {
            for s in &owing_read {
                kept.owing.remove(s);
            }
        }
        let mut tiers = tiers_of(policy, tz, slot);
        tiers.0.extend(late_tiers(policy, &debt, slot).0);
        if tiers.is_empty() {
            continue;
        }
        let claim = RecoveryPoint { tiers, ..template };
        kept.write(claim.clone());
        if discharges {
            for s in &owing_read {
                kept.owing.remove(s);
            }
        }
        if outcome.takes() {
            kept.held.insert(slot);
            let made = kept.records.get_mut(&slot).expect("claimed");
            made.state = PointState::Available;
            made.service_id = Some(key.point_name(slot));
            kept.owing.remove(&slot);
        } else if outcome == Outcome::Refused {
            if let Some(due) = handed_on(policy, tz, &claim, "refused") {
                kept.write(due);
            }
        }
    }
    kept
}

/// Every weekly and monthly slot from `from` to `end` with a whole period there: exactly the
/// points `expected` names serve it (given the slot and its period's end), each keeping the
/// tier from its own time, and no point serves a slot after its own.
fn check_long_tiers(
    policy: &Policy,
    tz: Zone,
    (from, end): (DateTime<Utc>, DateTime<Utc>),
    kept: &Kept,
    expected: impl Fn(Slot, Slot) -> Option<Slot>,
) -> Result<(), TestCaseError> {
    for tier in LONG {
        let Some(retention) = policy.retention(tier) else {
            continue;
        };
        let slots: Vec<Slot> = ticks(from, end)
            .filter(|s| tiers_of(policy, tz, *s).contains(tier))
            .collect();
        for period in slots.windows(2) {
            let (slot, next) = (period[0], period[1]);
            let serving: Vec<Slot> = kept
                .held
                .iter()
                .filter(|s| kept.records[*s].tiers.contains(tier))
                .filter(|s| served_slot(policy, tz, tier, **s) == Some(slot))
                .copied()
                .collect();
            prop_assert_eq!(
                serving.clone(),
                expected(slot, next).into_iter().collect::<Vec<_>>(),
                "{} {} in {}: served by {:?}",
                tier,
                slot,
                tz,
                serving
            );
            for s in &serving {
                let until = kept.records[s].tiers.0[&tier];
                prop_assert_eq!(until, retention.expiry(s.start()), "kept from its own time");
                prop_assert!(until >= retention.expiry(slot.start()));
            }
        }
    }
    for s in &kept.held {
        for tier in LONG.into_iter().filter(|t| kept.records[s].tiers.contains(*t)) {
            let served = served_slot(policy, tz, tier, *s).expect("a tier of the policy");
            prop_assert!(served <= *s, "{} at {} serves {}", tier, s, served);
        }
    }
    Ok(())
}

/// Runs of ticks (an hour to ten days) with one outcome each; the first run holding a tick
/// decides it, and a tick in none is taken.
fn outcome_of(from: DateTime<Utc>, runs: &[(i64, i64, Outcome)], s: Slot) -> Outcome {
    runs.iter()
        .find(|(at, len, _)| {
            let first = from + TimeDelta::hours(*at);
            s.start() >= first && s.start() < first + TimeDelta::hours(*len)
        })
        .map_or(Outcome::Taken, |(_, _, o)| *o)
}

/// Each chain's runs one after the other from its first hour, as [`outcome_of`] takes runs.
fn chained(chains: &[(i64, Vec<(i64, Outcome)>)]) -> Vec<(i64, i64, Outcome)> {
    let mut runs = Vec::new();
    for (first, chain) in chains {
        let mut at = *first;
        for (len, outcome) in chain {
            runs.push((at, *len, *outcome));
            at += len;
        }
    }
    runs
}

fn failing() -> impl Strategy<Value = Outcome> {
    prop::sample::select(vec![
        Outcome::TakenDischargeLost,
        Outcome::Refused,
        Outcome::RefusedHandOnLost,
        Outcome::Unreached,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Refusals at random (runs of an hour to ten days): every weekly and monthly slot whose
    /// period has a tick that is not refused has exactly one point serving it, taken at the
    /// first such tick; one without has none; a late tier is kept from the point's own time,
    /// never less than the policy keeps the missed slot's.
    #[test]
    fn a_missed_weekly_or_monthly_slot_is_taken_once_at_the_first_tick_that_can(
        policy in policy(), tz in zone(), start in date_between(2019, 2030), days in 30i64..75,
        runs in prop::collection::vec((0i64..24 * 75, 1i64..24 * 10), 0..6),
    ) {
        let from = utc_midnight(start);
        let end = from + TimeDelta::days(days);
        let runs: Vec<_> = runs.into_iter().map(|(at, len)| (at, len, Outcome::Refused)).collect();
        let outcome = |s: Slot| outcome_of(from, &runs, s);
        let kept = take_points(&policy, tz, from, end, outcome);
        check_long_tiers(&policy, tz, (from, end), &kept, |slot, next| {
            ticks(slot.start(), next.start()).find(|s| outcome(*s).takes())
        })?;
    }

    /// Any tick may fail in any way (refused, its hand-on lost, never reaching the resource,
    /// its discharges lost): what was handed on is still taken once, at the first tick of the
    /// period that takes a point. Only a slot whose tick before, own tick and tick after all
    /// never reached the resource has nothing reserved or handed on, and stays missing.
    /// Failures come in chains of runs one after the other (a refusal, then ticks that never
    /// reach the resource, then a lost hand-on...), so that one failure follows another
    /// within a period; and outages of one to three ticks around weekly or monthly slots
    /// (from the tick before to the tick after), so that a slot's own tick and the next both
    /// never reaching the resource is drawn in most cases.
    #[test]
    fn a_weekly_or_monthly_tier_handed_on_is_never_dropped_whatever_tick_fails(
        policy in policy(), tz in zone(), start in date_between(2019, 2030), days in 30i64..75,
        chains in prop::collection::vec(
            (0i64..24 * 75, prop::collection::vec((1i64..24 * 3, failing()), 1..6)),
            0..4,
        ),
        outages in prop::collection::vec((any::<prop::sample::Index>(), -1i64..=1, 1i64..=3), 1..4),
    ) {
        let from = utc_midnight(start);
        let end = from + TimeDelta::days(days);
        let long_slots: Vec<Slot> = ticks(from, end)
            .filter(|s| LONG.into_iter().any(|t| tiers_of(&policy, tz, *s).contains(t)))
            .collect();
        // Outages first: the first run holding a tick decides it.
        let mut runs: Vec<(i64, i64, Outcome)> = outages
            .iter()
            .filter(|_| !long_slots.is_empty())
            .map(|(index, offset, len)| {
                let at = (index.get(&long_slots).start() - from).num_hours() + offset;
                (at, *len, Outcome::Unreached)
            })
            .collect();
        runs.extend(chained(&chains));
        let outcome = |s: Slot| outcome_of(from, &runs, s);
        let kept = take_points(&policy, tz, from, end, outcome);
        check_long_tiers(&policy, tz, (from, end), &kept, |slot, next| {
            // A tick before the first is one that never ran.
            let never_reached = |s: Slot| s.start() < from || outcome(s) == Outcome::Unreached;
            if never_reached(slot.prev()) && never_reached(slot) && never_reached(slot.next()) {
                return None;
            }
            ticks(slot.start(), next.start()).find(|s| outcome(*s).takes())
        })?;
    }
}

#[test]
fn hourly_slots_never_collide_across_a_fall_back() {
    // New York repeats 01:00-02:00 local on 2026-11-01; UTC ticks stay distinct.
    let from: DateTime<Utc> = "2026-11-01T03:00:00Z".parse().unwrap();
    let labels: Vec<String> = ticks(from, from + TimeDelta::hours(6))
        .map(|s| s.label())
        .collect();
    let unique: BTreeSet<&String> = labels.iter().collect();
    assert_eq!(unique.len(), labels.len());
}

proptest! {
    /// `Zone` agrees with an independent library (chrono-tz) on the wall time of any instant,
    /// and on the instants of any wall time (none in a gap, two in an overlap).
    #[test]
    fn zones_agree_with_chrono_tz(name in prop::sample::select(ZONES), seconds in 1_500_000_000i64..2_000_000_000) {
        let zone = Zone::named(name).unwrap();
        let oracle: Tz = name.parse().unwrap();
        let instant = DateTime::from_timestamp(seconds, 0).unwrap();
        prop_assert_eq!(zone.local(instant), instant.with_timezone(&oracle).naive_local());
        // Wall times near the instant, on a 15-minute grid, so DST gaps and overlaps come up.
        let wall = zone.local(instant);
        for quarter in -8i64..=8 {
            let local = wall + TimeDelta::minutes(15 * quarter);
            let expected = oracle.from_local_datetime(&local).map(|t| t.with_timezone(&Utc));
            prop_assert_eq!(zone.instants(local), expected, "{} at {}", name, local);
        }
    }
}
