//! Settings every function reads once at start, from its environment.
//!
//! Read and validated in one place so that a misconfigured deployment fails at its first
//! invocation with the variable's name, instead of half-way through a tick.

use lifeboat::policy::{PolicyBook, PolicyError};
use lifeboat_aws::TlsTrust;

use crate::pacing::Budget;

pub const CATALOG_TABLE: &str = "LIFEBOAT_CATALOG_TABLE";
pub const REPORTS_BUCKET: &str = "LIFEBOAT_REPORTS_BUCKET";
pub const POLICIES: &str = "LIFEBOAT_POLICIES";
pub const SIMULATION: &str = "LIFEBOAT_SIMULATION";
pub const MAX_DELETIONS_PER_RESOURCE: &str = "LIFEBOAT_MAX_DELETIONS_PER_RESOURCE";
pub const DRY_RUN: &str = "LIFEBOAT_DRY_RUN";
pub const S3_FORCE_PATH_STYLE: &str = "LIFEBOAT_S3_FORCE_PATH_STYLE";
pub const TLS_TRUST: &str = "LIFEBOAT_TLS_TRUST";
/// Resources per shard of a fanned-out tick, and how many shards run at once.
pub const SHARD_SIZE: &str = "LIFEBOAT_SHARD_SIZE";
pub const SHARD_CONCURRENCY: &str = "LIFEBOAT_SHARD_CONCURRENCY";
/// Calls a second the scheduled functions make, together (see [`crate::pacing::Budget`]).
pub const RDS_CALLS_PER_SECOND: &str = "LIFEBOAT_RDS_CALLS_PER_SECOND";
pub const DYNAMODB_LIST_BACKUPS_PER_SECOND: &str = "LIFEBOAT_DYNAMODB_LIST_BACKUPS_PER_SECOND";
pub const DYNAMODB_CREATE_BACKUPS_PER_SECOND: &str = "LIFEBOAT_DYNAMODB_CREATE_BACKUPS_PER_SECOND";
/// The restore requests table (the intake writes it, the executor works from it).
pub const REQUESTS_TABLE: &str = "LIFEBOAT_REQUESTS_TABLE";
/// Comma-separated IAM user and role ARNs of engineering: who decides and confirms restores.
pub const ENGINEERING_PRINCIPALS: &str = "LIFEBOAT_ENGINEERING_PRINCIPALS";
/// The EventBridge bus status events go to (a name or an ARN), `default` when unset.
pub const EVENT_BUS: &str = "LIFEBOAT_EVENT_BUS";
pub const DEFAULT_EVENT_BUS: &str = "default";

/// The pruner's bound per resource and run when none is configured: a normal hour expires
/// one point per resource, three when an hourly, a weekly and a monthly point expire
/// together; twice that lets a backlog drain while capping what one bad run can delete.
pub const DEFAULT_MAX_DELETIONS_PER_RESOURCE: usize = 6;

/// How a tick is split (see `lifeboat::fanout`). The defaults: shards of 50 resources, a
/// few minutes' work each, 4 at once, which keeps a fleet's calls within RDS's account
/// budget of 12 a second (see the README's sizing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fanout {
    pub shard_size: usize,
    pub concurrency: u32,
}

impl Default for Fanout {
    fn default() -> Self {
        Fanout {
            shard_size: 50,
            concurrency: 4,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub catalog_table: String,
    pub reports_bucket: Option<String>,
    pub policies: PolicyBook,
    /// Set only by the local stack and tests: lifts the guard against future event times.
    pub simulation: bool,
    pub max_deletions_per_resource: usize,
    pub dry_run: bool,
    pub fanout: Fanout,
    pub budget: Budget,
    pub s3_force_path_style: bool,
    pub tls_trust: TlsTrust,
    /// Where status events go (see [`crate::status_events`]).
    pub event_bus: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} = {value:?}: {problem}")]
    Invalid {
        name: &'static str,
        value: String,
        problem: String,
    },
}

impl Settings {
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let env = Env(get);
        let policies = env
            .parsed(POLICIES, |text| match text.trim() {
                // Blank, as a template passes an unset parameter: no extra policies.
                "" => Ok(PolicyBook::default()),
                text => PolicyBook::from_json(text).map_err(|e: PolicyError| e.to_string()),
            })?
            .unwrap_or_default();
        let tls_trust = env
            .parsed(TLS_TRUST, |v| {
                TlsTrust::parse(v).ok_or("must be amazon or system")
            })?
            .unwrap_or_default();
        Ok(Settings {
            catalog_table: env.required(CATALOG_TABLE)?,
            reports_bucket: env.text(REPORTS_BUCKET),
            policies,
            simulation: env.flag(SIMULATION)?,
            max_deletions_per_resource: env
                .number(MAX_DELETIONS_PER_RESOURCE)?
                .unwrap_or(DEFAULT_MAX_DELETIONS_PER_RESOURCE),
            dry_run: env.flag(DRY_RUN)?,
            fanout: Fanout {
                shard_size: env
                    .positive(SHARD_SIZE)?
                    .map_or(Fanout::default().shard_size, |n| n as usize),
                concurrency: env
                    .positive(SHARD_CONCURRENCY)?
                    .map_or(Fanout::default().concurrency, |n| {
                        n.min(u64::from(u32::MAX)) as u32
                    }),
            },
            budget: {
                let rate = |name, default: f64| {
                    Ok::<_, ConfigError>(env.positive(name)?.map_or(default, |n| n as f64))
                };
                let defaults = Budget::default();
                Budget {
                    rds: rate(RDS_CALLS_PER_SECOND, defaults.rds)?,
                    dynamodb_list_backups: rate(
                        DYNAMODB_LIST_BACKUPS_PER_SECOND,
                        defaults.dynamodb_list_backups,
                    )?,
                    dynamodb_create_backup: rate(
                        DYNAMODB_CREATE_BACKUPS_PER_SECOND,
                        defaults.dynamodb_create_backup,
                    )?,
                }
            },
            s3_force_path_style: env.flag(S3_FORCE_PATH_STYLE)?,
            tls_trust,
            event_bus: env
                .parsed(EVENT_BUS, |bus| {
                    let name = bus.rsplit(":event-bus/").next().unwrap_or(bus);
                    let valid = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
                    if bus.len() <= 1600 && !name.is_empty() && name.len() <= 256 && name.chars().all(valid) {
                        Ok(bus.to_string())
                    } else {
                        Err("must be an EventBridge bus name (letters, digits, . _ - /) or its ARN")
                    }
                })?
                .unwrap_or_else(|| DEFAULT_EVENT_BUS.to_string()),
        })
    }
}

/// The one way settings are read: a variable that is set but cannot be understood is an
/// error naming it, never a silent default. An empty value counts as unset.
pub struct Env<F>(pub F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    /// The variable's value, if set and not empty. A value of spaces is a value, and an
    /// invalid one for numbers and flags: it is refused, never read as unset.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.text(name).ok_or(ConfigError::Missing(name))
    }

    /// The variable read by `parse`, whose error says what the value must be.
    pub fn parsed<T, P: std::fmt::Display>(
        &self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, P>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.text(name) else {
            return Ok(None);
        };
        parse(&value).map(Some).map_err(|problem| ConfigError::Invalid {
            name,
            // Enough to recognise the value in a log, not a whole policy document.
            value: value.chars().take(80).collect(),
            problem: problem.to_string(),
        })
    }

    /// A whole number (zero included).
    pub fn number<T: std::str::FromStr>(&self, name: &'static str) -> Result<Option<T>, ConfigError> {
        self.parsed(name, |v| v.parse().map_err(|_| "must be a whole number"))
    }

    /// A whole number above zero: a count or a duration that zero would make meaningless.
    pub fn positive(&self, name: &'static str) -> Result<Option<u64>, ConfigError> {
        self.parsed(name, |v| match v.parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err("must be a whole number above 0"),
        })
    }

    pub fn flag(&self, name: &'static str) -> Result<bool, ConfigError> {
        Ok(self
            .parsed(name, |v| match v {
                "0" | "false" => Ok(false),
                "1" | "true" => Ok(true),
                _ => Err("must be true or false"),
            })?
            .unwrap_or(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn the_catalog_table_is_required() {
        assert_eq!(settings(&[]).unwrap_err(), ConfigError::Missing(CATALOG_TABLE));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = settings(&[(CATALOG_TABLE, "c"), (MAX_DELETIONS_PER_RESOURCE, "many")]).unwrap_err();
        assert!(e.to_string().contains(MAX_DELETIONS_PER_RESOURCE));
        let e = settings(&[(CATALOG_TABLE, "c"), (POLICIES, "[{\"name\":\"x\"}]")]).unwrap_err();
        assert!(e.to_string().contains(POLICIES));
        let e = settings(&[(CATALOG_TABLE, "c"), (SIMULATION, "yes")]).unwrap_err();
        assert!(e.to_string().contains(SIMULATION));
        let e = settings(&[(CATALOG_TABLE, "c"), (TLS_TRUST, "everyone")]).unwrap_err();
        assert!(e.to_string().contains(TLS_TRUST));
        let e = settings(&[(CATALOG_TABLE, "c"), (EVENT_BUS, "my bus")]).unwrap_err();
        assert!(e.to_string().contains(EVENT_BUS));
    }

    #[test]
    fn an_empty_value_is_unset_but_spaces_are_refused() {
        let s = settings(&[
            (CATALOG_TABLE, "c"),
            (DRY_RUN, ""),
            (MAX_DELETIONS_PER_RESOURCE, ""),
        ])
        .unwrap();
        assert!(!s.dry_run);
        assert_eq!(s.max_deletions_per_resource, DEFAULT_MAX_DELETIONS_PER_RESOURCE);
        for name in [DRY_RUN, MAX_DELETIONS_PER_RESOURCE] {
            let e = settings(&[(CATALOG_TABLE, "c"), (name, " ")]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
        assert!(
            settings(&[(CATALOG_TABLE, "c"), (POLICIES, "  ")]).is_ok(),
            "no extra policies"
        );
    }

    #[test]
    fn defaults_are_safe() {
        let s = settings(&[(CATALOG_TABLE, "c")]).unwrap();
        assert!(!s.simulation);
        assert!(!s.dry_run);
        assert_eq!(s.max_deletions_per_resource, DEFAULT_MAX_DELETIONS_PER_RESOURCE);
        assert_eq!(s.event_bus, "default");
    }

    #[test]
    fn the_event_bus_is_a_name_or_an_arn() {
        for bus in [
            "support-events",
            "arn:aws:events:us-east-1:111122223333:event-bus/support-events",
        ] {
            assert_eq!(
                settings(&[(CATALOG_TABLE, "c"), (EVENT_BUS, bus)])
                    .unwrap()
                    .event_bus,
                bus
            );
        }
    }
}
