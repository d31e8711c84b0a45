//! What one invocation is asked to audit, from its Scheduled Event.

use chrono::{DateTime, Utc};
use lifeboat::event::{detail_flag, parse_tick, ClockGuard, EventError};
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

impl AuditRun {
    pub fn parse(
        event: &Value,
        wall_clock: DateTime<Utc>,
        simulation: bool,
        default_dry_run: bool,
    ) -> Result<AuditRun, EventError> {
        let guard = ClockGuard {
            now: wall_clock,
            max_age: None,
        };
        let tick = parse_tick(event, (!simulation).then_some(guard))?;
        let instance = match tick.detail.get("instance") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(other) => {
                return Err(EventError::Invalid(format!(
                    "field `detail.instance` must be a customer instance id (a non-empty string), got {other}"
                )))
            }
        };
        Ok(AuditRun {
            at: tick.time,
            event_id: tick.event_id.clone(),
            dry_run: detail_flag(&tick, "dry_run")?.unwrap_or(default_dry_run),
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
            (json!({"dry_run": "yes"}), "detail.dry_run"),
            (json!({"sweep_all": 1}), "detail.sweep_all"),
        ] {
            let e = AuditRun::parse(&event(detail), now(), false, false).unwrap_err();
            assert!(e.to_string().contains(field), "{e}");
        }
    }

    #[test]
    fn an_audit_from_the_future_is_refused_unless_simulating() {
        let early = "2026-12-03T06:00:00Z".parse().unwrap();
        assert!(AuditRun::parse(&event(json!({})), early, false, false).is_err());
        assert!(AuditRun::parse(&event(json!({})), early, true, false).is_ok());
    }
}
