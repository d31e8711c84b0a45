//! A restore's run, recorded on its request: what each resource went through, every step
//! with its time, who confirmed, and how it ended. Steps read it to find what earlier tries
//! did; the report is written from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::counted::Counted;
use super::identity::Identity;
use super::names::{names, RestoreNames};
use super::selective::SelectiveRun;
use crate::catalog::{ResourceKey, ResourceKind};
use crate::request::decision::Mode;
use crate::request::options::Source;

/// The state machine's steps, by the name its tasks pass to the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    Begin,
    Resolve,
    SafetySnapshot,
    RestoreStaging,
    CheckReady,
    /// Selective: the selected records out of staging into the extract, with the plan.
    Extract,
    AwaitConfirmation,
    Swap,
    /// Selective: the extract into production, batch by batch.
    Merge,
    /// One shard of work a step spread over the state machine's Map (a copy-back segment).
    CopyBack,
    Verify,
    CleanUp,
    Finish,
    Abort,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Begin => "begin",
            Step::Resolve => "resolve",
            Step::SafetySnapshot => "safety_snapshot",
            Step::RestoreStaging => "restore_staging",
            Step::CheckReady => "check_ready",
            Step::Extract => "extract",
            Step::AwaitConfirmation => "await_confirmation",
            Step::Swap => "swap",
            Step::Merge => "merge",
            Step::CopyBack => "copy_back",
            Step::Verify => "verify",
            Step::CleanUp => "clean_up",
            Step::Finish => "finish",
            Step::Abort => "abort",
        }
    }
}

/// How far one resource got. Ordered: a later phase implies the earlier ones happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Named by the approval; nothing checked yet.
    Planned,
    /// The recovery point is checked restorable and held.
    Resolved,
    /// The safety snapshot of production was asked for.
    SafetyStarted,
    /// The restore into staging was asked for.
    StagingStarted,
    /// Safety snapshot and staging are both available.
    Ready,
    /// Selective: the selection is extracted and planned.
    Extracted,
    /// Selective: batches are being merged into production. Merged rows are records that
    /// were lost, inserted where production had nothing: a failure keeps them and reports
    /// them, there is no swap to undo.
    Merging,
    Merged,
    /// Production is being changed: from here on a failure must restore the fallback.
    Swapping,
    Swapped,
    Verified,
    /// A failed swap is being undone (see [`ResourceRun::undo_needed`]).
    Undoing,
    /// A failed swap was undone: production is as it was.
    Undone,
}

/// One production resource in a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRun {
    pub resource: ResourceKey,
    pub source: Source,
    /// The service id of the snapshot or backup restored from (none for point in time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_from: Option<String>,
    pub restores_to: DateTime<Utc>,
    /// The safety snapshot's service id, once asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_snapshot: Option<String>,
    pub staging: String,
    pub fallback: String,
    pub phase: Phase,
    /// Whether staging was deleted (or never made).
    #[serde(default)]
    pub staging_deleted: bool,
    /// What an undo kept of the restored resource because it had served as production (it
    /// holds every write production took until the undo): never deleted by Lifeboat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// Differences verification found after the swap had finished (writes or expiries that
    /// came after it), or an undo found between production and what it put back: reported
    /// and left as they are for an engineer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub differences: Option<String>,
    /// What the service said it was waiting for at the last poll (cleared once done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Work counted at the last poll (a copy-back's items).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<Counted>,
    /// When its swap was seen done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swapped_at: Option<DateTime<Utc>>,
    /// Staging's identity, pinned by `check_ready` once staging was proven this restore's and
    /// ready: every later use requires the resource by the staging name to be this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging_identity: Option<Identity>,
    /// An undo's fallback's identity: pinned by the failure path once a fallback the undo
    /// restored was proven, or, for a resource whose undo puts the original back (RDS),
    /// production's own, pinned by `check_ready` with staging, before the swap moves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_identity: Option<Identity>,
}

impl ResourceRun {
    pub fn new(request_id: &str, resource: ResourceKey, source: Source, restores_to: DateTime<Utc>) -> Self {
        let RestoreNames {
            staging, fallback, ..
        } = names(request_id, &resource);
        ResourceRun {
            resource,
            source,
            restore_from: None,
            restores_to,
            safety_snapshot: None,
            staging,
            fallback,
            phase: Phase::Planned,
            staging_deleted: false,
            kept: None,
            differences: None,
            waiting_for: None,
            counted: None,
            swapped_at: None,
            staging_identity: None,
            fallback_identity: None,
        }
    }

    pub fn names(&self, request_id: &str) -> RestoreNames {
        names(request_id, &self.resource)
    }

    /// Whether the swap has touched production.
    pub fn production_touched(&self) -> bool {
        matches!(
            self.phase,
            Phase::Swapping | Phase::Swapped | Phase::Verified | Phase::Undoing
        )
    }

    /// Until when production's writes are not in what this rollback made production, given
    /// that its swap began at `swap_began` and it is now `at`: an RDS swap takes production's
    /// name away as it begins (later writes reach the old instance, kept aside as the
    /// fallback, or fail); a DynamoDB copy-back brings the live table to staging's content
    /// item by item while the table still takes writes, so a write made before the copy-back
    /// finished may be overwritten or deleted. `None` before the swap began.
    pub fn writes_lost_until(&self, swap_began: DateTime<Utc>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if !self.production_touched() {
            return None;
        }
        Some(match self.resource.kind {
            ResourceKind::RdsInstance => swap_began,
            ResourceKind::DynamoTable => self.swapped_at.unwrap_or(at),
        })
    }

    /// Whether a failure now must undo this resource's swap. An RDS swap is undone whenever
    /// it began (the old production is renamed back; the restored instance is kept aside). A
    /// DynamoDB copy-back is undone only when it failed part-way: once it finished, the live
    /// table holds the confirmed rollback and every write since, and undoing it would throw
    /// those writes away.
    pub fn undo_needed(&self) -> bool {
        match self.resource.kind {
            ResourceKind::RdsInstance => self.production_touched(),
            ResourceKind::DynamoTable => matches!(self.phase, Phase::Swapping | Phase::Undoing),
        }
    }
}

/// One step as it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: Step,
    pub at: DateTime<Utc>,
    pub detail: String,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Failed { error: String, cause: String },
}

/// Where the report is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportKeys {
    pub json: String,
    pub markdown: String,
}

/// A restore's run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub execution: String,
    pub mode: Mode,
    pub started_at: DateTime<Utc>,
    pub resources: Vec<ResourceRun>,
    pub timeline: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportKeys>,
    /// A selective restore's extract, plan and merged batches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selective: Option<SelectiveRun>,
}

impl Run {
    pub fn new(execution: String, mode: Mode, started_at: DateTime<Utc>) -> Run {
        Run {
            execution,
            mode,
            started_at,
            resources: Vec::new(),
            timeline: Vec::new(),
            confirmed_by: None,
            confirmed_at: None,
            outcome: None,
            report: None,
            selective: None,
        }
    }

    pub fn record(&mut self, step: Step, at: DateTime<Utc>, detail: impl Into<String>) {
        self.timeline.push(StepRecord {
            step,
            at,
            detail: detail.into(),
        });
    }

    /// Whether every resource has reached `phase`.
    pub fn all_at_least(&self, phase: Phase) -> bool {
        !self.resources.is_empty() && self.resources.iter().all(|r| r.phase >= phase)
    }
}

/// Where the report of `request_id` goes in the reports bucket.
pub fn report_keys(request_id: &str) -> ReportKeys {
    ReportKeys {
        json: format!("restores/{request_id}/report.json"),
        markdown: format!("restores/{request_id}/report.md"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_swap_phases_count_as_touching_production() {
        let mut r = ResourceRun::new(
            "rr-1",
            ResourceKey::rds("db"),
            Source::PointInTime {
                target: "2026-11-28T10:00:00Z".parse().unwrap(),
            },
            "2026-11-28T10:00:00Z".parse().unwrap(),
        );
        for (phase, touched) in [
            (Phase::Planned, false),
            (Phase::Resolved, false),
            (Phase::Ready, false),
            (Phase::Swapping, true),
            (Phase::Verified, true),
            (Phase::Undoing, true),
            (Phase::Undone, false),
        ] {
            r.phase = phase;
            assert_eq!(r.production_touched(), touched, "{phase:?}");
        }
    }

    #[test]
    fn a_finished_dynamodb_copy_back_is_never_undone_an_rds_swap_always() {
        let at: DateTime<Utc> = "2026-11-28T10:00:00Z".parse().unwrap();
        let source = Source::PointInTime { target: at };
        let mut rds = ResourceRun::new("rr-1", ResourceKey::rds("db"), source.clone(), at);
        let mut table = ResourceRun::new("rr-1", ResourceKey::dynamodb("orders"), source, at);
        for (phase, rds_undo, table_undo) in [
            (Phase::Ready, false, false),
            (Phase::Swapping, true, true),
            (Phase::Swapped, true, false),
            (Phase::Verified, true, false),
            (Phase::Undoing, true, true),
            (Phase::Undone, false, false),
        ] {
            rds.phase = phase;
            table.phase = phase;
            assert_eq!(rds.undo_needed(), rds_undo, "rds {phase:?}");
            assert_eq!(table.undo_needed(), table_undo, "dynamodb {phase:?}");
        }
    }
}
