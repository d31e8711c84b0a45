//! In-memory restore requests and idempotency records.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{FailureKind, PortError};
use crate::ports::{IdempotencyStore, Remembered, RequestStore, StoredRequest};
use crate::request::lifecycle::{RestoreRequest, Status};

#[derive(Debug, Default)]
pub struct MemoryRequests {
    requests: Mutex<BTreeMap<String, StoredRequest>>,
    /// Replaces still let through before every one fails; `None`: none fail.
    failing_after: Mutex<Option<usize>>,
}

impl MemoryRequests {
    /// Lets `passes` more replaces through, then fails every one (`None`: heals).
    pub fn fail_replaces_after(&self, passes: Option<usize>) {
        *self.failing_after.lock().expect("requests lock") = passes;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, StoredRequest>> {
        self.requests.lock().expect("requests lock")
    }
}

#[async_trait]
impl RequestStore for MemoryRequests {
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError> {
        let mut requests = self.lock();
        let id = &request.request.id;
        if requests.contains_key(id) {
            return Err(PortError::new(
                "create",
                id,
                FailureKind::Conflict,
                "request exists",
            ));
        }
        requests.insert(id.clone(), request.clone());
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError> {
        Ok(self.lock().get(id).cloned())
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<RestoreRequest>, PortError> {
        let mut found: Vec<RestoreRequest> = self
            .lock()
            .values()
            .map(|s| s.request.clone())
            .filter(|r| r.instance_id == instance_id && status.is_none_or(|s| r.status == s))
            .collect();
        found.sort_by(|a, b| b.submitted_at.cmp(&a.submitted_at).then(b.id.cmp(&a.id)));
        Ok(found)
    }

    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError> {
        if let Some(passes) = self.failing_after.lock().expect("requests lock").as_mut() {
            if *passes == 0 {
                return Err(PortError::new(
                    "replace",
                    &request.request.id,
                    FailureKind::Unavailable,
                    "the store is failing",
                ));
            }
            *passes -= 1;
        }
        let mut requests = self.lock();
        let id = &request.request.id;
        match requests.get(id) {
            Some(current) if current.version == expected_version => {
                let mut next = request.clone();
                next.version = expected_version + 1;
                requests.insert(id.clone(), next);
                Ok(())
            }
            _ => Err(PortError::new(
                "replace",
                id,
                FailureKind::Conflict,
                "the request changed meanwhile",
            )),
        }
    }
}

#[derive(Debug, Default)]
pub struct MemoryIdempotency {
    answers: Mutex<BTreeMap<String, Remembered>>,
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotency {
    async fn recall(&self, scope: &str) -> Result<Option<Remembered>, PortError> {
        Ok(self.answers.lock().expect("lock").get(scope).cloned())
    }

    async fn remember(&self, scope: &str, answer: &Remembered) -> Result<Remembered, PortError> {
        let mut answers = self.answers.lock().expect("lock");
        Ok(answers
            .entry(scope.to_string())
            .or_insert_with(|| answer.clone())
            .clone())
    }
}
