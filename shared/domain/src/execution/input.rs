//! The restore state machine's execution input, as approval starts it or an engineer pastes
//! it into the console:
//!
//! ```json
//! {"request_id": "rr-…", "poll_interval_seconds": 30, "max_polls": 240,
//!  "confirmation_timeout_seconds": 86400}
//! ```
//! Only `request_id` is required; the rest default to production's gentle polling. Tests
//! poll fast by passing small values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::{StepError, INVALID_INPUT};

pub const DEFAULT_POLL_INTERVAL_SECONDS: u64 = 30;
/// With the default interval, two hours for restores and renames to finish.
pub const DEFAULT_MAX_POLLS: u64 = 240;
/// A day for an engineer to confirm.
pub const DEFAULT_CONFIRMATION_TIMEOUT_SECONDS: u64 = 86_400;

const LIMITS: [(&str, u64, u64); 3] = [
    ("poll_interval_seconds", 0, 3_600),
    // Each poll adds about a dozen events to the execution's history, which Step Functions
    // caps at 25,000 across all three loops.
    ("max_polls", 1, 600),
    ("confirmation_timeout_seconds", 1, 7 * 86_400),
];

/// The validated input, with defaults filled in: what the definition's Wait, Choice and
/// timeout states read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    pub request_id: String,
    pub poll_interval_seconds: u64,
    pub max_polls: u64,
    pub confirmation_timeout_seconds: u64,
}

/// Parses the execution input; the error names the field that is wrong.
pub fn parse_input(input: &Value) -> Result<ExecutionInput, StepError> {
    let invalid = |m: String| StepError::new(INVALID_INPUT, format!("execution input: {m}"));
    let Some(fields) = input.as_object() else {
        return Err(invalid(
            "must be a JSON object like {\"request_id\": \"rr-…\"}".into(),
        ));
    };
    let known = ["request_id"]
        .into_iter()
        .chain(LIMITS.iter().map(|(n, _, _)| *n));
    if let Some(unknown) = fields.keys().find(|k| !known.clone().any(|n| n == k.as_str())) {
        return Err(invalid(format!("`{unknown}` is not a known field")));
    }
    let request_id = match fields.get("request_id") {
        Some(Value::String(id)) if is_request_id(id) => id.clone(),
        Some(other) => {
            return Err(invalid(format!(
                "`request_id` must be a request id like \"rr-…\" (letters, digits, hyphens), not {other}"
            )))
        }
        None => return Err(invalid("`request_id` is required".into())),
    };
    let mut numbers = [
        DEFAULT_POLL_INTERVAL_SECONDS,
        DEFAULT_MAX_POLLS,
        DEFAULT_CONFIRMATION_TIMEOUT_SECONDS,
    ];
    for ((name, min, max), value) in LIMITS.iter().zip(numbers.iter_mut()) {
        if let Some(given) = fields.get(*name) {
            *value = given
                .as_u64()
                .filter(|n| (*min..=*max).contains(n))
                .ok_or_else(|| {
                    invalid(format!(
                        "`{name}` must be a whole number from {min} to {max}, not {given}"
                    ))
                })?;
        }
    }
    let [poll_interval_seconds, max_polls, confirmation_timeout_seconds] = numbers;
    Ok(ExecutionInput {
        request_id,
        poll_interval_seconds,
        max_polls,
        confirmation_timeout_seconds,
    })
}

fn is_request_id(id: &str) -> bool {
    id.starts_with("rr-") && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_request_id_is_required() {
        let input = parse_input(&json!({"request_id": "rr-1a2b"})).unwrap();
        assert_eq!(input.request_id, "rr-1a2b");
        assert_eq!(input.poll_interval_seconds, DEFAULT_POLL_INTERVAL_SECONDS);
        assert_eq!(input.max_polls, DEFAULT_MAX_POLLS);
        assert_eq!(
            input.confirmation_timeout_seconds,
            DEFAULT_CONFIRMATION_TIMEOUT_SECONDS
        );
    }

    #[test]
    fn tests_may_poll_fast() {
        let input = parse_input(
            &json!({"request_id": "rr-1", "poll_interval_seconds": 0, "max_polls": 5,
            "confirmation_timeout_seconds": 2}),
        )
        .unwrap();
        assert_eq!(
            (
                input.poll_interval_seconds,
                input.max_polls,
                input.confirmation_timeout_seconds
            ),
            (0, 5, 2)
        );
    }

    #[test]
    fn bad_inputs_name_the_field() {
        for (input, field) in [
            (json!([]), "JSON object"),
            (json!({}), "`request_id` is required"),
            (json!({"request_id": 7}), "`request_id`"),
            (json!({"request_id": "x; drop"}), "`request_id`"),
            (json!({"request_id": "rr-1", "max_polls": 0}), "`max_polls`"),
            (
                json!({"request_id": "rr-1", "poll_interval_seconds": -1}),
                "`poll_interval_seconds`",
            ),
            (
                json!({"request_id": "rr-1", "confirmation_timeout_seconds": "1"}),
                "`confirmation_timeout_seconds`",
            ),
            (json!({"request_id": "rr-1", "mode": "rollback"}), "`mode`"),
        ] {
            let e = parse_input(&input).unwrap_err();
            assert_eq!(e.name, INVALID_INPUT);
            assert!(e.message.contains(field), "{input}: {}", e.message);
        }
    }
}
