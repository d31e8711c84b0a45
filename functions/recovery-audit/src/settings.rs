//! The audit's own settings, beside the common ones, read through the same checks.

use lifeboat_function::config::{ConfigError, Env, Settings, REPORTS_BUCKET};

/// The account the audit runs in: the one `restore` value that is not an exposure. The
/// template sets it from `AWS::AccountId`.
pub const ACCOUNT_ID: &str = "LIFEBOAT_ACCOUNT_ID";

#[derive(Debug, Clone)]
pub struct AuditSettings {
    pub common: Settings,
    pub reports_bucket: String,
    pub account: String,
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
                if v.len() == 12 && v.bytes().all(|b| b.is_ascii_digit()) {
                    Ok(v.to_string())
                } else {
                    Err("must be a 12-digit AWS account id")
                }
            })?
            .ok_or(ConfigError::Missing(ACCOUNT_ID))?;
        Ok(AuditSettings {
            common,
            reports_bucket,
            account,
        })
    }
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
    }
}
