//! What moto cannot show: RDS status changes that take time (pending renames, settings being
//! applied, backups right after a swap), and instances in the states a swap or an undo passes
//! through, answered by mocked clients.

use aws_sdk_rds::operation::add_tags_to_resource::AddTagsToResourceOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::modify_db_instance::ModifyDbInstanceOutput;
use aws_sdk_rds::operation::remove_tags_from_resource::RemoveTagsFromResourceOutput;
use aws_sdk_rds::types::{DbInstance, PendingModifiedValues, Tag};
use aws_sdk_rds::Client;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

use super::*;

const REQUEST: &str = "rr-1b4e28ba";
/// The `DbiResourceId` of the instance this request restored (staging, then production).
const RESTORED: &str = "db-RESTOREDBYTHISREQUEST0001";
/// The original production's.
const ORIGINAL: &str = "db-ORIGINALPRODUCTION000001";
/// Someone else's instance, made under one of the restore's names.
const INTRUDER: &str = "db-MADEBYSOMEONEELSE0000001";

/// An instance as RDS describes it: this request's restored instance (its marks, not as the
/// fallback) has [`RESTORED`]'s id, any other [`ORIGINAL`]'s (see [`with_id`]).
fn db(id: &str, status: &str, tags: &[(&str, &str)]) -> DbInstance {
    let restored =
        tags.contains(&(TAG_RESTORE_REQUEST, REQUEST)) && !tags.contains(&(TAG_RESTORE_ROLE, "fallback"));
    let mut b = DbInstance::builder()
        .db_instance_identifier(id)
        .db_instance_arn(format!("arn:aws:rds:us-east-1:123456789012:db:{id}"))
        .db_instance_status(status)
        .dbi_resource_id(if restored { RESTORED } else { ORIGINAL })
        .backup_retention_period(3)
        .deletion_protection(true);
    for (k, v) in tags {
        b = b.tag_list(Tag::builder().key(*k).value(*v).build());
    }
    b.build()
}

/// `db` as another instance: made by someone else under the name, whatever marks it copied.
fn with_id(mut db: DbInstance, id: &str) -> DbInstance {
    db.dbi_resource_id = Some(id.to_string());
    db
}

/// DescribeDBInstances of `id` answers `instance` (none: not found, as an empty list).
fn describe(id: &'static str, instance: Option<DbInstance>) -> Rule {
    mock!(Client::describe_db_instances)
        .match_requests(move |r| r.db_instance_identifier() == Some(id))
        .then_output(move || {
            DescribeDbInstancesOutput::builder()
                .set_db_instances(instance.clone().map(|i| vec![i]))
                .build()
        })
}

fn modify() -> Rule {
    mock!(Client::modify_db_instance).then_output(|| ModifyDbInstanceOutput::builder().build())
}

fn target() -> (ResourceKey, Target<'static>) {
    let production: &'static ResourceKey = Box::leak(Box::new(ResourceKey::rds("db")));
    (
        production.clone(),
        Target {
            request_id: REQUEST,
            production,
            staging: "lbs-1b4e28ba-db",
            fallback: "lbf-1b4e28ba-db",
            origin: None,
            staging_identity: Some(Box::leak(Box::new(Identity {
                id: RESTORED.into(),
                created: None,
            }))),
            fallback_identity: Some(Box::leak(Box::new(Identity {
                id: ORIGINAL.into(),
                created: None,
            }))),
        },
    )
}

fn staging_marks() -> [(&'static str, &'static str); 2] {
    [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "staging")]
}

#[tokio::test]
async fn the_swap_waits_while_a_rename_of_production_is_pending() {
    let (_, t) = target();
    let pending = PendingModifiedValues::builder()
        .db_instance_identifier("lbf-1b4e28ba-db")
        .build();
    let prod = DbInstance::builder()
        .db_instance_identifier("db")
        .db_instance_status("available")
        .pending_modified_values(pending)
        .build();
    let rules = [
        describe("db", Some(prod)),
        describe("lbf-1b4e28ba-db", None),
        describe(
            "lbs-1b4e28ba-db",
            Some(db("lbs-1b4e28ba-db", "available", &staging_marks())),
        ),
        modify(),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let progress = RdsRestorer::new(client).swap(&t, "snap").await.unwrap();
    assert!(
        matches!(progress, Progress::Pending(ref why) if why.contains("rds:db")),
        "{progress:?}"
    );
    assert_eq!(
        rules[3].num_calls(),
        0,
        "nothing renamed while a rename is pending"
    );
}

#[tokio::test]
async fn the_undo_waits_while_staging_is_being_renamed() {
    let (_, t) = target();
    let rules = [
        describe("db", None),
        describe("lbf-1b4e28ba-db", Some(db("lbf-1b4e28ba-db", "available", &[]))),
        describe(
            "lbs-1b4e28ba-db",
            Some(db("lbs-1b4e28ba-db", "renaming", &staging_marks())),
        ),
        modify(),
        describe("lbr-1b4e28ba-db", None),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let progress = RdsRestorer::new(client).undo_swap(&t, "snap").await.unwrap();
    assert!(
        matches!(progress, Progress::Pending(ref why) if why.contains("renaming")),
        "{progress:?}"
    );
    assert_eq!(
        rules[3].num_calls(),
        0,
        "the fallback is not renamed onto a name in use"
    );
}

#[tokio::test]
async fn settings_being_applied_are_waited_for_before_the_swap_is_done() {
    let (_, t) = target();
    let restored = |retention: i32| {
        let mut d = db(
            "db",
            "available",
            &[(TAG_RESTORE_REQUEST, REQUEST), ("team", "crm")],
        );
        d.backup_retention_period = Some(retention);
        d
    };
    let fallback = db(
        "lbf-1b4e28ba-db",
        "available",
        &[
            (TAG_RESTORE_REQUEST, REQUEST),
            (TAG_RESTORE_ROLE, "fallback"),
            ("team", "crm"),
        ],
    );
    let tags = [
        mock!(Client::add_tags_to_resource).then_output(|| AddTagsToResourceOutput::builder().build()),
        mock!(Client::remove_tags_from_resource)
            .then_output(|| RemoveTagsFromResourceOutput::builder().build()),
    ];
    // Production's backup retention is still 1: the settings are applied, and not done yet.
    let rules = [
        describe("db", Some(restored(1))),
        describe("lbf-1b4e28ba-db", Some(fallback.clone())),
        describe("lbs-1b4e28ba-db", None),
        modify(),
        tags[0].clone(),
        tags[1].clone(),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let progress = RdsRestorer::new(client).swap(&t, "snap").await.unwrap();
    assert!(matches!(progress, Progress::Pending(_)), "{progress:?}");
    assert_eq!(rules[3].num_calls(), 1);

    // Applied: nothing left to change, so the swap is done.
    let rules = [
        describe("db", Some(restored(3))),
        describe("lbf-1b4e28ba-db", Some(fallback)),
        describe("lbs-1b4e28ba-db", None),
        modify(),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let progress = RdsRestorer::new(client).swap(&t, "snap").await.unwrap();
    assert_eq!(progress, Progress::Done);
    assert_eq!(rules[3].num_calls(), 0);
}

/// RDS refuses to set `aws:` tags; CloudFormation's instances carry some.
#[tokio::test]
async fn aws_tags_of_the_old_production_are_neither_carried_over_nor_compared() {
    let (_, t) = target();
    let restored = db(
        "db",
        "available",
        &[(TAG_RESTORE_REQUEST, REQUEST), ("team", "crm")],
    );
    let fallback = db(
        "lbf-1b4e28ba-db",
        "available",
        &[
            (TAG_RESTORE_REQUEST, REQUEST),
            (TAG_RESTORE_ROLE, "fallback"),
            ("team", "crm"),
            ("aws:cloudformation:stack-name", "customers"),
        ],
    );
    let rules = [
        describe("db", Some(restored)),
        describe("lbf-1b4e28ba-db", Some(fallback)),
        describe("lbs-1b4e28ba-db", None),
        modify(),
        mock!(Client::add_tags_to_resource).then_output(|| AddTagsToResourceOutput::builder().build()),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let restorer = RdsRestorer::new(client);
    assert_eq!(restorer.swap(&t, "snap").await.unwrap(), Progress::Done);
    assert_eq!(rules[4].num_calls(), 0, "no aws: tag is asked for");
    let verification = restorer.verify(&t).await.unwrap();
    assert!(
        matches!(verification, Verification::Passed(_)),
        "{verification:?}"
    );
}

#[tokio::test]
async fn the_restored_instance_keeps_a_window_longer_than_the_fallbacks() {
    let (_, t) = target();
    let mut restored = db("db", "available", &[(TAG_RESTORE_REQUEST, REQUEST)]);
    restored.backup_retention_period = Some(14);
    let fallback = db(
        "lbf-1b4e28ba-db",
        "available",
        &[(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")],
    );
    let rules = [
        describe("db", Some(restored)),
        describe("lbf-1b4e28ba-db", Some(fallback)),
        describe("lbs-1b4e28ba-db", None),
        modify(),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let restorer = RdsRestorer::new(client);
    assert_eq!(restorer.swap(&t, "snap").await.unwrap(), Progress::Done);
    assert_eq!(rules[3].num_calls(), 0, "14 days are not cut to the fallback's 3");
    let verification = restorer.verify(&t).await.unwrap();
    assert!(
        matches!(verification, Verification::Passed(_)),
        "{verification:?}"
    );
}

/// Once the restored instance has carried production's name it holds what production
/// took since: the undo moves it aside under `lbr-` and marks it, and never deletes it.
#[tokio::test]
async fn the_undo_keeps_the_restored_instance_aside_and_deletes_nothing() {
    let (_, t) = target();
    let restored = db("db", "available", &[(TAG_RESTORE_REQUEST, REQUEST)]);
    let fallback = db(
        "lbf-1b4e28ba-db",
        "available",
        &[(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")],
    );
    let renamed_to = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = renamed_to.clone();
    let rename = mock!(Client::modify_db_instance)
        .match_requests(move |r| {
            seen.lock()
                .unwrap()
                .push(r.new_db_instance_identifier().unwrap_or_default().to_string());
            true
        })
        .then_output(|| ModifyDbInstanceOutput::builder().build());
    let tag = mock!(Client::add_tags_to_resource)
        .match_requests(|r| r.tags().iter().any(|t| t.value() == Some(SERVED_PRODUCTION)))
        .then_output(|| AddTagsToResourceOutput::builder().build());
    let delete = mock!(Client::delete_db_instance).then_output(|| {
        aws_sdk_rds::operation::delete_db_instance::DeleteDbInstanceOutput::builder().build()
    });
    let rules = [
        describe("db", Some(restored)),
        describe("lbf-1b4e28ba-db", Some(fallback)),
        describe("lbs-1b4e28ba-db", None),
        describe("lbr-1b4e28ba-db", None),
        rename,
        tag,
        delete,
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let progress = RdsRestorer::new(client).undo_swap(&t, "snap").await.unwrap();
    assert!(
        matches!(progress, Progress::Pending(ref why) if why.contains("kept")),
        "{progress:?}"
    );
    assert_eq!(*renamed_to.lock().unwrap(), ["lbr-1b4e28ba-db"]);
    assert_eq!(
        rules[5].num_calls(),
        1,
        "marked as having served production first"
    );
    assert_eq!(rules[6].num_calls(), 0, "nothing deleted");
}

#[tokio::test]
async fn verify_waits_for_states_that_settle_and_fails_only_on_a_real_difference() {
    let (_, t) = target();
    let restored = |status: &str| db("db", status, &[(TAG_RESTORE_REQUEST, REQUEST)]);
    let fallback = || {
        db(
            "lbf-1b4e28ba-db",
            "available",
            &[(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")],
        )
    };
    let pending = {
        let mut d = restored("available");
        d.pending_modified_values = Some(
            PendingModifiedValues::builder()
                .backup_retention_period(3)
                .build(),
        );
        d
    };
    let public = {
        let mut d = restored("available");
        d.publicly_accessible = Some(true);
        d
    };
    for (production, expect) in [
        (restored("backing-up"), "settling"),
        (restored("modifying"), "settling"),
        (pending, "settling"),
        (restored("storage-full"), "failed"),
        (public, "failed"),
        (restored("available"), "passed"),
    ] {
        let rules = [
            describe("db", Some(production)),
            describe("lbf-1b4e28ba-db", Some(fallback())),
        ];
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
        let v = RdsRestorer::new(client).verify(&t).await.unwrap();
        let got = match &v {
            Verification::Settling(_) => "settling",
            Verification::Failed(_) => "failed",
            Verification::Passed(_) => "passed",
            _ => "other",
        };
        assert_eq!(got, expect, "{v:?}");
    }
}

/// An instance that has the sandbox's (or staging's) name but not this restore's staging
/// marks is refused before anything is asked of it: never made private, never answered
/// `Done` (whereupon a drill would give it a managed password and read it).
#[tokio::test]
async fn an_instance_by_the_staging_name_not_marked_as_this_requests_staging_is_refused_untouched() {
    let (_, t) = target();
    let public = |tags: &[(&str, &str)]| {
        let mut d = db("lbs-1b4e28ba-db", "available", tags);
        d.publicly_accessible = Some(true);
        d
    };
    for (tags, sandbox) in [
        (vec![], true),
        (vec![], false),
        (
            vec![(TAG_RESTORE_REQUEST, "rr-other"), (TAG_RESTORE_ROLE, "staging")],
            true,
        ),
        (
            vec![(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")],
            false,
        ),
        (vec![(TAG_RESTORE_REQUEST, REQUEST)], true),
    ] {
        let rules = [describe("lbs-1b4e28ba-db", Some(public(&tags))), modify()];
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
        let restorer = if sandbox {
            RdsRestorer::for_sandboxes(client, vec![])
        } else {
            RdsRestorer::new(client)
        };
        let e = restorer.staging_ready(&t).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::NotOurs, "{tags:?}: {e}");
        assert!(e.to_string().contains("rds:lbs-1b4e28ba-db"), "{e}");
        assert_eq!(rules[1].num_calls(), 0, "{tags:?}: nothing modified");
    }

    // This request's own staging, public: made private, then (private) ready.
    let rules = [
        describe("lbs-1b4e28ba-db", Some(public(&staging_marks()))),
        modify(),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    let progress = RdsRestorer::for_sandboxes(client, vec![])
        .staging_ready(&t)
        .await
        .unwrap();
    assert!(
        matches!(progress, Progress::Pending(ref w) if w.contains("private")),
        "{progress:?}"
    );
    assert_eq!(rules[1].num_calls(), 1);
    let rules = [describe(
        "lbs-1b4e28ba-db",
        Some(db("lbs-1b4e28ba-db", "available", &staging_marks())),
    )];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    assert_eq!(
        RdsRestorer::new(client).staging_ready(&t).await.unwrap(),
        Progress::Done
    );
}

fn fallback_marks() -> [(&'static str, &'static str); 2] {
    [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")]
}

/// Every call that changes an instance (renames, settings, tags, deletion), for asserting
/// none was made.
fn changes() -> [Rule; 4] {
    [
        modify(),
        mock!(Client::add_tags_to_resource).then_output(|| AddTagsToResourceOutput::builder().build()),
        mock!(Client::remove_tags_from_resource)
            .then_output(|| RemoveTagsFromResourceOutput::builder().build()),
        mock!(Client::delete_db_instance).then_output(|| {
            aws_sdk_rds::operation::delete_db_instance::DeleteDbInstanceOutput::builder().build()
        }),
    ]
}

fn changed(rules: &[Rule]) -> usize {
    rules.iter().map(Rule::num_calls).sum()
}

/// Staging replaced during the confirmation's wait (unmarked, or carrying copied marks):
/// neither rename of the swap happens, nor does production's tagging before the first.
#[tokio::test]
async fn neither_rename_takes_an_instance_put_under_the_staging_name_after_it_was_pinned() {
    let (_, t) = target();
    let unmarked = with_id(db("lbs-1b4e28ba-db", "available", &[]), INTRUDER);
    let copied = with_id(db("lbs-1b4e28ba-db", "available", &staging_marks()), INTRUDER);
    for intruder in [unmarked, copied] {
        // 1. Production is the original; 2. it is aside as the fallback.
        for (production, fallback) in [
            (Some(db("db", "available", &[])), None),
            (None, Some(db("lbf-1b4e28ba-db", "available", &fallback_marks()))),
        ] {
            let changes = changes();
            let client = mock_client!(
                aws_sdk_rds,
                RuleMode::MatchAny,
                [
                    &describe("db", production.clone()),
                    &describe("lbf-1b4e28ba-db", fallback.clone()),
                    &describe("lbs-1b4e28ba-db", Some(intruder.clone())),
                    &changes[0],
                    &changes[1],
                    &changes[2],
                    &changes[3],
                ]
            );
            let e = RdsRestorer::new(client).swap(&t, "snap").await.unwrap_err();
            assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
            assert!(e.to_string().contains("rds:lbs-1b4e28ba-db"), "names it: {e}");
            assert_eq!(changed(&changes), 0, "nothing renamed or tagged: {e}");
        }
    }
    // Unpinned (a run that never proved its staging): refused too.
    let unpinned = Target {
        staging_identity: None,
        ..t
    };
    let changes = changes();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &describe("db", Some(db("db", "available", &[]))),
            &describe("lbf-1b4e28ba-db", None),
            &describe(
                "lbs-1b4e28ba-db",
                Some(db("lbs-1b4e28ba-db", "available", &staging_marks()))
            ),
            &changes[0],
            &changes[1],
        ]
    );
    let e = RdsRestorer::new(client)
        .swap(&unpinned, "snap")
        .await
        .unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(e.message.contains("no staging identity was pinned"), "{e}");
    assert_eq!(changed(&changes), 0);
}

/// After the renames, an instance put under the staging name is left alone: the swap
/// finishes; but a restored instance under production's name that is not the one pinned is
/// neither configured nor verified.
#[tokio::test]
async fn after_the_renames_only_the_pinned_instance_is_configured_and_verified() {
    let (_, t) = target();
    let fallback = db("lbf-1b4e28ba-db", "available", &fallback_marks());
    let restored = db("db", "available", &[(TAG_RESTORE_REQUEST, REQUEST)]);
    let intruder = with_id(db("lbs-1b4e28ba-db", "creating", &staging_marks()), INTRUDER);
    let rules = [
        describe("db", Some(restored.clone())),
        describe("lbf-1b4e28ba-db", Some(fallback.clone())),
        describe("lbs-1b4e28ba-db", Some(intruder)),
    ];
    let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
    assert_eq!(
        RdsRestorer::new(client).swap(&t, "snap").await.unwrap(),
        Progress::Done
    );

    let copied = with_id(restored, INTRUDER);
    let changes = changes();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &describe("db", Some(copied)),
            &describe("lbf-1b4e28ba-db", Some(fallback)),
            &describe("lbs-1b4e28ba-db", None),
            &changes[0],
            &changes[1],
            &changes[2],
        ]
    );
    let restorer = RdsRestorer::new(client);
    let e = restorer.swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    let e = restorer.verify(&t).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(e.to_string().contains("rds:db"), "{e}");
    assert_eq!(changed(&changes), 0);
}

/// The undo through each state a replaced staging can leave: before the first rename
/// (production never moved: done, nothing renamed), between the renames (the original renamed
/// back), and an instance neither this restore's nor the original under production's name
/// (stopped, nothing moved, named as held by another).
#[tokio::test]
async fn the_undo_puts_the_original_back_whatever_was_put_under_the_staging_name() {
    let (_, t) = target();
    let intruder = with_id(db("lbs-1b4e28ba-db", "available", &staging_marks()), INTRUDER);
    let fallback = db("lbf-1b4e28ba-db", "available", &fallback_marks());
    let undo = |production: Option<DbInstance>, fallback: Option<DbInstance>| {
        let changes = changes();
        let rules = [
            describe("db", production),
            describe("lbf-1b4e28ba-db", fallback),
            describe("lbs-1b4e28ba-db", Some(intruder.clone())),
            describe("lbr-1b4e28ba-db", None),
            changes[0].clone(),
            changes[1].clone(),
            changes[2].clone(),
            changes[3].clone(),
        ];
        let client = mock_client!(aws_sdk_rds, RuleMode::MatchAny, &rules);
        (RdsRestorer::new(client), rules)
    };

    // Before the first rename, production untouched.
    let (restorer, rules) = undo(Some(db("db", "available", &[])), None);
    assert_eq!(restorer.undo_swap(&t, "snap").await.unwrap(), Progress::Done);
    assert_eq!(changed(&rules[4..]), 0, "nothing renamed or tagged");
    assert_eq!(restorer.holder(&t).await.unwrap(), Holder::Original);

    // Between the renames: the original comes back.
    let (restorer, rules) = undo(None, Some(fallback.clone()));
    let progress = restorer.undo_swap(&t, "snap").await.unwrap();
    assert!(
        matches!(progress, Progress::Pending(ref w) if w.contains("back to rds:db")),
        "{progress:?}"
    );
    assert_eq!(rules[4].num_calls(), 1, "the one rename back");

    // Someone else's instance holds production's name while the original is aside.
    let stranger = with_id(db("db", "available", &[]), INTRUDER);
    let (restorer, rules) = undo(Some(stranger), Some(fallback.clone()));
    let e = restorer.undo_swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert!(
        e.message.contains("neither this restore's nor the original"),
        "{e}"
    );
    assert_eq!(changed(&rules[4..]), 0, "neither is moved");
    assert_eq!(restorer.holder(&t).await.unwrap(), Holder::Other);

    // One carrying the restore's marks, not the instance pinned: not moved either.
    let copied = with_id(db("db", "available", &[(TAG_RESTORE_REQUEST, REQUEST)]), INTRUDER);
    let (restorer, rules) = undo(Some(copied), Some(fallback));
    let e = restorer.undo_swap(&t, "snap").await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert_eq!(changed(&rules[4..]), 0);
}

#[tokio::test]
async fn only_the_pinned_staging_instance_is_deleted() {
    let (_, t) = target();
    let copied = with_id(db("lbs-1b4e28ba-db", "available", &staging_marks()), INTRUDER);
    let changes = changes();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [
            &describe("lbs-1b4e28ba-db", Some(copied)),
            &changes[0],
            &changes[3]
        ]
    );
    let e = RdsRestorer::new(client).delete_staging(&t).await.unwrap_err();
    assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
    assert_eq!(changed(&changes), 0, "not deleted");
    let ours = db("lbs-1b4e28ba-db", "available", &staging_marks());
    let rules = super::tests::changes();
    let client = mock_client!(
        aws_sdk_rds,
        RuleMode::MatchAny,
        [&describe("lbs-1b4e28ba-db", Some(ours)), &rules[0], &rules[3]]
    );
    assert_eq!(
        RdsRestorer::new(client).delete_staging(&t).await.unwrap(),
        Deletion::Deleted
    );
}

/// Production's original, pinned before the swap: the only instance set aside, configured
/// from, and renamed back.
mod original;
