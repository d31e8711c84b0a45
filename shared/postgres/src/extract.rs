//! The selected rows out of staging, into compressed batches in the extract store, and the
//! plan: what merging each batch into production would do, measured read-only.
//!
//! Each batch is one `COPY … TO STDOUT (FORMAT csv)` of a range of the numbered rows, so a
//! batch never splits a row and memory holds one batch at most. Its SHA-256 is taken over the
//! uncompressed CSV, and the table's over all its batches in order.

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use super::ident::{list, row_eq};
use super::schema::{Schema, Table};
use super::select::SelectedTable;
use super::PgError;
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::packing::{pack, sha256};
use lifeboat::execution::selective::{batch_key, BatchFile, TableExtract, TablePlan};
use lifeboat::ports::ObjectStore;

/// Where and how big the batches are.
pub struct ExtractJob<'a> {
    pub request_id: &'a str,
    pub resource: &'a ResourceKey,
    pub batch_rows: u64,
    pub store: &'a dyn ObjectStore,
}

/// The columns a batch carries, checked to be insertable in production.
pub fn merge_columns(staging: &Table, production: &Table) -> Result<Vec<String>, PgError> {
    let columns = staging.copied_columns();
    for c in &columns {
        match production.column(c) {
            None => {
                return Err(PgError::refused(format!(
                    "production's {} has no column {c:?}, which the recovery point has",
                    production.id()
                )))
            }
            Some(p) if p.generated => {
                return Err(PgError::refused(format!(
                    "production's {} computes column {c:?}, which the recovery point stores",
                    production.id()
                )))
            }
            Some(_) => {}
        }
    }
    Ok(columns)
}

/// Extracts one selected table, batch by batch, with its plan.
pub async fn extract_table(
    staging: &Client,
    production: &mut Client,
    schema: &Schema,
    production_schema: &Schema,
    selected: &SelectedTable,
    job: &ExtractJob<'_>,
) -> Result<TableExtract, PgError> {
    let table = schema.table(&selected.table);
    let live = production_schema.table(&selected.table);
    let columns = merge_columns(table, live)?;
    let mut table_hash = Sha256::new();
    let mut batches = Vec::new();
    let mut plan = TablePlan::default();
    let count = selected.rows.div_ceil(job.batch_rows.max(1));
    for index in 0..count {
        let (lo, hi) = (index * job.batch_rows, (index + 1) * job.batch_rows);
        let csv = copy_out(
            staging,
            &format!(
                "SELECT {} FROM {} WHERE lifeboat_row > {lo} AND lifeboat_row <= {hi} ORDER BY lifeboat_row",
                list(&columns, None),
                selected.rows_table
            ),
        )
        .await?;
        table_hash.update(&csv);
        let rows = selected.rows.min(hi) - lo;
        let batch_plan = plan_batch(production, live, &columns, &csv).await?;
        plan.insert += batch_plan.insert;
        plan.present += batch_plan.present;
        plan.conflicts += batch_plan.conflicts;
        let key = batch_key(job.request_id, job.resource, &table.id(), index as u32, "csv");
        let sha256 = sha256(&csv);
        job.store
            .put(&key, pack(&csv), "application/gzip")
            .await
            .map_err(|e| PgError::unavailable(format!("storing {key}: {}", e.message)))?;
        batches.push(BatchFile {
            index: index as u32,
            key,
            rows,
            sha256,
        });
    }
    Ok(TableExtract {
        table: table.id(),
        columns,
        key: table.primary_key.clone(),
        rows: selected.rows,
        sha256: hex::encode(table_hash.finalize()),
        batches,
        reasons: selected.reasons.clone(),
        plan,
    })
}

/// One query's rows as CSV.
async fn copy_out(client: &Client, query: &str) -> Result<Vec<u8>, PgError> {
    let what = "reading the selected rows from staging";
    let stream = client
        .copy_out(&format!("COPY ({query}) TO STDOUT (FORMAT csv)"))
        .await
        .map_err(|e| PgError::query(what, e))?;
    futures::pin_mut!(stream);
    let mut csv = Vec::new();
    while let Some(chunk) = stream.next().await {
        csv.extend_from_slice(&chunk.map_err(|e| PgError::query(what, e))?);
    }
    Ok(csv)
}

/// Counts, in a transaction that is rolled back, how many of the batch's rows production has
/// (by key) and how many would collide on another unique constraint.
async fn plan_batch(
    production: &mut Client,
    live: &Table,
    columns: &[String],
    csv: &[u8],
) -> Result<TablePlan, PgError> {
    let what = format!("measuring the plan against production's {}", live.id());
    let tx = production
        .transaction()
        .await
        .map_err(|e| PgError::query(&what, e))?;
    super::merge::load_batch(&tx, live, columns, csv).await?;
    let unique: Vec<String> = live
        .unique
        .iter()
        .filter(|u| u.iter().all(|c| columns.contains(c)))
        .map(|u| {
            format!(
                "EXISTS (SELECT 1 FROM {} x WHERE {})",
                live.sql(),
                row_eq(u, "x", "b")
            )
        })
        .collect();
    let collides = if unique.is_empty() {
        "false".to_string()
    } else {
        unique.join(" OR ")
    };
    let row = tx
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE present), count(*) FILTER (WHERE NOT present AND collides),
                        count(*)
                   FROM (SELECT EXISTS (SELECT 1 FROM {t} x WHERE {on}) AS present, ({collides}) AS collides
                           FROM lifeboat_batch b) r",
                t = live.sql(),
                on = row_eq(&live.primary_key, "x", "b"),
            ),
            &[],
        )
        .await
        .map_err(|e| PgError::query(&what, e))?;
    tx.rollback().await.map_err(|e| PgError::query(&what, e))?;
    let (present, conflicts, all): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    Ok(TablePlan {
        insert: (all - present - conflicts) as u64,
        present: present as u64,
        conflicts: conflicts as u64,
    })
}
