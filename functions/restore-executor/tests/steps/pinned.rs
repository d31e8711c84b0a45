//! Staging pinned at `check_ready` and required at every later use: a resource put under the
//! staging name during the confirmation's wait (even one carrying copied marks) is never
//! swapped in nor deleted, and the failure path ends in one step with production as it was;
//! an undo that finds production's name held by neither the restored resource nor the
//! original stops, naming it.

use lifeboat::execution::error::PERMANENT;
use lifeboat::execution::identity::Made;
use lifeboat::execution::shard::{Purpose, Shard};
use lifeboat::ports::restorer::Restorer;
use lifeboat::ports::FailureKind;

use super::*;

/// What someone does during the confirmation's wait: staging deleted and made again under
/// its name, with the marks of the one it replaces.
fn replace_staging(w: &World) {
    let marks = w.restorer.resource(STAGING).unwrap().marks;
    let marks: Vec<(&str, &str)> = marks.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    w.restorer.replace(STAGING, "someone else's contacts", &marks);
}

#[tokio::test]
async fn check_ready_pins_the_staging_it_proved_ready() {
    let w = world();
    staged(&w).await;
    let run = run_of(&w).await;
    let pinned = run.resources[0].staging_identity.clone().expect("pinned");
    let target = restore_executor::target(ID, run.started_at, &run.resources[0]);
    assert_eq!(w.restorer.identity(&target, Made::Staging).await.unwrap(), pinned);
    assert!(
        run.timeline
            .iter()
            .any(|s| s.step == Step::CheckReady && s.detail.contains(&pinned.id)),
        "on record: {:?}",
        run.timeline
    );
}

#[tokio::test]
async fn a_staging_replaced_during_the_wait_is_never_swapped_in_and_the_restore_ends_with_production_untouched(
) {
    let w = world();
    staged(&w).await;
    replace_staging(&w);

    let refused = handle(&w, swap_event()).await.unwrap_err();
    assert_eq!(refused.name, PERMANENT, "{refused}");
    assert!(
        refused.message.contains("NotOurs") && refused.message.contains(STAGING),
        "names staging and why: {refused}"
    );
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production untouched"
    );

    let error = json!({"Error": refused.name, "Cause": refused.message});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    let answer = handle(&w, abort).await.unwrap();
    assert_eq!(answer["done"], true, "ends in one step: {answer}");
    assert_eq!(answer["status"], "failed");
    assert_eq!(w.restorer.content("db").as_deref(), Some(AFTER));
    assert_eq!(
        w.restorer.content(STAGING).as_deref(),
        Some("someone else's contacts"),
        "not ours: never deleted"
    );
    let run = run_of(&w).await;
    let timeline: Vec<&str> = run.timeline.iter().map(|s| s.detail.as_str()).collect();
    assert!(
        timeline
            .iter()
            .any(|d| d.contains(STAGING) && d.contains("not deleted, not this request's")),
        "{timeline:?}"
    );
    assert_eq!(stored(&w).await.request.status, Status::Failed);
}

#[tokio::test]
async fn an_undo_that_finds_production_held_by_neither_stops_naming_it() {
    let w = world();
    staged(&w).await;
    assert_eq!(handle(&w, swap_event()).await.unwrap()["done"], true);
    // The restored resource deleted and someone's own made under production's name, while
    // the original is aside as the fallback.
    w.restorer.replace("db", "someone else's", &[]);
    let error = json!({"Error": "Lifeboat.VerificationFailed", "Cause": "db: not the restored resource"});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    let answer = handle(&w, abort).await.unwrap();
    assert_eq!(answer["done"], true, "ends at once: {answer}");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some("someone else's"),
        "not moved"
    );
    assert_eq!(
        w.restorer.content(FALLBACK).as_deref(),
        Some(AFTER),
        "the original kept aside"
    );
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Undoing);
    let last = &run.timeline.last().unwrap().detail;
    assert!(
        last.contains("URGENT")
            && last.contains("neither this restore's nor the original")
            && last.contains(FALLBACK),
        "{last}"
    );
}

fn copy_back_event(purpose: Purpose) -> Value {
    let shard = &Shard::all(&ResourceKey::rds("db"), purpose, 2)[0];
    json!({"step": "copy_back", "request_id": ID, "shard": shard})
}

/// A shard whose source the restorer refuses as not the one pinned: a swap's fails the step
/// (the failure path takes over), an undo's ends having copied nothing, so that the failure
/// path's next step stops the undo naming it instead of the failure path itself failing.
#[tokio::test]
async fn a_shard_refusing_its_source_copies_nothing_and_an_undo_s_leaves_the_undo_to_stop() {
    let w = world();
    staged(&w).await;
    w.restorer.set_pending_polls("swap", 3);
    w.restorer.set_pending_polls("undo_swap", 3);
    w.restorer.fail("run_shard", FailureKind::NotOurs);
    assert_eq!(handle(&w, swap_event()).await.unwrap()["done"], false);
    let refused = handle(&w, copy_back_event(Purpose::Swap)).await.unwrap_err();
    assert_eq!(refused.name, PERMANENT, "{refused}");
    assert!(refused.message.contains("NotOurs"), "{refused}");

    let error = json!({"Error": refused.name, "Cause": refused.message});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    assert_eq!(
        handle(&w, abort).await.unwrap()["done"],
        false,
        "the undo goes on"
    );
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Undoing);
    let ended = handle(&w, copy_back_event(Purpose::Undo)).await.unwrap();
    assert_eq!(ended["done"], true, "{ended}");
    assert!(ended["refused"].as_str().unwrap().contains("NotOurs"), "{ended}");
}

/// A run readied by an older Lifeboat, before `check_ready` pinned anything: its pins are
/// cleared as it would have been stored.
async fn readied_before_pins(w: &World) {
    let mut stored = stored(w).await;
    let version = stored.version;
    let run = stored.request.run.as_mut().expect("a run");
    for r in &mut run.resources {
        (r.staging_identity, r.fallback_identity) = (None, None);
    }
    w.requests.replace(&stored, version).await.unwrap();
}

#[tokio::test]
async fn a_run_readied_before_pins_existed_is_pinned_at_the_swap_and_swapped() {
    let w = world();
    staged(&w).await;
    readied_before_pins(&w).await;
    let run = run_of(&w).await;
    let target = restore_executor::target(ID, run.started_at, &run.resources[0]);
    let staging = w.restorer.identity(&target, Made::Staging).await.unwrap();

    handle(&w, swap_event()).await.expect("the swap");
    assert_eq!(w.restorer.content("db").as_deref(), Some(BEFORE), "swapped in");
    let run = run_of(&w).await;
    let pinned = run.resources[0]
        .staging_identity
        .clone()
        .expect("pinned at the swap");
    assert_eq!(pinned, staging);
    assert!(
        run.timeline.iter().any(|s| s.step == Step::Swap
            && s.detail.contains(&pinned.id)
            && s.detail.contains("pinned at swap")),
        "on record: {:?}",
        run.timeline
    );
}

#[tokio::test]
async fn a_run_readied_before_pins_existed_whose_staging_was_replaced_is_refused_with_production_untouched() {
    let w = world();
    staged(&w).await;
    readied_before_pins(&w).await;
    w.restorer.replace(STAGING, "someone else's contacts", &[]);

    let refused = handle(&w, swap_event()).await.unwrap_err();
    assert_eq!(refused.name, PERMANENT, "{refused}");
    assert!(refused.message.contains(STAGING), "names staging: {refused}");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production untouched"
    );
    assert_eq!(
        run_of(&w).await.resources[0].phase,
        Phase::Ready,
        "nothing marked as moving"
    );
}
