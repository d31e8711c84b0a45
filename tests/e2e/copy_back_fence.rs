//! The copy-back's fence holds for certain and an undo is verified: a shard fenced between
//! two write batches of one page writes nothing more; an undo compares production with the
//! pre-swap content and names what differs instead of saying it is back as it was; an undo
//! never copies from a fallback table it did not make, nor from one put under the
//! fallback's name after it was pinned.

use std::time::Duration;

use lifeboat::catalog::ResourceKey;
use lifeboat::execution::names::names;
use lifeboat::execution::shard::{Purpose, Side};
use lifeboat::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Progress, Restorer};
use lifeboat::ports::FailureKind;
use lifeboat_aws::dynamodb_copy_back::{CopyBack, WriteBounds};
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_e2e::{eventually, stack};
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::REQUESTS_TABLE;
use lifeboat_local::{resources, LocalStack};

use crate::dynamodb_copy_back::{
    content, fallback_pinned, put, restored_as_staging, restorer, run_all, spread, staging_pinned, tables,
    target_of, undo_after_the_wait, Pins, REQUEST,
};

/// Items of `table` in segment `segment` of `segments` of a parallel scan.
async fn in_segment(stack: &LocalStack, table: &str, segment: i32, segments: i32) -> usize {
    let out = stack
        .dynamodb()
        .scan()
        .table_name(table)
        .segment(segment)
        .total_segments(segments)
        .send()
        .await
        .unwrap();
    out.items().len()
}

fn write_calls(stack: &LocalStack) -> usize {
    (stack.edge.ledger.log().iter())
        .filter(|c| c.operation == "BatchWriteItem")
        .count()
}

/// A page of more items than one batch (one 1 MB page of a segment of 150 new items: three
/// to four batches in flight at once). One batch's fence read is held at the edge; the
/// others write; the test fences the copy-back; the held read then sees the fence, and its
/// batch writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_fenced_between_two_write_batches_of_one_page_writes_nothing_more() {
    let stack = stack().await;
    let production = ResourceKey::dynamodb("orders");
    let n = names(REQUEST, &production);
    resources::dynamodb_table(&stack, &production.name, &[])
        .await
        .unwrap();
    for i in 0..150 {
        put(&stack, &production.name, &format!("new{i:03}"), "restored").await;
    }
    restored_as_staging(&stack, &production, &n).await;
    // Production emptied since (made again, empty): every item is the copy-back's to write.
    (stack
        .dynamodb()
        .delete_table()
        .table_name(&production.name)
        .send()
        .await)
        .unwrap();
    resources::dynamodb_table(&stack, &production.name, &[])
        .await
        .unwrap();
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let pins = staging_pinned(&restorer, &production, &n).await;
    let target = target_of(&production, &n, &pins);
    restorer.swap(&target, "").await.unwrap();
    let shards = spread(restorer.swap(&target, "").await.unwrap());
    let shard = shards
        .iter()
        .find(|s| s.side == Side::Source && s.segment == 0)
        .unwrap()
        .clone();
    let items = in_segment(&stack, &n.staging, 0, shard.segments as i32).await;
    let batches = items.div_ceil(25);
    assert!(batches >= 2, "a page of {items} items is {batches} batches");

    // The shard's reads of the ledger: its checkpoint, the fence before its page, then one
    // fence read per write batch: the first of those that arrives is held for five seconds.
    stack.edge.ledger.clear();
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "GetItem")
            .target_contains(REQUESTS_TABLE)
            .skip(2)
            .times(1)
            .delay(5_000),
    );
    let client = stack.dynamodb();
    let copy_back = CopyBack {
        client: &client,
        ledger: REQUESTS_TABLE,
        request_id: REQUEST,
        page_items: None,
        bounds: WriteBounds::default(),
    };
    let run = restorer.run_shard(&target, &shard, Duration::from_secs(600));
    let fence = async {
        // The batches not held have written: now the fence.
        let s = &stack;
        eventually("the batches not held to write", || async move {
            (write_calls(s) >= batches - 1).then_some(())
        })
        .await;
        copy_back.fence(&production, Purpose::Swap).await.unwrap()
    };
    let (ran, fenced) = tokio::join!(run, fence);
    assert!(fenced.is_some());
    let stopped = ran.unwrap_err();
    assert!(stopped.message.contains("stopped"), "{stopped}");
    assert_eq!(
        write_calls(&stack),
        batches - 1,
        "the held batch read the fence and wrote nothing"
    );
    let fenced_at = (stack.edge.ledger.log().iter())
        .find(|c| c.operation == "UpdateItem")
        .map(|c| c.seq)
        .expect("the fence was written");
    assert!(
        (stack.edge.ledger.log().iter())
            .filter(|c| c.operation == "BatchWriteItem")
            .all(|c| c.seq < fenced_at),
        "nothing written after the fence"
    );
    let written = content(&stack, "orders").await.len();
    assert!(
        written < items && written >= items - 25,
        "one batch short: {written} of {items}"
    );
}

/// The swap's copy-back began (one page of one shard) and then failed: what an undo undoes.
async fn copy_back_begun(restorer: &DynamoRestorer, production: &ResourceKey) {
    let n = names(REQUEST, production);
    let pins = staging_pinned(restorer, production, &n).await;
    let target = target_of(production, &n, &pins);
    restorer.swap(&target, "").await.unwrap();
    let shards = spread(restorer.swap(&target, "").await.unwrap());
    restorer
        .run_shard(&target, &shards[0], Duration::ZERO)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_that_leaves_a_difference_names_it_instead_of_back_as_it_was() {
    let (stack, production) = (stack().await, ResourceKey::dynamodb("orders"));
    let n = tables(&stack, &production).await;
    let pins = Pins::default();
    let target = target_of(&production, &n, &pins);
    let restorer = restorer(&stack);
    let before = content(&stack, "orders").await;
    copy_back_begun(&restorer, &production).await;

    let undo = loop {
        match undo_after_the_wait(&restorer, &target).await {
            Progress::Spread(shards) => break shards,
            Progress::Pending(_) => continue,
            Progress::Done => panic!("undone without copying back"),
        }
    };
    assert!(undo.iter().all(|s| s.purpose == Purpose::Undo));
    let pins = fallback_pinned(&restorer, &production, &n, pins).await;
    let target = target_of(&production, &n, &pins);
    run_all(&restorer, &target, &undo).await;
    assert_eq!(content(&stack, "orders").await, before, "copied back");
    // Written after the undo copied it: the comparison finds it.
    put(&stack, "orders", "o1", "written after the undo copied it").await;
    let check = spread(restorer.undo_swap(&target, "").await.unwrap());
    assert!(check.iter().all(|s| s.purpose == Purpose::UndoCheck));
    run_all(&restorer, &target, &check).await;
    assert_eq!(restorer.undo_swap(&target, "").await.unwrap(), Progress::Done);
    let differences = restorer
        .undo_differences(&target)
        .await
        .unwrap()
        .expect("the difference is reported");
    assert!(
        differences.contains("1 items missing or changed and 0 others"),
        "{differences}"
    );
    assert!(
        differences.contains(r#"{"pk":"o1"}"#),
        "sample keys: {differences}"
    );
    assert!(differences.contains(&n.pre_swap), "{differences}");
    assert_eq!(
        content(&stack, "orders").await.get("o1").map(String::as_str),
        Some("written after the undo copied it"),
        "reported, never overwritten"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_refuses_a_fallback_table_it_did_not_make_and_copies_nothing_from_it() {
    let (stack, production) = (stack().await, ResourceKey::dynamodb("orders"));
    let n = tables(&stack, &production).await;
    let pins = Pins::default();
    let target = target_of(&production, &n, &pins);
    let restorer = restorer(&stack);
    copy_back_begun(&restorer, &production).await;
    let left_by_the_copy_back = content(&stack, "orders").await;
    // A table by the fallback's name, made before the undo began.
    resources::dynamodb_table(&stack, &n.fallback, &[]).await.unwrap();
    put(&stack, &n.fallback, "o1", "not the pre-swap content").await;

    let refused = lifeboat_e2e::eventually("the undo to meet the fallback", || async {
        match restorer.undo_swap(&target, "").await {
            Ok(Progress::Pending(_)) => None,
            Ok(other) => panic!("the undo went on with a table it did not make: {other:?}"),
            Err(e) => Some(e),
        }
    })
    .await;
    assert_eq!(refused.kind, FailureKind::NotOurs, "{refused}");
    assert!(refused.to_string().contains(&n.fallback), "{refused}");
    assert_eq!(
        content(&stack, &n.fallback).await.len(),
        1,
        "the look-alike as it was"
    );
    assert_eq!(
        content(&stack, "orders").await,
        left_by_the_copy_back,
        "nothing copied from it"
    );
}

/// The fallback replaced after the failure path pinned it (its marks copied): no undo shard
/// copies from it, nothing is written, and the undo stops naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_whose_fallback_is_replaced_after_it_was_pinned_copies_nothing_from_it() {
    let (stack, production) = (stack().await, ResourceKey::dynamodb("orders"));
    let n = tables(&stack, &production).await;
    let restorer = restorer(&stack);
    copy_back_begun(&restorer, &production).await;
    let left_by_the_copy_back = content(&stack, "orders").await;
    let pins = Pins::default();
    let target = target_of(&production, &n, &pins);
    let undo = loop {
        match undo_after_the_wait(&restorer, &target).await {
            Progress::Spread(shards) => break shards,
            Progress::Pending(_) => continue,
            Progress::Done => panic!("undone without copying back"),
        }
    };
    let pins = fallback_pinned(&restorer, &production, &n, pins).await;
    let target = target_of(&production, &n, &pins);

    let marks = [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "fallback")];
    stack
        .dynamodb()
        .delete_table()
        .table_name(&n.fallback)
        .send()
        .await
        .unwrap();
    resources::dynamodb_table(&stack, &n.fallback, &marks)
        .await
        .unwrap();
    put(&stack, &n.fallback, "o1", "someone else's").await;
    stack.edge.ledger.clear();
    for shard in &undo {
        let refused = restorer
            .run_shard(&target, shard, Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(refused.kind, FailureKind::NotOurs, "{refused}");
        assert!(
            refused.to_string().contains(&n.fallback) && refused.message.contains("replaced under the name"),
            "{refused}"
        );
    }
    let stopped = restorer.undo_swap(&target, "").await.unwrap_err();
    assert_eq!(stopped.kind, FailureKind::NotOurs, "{stopped}");
    assert_eq!(write_calls(&stack), 0, "nothing written");
    assert_eq!(content(&stack, "orders").await, left_by_the_copy_back);
    assert_eq!(content(&stack, &n.fallback).await.len(), 1, "left as it is");
}
