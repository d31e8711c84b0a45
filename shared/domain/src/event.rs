//! The scheduled tick: EventBridge's `Scheduled Event` envelope, parsed once and checked.
//!
//! Scheduled functions take "now" from the event, never from the wall clock: that makes a
//! retried tick do exactly what the first try did, and lets a simulation replay a year of
//! ticks. The price is that a forged event could claim a far-future "now" and expire
//! everything, so a tick ahead of the wall clock by more than [`MAX_CLOCK_SKEW`] is refused
//! unless the simulation switch is set (only the local stack and tests set it).

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::schedule::Slot;

/// How far ahead of the wall clock an event's time may be.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// The wall-clock guard: refuse ticks too far ahead, and (for the snapshot creator, whose
/// snapshot captures the data of now, not of the tick) ticks too old to be that slot's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockGuard {
    pub now: DateTime<Utc>,
    pub max_age: Option<TimeDelta>,
}

/// A validated tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// The event's `time`.
    pub time: DateTime<Utc>,
    /// The hourly slot the tick belongs to.
    pub slot: Slot,
    /// The event's `id`, for logs and reports.
    pub event_id: String,
    /// The event's `detail`, an object (function options such as a dry run).
    pub detail: serde_json::Map<String, Value>,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("invalid event: {0}")]
    Invalid(String),
    #[error(
        "event time {time} is {ahead_minutes} minutes ahead of the wall clock ({now}); refused, \
         since a forged future time could expire every point (only the simulation switch lifts this)"
    )]
    FromTheFuture {
        time: DateTime<Utc>,
        now: DateTime<Utc>,
        ahead_minutes: i64,
    },
    #[error(
        "event time {time} is {age_minutes} minutes behind the wall clock ({now}); refused, since a \
         snapshot taken now would be labelled with a slot whose data it does not hold"
    )]
    TooOld {
        time: DateTime<Utc>,
        now: DateTime<Utc>,
        age_minutes: i64,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct Envelope {
    id: Option<Value>,
    detail_type: Option<Value>,
    time: Option<Value>,
    detail: Option<Value>,
}

/// Parses and checks an event. `guard` is `None` when the simulation switch is set.
pub fn parse_tick(event: &Value, guard: Option<ClockGuard>) -> Result<Tick, EventError> {
    let invalid = |m: String| EventError::Invalid(m);
    if !event.is_object() {
        return Err(invalid(format!(
            "expected an EventBridge Scheduled Event object, got {}",
            kind_of(event)
        )));
    }
    let env: Envelope =
        serde_json::from_value(event.clone()).map_err(|e| invalid(format!("unreadable envelope: {e}")))?;
    match env.detail_type {
        Some(Value::String(s)) if s == "Scheduled Event" => {}
        Some(other) => {
            return Err(invalid(format!(
                "field `detail-type` must be \"Scheduled Event\", got {other}"
            )))
        }
        None => return Err(invalid("field `detail-type` is missing".into())),
    }
    let time = match env.time {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(&s)
            .map_err(|e| invalid(format!("field `time` is not an RFC 3339 time ({s:?}): {e}")))?
            .with_timezone(&Utc),
        Some(other) => {
            return Err(invalid(format!(
                "field `time` must be an RFC 3339 string, got {}",
                kind_of(&other)
            )))
        }
        None => return Err(invalid("field `time` is missing".into())),
    };
    let event_id = match env.id {
        Some(Value::String(s)) if !s.is_empty() => s,
        None => String::new(),
        Some(other) => {
            return Err(invalid(format!(
                "field `id` must be a non-empty string, got {other}"
            )))
        }
    };
    let detail = match env.detail {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m,
        Some(other) => {
            return Err(invalid(format!(
                "field `detail` must be an object, got {}",
                kind_of(&other)
            )))
        }
    };
    if time.year() > 9000 {
        return Err(invalid(format!("field `time` {time} is beyond any schedule")));
    }
    if let Some(ClockGuard { now, max_age }) = guard {
        let ahead = time - now;
        if ahead > MAX_CLOCK_SKEW {
            return Err(EventError::FromTheFuture {
                time,
                now,
                ahead_minutes: ahead.num_minutes(),
            });
        }
        if max_age.is_some_and(|max| -ahead > max) {
            return Err(EventError::TooOld {
                time,
                now,
                age_minutes: (-ahead).num_minutes(),
            });
        }
    }
    Ok(Tick {
        time,
        slot: Slot::containing(time),
        event_id,
        detail,
    })
}

/// Reads an optional boolean option from the event's `detail`.
pub fn detail_flag(tick: &Tick, name: &str) -> Result<Option<bool>, EventError> {
    match tick.detail.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(EventError::Invalid(format!(
            "field `detail.{name}` must be true or false, got {other}"
        ))),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(time: &str) -> Value {
        json!({"version":"0","id":"e-1","detail-type":"Scheduled Event","source":"aws.scheduler",
               "account":"123456789012","time":time,"region":"eu-west-1","resources":[],"detail":{}})
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_scheduled_event_gives_its_tick() {
        let tick = parse_tick(
            &event("2026-11-28T03:00:12Z"),
            guard("2026-11-28T03:00:13Z", None),
        )
        .unwrap();
        assert_eq!(tick.slot.to_string(), "2026-11-28T03:00:00Z");
        assert_eq!(tick.event_id, "e-1");
    }

    #[test]
    fn a_future_time_is_refused_unless_simulating() {
        let e = event("2027-11-28T03:00:00Z");
        assert!(matches!(
            parse_tick(&e, guard("2026-11-28T03:00:00Z", None)),
            Err(EventError::FromTheFuture { .. })
        ));
        assert!(parse_tick(&e, None).is_ok());
        // A little skew is normal.
        assert!(parse_tick(
            &event("2026-11-28T03:04:00Z"),
            guard("2026-11-28T03:00:00Z", None)
        )
        .is_ok());
    }

    #[test]
    fn an_old_time_is_refused_where_an_age_limit_is_set() {
        let e = event("2026-11-28T03:00:00Z");
        let hour = Some(TimeDelta::hours(1));
        assert!(parse_tick(&e, guard("2026-11-28T03:59:00Z", hour)).is_ok());
        assert!(matches!(
            parse_tick(&e, guard("2026-11-28T04:01:00Z", hour)),
            Err(EventError::TooOld { .. })
        ));
        assert!(parse_tick(&e, guard("2027-11-28T04:01:00Z", None)).is_ok());
        assert!(
            parse_tick(&event("9999-12-31T23:00:00Z"), None).is_err(),
            "no panic at the end of time"
        );
    }

    fn guard(now: &str, max_age: Option<TimeDelta>) -> Option<ClockGuard> {
        Some(ClockGuard {
            now: at(now),
            max_age,
        })
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (json!("tick"), "expected an EventBridge Scheduled Event object"),
            (json!({"detail-type":"Scheduled Event"}), "`time` is missing"),
            (
                json!({"detail-type":"Scheduled Event","time":"yesterday"}),
                "`time` is not an RFC 3339",
            ),
            (
                json!({"detail-type":"Scheduled Event","time":12}),
                "`time` must be an RFC 3339 string",
            ),
            (
                json!({"detail-type":"Object Created","time":"2026-11-28T03:00:00Z"}),
                "`detail-type`",
            ),
            (json!({"time":"2026-11-28T03:00:00Z"}), "`detail-type` is missing"),
            (
                json!({"detail-type":"Scheduled Event","time":"2026-11-28T03:00:00Z","detail":[1]}),
                "`detail` must be an object",
            ),
        ];
        for (e, expected) in cases {
            match parse_tick(&e, None) {
                Err(EventError::Invalid(m)) => assert!(m.contains(expected), "{m} lacks {expected}"),
                other => panic!("{e}: expected InvalidEvent, got {other:?}"),
            }
        }
    }

    #[test]
    fn detail_flags_are_booleans() {
        let mut e = event("2026-11-28T03:00:00Z");
        e["detail"] = json!({"dry_run": true, "bad": "yes"});
        let tick = parse_tick(&e, None).unwrap();
        assert_eq!(detail_flag(&tick, "dry_run"), Ok(Some(true)));
        assert_eq!(detail_flag(&tick, "other"), Ok(None));
        assert!(detail_flag(&tick, "bad").is_err());
    }
}
