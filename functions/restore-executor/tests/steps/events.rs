//! Status events: each announced once its change is saved, again with the same id by a
//! retried step, and a bus that fails never failing a step.

use lifeboat::status_event::{Detail, DetailType, StatusEvent};

use super::*;

/// The ids of what was published, in order.
fn ids(w: &World) -> Vec<String> {
    w.events
        .published()
        .iter()
        .map(|e| e.event_id().to_string())
        .collect()
}

fn detail(e: &StatusEvent) -> &lifeboat::status_event::RestoreDetail {
    match &e.detail {
        Detail::Restore(d) => d,
        other => panic!("a restore's detail: {other:?}"),
    }
}

/// Runs a staged rollback (see [`staged`]) through the swap to the end.
async fn swap_to_finish(w: &World) {
    assert_eq!(handle(w, swap_event()).await.unwrap()["done"], true);
    steps(w, &["verify", "clean_up", "finish"]).await;
}

#[tokio::test]
async fn a_rollback_announces_staging_ready_the_wait_and_its_completion_in_order() {
    let w = world();
    staged(&w).await;
    swap_to_finish(&w).await;
    assert_eq!(
        w.events.detail_types(),
        [
            DetailType::StagingReady,
            DetailType::AwaitingConfirmation,
            DetailType::Completed
        ]
    );
    assert_eq!(
        ids(&w),
        [
            format!("{ID}:staging-ready"),
            format!("{ID}:awaiting-confirmation:1"),
            format!("{ID}:completed"),
        ]
    );
    let completed = w.events.published().pop().unwrap();
    let d = detail(&completed);
    assert_eq!((d.status, d.mode), (Status::Completed, Some(Mode::Rollback)));
    let window = d.data_loss.expect("a rollback loses what came after its point");
    assert_eq!(window.from, weekly_slot().start());
    // When each resource's swap was seen done is on the run: what a DynamoDB copy-back's
    // window ends at.
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].swapped_at, Some(now()), "{run:?}");
}

#[tokio::test]
async fn a_retried_step_announces_its_change_again_with_the_same_id() {
    let w = world();
    staged(&w).await;
    // The poll whose answer was lost, and the wait's invocation retried with its token.
    handle(&w, on("check_ready")).await.unwrap();
    let wait = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(&w, wait).await.unwrap();
    swap_to_finish(&w).await;
    steps(&w, &["finish"]).await;
    assert_eq!(
        ids(&w),
        [
            format!("{ID}:staging-ready"),
            format!("{ID}:awaiting-confirmation:1"),
            format!("{ID}:staging-ready"),
            format!("{ID}:awaiting-confirmation:1"),
            format!("{ID}:completed"),
            format!("{ID}:completed"),
        ]
    );
    let published = w.events.published();
    assert_eq!(published[0], published[2], "republished as it was");
    let waits = run_of(&w)
        .await
        .timeline
        .iter()
        .filter(|s| s.step == Step::AwaitConfirmation)
        .count();
    assert_eq!(waits, 1, "the retried wait is recorded once");
}

#[tokio::test]
async fn a_failed_restore_is_announced_with_its_error_and_nothing_lost() {
    let w = world();
    staged(&w).await;
    let error = json!({"Error": "States.Timeout", "Cause": ""});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    handle(&w, abort.clone()).await.unwrap();
    handle(&w, abort).await.unwrap();
    let published = w.events.published();
    let failed: Vec<_> = published
        .iter()
        .filter(|e| e.detail_type == DetailType::Failed)
        .collect();
    assert_eq!(failed.len(), 2, "announced, then again by the retried abort");
    assert_eq!(failed[0], failed[1]);
    let d = detail(failed[0]);
    assert_eq!(d.event_id, format!("{ID}:failed"));
    assert_eq!(d.error.as_deref(), Some("Lifeboat.Timeout"));
    assert_eq!(d.data_loss, None, "production was left as it was");
}

#[tokio::test]
async fn a_bus_that_fails_fails_no_step_and_is_counted() {
    let w = world();
    w.events.fail(true);
    staged(&w).await;
    swap_to_finish(&w).await;
    assert_eq!(stored(&w).await.request.status, Status::Completed);
    assert!(w.events.published().is_empty());
    assert_eq!(
        w.executor.events.failed(),
        3,
        "staging ready, the wait, completed"
    );
}

#[tokio::test]
async fn progress_that_cannot_be_saved_never_fails_the_step_that_made_it() {
    let w = world();
    staged(&w).await;
    // The swap waits on RDS once; its mark on production is saved, its progress is not.
    w.restorer.set_pending_polls("swap", 1);
    w.requests.fail_replaces_after(Some(1));
    let first = handle(&w, swap_event())
        .await
        .expect("a courtesy write fails no step");
    assert_eq!(first["done"], false, "{first}");
    w.requests.fail_replaces_after(None);
    swap_to_finish(&w).await;
    assert_eq!(w.restorer.content("db").as_deref(), Some(BEFORE), "rolled back");
}
