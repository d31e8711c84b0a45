//! The report of a restore, in JSON (for tools) and Markdown (for people): who approved and
//! confirmed, the recovery points, what was restored, the data-loss window, the timeline,
//! and where the fallback and safety snapshots are.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::progress::{progress_of, Stage};
use super::run::{Outcome, Phase, ResourceRun, Run};
use super::selective_report;
use crate::catalog::ResourceKind;
use crate::request::decision::Mode;
use crate::request::lifecycle::RestoreRequest;
use crate::request::options::Source;

/// The report as JSON.
pub fn json_report(request: &RestoreRequest, run: &Run, now: DateTime<Utc>) -> Value {
    let decision = request.decision.as_ref();
    json!({
        "request_id": request.id,
        "instance_id": request.instance_id,
        "status": request.status.as_str(),
        "written_at": now,
        "execution": run.execution,
        "mode": run.mode,
        "filed_by": request.submitted_by,
        "approved_by": decision.map(|d| &d.by),
        "approved_at": decision.map(|d| d.at),
        "approval_reason": decision.map(|d| &d.reason),
        "confirmed_by": run.confirmed_by,
        "confirmed_at": run.confirmed_at,
        "outcome": run.outcome,
        "resources": run.resources.iter().map(|r| json!({
            "resource": r.resource.to_string(),
            "source": r.source,
            "restore_from": r.restore_from,
            "restores_to": r.restores_to,
            "data_loss": data_loss(r, run),
            "phase": r.phase,
            "restored": matches!(r.phase, Phase::Swapped | Phase::Verified),
            "safety_snapshot": r.safety_snapshot,
            "fallback": if run.mode == Mode::Selective { None } else { fallback_of(r, &request.id) },
            "staging": r.staging,
            "staging_deleted": r.staging_deleted,
            "kept": r.kept,
            "differences": r.differences,
            "fallback_snapshot": held_fallback(request, r),
        })).collect::<Vec<_>>(),
        "selective": run.selective.as_ref().map(selective_report::json_section),
        "progress": progress_of(run, now),
        "timeline": run.timeline,
    })
}

/// The snapshot a point-in-time option of `r`'s resource holds as its fallback.
fn held_fallback<'a>(request: &'a RestoreRequest, r: &ResourceRun) -> Option<&'a Source> {
    request
        .recovery_options
        .iter()
        .filter(|o| o.resource == r.resource && matches!(r.source, Source::PointInTime { .. }))
        .find_map(|o| o.fallback.as_ref())
}

/// When production started changing: the end of the data-loss window.
fn swap_time(run: &Run) -> Option<DateTime<Utc>> {
    run.timeline
        .iter()
        .find(|s| s.step == super::run::Step::Swap)
        .map(|s| s.at)
}

/// What a restored resource lost: everything written from its recovery point until the
/// swap; nothing when production was not changed (or was put back).
fn data_loss(r: &ResourceRun, run: &Run) -> Value {
    match (r.phase, swap_time(run)) {
        (Phase::Swapped | Phase::Verified, Some(until)) => json!({"since": r.restores_to, "until": until}),
        _ => Value::Null,
    }
}

/// Where the old production is: RDS keeps it renamed aside; DynamoDB has the backup taken
/// when the swap started.
fn fallback_of(r: &ResourceRun, request_id: &str) -> Option<String> {
    match (r.resource.kind, r.phase) {
        (ResourceKind::RdsInstance, Phase::Swapped | Phase::Verified) => {
            Some(format!("RDS instance {}", r.fallback))
        }
        (ResourceKind::DynamoTable, Phase::Swapped | Phase::Verified) => Some(format!(
            "DynamoDB backup {} of the live table",
            super::names::names(request_id, &r.resource).pre_swap
        )),
        _ => None,
    }
}

/// What happened to production, in words.
fn production_state(r: &ResourceRun, run: &Run, request_id: &str) -> String {
    match r.phase {
        Phase::Merging | Phase::Merged | Phase::Verified if run.mode == Mode::Selective => {
            "records merged in (see the selective restore below)".to_string()
        }
        _ if run.mode == Mode::Selective => "none (production untouched)".to_string(),
        Phase::Undone => {
            let back = match &r.differences {
                None => "put back as it was (the swap was undone)",
                Some(_) => "put back from before the swap, with the differences below (the swap was undone)",
            };
            match &r.kept {
                Some(kept) => {
                    format!("{back}; the restored {kept}, which served as production until then, is kept")
                }
                None => back.to_string(),
            }
        }
        _ => fallback_of(r, request_id).unwrap_or_else(|| "none (production untouched)".into()),
    }
}

/// The report as Markdown.
pub fn markdown_report(request: &RestoreRequest, run: &Run, now: DateTime<Utc>) -> String {
    let mut md = String::new();
    let outcome = match &run.outcome {
        Some(Outcome::Completed) => "completed".to_string(),
        Some(Outcome::Failed { error, cause }) => format!("failed ({error}): {cause}"),
        None => "in progress".to_string(),
    };
    let _ = writeln!(
        md,
        "# Restore {} of instance {}\n",
        request.id, request.instance_id
    );
    let _ = writeln!(md, "- Outcome: **{outcome}**");
    let _ = writeln!(md, "- Mode: {:?}", run.mode);
    let _ = writeln!(md, "- Execution: `{}`", run.execution);
    let _ = writeln!(
        md,
        "- Filed by {} at {}",
        request.submitted_by, request.submitted_at
    );
    if let Some(d) = &request.decision {
        let _ = writeln!(md, "- Approved by {} at {}: {}", d.by, d.at, d.reason);
    }
    match (&run.confirmed_by, run.confirmed_at) {
        (Some(by), Some(at)) => {
            let _ = writeln!(md, "- Confirmed by {by} at {at}");
        }
        _ => {
            let _ = writeln!(md, "- Not confirmed: production was not changed");
        }
    }
    let _ = writeln!(md, "- Written at {now}\n");
    let _ = writeln!(md, "## Resources\n");
    let _ = writeln!(
        md,
        "| resource | recovery point | restores to | data lost | state | safety snapshot | old production | staging |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|");
    for r in &run.resources {
        let point = match &r.source {
            Source::PointInTime { target } => format!("point in time {target}"),
            Source::Snapshot { slot, .. } => format!(
                "snapshot {} ({slot})",
                r.restore_from.as_deref().unwrap_or("unresolved")
            ),
        };
        let lost = match &data_loss(r, run) {
            Value::Null => "nothing".to_string(),
            loss => format!(
                "{} to {}",
                loss["since"].as_str().unwrap_or("?"),
                loss["until"].as_str().unwrap_or("?")
            ),
        };
        let staging = if r.staging_deleted {
            format!("{} (deleted)", r.staging)
        } else {
            r.staging.clone()
        };
        let _ = writeln!(
            md,
            "| {} | {point} | {} | {lost} | {:?} | {} | {} | {staging} |",
            r.resource,
            r.restores_to,
            r.phase,
            r.safety_snapshot.as_deref().unwrap_or("none"),
            production_state(r, run, &request.id),
        );
    }
    for r in &run.resources {
        if let Some(Source::Snapshot { slot, service_id, .. }) = held_fallback(request, r) {
            let _ = writeln!(
                md,
                "\n{}: the snapshot {} of {slot} is held as the fallback of the point-in-time target.",
                r.resource,
                service_id.as_deref().unwrap_or("(uncatalogued)")
            );
        }
    }
    let progress = progress_of(run, now);
    let _ = writeln!(md, "\n## Progress\n");
    for p in &progress.resources {
        let counted = match (p.done, p.total, &p.unit) {
            (Some(done), Some(total), Some(unit)) => format!(", {done} of {total} {unit}"),
            _ => String::new(),
        };
        let eta = p
            .eta_seconds
            .map_or(String::new(), |s| format!(", about {} min left", (s + 59) / 60));
        let waiting = match (&p.waiting_for, p.stage) {
            (Some(why), stage) if stage != Stage::Done => format!(" (waiting for: {why})"),
            _ => String::new(),
        };
        let _ = writeln!(md, "- {}: {:?}{counted}{eta}{waiting}", p.resource, p.stage);
    }
    for r in run.resources.iter().filter(|r| r.differences.is_some()) {
        let after = if r.phase == Phase::Undone {
            "the undo"
        } else {
            "the restore"
        };
        let _ = writeln!(
            md,
            "\n**Differences after {after}, left for an engineer:** {}: {}",
            r.resource,
            r.differences.as_deref().unwrap_or_default()
        );
    }
    if let Some(selective) = &run.selective {
        selective_report::markdown_section(&mut md, selective);
    }
    let _ = writeln!(md, "\n## Timeline\n");
    for s in &run.timeline {
        let _ = writeln!(md, "- {} `{}` {}", s.at, s.step.as_str(), s.detail);
    }
    md
}
