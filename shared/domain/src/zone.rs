//! Time zones by IANA name, from the tz database compiled in as compact tables.
//!
//! Lifeboat needs two things of a zone: the local wall time of an instant (to know which
//! local day a slot falls on) and the instants of a local wall time (to place a weekly or
//! monthly point at its local hour, across DST changes). `chrono-tz` answers both but stores
//! every period of every zone with a pointer to its abbreviation, tens of thousands of
//! pointers the dynamic loader relocates at every cold start (see BENCHMARKS.md); the
//! `tzdb_data` tables hold offsets and transition times only.

use std::fmt;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, Utc};
use tz::TimeZoneRef;

/// An IANA time zone (`America/New_York`, `UTC`).
#[derive(Clone, Copy)]
pub struct Zone {
    name: &'static str,
    rules: &'static TimeZoneRef<'static>,
}

impl Zone {
    /// The zone of an exact IANA name (case matters, as in the tz database).
    pub fn named(name: &str) -> Option<Zone> {
        let name = *tzdb_data::TZ_NAMES.iter().find(|n| **n == name)?;
        let rules = tzdb_data::find_tz(name.as_bytes())?;
        Some(Zone { name, rules })
    }

    pub fn utc() -> Zone {
        Zone::named("UTC").expect("the tz database has UTC")
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The offset from UTC in effect at `t`.
    fn offset_at(&self, unix_time: i64) -> TimeDelta {
        let seconds = self
            .rules
            .find_local_time_type(unix_time)
            .map(|t| t.ut_offset())
            // Only out-of-range times fail, far beyond any slot Lifeboat computes.
            .unwrap_or(0);
        TimeDelta::seconds(i64::from(seconds))
    }

    /// The wall-clock time in this zone at `t`.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.naive_utc() + self.offset_at(t.timestamp())
    }

    /// The instants at which the wall clock here shows `local`: one, two (the hour repeated
    /// when clocks go back, earlier first) or none (the hour skipped when they go forward).
    pub fn instants(&self, local: NaiveDateTime) -> LocalResult<DateTime<Utc>> {
        // Any instant showing `local` has one of the offsets in effect within a day of it
        // (no zone changes its offset twice within a day); each offset names one candidate.
        let as_utc = local.and_utc().timestamp();
        let mut found: Vec<DateTime<Utc>> = [-86_400, 0, 86_400]
            .iter()
            .map(|probe| self.offset_at(as_utc + probe))
            .map(|offset| (local - offset).and_utc())
            .filter(|t| self.local(*t) == local)
            .collect();
        found.sort();
        found.dedup();
        match found.as_slice() {
            [] => LocalResult::None,
            [t] => LocalResult::Single(*t),
            [earlier, .., later] => LocalResult::Ambiguous(*earlier, *later),
        }
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone({})", self.name)
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl std::str::FromStr for Zone {
    type Err = UnknownZone;

    fn from_str(s: &str) -> Result<Zone, UnknownZone> {
        Zone::named(s).ok_or_else(|| UnknownZone(s.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IANA time zone name")]
pub struct UnknownZone(pub String);

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn local(s: &str) -> NaiveDateTime {
        s.parse().unwrap()
    }

    #[test]
    fn names_are_exact() {
        assert_eq!(
            Zone::named("America/New_York").unwrap().name(),
            "America/New_York"
        );
        assert!(Zone::named("america/new_york").is_none());
        assert!(Zone::named("Mars/Olympus_Mons").is_none());
        assert_eq!("UTC".parse::<Zone>().unwrap(), Zone::utc());
    }

    #[test]
    fn new_york_springs_forward_and_falls_back() {
        let ny = Zone::named("America/New_York").unwrap();
        assert_eq!(ny.local(t("2026-07-01T16:00:00Z")), local("2026-07-01T12:00:00"));
        assert_eq!(ny.local(t("2026-01-01T17:00:00Z")), local("2026-01-01T12:00:00"));
        // 8 March 2026, 02:00 → 03:00: 02:30 never happens.
        assert_eq!(ny.instants(local("2026-03-08T02:30:00")), LocalResult::None);
        assert_eq!(
            ny.instants(local("2026-03-08T03:30:00")),
            LocalResult::Single(t("2026-03-08T07:30:00Z"))
        );
        // 1 November 2026, 02:00 → 01:00: 01:30 happens twice.
        assert_eq!(
            ny.instants(local("2026-11-01T01:30:00")),
            LocalResult::Ambiguous(t("2026-11-01T05:30:00Z"), t("2026-11-01T06:30:00Z"))
        );
    }

    #[test]
    fn lord_howe_moves_by_half_an_hour() {
        let lh = Zone::named("Australia/Lord_Howe").unwrap();
        // 5 April 2026, 02:00 → 01:30 (+11 → +10:30): 01:45 happens twice.
        assert_eq!(
            lh.instants(local("2026-04-05T01:45:00")),
            LocalResult::Ambiguous(t("2026-04-04T14:45:00Z"), t("2026-04-04T15:15:00Z"))
        );
        // 4 October 2026, 02:00 → 02:30: 02:15 never happens.
        assert_eq!(lh.instants(local("2026-10-04T02:15:00")), LocalResult::None);
    }
}
