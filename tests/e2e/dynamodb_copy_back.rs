//! The DynamoDB rollback's copy-back against moto, with the real SDK, shard by shard as the
//! state machine's Map runs it: checkpoints that resume after every page, writes of only
//! what differs, a verification that reports later writes and leaves them, and an undo that
//! only happens when a copy-back began, and only once the pre-swap backup is available.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::identity::{Identity, Made};
use lifeboat::execution::names::{names, RestoreNames};
use lifeboat::execution::shard::{Purpose, Shard};
use lifeboat::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Origin, Progress, RestoreFrom, Restorer, Target, Verification};
use lifeboat_aws::dynamodb_copy_back::{CopyBack, Tally, WriteBounds};
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_e2e::stack;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::REQUESTS_TABLE;
use lifeboat_local::resources;
use lifeboat_local::LocalStack;

use crate::dynamodb_ownership::tag;

pub(crate) const REQUEST: &str = "rr-c0b1e5a7-0000-4000-8000-000000000001";

/// The instant staging is restored to: a point in time of production.
const RECOVERY_POINT: &str = "2026-12-01T00:00:00Z";

/// What staging is restored from, as the run records it (asked for after the recovery point).
pub(crate) fn origin() -> Origin {
    let at = RECOVERY_POINT.parse().unwrap();
    Origin {
        from: RestoreFrom::PointInTime(at),
        asked_after: at,
    }
}

/// Production `orders` and its staging copy: `o1`..`o10` in both, `o6`..`o10` changed in
/// production since, `new` only in staging, `extra` only in production; the restore's names.
/// Staging is restored from production (to [`RECOVERY_POINT`]) and marked, as a restore makes
/// it: only then can it be pinned.
pub(crate) async fn tables(stack: &LocalStack, production: &ResourceKey) -> RestoreNames {
    let n = names(REQUEST, production);
    resources::dynamodb_table(stack, &production.name, &[])
        .await
        .unwrap();
    for i in 1..=10 {
        put(stack, &production.name, &format!("o{i}"), "at the recovery point").await;
    }
    put(stack, &production.name, "new", "at the recovery point").await;
    restored_as_staging(stack, production, &n).await;
    for i in 6..=10 {
        put(stack, &production.name, &format!("o{i}"), "changed since").await;
    }
    stack
        .dynamodb()
        .delete_item()
        .table_name(&production.name)
        .key("pk", AttributeValue::S("new".into()))
        .send()
        .await
        .unwrap();
    put(stack, &production.name, "extra", "written since").await;
    n
}

/// Staging restored from production as it is now (to [`RECOVERY_POINT`], as [`origin`] says)
/// and marked, as a restore makes it.
pub(crate) async fn restored_as_staging(stack: &LocalStack, production: &ResourceKey, n: &RestoreNames) {
    let Origin {
        from: RestoreFrom::PointInTime(at),
        ..
    } = origin()
    else {
        unreachable!("a point in time")
    };
    stack
        .dynamodb()
        .restore_table_to_point_in_time()
        .source_table_name(&production.name)
        .target_table_name(&n.staging)
        .restore_date_time(aws_sdk_dynamodb::primitives::DateTime::from_secs(at.timestamp()))
        .send()
        .await
        .unwrap();
    tag(stack, &n.staging, &staging_marks()).await;
}

/// Staging's marks, as the restore puts them on the table it made.
pub(crate) fn staging_marks() -> [(&'static str, &'static str); 2] {
    [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "staging")]
}

/// The identities the executor pins: staging's at `check_ready`, the fallback's once the
/// undo hands out its shards.
#[derive(Debug, Default)]
pub(crate) struct Pins {
    pub staging: Option<Identity>,
    pub fallback: Option<Identity>,
}

pub(crate) fn target_of<'a>(production: &'a ResourceKey, n: &'a RestoreNames, pins: &'a Pins) -> Target<'a> {
    Target {
        request_id: REQUEST,
        production,
        staging: &n.staging,
        fallback: &n.fallback,
        origin: Some(origin()),
        staging_identity: pins.staging.as_ref(),
        fallback_identity: pins.fallback.as_ref(),
    }
}

/// Staging pinned as `check_ready` pins it.
pub(crate) async fn staging_pinned(
    restorer: &DynamoRestorer,
    production: &ResourceKey,
    n: &RestoreNames,
) -> Pins {
    let unpinned = Pins::default();
    let target = target_of(production, n, &unpinned);
    Pins {
        staging: Some(restorer.identity(&target, Made::Staging).await.unwrap()),
        fallback: None,
    }
}

/// `pins` with the fallback pinned, as the failure path pins it when the undo hands out its
/// shards.
pub(crate) async fn fallback_pinned(
    restorer: &DynamoRestorer,
    production: &ResourceKey,
    n: &RestoreNames,
    pins: Pins,
) -> Pins {
    let fallback = restorer
        .identity(&target_of(production, n, &pins), Made::Fallback)
        .await
        .unwrap();
    Pins {
        fallback: Some(fallback),
        ..pins
    }
}

pub(crate) async fn put(stack: &LocalStack, table: &str, pk: &str, v: &str) {
    stack
        .dynamodb()
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(pk.into()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

/// A table as `pk → v`.
pub(crate) async fn content(stack: &LocalStack, table: &str) -> BTreeMap<String, String> {
    let out = stack.dynamodb().scan().table_name(table).send().await.unwrap();
    out.items()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_s().unwrap().clone();
            (s("pk"), s("v"))
        })
        .collect()
}

/// Pages of two items, so every shard takes several runs; write batches bounded to two
/// seconds (moto answers in milliseconds), so an undo waits three.
pub(crate) fn restorer(stack: &LocalStack) -> DynamoRestorer {
    let settings = CopyBackSettings {
        page_items: Some(2),
        bounds: WriteBounds::of_batch(Duration::from_secs(2)),
        ..CopyBackSettings::default()
    };
    DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, settings)
}

/// The undo's next step once it has waited out the fenced swap's writes in flight (polled
/// as the state machine polls the abort step).
pub(crate) async fn undo_after_the_wait(restorer: &DynamoRestorer, target: &Target<'_>) -> Progress {
    lifeboat_e2e::eventually("the undo's wait for the fenced shards", || async {
        match restorer.undo_swap(target, "").await.unwrap() {
            Progress::Pending(why) if why.contains("waiting until") => None,
            other => Some(other),
        }
    })
    .await
}

/// Runs every shard to its end, one page per run (a zero budget), as the Map would after
/// as many timeouts; how many runs it took.
pub(crate) async fn run_all(restorer: &DynamoRestorer, target: &Target<'_>, shards: &[Shard]) -> usize {
    let mut runs = 0;
    for shard in shards {
        loop {
            runs += 1;
            let progress = restorer.run_shard(target, shard, Duration::ZERO).await.unwrap();
            if progress == Progress::Done {
                break;
            }
            assert!(runs < 200, "shard {} never ends", shard.label());
        }
    }
    runs
}

pub(crate) fn spread(progress: Progress) -> Vec<Shard> {
    match progress {
        Progress::Spread(shards) => shards,
        other => panic!("expected shards, got {other:?}"),
    }
}

fn tally(stack: &LocalStack, shards: &[Shard]) -> impl std::future::Future<Output = Tally> {
    let client = stack.dynamodb();
    let shards = shards.to_vec();
    async move {
        let copy_back = CopyBack {
            client: &client,
            ledger: REQUESTS_TABLE,
            request_id: REQUEST,
            page_items: None,
            bounds: WriteBounds::default(),
        };
        let checkpoints = copy_back.checkpoints(&shards).await.unwrap();
        Tally::of(&shards, &checkpoints)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_back_runs_shard_by_shard_from_its_checkpoints_and_a_later_write_is_reported_not_undone() {
    let (stack, production) = (stack().await, ResourceKey::dynamodb("orders"));
    let n = tables(&stack, &production).await;
    let restorer = restorer(&stack);
    let pins = staging_pinned(&restorer, &production, &n).await;
    let target = target_of(&production, &n, &pins);

    // The pre-swap backup first; only once it is available does the copy-back start.
    let first = restorer.swap(&target, "").await.unwrap();
    assert!(
        matches!(first, Progress::Pending(ref why) if why.contains(&n.pre_swap)),
        "{first:?}"
    );
    let shards = spread(restorer.swap(&target, "").await.unwrap());
    assert_eq!(shards.len(), 4, "two segments of each side: {shards:?}");
    let runs = run_all(&restorer, &target, &shards).await;
    assert!(
        runs > shards.len(),
        "a shard resumes after every page: {runs} runs"
    );
    assert_eq!(restorer.swap(&target, "").await.unwrap(), Progress::Done);
    assert_eq!(content(&stack, "orders").await, content(&stack, &n.staging).await);
    let done = tally(&stack, &shards).await;
    assert_eq!(done.scanned_source, 11);
    assert_eq!(
        done.written, 7,
        "5 changed and 1 new put, 1 extra deleted: only what differs"
    );

    // A shard run again after its end writes nothing.
    stack.edge.ledger.clear();
    assert_eq!(
        restorer
            .run_shard(&target, &shards[0], Duration::ZERO)
            .await
            .unwrap(),
        Progress::Done
    );
    assert!(!stack
        .edge
        .ledger
        .log()
        .iter()
        .any(|c| c.operation == "BatchWriteItem"));

    // A write that lands after the copy-back finished: reported, and left where it is.
    put(&stack, "orders", "late", "written after the copy-back").await;
    let compare = match restorer.verify(&target).await.unwrap() {
        Verification::Spread(shards) => shards,
        other => panic!("expected comparison shards, got {other:?}"),
    };
    assert!(compare.iter().all(|s| s.purpose == Purpose::Verify));
    stack.edge.ledger.clear();
    run_all(&restorer, &target, &compare).await;
    assert!(
        !stack
            .edge
            .ledger
            .log()
            .iter()
            .any(|c| c.operation == "BatchWriteItem"),
        "verification writes nothing"
    );
    let verdict = restorer.verify(&target).await.unwrap();
    match &verdict {
        Verification::PassedWithDifferences(detail) => {
            assert!(detail.contains("0 missing or changed and 1 others"), "{detail}");
            assert!(detail.contains(r#"{"pk":"late"}"#), "sample keys: {detail}");
        }
        other => panic!("expected differences, got {other:?}"),
    }
    assert_eq!(
        content(&stack, "orders").await.get("late").map(String::as_str),
        Some("written after the copy-back"),
        "the later write is kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_does_nothing_before_the_copy_back_began_and_waits_for_the_pre_swap_backup() {
    let (stack, production) = (stack().await, ResourceKey::dynamodb("orders"));
    let n = tables(&stack, &production).await;
    let restorer = restorer(&stack);
    let pins = staging_pinned(&restorer, &production, &n).await;
    let target = target_of(&production, &n, &pins);
    let before = content(&stack, "orders").await;

    // The backup is asked for, the copy-back has not begun: nothing to undo, and production's
    // writes since the backup stay.
    restorer.swap(&target, "").await.unwrap();
    put(&stack, "orders", "meanwhile", "a write after the backup").await;
    assert_eq!(restorer.undo_swap(&target, "").await.unwrap(), Progress::Done);
    let mut expected = before.clone();
    expected.insert("meanwhile".into(), "a write after the backup".into());
    assert_eq!(content(&stack, "orders").await, expected);
    let tables = stack.dynamodb().list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().contains(&n.fallback),
        "no fallback restored"
    );

    // The copy-back begins (one page of one shard), then fails: its shards are fenced, the
    // live table as it was left is backed up and kept, then undone from the pre-swap backup,
    // but only once that backup reads as available.
    let shards = spread(restorer.swap(&target, "").await.unwrap());
    restorer
        .run_shard(&target, &shards[0], Duration::ZERO)
        .await
        .unwrap();
    let left_by_the_copy_back = content(&stack, "orders").await;
    assert_ne!(left_by_the_copy_back, expected, "the copy-back wrote");
    assert!(!restorer.swap_finished(&target).await.unwrap());
    let fencing = restorer.undo_swap(&target, "").await.unwrap();
    assert!(
        matches!(fencing, Progress::Pending(ref why) if why.contains("waiting until")),
        "the undo waits out the bound on the swap's writes in flight: {fencing:?}"
    );
    let first = undo_after_the_wait(&restorer, &target).await;
    assert!(
        matches!(first, Progress::Pending(ref why) if why.contains(&n.retired)),
        "{first:?}"
    );
    let fenced = restorer
        .run_shard(&target, &shards[1], Duration::ZERO)
        .await
        .unwrap_err();
    assert!(
        fenced.message.contains("stopped"),
        "a fenced shard writes nothing more: {fenced}"
    );
    // The pre-swap backup reads as CREATING once (the kept backup's lookup comes first; both
    // by the ARNs the restore recorded).
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "DescribeBackup")
            .skip(1)
            .times(1)
            .report_creating(),
    );
    let waiting = restorer.undo_swap(&target, "").await.unwrap();
    assert!(
        matches!(waiting, Progress::Pending(ref why) if why.contains("CREATING")),
        "{waiting:?}"
    );
    let undo = loop {
        match restorer.undo_swap(&target, "").await.unwrap() {
            Progress::Spread(shards) => break shards,
            Progress::Pending(_) => continue,
            Progress::Done => panic!("undone without copying back"),
        }
    };
    assert!(undo.iter().all(|s| s.purpose == Purpose::Undo));
    let pins = fallback_pinned(&restorer, &production, &n, pins).await;
    let target = target_of(&production, &n, &pins);
    run_all(&restorer, &target, &undo).await;
    // Then compared with the pre-swap content, as a swap is verified.
    let check = spread(restorer.undo_swap(&target, "").await.unwrap());
    assert!(check.iter().all(|s| s.purpose == Purpose::UndoCheck));
    run_all(&restorer, &target, &check).await;
    assert_eq!(restorer.undo_swap(&target, "").await.unwrap(), Progress::Done);
    assert_eq!(
        content(&stack, "orders").await,
        before,
        "as the pre-swap backup holds it"
    );
    assert_eq!(
        restorer.undo_differences(&target).await.unwrap(),
        None,
        "compared, and back as it was"
    );
    let tables = stack.dynamodb().list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().contains(&n.fallback),
        "the fallback table is deleted"
    );
    let kept = restorer
        .kept_aside(&target)
        .await
        .unwrap()
        .expect("a kept backup");
    assert!(kept.contains(&n.retired), "{kept}");
    assert!(lifeboat_e2e::dynamodb_backups(&stack).await.contains(&n.retired));
}

/// Two tables' copy-backs: one finishes, the other fails. The finished one is recognised as
/// swapped (the abort keeps it) even though no swap step recorded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_back_whose_every_shard_is_done_counts_as_finished() {
    let (stack, production) = (stack().await, ResourceKey::dynamodb("orders"));
    let n = tables(&stack, &production).await;
    let restorer = restorer(&stack);
    let pins = staging_pinned(&restorer, &production, &n).await;
    let target = target_of(&production, &n, &pins);
    restorer.swap(&target, "").await.unwrap();
    let shards = spread(restorer.swap(&target, "").await.unwrap());
    run_all(&restorer, &target, &shards[..shards.len() - 1]).await;
    assert!(!restorer.swap_finished(&target).await.unwrap());
    run_all(&restorer, &target, &shards[shards.len() - 1..]).await;
    assert!(restorer.swap_finished(&target).await.unwrap());
}
