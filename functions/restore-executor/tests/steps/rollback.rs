//! A rollback from begin to finish, each step retried, verification waiting or timing out,
//! and the abort before, during and after the swap.

use super::*;

#[tokio::test]
async fn a_rollback_runs_from_begin_to_finish() {
    let w = world();
    w.restorer.set_pending_polls("staging_ready", 1);
    w.restorer.set_pending_polls("swap", 1);
    catalogue_weekly(&w, PointState::Available);
    let snapshot = ResourceKey::rds("db").point_name(weekly_slot());
    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &snapshot, BEFORE);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback),
    )
    .await;

    steps(&w, &["begin", "resolve", "safety_snapshot", "restore_staging"]).await;
    assert_eq!(holds(&w), [ID]);
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].safety_snapshot.as_deref(), Some(SAFETY));
    assert_eq!(run.resources[0].phase, Phase::StagingStarted);
    assert_eq!(w.restorer.snapshot(SAFETY).unwrap().content, AFTER);
    assert_eq!(w.restorer.content(STAGING).as_deref(), Some(BEFORE));

    let poll = handle(&w, on("check_ready")).await.unwrap();
    assert_eq!(poll["ready"], false, "{poll}");
    assert_eq!(poll["waiting_for"].as_array().unwrap().len(), 1, "{poll}");
    let poll = handle(&w, on("check_ready")).await.unwrap();
    assert_eq!(poll["ready"], true, "{poll}");

    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(&w, event).await.unwrap();
    let waiting = stored(&w).await;
    assert_eq!(waiting.task_token.as_deref(), Some("token-1"));
    assert!(waiting.request.awaiting_confirmation);
    assert_eq!(
        report(&w)["outcome"],
        Value::Null,
        "the report tells what is about to happen"
    );
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production untouched"
    );

    let swap = handle(&w, swap_event()).await.unwrap();
    assert_eq!(swap["done"], false, "{swap}");
    let swapping = stored(&w).await;
    assert_eq!(swapping.task_token, None);
    assert!(!swapping.request.awaiting_confirmation);
    assert_eq!(swapping.request.run.unwrap().resources[0].phase, Phase::Swapping);
    let swap = handle(&w, swap_event()).await.unwrap();
    assert_eq!(swap["done"], true, "{swap}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Swapped);

    steps(&w, &["verify", "clean_up"]).await;
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Verified);
    assert!(run.resources[0].staging_deleted);

    let finished = handle(&w, on("finish")).await.unwrap();
    assert_eq!(finished["status"], "completed");
    assert_eq!(finished["report"]["json"], format!("restores/{ID}/report.json"));
    let done = stored(&w).await;
    assert_eq!(done.request.status, Status::Completed);
    let last = done.request.history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Executing), Status::Completed));
    let run = done.request.run.clone().unwrap();
    assert_eq!(run.outcome, Some(Outcome::Completed));
    assert_eq!(run.confirmed_by.as_deref(), Some(CONFIRMER));
    assert!(holds(&w).is_empty(), "holds released");

    assert_eq!(w.restorer.content("db").as_deref(), Some(BEFORE));
    assert_eq!(w.restorer.content(FALLBACK).as_deref(), Some(AFTER));
    assert_eq!(w.restorer.names(), ["db", FALLBACK], "staging is gone");
    assert_eq!(
        w.reports.keys(),
        [
            format!("restores/{ID}/report.json"),
            format!("restores/{ID}/report.md")
        ]
    );
    let json = report(&w);
    assert_eq!(json["status"], "completed");
    assert_eq!(json["confirmed_by"], CONFIRMER);
    assert_eq!(json["resources"][0]["restored"], true);
    let md = String::from_utf8(w.reports.get(&format!("restores/{ID}/report.md")).unwrap()).unwrap();
    assert!(md.contains("Outcome: **completed**"), "{md}");

    // A retried finish answers the same and writes nothing.
    assert_eq!(handle(&w, on("finish")).await.unwrap(), finished);
    assert_eq!(stored(&w).await, done);
}

#[tokio::test]
async fn every_step_may_be_retried_without_acting_twice() {
    let w = world();
    let target = now() - TimeDelta::hours(2);
    add_database(&w.ports, ResourceKind::RdsInstance, "reports-db", "reports");
    let points = vec![point_in_time("db", target), point_in_time("reports-db", target)];
    store(&w, request(Status::Approved, points, Mode::Rollback)).await;

    steps(&w, &["begin", "resolve", "resolve"]).await;
    steps(&w, &["safety_snapshot", "safety_snapshot"]).await;
    assert_eq!(w.restorer.calls("start_safety_snapshot"), 2, "once per resource");
    steps(&w, &["restore_staging", "restore_staging"]).await;
    assert_eq!(w.restorer.calls("start_staging"), 2, "once per resource");
    let run = run_of(&w).await;
    assert!(run.all_at_least(Phase::StagingStarted), "{run:?}");
    assert_eq!(
        w.restorer.content(STAGING),
        Some(format!("db as of {target}")),
        "restored to the target"
    );

    steps(&w, &["check_ready", "check_ready"]).await;
    assert_eq!(
        w.restorer.calls("staging_ready"),
        2,
        "a ready resource is not polled again"
    );
    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
    handle(&w, event.clone()).await.unwrap();
    handle(&w, event).await.unwrap();
    for _ in 0..2 {
        assert_eq!(handle(&w, swap_event()).await.unwrap()["done"], true);
    }
    assert_eq!(w.restorer.calls("swap"), 2, "once per resource");
    steps(&w, &["verify", "verify", "clean_up", "clean_up"]).await;
    assert_eq!(w.restorer.calls("verify"), 2, "once per resource");
    assert_eq!(w.restorer.calls("delete_staging"), 2, "once per resource");
    steps(&w, &["finish", "finish"]).await;
    assert_eq!(stored(&w).await.request.status, Status::Completed);
    assert_eq!(
        stored(&w).await.request.history.len(),
        4,
        "submitted, approved, executing, completed"
    );
}

#[tokio::test]
async fn abort_after_the_swap_began_puts_production_back() {
    let w = world();
    w.restorer.set_pending_polls("swap", 5);
    w.restorer.set_pending_polls("undo_swap", 1);
    staged(&w).await;
    let swap = handle(&w, swap_event()).await.unwrap();
    assert_eq!(swap["done"], false, "{swap}");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(BEFORE),
        "the swap began"
    );

    let error =
        json!({"Error": "Lifeboat.SwapTimeout", "Cause": "the swap did not finish within max_polls polls"});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    let first = handle(&w, abort.clone()).await.unwrap();
    assert_eq!(first["done"], false, "the undo takes a poll: {first}");
    assert_eq!(stored(&w).await.request.status, Status::Executing);

    let answer = handle(&w, abort.clone()).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(answer["error"], "Lifeboat.SwapTimeout");
    assert!(
        answer["cause"].as_str().unwrap().contains("did not finish"),
        "{answer}"
    );

    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production as it was"
    );
    assert!(w.restorer.resource("db").unwrap().marks.is_empty());
    // The restored resource carried production's name, so it holds whatever production took
    // before the undo: kept aside, never deleted.
    assert_eq!(
        w.restorer.names(),
        ["db", RETIRED],
        "fallback back in place, the restored resource kept aside"
    );
    let failed = stored(&w).await;
    assert_eq!(failed.request.status, Status::Failed);
    assert_eq!(failed.task_token, None);
    let last = failed.request.history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Executing), Status::Failed));
    assert!(
        last.reason.as_deref().unwrap().contains("Lifeboat.SwapTimeout"),
        "{last:?}"
    );
    let run = failed.request.run.clone().unwrap();
    assert_eq!(run.resources[0].phase, Phase::Undone);
    assert_eq!(run.resources[0].kept.as_deref(), Some(RETIRED));
    assert!(
        last.reason.is_some() && run.timeline.last().unwrap().detail.contains(RETIRED),
        "the outcome names what is kept: {:?}",
        run.timeline.last()
    );
    assert_eq!(
        run.outcome,
        Some(Outcome::Failed {
            error: "Lifeboat.SwapTimeout".into(),
            cause: "the swap did not finish within max_polls polls".into(),
        })
    );
    assert_only_lasting_holds(&w);
    assert_eq!(report(&w)["status"], "failed");
    assert_eq!(report(&w)["resources"][0]["restored"], false);

    // A retry after the end changes nothing.
    assert_eq!(handle(&w, abort).await.unwrap()["done"], true);
    assert_eq!(stored(&w).await, failed);
    assert_eq!(w.restorer.calls("undo_swap"), 2);
}

/// An undo refused for good (a tag policy refusing the mark that keeps what served
/// production, say) stops where it stands: the failure path ends the request in one step,
/// nothing deleted, with what holds production's name on record; undone and retried never.
#[tokio::test]
async fn an_undo_refused_for_good_stops_and_the_restore_ends_naming_what_serves_production() {
    let w = world();
    staged(&w).await;
    assert_eq!(handle(&w, swap_event()).await.unwrap()["done"], true);
    w.restorer
        .fail("undo_swap", lifeboat::ports::FailureKind::Refused);
    let error = json!({"Error": "Lifeboat.Permanent", "Cause": "step swap: AddTagsToResource refused"});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    let answer = handle(&w, abort.clone()).await.unwrap();
    assert_eq!(answer["done"], true, "ends at once: {answer}");
    assert_eq!(answer["status"], "failed");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(BEFORE),
        "the rollback stays"
    );
    assert_eq!(w.restorer.names(), ["db", FALLBACK], "nothing deleted or moved");
    let failed = stored(&w).await;
    assert_eq!(failed.request.status, Status::Failed);
    let run = failed.request.run.clone().unwrap();
    assert_eq!(
        run.resources[0].phase,
        Phase::Swapped,
        "production holds the rollback"
    );
    let last = &run.timeline.last().unwrap().detail;
    assert!(
        last.contains("undo stopped")
            && last.contains("production stays the restored instance")
            && last.contains(FALLBACK),
        "{last}"
    );
    // Its event says part of the instance was rolled back and stays so.
    let announced = w.events.published().pop().unwrap();
    assert!(
        announced.summary().contains("stays so"),
        "{}",
        announced.summary()
    );

    // A retry after the end changes nothing.
    assert_eq!(handle(&w, abort).await.unwrap()["done"], true);
    assert_eq!(stored(&w).await, failed);
}

/// What carries the staging name once the restore was asked for is not this request's (its
/// marks gone): refused at the poll, never deleted by the failure path, which still ends the
/// request failed and names it.
#[tokio::test]
async fn a_staging_resource_not_this_requests_is_left_and_named_and_the_request_still_fails() {
    let w = world();
    catalogue_weekly(&w, PointState::Available);
    let snapshot = ResourceKey::rds("db").point_name(weekly_slot());
    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &snapshot, BEFORE);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback),
    )
    .await;
    steps(&w, &["begin", "resolve", "safety_snapshot", "restore_staging"]).await;
    w.restorer.add_production(STAGING, "someone else's");
    let refused = handle(&w, on("check_ready")).await.unwrap_err();
    assert_eq!(refused.name, "Lifeboat.Permanent", "{refused:?}");

    let error = json!({"Error": refused.name, "Cause": refused.message});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(w.restorer.content(STAGING).as_deref(), Some("someone else's"));
    let failed = stored(&w).await;
    assert_eq!(failed.request.status, Status::Failed);
    let run = failed.request.run.unwrap();
    assert!(!run.resources[0].staging_deleted);
    assert!(
        run.timeline.iter().any(|s| s
            .detail
            .contains(&format!("staging {STAGING} not deleted, not this request's"))),
        "{:?}",
        run.timeline
    );
}

/// An undo that found production different from what it put back (a write that came after
/// it copied the key) never says production is back as it was: the difference is named in the
/// timeline, the outcome and the report.
#[tokio::test]
async fn an_undo_that_found_production_different_says_so_instead_of_back_as_it_was() {
    const FOUND: &str = r#"db differs from its content before the swap: 1 items missing or changed (sample keys: {"pk":"o1"})"#;
    let w = world();
    w.restorer.set_pending_polls("swap", 5);
    w.restorer.differ_after_undo(FOUND);
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    let error = json!({"Error": "Lifeboat.SwapTimeout", "Cause": "the swap did not finish"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true, "{answer}");

    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Undone);
    assert_eq!(run.resources[0].differences.as_deref(), Some(FOUND));
    let details: Vec<&str> = run.timeline.iter().map(|s| s.detail.as_str()).collect();
    assert!(
        !details.iter().any(|d| d.contains("put back as it was")),
        "{details:?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains("not exactly") && d.contains(FOUND)),
        "{details:?}"
    );
    let end = run.timeline.last().unwrap();
    assert!(
        end.detail.contains("differing from it") && end.detail.contains("rds:db"),
        "{end:?}"
    );
    assert_eq!(report(&w)["resources"][0]["differences"], FOUND);
    let markdown = String::from_utf8(w.reports.get(&format!("restores/{ID}/report.md")).unwrap()).unwrap();
    assert!(markdown.contains("Differences after the undo"), "{markdown}");
    assert!(!markdown.contains("put back as it was"), "{markdown}");
}

/// A state that settles by itself is waited for: verify answers "not done" until it has
/// settled, and the restore goes on; nothing is undone.
#[tokio::test]
async fn verify_waits_while_production_settles_instead_of_failing() {
    let w = world();
    w.restorer.set_pending_polls("verify", 2);
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    for _ in 0..2 {
        let answer = handle(&w, on("verify")).await.unwrap();
        assert_eq!(answer["done"], false, "{answer}");
        assert!(
            answer["waiting_for"][0].as_str().unwrap().contains("busy"),
            "{answer}"
        );
        assert_eq!(run_of(&w).await.resources[0].phase, Phase::Swapped);
    }
    let answer = handle(&w, on("verify")).await.unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Verified);
    assert_eq!(w.restorer.calls("undo_swap"), 0);
}

/// Production swapped but never settling within the polls (a long maintenance, say) is not
/// a reason to undo the restore: it is kept, the request completes with the timeout on
/// record, and the execution still fails so the alarm shows it.
#[tokio::test]
async fn a_verification_that_only_timed_out_keeps_the_restore() {
    let w = world();
    w.restorer.set_pending_polls("verify", 99);
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    assert_eq!(handle(&w, on("verify")).await.unwrap()["done"], false);
    let error = json!({"Error": "Lifeboat.VerifyTimeout", "Cause": "production did not settle"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["status"], "completed", "{answer}");
    assert_eq!(answer["error"], "Lifeboat.VerifyTimeout");
    assert_eq!(w.restorer.calls("undo_swap"), 0, "nothing undone");
    assert_eq!(w.restorer.content("db").as_deref(), Some(BEFORE));
    assert_eq!(stored(&w).await.request.status, Status::Completed);
}

/// A DynamoDB copy-back that finished holds the confirmed rollback and every write since:
/// a later failure (here verification of another resource failing) does not undo it, even
/// when no swap step recorded the finish (its last shard done as another resource failed).
/// One that failed part-way is undone.
#[tokio::test]
async fn a_finished_dynamodb_copy_back_is_not_undone_and_one_cut_short_is() {
    for (swap_polls, undone) in [(0, false), (1, false), (3, true)] {
        let w = world_of(ResourceKind::DynamoTable);
        w.restorer.set_pending_polls("swap", swap_polls);
        let target = now() - TimeDelta::hours(2);
        let point = ChosenPoint {
            resource: ResourceKey::dynamodb("db"),
            source: Source::PointInTime { target },
        };
        store(&w, request(Status::Approved, vec![point], Mode::Rollback)).await;
        steps(
            &w,
            &[
                "begin",
                "resolve",
                "safety_snapshot",
                "restore_staging",
                "check_ready",
            ],
        )
        .await;
        let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-1"});
        handle(&w, event).await.unwrap();
        let swap = handle(&w, swap_event()).await.unwrap();
        assert_eq!(swap["done"], swap_polls == 0, "{swap}");
        let error = json!({"Error": "Lifeboat.VerificationFailed", "Cause": "another resource differs"});
        let abort = json!({"step": "abort", "request_id": ID, "error": error});
        let answer = handle(&w, abort).await.unwrap();
        assert_eq!(answer["done"], true, "{answer}");
        let run = run_of(&w).await;
        let last = run.timeline.last().unwrap().detail.clone();
        if undone {
            assert_eq!(w.restorer.calls("undo_swap"), 1);
            assert_eq!(run.resources[0].phase, Phase::Undone);
            assert_eq!(w.restorer.content("db").as_deref(), Some(AFTER));
        } else {
            assert_eq!(w.restorer.calls("undo_swap"), 0, "a finished copy-back is kept");
            assert_eq!(run.resources[0].phase, Phase::Swapped);
            assert!(last.contains("not undone"), "{last}");
            assert_eq!(
                w.restorer.content("db").as_deref(),
                Some("db as of 2026-11-28 10:00:00 UTC"),
                "the rolled-back content stays"
            );
        }
        assert_eq!(stored(&w).await.request.status, Status::Failed);
    }
}

#[tokio::test]
async fn abort_before_the_swap_leaves_production_alone() {
    let w = world();
    staged(&w).await;
    let error = json!({"Error": "States.Timeout", "Cause": ""});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true);
    assert_eq!(
        answer["error"], "Lifeboat.Timeout",
        "States. is reserved: {answer}"
    );
    assert_eq!(w.restorer.calls("undo_swap"), 0);
    assert_eq!(w.restorer.names(), ["db"], "staging deleted");
    assert_eq!(w.restorer.content("db").as_deref(), Some(AFTER));
    assert_eq!(stored(&w).await.request.status, Status::Failed);
    assert_only_lasting_holds(&w);
    assert_eq!(report(&w)["status"], "failed");
}

#[tokio::test]
async fn abort_of_a_request_never_locked_writes_nothing() {
    let w = world();
    catalogue_weekly(&w, PointState::Available);
    let approved = request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback);
    store(&w, approved.clone()).await;
    let error = json!({"Error": "Lifeboat.NotApproved", "Cause": "not ours"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(stored(&w).await, approved);
    assert!(w.reports.keys().is_empty());
    assert_eq!(w.restorer.names(), ["db"]);
}

/// Finish is caught to abort (a report it cannot write, say) after clean_up deleted staging.
#[tokio::test]
async fn a_failure_after_verification_keeps_the_verified_restore() {
    let w = world();
    staged(&w).await;
    handle(&w, swap_event()).await.unwrap();
    steps(&w, &["verify", "clean_up"]).await;
    // Finishing failed (say the report could not be written): the caught error reaches abort.
    let error = json!({"Error": "Lifeboat.Permanent", "Cause": "step report: put refused"});
    let answer = handle(&w, json!({"step": "abort", "request_id": ID, "error": error}))
        .await
        .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(
        answer["error"], "Lifeboat.Permanent",
        "the execution still fails, for the alarm"
    );
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(BEFORE),
        "the confirmed, verified restore stands"
    );
    assert_eq!(
        w.restorer.names(),
        ["db", FALLBACK],
        "staging deleted, the fallback kept"
    );
    let after = stored(&w).await;
    assert_eq!(after.request.status, Status::Completed);
    let run = after.request.run.unwrap();
    assert_eq!(run.outcome, Some(Outcome::Completed));
    assert!(run.timeline.iter().any(|s| s
        .detail
        .contains("completed and verified; then Lifeboat.Permanent")));
}

/// A rollback swapped, then `by_hand` done to its names, then an undo refused for good: the
/// restore ends at once, and its last entry and the resource's phase say what holds
/// production's name.
async fn undo_stopped_after(w: &World, by_hand: impl FnOnce(&World)) -> (Phase, String) {
    staged(w).await;
    assert_eq!(handle(w, swap_event()).await.unwrap()["done"], true);
    by_hand(w);
    w.restorer
        .fail("undo_swap", lifeboat::ports::FailureKind::Refused);
    let error = json!({"Error": "Lifeboat.Permanent", "Cause": "step swap: AddTagsToResource refused"});
    let abort = json!({"step": "abort", "request_id": ID, "error": error});
    let answer = handle(w, abort).await.unwrap();
    assert_eq!(answer["done"], true, "ends at once: {answer}");
    let run = run_of(w).await;
    let last = run.timeline.last().unwrap().detail.clone();
    assert!(last.contains("undo stopped"), "{last}");
    (run.resources[0].phase, last)
}

#[tokio::test]
async fn an_undo_stopped_with_production_s_name_held_by_nothing_is_urgent_naming_the_original() {
    let w = world();
    let (phase, last) = undo_stopped_after(&w, |w| w.restorer.rename_by_hand("db", "db-moved")).await;
    assert_eq!(phase, Phase::Undoing);
    assert!(
        last.contains("URGENT: no resource holds production's name")
            && last.contains(FALLBACK)
            && last.contains("rename it back to db"),
        "{last}"
    );
    assert_eq!(
        w.restorer.names(),
        ["db-moved", FALLBACK],
        "nothing deleted or moved by the undo"
    );
}

#[tokio::test]
async fn an_undo_stopped_with_the_original_back_in_production_s_name_is_recorded_as_undone() {
    let w = world();
    let (phase, last) = undo_stopped_after(&w, |w| {
        w.restorer.rename_by_hand("db", "db-restored");
        w.restorer.rename_by_hand(FALLBACK, "db");
    })
    .await;
    assert_eq!(phase, Phase::Undone);
    assert!(
        last.contains("the original is production again") && last.contains("left for an engineer to check"),
        "{last}"
    );
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "the original serves"
    );
}
