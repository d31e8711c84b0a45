//! Writes that lose a race: request stores whose answers are lost, stale or overtaken by
//! another writer (the intake's confirmation, a second execution), and what the executor
//! makes of them.

use super::*;

/// The request store, with someone else's write landing just before the executor's write
/// number `before` (counting from 0): what the intake's confirmation record does when it
/// loses the race with the step the confirmation resumed.
struct Interleaved {
    inner: Arc<MemoryRequests>,
    before: usize,
    writes: std::sync::atomic::AtomicUsize,
    meanwhile: Meanwhile,
}

/// What happens at the executor's write number `before`.
#[derive(Clone, Copy, PartialEq)]
enum Meanwhile {
    /// The intake records a confirmation first.
    Confirmation,
    /// Another execution of the step writes the run first.
    OtherRun,
    /// The write is applied, but its answer is lost: the SDK's retry of it fails its
    /// condition.
    AnswerLost,
}

impl Interleaved {
    /// As the intake records a confirmation it has already sent: a history entry, and
    /// the token cleared.
    async fn record_confirmation(&self, id: &str) {
        let stored = self.inner.get(id).await.unwrap().unwrap();
        let mut next = stored.clone();
        next.task_token = None;
        if self.meanwhile == Meanwhile::OtherRun {
            let run = next.request.run.as_mut().unwrap();
            run.record(Step::Merge, now(), "merged by someone else");
        }
        next.request.history.push(AuditEntry {
            at: now(),
            by: ENGINEER.into(),
            from: Some(stored.request.status),
            to: stored.request.status,
            reason: Some("confirmed".into()),
        });
        self.inner.replace(&next, stored.version).await.unwrap();
    }
}

#[async_trait::async_trait]
impl RequestStore for Interleaved {
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError> {
        self.inner.create(request).await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError> {
        self.inner.get(id).await
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<RestoreRequest>, PortError> {
        self.inner.list(instance_id, status).await
    }

    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError> {
        if self.writes.fetch_add(1, std::sync::atomic::Ordering::SeqCst) != self.before {
            return self.inner.replace(request, expected_version).await;
        }
        if self.meanwhile == Meanwhile::AnswerLost {
            self.inner.replace(request, expected_version).await?;
            return Err(PortError::new(
                "PutItem",
                &request.request.id,
                lifeboat::ports::FailureKind::Conflict,
                "the conditional request failed",
            ));
        }
        self.record_confirmation(&request.request.id).await;
        self.inner.replace(request, expected_version).await
    }
}

/// `meanwhile` happens at the merge step's second write, the one recording batch 0 merged
/// (its first marks production touched).
fn meanwhile_at_batch_save(w: &mut World, meanwhile: Meanwhile) {
    w.executor.requests = Arc::new(Interleaved {
        inner: w.requests.clone(),
        before: 1,
        writes: 0.into(),
        meanwhile,
    });
}

/// Begin's lock written, its answer lost: the SDK's retry fails its condition. The request
/// is this execution's and its resource locks must stay, or another restore could run on
/// the same database at once.
#[tokio::test]
async fn begin_whose_lock_was_written_but_answered_as_a_conflict_keeps_its_resource_locks() {
    let mut w = world();
    approve_rollback_two_hours_back(&w).await;
    w.executor.requests = Arc::new(Interleaved {
        inner: w.requests.clone(),
        before: 0,
        writes: 0.into(),
        meanwhile: Meanwhile::AnswerLost,
    });
    let settings = handle(&w, begin_by(EXECUTION)).await.unwrap();
    assert_eq!(settings["request_id"], ID);
    assert_eq!(stored(&w).await.request.status, Status::Executing);
    let other = w.executor.locks.acquire("rds:db", "rr-someone-else").await;
    assert!(
        other.is_err(),
        "rds:db is still locked by {ID}, so no second restore can start on it"
    );
}

/// Answers its first read with the request as it was before another execution locked it.
struct StaleOnce {
    inner: Arc<MemoryRequests>,
    stale: std::sync::Mutex<Option<StoredRequest>>,
}

#[async_trait::async_trait]
impl RequestStore for StaleOnce {
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError> {
        self.inner.create(request).await
    }

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError> {
        let stale = self.stale.lock().unwrap().take();
        match stale {
            Some(stale) => Ok(Some(stale)),
            None => self.inner.get(id).await,
        }
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<RestoreRequest>, PortError> {
        self.inner.list(instance_id, status).await
    }

    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError> {
        self.inner.replace(request, expected_version).await
    }
}

/// Two executions of one request (the intake's, and one started from the console) begin at
/// once; the one that loses the request must not release the locks the winner holds.
#[tokio::test]
async fn a_second_execution_of_the_same_request_never_releases_the_first_ones_locks() {
    let w = world();
    approve_rollback_two_hours_back(&w).await;
    let approved = stored(&w).await;
    handle(&w, begin_by(EXECUTION)).await.unwrap();
    let second = Executor {
        requests: Arc::new(StaleOnce {
            inner: w.requests.clone(),
            stale: std::sync::Mutex::new(Some(approved)),
        }),
        locks: w.executor.locks.clone(),
        catalog: w.executor.catalog.clone(),
        services: w.executor.services.clone(),
        restorers: w.executor.restorers.clone(),
        reports: w.executor.reports.clone(),
        mergers: vec![],
        batch_rows: w.executor.batch_rows,
        merge_budget: w.executor.merge_budget,
        shard_budget: w.executor.shard_budget,
        roles: w.executor.roles.clone(),
        events: Announcer::new(w.events.clone(), "restore-executor"),
    };
    let other = format!("{EXECUTION}-from-the-console");
    let e = second.handle(begin_by(&other), now()).await.unwrap_err();
    assert_eq!(e.name, NOT_APPROVED, "{e}");
    let intruder = w.executor.locks.acquire("rds:db", "rr-someone-else").await;
    assert!(intruder.is_err(), "rds:db is still locked by the first execution");
    assert_eq!(run_of(&w).await.execution, EXECUTION);
}

#[tokio::test]
async fn a_confirmation_recorded_while_a_batch_merges_neither_fails_the_step_nor_merges_twice() {
    let mut w = world();
    let merger = selective_staged(&mut w).await;
    meanwhile_at_batch_save(&mut w, Meanwhile::Confirmation);
    let answer = handle(&w, merge_event()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(merger.merge_calls(), 4, "every batch merged once");
    let stored = stored(&w).await;
    let confirmations = stored
        .request
        .history
        .iter()
        .filter(|e| e.reason.as_deref() == Some("confirmed"))
        .count();
    assert_eq!(confirmations, 1, "the intake's entry is kept");
    let merged = stored.request.run.unwrap().selective.unwrap().merged;
    assert_eq!(merged.len(), 4);
}

#[tokio::test]
async fn a_run_save_applied_but_answered_as_a_conflict_is_taken_as_saved() {
    let mut w = world();
    let merger = selective_staged(&mut w).await;
    meanwhile_at_batch_save(&mut w, Meanwhile::AnswerLost);
    let answer = handle(&w, merge_event()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(merger.merge_calls(), 4, "every batch merged once");
    assert_eq!(run_of(&w).await.selective.unwrap().merged.len(), 4);
}

#[tokio::test]
async fn a_run_changed_by_someone_else_while_a_batch_merges_is_a_conflict_to_retry() {
    let mut w = world();
    selective_staged(&mut w).await;
    meanwhile_at_batch_save(&mut w, Meanwhile::OtherRun);
    let e = handle(&w, merge_event()).await.unwrap_err();
    assert_eq!(e.name, lifeboat::execution::error::RETRYABLE, "{e}");
    let run = run_of(&w).await;
    assert!(run.selective.unwrap().merged.is_empty(), "the other run is kept");
    assert!(run.timeline.iter().any(|t| t.detail == "merged by someone else"));
}
