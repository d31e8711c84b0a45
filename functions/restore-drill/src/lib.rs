//! restore-drill: the steps of the drill state machine (`infra/statemachines/drill.asl.json`).
//! A drill restores each of a customer instance's resources from a recovery point into a
//! sandbox (`lbd-…`), checks the sandbox's data against production, deletes the sandbox in
//! every outcome, and reports (`drills/<instance>/<date>/<drill>/report.{json,md}`, metrics
//! `DrillSucceeded` and `DrillRestoreSeconds` per instance).
//!
//! It never touches production: it reads production's catalog records, tags and data (read
//! only), and writes only sandboxes it names and tags as its own (`lifeboat:restore-role`,
//! so no scheduled function manages them), and deletes only those (the restorers refuse to
//! delete what is not marked as this drill's).
//!
//! Steps: [`plan`] (which point each resource restores), [`sandbox`] (`start`, `ready`,
//! `clean_up`), [`check`], [`report`]; and, on the hourly schedule's event, [`schedule`]
//! starts the drill of each instance whose hour of the week it is and [`sweep`] deletes what
//! drills that stopped before their cleanup left.

pub mod check;
pub mod plan;
pub mod report;
pub mod sandbox;
pub mod schedule;
pub mod sweep;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lifeboat::catalog::ResourceKind;
use lifeboat::execution::error::{StepError, INVALID_INPUT, UNSUPPORTED};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::restorer::Restorer;
use lifeboat::ports::workflow::WorkflowRuns;
use lifeboat::ports::{BackupService, Catalog, ObjectStore, RestoreWorkflow, SandboxInspector};
use lifeboat_function::status_events::Announcer;
use serde::Deserialize;
use serde_json::Value;

pub use plan::{DrillPlan, PlanItem};

pub struct Driller {
    pub catalog: Arc<dyn Catalog>,
    pub services: Vec<Arc<dyn BackupService>>,
    pub restorers: Vec<Arc<dyn Restorer>>,
    pub inspectors: Vec<Arc<dyn SandboxInspector>>,
    pub reports: Arc<dyn ObjectStore>,
    pub policies: PolicyBook,
    /// The drill state machine, which the hourly schedule's event starts for the instances
    /// whose turn it is (see [`schedule`]).
    pub drills: Option<Arc<dyn RestoreWorkflow>>,
    /// The drill state machine's executions that stopped, whose sandboxes [`sweep`] deletes.
    pub runs: Option<Arc<dyn WorkflowRuns>>,
    /// Set only by the local stack and tests: lifts the guard against future event times.
    pub simulation: bool,
    /// `Drill Completed` status events, published after each report.
    pub events: Announcer,
}

/// The event each task of the drill state machine sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "step", rename_all = "snake_case")]
pub enum Task {
    Plan {
        input: Value,
        /// The execution's name (`$$.Execution.Name`): the drill's id.
        #[serde(default)]
        execution: Option<String>,
    },
    Start {
        item: PlanItem,
    },
    Ready {
        item: PlanItem,
    },
    Check {
        plan: DrillPlan,
        restored: Vec<Value>,
    },
    CleanUp {
        item: PlanItem,
    },
    Report {
        plan: DrillPlan,
        restored: Vec<Value>,
        checked: Value,
        cleaned: Vec<Value>,
    },
}

impl Driller {
    /// Runs one task (its answer is the state's result), or, for the hourly schedule's
    /// event, starts the drills whose turn it is.
    pub async fn handle(&self, event: Value, now: DateTime<Utc>) -> Result<Value, StepError> {
        if event.get("detail-type").is_some() {
            return self.on_schedule(&event, now).await;
        }
        let task: Task = serde_json::from_value(event)
            .map_err(|e| StepError::new(INVALID_INPUT, format!("drill task: {e}")))?;
        let answer = match task {
            Task::Plan { input, execution } => {
                serde_json::to_value(self.plan(&input, execution.as_deref(), now).await?)
            }
            Task::Start { item } => serde_json::to_value(self.start(&item).await?),
            Task::Ready { item } => serde_json::to_value(self.ready(&item, now).await?),
            Task::Check { plan, restored } => serde_json::to_value(self.check(&plan, &restored).await?),
            Task::CleanUp { item } => serde_json::to_value(self.clean_up(&item).await?),
            Task::Report {
                plan,
                restored,
                checked,
                cleaned,
            } => serde_json::to_value(self.report(&plan, &restored, &checked, &cleaned, now).await?),
        };
        Ok(answer.expect("answers serialize"))
    }

    /// The hourly event: this hour's drills started and stopped drills swept, each whatever
    /// became of the other; the invocation fails if either did.
    async fn on_schedule(&self, event: &Value, now: DateTime<Utc>) -> Result<Value, StepError> {
        let started = self.start_due(event, now).await;
        // A refused event is refused whole: nothing swept on a forged or stale tick.
        if let Err(e) = &started {
            if e.name == INVALID_INPUT {
                return Err(started.unwrap_err());
            }
        }
        // The tick's own time, as every scheduled step takes it (start_due checked it).
        let at = (event.get("time").and_then(Value::as_str))
            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            .unwrap_or(now);
        let swept = self.sweep(at).await;
        let answer = serde_json::json!({
            "started": started.as_ref().ok(),
            "swept": swept.as_ref().ok(),
        });
        started?;
        swept?;
        Ok(answer)
    }

    fn restorer(&self, kind: ResourceKind) -> Result<&Arc<dyn Restorer>, StepError> {
        self.restorers
            .iter()
            .find(|r| r.kind() == kind)
            .ok_or_else(|| StepError::new(UNSUPPORTED, format!("no restorer for {}", kind.as_str())))
    }

    fn inspector(&self, kind: ResourceKind) -> Option<&Arc<dyn SandboxInspector>> {
        self.inspectors.iter().find(|i| i.kind() == kind)
    }
}
