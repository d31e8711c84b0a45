//! Slots: which hourly tick a recovery point belongs to, and which tiers that tick serves.
//!
//! Ticks are UTC hours, so hourly slots never collide across DST changes. Weekly and monthly
//! points are defined in the resource's own time zone: the slot of a Saturday (or a month end)
//! is the first UTC tick at or after that day's local policy hour. When the hour does not exist
//! that day (a spring-forward gap) the first instant after the gap is used; when it exists twice
//! (fall-back) the earlier one. So every Saturday and every month has exactly one slot.
//!
//! [`late`]: a weekly or monthly slot whose point could not be taken is taken by a later tick
//! of the tier's period.

pub mod late;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Timelike, Utc,
};
use serde::{Deserialize, Serialize};

use crate::policy::{MonthDay, MonthlyTier, Policy, Tier, WeeklyTier};
use crate::zone::Zone;

/// One hourly tick, on the hour, in UTC. A resource has at most one recovery point per slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slot(DateTime<Utc>);

impl Slot {
    /// The earliest slot there is (a bound for ranges of slots).
    pub const MIN: Slot = Slot(DateTime::<Utc>::MIN_UTC);

    /// The slot of the tick that `t` belongs to: `t` truncated to its UTC hour.
    pub fn containing(t: DateTime<Utc>) -> Slot {
        let hour = t
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .expect("truncating to the hour is always valid in UTC");
        Slot(hour)
    }

    /// The first slot at or after `t`.
    pub fn at_or_after(t: DateTime<Utc>) -> Slot {
        let floor = Slot::containing(t);
        if floor.0 == t {
            floor
        } else {
            floor.next()
        }
    }

    pub fn start(self) -> DateTime<Utc> {
        self.0
    }

    pub fn next(self) -> Slot {
        Slot(self.0 + TimeDelta::hours(1))
    }

    pub fn prev(self) -> Slot {
        Slot(self.0 - TimeDelta::hours(1))
    }

    /// The slot's name inside snapshot identifiers: `20261128t0300z` (letters, digits only, so
    /// it is valid in RDS identifiers and DynamoDB backup names alike).
    pub fn label(self) -> String {
        self.0.format("%Y%m%dt%H00z").to_string()
    }

    pub fn parse_label(label: &str) -> Option<Slot> {
        let digits = label.strip_suffix("00z")?;
        let naive = NaiveDateTime::parse_from_str(&format!("{digits}00"), "%Y%m%dt%H%M").ok()?;
        Some(Slot(Utc.from_utc_datetime(&naive)))
    }
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:00:00Z"))
    }
}

impl From<Slot> for String {
    fn from(s: Slot) -> String {
        s.to_string()
    }
}

impl TryFrom<String> for Slot {
    type Error = String;
    fn try_from(s: String) -> Result<Slot, String> {
        let t = DateTime::parse_from_rfc3339(&s)
            .map_err(|e| format!("slot {s:?} is not an RFC 3339 time: {e}"))?
            .with_timezone(&Utc);
        let slot = Slot::containing(t);
        if slot.0 != t {
            return Err(format!("slot {s:?} is not on the hour"));
        }
        Ok(slot)
    }
}

/// The tiers one slot serves under a policy, each with the instant it stops being kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TierSet(pub BTreeMap<Tier, DateTime<Utc>>);

impl TierSet {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, tier: Tier) -> bool {
        self.0.contains_key(&tier)
    }

    /// When the last of the tiers expires: the point's own expiry.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.values().max().copied()
    }

    /// The tiers still keeping the point at `now` (`now < expiry`).
    pub fn live_at(&self, now: DateTime<Utc>) -> impl Iterator<Item = (Tier, DateTime<Utc>)> + '_ {
        self.0
            .iter()
            .filter(move |(_, until)| now < **until)
            .map(|(t, u)| (*t, *u))
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.0.keys().map(|t| t.as_str()).collect()
    }
}

/// The tiers `slot` serves for a resource in `tz` under `policy`. Empty when the slot is not
/// a point of this policy at all (a policy without an hourly tier, off its weekly hour).
pub fn tiers_of(policy: &Policy, tz: Zone, slot: Slot) -> TierSet {
    let mut tiers = BTreeMap::new();
    if let Some(h) = policy.hourly {
        tiers.insert(Tier::Hourly, h.retention.expiry(slot.start()));
    }
    if let Some(w) = policy.weekly {
        if weekly_date_of(&w, tz, slot).is_some() {
            tiers.insert(Tier::Weekly, w.retention.expiry(slot.start()));
        }
    }
    if let Some(m) = policy.monthly {
        if monthly_date_of(&m, tz, slot).is_some() {
            tiers.insert(Tier::Monthly, m.retention.expiry(slot.start()));
        }
    }
    TierSet(tiers)
}

/// The weekly slot of local date `date` (which must be the tier's weekday to mean anything).
pub fn weekly_slot(tier: &WeeklyTier, tz: Zone, date: NaiveDate) -> Slot {
    local_hour_slot(tz, date, tier.hour)
}

/// The monthly slot of the given local month.
pub fn monthly_slot(tier: &MonthlyTier, tz: Zone, year: i32, month: u32) -> Slot {
    local_hour_slot(tz, monthly_date(tier.day, year, month), tier.hour)
}

/// The local day of the month that holds the monthly point.
pub fn monthly_date(day: MonthDay, year: i32, month: u32) -> NaiveDate {
    match day {
        MonthDay::Day(d) => NaiveDate::from_ymd_opt(year, month, u32::from(d))
            .expect("validated monthly day exists in every month"),
        MonthDay::Last => {
            let (ny, nm) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            NaiveDate::from_ymd_opt(ny, nm, 1).expect("first of a month exists") - TimeDelta::days(1)
        }
    }
}

/// The local Saturday (or the tier's weekday) whose weekly point `slot` is, if any.
pub fn weekly_date_of(tier: &WeeklyTier, tz: Zone, slot: Slot) -> Option<NaiveDate> {
    candidate_dates(tz, slot)
        .into_iter()
        .find(|d| d.weekday() == tier.weekday && weekly_slot(tier, tz, *d) == slot)
}

/// The local date of the monthly point `slot` is, if any.
pub fn monthly_date_of(tier: &MonthlyTier, tz: Zone, slot: Slot) -> Option<NaiveDate> {
    candidate_dates(tz, slot).into_iter().find(|d| {
        *d == monthly_date(tier.day, d.year(), d.month()) && local_hour_slot(tz, *d, tier.hour) == slot
    })
}

/// Local dates whose policy hour can land on `slot`. Resolving a local hour moves it forward by
/// at most a DST gap plus the rounding up to the next UTC hour, well under three hours, so only
/// the local dates of `slot - 3h` and `slot` are candidates.
fn candidate_dates(tz: Zone, slot: Slot) -> Vec<NaiveDate> {
    let now = tz.local(slot.start()).date();
    let before = tz.local(slot.start() - TimeDelta::hours(3)).date();
    if before == now {
        vec![now]
    } else {
        vec![before, now]
    }
}

/// The first UTC tick at or after local `date` `hour`:00 in `tz`.
fn local_hour_slot(tz: Zone, date: NaiveDate, hour: u8) -> Slot {
    let local =
        date.and_time(NaiveTime::from_hms_opt(u32::from(hour), 0, 0).expect("validated hour is 0-23"));
    Slot::at_or_after(resolve_local(tz, local))
}

/// The instant of a local wall-clock time: the earlier one when it happens twice, the first
/// instant after the gap when it does not happen at all.
pub fn resolve_local(tz: Zone, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.instants(local) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(earlier, _) => earlier,
        LocalResult::None => {
            // Walk forward to the end of the gap; gaps are at most a few hours long.
            (1..=24 * 60)
                .map(|m| local + TimeDelta::minutes(m))
                .find_map(|l| tz.instants(l).earliest())
                .expect("a DST gap ends within a day")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Zone {
        Zone::named("America/New_York").unwrap()
    }
    use crate::policy::Policy;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn slot(s: &str) -> Slot {
        Slot::containing(utc(s))
    }

    #[test]
    fn labels_round_trip() {
        let s = slot("2026-11-28T03:00:00Z");
        assert_eq!(s.label(), "20261128t0300z");
        assert_eq!(Slot::parse_label("20261128t0300z"), Some(s));
        assert_eq!(Slot::parse_label("20261128t0330z"), None);
        assert_eq!(Slot::parse_label("garbage"), None);
    }

    #[test]
    fn a_tick_a_little_late_belongs_to_its_hour() {
        assert_eq!(slot("2026-11-28T03:00:41Z").start(), utc("2026-11-28T03:00:00Z"));
    }

    #[test]
    fn standard_saturday_in_new_york_is_weekly() {
        // Saturday 2026-11-28 23:00 EST = Sunday 04:00 UTC.
        let tiers = tiers_of(&Policy::standard(), ny(), slot("2026-11-29T04:00:00Z"));
        assert_eq!(tiers.names(), vec!["hourly", "weekly"]);
        let tiers = tiers_of(&Policy::standard(), ny(), slot("2026-11-28T23:00:00Z"));
        assert_eq!(tiers.names(), vec!["hourly"]);
    }

    #[test]
    fn a_saturday_month_end_is_one_point_with_both_tiers() {
        // 2026-10-31 is a Saturday.
        let tiers = tiers_of(&Policy::standard(), Zone::utc(), slot("2026-10-31T23:00:00Z"));
        assert_eq!(tiers.names(), vec!["hourly", "weekly", "monthly"]);
        assert_eq!(tiers.expires_at(), Some(utc("2027-10-31T23:00:00Z")));
    }

    #[test]
    fn half_hour_zones_round_up_to_the_next_tick() {
        // Lord Howe in November is UTC+11: Saturday 23:00 local = Saturday 12:00 UTC.
        let lh = Zone::named("Australia/Lord_Howe").unwrap();
        assert_eq!(
            weekly_slot(
                &Policy::standard().weekly.unwrap(),
                lh,
                NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
            ),
            slot("2026-11-28T12:00:00Z")
        );
        // In June it is UTC+10:30: 23:00 local = 12:30 UTC, so the 13:00 tick.
        assert_eq!(
            weekly_slot(
                &Policy::standard().weekly.unwrap(),
                lh,
                NaiveDate::from_ymd_opt(2026, 6, 27).unwrap()
            ),
            slot("2026-06-27T13:00:00Z")
        );
    }

    #[test]
    fn a_missing_local_hour_means_the_first_tick_after_the_gap() {
        // New York springs forward on 2026-03-08 at 02:00 (to 03:00 EDT = 07:00 UTC).
        let at = resolve_local(
            ny(),
            NaiveDate::from_ymd_opt(2026, 3, 8)
                .unwrap()
                .and_hms_opt(2, 0, 0)
                .unwrap(),
        );
        assert_eq!(at, utc("2026-03-08T07:00:00Z"));
    }

    #[test]
    fn an_ambiguous_local_hour_means_the_earlier_instant() {
        // New York falls back on 2026-11-01: 01:00 happens at 05:00 and 06:00 UTC.
        let at = resolve_local(
            ny(),
            NaiveDate::from_ymd_opt(2026, 11, 1)
                .unwrap()
                .and_hms_opt(1, 0, 0)
                .unwrap(),
        );
        assert_eq!(at, utc("2026-11-01T05:00:00Z"));
    }

    #[test]
    fn monthly_dates_follow_month_lengths() {
        assert_eq!(
            monthly_date(MonthDay::Last, 2024, 2),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
        );
        assert_eq!(
            monthly_date(MonthDay::Last, 2026, 2),
            NaiveDate::from_ymd_opt(2026, 2, 28).unwrap()
        );
        assert_eq!(
            monthly_date(MonthDay::Last, 2026, 12),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(
            monthly_date(MonthDay::Day(15), 2026, 4),
            NaiveDate::from_ymd_opt(2026, 4, 15).unwrap()
        );
    }
}
