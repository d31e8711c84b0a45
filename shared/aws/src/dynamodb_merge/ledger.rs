//! What each transaction of a DynamoDB merge did, written in that same transaction to
//! Lifeboat's requests table, so that a batch merged again (its step retried after a crash
//! or a timeout) reports its first result instead of counting its own items as present.
//!
//! PostgreSQL keeps such a ledger in production (`lifeboat.merged_batches`); a DynamoDB
//! table has no room for one, but `TransactWriteItems` spans tables of one account: each
//! transaction of puts carries one more put, of `merged#<batch>#<transaction>`, conditional
//! on its absence. The puts and the entry commit together or not at all, so a transaction
//! whose entry exists is known done, with the counts the entry holds. An entry also holds
//! the SHA-256 of its transaction's keys: one found for other keys (the batch cut into
//! transactions differently, by another release) is refused rather than trusted. Entries
//! expire (the table's TTL) after [`ENTRY_TTL`]: the report keeps the result for good.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::port_error;
use lifeboat::ports::{FailureKind, PortError};

/// How long an entry outlives its merge: far longer than any retry of the step.
pub const ENTRY_TTL: TimeDelta = TimeDelta::days(30);

const PREFIX: &str = "merged#";

/// Where one batch's transactions are recorded.
#[derive(Debug, Clone)]
pub struct MergeLedger {
    /// The requests table (keyed by `id`, with TTL on `expires_at`).
    pub table: String,
    /// Names the batch: request, resource, table and batch index.
    pub batch: String,
    pub expires_at: DateTime<Utc>,
}

/// What one committed transaction did.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub inserted: usize,
    /// The keys found present before it committed.
    pub present: Vec<Value>,
}

/// The SHA-256 (hex) of a transaction's keys, in order: which items an entry is about.
pub fn keys_sha256<'a>(keys: impl IntoIterator<Item = &'a Value>) -> String {
    let mut hash = Sha256::new();
    for key in keys {
        hash.update(key.to_string().as_bytes());
        hash.update(b"\n");
    }
    hex::encode(hash.finalize())
}

impl MergeLedger {
    pub fn new(table: &str, batch: String, now: DateTime<Utc>) -> Self {
        MergeLedger {
            table: table.to_string(),
            batch,
            expires_at: now + ENTRY_TTL,
        }
    }

    fn id(&self, transaction: usize) -> String {
        format!("{PREFIX}{}#{transaction}", self.batch)
    }

    /// The put recording that transaction number `transaction` of the batch, of the keys
    /// whose [`keys_sha256`] is `keys`, commits `entry`; it fails its condition when an
    /// earlier try committed it.
    pub fn put(&self, transaction: usize, keys: &str, entry: &Entry) -> Result<TransactWriteItem, PortError> {
        let id = self.id(transaction);
        let present = serde_json::to_string(&entry.present).unwrap_or_else(|_| "[]".into());
        let put = Put::builder()
            .table_name(&self.table)
            .item("id", AttributeValue::S(id.clone()))
            .item("inserted", AttributeValue::N(entry.inserted.to_string()))
            .item("present", AttributeValue::S(present))
            .item("keys_sha256", AttributeValue::S(keys.to_string()))
            .item(
                "expires_at",
                AttributeValue::N(self.expires_at.timestamp().to_string()),
            )
            .condition_expression("attribute_not_exists(id)")
            .build()
            .map_err(|e| PortError::new("TransactWriteItems", id, FailureKind::Refused, e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// What an earlier try of transaction `transaction`, of the keys whose [`keys_sha256`]
    /// is `keys`, committed (strongly consistent).
    pub async fn read(&self, client: &Client, transaction: usize, keys: &str) -> Result<Entry, PortError> {
        let id = self.id(transaction);
        let out = client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(id.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("GetItem", &id, e))?;
        let unreadable = |why: &str| {
            PortError::new(
                "GetItem",
                &id,
                FailureKind::Refused,
                format!("the merge ledger's entry {why}: cannot tell what the earlier try inserted"),
            )
        };
        let item = out.item().ok_or_else(|| unreadable("is gone"))?;
        if item.get("keys_sha256") != Some(&AttributeValue::S(keys.to_string())) {
            return Err(unreadable(
                "is about other items (the batch was cut into transactions differently)",
            ));
        }
        let inserted = match item.get("inserted") {
            Some(AttributeValue::N(n)) => n.parse().ok(),
            _ => None,
        };
        let present = match item.get("present") {
            Some(AttributeValue::S(s)) => serde_json::from_str(s).ok(),
            _ => None,
        };
        match (inserted, present) {
            (Some(inserted), Some(present)) => Ok(Entry { inserted, present }),
            _ => Err(unreadable("is malformed")),
        }
    }
}
