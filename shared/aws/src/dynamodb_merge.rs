//! The DynamoDB half of a selective restore: taking chosen items from a staging table (the
//! live table restored to the recovery point) and merging them into the live table without
//! ever overwriting an item that exists there now.
//!
//! The restore executor drives it in three steps, keeping the extract in S3 between them:
//!
//! 1. [`select_items`] reads the key schema of the staging table (`DescribeTable`), checks the
//!    [`ItemSelection`] against it, and hands the selected items over in pages of at most
//!    `page` items to an async callback (which stores them), never holding the whole table:
//!    - [`ItemSelection::Keys`]: full keys through `BatchGetItem` (up to 100 keys a call,
//!      `UnprocessedKeys` retried); a key object holding only the partition key selects the
//!      whole item collection through `Query`;
//!    - [`ItemSelection::Filter`]: a parallel `Scan` with a `FilterExpression` of equalities,
//!      names and values always as `ExpressionAttributeNames`/`Values` placeholders;
//!    - [`ItemSelection::Missing`]: a parallel `Scan` of staging, each page checked against the
//!      live table with `BatchGetItem` of the key attributes only (strongly consistent).
//! 2. [`plan_items`] tells, for a batch of extracted items, how many would be inserted and how
//!    many are present in the live table (and which of those differ from the extract: changed
//!    after the recovery point).
//! 3. [`merge_items`] writes the items with `TransactWriteItems` of up to 25 `Put`s, each with
//!    `ConditionExpression attribute_not_exists(<partition key>)`. A transaction cancelled
//!    because some conditions failed counts those items as present and retries the rest;
//!    capacity errors and conflicting transactions are retried after a jittered exponential
//!    backoff, a bounded number of times, then fail with a retryable [`PortError`].
//!
//! [`encode_items`] and [`decode_items`] are the extract's encoding: JSON lines, one item per
//! line in DynamoDB JSON (`{"attr":{"S":"…"}}`, every type), a lossless round trip.
//!
//! Every function counts its DynamoDB calls (`DescribeTable` included), so that a benchmark
//! can report calls per restored item. A call is one SDK `send`: the SDK's own retries of a
//! call (it retries throttling and 5xx answers a few times) are not counted apart.
//!
//! Differences from the first sketch of this contract: the page callback is async (it stores
//! pages in S3), [`encode_items`] fails on an attribute type this SDK cannot name rather than
//! lose it, [`ItemPlan`] also names the present items that differ from the extract, and a
//! key may also be given as the bare partition key value (as `Records::Keys` allows).
//!
//! A merge given a [`MergeLedger`] records each transaction's counts in the same transaction,
//! so that merging the same batch again reports what the first try did. Without one, a
//! retried merge counts the items an earlier, interrupted try inserted as present.
//!
//! Limits: key numbers given as JSON numbers go through a double (give longer numbers as
//! strings).

mod encoding;
mod key_schema;
mod ledger;
mod merge;
mod plan;
mod select;
mod selection;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value};

use crate::dynamodb_items::Backoff;
use lifeboat::request::decision::Records;

pub use encoding::{decode_items, encode_items};
pub use key_schema::{key_schema, KeyAttribute, KeyKind, KeySchema};
pub use ledger::{keys_sha256, Entry, MergeLedger};
pub use merge::merge_items;
pub use plan::plan_items;
pub use select::select_items;

/// What to take from the staging table (a restored copy of the live table at the recovery
/// point).
#[derive(Debug, Clone, PartialEq)]
pub enum ItemSelection {
    /// Items by key. Each key is a JSON object of key attributes (S as a string, N as a number
    /// or a string holding one, B as base64), or the bare value of the partition key. A key
    /// holding only the partition key selects the whole item collection (every item with that
    /// partition key).
    Keys(Vec<Value>),
    /// Items whose top-level attributes equal these values (strings are S, numbers N, booleans
    /// BOOL, null NULL, arrays L, objects M; a key attribute takes its key type). Names and
    /// values are always placeholders, never spliced into the expression.
    Filter(Map<String, Value>),
    /// Every item in staging whose key is absent from the live table now.
    Missing,
}

impl ItemSelection {
    pub fn from_records(records: &Records) -> Self {
        match records {
            Records::Keys(keys) => ItemSelection::Keys(keys.clone()),
            Records::Filter(filter) => ItemSelection::Filter(filter.clone()),
            Records::Missing(_) => ItemSelection::Missing,
        }
    }
}

/// What a selection read and handed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SelectStats {
    /// Items handed to the page callback.
    pub items: usize,
    /// Calls of the page callback.
    pub pages: usize,
    /// Items read from staging (for `Missing`, before dropping those present in live).
    pub read: usize,
    /// Full keys asked for that staging does not hold.
    pub not_in_staging: usize,
    /// DynamoDB calls made.
    pub calls: u64,
}

/// Of a batch of items, what a merge would do now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemPlan {
    /// Items whose key is absent from the live table.
    pub to_insert: usize,
    /// Items whose key is in the live table: the merge leaves them as they are.
    pub present: usize,
    /// The keys (as JSON) of the present items whose live content differs from the extract:
    /// changed after the recovery point. A subset of `present`.
    pub conflicts: Vec<Value>,
    /// DynamoDB calls made.
    pub calls: u64,
}

/// What a merge wrote.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MergeOutcome {
    pub inserted: usize,
    /// The keys (as JSON) of the items left alone because the live table holds their key.
    pub present: Vec<Value>,
    /// DynamoDB calls made.
    pub calls: u64,
}

/// DynamoDB calls made by one public function.
#[derive(Debug, Default)]
struct Calls(AtomicU64);

impl Calls {
    fn count(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

fn resource(table: &str) -> String {
    format!("dynamodb:{table}")
}

/// What every read needs: the client, the call counter, the retry tuning.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    client: &'a Client,
    calls: &'a Calls,
    tuning: &'a Backoff,
}
