//! What a drill checks in its sandbox: the schema and row counts against production's at
//! the time of the check, and an instance's own checks from its policy document
//! (`"drill": {"checks": [...]}`), each read-only.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An instance's own drill checks, in its policy document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillSpec {
    #[serde(default)]
    pub checks: Vec<DrillCheck>,
}

/// One check: a SQL query whose single number must reach a floor (PostgreSQL), or a key
/// that must be found (DynamoDB, in DynamoDB's JSON: `{"pk": {"S": "contact#1"}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum DrillCheck {
    Sql {
        sql: String,
        at_least: i64,
    },
    Key {
        table: Option<String>,
        key: Map<String, Value>,
    },
}

/// Why a check cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("drill.checks[{index}]: {problem}")]
pub struct CheckError {
    pub index: usize,
    pub problem: String,
}

impl DrillSpec {
    /// Checks every check; each runs read-only in a read-only transaction too, but a check
    /// that is not a single query is refused before any drill.
    pub fn validate(&self) -> Result<(), CheckError> {
        for (index, check) in self.checks.iter().enumerate() {
            let error = |problem: &str| CheckError {
                index,
                problem: problem.to_string(),
            };
            match check {
                DrillCheck::Sql { sql, at_least } => {
                    let text = sql.trim().trim_end_matches(';').trim();
                    let first = text.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
                    if !matches!(first.as_str(), "select" | "with") {
                        return Err(error("`sql` must be one query starting with SELECT or WITH"));
                    }
                    if text.contains(';') {
                        return Err(error("`sql` must be a single statement"));
                    }
                    if *at_least < 0 {
                        return Err(error("`at_least` must be 0 or more"));
                    }
                }
                DrillCheck::Key { key, .. } => {
                    if key.is_empty() || key.values().any(|v| !v.is_object()) {
                        return Err(error(
                            "`key` must map each key attribute to a DynamoDB JSON value ({\"S\": \"...\"})",
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// One comparison or check and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// A database's tables and their columns.
pub type Schema = BTreeMap<String, BTreeSet<String>>;

/// The sandbox's schema against production's. A production table missing from the sandbox
/// fails: it was lost, or created after the point was taken, and a drill cannot tell which
/// (a restore that yields an empty database must never pass). Columns added or dropped since
/// the point, and tables dropped from production since, are reported, not failed.
pub fn compare_schema(production: &Schema, sandbox: &Schema) -> Vec<CheckResult> {
    production
        .iter()
        .map(|(table, columns)| match sandbox.get(table) {
            None => CheckResult {
                name: format!("schema {table}"),
                passed: false,
                detail: "in production, missing from the restored point (lost, or created after the point was taken)"
                    .into(),
            },
            Some(restored) => {
                let missing: Vec<&String> = restored.difference(columns).collect();
                let newer: Vec<&String> = columns.difference(restored).collect();
                CheckResult {
                    name: format!("schema {table}"),
                    passed: true,
                    detail: match (missing.is_empty(), newer.is_empty()) {
                        (true, true) => format!("{} columns, as production's", columns.len()),
                        _ => format!("columns since dropped: {missing:?}; columns added since: {newer:?}"),
                    },
                }
            }
        })
        .chain(
            sandbox
                .keys()
                .filter(|t| !production.contains_key(*t))
                .map(|table| CheckResult {
                    name: format!("schema {table}"),
                    passed: true,
                    detail: "in the restored point, dropped from production since".into(),
                }),
        )
        .collect()
}

/// Production's row count of a table as a drill could read it, and what gave it: a drill
/// names its source in every comparison, because a count that is only an estimate (or none)
/// must never read as a comparison made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveCount {
    Known {
        rows: u64,
        from: &'static str,
    },
    /// Nothing gave a figure, for this reason: the table is not compared, which fails.
    Unknown(String),
}

/// Row counts of the sandbox against production's now, as ratios. A table empty in the
/// sandbox but not in production fails the drill (a restore that yields an empty database
/// is no restore); a table that cannot be counted (`None`), in the sandbox or in production,
/// fails it too.
pub fn compare_counts(
    production: &BTreeMap<String, LiveCount>,
    sandbox: &BTreeMap<String, Option<u64>>,
) -> Vec<CheckResult> {
    sandbox
        .iter()
        .map(|(table, restored)| {
            let (passed, detail) = match (restored, production.get(table)) {
                (None, _) => (false, "could not be read in the sandbox".to_string()),
                (Some(n), None) => (true, format!("{n} rows (production has no such table)")),
                (Some(n), Some(LiveCount::Unknown(why))) => (
                    false,
                    format!("{n} rows; production's could not be counted ({why}): not compared"),
                ),
                (Some(0), Some(LiveCount::Known { rows, from })) if *rows > 0 => (
                    false,
                    format!("empty in the sandbox, {rows} rows in production ({from})"),
                ),
                (Some(n), Some(LiveCount::Known { rows, from })) if *rows > 0 => (
                    true,
                    format!(
                        "{n} rows, {:.2} of production's {rows} ({from})",
                        *n as f64 / *rows as f64
                    ),
                ),
                (Some(n), Some(LiveCount::Known { from, .. })) => {
                    (true, format!("{n} rows; production has none now ({from})"))
                }
            };
            CheckResult {
                name: format!("rows {table}"),
                passed,
                detail,
            }
        })
        .collect()
}

/// The outcome of an instance's own SQL check: `found` is the number the query returned
/// (`None`: it failed or returned no number, which fails).
pub fn sql_check(index: usize, sql: &str, at_least: i64, found: Result<i64, String>) -> CheckResult {
    let (passed, detail) = match found {
        Ok(n) if n >= at_least => (true, format!("{n} (at least {at_least})")),
        Ok(n) => (false, format!("{n}, below the floor of {at_least}")),
        Err(e) => (false, format!("failed: {e}")),
    };
    CheckResult {
        name: format!("check {index}: {sql}"),
        passed,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_policy_s_checks_read_as_sql_floors_or_keys() {
        let spec: DrillSpec = serde_json::from_value(json!({"checks": [
            {"sql": "select count(*) from contacts", "at_least": 1},
            {"key": {"pk": {"S": "contact#1"}}}
        ]}))
        .unwrap();
        assert!(matches!(spec.checks[0], DrillCheck::Sql { at_least: 1, .. }));
        assert!(matches!(spec.checks[1], DrillCheck::Key { .. }));
        assert_eq!(spec.validate(), Ok(()));
    }

    #[test]
    fn a_check_that_could_write_or_is_malformed_is_refused_with_its_place_named() {
        for (check, problem) in [
            (
                json!({"sql": "delete from contacts", "at_least": 0}),
                "SELECT or WITH",
            ),
            (
                json!({"sql": "select 1; drop table contacts", "at_least": 0}),
                "single statement",
            ),
            (json!({"sql": "select 1", "at_least": -1}), "0 or more"),
            (json!({"key": {}}), "DynamoDB JSON"),
            (json!({"key": {"pk": "contact#1"}}), "DynamoDB JSON"),
        ] {
            let spec: DrillSpec =
                serde_json::from_value(json!({"checks": [{"sql": "select 1", "at_least": 0}, check]}))
                    .unwrap();
            let e = spec.validate().unwrap_err();
            assert_eq!(e.index, 1);
            assert!(e.to_string().contains(problem), "{e}");
        }
        assert!(serde_json::from_value::<DrillSpec>(json!({"checks": [{"sql": "select 1"}]})).is_err());
    }

    #[test]
    fn an_empty_sandbox_table_fails_where_production_has_rows_and_ratios_are_reported() {
        let known = |rows| LiveCount::Known {
            rows,
            from: "pg_stat_user_tables.n_live_tup",
        };
        let production = BTreeMap::from([
            ("contacts".to_string(), known(5000)),
            ("notes".into(), known(0)),
            ("orders".into(), known(10)),
            ("huge".into(), LiveCount::Unknown("count(*) took over 5s".into())),
        ]);
        let sandbox = BTreeMap::from([
            ("contacts".to_string(), Some(4000)),
            ("notes".into(), Some(0)),
            ("orders".into(), Some(0)),
            ("audit".into(), None),
            ("huge".into(), Some(7)),
            ("old".into(), Some(3)),
        ]);
        let results: BTreeMap<String, CheckResult> = compare_counts(&production, &sandbox)
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        let contacts = &results["rows contacts"];
        assert!(
            contacts.passed && contacts.detail.contains("0.80"),
            "{contacts:?}"
        );
        assert!(
            contacts.detail.contains("n_live_tup"),
            "names its source: {contacts:?}"
        );
        assert!(results["rows notes"].passed);
        assert!(!results["rows orders"].passed && results["rows orders"].detail.contains("empty"));
        assert!(!results["rows audit"].passed);
        let huge = &results["rows huge"];
        assert!(
            !huge.passed && huge.detail.contains("not compared"),
            "never passes uncompared: {huge:?}"
        );
        assert!(results["rows old"].passed && results["rows old"].detail.contains("no such table"));
    }

    #[test]
    fn column_drift_is_reported_and_a_table_missing_from_the_point_fails() {
        let cols = |c: &[&str]| c.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let production = Schema::from([
            ("contacts".into(), cols(&["id", "email", "phone"])),
            ("new".into(), cols(&["id"])),
        ]);
        let sandbox = Schema::from([
            ("contacts".into(), cols(&["id", "email"])),
            ("old".into(), cols(&["id"])),
        ]);
        let results: BTreeMap<String, CheckResult> = compare_schema(&production, &sandbox)
            .into_iter()
            .map(|r| (r.name.clone(), r))
            .collect();
        assert_eq!(results.len(), 3);
        assert!(results["schema contacts"].passed && results["schema contacts"].detail.contains("phone"));
        assert!(results["schema old"].passed, "dropped from production since");
        assert!(!results["schema new"].passed, "missing from the point");
    }

    #[test]
    fn an_empty_restore_fails_on_its_schema() {
        let production = Schema::from([("contacts".into(), BTreeSet::from(["id".to_string()]))]);
        let results = compare_schema(&production, &Schema::new());
        assert!(results.iter().any(|r| !r.passed));
    }

    #[test]
    fn an_own_check_passes_at_its_floor_and_fails_below_or_on_error() {
        assert!(sql_check(0, "select 1", 1, Ok(1)).passed);
        assert!(!sql_check(0, "select 0", 1, Ok(0)).passed);
        assert!(!sql_check(0, "select x", 1, Err("no column x".into())).passed);
    }
}
