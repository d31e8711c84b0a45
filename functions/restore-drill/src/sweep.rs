//! The sweep: what a drill made and could not delete itself. A drill deletes its sandboxes
//! in every outcome its state machine can catch, but an execution that timed out, was
//! stopped from the console or lost its task runner ends before its cleanup. The hourly
//! schedule's event looks for drill executions that ended without succeeding, reads each
//! one's plan (recorded before anything was restored) and deletes its sandboxes through
//! the same guarded cleanup as the state machine's: only `lbd-` resources the restorer
//! finds to be that drill's. What it did is recorded in `drills/runs/<drill>/swept.json`,
//! which also keeps it from doing it twice.
//!
//! A sandbox that cleanup did not see gone (refused, still being restored, a failed call) is
//! a full copy of a customer's data: it is kept in `drills/left/<drill>.json`, tried again
//! every hour, and counted in `DrillSandboxesLeft` every hour until it is gone, however long
//! after its drill stopped; only then is the record removed.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::drill::plan::drill_of_execution;
use lifeboat::drill::records::{left_key, run_key, SweepRecord, SweptSandbox, LEFT_PREFIX};
use lifeboat::execution::error::StepError;
use lifeboat::ports::workflow::StoppedRun;
use lifeboat::ports::FailureKind;
use lifeboat_function::telemetry::publish_values;
use serde::{Deserialize, Serialize};

use crate::report::FUNCTION;
use crate::{DrillPlan, Driller, PlanItem};

/// The drill state machine's own `TimeoutSeconds`: no execution runs longer.
pub const DRILL_TIMEOUT: TimeDelta = TimeDelta::hours(24);
/// How far back the sweep looks for stopped executions: a day of failed sweeps is still
/// caught up.
pub const SWEEP_LOOKBACK: TimeDelta = TimeDelta::hours(48);
/// How long after its execution stopped a drill is swept: a step's invocation already
/// running (a restore being asked for) goes on for up to the function's 15 minutes after
/// the execution stops, and could make a sandbox after an earlier sweep.
pub const SETTLE: TimeDelta = TimeDelta::minutes(16);
/// Sandboxes not yet seen gone, and drills whose sweep could not be done: alarmed.
pub const LEFT_METRIC: &str = "DrillSandboxesLeft";
/// Records of sandboxes left read per listing call.
const LEFT_PAGE: usize = 1000;

#[derive(Debug, Clone, Default, Serialize)]
pub struct Swept {
    /// The drills whose stop was dealt with this time.
    pub drills: Vec<String>,
    /// Sandboxes deleted this time, of newly stopped drills and of those left before.
    pub sandboxes_deleted: usize,
    /// Drills (or records of what they left) to look at again next hour: a plan or record
    /// that could not be read or written.
    pub pending: Vec<String>,
    /// Sandboxes of newly stopped drills that cleanup did not see gone this time.
    pub not_deleted: Vec<String>,
    /// Every sandbox still to be deleted after this sweep, whenever its drill stopped.
    pub left: Vec<String>,
}

/// The sandboxes of one stopped drill that cleanup has not yet seen gone.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Left {
    drill_id: String,
    stopped_at: DateTime<Utc>,
    /// The sweep that last tried them.
    tried_at: DateTime<Utc>,
    sandboxes: Vec<LeftSandbox>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeftSandbox {
    item: PlanItem,
    /// What cleanup said the last time it tried.
    why: String,
}

impl Driller {
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Swept, StepError> {
        let mut swept = Swept::default();
        let Some(runs) = &self.runs else {
            return Ok(swept);
        };
        // A listing that fails still leaves the sandboxes left before to be tried and counted:
        // the alarm must not go quiet while one remains.
        let listed = (runs.stopped_since(now - SWEEP_LOOKBACK, DRILL_TIMEOUT).await)
            .map_err(|e| StepError::from_port("sweep", e));
        let stopped = match &listed {
            Ok(stopped) => stopped.clone(),
            Err(e) => {
                tracing::error!(error = %e, "drill sweep: the stopped drills could not be listed");
                swept.pending.push("stopped drill executions".into());
                Vec::new()
            }
        };
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
        self.retry_left(now, &mut swept).await;
        let left = swept.left.len() + swept.pending.len();
        publish_values(FUNCTION, None, &[(LEFT_METRIC, left as f64, "Count")], now);
        listed?;
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
        let mut left = Vec::new();
        for item in plan.iter().flat_map(|p| &p.resources) {
            // The cleanup checks the item names its drill's sandbox, and the restorer that
            // the sandbox is this drill's.
            if item.drill_id != drill {
                return Err(StepError::new(
                    lifeboat::execution::error::INVALID_INPUT,
                    format!("the plan of {drill} names items of {}: refused", item.drill_id),
                ));
            }
            let outcome = match self.clean_up(item).await {
                Ok(cleaned) if cleaned.found => "deleted".to_string(),
                Ok(_) => "already gone".to_string(),
                Err(e) => {
                    tracing::error!(drill = %drill, sandbox = %item.sandbox, error = %e, "drill sweep: a sandbox was not deleted");
                    left.push(LeftSandbox {
                        item: item.clone(),
                        why: e.to_string(),
                    });
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
        // What is left is kept before the sweep is recorded: a stop recorded as swept is
        // never swept again, so its leftovers must already be on record.
        if !left.is_empty() {
            let record = Left {
                drill_id: drill.to_string(),
                stopped_at: run.stopped_at,
                tried_at: now,
                sandboxes: left,
            };
            self.keep_left(&record).await.map_err(failed)?;
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

    /// Tries again every sandbox a sweep left, whenever its drill stopped: those now gone are
    /// dropped (and the record with the last of them), the others stay and are counted.
    async fn retry_left(&self, now: DateTime<Utc>, swept: &mut Swept) {
        let keys = match self.left_keys().await {
            Ok(keys) => keys,
            Err(e) => {
                tracing::error!(error = %e, "drill sweep: the sandboxes left could not be listed");
                swept.pending.push(LEFT_PREFIX.to_string());
                return;
            }
        };
        for key in keys {
            let record = match self
                .reports
                .get(&key)
                .await
                .map(|b| serde_json::from_slice::<Left>(&b))
            {
                Ok(Ok(record)) if left_key(&record.drill_id) == key => record,
                Ok(_) => {
                    // Not a record this sweep wrote: an engineer looks (it stays counted).
                    tracing::error!(key = %key, "drill sweep: an unreadable record of sandboxes left");
                    swept.left.push(key);
                    continue;
                }
                Err(e) => {
                    tracing::warn!(key = %key, error = %e, "drill sweep: left for the next hour");
                    swept.pending.push(key);
                    continue;
                }
            };
            // Written by this very sweep: tried a moment ago.
            if record.tried_at == now {
                swept
                    .left
                    .extend(record.sandboxes.iter().map(|s| s.item.sandbox.clone()));
                continue;
            }
            let mut still = Vec::new();
            for mut sandbox in record.sandboxes.clone() {
                // A record naming another drill's items is never acted on (cleanup checks
                // each item against its own drill's sandbox name).
                let result = if sandbox.item.drill_id == record.drill_id {
                    self.clean_up(&sandbox.item).await
                } else {
                    Err(StepError::new(
                        lifeboat::execution::error::INVALID_INPUT,
                        format!("{key} names an item of {}: refused", sandbox.item.drill_id),
                    ))
                };
                match result {
                    Ok(cleaned) => {
                        swept.sandboxes_deleted += usize::from(cleaned.found);
                        tracing::info!(drill = %record.drill_id, sandbox = %sandbox.item.sandbox, detail = %cleaned.detail, "drill sweep: a sandbox left before is gone");
                    }
                    Err(e) => {
                        tracing::error!(drill = %record.drill_id, sandbox = %sandbox.item.sandbox, since = %record.stopped_at, error = %e, "drill sweep: a sandbox is still left");
                        sandbox.why = e.to_string();
                        still.push(sandbox);
                    }
                }
            }
            let kept = if still.is_empty() {
                self.reports.delete(&key).await
            } else {
                swept.left.extend(still.iter().map(|s| s.item.sandbox.clone()));
                let record = Left {
                    tried_at: now,
                    sandboxes: still,
                    ..record
                };
                self.keep_left(&record).await
            };
            if let Err(e) = kept {
                tracing::warn!(key = %key, error = %e, "drill sweep: the record of sandboxes left was not updated");
            }
        }
    }

    async fn left_keys(&self) -> Result<Vec<String>, lifeboat::ports::PortError> {
        let mut keys: Vec<String> = Vec::new();
        loop {
            let after = keys.last().cloned().unwrap_or_default();
            let page = self.reports.list(LEFT_PREFIX, &after, LEFT_PAGE).await?;
            let full = page.len() == LEFT_PAGE;
            keys.extend(page);
            if !full {
                return Ok(keys);
            }
        }
    }

    async fn keep_left(&self, record: &Left) -> Result<(), lifeboat::ports::PortError> {
        let body = serde_json::to_vec_pretty(record).expect("records serialize");
        (self.reports)
            .put(&left_key(&record.drill_id), body, "application/json")
            .await
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
