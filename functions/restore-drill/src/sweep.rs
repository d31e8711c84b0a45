//! The sweep: what a drill made and could not delete itself. A drill deletes its sandboxes
//! in every outcome its state machine can catch, but an execution that timed out, was
//! stopped from the console or lost its task runner ends before its cleanup. The hourly
//! schedule's event looks for drill executions that ended without succeeding, reads each
//! one's plan (recorded before anything was restored) and deletes its sandboxes through
//! the same guarded cleanup as the state machine's: only `lbd-` resources the restorer
//! finds marked as that drill's. What it did is recorded in `drills/runs/<drill>/swept.json`,
//! which also keeps it from doing it twice.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::drill::records::{run_key, SweepRecord, SweptSandbox};
use lifeboat::execution::error::StepError;
use lifeboat::ports::workflow::StoppedRun;
use lifeboat::ports::FailureKind;
use lifeboat_function::telemetry::publish_values;
use serde::Serialize;

use crate::plan::drill_of_execution;
use crate::report::FUNCTION;
use crate::{DrillPlan, Driller};

/// The drill state machine's own `TimeoutSeconds`: no execution runs longer.
pub const DRILL_TIMEOUT: TimeDelta = TimeDelta::hours(24);
/// How far back the sweep looks for stopped executions: a day of failed sweeps is still
/// caught up.
pub const SWEEP_LOOKBACK: TimeDelta = TimeDelta::hours(48);
/// How long after its execution stopped a drill is swept: a step's invocation already
/// running (a restore being asked for) goes on for up to the function's 15 minutes after
/// the execution stops, and could make a sandbox after an earlier sweep.
pub const SETTLE: TimeDelta = TimeDelta::minutes(16);
/// Sandboxes the sweep could not delete (refused, or pending): alarmed.
pub const LEFT_METRIC: &str = "DrillSandboxesLeft";

#[derive(Debug, Clone, Default, Serialize)]
pub struct Swept {
    /// The drills whose leftovers were dealt with this time.
    pub drills: Vec<String>,
    pub sandboxes_deleted: usize,
    /// Drills to look at again next hour (a sandbox still being restored, a failed call).
    pub pending: Vec<String>,
    /// Sandboxes the restorer refused to delete (not marked as their drill's): left, and
    /// alarmed.
    pub not_deleted: Vec<String>,
}

impl Driller {
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept, StepError> {
        let mut swept = Swept::default();
        let Some(runs) = &self.runs else {
            return Ok(swept);
        };
        let stopped = (runs.stopped_since(now - SWEEP_LOOKBACK, DRILL_TIMEOUT).await)
            .map_err(|e| StepError::from_port("sweep", e))?;
        for run in stopped.into_iter().filter(|r| r.stopped_at <= now - SETTLE) {
            let drill = drill_of_execution(&run.name);
            match self.sweep_one(&drill, &run, now).await {
                Ok(None) => {}
                Ok(Some(record)) => {
                    swept.sandboxes_deleted += (record.sandboxes.iter())
                        .filter(|s| s.outcome == "deleted")
                        .count();
                    swept.not_deleted.extend(
                        (record.sandboxes.iter())
                            .filter(|s| s.outcome.starts_with("not deleted"))
                            .map(|s| s.sandbox.clone()),
                    );
                    swept.drills.push(drill);
                }
                Err(e) => {
                    tracing::warn!(drill = %drill, execution = %run.name, error = %e, "drill sweep: left for the next hour");
                    swept.pending.push(drill);
                }
            }
        }
        let left = swept.pending.len() + swept.not_deleted.len();
        publish_values(FUNCTION, None, &[(LEFT_METRIC, left as f64, "Count")], now);
        Ok(swept)
    }

    /// `None` when this stop of the drill was swept before (an execution name used again
    /// later, or a redriven execution stopping again, is a new stop).
    async fn sweep_one(
        &self,
        drill: &str,
        run: &StoppedRun,
        now: DateTime<Utc>,
    ) -> Result<Option<SweepRecord>, StepError> {
        let failed = |e| StepError::from_port("sweep", e);
        let record_key = run_key(drill, "swept");
        match self.reports.get(&record_key).await {
            Ok(body) => {
                let earlier: Option<SweepRecord> = serde_json::from_slice(&body).ok();
                if earlier.is_some_and(|r| r.stopped_at == run.stopped_at) {
                    return Ok(None);
                }
            }
            Err(e) if e.kind == FailureKind::NotFound => {}
            Err(e) => return Err(failed(e)),
        }
        let plan: Option<DrillPlan> = match self.reports.get(&run_key(drill, "plan")).await {
            Ok(body) => Some(serde_json::from_slice(&body).map_err(|e| {
                StepError::new(
                    lifeboat::execution::error::INVALID_INPUT,
                    format!("the plan of {drill} is unreadable: {e}"),
                )
            })?),
            // Stopped before its plan was made: it restored nothing.
            Err(e) if e.kind == FailureKind::NotFound => None,
            Err(e) => return Err(failed(e)),
        };
        let mut sandboxes = Vec::new();
        for item in plan.iter().flat_map(|p| &p.resources) {
            // The cleanup checks the item names its drill's sandbox, and the restorer that
            // the sandbox is marked as this drill's; a sandbox still being restored cannot
            // be deleted yet (retryable): the whole drill is looked at again next hour.
            if item.drill_id != drill {
                return Err(StepError::new(
                    lifeboat::execution::error::INVALID_INPUT,
                    format!("the plan of {drill} names items of {}: refused", item.drill_id),
                ));
            }
            let outcome = match self.clean_up(item).await {
                Ok(cleaned) if cleaned.found => "deleted".to_string(),
                Ok(_) => "already gone".to_string(),
                Err(e) if e.is_retryable() => return Err(e),
                Err(e) => {
                    tracing::error!(drill = %drill, sandbox = %item.sandbox, error = %e, "drill sweep: a sandbox was not deleted");
                    format!("not deleted: {e}")
                }
            };
            tracing::info!(drill = %drill, sandbox = %item.sandbox, outcome = %outcome, status = %run.status, "drill sweep");
            sandboxes.push(SweptSandbox {
                resource: item.resource.to_string(),
                sandbox: item.sandbox.clone(),
                outcome,
            });
        }
        let record = SweepRecord {
            drill_id: drill.to_string(),
            execution_status: run.status.clone(),
            stopped_at: run.stopped_at,
            swept_at: now,
            sandboxes,
        };
        let body = serde_json::to_vec_pretty(&record).expect("records serialize");
        (self.reports.put(&record_key, body, "application/json").await).map_err(failed)?;
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_run_the_sweep_assumes_is_the_state_machine_s_timeout() {
        let asl: serde_json::Value =
            serde_json::from_str(include_str!("../../../infra/statemachines/drill.asl.json")).unwrap();
        assert_eq!(asl["TimeoutSeconds"], DRILL_TIMEOUT.num_seconds());
        assert!(
            SWEEP_LOOKBACK > TimeDelta::hours(1),
            "an hour's sweep missed is caught up"
        );
    }
}
