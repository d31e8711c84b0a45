//! The intake's own settings, beside the common ones ([`lifeboat::config::Settings`]).

use lifeboat::config::ConfigError;

use crate::roles::Roles;

pub const REQUESTS_TABLE: &str = "LIFEBOAT_REQUESTS_TABLE";
pub const STATE_MACHINE_ARN: &str = "LIFEBOAT_RESTORE_STATE_MACHINE_ARN";
/// Comma-separated IAM user and role ARNs.
pub const SUPPORT_PRINCIPALS: &str = "LIFEBOAT_SUPPORT_PRINCIPALS";
pub const ENGINEERING_PRINCIPALS: &str = "LIFEBOAT_ENGINEERING_PRINCIPALS";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeSettings {
    pub requests_table: String,
    pub state_machine_arn: String,
    pub roles: Roles,
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
        Ok(IntakeSettings {
            requests_table: required(REQUESTS_TABLE)?,
            state_machine_arn,
            roles,
        })
    }
}
