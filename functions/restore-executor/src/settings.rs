//! The executor's own settings, beside the common ones
//! ([`lifeboat_function::config::Settings`]), read through the same checks: a value that is
//! set but wrong fails the function at start with the variable named, never a silent
//! default.

use std::time::Duration;

use lifeboat::execution::selective::DEFAULT_BATCH_ROWS;
use lifeboat::request::roles::Roles;
use lifeboat_aws::dynamodb_copy_back::WriteBounds;
use lifeboat_aws::dynamodb_restore::CopyBackSettings;
use lifeboat_function::config::{
    ConfigError, Env, Settings, ENGINEERING_PRINCIPALS, REPORTS_BUCKET, REQUESTS_TABLE,
};

/// The local stack's PostgreSQL server (a database per RDS instance). Unset in AWS.
pub const POSTGRES_URL: &str = "LIFEBOAT_POSTGRES_URL";
/// In AWS: the RDS certificate bundle (PEM) database connections are verified against.
pub const DB_CA_BUNDLE: &str = "LIFEBOAT_DB_CA_BUNDLE";
const DEFAULT_DB_CA_BUNDLE: &str = "/opt/rds-global-bundle.pem";
/// Rows per extract batch, and how long one merge invocation starts batches for.
pub const MERGE_BATCH_ROWS: &str = "LIFEBOAT_MERGE_BATCH_ROWS";
pub const MERGE_BUDGET_SECONDS: &str = "LIFEBOAT_MERGE_BUDGET_SECONDS";
/// How long one invocation runs a copy-back shard, and how many items a scanned page holds
/// (unset: DynamoDB's 1 MB pages).
pub const COPY_BACK_BUDGET_SECONDS: &str = "LIFEBOAT_COPY_BACK_BUDGET_SECONDS";
pub const COPY_BACK_PAGE_ITEMS: &str = "LIFEBOAT_COPY_BACK_PAGE_ITEMS";
/// How long a copy-back's write batch may go on after the fence read that let it through
/// (default 60 s; an undo waits that and half again after fencing), and the largest table a
/// rollback copies back (default 150 GiB).
pub const COPY_BACK_WRITE_SECONDS: &str = "LIFEBOAT_COPY_BACK_WRITE_SECONDS";
pub const COPY_BACK_MAX_GIB: &str = "LIFEBOAT_COPY_BACK_MAX_GIB";

/// Both budgets' default: well inside the function's 15-minute timeout.
const DEFAULT_BUDGET: Duration = Duration::from_secs(600);

#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    pub common: Settings,
    pub reports_bucket: String,
    pub requests_table: String,
    /// Who may confirm a restore (the same list the intake reads).
    pub roles: Roles,
    pub postgres_url: Option<String>,
    pub db_ca_bundle: String,
    pub batch_rows: u64,
    pub merge_budget: Duration,
    pub shard_budget: Duration,
    pub copy_back: CopyBackSettings,
}

impl ExecutorSettings {
    pub fn from_env() -> Result<ExecutorSettings, ConfigError> {
        ExecutorSettings::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<ExecutorSettings, ConfigError> {
        let common = Settings::from_lookup(&get)?;
        let env = Env(get);
        let reports_bucket = (common.reports_bucket.clone()).ok_or(ConfigError::Missing(REPORTS_BUCKET))?;
        let requests_table = env.required(REQUESTS_TABLE)?;
        let roles = Roles::from_lists("", &env.text(ENGINEERING_PRINCIPALS).unwrap_or_default());
        // Nobody could confirm a restore: a deployment mistake, not a policy.
        if roles.engineering.is_empty() {
            return Err(ConfigError::Missing(ENGINEERING_PRINCIPALS));
        }
        // Zero is a budget too: each invocation then starts one batch (or page) and returns.
        let seconds = |name| Ok::<_, ConfigError>(env.number(name)?.map(Duration::from_secs));
        let defaults = CopyBackSettings::default();
        let copy_back = CopyBackSettings {
            page_items: env.parsed(COPY_BACK_PAGE_ITEMS, |v| {
                v.parse::<i32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("must be a whole number above 0")
            })?,
            bounds: env
                .positive(COPY_BACK_WRITE_SECONDS)?
                .map_or(defaults.bounds, |seconds| {
                    WriteBounds::of_batch(Duration::from_secs(seconds))
                }),
            max_bytes: env
                .positive(COPY_BACK_MAX_GIB)?
                .map_or(Ok(defaults.max_bytes), |gib| {
                    gib.checked_mul(1 << 30).ok_or_else(|| ConfigError::Invalid {
                        name: COPY_BACK_MAX_GIB,
                        value: gib.to_string(),
                        problem: "is too large".into(),
                    })
                })?,
        };
        Ok(ExecutorSettings {
            reports_bucket,
            requests_table,
            roles,
            postgres_url: env.text(POSTGRES_URL),
            db_ca_bundle: env
                .text(DB_CA_BUNDLE)
                .unwrap_or_else(|| DEFAULT_DB_CA_BUNDLE.into()),
            batch_rows: env.positive(MERGE_BATCH_ROWS)?.unwrap_or(DEFAULT_BATCH_ROWS),
            merge_budget: seconds(MERGE_BUDGET_SECONDS)?.unwrap_or(DEFAULT_BUDGET),
            shard_budget: seconds(COPY_BACK_BUDGET_SECONDS)?.unwrap_or(DEFAULT_BUDGET),
            copy_back,
            common,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat_function::config::CATALOG_TABLE;
    use std::collections::HashMap;

    const REQUIRED: [(&str, &str); 4] = [
        (CATALOG_TABLE, "catalog"),
        (REPORTS_BUCKET, "reports"),
        (REQUESTS_TABLE, "requests"),
        (ENGINEERING_PRINCIPALS, "arn:aws:iam::111122223333:user/eng"),
    ];

    fn settings(extra: &[(&str, &str)]) -> Result<ExecutorSettings, ConfigError> {
        let vars: HashMap<String, String> = REQUIRED
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExecutorSettings::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_when_only_the_required_are_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.batch_rows, DEFAULT_BATCH_ROWS);
        assert_eq!(s.merge_budget, DEFAULT_BUDGET);
        assert_eq!(s.copy_back.max_bytes, CopyBackSettings::default().max_bytes);
        assert_eq!(s.db_ca_bundle, DEFAULT_DB_CA_BUNDLE);
        assert!(s.postgres_url.is_none());
    }

    #[test]
    fn values_are_read() {
        let s = settings(&[
            (MERGE_BATCH_ROWS, "500"),
            (MERGE_BUDGET_SECONDS, "0"),
            (COPY_BACK_BUDGET_SECONDS, "30"),
            (COPY_BACK_PAGE_ITEMS, "25"),
            (COPY_BACK_WRITE_SECONDS, "4"),
            (COPY_BACK_MAX_GIB, "2"),
        ])
        .unwrap();
        assert_eq!(s.batch_rows, 500);
        assert_eq!(s.merge_budget, Duration::ZERO, "one batch per invocation");
        assert_eq!(s.shard_budget, Duration::from_secs(30));
        assert_eq!(s.copy_back.page_items, Some(25));
        assert_eq!(s.copy_back.bounds.batch, Duration::from_secs(4));
        assert_eq!(
            s.copy_back.bounds.undo_wait(),
            Duration::from_secs(6),
            "an undo waits the bound and half again"
        );
        assert_eq!(s.copy_back.max_bytes, 2 << 30);
    }

    #[test]
    fn a_bad_value_names_its_variable_instead_of_becoming_the_default() {
        for (name, value) in [
            (MERGE_BATCH_ROWS, "lots"),
            (MERGE_BATCH_ROWS, "0"),
            (MERGE_BUDGET_SECONDS, "-5"),
            (COPY_BACK_BUDGET_SECONDS, "1.5"),
            (COPY_BACK_PAGE_ITEMS, "0"),
            (COPY_BACK_WRITE_SECONDS, "0"),
            (COPY_BACK_MAX_GIB, "99999999999999"),
        ] {
            let e = settings(&[(name, value)]).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Invalid { name: n, .. } if *n == name),
                "{name}={value}: {e}"
            );
        }
    }

    #[test]
    fn the_requests_table_and_engineering_are_required() {
        for missing in [REQUESTS_TABLE, ENGINEERING_PRINCIPALS, REPORTS_BUCKET] {
            let vars: HashMap<&str, &str> = REQUIRED.iter().copied().filter(|(k, _)| *k != missing).collect();
            let e = ExecutorSettings::from_lookup(|k| vars.get(k).map(|v| v.to_string())).unwrap_err();
            assert_eq!(e, ConfigError::Missing(missing));
        }
    }
}
