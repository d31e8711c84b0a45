//! In-memory restore-side ports: requests, idempotency records, and a workflow that records
//! what it was asked to start and resume.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::ports::restore::{
    IdempotencyStore, Remembered, RequestStore, ResourceLocks, RestoreWorkflow, StoredRequest,
};
use crate::ports::{FailureKind, PortError};
use crate::request::lifecycle::{RestoreRequest, Status};

#[derive(Debug, Default)]
pub struct MemoryRequests {
    requests: Mutex<BTreeMap<String, StoredRequest>>,
}

impl MemoryRequests {
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

/// Records executions by name (starting one twice starts nothing new) and confirmations.
#[derive(Debug, Default)]
pub struct MemoryWorkflow {
    pub executions: Mutex<BTreeMap<String, Value>>,
    pub confirmed: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl RestoreWorkflow for MemoryWorkflow {
    async fn start(&self, name: &str, input: &Value) -> Result<String, PortError> {
        self.executions
            .lock()
            .expect("lock")
            .entry(name.to_string())
            .or_insert_with(|| input.clone());
        Ok(format!("execution:{name}"))
    }

    async fn confirm(&self, token: &str, output: &Value) -> Result<(), PortError> {
        self.confirmed
            .lock()
            .expect("lock")
            .push((token.to_string(), output.clone()));
        Ok(())
    }
}

/// Resource locks in memory.
#[derive(Debug, Default)]
pub struct MemoryLocks {
    held: Mutex<BTreeMap<String, String>>,
}

impl MemoryLocks {
    /// Who holds the lock on `resource`.
    pub fn holder(&self, resource: &str) -> Option<String> {
        self.held.lock().expect("locks lock").get(resource).cloned()
    }
}

#[async_trait]
impl ResourceLocks for MemoryLocks {
    async fn acquire(&self, resource: &str, holder: &str) -> Result<(), PortError> {
        let mut held = self.held.lock().expect("locks lock");
        match held.get(resource) {
            Some(current) if current != holder => Err(PortError::new(
                "acquire",
                resource,
                FailureKind::Conflict,
                format!("held by {current}"),
            )),
            _ => {
                held.insert(resource.to_string(), holder.to_string());
                Ok(())
            }
        }
    }

    async fn release(&self, resource: &str, holder: &str) -> Result<(), PortError> {
        let mut held = self.held.lock().expect("locks lock");
        if held.get(resource).is_some_and(|h| h == holder) {
            held.remove(resource);
        }
        Ok(())
    }
}
