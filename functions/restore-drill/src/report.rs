//! The `report` step: the drill's outcome written (`drills/<instance>/<date>/<drill>/report.{json,md}`,
//! its outcome record for the audit's page, and the latest success) and published (`DrillSucceeded`, `DrillRestoreSeconds`, dimension `Instance`). The
//! execution fails after it when the drill did, so the failed-executions alarm fires.

use chrono::{DateTime, Utc};
use lifeboat::drill::records::{latest_success_key, DrillOutcome, DrillRecord};
use lifeboat::drill::report::{DrillReport, ResourceDrill};
use lifeboat::execution::error::StepError;
use lifeboat::status_event::fleet::drill_completed;
use lifeboat_function::telemetry::publish_values;
use serde::Serialize;
use serde_json::{json, Value};

use crate::check::Checked;
use crate::{DrillPlan, Driller};

pub const FUNCTION: &str = "restore-drill";
pub const SUCCEEDED_METRIC: &str = "DrillSucceeded";
pub const RESTORE_SECONDS_METRIC: &str = "DrillRestoreSeconds";

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub succeeded: bool,
    pub report_key: String,
    pub restore_seconds: Option<i64>,
}

impl Driller {
    pub async fn report(
        &self,
        plan: &DrillPlan,
        _restored: &[Value],
        checked: &Value,
        cleaned: &[Value],
        now: DateTime<Utc>,
    ) -> Result<Outcome, StepError> {
        let checked: Vec<Checked> = self.kept_checks(plan, checked).await?;
        let resources = plan
            .resources
            .iter()
            .map(|item| {
                let name = item.resource.to_string();
                let c = checked.iter().find(|c| c.resource == name);
                let deleted = cleaned
                    .iter()
                    .any(|x| x["resource"] == name.as_str() && x["deleted"] == true);
                ResourceDrill {
                    resource: item.resource.clone(),
                    point: item.point,
                    sandbox: item.sandbox.clone(),
                    restore_seconds: c.and_then(|c| c.restore_seconds),
                    data_age_seconds: (plan.started_at - item.point.start()).num_seconds(),
                    checks: c.map(|c| c.checks.clone()).unwrap_or_default(),
                    sandbox_deleted: deleted,
                    error: match c {
                        Some(c) => c.error.clone(),
                        None => Some("not checked (the drill stopped before its check)".into()),
                    },
                }
            })
            .collect();
        let report = DrillReport {
            drill_id: plan.drill_id.clone(),
            instance_id: plan.instance_id.clone(),
            started_at: plan.started_at,
            finished_at: now,
            resources,
        };
        let stem = report.key_stem();
        let json = serde_json::to_vec_pretty(&report).expect("reports serialize");
        for (key, body, kind) in [
            (format!("{stem}.json"), json, "application/json"),
            (
                format!("{stem}.md"),
                report.markdown().into_bytes(),
                "text/markdown; charset=utf-8",
            ),
        ] {
            (self.reports.put(&key, body, kind).await).map_err(|e| StepError::from_port("report", e))?;
        }
        let outcome = DrillOutcome {
            drill_id: report.drill_id.clone(),
            started_at: report.started_at,
            succeeded: report.succeeded(),
        };
        let body = serde_json::to_vec_pretty(&json!({"report": format!("{stem}.json")})).expect("json");
        (self
            .reports
            .put(&outcome.key(&plan.instance_id), body, "application/json")
            .await)
            .map_err(|e| StepError::from_port("report", e))?;
        if report.succeeded()
            && !self
                .newer_success_recorded(&plan.instance_id, report.started_at)
                .await
        {
            let record = DrillRecord {
                drill_id: report.drill_id.clone(),
                started_at: report.started_at,
                restore_seconds: report.restore_seconds(),
            };
            let body = serde_json::to_vec_pretty(&record).expect("records serialize");
            (self
                .reports
                .put(&latest_success_key(&plan.instance_id), body, "application/json")
                .await)
                .map_err(|e| StepError::from_port("report", e))?;
        }
        let mut values = vec![(
            SUCCEEDED_METRIC,
            if report.succeeded() { 1.0 } else { 0.0 },
            "Count",
        )];
        if let Some(seconds) = report.restore_seconds() {
            values.push((RESTORE_SECONDS_METRIC, seconds as f64, "Seconds"));
        }
        publish_values(FUNCTION, Some(("Instance", &plan.instance_id)), &values, now);
        // After the report is written: the event never announces a drill with no report.
        self.events.publish(&drill_completed(&report)).await;
        tracing::info!(drill = %plan.drill_id, succeeded = report.succeeded(), "drill reported");
        Ok(Outcome {
            succeeded: report.succeeded(),
            report_key: format!("{stem}.json"),
            restore_seconds: report.restore_seconds(),
        })
    }
}

impl Driller {
    /// Whether the record already names a drill started after `started`: a slow execution
    /// finishing late must not make the audit see an older success than there was.
    async fn newer_success_recorded(&self, instance: &str, started: DateTime<Utc>) -> bool {
        match self.reports.get(&latest_success_key(instance)).await {
            Ok(body) => serde_json::from_slice::<DrillRecord>(&body).is_ok_and(|r| r.started_at > started),
            Err(_) => false,
        }
    }
}
