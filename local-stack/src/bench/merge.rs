//! Selective restore at scale.
//!
//! - PostgreSQL: the CRM schema (contacts, applications, notes: a parent and two children)
//!   with `rows` rows in all, every one of them missing from production. A plain `COPY` of
//!   the same rows into the same (empty) tables, measured in the same run, is the yardstick;
//!   then the merge engine extracts (`missing`, with dependants) and merges them. The
//!   extract and the merge run in a child process (`lifeboat-local merge-worker`), which reports its
//!   own peak resident memory for the merge phase (the peak is reset after the extract
//!   through `/proc/self/clear_refs`), with the extract stored in files as it is in S3.
//! - DynamoDB: calls per restored item, counted by the edge, for `missing` items of a table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::selective::ResourceExtract;
use lifeboat::ports::memory::MemoryReports;
use lifeboat::ports::merger::{ExtractRequest, MergeRequest, Merger};
use lifeboat::ports::{FailureKind, ObjectStore, PortError};
use lifeboat::request::decision::{Records, Selection};
use lifeboat_aws::dynamodb_merger::DynamoMerger;
use lifeboat_postgres::{Connector, PgMerger};
use serde_json::{json, Value};

use crate::demo::crm;
use crate::postgres::PgCluster;
use crate::stack::{LocalStack, StackConfig};
use crate::{resources, StackError};

/// Rows per batch, as the executor's default.
const BATCH_ROWS: u64 = lifeboat::execution::selective::DEFAULT_BATCH_ROWS;
const DYNAMODB_ITEMS: usize = 2_000;

fn setup(what: &str, e: impl std::fmt::Display) -> StackError {
    StackError::Setup(format!("merge bench: {what}: {e}"))
}

/// The heading of the PostgreSQL figures.
pub fn postgres_heading() -> String {
    format!(
        "Selective restore, PostgreSQL: rows across contacts (1/4), applications (1/4) and notes (1/2), all missing from production; batches of {BATCH_ROWS}:"
    )
}

/// One size's PostgreSQL figures.
pub async fn postgres_run(rows: u64) -> Result<String, StackError> {
    let work = std::env::temp_dir().join(format!("lifeboat-merge-bench-{}-{rows}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| setup("work dir", e))?;
    let cluster = PgCluster::start(&work).await?;
    for db in ["stage", "copied", "prod"] {
        cluster
            .create_database(db)
            .await
            .map_err(|e| setup("database", e))?;
    }
    let stage = cluster.connect("stage").await.map_err(|e| setup("connect", e))?;
    crm::seed(&stage, rows as i64 / 4).await?;
    stage
        .batch_execute("ANALYZE")
        .await
        .map_err(|e| setup("analyze", e))?;
    let copied = cluster.connect("copied").await.map_err(|e| setup("connect", e))?;
    copied
        .batch_execute(crm::SCHEMA)
        .await
        .map_err(|e| setup("schema", e))?;
    let started = Instant::now();
    for table in ["contacts", "applications", "notes"] {
        lifeboat_postgres::select::pipe(&stage, &format!("SELECT * FROM {table}"), &copied, table)
            .await
            .map_err(|e| setup("plain COPY", e))?;
    }
    let copy_secs = started.elapsed().as_secs_f64();
    let prod = cluster.connect("prod").await.map_err(|e| setup("connect", e))?;
    prod.batch_execute(crm::SCHEMA)
        .await
        .map_err(|e| setup("schema", e))?;

    let worker = tokio::process::Command::new(std::env::current_exe().map_err(|e| setup("exe", e))?)
        .args(["merge-worker", "--url", &cluster.url(), "--store"])
        .arg(work.join("extract"))
        .output()
        .await
        .map_err(|e| setup("worker", e))?;
    if !worker.status.success() {
        return Err(setup("worker", String::from_utf8_lossy(&worker.stderr)));
    }
    let figures: Value = serde_json::from_slice(&worker.stdout).map_err(|e| setup("worker output", e))?;
    let merged: i64 = prod
        .query_one(
            "SELECT (SELECT count(*) FROM contacts) + (SELECT count(*) FROM applications) + (SELECT count(*) FROM notes)",
            &[],
        )
        .await
        .map_err(|e| setup("count", e))?
        .get(0);
    drop(cluster);
    let _ = std::fs::remove_dir_all(&work);
    let merge_secs = figures["merge_secs"].as_f64().unwrap_or(f64::NAN);
    let rate = |secs: f64| rows as f64 / secs;
    Ok(format!(
        "  {rows} rows: plain COPY {copy_secs:.2} s ({:.0} rows/s); merge {merge_secs:.2} s ({:.0} rows/s, {:.2} of COPY), {merged} rows in production; extract and plan {:.2} s; merge peak memory {:.1} MB (extract {:.1} MB)\n",
        rate(copy_secs),
        rate(merge_secs),
        copy_secs / merge_secs,
        figures["extract_secs"].as_f64().unwrap_or(f64::NAN),
        figures["merge_peak_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
        figures["extract_peak_kb"].as_f64().unwrap_or(f64::NAN) / 1024.0,
    ))
}

/// The child process: extract `stage` against `prod`, then merge, printing its figures.
pub async fn merge_worker(url: &str, store: &Path) -> Result<String, StackError> {
    let store: Arc<dyn ObjectStore> = Arc::new(FileStore(store.to_path_buf()));
    let merger = PgMerger::new(Connector::local(url).map_err(|e| setup("url", e))?, store);
    let resource = ResourceKey::rds("prod");
    let selections = [Selection {
        resource: resource.clone(),
        table: "contacts".into(),
        records: Records::Missing(true),
        with_dependants: true,
    }];
    let started = Instant::now();
    let extract = merger
        .extract(&ExtractRequest {
            request_id: "bench",
            resource: &resource,
            production: "prod",
            staging: "stage",
            selections: &selections,
            batch_rows: BATCH_ROWS,
        })
        .await
        .map_err(|e| setup("extract", e))?;
    let extract_secs = started.elapsed().as_secs_f64();
    let extract_peak_kb = peak_kb();
    reset_peak();
    let started = Instant::now();
    let inserted = merge_all(&merger, &extract).await?;
    let merge_secs = started.elapsed().as_secs_f64();
    Ok(json!({
        "extract_secs": extract_secs,
        "merge_secs": merge_secs,
        "inserted": inserted,
        "extract_peak_kb": extract_peak_kb,
        "merge_peak_kb": peak_kb(),
    })
    .to_string())
}

async fn merge_all(merger: &dyn Merger, extract: &ResourceExtract) -> Result<u64, StackError> {
    let mut inserted = 0;
    for table in &extract.tables {
        for batch in &table.batches {
            let result = merger
                .merge(&MergeRequest {
                    request_id: "bench",
                    resource: &extract.resource,
                    production: &extract.resource.name,
                    table,
                    batch,
                })
                .await
                .map_err(|e| setup("merge", e))?;
            inserted += result.inserted;
        }
    }
    Ok(inserted)
}

/// The process's peak resident set (`VmHWM`), in KiB.
fn peak_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// Resets `VmHWM` to the current resident set (Linux 4.0+).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The extract in files, as it is in S3: nothing of it stays in memory.
struct FileStore(PathBuf);

#[async_trait]
impl ObjectStore for FileStore {
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), PortError> {
        let path = self.0.join(key);
        let fail = |e: std::io::Error| PortError::new("put", key, FailureKind::Unavailable, e.to_string());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        std::fs::write(&path, body).map_err(fail)
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        std::fs::read(self.0.join(key))
            .map_err(|e| PortError::new("get", key, FailureKind::NotFound, e.to_string()))
    }

    async fn list(&self, prefix: &str, _start_after: &str, _limit: usize) -> Result<Vec<String>, PortError> {
        // The merge reads extracts by the keys it wrote; it never lists.
        Err(PortError::new(
            "list",
            prefix,
            FailureKind::Refused,
            "the bench's store does not list",
        ))
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        match std::fs::remove_file(self.0.join(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PortError::new(
                "delete",
                key,
                FailureKind::Unavailable,
                e.to_string(),
            )),
            _ => Ok(()),
        }
    }
}

/// DynamoDB calls per restored item: `missing` items of a table of `DYNAMODB_ITEMS`, a
/// tenth of them still live, extracted and merged through the edge, which counts the calls.
pub async fn dynamodb_calls() -> Result<String, StackError> {
    let stack = LocalStack::start(StackConfig::from_env()).await?;
    for table in ["bench-live", "bench-staging"] {
        resources::dynamodb_table_keyed(&stack, table, Some("sk"), &[]).await?;
    }
    let item = |i: usize| {
        [
            ("pk", AttributeValue::S(format!("customer#{}", i / 20))),
            ("sk", AttributeValue::S(format!("{i:06}"))),
            ("v", AttributeValue::S(format!("event {i}"))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<std::collections::HashMap<_, _>>()
    };
    for (table, every) in [("bench-staging", 1), ("bench-live", 10)] {
        super::fill_table(&stack, table, (0..DYNAMODB_ITEMS).step_by(every).map(item)).await?;
    }
    stack.edge.ledger.clear();
    let merger = DynamoMerger::new(
        stack.dynamodb(),
        Arc::new(MemoryReports::default()),
        crate::names::REQUESTS_TABLE,
    );
    let resource = ResourceKey::dynamodb("bench-live");
    let selections = [Selection {
        resource: resource.clone(),
        table: "bench-live".into(),
        records: Records::Missing(true),
        with_dependants: false,
    }];
    let extract = merger
        .extract(&ExtractRequest {
            request_id: "bench",
            resource: &resource,
            production: "bench-live",
            staging: "bench-staging",
            selections: &selections,
            batch_rows: 1000,
        })
        .await
        .map_err(|e| setup("extract", e))?;
    let extract_calls = stack.edge.ledger.log().len();
    let inserted = merge_all(&merger, &extract).await?;
    let calls = stack.edge.ledger.log().len();
    let by_operation = stack.edge.ledger.counts();
    let detail: Vec<String> = by_operation
        .iter()
        .map(|((_, _, op), n)| format!("{op} {n}"))
        .collect();
    Ok(format!(
        "Selective restore, DynamoDB: {} items in staging, {} of them live; {inserted} restored with {calls} calls ({extract_calls} to extract and plan): {:.3} calls per restored item ({})\n",
        DYNAMODB_ITEMS,
        DYNAMODB_ITEMS / 10,
        calls as f64 / inserted.max(1) as f64,
        detail.join(", ")
    ))
}
