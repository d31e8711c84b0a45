//! [`Merger`] for RDS PostgreSQL instances: the engine's steps behind the port.

use std::sync::Arc;

use async_trait::async_trait;

use super::extract::{extract_table, ExtractJob};
use super::merge::{ensure_ledger, ledger, merge_batch, MergeJob};
use super::schema::Schema;
use super::select::select;
use super::staging_access::ensure_managed_secret;
use super::{Connector, PgError};
use lifeboat::catalog::ResourceKind;
use lifeboat::execution::packing::unpack;
use lifeboat::execution::selective::{BatchResult, MergedBatch, ResourceExtract};
use lifeboat::ports::merger::MergeCheck;
use lifeboat::ports::merger::{ExtractRequest, MergeRequest, Merger, VerifyRequest};
use lifeboat::ports::restorer::Progress;
use lifeboat::ports::{ObjectStore, PortError};

pub struct PgMerger {
    connector: Connector,
    store: Arc<dyn ObjectStore>,
}

impl PgMerger {
    pub fn new(connector: Connector, store: Arc<dyn ObjectStore>) -> Self {
        PgMerger { connector, store }
    }

    async fn extract_all(&self, request: &ExtractRequest<'_>) -> Result<ResourceExtract, PgError> {
        let staging = self.connector.connect(request.staging).await?;
        let mut production = self.connector.connect(request.production).await?;
        let schema = Schema::load(&staging).await?;
        let production_schema = Schema::load(&production).await?;
        let selected = select(
            &staging,
            &production,
            &schema,
            &production_schema,
            request.selections,
        )
        .await?;
        let job = ExtractJob {
            request_id: request.request_id,
            resource: request.resource,
            batch_rows: request.batch_rows,
            store: self.store.as_ref(),
        };
        let mut tables = Vec::new();
        for t in &selected.tables {
            tables
                .push(extract_table(&staging, &mut production, &schema, &production_schema, t, &job).await?);
        }
        Ok(ResourceExtract {
            resource: request.resource.clone(),
            tables,
            keys_not_found: selected.keys_not_found,
        })
    }

    async fn merge_one(&self, request: &MergeRequest<'_>) -> Result<BatchResult, PgError> {
        let key = &request.batch.key;
        let gz = self
            .store
            .get(key)
            .await
            .map_err(|e| PgError::unavailable(format!("reading {key}: {}", e.message)))?;
        let csv =
            unpack(&gz, &request.batch.sha256).map_err(|why| PgError::refused(format!("{key} {why}")))?;
        drop(gz);
        let mut production = self.connector.connect(request.production).await?;
        ensure_ledger(&production).await?;
        let schema = Schema::load(&production).await?;
        let live = schema
            .tables
            .get(&request.table.table)
            .ok_or_else(|| PgError::refused(format!("production has no table {}", request.table.table)))?;
        // The extract's columns must still fit production (its schema may have moved on).
        let fits = live.copied_columns();
        if let Some(c) = request.table.columns.iter().find(|c| !fits.contains(c)) {
            return Err(PgError::refused(format!(
                "production's {} has no insertable column {c:?} any more",
                live.id()
            )));
        }
        let job = MergeJob {
            request_id: request.request_id,
            table: &request.table.table,
            batch: request.batch.index,
            sha256: &request.batch.sha256,
        };
        merge_batch(&mut production, &schema, live, &request.table.columns, &job, &csv).await
    }
}

#[async_trait]
impl Merger for PgMerger {
    fn kind(&self) -> ResourceKind {
        ResourceKind::RdsInstance
    }

    fn unusable(&self) -> Option<String> {
        match &self.connector {
            Connector::Unavailable(why) => Some(format!("no database connections: {why}")),
            _ => None,
        }
    }

    async fn prepare_staging(&self, staging: &str, request_id: &str) -> Result<Progress, PortError> {
        match &self.connector {
            Connector::Rds { rds, .. } => ensure_managed_secret(rds, staging, request_id).await,
            _ => Ok(Progress::Done),
        }
    }

    async fn extract(&self, request: &ExtractRequest<'_>) -> Result<ResourceExtract, PortError> {
        self.extract_all(request)
            .await
            .map_err(|e| e.at("extract", request.resource))
    }

    async fn merge(&self, request: &MergeRequest<'_>) -> Result<BatchResult, PortError> {
        self.merge_one(request).await.map_err(|e| {
            e.at(
                "merge",
                format!(
                    "{} {} batch {}",
                    request.resource, request.table.table, request.batch.index
                ),
            )
        })
    }

    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<MergeCheck, PortError> {
        let resource = &request.extract.resource;
        let read = async {
            let client = self.connector.connect(request.production).await?;
            ledger(&client, request.request_id).await
        };
        let ledger = read.await.map_err(|e| e.at("verify", resource))?;
        Ok(compare_ledger(&ledger, request.merged))
    }
}

/// Every batch the run recorded is in production's ledger with the same counts.
fn compare_ledger(ledger: &[(String, u32, BatchResult)], merged: &[MergedBatch]) -> MergeCheck {
    for m in merged {
        let found = ledger.iter().find(|(t, b, _)| *t == m.table && *b == m.index);
        match found {
            Some((_, _, result))
                if result.accounted() == m.result.accounted() && result.inserted == m.result.inserted => {}
            Some((_, _, result)) => {
                return MergeCheck {
                    ok: false,
                    detail: format!(
                        "{} batch {}: production recorded {} inserted of {}, the run {} of {}",
                        m.table,
                        m.index,
                        result.inserted,
                        result.accounted(),
                        m.result.inserted,
                        m.result.accounted()
                    ),
                }
            }
            None => {
                return MergeCheck {
                    ok: false,
                    detail: format!(
                        "production has no record of merging {} batch {}",
                        m.table, m.index
                    ),
                }
            }
        }
    }
    MergeCheck {
        ok: true,
        detail: format!("{} merged batches recorded by production's ledger", merged.len()),
    }
}
