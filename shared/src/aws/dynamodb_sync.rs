//! Bringing one DynamoDB table to another's content: a full read of both in parallel
//! segments, then deletes of what the target has and the source lacks, and puts of every
//! source item, in 25-item batches with unprocessed items retried after a backoff.
//!
//! The table being written keeps its name, streams, alarms and settings: only items change.
//! Both tables are read whole into memory, which bounds the table size one invocation can
//! sync (see the README's limits).

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{DeleteRequest, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::dynamodb_items::{
    item_text, key_of, write_items, Backoff, Item, CONCURRENCY, SEGMENTS, WRITE_BATCH,
};
use super::port_error;
use crate::ports::{FailureKind, PortError};

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
    let backoff = Backoff::default();
    let batches: Vec<Vec<WriteRequest>> = requests
        .chunks(WRITE_BATCH)
        .map(<[WriteRequest]>::to_vec)
        .collect();
    futures::stream::iter(batches)
        .map(|batch| write_items(client, table, batch, &backoff))
        .buffer_unordered(CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Every item of `table`, canonically and sorted: equal for tables with equal content.
pub async fn content(client: &Client, table: &str) -> Result<Vec<String>, PortError> {
    let mut items: Vec<String> = scan_all(client, table).await?.iter().map(item_text).collect();
    items.sort();
    Ok(items)
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

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
}
