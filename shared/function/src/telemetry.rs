//! Logging, set up once per process, and metrics.
//!
//! On Lambda, `lambda_runtime`'s subscriber honours `AWS_LAMBDA_LOG_FORMAT=JSON` and
//! `AWS_LAMBDA_LOG_LEVEL`, which the SAM template sets; the local stack sets the same.
//!
//! Metrics go out in CloudWatch's embedded metric format: one JSON line on standard output
//! that CloudWatch Logs turns into metrics, with no API call to fail or to pay for, and no
//! SDK to link. The template's alarms read them (namespace [`NAMESPACE`], dimension
//! `Function`).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The CloudWatch namespace of Lifeboat's own metrics.
pub const NAMESPACE: &str = "Lifeboat";

/// Installs the process-wide tracing subscriber.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Publishes `counts` (metric name, value) of `function` at `at`.
pub fn publish_counts(function: &str, counts: &[(&str, u64)], at: DateTime<Utc>) {
    println!("{}", metric_line(function, counts, at));
}

/// The embedded-metric-format document of [`publish_counts`].
pub fn metric_line(function: &str, counts: &[(&str, u64)], at: DateTime<Utc>) -> Value {
    let values: Vec<(&str, f64, &str)> = counts.iter().map(|(n, v)| (*n, *v as f64, "Count")).collect();
    metric_line_of(function, None, &values, at)
}

/// Publishes `values` (name, value, CloudWatch unit) of `function`, for a `(dimension,
/// value)` besides `Function` when given (a customer instance's coverage, say).
pub fn publish_values(
    function: &str,
    dimension: Option<(&str, &str)>,
    values: &[(&str, f64, &str)],
    at: DateTime<Utc>,
) {
    println!("{}", metric_line_of(function, dimension, values, at));
}

/// The embedded-metric-format document: `values` under the dimensions `Function` and, when
/// given, `dimension`.
pub fn metric_line_of(
    function: &str,
    dimension: Option<(&str, &str)>,
    values: &[(&str, f64, &str)],
    at: DateTime<Utc>,
) -> Value {
    let metrics: Vec<Value> = values
        .iter()
        .map(|(name, _, unit)| json!({"Name": name, "Unit": unit}))
        .collect();
    let mut dimensions = vec!["Function"];
    dimensions.extend(dimension.map(|(name, _)| name));
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [dimensions], "Metrics": metrics}],
        }),
    );
    line.insert("Function".into(), json!(function));
    if let Some((name, value)) = dimension {
        line.insert(name.into(), json!(value));
    }
    for (name, value, _) in values {
        // Whole numbers stay integers in the document, as CloudWatch and readers expect.
        let number = if value.fract() == 0.0 && value.abs() < 9.0e15 {
            json!(*value as i64)
        } else {
            json!(value)
        };
        line.insert((*name).to_string(), number);
    }
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_line_names_its_namespace_dimension_and_values() {
        let at: DateTime<Utc> = "2026-11-28T03:30:00Z".parse().unwrap();
        let line = metric_line("retention-pruner", &[("VanishedPoints", 2)], at);
        assert_eq!(line["_aws"]["Timestamp"], 1_795_836_600_000i64);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "Lifeboat");
        assert_eq!(directive["Dimensions"], json!([["Function"]]));
        assert_eq!(directive["Metrics"][0]["Name"], "VanishedPoints");
        assert_eq!(line["Function"], "retention-pruner");
        assert_eq!(line["VanishedPoints"], 2);
    }

    #[test]
    fn a_metric_line_with_a_dimension_names_it_and_keeps_fractions() {
        let at: DateTime<Utc> = "2026-11-28T03:30:00Z".parse().unwrap();
        let line = metric_line_of(
            "recovery-audit",
            Some(("Instance", "acme")),
            &[("CoveragePercent", 97.5, "Percent")],
            at,
        );
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Dimensions"], json!([["Function", "Instance"]]));
        assert_eq!(
            directive["Metrics"][0],
            json!({"Name": "CoveragePercent", "Unit": "Percent"})
        );
        assert_eq!(line["Instance"], "acme");
        assert_eq!(line["CoveragePercent"], 97.5);
    }
}
