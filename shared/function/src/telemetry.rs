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
    let metrics: Vec<Value> = counts
        .iter()
        .map(|(name, _)| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [["Function"]], "Metrics": metrics}],
        }),
    );
    line.insert("Function".into(), json!(function));
    for (name, value) in counts {
        line.insert((*name).to_string(), json!(value));
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
}
