//! How far a restore is, per resource, as a bar: from the request's `progress` (how far each
//! resource's current stage is: a percentage, or items, rows or batches done of a total, with
//! the time left when the rate is known) when the API gives one, else from the phase each
//! resource of the run has reached.
//!
//! Pure: the watch draws the bars, and `show` prints [`ResourceProgress::summary`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::output::duration;

/// The request's `progress` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub step: String,
    #[serde(default)]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub resources: Vec<ResourceProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceProgress {
    pub resource: String,
    /// restoring, renaming, copying, merging, verifying or done.
    pub stage: String,
    #[serde(default)]
    pub percent: Option<f64>,
    #[serde(default)]
    pub done: Option<u64>,
    #[serde(default)]
    pub total: Option<u64>,
    /// items, rows or batches.
    #[serde(default)]
    pub unit: Option<String>,
    #[serde(default)]
    pub eta_seconds: Option<u64>,
    /// What the service says it is waiting for (an instance `creating`, a rename).
    #[serde(default)]
    pub waiting_for: Option<String>,
}

/// One bar: `position` of `length`, and the words beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub resource: String,
    pub length: u64,
    pub position: u64,
    pub message: String,
}

impl Progress {
    /// The request's progress, if it has one the CLI can read (an unreadable one is treated
    /// as absent: the phases still show how far the restore is).
    pub fn of(request: &Value) -> Option<Progress> {
        let p = request.get("progress").filter(|p| !p.is_null())?;
        serde_json::from_value(p.clone()).ok()
    }
}

impl ResourceProgress {
    /// The share done, from the percentage or from done of total.
    fn percent(&self) -> Option<f64> {
        if self.stage == "done" {
            return Some(100.0);
        }
        self.percent.or(match (self.done, self.total) {
            (Some(done), Some(total)) if total > 0 => Some(done as f64 * 100.0 / total as f64),
            _ => None,
        })
    }

    /// `copying 52% (5200/10000 items), about 2m 10s left`.
    pub fn summary(&self) -> String {
        let mut text = self.stage.clone();
        if let Some(p) = self.percent().filter(|_| self.stage != "done") {
            text.push_str(&format!(" {}%", p.clamp(0.0, 100.0).floor()));
        }
        if let (Some(done), Some(total)) = (self.done, self.total) {
            let unit = self.unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
            text.push_str(&format!(" ({done}/{total}{unit})"));
        }
        if let Some(eta) = self.eta_seconds.filter(|_| self.stage != "done") {
            text.push_str(&format!(", about {} left", duration(eta as i64)));
        }
        if let Some(why) = self.waiting_for.as_deref().filter(|_| self.stage != "done") {
            text.push_str(&format!(": {why}"));
        }
        text
    }

    pub fn bar(&self) -> Bar {
        let (length, position) = match (self.done, self.total, self.percent()) {
            (Some(done), Some(total), _) if total > 0 && self.stage != "done" => (total, done.min(total)),
            (_, _, Some(p)) => (100, p.clamp(0.0, 100.0).floor() as u64),
            _ => (100, 0),
        };
        Bar {
            resource: self.resource.clone(),
            length,
            position,
            message: self.summary(),
        }
    }
}

/// The phases a resource goes through, by the run's mode.
const ROLLBACK: [&str; 8] = [
    "planned",
    "resolved",
    "safety_started",
    "staging_started",
    "ready",
    "swapping",
    "swapped",
    "verified",
];
const SELECTIVE: [&str; 9] = [
    "planned",
    "resolved",
    "safety_started",
    "staging_started",
    "ready",
    "extracted",
    "merging",
    "merged",
    "verified",
];

/// A bar per resource of the request's run: its `progress` when present, else its phases.
pub fn bars(request: &Value) -> Vec<Bar> {
    if let Some(progress) = Progress::of(request) {
        return progress.resources.iter().map(ResourceProgress::bar).collect();
    }
    let run = &request["run"];
    let phases: &[&str] = if run["mode"] == "selective" {
        &SELECTIVE
    } else {
        &ROLLBACK
    };
    run["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let phase = r["phase"].as_str().unwrap_or("planned");
            let reached = phases.iter().position(|p| *p == phase).map_or(0, |i| i + 1);
            Bar {
                resource: r["resource"].as_str().unwrap_or("?").to_string(),
                length: phases.len() as u64,
                position: reached as u64,
                message: phase.replace('_', " "),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WITH_PROGRESS: &str = include_str!("../tests/fixtures/request-with-progress.json");

    fn bar(resource: &str, length: u64, position: u64, message: &str) -> Bar {
        Bar {
            resource: resource.into(),
            length,
            position,
            message: message.into(),
        }
    }

    #[test]
    fn progress_gives_a_bar_per_resource_with_its_stage_count_and_time_left() {
        let request: Value = serde_json::from_str(WITH_PROGRESS).unwrap();
        assert_eq!(
            bars(&request),
            vec![
                bar("rds:acme-db", 100, 40, "restoring 40%, about 6m 0s left"),
                bar(
                    "dynamodb:acme-events",
                    10_000,
                    5_200,
                    "copying 52% (5200/10000 items), about 2m 10s left"
                ),
                bar("rds:acme-crm", 100, 0, "verifying"),
                bar("dynamodb:acme-audit", 100, 100, "done (300/300 items)"),
            ]
        );
        let progress = Progress::of(&request).unwrap();
        assert_eq!(progress.step, "swap");
    }

    #[test]
    fn without_progress_the_bars_follow_the_phases_of_the_run() {
        let request = json!({
            "status": "executing",
            "run": {"mode": "rollback", "resources": [
                {"resource": "rds:acme-db", "phase": "staging_started"},
                {"resource": "dynamodb:acme-events", "phase": "verified"}
            ]}
        });
        assert_eq!(
            bars(&request),
            vec![
                bar("rds:acme-db", 8, 4, "staging started"),
                bar("dynamodb:acme-events", 8, 8, "verified"),
            ]
        );
        let selective =
            json!({"run": {"mode": "selective", "resources": [{"resource": "rds:db", "phase": "merging"}]}});
        assert_eq!(bars(&selective), vec![bar("rds:db", 9, 7, "merging")]);
        assert_eq!(bars(&json!({"status": "submitted"})), vec![]);
    }

    #[test]
    fn an_unreadable_progress_is_treated_as_absent() {
        let request = json!({"progress": {"step": 3}, "run": {"mode": "rollback", "resources": [
            {"resource": "rds:acme-db", "phase": "ready"}]}});
        assert_eq!(Progress::of(&request), None);
        assert_eq!(bars(&request), vec![bar("rds:acme-db", 8, 5, "ready")]);
    }
}
