//! [`Merger`] for DynamoDB tables: [`dynamodb_merge`](super::dynamodb_merge)'s selection,
//! plan and conditional merge, with the extract in the reports bucket.
//!
//! A DynamoDB resource is one table, so its selections name that table. Each page of
//! selected items becomes one batch: JSON lines of DynamoDB JSON, gzip, with its SHA-256 in
//! the manifest. Writes are conditional on the key being absent, so a batch merged twice
//! never overwrites or duplicates an item, and each transaction records its counts in
//! Lifeboat's requests table ([`MergeLedger`]), so the second time reports the first's.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::Utc;
use sha2::{Digest, Sha256};

use super::dynamodb_merge::MergeLedger;
use super::dynamodb_merge::{
    decode_items, encode_items, key_schema, merge_items, plan_items, select_items, ItemSelection,
};
use lifeboat::catalog::ResourceKind;
use lifeboat::execution::packing::{pack, sha256, unpack};
use lifeboat::execution::selective::{
    batch_key, BatchFile, BatchResult, ResourceExtract, Skip, SkipReason, TableExtract, TablePlan,
    MAX_LISTED_SKIPS,
};
use lifeboat::ports::merger::MergeCheck;
use lifeboat::ports::merger::{ExtractRequest, MergeRequest, Merger, VerifyRequest};
use lifeboat::ports::{FailureKind, ObjectStore, PortError};
use lifeboat::request::decision::Records;

pub struct DynamoMerger {
    client: Client,
    store: Arc<dyn ObjectStore>,
    /// Lifeboat's requests table, which holds the merge ledger's entries.
    ledger_table: String,
}

impl DynamoMerger {
    pub fn new(client: Client, store: Arc<dyn ObjectStore>, ledger_table: impl Into<String>) -> Self {
        DynamoMerger {
            client,
            store,
            ledger_table: ledger_table.into(),
        }
    }

    async fn read_batch(&self, batch: &BatchFile) -> Result<Vec<u8>, PortError> {
        let gz = self.store.get(&batch.key).await?;
        unpack(&gz, &batch.sha256)
            .map_err(|why| PortError::new("merge", &batch.key, FailureKind::Refused, why))
    }
}

fn reason(records: &Records) -> &'static str {
    match records {
        Records::Keys(_) => "selected by key (a partition key alone: its whole item collection)",
        Records::Filter(_) => "selected by filter",
        Records::Missing(_) => "missing from the live table",
    }
}

/// The table being built from the pages the selection hands over.
struct Building {
    batches: Vec<BatchFile>,
    rows: u64,
    table_hash: Sha256,
    plan: TablePlan,
}

#[async_trait]
impl Merger for DynamoMerger {
    fn kind(&self) -> ResourceKind {
        ResourceKind::DynamoTable
    }

    async fn extract(&self, request: &ExtractRequest<'_>) -> Result<ResourceExtract, PortError> {
        let table = request.production;
        let refuse = |why: String| PortError::new("extract", request.resource, FailureKind::Refused, why);
        let keys = key_schema(&self.client, request.staging).await?.names();
        let building = Arc::new(Mutex::new(Building {
            batches: Vec::new(),
            rows: 0,
            table_hash: Sha256::new(),
            plan: TablePlan::default(),
        }));
        let mut reasons = Vec::new();
        let mut keys_not_found = 0;
        for (n, selection) in request.selections.iter().enumerate() {
            if selection.table != table {
                return Err(refuse(format!(
                    "selection[{n}]: table {:?} is not {table}, the resource's table",
                    selection.table
                )));
            }
            let stats = select_items(
                &self.client,
                request.staging,
                table,
                &ItemSelection::from_records(&selection.records),
                request.batch_rows as usize,
                |page| {
                    let building = building.clone();
                    async move {
                        let bytes = encode_items(&page)?;
                        let plan = plan_items(&self.client, table, &page).await?;
                        let index = building.lock().expect("extract lock").batches.len() as u32;
                        let key = batch_key(request.request_id, request.resource, table, index, "jsonl");
                        self.store.put(&key, pack(&bytes), "application/gzip").await?;
                        let mut b = building.lock().expect("extract lock");
                        b.table_hash.update(&bytes);
                        b.rows += page.len() as u64;
                        b.plan.insert += plan.to_insert as u64;
                        b.plan.present += plan.present as u64;
                        b.batches.push(BatchFile {
                            index,
                            key,
                            rows: page.len() as u64,
                            sha256: sha256(&bytes),
                        });
                        Ok(())
                    }
                },
            )
            .await?;
            keys_not_found += stats.not_in_staging as u64;
            if stats.items > 0 {
                reasons.push(reason(&selection.records).to_string());
            }
        }
        let b = Arc::try_unwrap(building)
            .map_err(|_| refuse("the selection still holds a page".into()))?
            .into_inner()
            .expect("extract lock");
        let tables = if b.rows == 0 {
            Vec::new()
        } else {
            vec![TableExtract {
                table: table.to_string(),
                columns: Vec::new(),
                key: keys,
                rows: b.rows,
                sha256: hex::encode(b.table_hash.finalize()),
                batches: b.batches,
                reasons,
                plan: b.plan,
            }]
        };
        Ok(ResourceExtract {
            resource: request.resource.clone(),
            tables,
            keys_not_found,
        })
    }

    async fn merge(&self, request: &MergeRequest<'_>) -> Result<BatchResult, PortError> {
        let items = decode_items(&self.read_batch(request.batch).await?)?;
        let batch = format!(
            "{}#{}#{}#{}",
            request.request_id, request.resource, request.table.table, request.batch.index
        );
        let ledger = MergeLedger::new(&self.ledger_table, batch, Utc::now());
        let outcome = merge_items(&self.client, request.production, items, Some(&ledger)).await?;
        Ok(BatchResult {
            inserted: outcome.inserted as u64,
            present: outcome.present.len() as u64,
            conflicts: 0,
            parent_missing: 0,
            skipped: outcome
                .present
                .into_iter()
                .take(MAX_LISTED_SKIPS)
                .map(|key| Skip {
                    key,
                    reason: SkipReason::Present,
                })
                .collect(),
        })
    }

    /// Every extracted item's key is in the live table now (inserted, or there already).
    async fn verify(&self, request: &VerifyRequest<'_>) -> Result<MergeCheck, PortError> {
        let mut checked = 0;
        for table in &request.extract.tables {
            for batch in &table.batches {
                let items = decode_items(&self.read_batch(batch).await?)?;
                let plan = plan_items(&self.client, request.production, &items).await?;
                if plan.to_insert > 0 {
                    return Ok(MergeCheck {
                        ok: false,
                        detail: format!(
                            "{} batch {}: {} items are still not in the live table",
                            table.table, batch.index, plan.to_insert
                        ),
                    });
                }
                checked += items.len();
            }
        }
        Ok(MergeCheck {
            ok: true,
            detail: format!("all {checked} extracted items are in the live table"),
        })
    }
}
