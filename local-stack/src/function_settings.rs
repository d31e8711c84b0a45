//! Settings for the local stack's functions from whoever starts it (`lifeboat-local up --env`,
//! through `scripts/local-stack`): what a deployment sets through its template parameters
//! (policies with an instance's own drill checks, trusted accounts, budgets), so that the
//! functions can be tried as they would be configured in AWS.
//!
//! An entry is `KEY=VALUE` for every function, or `FUNCTION:KEY=VALUE` for one (the template
//! gives the audit its own RDS budget under the same variable, for instance); `KEY=@FILE`
//! takes the value from a file (a policy document). Only Lifeboat's own settings
//! (`LIFEBOAT_…`) and the log level are taken, and none of those by which the stack wires its
//! functions to its tables, bucket, bus, state machines and database: those are refused,
//! naming the entry, before anything starts.

use std::collections::BTreeMap;
use std::path::Path;

use crate::names::FUNCTIONS;

/// What the stack sets itself: changing it would point a function away from the stack.
const WIRED: [&str; 10] = [
    "LIFEBOAT_CATALOG_TABLE",
    "LIFEBOAT_REPORTS_BUCKET",
    "LIFEBOAT_REQUESTS_TABLE",
    "LIFEBOAT_POSTGRES_URL",
    "LIFEBOAT_S3_FORCE_PATH_STYLE",
    "LIFEBOAT_EVENT_BUS",
    "LIFEBOAT_SIMULATION",
    "LIFEBOAT_DRILL_STATE_MACHINE_ARN",
    "LIFEBOAT_RESTORE_STATE_MACHINE_ARN",
    "LIFEBOAT_ACCOUNT_ID",
];

/// The settings given, for every function and for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionSettings {
    pub all: BTreeMap<String, String>,
    pub by_function: BTreeMap<String, BTreeMap<String, String>>,
}

impl FunctionSettings {
    /// The entries of `--env` (in order: a later one wins) after those of each `--env-file`
    /// (a `KEY=VALUE` a line; blank lines and `#` comments skipped).
    pub fn parse(entries: &[String], files: &[std::path::PathBuf]) -> Result<FunctionSettings, String> {
        let mut settings = FunctionSettings::default();
        for file in files {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("--env-file {}: {e}", file.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                settings
                    .add(line, file.parent())
                    .map_err(|e| format!("--env-file {} line {}: {e}", file.display(), n + 1))?;
            }
        }
        for entry in entries {
            settings
                .add(entry, None)
                .map_err(|e| format!("--env {entry:?}: {e}"))?;
        }
        Ok(settings)
    }

    /// One entry; `@FILE` read relative to `dir` when given (an env file's own folder).
    fn add(&mut self, entry: &str, dir: Option<&Path>) -> Result<(), String> {
        let (target, value) = entry
            .split_once('=')
            .ok_or("must be KEY=VALUE or FUNCTION:KEY=VALUE")?;
        let (function, key) = match target.split_once(':') {
            Some((function, key)) if FUNCTIONS.contains(&function) => (Some(function), key),
            Some((function, _)) => {
                return Err(format!(
                    "no function {function:?}; the functions are {}",
                    FUNCTIONS.join(", ")
                ))
            }
            None => (None, target),
        };
        if !(key.starts_with("LIFEBOAT_") || key == "AWS_LAMBDA_LOG_LEVEL") {
            return Err(format!(
                "{key} is not a Lifeboat setting (LIFEBOAT_…, or AWS_LAMBDA_LOG_LEVEL)"
            ));
        }
        if WIRED.contains(&key) {
            return Err(format!(
                "{key} is set by the local stack, which wires its functions to its own resources"
            ));
        }
        let value = match value.strip_prefix('@') {
            Some(path) => {
                let path = dir.map_or_else(|| Path::new(path).to_path_buf(), |d| d.join(path));
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => value.to_string(),
        };
        let into = match function {
            Some(f) => self.by_function.entry(f.to_string()).or_default(),
            None => &mut self.all,
        };
        into.insert(key.to_string(), value);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entries: &[&str]) -> Result<FunctionSettings, String> {
        FunctionSettings::parse(&entries.iter().map(|e| e.to_string()).collect::<Vec<_>>(), &[])
    }

    #[test]
    fn settings_go_to_every_function_or_to_the_one_named_and_its_own_win() {
        let s = parse(&[
            "LIFEBOAT_TRUSTED_ACCOUNTS=111122223333",
            "LIFEBOAT_RDS_CALLS_PER_SECOND=8",
            "recovery-audit:LIFEBOAT_RDS_CALLS_PER_SECOND=3",
            "LIFEBOAT_SHARING_SWEEP_DAYS=a=b",
        ])
        .unwrap();
        let config = crate::StackConfig::from_env().with_settings(s);
        let audit = config.extra_env("recovery-audit");
        assert_eq!(audit["LIFEBOAT_RDS_CALLS_PER_SECOND"], "3");
        assert_eq!(audit["LIFEBOAT_TRUSTED_ACCOUNTS"], "111122223333");
        assert_eq!(
            audit["LIFEBOAT_SHARING_SWEEP_DAYS"], "a=b",
            "split at the first ="
        );
        assert_eq!(
            config.extra_env("snapshot-creator")["LIFEBOAT_RDS_CALLS_PER_SECOND"],
            "8"
        );
    }

    #[test]
    fn a_value_is_read_from_a_file_and_an_env_file_is_read_line_by_line() {
        let dir = std::env::temp_dir().join(format!("lifeboat-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("policies.json"), r#"[{"name": "crm"}]"#).unwrap();
        std::fs::write(
            dir.join("stack.env"),
            "# deployment-like settings\n\nLIFEBOAT_POLICIES=@policies.json\nrestore-drill:AWS_LAMBDA_LOG_LEVEL=DEBUG\n",
        )
        .unwrap();
        let s = FunctionSettings::parse(
            &["LIFEBOAT_TRUSTED_ACCOUNTS=1".to_string()],
            &[dir.join("stack.env")],
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(s.all["LIFEBOAT_POLICIES"], r#"[{"name": "crm"}]"#);
        assert_eq!(s.by_function["restore-drill"]["AWS_LAMBDA_LOG_LEVEL"], "DEBUG");
        assert_eq!(s.all["LIFEBOAT_TRUSTED_ACCOUNTS"], "1");
    }

    #[test]
    fn what_is_not_a_lifeboat_setting_or_wires_the_stack_is_refused_naming_it() {
        for (entry, says) in [
            ("LIFEBOAT_POLICIES", "KEY=VALUE"),
            ("AWS_ENDPOINT_URL=http://elsewhere", "not a Lifeboat setting"),
            ("LIFEBOAT_CATALOG_TABLE=mine", "set by the local stack"),
            (
                "restore-drill:LIFEBOAT_SIMULATION=false",
                "set by the local stack",
            ),
            (
                "restore-dril:LIFEBOAT_POLICIES=[]",
                "no function \"restore-dril\"",
            ),
            (
                "LIFEBOAT_POLICIES=@/nonexistent/policies.json",
                "/nonexistent/policies.json",
            ),
        ] {
            let e = parse(&[entry]).unwrap_err();
            assert!(e.contains(entry) && e.contains(says), "{entry}: {e}");
        }
    }
}
