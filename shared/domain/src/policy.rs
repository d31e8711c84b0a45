//! Backup policies: named documents that say which tiers a resource gets, when, and for how long.
//!
//! A policy is data. It is parsed from JSON and validated once, into a [`Policy`] that can only
//! hold values the scheduler can act on; everything downstream trusts it. The built-in
//! `standard` policy is the company's published policy table. Nothing here knows about AWS.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Months, TimeDelta, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::drill::checks::DrillSpec;

/// The name of the policy every resource gets unless a tag names another.
pub const STANDARD: &str = "standard";

/// A retention tier. Ordered from the shortest-lived to the longest-lived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Hourly,
    Weekly,
    Monthly,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Hourly, Tier::Weekly, Tier::Monthly];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Hourly => "hourly",
            Tier::Weekly => "weekly",
            Tier::Monthly => "monthly",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long a tier keeps a point, counted from the point's slot.
///
/// Months are calendar months on the UTC calendar, clamped to the month's end (a slot on
/// 31 January is kept until 28 or 29 February), so the arithmetic never depends on DST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Retention {
    Hours(u32),
    Days(u32),
    Months(u32),
}

impl Retention {
    /// The instant at which a point of `slot` stops being kept by this retention.
    pub fn expiry(self, slot: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Retention::Hours(h) => slot
                .checked_add_signed(TimeDelta::hours(i64::from(h)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Retention::Days(d) => slot
                .checked_add_signed(TimeDelta::days(i64::from(d)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            // Past the end of chrono's calendar a point is simply kept for ever.
            Retention::Months(m) => slot
                .checked_add_months(Months::new(m))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    fn amount(self) -> u32 {
        match self {
            Retention::Hours(n) | Retention::Days(n) | Retention::Months(n) => n,
        }
    }

    /// An upper bound of the retention in hours, used to bound look-backs.
    pub fn max_hours(self) -> i64 {
        match self {
            Retention::Hours(h) => i64::from(h),
            Retention::Days(d) => i64::from(d) * 24,
            Retention::Months(m) => i64::from(m) * 31 * 24,
        }
    }
}

/// Which day of the month a monthly point is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonthDay {
    /// The last day of the month, whatever its length.
    Last,
    /// A fixed day, 1 to 28, so that every month has it.
    #[serde(untagged)]
    Day(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HourlyTier {
    pub retention: Retention,
    /// Where an RDS instance's hourly points come from (DynamoDB tables always get backups).
    #[serde(default, skip_serializing_if = "HourlySource::is_snapshot")]
    pub source: HourlySource,
}

/// Where an RDS instance's hourly points come from.
///
/// A manual snapshot each hour costs a place in the account's `ManualSnapshots` quota (about
/// 90 per instance under the standard policy); a fleet that cannot raise it that far can let
/// the continuous backup window serve the hourly tier: an hourly point is then the window's
/// restore target at the top of each hour, kept for as long as the window covers it, and no
/// snapshot is taken for it (while the instance's window is on and long enough; see
/// `ManagedResource::hourly_from_window`). The trade-off: RDS deletes an instance's automated backups with
/// the instance unless they are retained at deletion, where a manual snapshot outlives it.
/// DynamoDB on-demand backups count against no quota and outlive their table, so tables keep
/// them whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HourlySource {
    /// A manual snapshot each hour.
    #[default]
    Snapshot,
    /// The continuous backup window's restore target at each hour.
    PointInTime,
}

impl HourlySource {
    pub fn is_snapshot(&self) -> bool {
        *self == HourlySource::Snapshot
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklyTier {
    #[serde(with = "weekday_name")]
    pub weekday: Weekday,
    /// Local hour (0-23) in the resource's time zone.
    pub hour: u8,
    pub retention: Retention,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyTier {
    pub day: MonthDay,
    /// Local hour (0-23) in the resource's time zone.
    pub hour: u8,
    pub retention: Retention,
}

/// The continuous (point-in-time) backup window the services must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointInTime {
    /// Whole days, 1 to 35: both RDS and DynamoDB keep continuous backups in days.
    pub window_days: u8,
    /// Whether the snapshot creator turns the window back on when it finds drift, or only reports it.
    #[serde(default = "yes")]
    pub correct_drift: bool,
}

fn yes() -> bool {
    true
}

/// A validated policy. Build one with [`Policy::from_json`] or [`Policy::standard`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub point_in_time: Option<PointInTime>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hourly: Option<HourlyTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weekly: Option<WeeklyTier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly: Option<MonthlyTier>,
    /// The instance's own restore-drill checks (see `lifeboat::drill::checks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillSpec>,
}

/// What is wrong with a policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy document is not valid JSON of the policy shape: {0}")]
    Malformed(String),
    #[error("policy {policy:?}: field `{field}` {problem}")]
    Invalid {
        policy: String,
        field: &'static str,
        problem: String,
    },
    #[error("policy {0:?} is defined twice")]
    Duplicate(String),
    #[error("no policy named {0:?}")]
    Unknown(String),
}

impl Policy {
    /// The published policy table: PITR 72 hours, hourly for 3 days, Saturday 23:00 for one
    /// month, the last day of the month at 23:00 for a year.
    pub fn standard() -> Policy {
        Policy {
            name: STANDARD.to_string(),
            point_in_time: Some(PointInTime {
                window_days: 3,
                correct_drift: true,
            }),
            hourly: Some(HourlyTier {
                retention: Retention::Hours(72),
                source: HourlySource::Snapshot,
            }),
            weekly: Some(WeeklyTier {
                weekday: Weekday::Sat,
                hour: 23,
                retention: Retention::Months(1),
            }),
            monthly: Some(MonthlyTier {
                day: MonthDay::Last,
                hour: 23,
                retention: Retention::Months(12),
            }),
            drill: None,
        }
    }

    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        let policy: Policy = serde_json::from_str(text).map_err(|e| PolicyError::Malformed(e.to_string()))?;
        policy.validate()
    }

    /// Checks every field; returns the policy unchanged when it is usable.
    pub fn validate(self) -> Result<Policy, PolicyError> {
        let invalid = |field: &'static str, problem: &str| PolicyError::Invalid {
            policy: self.name.clone(),
            field,
            problem: problem.to_string(),
        };
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return Err(invalid(
                "name",
                "must be 1-64 characters of a-z, 0-9 and '-' (it is used as a tag value)",
            ));
        }
        if self.hourly.is_none() && self.weekly.is_none() && self.monthly.is_none() {
            return Err(invalid("hourly/weekly/monthly", "must name at least one tier"));
        }
        if let Some(pit) = self.point_in_time {
            if !(1..=35).contains(&pit.window_days) {
                return Err(invalid(
                    "point_in_time.window_days",
                    "must be 1 to 35 (the services keep continuous backups for 1 to 35 days)",
                ));
            }
        }
        if let Some(h) = self.hourly {
            check_retention(&self.name, "hourly.retention", h.retention)?;
            // A day beyond the retention: RDS's earliest restorable time trails the window's
            // nominal start (it replays from a daily backup).
            let window_hours = self.point_in_time.map_or(0, |p| i64::from(p.window_days) * 24);
            if h.source == HourlySource::PointInTime && window_hours < h.retention.max_hours() + 24 {
                return Err(invalid(
                    "hourly.source",
                    "is point_in_time: the policy's point_in_time.window_days must cover the \
                     hourly retention and a day more, or hourly points could leave the window \
                     before they expire",
                ));
            }
        }
        if let Some(w) = self.weekly {
            if w.hour > 23 {
                return Err(invalid("weekly.hour", "must be 0 to 23"));
            }
            check_retention(&self.name, "weekly.retention", w.retention)?;
        }
        if let Some(m) = self.monthly {
            if m.hour > 23 {
                return Err(invalid("monthly.hour", "must be 0 to 23"));
            }
            if let MonthDay::Day(d) = m.day {
                if !(1..=28).contains(&d) {
                    return Err(invalid(
                        "monthly.day",
                        "must be \"last\" or 1 to 28, so that every month has it",
                    ));
                }
            }
            check_retention(&self.name, "monthly.retention", m.retention)?;
        }
        if let Some(spec) = &self.drill {
            spec.validate()
                .map_err(|e| invalid("drill.checks", &e.to_string()))?;
        }
        Ok(self)
    }

    /// The retention of `tier` under this policy, if the policy has that tier.
    pub fn retention(&self, tier: Tier) -> Option<Retention> {
        match tier {
            Tier::Hourly => self.hourly.map(|t| t.retention),
            Tier::Weekly => self.weekly.map(|t| t.retention),
            Tier::Monthly => self.monthly.map(|t| t.retention),
        }
    }

    /// Whether RDS instances' hourly points are the continuous backup window's, not snapshots.
    pub fn hourly_from_window(&self) -> bool {
        self.hourly.is_some_and(|h| h.source == HourlySource::PointInTime)
    }

    /// The longest any tier of this policy keeps a point, in hours (an upper bound).
    pub fn longest_retention_hours(&self) -> i64 {
        Tier::ALL
            .into_iter()
            .filter_map(|t| self.retention(t))
            .map(Retention::max_hours)
            .max()
            .unwrap_or(0)
    }
}

fn check_retention(policy: &str, field: &'static str, r: Retention) -> Result<(), PolicyError> {
    // Ten years is far beyond any backup policy and keeps date arithmetic trivially in range.
    let (limit, unit) = match r {
        Retention::Hours(_) => (24 * 366 * 10, "hours"),
        Retention::Days(_) => (366 * 10, "days"),
        Retention::Months(_) => (120, "months"),
    };
    if r.amount() == 0 || r.amount() > limit {
        return Err(PolicyError::Invalid {
            policy: policy.to_string(),
            field,
            problem: format!("must be 1 to {limit} {unit}"),
        });
    }
    Ok(())
}

/// Every policy a deployment knows, by name; always contains `standard`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyBook {
    policies: BTreeMap<String, Policy>,
}

impl Default for PolicyBook {
    fn default() -> Self {
        let mut policies = BTreeMap::new();
        policies.insert(STANDARD.to_string(), Policy::standard());
        PolicyBook { policies }
    }
}

impl PolicyBook {
    /// Loads extra policies from a JSON array of policy documents. A document named `standard`
    /// replaces the built-in one (a deployment may tune its defaults).
    pub fn from_json(text: &str) -> Result<PolicyBook, PolicyError> {
        let docs: Vec<serde_json::Value> =
            serde_json::from_str(text).map_err(|e| PolicyError::Malformed(e.to_string()))?;
        let mut book = PolicyBook::default();
        let mut seen = std::collections::BTreeSet::new();
        for doc in docs {
            let policy = Policy::from_json(&doc.to_string())?;
            if !seen.insert(policy.name.clone()) {
                return Err(PolicyError::Duplicate(policy.name));
            }
            book.policies.insert(policy.name.clone(), policy);
        }
        Ok(book)
    }

    pub fn get(&self, name: &str) -> Result<&Policy, PolicyError> {
        self.policies
            .get(name)
            .ok_or_else(|| PolicyError::Unknown(name.to_string()))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }
}

mod weekday_name {
    use chrono::Weekday;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    const NAMES: [(&str, Weekday); 7] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];

    pub fn serialize<S: Serializer>(day: &Weekday, s: S) -> Result<S::Ok, S::Error> {
        let name = NAMES.iter().find(|(_, d)| d == day).map(|(n, _)| *n);
        s.serialize_str(name.unwrap_or("saturday"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Weekday, D::Error> {
        let text = String::deserialize(d)?;
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&text))
            .map(|(_, day)| *day)
            .ok_or_else(|| D::Error::custom(format!("unknown weekday {text:?}, expected e.g. \"saturday\"")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_names_its_drill_checks_and_a_bad_one_is_refused() {
        let with = |checks: &str| {
            format!(
                r#"{{"name":"crm","weekly":{{"weekday":"saturday","hour":23,"retention":{{"months":1}}}},"drill":{{"checks":{checks}}}}}"#
            )
        };
        let p =
            Policy::from_json(&with(r#"[{"sql":"select count(*) from contacts","at_least":1}]"#)).unwrap();
        assert_eq!(p.drill.unwrap().checks.len(), 1);
        let e = Policy::from_json(&with(r#"[{"sql":"update contacts set x=1","at_least":1}]"#)).unwrap_err();
        assert!(e.to_string().contains("drill.checks"), "{e}");
    }

    #[test]
    fn standard_round_trips_through_json() {
        let text = serde_json::to_string(&Policy::standard()).unwrap();
        assert_eq!(Policy::from_json(&text).unwrap(), Policy::standard());
    }

    #[test]
    fn a_policy_document_names_its_tiers() {
        let p = Policy::from_json(
            r#"{"name":"gold","hourly":{"retention":{"hours":48}},
                "weekly":{"weekday":"sunday","hour":2,"retention":{"days":60}},
                "monthly":{"day":15,"hour":0,"retention":{"months":24}},
                "point_in_time":{"window_days":7,"correct_drift":false}}"#,
        )
        .unwrap();
        assert_eq!(p.weekly.unwrap().weekday, Weekday::Sun);
        assert_eq!(p.monthly.unwrap().day, MonthDay::Day(15));
        assert!(!p.point_in_time.unwrap().correct_drift);
    }

    #[test]
    fn hourly_points_are_snapshots_unless_the_window_is_named() {
        assert!(!Policy::standard().hourly_from_window());
        let text = serde_json::to_string(&Policy::standard()).unwrap();
        assert!(!text.contains("source"), "the default is not written: {text}");
        let lean = Policy::from_json(
            r#"{"name":"lean","point_in_time":{"window_days":4},
                "hourly":{"retention":{"hours":72},"source":"point_in_time"},
                "weekly":{"weekday":"saturday","hour":23,"retention":{"months":1}}}"#,
        )
        .unwrap();
        assert!(lean.hourly_from_window());
        let text = serde_json::to_string(&lean).unwrap();
        assert_eq!(Policy::from_json(&text).unwrap(), lean);
        match Policy::from_json(r#"{"name":"x","hourly":{"retention":{"hours":1},"source":"pitr"}}"#) {
            Err(PolicyError::Malformed(e)) => assert!(e.contains("point_in_time"), "{e}"),
            other => panic!("an unknown source is refused naming the known ones: {other:?}"),
        }
    }

    #[test]
    fn bad_documents_say_which_field_is_wrong() {
        let cases = [
            (
                r#"{"name":"x","weekly":{"weekday":"saturday","hour":24,"retention":{"months":1}}}"#,
                "weekly.hour",
            ),
            (
                r#"{"name":"x","monthly":{"day":31,"hour":1,"retention":{"months":1}}}"#,
                "monthly.day",
            ),
            (
                r#"{"name":"x","hourly":{"retention":{"hours":0}}}"#,
                "hourly.retention",
            ),
            (
                r#"{"name":"x","point_in_time":{"window_days":36},"hourly":{"retention":{"hours":1}}}"#,
                "point_in_time.window_days",
            ),
            (
                r#"{"name":"Bad Name","hourly":{"retention":{"hours":1}}}"#,
                "name",
            ),
            (r#"{"name":"x"}"#, "hourly/weekly/monthly"),
            (
                r#"{"name":"x","hourly":{"retention":{"hours":72},"source":"point_in_time"}}"#,
                "hourly.source",
            ),
            (
                r#"{"name":"x","point_in_time":{"window_days":3},
                    "hourly":{"retention":{"hours":72},"source":"point_in_time"}}"#,
                "hourly.source",
            ),
        ];
        for (doc, field) in cases {
            match Policy::from_json(doc) {
                Err(PolicyError::Invalid { field: f, .. }) => assert_eq!(f, field, "{doc}"),
                other => panic!("{doc}: expected an error on {field}, got {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_fields_and_weekdays_are_refused() {
        assert!(matches!(
            Policy::from_json(r#"{"name":"x","hourly":{"retention":{"hours":1}},"extra":1}"#),
            Err(PolicyError::Malformed(m)) if m.contains("extra")
        ));
        assert!(matches!(
            Policy::from_json(r#"{"name":"x","weekly":{"weekday":"caturday","hour":1,"retention":{"days":1}}}"#),
            Err(PolicyError::Malformed(m)) if m.contains("caturday")
        ));
    }

    #[test]
    fn a_book_always_has_standard_and_refuses_duplicates() {
        let book = PolicyBook::from_json(r#"[{"name":"short","hourly":{"retention":{"hours":6}}}]"#).unwrap();
        assert!(book.get(STANDARD).is_ok());
        assert!(book.get("short").is_ok());
        assert_eq!(book.get("nope"), Err(PolicyError::Unknown("nope".into())));
        let dup = r#"[{"name":"a","hourly":{"retention":{"hours":6}}},{"name":"a","hourly":{"retention":{"hours":6}}}]"#;
        assert_eq!(
            PolicyBook::from_json(dup),
            Err(PolicyError::Duplicate("a".into()))
        );
    }

    #[test]
    fn month_retention_clamps_to_month_end() {
        let slot: DateTime<Utc> = "2024-01-31T23:00:00Z".parse().unwrap();
        assert_eq!(
            Retention::Months(1).expiry(slot),
            "2024-02-29T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
