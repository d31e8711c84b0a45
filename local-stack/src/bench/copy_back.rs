//! The DynamoDB rollback's copy-back on the local stack: a staging table of `items` items
//! brought onto a live table that differs in a tenth of them and holds a tenth more, shard by
//! shard as the state machine's Map runs it (here one shard after another), then compared
//! again as verification does. Prints items per second of each pass and the calls each made
//! per item (counted by the edge). Moto answers from memory, so the rates are moto's; what
//! carries over to DynamoDB is the calls per item and how the work divides into shards.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Tag};
use chrono::{DateTime, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::identity::Made;
use lifeboat::execution::names::names;
use lifeboat::execution::shard::Shard;
use lifeboat::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::restorer::{Origin, Progress, RestoreFrom, Restorer, Target, Verification};
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};

use crate::names::REQUESTS_TABLE;
use crate::stack::{LocalStack, StackConfig};
use crate::{resources, StackError};

const REQUEST: &str = "rr-bench000-0000-4000-8000-000000000000";
/// The instant staging is restored to, before the run (the local clock is later).
const RECOVERY_POINT: &str = "2026-12-01T00:00:00Z";

fn setup(what: &str, e: impl std::fmt::Display) -> StackError {
    StackError::Setup(format!("copy-back bench: {what}: {e}"))
}

/// The copy-back and its verification of `items` items.
pub async fn copy_back(items: usize) -> Result<String, StackError> {
    let stack = LocalStack::start(StackConfig::from_env()).await?;
    let production = ResourceKey::dynamodb("bench-orders");
    let n = names(REQUEST, &production);
    resources::dynamodb_table(&stack, &production.name, &[]).await?;
    let item = |i: usize, v: &str| {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(format!("order#{i:07}"))),
            ("v".to_string(), AttributeValue::S(format!("{v} {i}"))),
            ("note".to_string(), AttributeValue::S("x".repeat(200))),
        ])
    };
    super::fill_table(
        &stack,
        &production.name,
        (0..items).map(|i| item(i, "as restored")),
    )
    .await?;
    // Staging as a restore makes it and check_ready leaves it: restored from production (to
    // `at`, as the origin says), marked as the restore's, its identity pinned.
    let at: DateTime<Utc> = RECOVERY_POINT.parse().expect("a time");
    (stack.dynamodb().restore_table_to_point_in_time())
        .source_table_name(&production.name)
        .target_table_name(&n.staging)
        .restore_date_time(aws_sdk_dynamodb::primitives::DateTime::from_secs(at.timestamp()))
        .send()
        .await
        .map_err(|e| setup("RestoreTableToPointInTime", e))?;
    let marks = [(TAG_RESTORE_REQUEST, REQUEST), (TAG_RESTORE_ROLE, "staging")];
    let arn = (stack
        .dynamodb()
        .describe_table()
        .table_name(&n.staging)
        .send()
        .await)
        .map_err(|e| setup("DescribeTable", e))?
        .table()
        .and_then(|t| t.table_arn().map(str::to_string))
        .ok_or_else(|| setup("DescribeTable", "no ARN"))?;
    let tags = marks
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build());
    let tags = tags.collect::<Result<Vec<_>, _>>().map_err(|e| setup("Tag", e))?;
    (stack
        .dynamodb()
        .tag_resource()
        .resource_arn(arn)
        .set_tags(Some(tags))
        .send()
        .await)
        .map_err(|e| setup("TagResource", e))?;
    let live = (0..items + items / 10).map(|i| item(i, if i % 10 == 0 { "changed" } else { "as restored" }));
    super::fill_table(&stack, &production.name, live).await?;

    // The swap and verification only: no undo waits.
    let restorer = DynamoRestorer::new(stack.dynamodb(), REQUESTS_TABLE, CopyBackSettings::default());
    let target = Target {
        request_id: REQUEST,
        production: &production,
        staging: &n.staging,
        fallback: &n.fallback,
        origin: Some(Origin {
            from: RestoreFrom::PointInTime(at),
            asked_after: at,
        }),
        staging_identity: None,
        fallback_identity: None,
    };
    let pinned = (restorer.identity(&target, Made::Staging).await).map_err(|e| setup("identity", e))?;
    let target = Target {
        staging_identity: Some(&pinned),
        ..target
    };
    // The pre-swap backup, then the shards.
    let shards = loop {
        match restorer.swap(&target, "").await.map_err(|e| setup("swap", e))? {
            Progress::Spread(shards) => break shards,
            Progress::Pending(_) => continue,
            Progress::Done => return Err(setup("swap", "done before any shard ran")),
        }
    };
    stack.edge.ledger.clear();
    let (copy, copy_runs) = run_all(&restorer, &target, &shards).await?;
    let copy_calls = stack.edge.ledger.log().len();
    let compare = match restorer.verify(&target).await.map_err(|e| setup("verify", e))? {
        Verification::Spread(shards) => shards,
        other => return Err(setup("verify", format!("no comparison shards: {other:?}"))),
    };
    stack.edge.ledger.clear();
    let (verify, _) = run_all(&restorer, &target, &compare).await?;
    let verify_calls = stack.edge.ledger.log().len();
    let verdict = restorer.verify(&target).await.map_err(|e| setup("verify", e))?;
    if !matches!(verdict, Verification::Passed(_)) {
        return Err(setup("verify", format!("{verdict:?}")));
    }
    let rate = |d: Duration| items as f64 / d.as_secs_f64();
    let per_item = |calls: usize| calls as f64 / items as f64;
    Ok(format!(
        "DynamoDB copy-back on the local stack, {items} items of ~250 bytes (a tenth changed, a tenth more in production), {} shards ({} runs, budget per run of 600 s):\n  copy-back {:.0} items/s, {:.3} calls per item ({copy_calls} calls)\n  verification {:.0} items/s, {:.3} calls per item ({verify_calls} calls), writes nothing\n",
        shards.len(),
        copy_runs,
        rate(copy),
        per_item(copy_calls),
        rate(verify),
        per_item(verify_calls),
    ))
}

/// Runs every shard to its end, one after another; how long it took and how many runs.
async fn run_all(
    restorer: &DynamoRestorer,
    target: &Target<'_>,
    shards: &[Shard],
) -> Result<(Duration, usize), StackError> {
    let started = Instant::now();
    let mut runs = 0;
    for shard in shards {
        loop {
            runs += 1;
            let progress = restorer
                .run_shard(target, shard, Duration::from_secs(600))
                .await
                .map_err(|e| setup("run_shard", e))?;
            if progress == Progress::Done {
                break;
            }
        }
    }
    Ok((started.elapsed(), runs))
}
