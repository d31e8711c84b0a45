//! Begin and resolve: the request locked once, refusals that write nothing, targets checked
//! against the window and the catalog, one restore per resource at a time.

use super::*;

#[tokio::test]
async fn begin_locks_an_approved_request_once() {
    let w = world();
    let target = approve_rollback_two_hours_back(&w).await;

    let settings = handle(&w, begin_by(EXECUTION)).await.unwrap();
    assert_eq!(settings["request_id"], ID);
    assert_eq!(settings["max_polls"], 240, "defaults are filled in: {settings}");
    let locked = stored(&w).await;
    assert_eq!(locked.request.status, Status::Executing);
    let run = locked.request.run.clone().unwrap();
    assert_eq!(run.execution, EXECUTION);
    assert_eq!(run.mode, Mode::Rollback);
    assert_eq!(run.resources.len(), 1);
    assert_eq!(run.resources[0].phase, Phase::Planned);
    assert_eq!(run.resources[0].restores_to, target);
    assert_eq!(
        (
            run.resources[0].staging.as_str(),
            run.resources[0].fallback.as_str()
        ),
        (STAGING, FALLBACK)
    );
    let last = locked.request.history.last().unwrap();
    assert_eq!((last.from, last.to), (Some(Status::Approved), Status::Executing));
    assert_eq!(locked.request.history.len(), 3);

    // A retry of the same execution's begin answers the same and writes nothing.
    assert_eq!(handle(&w, begin_by(EXECUTION)).await.unwrap(), settings);
    assert_eq!(stored(&w).await, locked);

    // Another execution may not take it over.
    let other = format!("{EXECUTION}-again");
    let e = handle(&w, begin_by(&other)).await.unwrap_err();
    assert_eq!(e.name, NOT_APPROVED);
    assert!(e.message.contains(EXECUTION), "names who holds it: {e}");
    assert_eq!(stored(&w).await, locked);
}

#[tokio::test]
async fn begin_refuses_an_unapproved_request_and_bad_input_without_writing() {
    let w = world();
    let submitted = request(Status::Submitted, Vec::new(), Mode::Rollback);
    store(&w, submitted.clone()).await;

    let e = handle(&w, begin_by(EXECUTION)).await.unwrap_err();
    assert_eq!(e.name, NOT_APPROVED, "{e}");
    assert_eq!(stored(&w).await, submitted);

    let unknown = json!({"step": "begin", "input": {"request_id": "rr-0000"}, "execution": EXECUTION});
    assert_eq!(handle(&w, unknown).await.unwrap_err().name, NOT_APPROVED);

    for bad in [
        json!({"step": "begin", "input": {}, "execution": EXECUTION}),
        json!({"step": "begin", "input": {"request_id": "x; drop"}, "execution": EXECUTION}),
        json!({"step": "begin", "input": {"request_id": ID, "max_polls": 0}, "execution": EXECUTION}),
        json!({"step": "begin", "input": {"request_id": ID}}),
        json!({"step": "begin", "execution": EXECUTION}),
        json!({"step": "explode", "request_id": ID}),
        json!({"step": "resolve"}),
    ] {
        let e = handle(&w, bad.clone()).await.unwrap_err();
        assert_eq!(e.name, INVALID_INPUT, "{bad}: {e}");
    }
    assert_eq!(stored(&w).await, submitted);
}

#[tokio::test]
async fn a_selective_approval_with_no_engine_for_the_service_fails_at_resolve_and_touches_nothing() {
    let w = world();
    catalogue_weekly(&w, PointState::Available);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Selective),
    )
    .await;
    steps(&w, &["begin"]).await;
    assert_eq!(run_of(&w).await.mode, Mode::Selective);

    let e = handle(&w, on("resolve")).await.unwrap_err();
    assert_eq!(e.name, UNSUPPORTED, "{e}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Planned);
    assert_eq!(w.restorer.calls("snapshot_usable"), 0);
    assert!(holds(&w).is_empty());
}

#[tokio::test]
async fn resolve_accepts_point_in_time_targets_only_inside_the_window() {
    let w = world();
    let outside = now() - TimeDelta::hours(80);
    store(
        &w,
        request(
            Status::Approved,
            vec![point_in_time("db", outside)],
            Mode::Rollback,
        ),
    )
    .await;
    steps(&w, &["begin"]).await;
    let e = handle(&w, on("resolve")).await.unwrap_err();
    assert_eq!(e.name, NOT_RESTORABLE);
    assert!(e.message.contains("outside the restorable window"), "{e}");
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Planned);

    let w = world();
    let inside = now() - TimeDelta::hours(2);
    store(
        &w,
        request(
            Status::Approved,
            vec![point_in_time("db", inside)],
            Mode::Rollback,
        ),
    )
    .await;
    steps(&w, &["begin", "resolve"]).await;
    assert_eq!(run_of(&w).await.resources[0].phase, Phase::Resolved);
}

#[tokio::test]
async fn resolve_holds_a_snapshot_only_when_catalogued_available_and_held_by_the_service() {
    let w = world();
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback),
    )
    .await;
    steps(&w, &["begin"]).await;
    let refused = |why: &'static str| {
        let w = &w;
        async move {
            let e = handle(w, on("resolve")).await.unwrap_err();
            assert_eq!(e.name, NOT_RESTORABLE, "{why}: {e}");
            let run = run_of(w).await;
            assert_eq!(run.resources[0].phase, Phase::Planned, "{why}");
            assert!(holds(w).is_empty(), "{why}");
        }
    };
    refused("not catalogued").await;
    catalogue_weekly(&w, PointState::Creating);
    refused("still being made").await;
    catalogue_weekly(&w, PointState::Missing);
    refused("found missing by reconciliation").await;
    let service_id = catalogue_weekly(&w, PointState::Available);
    refused("catalogued, but the service lacks it").await;

    w.restorer
        .add_snapshot(&ResourceKey::rds("db"), &service_id, BEFORE);
    steps(&w, &["resolve"]).await;
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Resolved);
    assert_eq!(
        run.resources[0].restore_from.as_deref(),
        Some(service_id.as_str())
    );
    assert_eq!(holds(&w), [ID]);
}

const ID_2: &str = "rr-2c5f39cb-3fa1-11d2-883f-0016d3cca427";

#[tokio::test]
async fn one_restore_per_resource_at_a_time() {
    let w = world();
    staged(&w).await;
    let mut second = request(Status::Approved, vec![weekly_snapshot()], Mode::Rollback);
    second.request.id = ID_2.into();
    store(&w, second.clone()).await;
    let begin_second = json!({"step": "begin", "input": {"request_id": ID_2}, "execution": "arn:second"});
    let refused = handle(&w, begin_second.clone()).await.unwrap_err();
    assert_eq!(refused.name, NOT_APPROVED, "{refused}");
    assert!(
        refused.message.contains("rds:db is being restored") && refused.message.contains(ID),
        "{refused}"
    );
    assert_eq!(
        w.requests.get(ID_2).await.unwrap().unwrap(),
        second,
        "the second request is unchanged"
    );

    // Once the first restore ends, its lock is released.
    while handle(&w, swap_event()).await.unwrap()["done"] != true {}
    steps(&w, &["verify", "clean_up", "finish"]).await;
    handle(&w, begin_second).await.unwrap();
    assert_eq!(
        w.requests.get(ID_2).await.unwrap().unwrap().request.status,
        Status::Executing
    );
}
