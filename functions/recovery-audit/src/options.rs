//! What one invocation is asked to audit, from its Scheduled Event.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::event::{detail_flag, parse_tick, ClockGuard, EventError};
use lifeboat::inventory::is_instance_id;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRun {
    /// The audit's "now": the event's time.
    pub at: DateTime<Utc>,
    pub event_id: String,
    /// One customer instance (`detail.instance`), or the whole fleet.
    pub instance: Option<String>,
    pub dry_run: bool,
    /// Every managed snapshot's sharing checked (`detail.sweep_all`), not only the
    /// resources whose weekly turn it is. An audit of one instance checks all of its own.
    pub sweep_all: bool,
}

/// How old an audit's event may be: a scheduled audit retried by the scheduler and then by
/// Lambda arrives within two hours; an older one would audit today's state under another
/// day's name (and overwrite that day's report).
pub const MAX_EVENT_AGE: TimeDelta = TimeDelta::hours(3);

/// How old a fanned-out audit's event may be at its shards and finish: a fleet's shards run
/// for hours under the RDS budget, after the plan admitted the event.
pub const MAX_FANOUT_AGE: TimeDelta = TimeDelta::hours(24);

/// The options an event's `detail` may carry.
const OPTIONS: [&str; 3] = ["instance", "dry_run", "sweep_all"];

impl AuditRun {
    /// Parses the event. A deployment set to dry run stays one whatever the event says.
    pub fn parse(
        event: &Value,
        wall_clock: DateTime<Utc>,
        simulation: bool,
        deployment_dry_run: bool,
    ) -> Result<AuditRun, EventError> {
        Self::parse_within(event, wall_clock, simulation, deployment_dry_run, MAX_EVENT_AGE)
    }

    /// [`AuditRun::parse`], refusing events older than `max_age`.
    pub fn parse_within(
        event: &Value,
        wall_clock: DateTime<Utc>,
        simulation: bool,
        deployment_dry_run: bool,
        max_age: TimeDelta,
    ) -> Result<AuditRun, EventError> {
        let guard = ClockGuard {
            now: wall_clock,
            max_age: Some(max_age),
        };
        let tick = parse_tick(event, (!simulation).then_some(guard)).map_err(|e| match e {
            EventError::TooOld {
                time,
                now,
                age_minutes,
            } => EventError::Invalid(format!(
                "event time {time} is {age_minutes} minutes behind the wall clock ({now}); an audit \
                 more than {} hours old is refused: it would audit today's state under another day's name",
                max_age.num_hours()
            )),
            other => other,
        })?;
        if let Some(unknown) = tick.detail.keys().find(|k| !OPTIONS.contains(&k.as_str())) {
            return Err(EventError::Invalid(format!(
                "field `detail.{unknown}` is not an option of the audit (known: {})",
                OPTIONS.join(", ")
            )));
        }
        let instance = match tick.detail.get("instance") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if is_instance_id(s) => Some(s.clone()),
            Some(other) => {
                return Err(EventError::Invalid(format!(
                    "field `detail.instance` must be a customer instance id (letters, digits, '-', '_', '.'; 1 to 128), got {other}"
                )))
            }
        };
        Ok(AuditRun {
            at: tick.time,
            event_id: tick.event_id.clone(),
            dry_run: deployment_dry_run || detail_flag(&tick, "dry_run")?.unwrap_or(false),
            sweep_all: detail_flag(&tick, "sweep_all")?.unwrap_or(false) || instance.is_some(),
            instance,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn event(detail: Value) -> Value {
        json!({"id": "e-1", "detail-type": "Scheduled Event", "time": "2026-12-03T06:30:00Z", "detail": detail})
    }

    fn now() -> DateTime<Utc> {
        "2026-12-03T06:30:10Z".parse().unwrap()
    }

    #[test]
    fn a_daily_event_audits_the_fleet_and_an_instance_named_audits_it_whole() {
        let daily = AuditRun::parse(&event(json!({})), now(), false, false).unwrap();
        assert_eq!(
            (daily.instance, daily.sweep_all, daily.dry_run),
            (None, false, false)
        );
        let one = AuditRun::parse(
            &event(json!({"instance": "acme", "dry_run": true})),
            now(),
            false,
            false,
        )
        .unwrap();
        assert_eq!(
            (one.instance.as_deref(), one.sweep_all, one.dry_run),
            (Some("acme"), true, true)
        );
    }

    #[test]
    fn a_bad_option_is_refused_with_its_field_named() {
        for (detail, field) in [
            (json!({"instance": 7}), "detail.instance"),
            (json!({"instance": " "}), "detail.instance"),
            (json!({"instance": "acme/../globex"}), "detail.instance"),
            (json!({"dryrun": true}), "detail.dryrun"),
            (json!({"dry_run": "yes"}), "detail.dry_run"),
            (json!({"sweep_all": 1}), "detail.sweep_all"),
        ] {
            let e = AuditRun::parse(&event(detail), now(), false, false).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn a_deployment_in_dry_run_stays_in_dry_run_whatever_the_event_says() {
        let run = AuditRun::parse(&event(json!({"dry_run": false})), now(), false, true).unwrap();
        assert!(run.dry_run);
    }

    #[test]
    fn an_audit_older_than_a_retried_schedule_is_refused() {
        let late = "2026-12-03T09:31:00Z".parse().unwrap();
        let e = AuditRun::parse(&event(json!({})), late, false, false).unwrap_err();
        assert!(e.to_string().contains("behind the wall clock"), "{e}");
        assert!(
            AuditRun::parse(&event(json!({})), late, true, false).is_ok(),
            "a simulation replays"
        );
    }

    #[test]
    fn an_audit_from_the_future_is_refused_unless_simulating() {
        let early = "2026-12-03T06:00:00Z".parse().unwrap();
        assert!(AuditRun::parse(&event(json!({})), early, false, false).is_err());
        assert!(AuditRun::parse(&event(json!({})), early, true, false).is_ok());
    }
}
