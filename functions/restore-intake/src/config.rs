//! The intake's own settings, beside the common ones ([`lifeboat_function::config::Settings`]).

use lifeboat::execution::input::parse_input;
use lifeboat_function::config::{ConfigError, Env};
pub use lifeboat_function::config::{ENGINEERING_PRINCIPALS, REQUESTS_TABLE};

use lifeboat::request::roles::Roles;

pub const STATE_MACHINE_ARN: &str = "LIFEBOAT_RESTORE_STATE_MACHINE_ARN";
/// Comma-separated IAM user and role ARNs.
pub const SUPPORT_PRINCIPALS: &str = "LIFEBOAT_SUPPORT_PRINCIPALS";
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
        let env = Env(get);
        let state_machine_arn = env
            .parsed(STATE_MACHINE_ARN, |arn| {
                if arn.starts_with("arn:") && arn.contains(":stateMachine:") {
                    Ok(arn.to_string())
                } else {
                    Err("must be a state machine ARN (arn:…:states:…:stateMachine:…)")
                }
            })?
            .ok_or(ConfigError::Missing(STATE_MACHINE_ARN))?;
        let roles = Roles::from_lists(
            &env.text(SUPPORT_PRINCIPALS).unwrap_or_default(),
            &env.text(ENGINEERING_PRINCIPALS).unwrap_or_default(),
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
            if let Some(number) = env.number::<u64>(variable)? {
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
            requests_table: env.required(REQUESTS_TABLE)?,
            state_machine_arn,
            roles,
            execution_input,
        })
    }
}
