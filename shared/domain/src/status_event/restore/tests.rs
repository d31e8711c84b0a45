use chrono::TimeDelta;

use super::*;
use crate::catalog::ResourceKey;
use crate::execution::progress::{ResourceProgress, Stage};
use crate::execution::run::{ResourceRun, Run};
use crate::request::decision::{ChosenPoint, Decision};
use crate::request::options::{DataLoss, RecoveryOption};
use crate::request::triage::{self, Triage};
use crate::request::{Affected, Cause};

const ID: &str = "rr-7f3a";
/// What support wrote and what the restore touched: none of it may reach a summary.
const SECRETS: [&str; 10] = [
    "Jane Roe",
    "contact 4711",
    "Board meeting",
    "crm-primary",
    "orders-table",
    "lbs-7f3a",
    "lbf-7f3a",
    "lbsafety-7f3a",
    "sam-support",
    "erin-engineer",
];

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn entry(t: &str, by: &str, from: Option<Status>, to: Status, reason: &str) -> AuditEntry {
    AuditEntry {
        at: at(t),
        by: by.into(),
        from,
        to,
        reason: Some(reason.into()),
    }
}

/// A request for instance `acme` filed at 10:00 about a loss at 09:10, whose options restore
/// `rds:crm-primary` and `dynamodb:orders-table` to 09:05.
fn filed() -> RestoreRequest {
    let target = at("2026-11-28T09:05:00Z");
    let option = |resource: ResourceKey| RecoveryOption {
        resource,
        source: Source::PointInTime { target },
        restores_to: target,
        data_loss: DataLoss {
            since: target,
            until: at("2026-11-28T10:00:00Z"),
            seconds: 3300,
        },
        restorable_until: None,
        fallback: None,
    };
    RestoreRequest {
        id: ID.into(),
        status: Status::Submitted,
        instance_id: "acme".into(),
        description: "Jane Roe's CRM sync deleted contact 4711 and 2,000 others.".into(),
        occurred_at: at("2026-11-28T09:10:00Z"),
        affected: Affected {
            objects: vec!["contacts".into()],
            records: vec!["contact 4711".into()],
            ..Affected::default()
        },
        business_context: "Board meeting on Monday.".into(),
        cause: Cause::IntegrationMassDeletion,
        submitted_by: "arn:aws:iam::111122223333:user/sam-support".into(),
        submitted_at: at("2026-11-28T10:00:00Z"),
        triage: Triage {
            verdict: triage::Verdict::LikelyQualifies,
            reasons: vec!["Jane Roe's integration deleted contact 4711".into()],
        },
        recovery_options: vec![
            option(ResourceKey::rds("crm-primary")),
            option(ResourceKey::dynamodb("orders-table")),
        ],
        decision: None,
        execution: None,
        awaiting_confirmation: false,
        run: None,
        history: vec![AuditEntry {
            at: at("2026-11-28T10:00:00Z"),
            by: "arn:aws:iam::111122223333:user/sam-support".into(),
            from: None,
            to: Status::Submitted,
            reason: None,
        }],
    }
}

fn approved(mode: Mode) -> RestoreRequest {
    let mut r = filed();
    let engineer = "arn:aws:iam::111122223333:user/erin-engineer";
    r.status = Status::Approved;
    r.decision = Some(Decision {
        verdict: Verdict::Approve,
        by: engineer.into(),
        at: at("2026-11-28T10:10:00Z"),
        reason: "Board meeting: Jane Roe's contacts".into(),
        mode: Some(mode),
        recovery_points: r
            .recovery_options
            .iter()
            .map(|o| ChosenPoint {
                resource: o.resource.clone(),
                source: o.source.clone(),
            })
            .collect(),
        selection: Vec::new(),
    });
    r.history.push(entry(
        "2026-11-28T10:10:00Z",
        engineer,
        Some(Status::Submitted),
        Status::Approved,
        "Board meeting",
    ));
    r
}

/// Approved, locked and run through `steps` (each at the minute after the last), with every
/// resource at `phase`.
fn running(mode: Mode, steps: &[Step], phase: Phase) -> RestoreRequest {
    let mut r = approved(mode);
    let mut run = Run::new("execution".into(), mode, at("2026-11-28T10:11:00Z"));
    run.resources = r
        .recovery_options
        .iter()
        .map(|o| ResourceRun::new(ID, o.resource.clone(), o.source.clone(), o.restores_to))
        .collect();
    for r in &mut run.resources {
        r.phase = phase;
        r.safety_snapshot = Some(format!("lbsafety-7f3a-{}", r.resource.name));
    }
    for (i, step) in steps.iter().enumerate() {
        let t = at("2026-11-28T10:12:00Z") + TimeDelta::minutes(i as i64);
        run.record(
            *step,
            t,
            format!("rds:crm-primary: staging lbs-7f3a-crm-primary ({step:?})"),
        );
    }
    r.status = Status::Executing;
    r.history.push(entry(
        "2026-11-28T10:11:00Z",
        "restore-executor",
        Some(Status::Approved),
        Status::Executing,
        "execution",
    ));
    r.run = Some(run);
    r
}

fn ended(mut r: RestoreRequest, to: Status, outcome: Outcome) -> RestoreRequest {
    let last = r.run.as_ref().unwrap().timeline.last().unwrap().at;
    r.status = to;
    r.run.as_mut().unwrap().outcome = Some(outcome);
    r.history.push(AuditEntry {
        at: last,
        by: "restore-executor".into(),
        from: Some(Status::Executing),
        to,
        reason: Some("lbs-7f3a-crm-primary could not be deleted: Jane Roe".into()),
    });
    r
}

fn detail(event: &StatusEvent) -> &RestoreDetail {
    match &event.detail {
        Detail::Restore(d) => d,
        other => panic!("a restore detail: {other:?}"),
    }
}

fn event(r: &RestoreRequest, change: RestoreChange) -> StatusEvent {
    restore_event(r, change).unwrap_or_else(|| panic!("{change:?} is on the request"))
}

const ROLLED_BACK: [Step; 8] = [
    Step::Begin,
    Step::CheckReady,
    Step::AwaitConfirmation,
    Step::Swap,
    Step::Verify,
    Step::CleanUp,
    Step::Finish,
    Step::Finish,
];

#[test]
fn a_filing_is_announced_with_what_a_rollback_to_its_options_would_lose() {
    let e = event(&filed(), RestoreChange::Filed);
    assert_eq!(e.detail_type, DetailType::RequestFiled);
    let d = detail(&e);
    assert_eq!(d.event_id, "rr-7f3a:filed");
    assert_eq!((d.status, d.step, d.mode), (Status::Submitted, None, None));
    assert_eq!(d.progress, None, "nothing runs yet");
    assert_eq!(d.at, at("2026-11-28T10:00:00Z"));
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: at("2026-11-28T09:05:00Z"),
            to: at("2026-11-28T10:00:00Z")
        })
    );
    assert!(d.summary.contains("instance acme"), "{}", d.summary);
}

#[test]
fn every_event_is_rebuilt_identically_from_the_stored_request() {
    // A retried step republishes: same id, same content, whatever happened since.
    let done = ended(
        running(Mode::Rollback, &ROLLED_BACK, Phase::Verified),
        Status::Completed,
        Outcome::Completed,
    );
    for change in [
        RestoreChange::Filed,
        RestoreChange::Decided,
        RestoreChange::StagingReady,
        RestoreChange::AwaitingConfirmation,
        RestoreChange::Completed,
    ] {
        assert_eq!(event(&done, change), event(&done, change), "{change:?}");
    }
    assert_eq!(
        event(&filed(), RestoreChange::Filed),
        event(&done, RestoreChange::Filed)
    );
    assert_eq!(
        event(&approved(Mode::Rollback), RestoreChange::Decided).event_id(),
        event(&done, RestoreChange::Decided).event_id()
    );
}

#[test]
fn a_change_the_request_does_not_carry_has_no_event() {
    assert_eq!(restore_event(&filed(), RestoreChange::Decided), None);
    assert_eq!(restore_event(&filed(), RestoreChange::StagingReady), None);
    let running = running(Mode::Rollback, &[Step::Begin], Phase::Resolved);
    assert_eq!(restore_event(&running, RestoreChange::Completed), None);
}

#[test]
fn each_wait_for_confirmation_is_its_own_event() {
    let steps = [
        Step::CheckReady,
        Step::AwaitConfirmation,
        Step::Swap,
        Step::AwaitConfirmation,
    ];
    let r = running(Mode::Rollback, &steps, Phase::Ready);
    let d = detail(&event(&r, RestoreChange::AwaitingConfirmation)).clone();
    assert_eq!(d.event_id, "rr-7f3a:awaiting-confirmation:2");
    assert_eq!(d.at, at("2026-11-28T10:15:00Z"));
    assert_eq!(d.step, Some(Step::AwaitConfirmation));
    // Until the swap the window grows: it ends at the event.
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: at("2026-11-28T09:05:00Z"),
            to: d.at
        })
    );
}

/// `r` with its DynamoDB copy-back finished at `at`.
fn copied_back_at(mut r: RestoreRequest, t: &str) -> RestoreRequest {
    for resource in &mut r.run.as_mut().unwrap().resources {
        if resource.resource.kind == crate::catalog::ResourceKind::DynamoTable {
            resource.swapped_at = Some(at(t));
        }
    }
    r
}

#[test]
fn a_completed_rollback_loses_what_was_written_from_its_point_to_the_end_of_its_copy_back() {
    // The swap began at 10:15: RDS's production lost its name then; the DynamoDB table took
    // writes until its copy-back finished at 10:16:30, and those could be overwritten.
    let done = ended(
        copied_back_at(
            running(Mode::Rollback, &ROLLED_BACK, Phase::Verified),
            "2026-11-28T10:16:30Z",
        ),
        Status::Completed,
        Outcome::Completed,
    );
    let d = detail(&event(&done, RestoreChange::Completed)).clone();
    assert_eq!(d.event_id, "rr-7f3a:completed");
    assert_eq!((d.status, d.step), (Status::Completed, Some(Step::Finish)));
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: at("2026-11-28T09:05:00Z"),
            to: at("2026-11-28T10:16:30Z")
        })
    );
    assert!(d.summary.contains("10:16 UTC"), "{}", d.summary);
    assert!(
        d.summary.contains("rolled back to 2026-11-28 09:05 UTC"),
        "{}",
        d.summary
    );
    let progress = d.progress.expect("a run's events say how far it got");
    assert_eq!(progress.resources.len(), 2);
    assert!(
        progress.resources.iter().all(|r| r.stage == Stage::Done),
        "{progress:?}"
    );
}

#[test]
fn a_selective_restore_and_a_failure_that_touched_nothing_lose_nothing() {
    let selective = ended(
        running(
            Mode::Selective,
            &[Step::Extract, Step::Merge, Step::Finish],
            Phase::Merged,
        ),
        Status::Completed,
        Outcome::Completed,
    );
    let d = detail(&event(&selective, RestoreChange::Completed)).clone();
    assert_eq!((d.mode, d.data_loss), (Some(Mode::Selective), None));
    assert_eq!(detail(&event(&selective, RestoreChange::Decided)).data_loss, None);
    let failed = ended(
        running(Mode::Rollback, &[Step::CheckReady, Step::Abort], Phase::Ready),
        Status::Failed,
        Outcome::Failed {
            error: "States.Timeout".into(),
            cause: "lbs-7f3a-crm-primary stuck creating".into(),
        },
    );
    let d = detail(&event(&failed, RestoreChange::Failed)).clone();
    assert_eq!(d.event_id, "rr-7f3a:failed");
    assert_eq!((d.status, d.step), (Status::Failed, Some(Step::Abort)));
    assert_eq!(d.error.as_deref(), Some("Lifeboat.Timeout"));
    assert_eq!(d.data_loss, None);
    assert!(d.summary.contains("(Lifeboat.Timeout)"), "{}", d.summary);
}

#[test]
fn no_summary_names_a_resource_a_person_or_what_support_wrote() {
    let rollback = ended(
        running(Mode::Rollback, &ROLLED_BACK, Phase::Verified),
        Status::Completed,
        Outcome::Completed,
    );
    let failed = ended(
        running(Mode::Rollback, &[Step::Swap, Step::Abort], Phase::Swapped),
        Status::Failed,
        Outcome::Failed {
            error: "Lifeboat.VerificationFailed".into(),
            cause: "crm-primary differs from lbs-7f3a-crm-primary (Jane Roe)".into(),
        },
    );
    let mut rejected = filed();
    rejected.status = Status::Rejected;
    rejected.history.push(entry(
        "2026-11-28T10:20:00Z",
        "erin-engineer",
        Some(Status::Submitted),
        Status::Rejected,
        "Jane Roe can restore contact 4711 herself",
    ));
    let mut cancelled = approved(Mode::Selective);
    cancelled.status = Status::Cancelled;
    cancelled.history.push(entry(
        "2026-11-28T10:20:00Z",
        "sam-support",
        Some(Status::Approved),
        Status::Cancelled,
        "Jane Roe found contact 4711",
    ));
    let progress = progress_event(
        &rollback,
        RestoreProgress {
            step: Step::Swap,
            updated_at: at("2026-11-28T10:14:00Z"),
            resources: vec![ResourceProgress {
                resource: "dynamodb:orders-table".into(),
                stage: Stage::Copying,
                waiting_for: Some("lbpre-7f3a-orders-table is CREATING".into()),
                percent: Some(40.0),
                done: Some(400),
                total: Some(1000),
                unit: Some("items".into()),
                batches: None,
                eta_seconds: Some(90),
            }],
        },
        1,
    );
    let mut events = vec![progress];
    for (request, changes) in [
        (&rollback, &RestoreChange::ALL[..]),
        (&failed, &[RestoreChange::Failed][..]),
        (&rejected, &[RestoreChange::Decided][..]),
        (&cancelled, &[RestoreChange::Cancelled][..]),
    ] {
        events.extend(changes.iter().filter_map(|c| restore_event(request, *c)));
    }
    assert_eq!(events.len(), 9, "{events:#?}");
    for e in &events {
        let summary = e.summary().to_lowercase();
        assert!(summary.contains("instance acme"), "{summary}");
        for secret in SECRETS {
            let secret = secret.to_lowercase();
            assert!(!summary.contains(&secret), "{secret:?} in {summary:?}");
        }
    }
}

fn progress_at(r: &RestoreRequest, t: &str, stage: Stage) -> RestoreDetail {
    let progress = RestoreProgress {
        step: Step::Swap,
        updated_at: at(t),
        resources: vec![ResourceProgress {
            resource: "dynamodb:orders-table".into(),
            stage,
            waiting_for: None,
            percent: None,
            done: None,
            total: None,
            unit: None,
            batches: None,
            eta_seconds: None,
        }],
    };
    detail(&progress_event(r, progress, 1)).clone()
}

#[test]
fn a_rollback_s_progress_states_what_is_at_risk_before_during_and_after_its_swap() {
    let point = at("2026-11-28T09:05:00Z");
    // Before the swap the window grows with the event.
    let waiting = running(Mode::Rollback, &[Step::Begin, Step::CheckReady], Phase::Ready);
    let d = progress_at(&waiting, "2026-11-28T10:13:30Z", Stage::Ready);
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: point,
            to: at("2026-11-28T10:13:30Z")
        })
    );
    // The swap began at 10:14 (RDS lost its name then); the copy-back still runs: the
    // DynamoDB table's writes are at risk until the event.
    let steps = [Step::Begin, Step::CheckReady, Step::Swap];
    let copying = running(Mode::Rollback, &steps, Phase::Swapping);
    let d = progress_at(&copying, "2026-11-28T10:20:00Z", Stage::Copying);
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: point,
            to: at("2026-11-28T10:20:00Z")
        })
    );
    // Copied back at 10:21: later events keep that end.
    let mut swapped = copied_back_at(
        running(Mode::Rollback, &steps, Phase::Swapped),
        "2026-11-28T10:21:00Z",
    );
    let d = progress_at(&swapped, "2026-11-28T10:40:00Z", Stage::Verifying);
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: point,
            to: at("2026-11-28T10:21:00Z")
        })
    );
    // An RDS swap alone: its writes stopped being lost when it took production's name away.
    swapped
        .run
        .as_mut()
        .unwrap()
        .resources
        .retain(|r| r.resource.kind == crate::catalog::ResourceKind::RdsInstance);
    let d = progress_at(&swapped, "2026-11-28T10:40:00Z", Stage::Verifying);
    assert_eq!(
        d.data_loss,
        Some(DataLossWindow {
            from: point,
            to: at("2026-11-28T10:14:00Z")
        })
    );
    // A selective restore discards nothing.
    let selective = running(Mode::Selective, &steps, Phase::Swapping);
    assert_eq!(
        progress_at(&selective, "2026-11-28T10:20:00Z", Stage::Copying).data_loss,
        None
    );
}
