//! The audit's own settings, beside the common ones, read through the same checks.

use lifeboat_function::config::{ConfigError, Env, Settings, REPORTS_BUCKET};

/// The account the audit runs in: the one `restore` value that is not an exposure. The
/// template sets it from `AWS::AccountId`.
pub const ACCOUNT_ID: &str = "LIFEBOAT_ACCOUNT_ID";
/// Comma-separated account ids trusted with the company's backups (a disaster-recovery
/// account): sharing with them is not an exposure. Empty by default.
pub const TRUSTED_ACCOUNTS: &str = "LIFEBOAT_TRUSTED_ACCOUNTS";
/// The days over which the daily audits read every managed snapshot's sharing once (1 to
/// 31, 7 by default): a larger fleet spreads the calls over more days.
pub const SHARING_SWEEP_DAYS: &str = "LIFEBOAT_SHARING_SWEEP_DAYS";

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub common: Settings,
    pub reports_bucket: String,
    pub account: String,
    pub trusted_accounts: Vec<String>,
    pub sweep_days: u32,
}

impl AuditSettings {
    pub fn from_env() -> Result<AuditSettings, ConfigError> {
        AuditSettings::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<AuditSettings, ConfigError> {
        let common = Settings::from_lookup(&get)?;
        let env = Env(get);
        let reports_bucket = (common.reports_bucket.clone()).ok_or(ConfigError::Missing(REPORTS_BUCKET))?;
        let account = env
            .parsed(ACCOUNT_ID, |v| {
                if is_account_id(v) {
                    Ok(v.to_string())
                } else {
                    Err("must be a 12-digit AWS account id")
                }
            })?
            .ok_or(ConfigError::Missing(ACCOUNT_ID))?;
        let trusted_accounts = env
            .parsed(TRUSTED_ACCOUNTS, |v| {
                let ids: Vec<String> = v.split(',').map(|id| id.trim().to_string()).collect();
                if ids.iter().all(|id| is_account_id(id)) {
                    Ok(ids)
                } else {
                    Err("must be 12-digit AWS account ids separated by commas")
                }
            })?
            .unwrap_or_default();
        let sweep_days = env
            .parsed(SHARING_SWEEP_DAYS, |v| match v.parse::<u32>() {
                Ok(n) if (1..=31).contains(&n) => Ok(n),
                _ => Err("must be a whole number of days from 1 to 31"),
            })?
            .unwrap_or(7);
        Ok(AuditSettings {
            common,
            reports_bucket,
            account,
            trusted_accounts,
            sweep_days,
        })
    }
}

fn is_account_id(v: &str) -> bool {
    v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
    }

    #[test]
    fn the_account_is_required_and_must_be_an_account_id() {
        let base = [("LIFEBOAT_CATALOG_TABLE", "c"), ("LIFEBOAT_REPORTS_BUCKET", "r")];
        assert_eq!(
            AuditSettings::from_lookup(lookup(&base)).unwrap_err(),
            ConfigError::Missing(ACCOUNT_ID)
        );
        let bad = [base[0], base[1], (ACCOUNT_ID, "12345")];
        let e = AuditSettings::from_lookup(lookup(&bad)).unwrap_err().to_string();
        assert!(e.contains(ACCOUNT_ID) && e.contains("12-digit"), "{e}");
        let good = [base[0], base[1], (ACCOUNT_ID, "123456789012")];
        assert_eq!(
            AuditSettings::from_lookup(lookup(&good)).unwrap().account,
            "123456789012"
        );
        assert_eq!(AuditSettings::from_lookup(lookup(&good)).unwrap().sweep_days, 7);
        for (days, ok) in [("30", true), ("0", false), ("32", false), ("a week", false)] {
            let set = [good[0], good[1], good[2], (SHARING_SWEEP_DAYS, days)];
            match AuditSettings::from_lookup(lookup(&set)) {
                Ok(s) => assert!(ok && s.sweep_days.to_string() == days, "{days}"),
                Err(e) => assert!(!ok && e.to_string().contains(SHARING_SWEEP_DAYS), "{days}: {e}"),
            }
        }
    }
}
