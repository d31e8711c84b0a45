//! The intake's own settings, beside the common ones ([`lifeboat_function::config::Settings`]).

use lifeboat::execution::input::parse_input;
use lifeboat_function::config::ConfigError;

use lifeboat::request::roles::Roles;

pub const REQUESTS_TABLE: &str = "LIFEBOAT_REQUESTS_TABLE";
pub const STATE_MACHINE_ARN: &str = "LIFEBOAT_RESTORE_STATE_MACHINE_ARN";
/// Comma-separated IAM user and role ARNs.
pub const SUPPORT_PRINCIPALS: &str = "LIFEBOAT_SUPPORT_PRINCIPALS";
pub const ENGINEERING_PRINCIPALS: &str = "LIFEBOAT_ENGINEERING_PRINCIPALS";
/// Optional: how executions the intake starts poll and how long they wait for confirmation
/// (unset: the state machine's defaults, see `lifeboat::execution::input`).
pub const EXECUTION_SETTINGS: [(&str, &str); 3] = [
    ("LIFEBOAT_RESTORE_POLL_INTERVAL_SECONDS", "poll_interval_seconds"),
    ("LIFEBOAT_RESTORE_MAX_POLLS", "max_polls"),
    (
        "LIFEBOAT_RESTORE_CONFIRMATION_TIMEOUT_SECONDS",
        "confirmation_timeout_seconds",
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSettings {
    pub requests_table: String,
    pub state_machine_arn: String,
    pub roles: Roles,
    /// Fields added to every execution input besides `request_id`.
    pub execution_input: serde_json::Map<String, serde_json::Value>,
}

impl IntakeSettings {
    pub fn from_env() -> Result<IntakeSettings, ConfigError> {
        IntakeSettings::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<IntakeSettings, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let state_machine_arn = required(STATE_MACHINE_ARN)?;
        if !state_machine_arn.starts_with("arn:") || !state_machine_arn.contains(":stateMachine:") {
            return Err(ConfigError::Invalid {
                name: STATE_MACHINE_ARN,
                value: state_machine_arn,
                problem: "must be a state machine ARN (arn:…:states:…:stateMachine:…)".into(),
            });
        }
        let roles = Roles::from_lists(
            &get(SUPPORT_PRINCIPALS).unwrap_or_default(),
            &get(ENGINEERING_PRINCIPALS).unwrap_or_default(),
        );
        // An intake nobody may use is a deployment mistake, not a policy.
        if roles.support.is_empty() || roles.engineering.is_empty() {
            let name = if roles.support.is_empty() {
                SUPPORT_PRINCIPALS
            } else {
                ENGINEERING_PRINCIPALS
            };
            return Err(ConfigError::Missing(name));
        }
        let mut execution_input = serde_json::Map::new();
        for (variable, field) in EXECUTION_SETTINGS {
            if let Some(value) = get(variable).filter(|v| !v.is_empty()) {
                let number = value.parse::<u64>().map_err(|_| ConfigError::Invalid {
                    name: variable,
                    value: value.clone(),
                    problem: "must be a whole number".into(),
                })?;
                execution_input.insert(field.to_string(), number.into());
            }
        }
        // Checked as the executor will check it, so a bad value fails at start, not at approval.
        let mut probe = execution_input.clone();
        probe.insert("request_id".into(), "rr-probe".into());
        if let Err(e) = parse_input(&serde_json::Value::Object(probe)) {
            return Err(ConfigError::Invalid {
                name: "LIFEBOAT_RESTORE_*",
                value: serde_json::Value::Object(execution_input).to_string(),
                problem: e.message,
            });
        }
        Ok(IntakeSettings {
            requests_table: required(REQUESTS_TABLE)?,
            state_machine_arn,
            roles,
            execution_input,
        })
    }
}
