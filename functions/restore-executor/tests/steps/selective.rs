//! Selective restores: the plan before confirmation, the merge batch by batch, failed
//! batches retried alone, failures mid-merge, an engine that cannot connect, and staging
//! replaced while the extract reads it.

use super::*;

#[tokio::test]
async fn a_selective_restore_plans_before_confirmation_then_merges_batch_by_batch() {
    let mut w = world();
    w.executor.merge_budget = std::time::Duration::ZERO;
    let merger = selective_staged(&mut w).await;
    // The plan is in the report before anyone confirms; nothing is merged yet.
    let planned = report(&w);
    let table = &planned["selective"]["resources"][0]["tables"][0];
    assert_eq!(table["plan"], json!({"insert": 9, "present": 1, "conflicts": 0}));
    assert_eq!(table["batches"], 4);
    assert_eq!(merger.merge_calls(), 0);
    // A merge without a confirmation touches nothing.
    let e = handle(&w, on("merge")).await.unwrap_err();
    assert!(e.message.contains("no confirmation"), "{e}");
    assert_eq!(merger.merge_calls(), 0);

    // A zero budget: one batch per invocation, the state machine loops.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(handle(&w, merge_event()).await.unwrap()["done"].clone());
    }
    assert_eq!(answers, [json!(false), json!(false), json!(false), json!(true)]);
    assert_eq!(merger.production("public.contacts"), (1..=10).collect());
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Merged);
    assert_eq!(run.confirmed_by.as_deref(), Some(CONFIRMER));
    assert!(stored(&w).await.task_token.is_none());
    steps(&w, &["verify", "clean_up", "finish"]).await;
    assert_eq!(stored(&w).await.request.status, Status::Completed);
    assert_eq!(w.restorer.calls("swap"), 0, "a selective restore never swaps");
    let merged = &report(&w)["selective"]["resources"][0]["tables"][0]["merged"];
    assert_eq!(
        (merged["inserted"].clone(), merged["present"].clone()),
        (json!(9), json!(1))
    );
}

#[tokio::test]
async fn a_failed_batch_is_retried_alone_and_verify_checks_production_s_record() {
    let mut w = world();
    let merger = selective_staged(&mut w).await;
    merger.fail_once("public.contacts", 1);
    let e = handle(&w, merge_event()).await.unwrap_err();
    assert_eq!(e.name, lifeboat::execution::error::RETRYABLE, "{e}");
    assert_eq!(
        run_of(&w).await.selective.unwrap().merged.len(),
        1,
        "batch 0 recorded"
    );
    assert_eq!(handle(&w, merge_event()).await.unwrap()["done"], true);
    assert_eq!(
        merger.merge_calls(),
        5,
        "batch 0 once, batch 1 twice, then 2 and 3"
    );
    // Production lost its record of a batch: verification fails and says which.
    merger.forget("public.contacts", 2);
    let e = handle(&w, on("verify")).await.unwrap_err();
    assert_eq!(e.name, lifeboat::execution::error::VERIFICATION_FAILED);
    assert!(e.message.contains("public.contacts batch 2"), "{e}");
}

#[tokio::test]
async fn a_selective_restore_failing_mid_merge_keeps_what_it_merged_and_undoes_nothing() {
    let mut w = world();
    w.executor.merge_budget = std::time::Duration::ZERO;
    let merger = selective_staged(&mut w).await;
    handle(&w, merge_event()).await.unwrap();
    let error = json!({"Error": "Lifeboat.Permanent", "Cause": "the database refused batch 1"});
    let answer = handle(
        &w,
        json!({"step": "abort", "request_id": ID, "error": error, "execution": EXECUTION}),
    )
    .await
    .unwrap();
    assert_eq!(answer["done"], true, "{answer}");
    assert_eq!(w.restorer.calls("undo_swap"), 0);
    assert_eq!(merger.production("public.contacts"), BTreeSet::from([1, 2, 3]));
    let request = stored(&w).await.request;
    assert_eq!(request.status, Status::Failed);
    let run = request.run.unwrap();
    assert!(run.resources[0].staging_deleted);
    assert!(
        run.timeline
            .last()
            .unwrap()
            .detail
            .contains("the 2 rows recorded as merged before the failure stay"),
        "{:?}",
        run.timeline.last()
    );
}

#[tokio::test]
async fn a_selective_restore_whose_engine_cannot_connect_fails_at_resolve_before_staging() {
    let mut w = world();
    let merger = Arc::new(MemoryMerger::new(
        ResourceKind::RdsInstance,
        vec![],
        3,
        BTreeMap::new(),
    ));
    merger.make_unusable("LIFEBOAT_DB_CA_BUNDLE /var/task/rds-global-bundle.pem: not found");
    w.executor.mergers = vec![merger];
    catalogue_weekly(&w, PointState::Available);
    store(
        &w,
        request(Status::Approved, vec![weekly_snapshot()], Mode::Selective),
    )
    .await;
    steps(&w, &["begin"]).await;
    let e = handle(&w, on("resolve")).await.unwrap_err();
    assert_eq!(e.name, UNSUPPORTED, "{e}");
    assert!(e.message.contains("LIFEBOAT_DB_CA_BUNDLE"), "{e}");
    assert_eq!(w.restorer.calls("start_staging"), 0);
}

/// Staging deleted and made again under its name (with the marks copied) while the extract
/// reads it: the extract proved nothing of what it read, so none of it is recorded (no plan,
/// nothing to merge), and the step fails `NotOurs` naming staging.
#[tokio::test]
async fn an_extract_during_which_staging_was_replaced_records_nothing() {
    let mut w = world();
    let merger = contacts_merger(&mut w);
    ready_as(&w, Mode::Selective).await;
    let restorer = w.restorer.clone();
    merger.during_extract(move || {
        let marks = restorer.resource(STAGING).unwrap().marks;
        let marks: Vec<(&str, &str)> = marks.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        restorer.replace(STAGING, "someone else's contacts", &marks);
    });

    let refused = handle(&w, on("extract")).await.unwrap_err();
    assert_eq!(refused.name, lifeboat::execution::error::PERMANENT, "{refused}");
    assert!(
        refused.message.contains("NotOurs") && refused.message.contains(STAGING),
        "names staging and why: {refused}"
    );
    let run = run_of(&w).await;
    assert_eq!(run.resources[0].phase, Phase::Ready, "not extracted");
    assert!(
        run.selective.as_ref().is_none_or(|s| s.extracts.is_empty()),
        "nothing of the extract recorded: {:?}",
        run.selective
    );
    assert!(
        !run.timeline.iter().any(|s| s.step == Step::Extract),
        "no plan on record: {:?}",
        run.timeline
    );
    assert_eq!(merger.merge_calls(), 0);
}
