//! Planning: of a batch of extracted items, how many a merge would insert and how many the
//! live table holds now (and which of those changed since the recovery point), writing nothing.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::key_schema::{key_schema_counted, KeySchema};
use super::select::Read;
use super::selection::MAX_PROBLEMS;
use super::{resource, Calls, Ctx, ItemPlan};
use crate::dynamodb_items::{item_text, key_of, Backoff, Item, CONCURRENCY, GET_BATCH};
use lifeboat::ports::{FailureKind, PortError};

/// Of `items`, how many the live table lacks and how many it holds now (strongly
/// consistent `BatchGetItem`s of 100 keys, `UnprocessedKeys` retried); of the latter, which
/// differ from the extract.
pub async fn plan_items(client: &Client, live_table: &str, items: &[Item]) -> Result<ItemPlan, PortError> {
    plan_with(client, live_table, items, &Backoff::default()).await
}

pub(super) async fn plan_with(
    client: &Client,
    live: &str,
    items: &[Item],
    tuning: &Backoff,
) -> Result<ItemPlan, PortError> {
    let calls = Calls::default();
    let schema = key_schema_counted(client, live, &calls).await?;
    check_item_keys(items, &schema, "PlanItems", live)?;
    let names = schema.names();
    let mut seen = HashSet::new();
    let keys: Vec<Item> = items
        .iter()
        .filter(|i| seen.insert(key_of(i, &names)))
        .map(|i| schema.key(i))
        .collect();
    let ctx = Ctx {
        client,
        calls: &calls,
        tuning,
    };
    let batches: Vec<Vec<Item>> = keys.chunks(GET_BATCH).map(<[Item]>::to_vec).collect();
    // Whole items (not only keys): a present item that differs is a conflict to report.
    let found: Vec<Vec<Item>> = stream::iter(batches)
        .map(|keys| ctx.batch_get(live, keys, Read::LiveItems))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let live_items: HashMap<String, String> = found
        .iter()
        .flatten()
        .map(|i| (key_of(i, &names), item_text(i)))
        .collect();
    let mut plan = ItemPlan::default();
    for item in items {
        match live_items.get(&key_of(item, &names)) {
            None => plan.to_insert += 1,
            Some(text) => {
                plan.present += 1;
                if *text != item_text(item) {
                    plan.conflicts.push(schema.key_json(item));
                }
            }
        }
    }
    plan.calls = calls.get();
    tracing::info!(
        live,
        to_insert = plan.to_insert,
        present = plan.present,
        conflicts = plan.conflicts.len(),
        calls = plan.calls,
        "merge planned"
    );
    Ok(plan)
}

/// Every item must hold the key attributes, with the key's types.
pub(super) fn check_item_keys(
    items: &[Item],
    schema: &KeySchema,
    operation: &'static str,
    table: &str,
) -> Result<(), PortError> {
    let mut problems = Vec::new();
    for (i, item) in items.iter().enumerate() {
        for attribute in schema.attributes() {
            match item.get(&attribute.name) {
                Some(v) if attribute.kind.holds(v) => {}
                Some(_) => problems.push(format!(
                    "item {i}: {} must be {}",
                    attribute.name,
                    attribute.kind.expected()
                )),
                None => problems.push(format!("item {i} lacks the key attribute {}", attribute.name)),
            }
            if problems.len() >= MAX_PROBLEMS {
                break;
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(PortError::new(
            operation,
            resource(table),
            FailureKind::Refused,
            problems.join("; "),
        ))
    }
}
