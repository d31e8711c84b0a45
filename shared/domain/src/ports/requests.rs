//! Where restore requests are kept: the request store (with its optimistic lock) and the
//! intake's idempotency records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortError;
use crate::request::lifecycle::{RestoreRequest, Status};

/// The restore requests.
#[async_trait]
pub trait RequestStore: Send + Sync {
    /// Writes a new request; a `Conflict` error when one with its id exists.
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError>;

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError>;

    /// The requests of an instance, newest first, optionally only those in `status`.
    async fn list(&self, instance_id: &str, status: Option<Status>)
        -> Result<Vec<RestoreRequest>, PortError>;

    /// Replaces a request if it is still at `expected_version` (a `Conflict` error when
    /// someone changed it first); the stored version becomes `expected_version + 1`.
    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError>;
}

/// A request with what the store keeps beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRequest {
    pub request: RestoreRequest,
    /// Incremented by every change: the optimistic lock of [`RequestStore::replace`].
    pub version: u64,
    /// The token the restore state machine waits on for an engineer's confirmation.
    pub task_token: Option<String>,
}

/// A remembered answer to a POST made with an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// What identifies the first request (method, path and body digest): the same key with
    /// another fingerprint is a client error, not a retry.
    pub fingerprint: String,
    pub status: u16,
    pub body: String,
    pub at: DateTime<Utc>,
}

/// Idempotency records, keyed by caller and key.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn recall(&self, scope: &str) -> Result<Option<Remembered>, PortError>;

    /// Remembers the answer unless one is remembered already; returns the one that stays.
    async fn remember(&self, scope: &str, answer: &Remembered) -> Result<Remembered, PortError>;
}
