//! The port of a selective restore's work on one service: take the selected records out of
//! staging into the extract (with the plan), then merge the extract into production batch by
//! batch.
//!
//! Both are idempotent: a retried extract selects afresh from staging, which does not change;
//! a retried batch is merged at most once (the service-side record of merged batches says so).

use async_trait::async_trait;

use super::restorer::Progress;
use super::PortError;
use crate::catalog::{ResourceKey, ResourceKind};
use crate::execution::selective::{BatchFile, BatchResult, MergedBatch, ResourceExtract, TableExtract};
use crate::request::decision::Selection;

/// What to extract for one resource.
#[derive(Debug, Clone, Copy)]
pub struct ExtractRequest<'a> {
    pub request_id: &'a str,
    pub resource: &'a ResourceKey,
    /// The service-side names of production and staging.
    pub production: &'a str,
    pub staging: &'a str,
    /// This resource's selections.
    pub selections: &'a [Selection],
    pub batch_rows: u64,
}

/// One batch to merge into production.
#[derive(Debug, Clone, Copy)]
pub struct MergeRequest<'a> {
    pub request_id: &'a str,
    pub resource: &'a ResourceKey,
    pub production: &'a str,
    pub table: &'a TableExtract,
    pub batch: &'a BatchFile,
}

/// Whether production's record of a merge accounts for every extracted row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeCheck {
    pub ok: bool,
    /// What was compared and found (or what differs).
    pub detail: String,
}

#[async_trait]
pub trait Merger: Send + Sync {
    fn kind(&self) -> ResourceKind;

    /// Why this engine cannot work as configured, checked before anything is created.
    fn unusable(&self) -> Option<String> {
        None
    }

    /// Makes staging readable by the engine once the service has it available (polled).
    /// Refused unless staging is marked as request `request_id`'s.
    async fn prepare_staging(&self, _staging: &str, _request_id: &str) -> Result<Progress, PortError> {
        Ok(Progress::Done)
    }

    async fn extract(&self, request: &ExtractRequest<'_>) -> Result<ResourceExtract, PortError>;

    async fn merge(&self, request: &MergeRequest<'_>) -> Result<BatchResult, PortError>;

    /// Checks production against what the run recorded as merged for this resource.
    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<MergeCheck, PortError>;
}

/// What to verify for one resource.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    pub request_id: &'a str,
    pub production: &'a str,
    pub extract: &'a ResourceExtract,
    /// The run's record of this resource's merged batches.
    pub merged: &'a [MergedBatch],
}
