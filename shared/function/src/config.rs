//! Settings every function reads once at start, from its environment.
//!
//! Read and validated in one place so that a misconfigured deployment fails at its first
//! invocation with the variable's name, instead of half-way through a tick.

use lifeboat::policy::{PolicyBook, PolicyError};
use lifeboat_aws::TlsTrust;

pub const CATALOG_TABLE: &str = "LIFEBOAT_CATALOG_TABLE";
pub const REPORTS_BUCKET: &str = "LIFEBOAT_REPORTS_BUCKET";
pub const POLICIES: &str = "LIFEBOAT_POLICIES";
pub const SIMULATION: &str = "LIFEBOAT_SIMULATION";
pub const MAX_DELETIONS_PER_RUN: &str = "LIFEBOAT_MAX_DELETIONS_PER_RUN";
pub const DRY_RUN: &str = "LIFEBOAT_DRY_RUN";
pub const S3_FORCE_PATH_STYLE: &str = "LIFEBOAT_S3_FORCE_PATH_STYLE";
pub const TLS_TRUST: &str = "LIFEBOAT_TLS_TRUST";

/// The pruner's bound when none is configured: a normal hour deletes about one point per
/// resource, so this covers a fleet of hundreds while capping the damage of a bad run.
pub const DEFAULT_MAX_DELETIONS_PER_RUN: usize = 500;

#[derive(Debug, Clone)]
pub struct Settings {
    pub catalog_table: String,
    pub reports_bucket: Option<String>,
    pub policies: PolicyBook,
    /// Set only by the local stack and tests: lifts the guard against future event times.
    pub simulation: bool,
    pub max_deletions_per_run: usize,
    pub dry_run: bool,
    pub s3_force_path_style: bool,
    pub tls_trust: TlsTrust,
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
        let catalog_table = get(CATALOG_TABLE)
            .filter(|v| !v.is_empty())
            .ok_or(ConfigError::Missing(CATALOG_TABLE))?;
        let policies = match get(POLICIES).filter(|v| !v.trim().is_empty()) {
            None => PolicyBook::default(),
            Some(text) => PolicyBook::from_json(&text).map_err(|e: PolicyError| ConfigError::Invalid {
                name: POLICIES,
                value: text.chars().take(80).collect(),
                problem: e.to_string(),
            })?,
        };
        let max_deletions_per_run = match get(MAX_DELETIONS_PER_RUN) {
            None => DEFAULT_MAX_DELETIONS_PER_RUN,
            Some(v) => v.parse().map_err(|_| ConfigError::Invalid {
                name: MAX_DELETIONS_PER_RUN,
                value: v.clone(),
                problem: "must be a whole number".into(),
            })?,
        };
        let tls_trust = match get(TLS_TRUST).filter(|v| !v.is_empty()) {
            None => TlsTrust::default(),
            Some(v) => TlsTrust::parse(&v).ok_or_else(|| ConfigError::Invalid {
                name: TLS_TRUST,
                value: v.clone(),
                problem: "must be amazon or system".into(),
            })?,
        };
        Ok(Settings {
            catalog_table,
            reports_bucket: get(REPORTS_BUCKET).filter(|v| !v.is_empty()),
            policies,
            simulation: flag(&get, SIMULATION)?,
            max_deletions_per_run,
            dry_run: flag(&get, DRY_RUN)?,
            s3_force_path_style: flag(&get, S3_FORCE_PATH_STYLE)?,
            tls_trust,
        })
    }
}

fn flag(get: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<bool, ConfigError> {
    match get(name).as_deref() {
        None | Some("") | Some("0") | Some("false") => Ok(false),
        Some("1") | Some("true") => Ok(true),
        Some(other) => Err(ConfigError::Invalid {
            name,
            value: other.to_string(),
            problem: "must be true or false".into(),
        }),
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
        let e = settings(&[(CATALOG_TABLE, "c"), (MAX_DELETIONS_PER_RUN, "many")]).unwrap_err();
        assert!(e.to_string().contains(MAX_DELETIONS_PER_RUN));
        let e = settings(&[(CATALOG_TABLE, "c"), (POLICIES, "[{\"name\":\"x\"}]")]).unwrap_err();
        assert!(e.to_string().contains(POLICIES));
        let e = settings(&[(CATALOG_TABLE, "c"), (SIMULATION, "yes")]).unwrap_err();
        assert!(e.to_string().contains(SIMULATION));
        let e = settings(&[(CATALOG_TABLE, "c"), (TLS_TRUST, "everyone")]).unwrap_err();
        assert!(e.to_string().contains(TLS_TRUST));
    }

    #[test]
    fn defaults_are_safe() {
        let s = settings(&[(CATALOG_TABLE, "c")]).unwrap();
        assert!(!s.simulation);
        assert!(!s.dry_run);
        assert_eq!(s.max_deletions_per_run, DEFAULT_MAX_DELETIONS_PER_RUN);
    }
}
