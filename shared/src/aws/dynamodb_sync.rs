//! Bringing one DynamoDB table to another's content: a full read of both in parallel
//! segments, then deletes of what the target has and the source lacks, and puts of every
//! source item, in 25-item batches with unprocessed items retried after a backoff.
//!
//! The table being written keeps its name, streams, alarms and settings: only items change.
//! Both tables are read whole into memory, which bounds the table size one invocation can
//! sync (see the README's limits).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::port_error;
use crate::ports::{FailureKind, PortError};

pub type Item = HashMap<String, AttributeValue>;

/// Segments of a parallel scan.
pub(crate) const SEGMENTS: i32 = 4;
/// BatchWriteItem's limit.
const BATCH: usize = 25;
/// Batches in flight at once.
pub(crate) const CONCURRENCY: usize = 4;
/// Tries of one batch's unprocessed items before giving up as throttled.
pub(crate) const MAX_TRIES: u32 = 8;

/// What a sync changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncSummary {
    pub put: usize,
    pub deleted: usize,
}

/// The names of `table`'s key attributes.
pub async fn key_attributes(client: &Client, table: &str) -> Result<Vec<String>, PortError> {
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| port_error("DescribeTable", format!("dynamodb:{table}"), e))?;
    Ok(out
        .table()
        .map(|t| {
            t.key_schema()
                .iter()
                .map(|k| k.attribute_name().to_string())
                .collect()
        })
        .unwrap_or_default())
}

/// Every item of `table`, read in parallel segments.
pub async fn scan_all(client: &Client, table: &str) -> Result<Vec<Item>, PortError> {
    let segments = (0..SEGMENTS).map(|segment| scan_segment(client, table, segment));
    let parts = futures::future::try_join_all(segments).await?;
    Ok(parts.into_iter().flatten().collect())
}

async fn scan_segment(client: &Client, table: &str, segment: i32) -> Result<Vec<Item>, PortError> {
    let mut items = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .segment(segment)
            .total_segments(SEGMENTS)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| port_error("Scan", format!("dynamodb:{table}"), e))?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => return Ok(items),
        }
    }
}

/// Makes `target`'s items exactly `source`'s, writing only what differs.
pub async fn sync(client: &Client, source: &str, target: &str) -> Result<SyncSummary, PortError> {
    let keys = key_attributes(client, target).await?;
    let (wanted, present) = futures::try_join!(scan_all(client, source), scan_all(client, target))?;
    let (puts, deletes) = plan_sync(wanted, &present, &keys);
    let refused = |e: aws_sdk_dynamodb::error::BuildError| {
        PortError::new("BatchWriteItem", target, FailureKind::Refused, e.to_string())
    };
    let deletes: Vec<WriteRequest> = deletes
        .into_iter()
        .map(|key| {
            DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map(|d| WriteRequest::builder().delete_request(d).build())
        })
        .collect::<Result<_, _>>()
        .map_err(refused)?;
    let puts: Vec<WriteRequest> = puts
        .into_iter()
        .map(|item| {
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map(|p| WriteRequest::builder().put_request(p).build())
        })
        .collect::<Result<_, _>>()
        .map_err(refused)?;
    let summary = SyncSummary {
        put: puts.len(),
        deleted: deletes.len(),
    };
    write_all(client, target, deletes).await?;
    write_all(client, target, puts).await?;
    Ok(summary)
}

/// What to write to make `present` into `wanted`: the items to put (new or different) and
/// the keys to delete (present items `wanted` lacks). Equal items are left alone, so a sync
/// of a table that barely changed writes little.
fn plan_sync(wanted: Vec<Item>, present: &[Item], keys: &[String]) -> (Vec<Item>, Vec<Item>) {
    let present_by_key: HashMap<String, String> =
        present.iter().map(|i| (key_of(i, keys), item_text(i))).collect();
    let wanted_keys: HashSet<String> = wanted.iter().map(|i| key_of(i, keys)).collect();
    let deletes = present
        .iter()
        .filter(|i| !wanted_keys.contains(&key_of(i, keys)))
        .map(|i| {
            keys.iter()
                .filter_map(|k| Some((k.clone(), i.get(k)?.clone())))
                .collect()
        })
        .collect();
    let puts = wanted
        .into_iter()
        .filter(|i| present_by_key.get(&key_of(i, keys)) != Some(&item_text(i)))
        .collect();
    (puts, deletes)
}

/// Writes `requests` in 25-item batches, a few at once.
pub async fn write_all(client: &Client, table: &str, requests: Vec<WriteRequest>) -> Result<(), PortError> {
    let batches: Vec<Vec<WriteRequest>> = requests.chunks(BATCH).map(<[WriteRequest]>::to_vec).collect();
    futures::stream::iter(batches)
        .map(|batch| write_batch(client, table, batch))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// One batch, its unprocessed items retried with exponential backoff.
async fn write_batch(client: &Client, table: &str, mut batch: Vec<WriteRequest>) -> Result<(), PortError> {
    for attempt in 0..MAX_TRIES {
        let out = client
            .batch_write_item()
            .request_items(table, batch)
            .send()
            .await
            .map_err(|e| port_error("BatchWriteItem", format!("dynamodb:{table}"), e))?;
        batch = out
            .unprocessed_items()
            .and_then(|u| u.get(table))
            .cloned()
            .unwrap_or_default();
        if batch.is_empty() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
    }
    Err(PortError::new(
        "BatchWriteItem",
        format!("dynamodb:{table}"),
        FailureKind::Throttled,
        format!("{} items still unprocessed after {MAX_TRIES} tries", batch.len()),
    ))
}

/// An item's key attributes, canonically.
pub(crate) fn key_of(item: &Item, keys: &[String]) -> String {
    keys.iter()
        .map(|k| item.get(k).map(canonical).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Every item of `table`, canonically and sorted: equal for tables with equal content.
pub async fn content(client: &Client, table: &str) -> Result<Vec<String>, PortError> {
    let mut items: Vec<String> = scan_all(client, table).await?.iter().map(item_text).collect();
    items.sort();
    Ok(items)
}

/// An item as text that does not depend on attribute order.
pub(crate) fn item_text(item: &Item) -> String {
    let sorted: BTreeMap<&String, String> = item.iter().map(|(k, v)| (k, canonical(v))).collect();
    format!("{sorted:?}")
}

/// An attribute value as text that does not depend on map order.
fn canonical(value: &AttributeValue) -> String {
    match value {
        AttributeValue::M(map) => {
            let sorted: BTreeMap<&String, String> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            format!("M{sorted:?}")
        }
        AttributeValue::L(list) => format!("L{:?}", list.iter().map(canonical).collect::<Vec<_>>()),
        AttributeValue::Ss(set) => format!("SS{:?}", sorted(set)),
        AttributeValue::Ns(set) => format!("NS{:?}", sorted(set)),
        other => format!("{other:?}"),
    }
}

fn sorted(set: &[String]) -> Vec<&String> {
    let mut out: Vec<&String> = set.iter().collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(pk: &str, v: &str) -> Item {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(pk.into())),
            ("v".to_string(), AttributeValue::S(v.into())),
        ])
    }

    #[test]
    fn a_sync_writes_only_what_differs() {
        let keys = vec!["pk".to_string()];
        let wanted = vec![item("same", "1"), item("changed", "old"), item("gone", "back")];
        let present = vec![item("same", "1"), item("changed", "new"), item("extra", "x")];
        let (puts, deletes) = plan_sync(wanted, &present, &keys);
        let put_keys: Vec<&str> = puts.iter().map(|i| i["pk"].as_s().unwrap().as_str()).collect();
        assert_eq!(put_keys, ["changed", "gone"]);
        assert_eq!(
            deletes,
            vec![HashMap::from([(
                "pk".to_string(),
                AttributeValue::S("extra".into())
            )])]
        );
    }

    #[test]
    fn canonical_text_ignores_map_order() {
        let a = AttributeValue::M(HashMap::from([
            ("x".to_string(), AttributeValue::N("1".into())),
            ("y".to_string(), AttributeValue::Ss(vec!["b".into(), "a".into()])),
        ]));
        let b = AttributeValue::M(HashMap::from([
            ("y".to_string(), AttributeValue::Ss(vec!["a".into(), "b".into()])),
            ("x".to_string(), AttributeValue::N("1".into())),
        ]));
        assert_eq!(canonical(&a), canonical(&b));
        assert_ne!(canonical(&a), canonical(&AttributeValue::N("1".into())));
    }
}
