//! The selective branch: after staging is ready, `extract` takes the selected records out of
//! staging into the extract (with the plan, in the report before anyone confirms); after
//! confirmation, `merge` inserts them into production batch by batch, each committed on its
//! own, until done or out of this invocation's time; `verify` checks production's own record
//! of the merged batches against the extract.

use std::time::Instant;

use chrono::{DateTime, Utc};
use lifeboat::execution::error::{StepError, PERMANENT, VERIFICATION_FAILED};
use lifeboat::execution::identity::Made;
use lifeboat::execution::run::{Phase, ResourceRun, Run, Step};
use lifeboat::execution::selective::{
    manifest_key, BatchResult, MergedBatch, ResourceExtract, SelectiveRun, MAX_BATCHES,
};
use lifeboat::ports::merger::{ExtractRequest, MergeRequest, VerifyRequest};
use lifeboat::ports::StoredRequest;
use lifeboat::request::decision::{Mode, Selection};
use serde_json::{json, Value};

use crate::production::start_changing_production;
use crate::progress::note_merged;
use crate::task::Task;
use crate::{target, Executor};

/// The approval's selections of one resource.
fn selections_of(stored: &StoredRequest, r: &ResourceRun) -> Vec<Selection> {
    stored
        .request
        .decision
        .as_ref()
        .map(|d| {
            d.selection
                .iter()
                .filter(|s| s.resource == r.resource)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn plan_summary(e: &ResourceExtract) -> String {
    let plan = e.plan();
    format!(
        "{}: {} rows extracted in {} tables; plan: insert {}, skip {} present, {} conflicts{}",
        e.resource,
        e.rows(),
        e.tables.len(),
        plan.insert,
        plan.present,
        plan.conflicts,
        if e.keys_not_found > 0 {
            format!("; {} selected keys not at the recovery point", e.keys_not_found)
        } else {
            String::new()
        }
    )
}

pub async fn extract(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (mut stored, mut run) = executor.load_run(id, Step::Extract).await?;
    if !run.all_at_least(Phase::Ready) {
        return Err(StepError::new(
            PERMANENT,
            format!("request {id}: extract asked before staging was ready"),
        ));
    }
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase != Phase::Ready {
            continue;
        }
        // Staging is read for what is merged into production later: only the one pinned,
        // before the extract reads it and again after (an identity never comes back, so the
        // pinned one both times means every read came from it); otherwise nothing of the
        // extract is recorded.
        let pinned = || async {
            executor
                .restorer(r.resource.kind)?
                .still_pinned(&target(id, run.started_at, r), Made::Staging)
                .await
                .map_err(|e| StepError::from_port("extract", e))
        };
        pinned().await?;
        let selections = selections_of(&stored, r);
        let extract = executor
            .merger(r.resource.kind)?
            .extract(&ExtractRequest {
                request_id: id,
                resource: &r.resource,
                production: &r.resource.name,
                staging: &r.staging,
                selections: &selections,
                batch_rows: executor.batch_rows,
            })
            .await
            .map_err(|e| StepError::from_port("extract", e))?;
        pinned().await?;
        let batches = run.selective.iter().flat_map(|s| s.batches()).count()
            + extract.tables.iter().map(|t| t.batches.len()).sum::<usize>();
        if batches > MAX_BATCHES {
            return Err(StepError::new(
                PERMANENT,
                format!(
                    "request {id}: the selection comes to {batches} batches of {} rows, more than the {MAX_BATCHES} one restore records; narrow the selection or raise LIFEBOAT_MERGE_BATCH_ROWS. Production was not touched",
                    executor.batch_rows
                ),
            ));
        }
        run.record(Step::Extract, now, plan_summary(&extract));
        let selective = run.selective.get_or_insert_with(SelectiveRun::default);
        selective.extracts.retain(|e| e.resource != extract.resource);
        selective.extracts.push(extract);
        run.resources[i].phase = Phase::Extracted;
        stored = executor.save_run(&stored, run.clone(), Step::Extract).await?;
    }
    write_manifest(executor, id, &mut run).await?;
    executor.save_run(&stored, run, Step::Extract).await?;
    Ok(json!({}))
}

/// The manifest beside the batches: every table's columns, key, counts, checksums and plan.
async fn write_manifest(executor: &Executor, id: &str, run: &mut Run) -> Result<(), StepError> {
    let key = manifest_key(id);
    let selective = run.selective.get_or_insert_with(SelectiveRun::default);
    let manifest = json!({
        "request_id": id,
        "format": "per table, batches of CSV (PostgreSQL COPY, columns as listed) or JSON lines (DynamoDB JSON), gzip; sha256 over the uncompressed batch",
        "resources": selective.extracts,
    });
    executor
        .reports
        .put(
            &key,
            serde_json::to_vec_pretty(&manifest).unwrap_or_default(),
            "application/json",
        )
        .await
        .map_err(|e| StepError::from_port("extract (manifest)", e))?;
    selective.manifest = Some(key);
    Ok(())
}

/// One invocation's worth of merging: `{"done": true}` once every batch is merged.
pub async fn merge(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let started = Instant::now();
    let id = task.request_id()?;
    let (mut stored, mut run) = start_changing_production(
        executor,
        task,
        now,
        (Step::Merge, Mode::Selective),
        (Phase::Extracted, Phase::Merging),
    )
    .await?;
    let selective = run.selective.clone().unwrap_or_default();
    let mut done_now = 0;
    let mut totals = BatchResult::default();
    for batch in selective.batches() {
        if selective.merged(&batch).is_some() {
            continue;
        }
        if done_now > 0 && started.elapsed() >= executor.merge_budget {
            break;
        }
        let result = executor
            .merger(batch.resource.kind)?
            .merge(&MergeRequest {
                request_id: id,
                resource: batch.resource,
                production: &batch.resource.name,
                table: batch.table,
                batch: batch.batch,
            })
            .await
            .map_err(|e| StepError::from_port("merge", e))?;
        totals = BatchResult {
            inserted: totals.inserted + result.inserted,
            present: totals.present + result.present,
            conflicts: totals.conflicts + result.conflicts,
            parent_missing: totals.parent_missing + result.parent_missing,
            skipped: Vec::new(),
        };
        run.selective
            .get_or_insert_with(SelectiveRun::default)
            .record(MergedBatch {
                resource: batch.resource.clone(),
                table: batch.table.table.clone(),
                index: batch.batch.index,
                result,
            });
        note_merged(&mut run, batch.resource, now);
        // Saved after every batch: a crash loses at most the record of one committed batch,
        // which the retry reads back from production's ledger.
        stored = executor.save_run(&stored, run.clone(), Step::Merge).await?;
        done_now += 1;
    }
    let left = run.selective.as_ref().and_then(|s| s.next_batch()).is_some();
    // One timeline entry per invocation, not per batch: the run lives in one DynamoDB item.
    run.record(
        Step::Merge,
        now,
        format!(
            "{done_now} batches merged: inserted {}, skipped {} present, {} conflicts, {} parent missing{}",
            totals.inserted,
            totals.present,
            totals.conflicts,
            totals.parent_missing,
            if left { "; more to merge" } else { "" }
        ),
    );
    if !left {
        for r in run.resources.iter_mut().filter(|r| r.phase == Phase::Merging) {
            r.phase = Phase::Merged;
        }
    }
    let saved = executor.save_run(&stored, run, Step::Merge).await?;
    if left && done_now > 0 {
        crate::progress::announce(executor, &saved, Step::Merge, chrono::Utc::now()).await;
    }
    Ok(json!({ "done": !left, "merged_now": done_now }))
}

/// Every extracted row is accounted for, and production's ledger agrees with the run.
pub async fn verify_merge(executor: &Executor, task: &Task, now: DateTime<Utc>) -> Result<Value, StepError> {
    let id = task.request_id()?;
    let (stored, mut run) = executor.load_run(id, Step::Verify).await?;
    let selective = run.selective.clone().unwrap_or_default();
    let problems = selective.unaccounted();
    if !problems.is_empty() {
        return Err(StepError::new(VERIFICATION_FAILED, problems.join("; ")));
    }
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        if r.phase != Phase::Merged {
            continue;
        }
        let Some(extract) = selective.extracts.iter().find(|e| e.resource == r.resource) else {
            continue;
        };
        let merged: Vec<MergedBatch> = selective
            .merged
            .iter()
            .filter(|m| m.resource == r.resource)
            .cloned()
            .collect();
        let verification = executor
            .merger(r.resource.kind)?
            .verify(&VerifyRequest {
                request_id: id,
                production: &r.resource.name,
                extract,
                merged: &merged,
            })
            .await
            .map_err(|e| StepError::from_port("verify", e))?;
        if !verification.ok {
            return Err(StepError::new(
                VERIFICATION_FAILED,
                format!("{}: {}", r.resource, verification.detail),
            ));
        }
        let (inserted, skipped) = extract
            .tables
            .iter()
            .map(|t| selective.table_result(&extract.resource, &t.table))
            .fold((0, 0), |(i, s), t| {
                (i + t.inserted, s + t.accounted() - t.inserted)
            });
        run.record(
            Step::Verify,
            now,
            format!(
                "{}: {}; {} rows: {inserted} inserted, {skipped} skipped",
                r.resource,
                verification.detail,
                extract.rows()
            ),
        );
        run.resources[i].phase = Phase::Verified;
    }
    executor.save_run(&stored, run, Step::Verify).await?;
    Ok(json!({ "done": true }))
}
