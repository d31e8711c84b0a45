//! Who may confirm: the approver, the filer and strangers are refused with nothing touched;
//! no swap without a confirmation.

use super::*;

/// A console `SendTaskSuccess` never passed the intake's checks: the executor applies the
/// same rules. Whoever approved, whoever filed, someone outside engineering, or nobody named:
/// refused, recorded, nothing touched, and a second engineer's confirmation then goes on.
#[tokio::test]
async fn a_confirmation_from_the_approver_the_filer_or_a_stranger_is_refused_and_touches_nothing() {
    let w = world();
    staged(&w).await;
    let before = w.restorer.names();
    for (who, why) in [
        (json!(ENGINEER), "approved this restore"),
        (json!(SUPPORT), "not an engineering principal"),
        // The filer, through a session of the engineering role.
        (
            json!("arn:aws:sts::111122223333:assumed-role/lifeboat-engineering/sam-support"),
            "filed this request",
        ),
        (
            json!("arn:aws:sts::111122223333:assumed-role/marketing/max"),
            "not an engineering principal",
        ),
        (json!(null), "does not say who confirmed"),
        (json!(ENGINEERING_ROLE), "names no person"),
    ] {
        let event = json!({"step": "swap", "request_id": ID,
            "confirmation": {"confirmed_by": who, "confirmed_at": "2026-11-28T11:30:00Z"}});
        let e = handle(&w, event).await.unwrap_err();
        assert_eq!(
            e.name,
            lifeboat::execution::error::CONFIRMATION_REFUSED,
            "{who}: {e}"
        );
        assert!(e.message.contains(why), "{who}: {e}");
        let run = run_of(&w).await;
        assert!(run.confirmed_by.is_none(), "{who}");
        assert!(
            run.resources.iter().all(|r| r.phase == Phase::Ready),
            "{who}: nothing touched"
        );
        assert!(
            run.timeline.last().unwrap().detail.contains("refused"),
            "{who}: on the record"
        );
        assert_eq!(w.restorer.names(), before, "{who}");
    }
    // Waiting again (a new token), then a second engineer's confirmation goes through.
    let event = json!({"step": "await_confirmation", "request_id": ID, "task_token": "token-2"});
    handle(&w, event).await.unwrap();
    handle(&w, swap_event()).await.unwrap();
    assert_eq!(run_of(&w).await.confirmed_by.as_deref(), Some(CONFIRMER));
}

#[tokio::test]
async fn a_swap_without_a_confirmation_touches_nothing() {
    let w = world();
    staged(&w).await;
    let e = handle(&w, on("swap")).await.unwrap_err();
    assert!(e.message.contains("no confirmation"), "{e}");
    assert_eq!(
        w.restorer.content("db").as_deref(),
        Some(AFTER),
        "production untouched"
    );
    assert_eq!(w.restorer.calls("swap"), 0);
}
