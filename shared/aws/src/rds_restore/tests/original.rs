//! Production's original is pinned with staging (its `DbiResourceId`): the swap sets aside,
//! and takes settings from, only that instance, and the undo renames only it back into
//! production's name; an instance carrying the fallback's marks but not of that identity (or
//! any, for a run readied without the pin) is refused untouched. Staging is pinned only with
//! a creation time RDS reports after the restore was asked for.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::ports::restorer::Origin;

use super::*;

const FALLBACK: &str = "lbf-1b4e28ba-db";
const STAGING: &str = "lbs-1b4e28ba-db";

/// An instance under the fallback's name carrying its marks, made by someone else.
fn look_alike() -> DbInstance {
    with_id(db(FALLBACK, "available", &fallback_marks()), INTRUDER)
}

fn restored_production() -> DbInstance {
    db("db", "available", &[(TAG_RESTORE_REQUEST, REQUEST)])
}

/// The restorer answering `production`, `fallback` and `staging` by their names, and the
/// calls that would change anything (see [`changes`]).
fn answering(
    production: Option<DbInstance>,
    fallback: Option<DbInstance>,
    staging: Option<DbInstance>,
) -> (RdsRestorer, [Rule; 4]) {
    let changes = changes();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &describe("db", production),
            &describe(FALLBACK, fallback),
            &describe(STAGING, staging),
            &describe("lbr-1b4e28ba-db", None),
            &changes[0],
            &changes[1],
            &changes[2],
            &changes[3],
        ]
    );
    (RdsRestorer::new(client), changes)
}

#[tokio::test]
async fn no_swap_step_takes_a_look_alike_under_the_fallbacks_name_for_the_original() {
    let (_, t) = target();
    let staging = || Some(db(STAGING, "available", &staging_marks()));
    // 2. Production's name free, the look-alike aside: staging is not renamed in.
    // 3. The restored instance in production: no settings copied from the look-alike.
    for (production, staging) in [(None, staging()), (Some(restored_production()), None)] {
        let (restorer, changes) = answering(production, Some(look_alike()), staging);
        let e = restorer.swap(&t, "snap").await.unwrap_err();
        assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
        assert!(e.to_string().contains("rds:lbf-1b4e28ba-db"), "names it: {e}");
        assert!(e.message.contains(INTRUDER), "says which it is: {e}");
        assert_eq!(changed(&changes), 0, "nothing renamed, configured or tagged: {e}");
    }
    // With the original aside, both steps go on.
    let (restorer, changes) = answering(
        None,
        Some(db(FALLBACK, "available", &fallback_marks())),
        staging(),
    );
    assert!(matches!(
        restorer.swap(&t, "snap").await.unwrap(),
        Progress::Pending(_)
    ));
    assert_eq!(changes[0].num_calls(), 1, "staging renamed in");
}

#[tokio::test]
async fn the_swap_sets_aside_only_the_production_pinned_before_it() {
    let (_, t) = target();
    let staging = || Some(db(STAGING, "available", &staging_marks()));
    // Production replaced under its name since the pin.
    let replaced = with_id(db("db", "available", &[]), INTRUDER);
    let (restorer, changes) = answering(Some(replaced), None, staging());
    let e = restorer.swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(e.to_string().contains("rds:db"), "{e}");
    assert_eq!(changed(&changes), 0, "neither tagged nor renamed: {e}");
    // A run readied without the pin: nothing is set aside that no undo could bring back.
    let unpinned = Target {
        fallback_identity: None,
        ..t.clone()
    };
    let (restorer, changes) = answering(Some(db("db", "available", &[])), None, staging());
    let e = restorer.swap(&unpinned, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(
        e.message
            .contains("no identity of production's original was pinned"),
        "{e}"
    );
    assert_eq!(changed(&changes), 0);
    // The pinned original is set aside.
    let (restorer, changes) = answering(Some(db("db", "available", &[])), None, staging());
    assert!(matches!(
        restorer.swap(&t, "snap").await.unwrap(),
        Progress::Pending(_)
    ));
    assert_eq!(changes[0].num_calls(), 1, "renamed aside");
}

#[tokio::test]
async fn the_undo_renames_only_the_pinned_original_back_and_says_what_holds_which_name() {
    let (_, t) = target();
    // Production's name free, the look-alike aside: not renamed in; nothing holds the name.
    let (restorer, changes) = answering(None, Some(look_alike()), None);
    let e = restorer.undo_swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(e.to_string().contains("rds:lbf-1b4e28ba-db"), "{e}");
    assert!(e.message.contains("not production's original"), "{e}");
    assert_eq!(changed(&changes), 0);
    assert_eq!(restorer.holder(&t).await.unwrap(), Holder::Nobody);
    // The restored instance in production: not moved aside for a look-alike to come back.
    let (restorer, changes) = answering(Some(restored_production()), Some(look_alike()), None);
    let e = restorer.undo_swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert_eq!(changed(&changes), 0, "production stays the restored instance");
    assert_eq!(restorer.holder(&t).await.unwrap(), Holder::Restored);
    // A look-alike marked as the fallback under production's name: its marks left alone.
    let marked = with_id(db("db", "available", &fallback_marks()), INTRUDER);
    let (restorer, changes) = answering(Some(marked), None, None);
    let e = restorer.undo_swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert_eq!(changed(&changes), 0);
    assert_eq!(restorer.holder(&t).await.unwrap(), Holder::Other);
    // A run readied without the pin renames nothing back: it cannot tell the original.
    let unpinned = Target {
        fallback_identity: None,
        ..t.clone()
    };
    let original = db(FALLBACK, "available", &fallback_marks());
    let (restorer, changes) = answering(None, Some(original.clone()), None);
    let e = restorer.undo_swap(&unpinned, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert_eq!(changed(&changes), 0);
    // The pinned original comes back.
    let (restorer, changes) = answering(None, Some(original), None);
    assert!(matches!(
        restorer.undo_swap(&t, "snap").await.unwrap(),
        Progress::Pending(_)
    ));
    assert_eq!(changes[0].num_calls(), 1, "the one rename back");
}

#[tokio::test]
async fn the_original_pinned_is_whatever_holds_productions_name_before_the_swap() {
    let (_, t) = target();
    let (restorer, _) = answering(Some(db("db", "available", &[])), None, None);
    let pinned = restorer.original(&t).await.unwrap().unwrap();
    assert_eq!(pinned.id, ORIGINAL);
    let (restorer, _) = answering(None, None, None);
    let e = restorer.original(&t).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotFound, "{e}");
}

/// F2 for RDS: RDS keeps no record of where an instance came from, so staging is pinned on
/// its marks and a creation time after the ask, and never when RDS reports none.
#[tokio::test]
async fn staging_is_pinned_only_when_rds_reports_it_made_after_the_ask() {
    let asked: DateTime<Utc> = "2026-12-03T06:00:00Z".parse().unwrap();
    let origin = Origin {
        from: RestoreFrom::Snapshot("rds:db-2026-12-03".into()),
        asked_after: asked,
    };
    let (_, t) = target();
    let t = Target {
        origin: Some(origin),
        ..t
    };
    let staging = |created: Option<DateTime<Utc>>| {
        let mut s = db(STAGING, "available", &staging_marks());
        s.instance_create_time = created.map(|c| SdkDateTime::from_secs(c.timestamp()));
        s
    };
    let t = &t;
    let identity = |created| async move {
        let (restorer, _) = answering(None, None, Some(staging(created)));
        restorer.identity(t, Made::Staging).await
    };
    assert_eq!(
        identity(Some(asked + TimeDelta::seconds(30))).await.unwrap().id,
        RESTORED
    );
    let e = identity(Some(asked - TimeDelta::seconds(30))).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(e.message.contains("before this restore was asked for"), "{e}");
    let e = identity(None).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(e.message.contains("no InstanceCreateTime"), "{e}");
    assert!(e.to_string().contains("rds:lbs-1b4e28ba-db"), "{e}");
}

#[tokio::test]
async fn verification_never_takes_a_look_alike_under_the_fallbacks_name_for_the_original() {
    let (_, t) = target();
    let (restorer, _) = answering(Some(restored_production()), Some(look_alike()), None);
    match restorer.verify(&t).await.unwrap() {
        Verification::Failed(why) => {
            assert!(why.contains(FALLBACK) && why.contains(INTRUDER), "{why}")
        }
        other => panic!("a look-alike's settings verify nothing: {other:?}"),
    }
}
