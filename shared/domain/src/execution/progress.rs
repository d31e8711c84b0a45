//! How far a restore is, per resource, as the request's reader and its status events show
//! it: the stage (from the resource's phase), what the service says it waits for (an RDS
//! instance `creating`, a rename), counts where the work is counted (a DynamoDB copy-back's
//! items, a selective merge's batches and rows) and the time left where the rate is known.
//!
//! Everything is read from the run the executor records on the request: a reader never
//! asks a service.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use super::counted::Counted;
use super::run::{Phase, ResourceRun, Run, Step};
use super::selective::SelectiveRun;
use crate::catalog::{ResourceKey, ResourceKind};

/// One resource's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceProgress {
    pub resource: String,
    pub stage: Stage,
    /// What the service says it is waiting for, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// A selective merge's batches, merged of all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<(u64, u64)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<i64>,
}

/// Where a resource's restore is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Planned,
    /// The safety snapshot of production is being taken.
    Snapshotting,
    /// The recovery point is being restored into staging.
    Restoring,
    /// Staging is usable: next, confirmation (or the extract of a selective restore).
    Ready,
    Extracted,
    Merging,
    /// An RDS instance's renames: production aside, staging into its name.
    Renaming,
    /// A DynamoDB table's items copied back into production.
    Copying,
    Verifying,
    Undoing,
    Undone,
    Done,
}

/// The whole restore's progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreProgress {
    /// The last step recorded, and when.
    pub step: Step,
    pub updated_at: DateTime<Utc>,
    pub resources: Vec<ResourceProgress>,
}

/// The progress of `run` at `now` (for the time left).
pub fn progress_of(run: &Run, now: DateTime<Utc>) -> RestoreProgress {
    let last = run.timeline.last();
    RestoreProgress {
        step: last.map_or(Step::Begin, |r| r.step),
        updated_at: last.map_or(run.started_at, |r| r.at),
        resources: run
            .resources
            .iter()
            .map(|r| resource_progress(run, r, now))
            .collect(),
    }
}

fn resource_progress(run: &Run, r: &ResourceRun, now: DateTime<Utc>) -> ResourceProgress {
    let finished = run.outcome.is_some();
    let stage = match (r.phase, r.resource.kind) {
        (Phase::Planned | Phase::Resolved, _) => Stage::Planned,
        (Phase::SafetyStarted, _) => Stage::Snapshotting,
        (Phase::StagingStarted, _) => Stage::Restoring,
        (Phase::Ready, _) => Stage::Ready,
        (Phase::Extracted, _) => Stage::Extracted,
        (Phase::Merging, _) => Stage::Merging,
        (Phase::Merged | Phase::Verified, _) => Stage::Done,
        (Phase::Swapping, ResourceKind::RdsInstance) => Stage::Renaming,
        (Phase::Swapping, ResourceKind::DynamoTable) => Stage::Copying,
        (Phase::Swapped, _) if finished => Stage::Done,
        (Phase::Swapped, _) => Stage::Verifying,
        (Phase::Undoing, _) => Stage::Undoing,
        (Phase::Undone, _) => Stage::Undone,
    };
    let mut p = ResourceProgress {
        resource: r.resource.to_string(),
        stage,
        waiting_for: r.waiting_for.clone().filter(|_| !finished),
        percent: None,
        done: None,
        total: None,
        unit: None,
        batches: None,
        eta_seconds: None,
    };
    let counted = match stage {
        Stage::Merging | Stage::Extracted => run
            .selective
            .as_ref()
            .and_then(|s| merged_rows(run, s, r, &mut p)),
        // A selective restore's end: what it merged.
        Stage::Done if run.selective.is_some() => run
            .selective
            .as_ref()
            .and_then(|s| merged_rows(run, s, r, &mut p)),
        // A count is shown only at the stage it counts: the swap's copy, the verify's
        // comparison (an undo counts nothing it could show).
        Stage::Copying => r.counted.clone().filter(|c| c.unit == "items"),
        Stage::Verifying | Stage::Done => r.counted.clone().filter(|c| c.unit != "items"),
        _ => None,
    };
    if let Some(c) = counted {
        p.percent = (c.total > 0).then(|| (100.0 * c.done as f64 / c.total as f64).min(100.0));
        p.eta_seconds = eta(&c, now);
        p.done = Some(c.done);
        p.total = Some(c.total);
        p.unit = Some(c.unit);
    }
    if stage == Stage::Done {
        p.percent = Some(100.0);
    }
    p
}

/// A selective merge's rows and batches of `resource`: `(rows merged, rows, batches
/// merged, batches)`, from the batches the run recorded merged.
pub fn merged_count(s: &SelectiveRun, resource: &ResourceKey) -> (u64, u64, u64, u64) {
    let (mut rows, mut done_rows, mut batches, mut done_batches) = (0, 0, 0, 0);
    for b in s.batches().filter(|b| b.resource == resource) {
        rows += b.batch.rows;
        batches += 1;
        if s.merged(&b).is_some() {
            done_rows += b.batch.rows;
            done_batches += 1;
        }
    }
    (done_rows, rows, done_batches, batches)
}

/// A selective merge's rows and batches for `r`; the rate from the merge's own count, as
/// the merge step recorded it after each batch (else from its timeline).
fn merged_rows(run: &Run, s: &SelectiveRun, r: &ResourceRun, p: &mut ResourceProgress) -> Option<Counted> {
    let (done_rows, rows, done_batches, batches) = merged_count(s, &r.resource);
    p.batches = Some((done_batches, batches));
    let (since, at) = match r.counted.as_ref().filter(|c| c.unit == "rows") {
        Some(c) => (c.since, c.at),
        None => {
            let since = (run.timeline.iter())
                .find(|t| t.step == Step::Merge)
                .map_or(run.started_at, |t| t.at);
            (since, since)
        }
    };
    Some(Counted {
        done: done_rows,
        total: rows,
        unit: "rows".into(),
        since,
        at,
    })
}

/// The time left at the rate so far, once there is a rate to go by.
fn eta(c: &Counted, now: DateTime<Utc>) -> Option<i64> {
    let elapsed = (c.at - c.since).num_seconds();
    if c.done == 0 || elapsed <= 0 || c.done >= c.total {
        return None;
    }
    let left = (c.total - c.done) as f64 * elapsed as f64 / c.done as f64;
    // Time since the last count has passed already.
    Some(((left - (now - c.at).num_seconds() as f64).max(0.0)).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ResourceKey;
    use crate::execution::selective::{
        BatchFile, BatchResult, MergedBatch, ResourceExtract, TableExtract, TablePlan,
    };
    use crate::request::decision::Mode;
    use crate::request::options::Source;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn run(resources: Vec<ResourceRun>) -> Run {
        let mut run = Run::new("x".into(), Mode::Rollback, at("2026-12-04T10:00:00Z"));
        run.resources = resources;
        run
    }

    fn resource(key: ResourceKey, phase: Phase) -> ResourceRun {
        let t = at("2026-12-04T08:00:00Z");
        let mut r = ResourceRun::new("rr-1", key, Source::PointInTime { target: t }, t);
        r.phase = phase;
        r
    }

    #[test]
    fn each_phase_reads_as_its_stage_and_a_swap_as_the_service_does_it() {
        let db = ResourceKey::rds("acme-db");
        let table = ResourceKey::dynamodb("acme-orders");
        let mut restoring = resource(db.clone(), Phase::StagingStarted);
        restoring.waiting_for = Some("rds:lifeboat-stg-1 is creating".into());
        let r = run(vec![
            restoring,
            resource(db.clone(), Phase::Swapping),
            resource(table, Phase::Swapping),
            resource(db, Phase::Verified),
        ]);
        let p = progress_of(&r, at("2026-12-04T10:05:00Z"));
        let stages: Vec<Stage> = p.resources.iter().map(|r| r.stage).collect();
        assert_eq!(
            stages,
            [Stage::Restoring, Stage::Renaming, Stage::Copying, Stage::Done]
        );
        assert_eq!(
            p.resources[0].waiting_for.as_deref(),
            Some("rds:lifeboat-stg-1 is creating")
        );
        assert_eq!(p.resources[3].percent, Some(100.0));
        assert_eq!(p.step, Step::Begin, "nothing recorded yet");
    }

    #[test]
    fn a_copy_back_shows_items_done_of_total_and_the_time_left_at_its_rate() {
        let mut copying = resource(ResourceKey::dynamodb("acme-orders"), Phase::Swapping);
        copying.counted = Some(Counted {
            done: 2_500,
            total: 10_000,
            unit: "items".into(),
            since: at("2026-12-04T10:00:00Z"),
            at: at("2026-12-04T10:05:00Z"),
        });
        let p = progress_of(&run(vec![copying]), at("2026-12-04T10:06:00Z"));
        let r = &p.resources[0];
        assert_eq!(
            (r.done, r.total, r.unit.as_deref()),
            (Some(2_500), Some(10_000), Some("items"))
        );
        assert_eq!(r.percent, Some(25.0));
        assert_eq!(
            r.eta_seconds,
            Some(15 * 60 - 60),
            "15 minutes at the rate, one passed"
        );
    }

    #[test]
    fn an_undo_never_shows_the_swap_s_count_nor_a_verify_before_its_own() {
        let mut undoing = resource(ResourceKey::dynamodb("acme-orders"), Phase::Undoing);
        undoing.counted = Some(Counted {
            done: 8_500,
            total: 10_000,
            unit: "items".into(),
            since: at("2026-12-04T10:00:00Z"),
            at: at("2026-12-04T10:05:00Z"),
        });
        let mut verifying = undoing.clone();
        verifying.phase = Phase::Swapped;
        let p = progress_of(&run(vec![undoing, verifying]), at("2026-12-04T10:06:00Z"));
        for r in &p.resources {
            assert_eq!((r.done, r.percent, r.eta_seconds), (None, None, None), "{r:?}");
        }
    }

    #[test]
    fn a_count_past_an_estimated_total_or_with_no_rate_yet_gives_no_time_left() {
        let mut c = Counted {
            done: 0,
            total: 10,
            unit: "items".into(),
            since: at("2026-12-04T10:00:00Z"),
            at: at("2026-12-04T10:00:00Z"),
        };
        assert_eq!(eta(&c, at("2026-12-04T10:01:00Z")), None);
        c.done = 12;
        c.at = at("2026-12-04T10:01:00Z");
        assert_eq!(eta(&c, at("2026-12-04T10:01:00Z")), None);
    }

    #[test]
    fn a_selective_merge_counts_batches_and_rows_of_its_own_resource() {
        let key = ResourceKey::rds("acme-db");
        let batch = |index: u32, rows| BatchFile {
            index,
            key: format!("b{index}"),
            rows,
            sha256: String::new(),
        };
        let mut r = run(vec![resource(key.clone(), Phase::Merging)]);
        r.selective = Some(SelectiveRun {
            manifest: None,
            extracts: vec![ResourceExtract {
                resource: key.clone(),
                tables: vec![TableExtract {
                    table: "public.contacts".into(),
                    columns: vec![],
                    key: vec!["id".into()],
                    rows: 300,
                    sha256: String::new(),
                    batches: vec![batch(0, 100), batch(1, 100), batch(2, 100)],
                    reasons: vec![],
                    plan: TablePlan::default(),
                }],
                keys_not_found: 0,
            }],
            merged: vec![MergedBatch {
                resource: key,
                table: "public.contacts".into(),
                index: 0,
                result: BatchResult {
                    inserted: 100,
                    present: 0,
                    conflicts: 0,
                    parent_missing: 0,
                    skipped: vec![],
                },
            }],
        });
        r.record(Step::Merge, at("2026-12-04T10:00:00Z"), "batch 0");
        // The merge's count after its batch: 100 rows in two minutes.
        r.resources[0].counted = Some(Counted {
            done: 100,
            total: 300,
            unit: "rows".into(),
            since: at("2026-12-04T10:00:00Z"),
            at: at("2026-12-04T10:02:00Z"),
        });
        let p = progress_of(&r, at("2026-12-04T10:02:00Z"));
        let m = &p.resources[0];
        assert_eq!(m.stage, Stage::Merging);
        assert_eq!(m.batches, Some((1, 3)));
        assert_eq!((m.done, m.total), (Some(100), Some(300)));
        assert_eq!(m.eta_seconds, Some(240));
        assert_eq!(p.step, Step::Merge);
    }
}
