//! A new restore request as support files it (`POST /restore-requests`), parsed once into a
//! [`Filing`] that can only hold valid values.
//!
//! What needs the instance's resources and policies (whether anything is old enough to
//! serve it) is checked later, by [`super::options`]; what is checked here needs only the
//! body and the clock.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::body::Body;
use super::problem::Invalid;
use super::{Affected, Cause};

pub const MAX_INSTANCE_ID: usize = 64;

/// Whether `id` holds only what a filed request's instance id may: letters, digits, `-`,
/// `_` and `.` (the length is checked with the other texts).
pub fn instance_id_chars(id: &str) -> bool {
    id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}
pub const MAX_DESCRIPTION: usize = 4000;
pub const MAX_BUSINESS_CONTEXT: usize = 2000;
pub const MAX_AFFECTED_ITEMS: usize = 100;
pub const MAX_AFFECTED_ITEM: usize = 200;
/// Far more records than any instance holds: a bigger figure is a typo.
pub const MAX_ESTIMATED_RECORDS: u64 = 1_000_000_000;
/// Clocks of support tooling drift; a loss "a minute from now" is a clock, not a forgery.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// A valid new request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filing {
    pub instance_id: String,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
    pub affected: Affected,
    pub business_context: String,
    pub cause: Cause,
}

/// Parses a filing from a request body, checked against `now`.
pub fn parse_filing(body: &[u8], now: DateTime<Utc>) -> Result<Filing, Invalid> {
    let value = Body::parse(body)?;
    let mut b = Body::new(&value, "")?;
    let v = b.required("instance_id");
    let instance_id = b.text(v, "instance_id", MAX_INSTANCE_ID);
    if let Some(id) = &instance_id {
        if !instance_id_chars(id) {
            b.reject("instance_id", "may hold only letters, digits, '-', '_' and '.'");
        }
    }
    let v = b.required("description");
    let description = b.text(v, "description", MAX_DESCRIPTION);
    let v = b.required("occurred_at");
    let occurred_at = b.time(v, "occurred_at");
    if let Some(t) = occurred_at {
        if t > now + CLOCK_SKEW {
            b.reject("occurred_at", format!("{} is in the future", t.to_rfc3339()));
        }
    }
    let v = b.required("cause");
    let causes: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    let cause = b.choice(v, "cause", &causes, Cause::parse);
    let v = b.value("business_context");
    let business_context = b.text(v, "business_context", MAX_BUSINESS_CONTEXT);
    let affected = match b.required("affected") {
        Some(v) => affected(v, &mut b),
        None => None,
    };
    let errors = b.finish();
    if !errors.is_empty() {
        return Err(Invalid(errors));
    }
    let missing = "checked above: no errors means every required field was read";
    Ok(Filing {
        instance_id: instance_id.expect(missing),
        description: description.expect(missing),
        occurred_at: occurred_at.expect(missing),
        affected: affected.expect(missing),
        business_context: business_context.unwrap_or_default(),
        cause: cause.expect(missing),
    })
}

fn affected(value: &serde_json::Value, outer: &mut Body) -> Option<Affected> {
    let mut b = match Body::new(value, "affected") {
        Ok(b) => b,
        Err(e) => {
            outer.errors.extend(e.0);
            return None;
        }
    };
    let list = |b: &mut Body, name: &'static str| {
        let v = b.value(name);
        b.texts(v, name, MAX_AFFECTED_ITEMS, MAX_AFFECTED_ITEM)
    };
    let objects = list(&mut b, "objects");
    let records = list(&mut b, "records");
    let areas = list(&mut b, "areas");
    let v = b.value("estimated_records");
    let estimated_records = b.count(v, "estimated_records", MAX_ESTIMATED_RECORDS);
    let errors = b.finish();
    let ok = errors.is_empty();
    outer.errors.extend(errors);
    ok.then(|| Affected {
        objects: objects.unwrap_or_default(),
        records: records.unwrap_or_default(),
        areas: areas.unwrap_or_default(),
        estimated_records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    fn valid() -> serde_json::Value {
        json!({
            "instance_id": "acme",
            "description": "A CRM sync deleted 1,200 contacts between 09:10 and 09:30.",
            "occurred_at": "2026-11-28T09:10:00Z",
            "affected": {"objects": ["contacts"], "records": [], "areas": ["CRM"], "estimated_records": 1200},
            "business_context": "Admissions deadline on Monday.",
            "cause": "integration_mass_deletion"
        })
    }

    fn fields_wrong(body: serde_json::Value) -> Vec<String> {
        let e = parse_filing(body.to_string().as_bytes(), now()).unwrap_err();
        e.fields().into_iter().map(str::to_string).collect()
    }

    #[test]
    fn a_valid_filing_parses() {
        let f = parse_filing(valid().to_string().as_bytes(), now()).unwrap();
        assert_eq!(f.instance_id, "acme");
        assert_eq!(f.cause, Cause::IntegrationMassDeletion);
        assert_eq!(f.affected.estimated_records, Some(1200));
        assert_eq!(
            f.occurred_at,
            "2026-11-28T09:10:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn every_missing_field_is_named() {
        assert_eq!(
            fields_wrong(json!({})),
            vec!["instance_id", "description", "occurred_at", "cause", "affected"]
        );
    }

    #[test]
    fn wrong_types_and_values_name_their_field() {
        let mut b = valid();
        b["occurred_at"] = json!("yesterday");
        b["cause"] = json!("gremlins");
        b["affected"]["records"] = json!(["ok", 7, ""]);
        b["affected"]["estimated_records"] = json!(-3);
        b["instance_id"] = json!("acme/../x");
        assert_eq!(
            fields_wrong(b),
            vec![
                "instance_id",
                "occurred_at",
                "cause",
                "affected.records[1]",
                "affected.records[2]",
                "affected.estimated_records"
            ]
        );
    }

    #[test]
    fn unknown_fields_are_refused_at_every_level() {
        let mut b = valid();
        b["submitted_by"] = json!("someone else");
        b["affected"]["contacts"] = json!(["x"]);
        assert_eq!(fields_wrong(b), vec!["affected.contacts", "submitted_by"]);
    }

    #[test]
    fn text_is_bounded() {
        let mut b = valid();
        b["description"] = json!("x".repeat(MAX_DESCRIPTION + 1));
        b["affected"]["areas"] = json!(vec!["a"; MAX_AFFECTED_ITEMS + 1]);
        assert_eq!(fields_wrong(b), vec!["description", "affected.areas"]);
    }

    #[test]
    fn a_loss_in_the_future_is_refused_beyond_clock_skew() {
        let mut b = valid();
        b["occurred_at"] = json!("2026-11-28T12:04:00Z");
        assert!(parse_filing(b.to_string().as_bytes(), now()).is_ok());
        b["occurred_at"] = json!("2026-11-28T12:30:00+00:00");
        assert_eq!(fields_wrong(b), vec!["occurred_at"]);
    }

    #[test]
    fn bodies_that_are_not_objects_are_refused() {
        for body in ["", "{", "[1]", "\"x\"", "null"] {
            let e = parse_filing(body.as_bytes(), now()).unwrap_err();
            assert_eq!(e.fields(), vec!["body"], "{body:?}");
        }
    }
}
