//! The restore-executor Lambda: performs the steps of the restore state machine
//! (`infra/statemachines/restore.asl.json`).
//!
//! Each task event names its step ([`task::Task`]). Every step loads the request, does what
//! its [`Run`] says is still to do, and records what it did before answering, so a retried
//! step continues where an earlier try stopped. Failures carry the stable names of
//! [`lifeboat::execution::error`] that the definition's `Retry` and `Catch` match.

pub mod abort;
pub mod begin;
pub mod confirmation;
pub mod copy_back;
pub mod finish;
pub mod outcome;
pub mod prepare;
pub mod production;
pub mod progress;
pub mod report;
pub mod selective;
pub mod settings;
pub mod staging;
pub mod swap;
pub mod task;
pub mod undo_stopped;
pub mod verify;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::execution::error::{StepError, NOT_APPROVED, PERMANENT, RETRYABLE, UNSUPPORTED};
use lifeboat::execution::run::{ResourceRun, Run, Step};
use lifeboat::ports::merger::Merger;
use lifeboat::ports::restorer::{Origin, RestoreFrom, Restorer, Target};
use lifeboat::ports::{BackupService, Catalog, FailureKind, ObjectStore};
use lifeboat::ports::{RequestStore, ResourceLocks, StoredRequest};
use lifeboat::request::options::Source;
use lifeboat::request::roles::Roles;
use lifeboat_function::status_events::Announcer;
use serde_json::Value;

use task::Task;

/// How many times [`Executor::save_run`] writes a run over a request others keep changing.
const SAVE_RUN_TRIES: u32 = 3;

/// Who the executor is in a request's history.
pub const ACTOR: &str = "restore-executor";

pub struct Executor {
    pub requests: Arc<dyn RequestStore>,
    /// One restore at a time per production resource.
    pub locks: Arc<dyn ResourceLocks>,
    pub catalog: Arc<dyn Catalog>,
    /// For the services' point-in-time windows.
    pub services: Vec<Arc<dyn BackupService>>,
    pub restorers: Vec<Arc<dyn Restorer>>,
    pub reports: Arc<dyn ObjectStore>,
    /// Selective restores' engines, one per service.
    pub mergers: Vec<Arc<dyn Merger>>,
    /// Rows (or items) per extract batch.
    pub batch_rows: u64,
    /// How long one merge invocation keeps starting batches (each then runs to its commit),
    /// well inside the function's timeout.
    pub merge_budget: std::time::Duration,
    /// How long one invocation runs a shard (pages, each then runs to its checkpoint).
    pub shard_budget: std::time::Duration,
    /// Who is engineering: a confirmation, from the intake or the console, must come from one
    /// of them (and not from whoever filed or approved the request).
    pub roles: Roles,
    /// Status events: staging ready, awaiting confirmation, completed, failed; published
    /// once the change is saved, never failing a step.
    pub events: Announcer,
}

impl Executor {
    /// Performs the step `event` names; its answer becomes the state's result.
    pub async fn handle(&self, event: Value, now: DateTime<Utc>) -> Result<Value, StepError> {
        let task = Task::parse(event)?;
        let step = task.step;
        let result = match step {
            Step::Begin => begin::begin(self, &task, now).await,
            Step::Resolve => prepare::resolve(self, &task, now).await,
            Step::SafetySnapshot => prepare::safety_snapshot(self, &task, now).await,
            Step::RestoreStaging => prepare::restore_staging(self, &task, now).await,
            Step::CheckReady => prepare::check_ready(self, &task, now).await,
            Step::Extract => selective::extract(self, &task, now).await,
            Step::Merge => selective::merge(self, &task, now).await,
            Step::CopyBack => copy_back::copy_back(self, &task, now).await,
            Step::AwaitConfirmation => confirmation::await_confirmation(self, &task, now).await,
            Step::Swap => swap::swap(self, &task, now).await,
            Step::Verify => verify::verify(self, &task, now).await,
            Step::CleanUp => swap::clean_up(self, &task, now).await,
            Step::Finish => finish::finish(self, &task, now).await,
            Step::Abort => abort::abort(self, &task, now).await,
        };
        match &result {
            Ok(answer) => {
                tracing::info!(step = step.as_str(), request = ?task.request_id, %answer, "step done")
            }
            Err(e) => {
                tracing::error!(step = step.as_str(), request = ?task.request_id, error = %e, "step failed")
            }
        }
        result
    }

    /// The request, which must exist.
    pub async fn load(&self, id: &str, step: Step) -> Result<StoredRequest, StepError> {
        self.requests
            .get(id)
            .await
            .map_err(|e| StepError::from_port(step.as_str(), e))?
            .ok_or_else(|| {
                StepError::new(
                    NOT_APPROVED,
                    format!("step {}: there is no request {id}", step.as_str()),
                )
            })
    }

    /// The request with its run, which `begin` must have started.
    pub async fn load_run(&self, id: &str, step: Step) -> Result<(StoredRequest, Run), StepError> {
        let stored = self.load(id, step).await?;
        let run = stored.request.run.clone().ok_or_else(|| {
            StepError::new(
                PERMANENT,
                format!(
                    "step {}: request {id} has no run: the begin step did not lock it",
                    step.as_str()
                ),
            )
        })?;
        Ok((stored, run))
    }

    /// Writes `next` over the version it was read at. Losing the race (the intake recorded
    /// a confirmation meanwhile, say) is retryable: the retry reads the new version.
    pub async fn save(&self, next: &StoredRequest, read_version: u64, step: Step) -> Result<(), StepError> {
        self.requests
            .replace(next, read_version)
            .await
            .map_err(|e| save_failed(step, &next.request.id, e))
    }

    /// Saves `run` on the request, as read at `stored`; returns the request as now stored.
    ///
    /// The run is the executor's alone, but others write the request around it: the
    /// intake records a confirmation right after answering the task token, while the
    /// step it resumed is already running. Losing that race must not fail a step whose
    /// work is done (a merge step would merge its batch again on the retry), so a newer
    /// version whose run is still the one read gets `run` put on it instead. A newer run
    /// means another execution of this step got there first: that stays a conflict.
    pub async fn save_run(
        &self,
        stored: &StoredRequest,
        run: Run,
        step: Step,
    ) -> Result<StoredRequest, StepError> {
        let id = &stored.request.id;
        let mut next = stored.clone();
        next.request.run = Some(run);
        for attempt in 1.. {
            let read_version = next.version;
            let error = match self.requests.replace(&next, read_version).await {
                Ok(()) => {
                    next.version += 1;
                    return Ok(next);
                }
                Err(e) if e.kind == FailureKind::Conflict && attempt < SAVE_RUN_TRIES => e,
                Err(e) => return Err(save_failed(step, id, e)),
            };
            let newer = self.load(id, step).await?;
            if newer.request.run == next.request.run {
                // Our own write: applied, and its answer lost to the SDK's retry.
                return Ok(newer);
            }
            if newer.request.run != stored.request.run {
                return Err(save_failed(step, id, error));
            }
            tracing::info!(
                step = step.as_str(),
                request = %id,
                version = newer.version,
                "the request changed beside the run: saving the run on the newer version"
            );
            let run = next.request.run.take();
            next = newer;
            next.request.run = run;
        }
        unreachable!("the last attempt returns")
    }

    pub fn restorer(&self, kind: ResourceKind) -> Result<&dyn Restorer, StepError> {
        self.restorers
            .iter()
            .find(|r| r.kind() == kind)
            .map(|r| r.as_ref())
            .ok_or_else(|| StepError::new(PERMANENT, format!("no restorer for {}", kind.as_str())))
    }

    pub fn merger(&self, kind: ResourceKind) -> Result<&dyn Merger, StepError> {
        self.mergers
            .iter()
            .find(|m| m.kind() == kind)
            .map(|m| m.as_ref())
            .ok_or_else(|| {
                StepError::new(
                    UNSUPPORTED,
                    format!("selective restores of {} are not supported", kind.as_str()),
                )
            })
    }

    pub fn service(&self, resource: &ResourceKey) -> Result<&dyn BackupService, StepError> {
        self.services
            .iter()
            .find(|s| s.kind() == resource.kind)
            .map(|s| s.as_ref())
            .ok_or_else(|| StepError::new(PERMANENT, format!("no backup service for {resource}")))
    }
}

/// Who holds a resource's lock: the request and the execution running it. Two executions
/// of one request (the intake's and one started from the console) are two holders, so the
/// one that loses the request does not release the locks the other holds.
pub fn lock_holder(request_id: &str, execution: &str) -> String {
    format!("{request_id} (execution {execution})")
}

impl Executor {
    /// Takes the lock on every resource of `run` for `request_id` and its execution, or
    /// none: a resource another execution is restoring refuses this one
    /// (`Lifeboat.NotApproved`).
    pub async fn lock_resources(&self, request_id: &str, run: &Run) -> Result<(), StepError> {
        let holder = lock_holder(request_id, &run.execution);
        for (i, r) in run.resources.iter().enumerate() {
            let resource = r.resource.to_string();
            if let Err(e) = self.locks.acquire(&resource, &holder).await {
                for taken in &run.resources[..i] {
                    self.unlock(&taken.resource.to_string(), &holder).await;
                }
                return Err(if e.kind == FailureKind::Conflict {
                    StepError::new(
                        NOT_APPROVED,
                        format!("step begin: {resource} is being restored ({}); one restore per resource at a time", e.message),
                    )
                } else {
                    StepError::from_port("begin", e)
                });
            }
        }
        Ok(())
    }

    /// Releases the locks `run`'s execution of `request_id` holds on its resources. A
    /// failure is logged: a leftover lock refuses the next restore of that resource, naming
    /// this request.
    pub async fn unlock_resources(&self, request_id: &str, run: &Run) {
        let holder = lock_holder(request_id, &run.execution);
        for r in &run.resources {
            self.unlock(&r.resource.to_string(), &holder).await;
        }
    }

    pub async fn unlock(&self, resource: &str, holder: &str) {
        if let Err(e) = self.locks.release(resource, holder).await {
            tracing::error!(resource, holder, error = %e, "could not release a resource lock");
        }
    }
}

/// The names of one resource's restore, as the restorer methods take them, with what its
/// staging is restored from and the run's start (`begin`, recorded before any restore was
/// asked for): what proves a resource by the staging name is this restore's; and the
/// identities pinned once staging (and an undo's fallback) were proven, which every later use
/// requires.
pub fn target<'a>(request_id: &'a str, run_started: DateTime<Utc>, r: &'a ResourceRun) -> Target<'a> {
    let from = match (&r.source, &r.restore_from) {
        (Source::PointInTime { target }, _) => Some(RestoreFrom::PointInTime(*target)),
        (Source::Snapshot { .. }, Some(service_id)) => Some(RestoreFrom::Snapshot(service_id.clone())),
        // Not resolved yet: nothing was restored.
        (Source::Snapshot { .. }, None) => None,
    };
    Target {
        request_id,
        production: &r.resource,
        staging: &r.staging,
        fallback: &r.fallback,
        origin: from.map(|from| Origin {
            from,
            asked_after: run_started,
        }),
        staging_identity: r.staging_identity.as_ref(),
        fallback_identity: r.fallback_identity.as_ref(),
    }
}

fn save_failed(step: Step, id: &str, e: lifeboat::ports::PortError) -> StepError {
    let name = if e.kind == FailureKind::Conflict || e.kind.is_retryable() {
        RETRYABLE
    } else {
        PERMANENT
    };
    StepError::new(name, format!("step {}: saving request {id}: {e}", step.as_str()))
}
