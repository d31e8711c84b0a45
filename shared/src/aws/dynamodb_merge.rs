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

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeyType, KeysAndAttributes, Put, ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_types::base64;
use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use super::dynamodb_items::{
    get_items, is_capacity_error, item_text, key_of, random_fraction, Backoff, Item, CONCURRENCY, GET_BATCH,
    SEGMENTS,
};
use super::dynamodb_merge_ledger::{keys_sha256, Entry, MergeLedger};
use super::port_error;
use crate::ports::{FailureKind, PortError};
use crate::request::decision::Records;

/// Puts per transaction. `TransactWriteItems` takes up to 100, but a smaller transaction
/// makes the retry after a failed condition (or a conflict) cheaper and stays far from the
/// 4 MB limit on a transaction's items.
const TRANSACTION_ITEMS: usize = 25;
/// A transaction's items may not exceed 4 MB (by DynamoDB's item size rules).
const TRANSACTION_BYTES: usize = 4_000_000;
/// Cancellation reasons of one item of a transaction that a retry can overcome.
const CAPACITY_REASONS: &[&str] = &[
    "ProvisionedThroughputExceeded",
    "ThrottlingError",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflict",
];
/// The cancellation reason of an item whose condition failed: its key is in the live table.
const CONDITION_FAILED: &str = "ConditionalCheckFailed";

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

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    S,
    N,
    B,
}

impl KeyKind {
    fn expected(self) -> &'static str {
        match self {
            KeyKind::S => "a non-empty string (the key attribute's type is S)",
            KeyKind::N => "a number (the key attribute's type is N)",
            KeyKind::B => "a non-empty base64 string (the key attribute's type is B)",
        }
    }

    fn holds(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (KeyKind::S, AttributeValue::S(_))
                | (KeyKind::N, AttributeValue::N(_))
                | (KeyKind::B, AttributeValue::B(_))
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub kind: KeyKind,
}

/// A table's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    pub partition: KeyAttribute,
    pub sort: Option<KeyAttribute>,
}

impl KeySchema {
    /// The key attributes' names, partition key first.
    pub fn names(&self) -> Vec<String> {
        self.attributes().map(|a| a.name.clone()).collect()
    }

    fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }

    fn attribute(&self, name: &str) -> Option<&KeyAttribute> {
        self.attributes().find(|a| a.name == name)
    }

    /// The key attributes of `item`.
    pub(crate) fn key(&self, item: &Item) -> Item {
        self.attributes()
            .filter_map(|a| Some((a.name.clone(), item.get(&a.name)?.clone())))
            .collect()
    }

    /// The key of `item` as JSON, the way a selection names it.
    pub fn key_json(&self, item: &Item) -> Value {
        Value::Object(
            self.attributes()
                .filter_map(|a| Some((a.name.clone(), key_value_json(item.get(&a.name)?))))
                .collect(),
        )
    }

    /// `ProjectionExpression` and names reading only the key attributes.
    pub(crate) fn projection(&self) -> (String, HashMap<String, String>) {
        let names: HashMap<String, String> = self
            .attributes()
            .enumerate()
            .map(|(i, a)| (format!("#k{i}"), a.name.clone()))
            .collect();
        let mut placeholders: Vec<&String> = names.keys().collect();
        placeholders.sort();
        let text = placeholders
            .into_iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        (text, names)
    }
}

/// A fresh `ClientRequestToken`: the same token is sent again only with the same
/// transaction, after an error that left its outcome unknown or in progress, so that
/// DynamoDB applies it at most once.
fn request_token() -> String {
    let part = || {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(random_fraction().to_bits());
        hasher.finish()
    };
    format!("lb-{:016x}{:016x}", part(), part())
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

/// The key schema of `table`, from `DescribeTable`.
pub async fn key_schema(client: &Client, table: &str) -> Result<KeySchema, PortError> {
    key_schema_counted(client, table, &Calls::default()).await
}

async fn key_schema_counted(client: &Client, table: &str, calls: &Calls) -> Result<KeySchema, PortError> {
    calls.count();
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| port_error("DescribeTable", resource(table), e))?;
    let refused = |why: String| PortError::new("DescribeTable", resource(table), FailureKind::Refused, why);
    let description = out
        .table()
        .ok_or_else(|| refused("no table in the answer".into()))?;
    let kind_of = |name: &str| -> Result<KeyKind, PortError> {
        let definition = description
            .attribute_definitions()
            .iter()
            .find(|d| d.attribute_name() == name)
            .ok_or_else(|| refused(format!("no attribute definition of key attribute {name}")))?;
        match definition.attribute_type() {
            ScalarAttributeType::S => Ok(KeyKind::S),
            ScalarAttributeType::N => Ok(KeyKind::N),
            ScalarAttributeType::B => Ok(KeyKind::B),
            other => Err(refused(format!(
                "key attribute {name} has the unknown type {other}"
            ))),
        }
    };
    let mut partition = None;
    let mut sort = None;
    for element in description.key_schema() {
        let name = element.attribute_name().to_string();
        let attribute = KeyAttribute {
            kind: kind_of(&name)?,
            name,
        };
        match element.key_type() {
            KeyType::Hash => partition = Some(attribute),
            KeyType::Range => sort = Some(attribute),
            other => return Err(refused(format!("unknown key type {other}"))),
        }
    }
    Ok(KeySchema {
        partition: partition.ok_or_else(|| refused("the key schema has no partition key".into()))?,
        sort,
    })
}

// ---------------------------------------------------------------------------------------
// The selection, checked against the key schema.

/// A selection in DynamoDB's terms.
#[derive(Debug, Clone, PartialEq)]
enum Checked {
    Keys {
        /// Distinct full keys, without those inside a selected item collection.
        full: Vec<Item>,
        /// Distinct partition key values whose whole item collection is selected.
        partitions: Vec<AttributeValue>,
    },
    Filter(Expression),
    Missing,
}

/// A condition with its placeholders.
#[derive(Debug, Clone, PartialEq)]
struct Expression {
    text: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// At most this many problems are named in one error.
const MAX_PROBLEMS: usize = 20;

fn check(selection: &ItemSelection, schema: &KeySchema, table: &str) -> Result<Checked, PortError> {
    let mut problems = Vec::new();
    let checked = match selection {
        ItemSelection::Keys(keys) => check_keys(keys, schema, &mut problems),
        ItemSelection::Filter(filter) => Checked::Filter(filter_expression(filter, schema, &mut problems)),
        ItemSelection::Missing => Checked::Missing,
    };
    if problems.is_empty() {
        return Ok(checked);
    }
    let more = problems.len().saturating_sub(MAX_PROBLEMS);
    problems.truncate(MAX_PROBLEMS);
    let mut message = problems.join("; ");
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    Err(PortError::new(
        "SelectItems",
        resource(table),
        FailureKind::Refused,
        message,
    ))
}

fn check_keys(keys: &[Value], schema: &KeySchema, problems: &mut Vec<String>) -> Checked {
    if keys.is_empty() {
        problems.push("keys must name at least one key".into());
    }
    let names = schema.names();
    let key_list = names.join(", ");
    let mut full: Vec<Item> = Vec::new();
    let mut partitions: Vec<AttributeValue> = Vec::new();
    let mut seen_full = HashSet::new();
    let mut seen_partitions = HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        let object: Map<String, Value> = match key {
            Value::Object(o) => o.clone(),
            Value::String(_) | Value::Number(_) => {
                Map::from_iter([(schema.partition.name.clone(), key.clone())])
            }
            _ => {
                problems.push(format!(
                    "keys[{i}] must be an object of key attributes ({key_list}) or the partition key's value"
                ));
                continue;
            }
        };
        let mut item = Item::new();
        let mut ok = true;
        for (name, value) in &object {
            match schema.attribute(name) {
                None => {
                    problems.push(format!(
                        "keys[{i}].{name} is not a key attribute (the key is {key_list})"
                    ));
                    ok = false;
                }
                Some(attribute) => match key_value(value, attribute.kind) {
                    Ok(v) => {
                        item.insert(name.clone(), v);
                    }
                    Err(why) => {
                        problems.push(format!("keys[{i}].{name} {why}"));
                        ok = false;
                    }
                },
            }
        }
        if !object.contains_key(&schema.partition.name) {
            problems.push(format!(
                "keys[{i}] lacks the partition key {}",
                schema.partition.name
            ));
            ok = false;
        }
        if !ok {
            continue;
        }
        let whole_collection = schema.sort.as_ref().is_some_and(|s| !item.contains_key(&s.name));
        if whole_collection {
            let value = item.remove(&schema.partition.name).expect("checked above");
            if seen_partitions.insert(key_of(&item_of(&schema.partition.name, &value), &names[..1])) {
                partitions.push(value);
            }
        } else if seen_full.insert(key_of(&item, &names)) {
            full.push(item);
        }
    }
    // A full key inside a selected item collection would be read twice.
    let partition = &names[..1];
    full.retain(|k| !seen_partitions.contains(&key_of(k, partition)));
    Checked::Keys { full, partitions }
}

fn item_of(name: &str, value: &AttributeValue) -> Item {
    Item::from([(name.to_string(), value.clone())])
}

/// A key attribute's value from its JSON form.
fn key_value(value: &Value, kind: KeyKind) -> Result<AttributeValue, String> {
    match (kind, value) {
        (KeyKind::S, Value::String(s)) if !s.is_empty() => Ok(AttributeValue::S(s.clone())),
        (KeyKind::N, Value::Number(n)) => Ok(AttributeValue::N(n.to_string())),
        (KeyKind::N, Value::String(s)) if is_number(s) => Ok(AttributeValue::N(s.clone())),
        (KeyKind::B, Value::String(s)) => match base64::decode(s) {
            Ok(bytes) if !bytes.is_empty() => Ok(AttributeValue::B(Blob::new(bytes))),
            _ => Err(format!("must be {}, not {value}", kind.expected())),
        },
        _ => Err(format!("must be {}, not {value}", kind.expected())),
    }
}

/// A key attribute's value as JSON: a string, a number (when JSON carries it exactly, else
/// the number's text), or base64.
fn key_value_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number_json(n),
        AttributeValue::B(b) => Value::String(base64::encode(b.as_ref())),
        other => dynamo_json(other).unwrap_or(Value::Null),
    }
}

fn number_json(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::from(u);
    }
    match n.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(f) if f.to_string() == n => Value::Number(f),
        _ => Value::String(n.to_string()),
    }
}

/// Whether `s` is a number as DynamoDB writes them: `-12`, `3.5`, `.5`, `1E+10`.
fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() || digits(whole))
                && (fraction.is_empty() || digits(fraction))
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}

/// `#f0 = :v0 AND #f1 = :v1 …`: the attribute names and values only ever as placeholders.
fn filter_expression(
    filter: &Map<String, Value>,
    schema: &KeySchema,
    problems: &mut Vec<String>,
) -> Expression {
    if filter.is_empty() {
        problems.push("filter must name at least one attribute".into());
    }
    let mut terms = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    for (i, (name, value)) in filter.iter().enumerate() {
        if name.is_empty() {
            problems.push(format!("filter has an empty attribute name (entry {i})"));
            continue;
        }
        let value = match schema.attribute(name) {
            Some(attribute) => match key_value(value, attribute.kind) {
                Ok(v) => v,
                Err(why) => {
                    problems.push(format!("filter.{name} {why}"));
                    continue;
                }
            },
            None => plain_value(value),
        };
        terms.push(format!("#f{i} = :v{i}"));
        names.insert(format!("#f{i}"), name.clone());
        values.insert(format!(":v{i}"), value);
    }
    Expression {
        text: terms.join(" AND "),
        names,
        values,
    }
}

/// A plain JSON value as the attribute value it most naturally is.
fn plain_value(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(plain_value).collect()),
        Value::Object(o) => AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), plain_value(v))).collect()),
    }
}

// ---------------------------------------------------------------------------------------
// Selecting.

type Pages<'a> = BoxStream<'a, Result<Vec<Item>, PortError>>;

/// Reads the key schema of `staging_table`, checks `selection` against it and hands the
/// selected items to `each_page`, in pages of at most `page` items (the last may be
/// smaller), one page at a time: the reading waits while a page is being handled, so memory
/// stays bounded by a few pages whatever the table's size. An item is handed over once.
///
/// `live_table` is read only for [`ItemSelection::Missing`] (its key must be staging's).
/// Checking errors are `Refused` and name the key index and attribute (`keys[3].sk must be
/// a number …`).
pub async fn select_items<F, Fut>(
    client: &Client,
    staging_table: &str,
    live_table: &str,
    selection: &ItemSelection,
    page: usize,
    each_page: F,
) -> Result<SelectStats, PortError>
where
    F: FnMut(Vec<Item>) -> Fut,
    Fut: Future<Output = Result<(), PortError>>,
{
    select_with(
        client,
        staging_table,
        live_table,
        selection,
        page,
        each_page,
        &Backoff::default(),
    )
    .await
}

async fn select_with<F, Fut>(
    client: &Client,
    staging: &str,
    live: &str,
    selection: &ItemSelection,
    page: usize,
    mut each_page: F,
    tuning: &Backoff,
) -> Result<SelectStats, PortError>
where
    F: FnMut(Vec<Item>) -> Fut,
    Fut: Future<Output = Result<(), PortError>>,
{
    if page == 0 {
        return Err(PortError::new(
            "SelectItems",
            resource(staging),
            FailureKind::Refused,
            "the page size must be at least 1",
        ));
    }
    let calls = Calls::default();
    let read = AtomicUsize::new(0);
    let not_in_staging = AtomicUsize::new(0);
    let schema = key_schema_counted(client, staging, &calls).await?;
    let checked = check(selection, &schema, staging)?;
    if checked == Checked::Missing {
        let live_schema = key_schema_counted(client, live, &calls).await?;
        if live_schema != schema {
            return Err(PortError::new(
                "SelectItems",
                resource(live),
                FailureKind::Refused,
                format!(
                    "its key ({}) is not the key of {} ({}): not a copy of it",
                    live_schema.names().join(", "),
                    resource(staging),
                    schema.names().join(", ")
                ),
            ));
        }
    }
    // DynamoDB takes a Limit up to 2^31-1; a larger page is read in several calls anyway.
    let limit = i32::try_from(page).unwrap_or(i32::MAX);
    let ctx = Ctx {
        client,
        calls: &calls,
        tuning,
    };
    let count_read = |items: &Vec<Item>| {
        read.fetch_add(items.len(), Ordering::Relaxed);
    };
    let schema = &schema;
    let pages: Pages<'_> = match &checked {
        Checked::Keys { full, partitions } => {
            let per_call = page.min(GET_BATCH);
            let batches: Vec<Vec<Item>> = full.chunks(per_call).map(<[Item]>::to_vec).collect();
            let not_in_staging = &not_in_staging;
            let by_key = stream::iter(batches)
                .map(move |keys| async move {
                    let asked = keys.len();
                    let items = ctx.batch_get(staging, keys, Read::Staging).await?;
                    not_in_staging.fetch_add(asked.saturating_sub(items.len()), Ordering::Relaxed);
                    Ok(items)
                })
                .buffered(CONCURRENCY);
            let collections = stream::iter(partitions.iter().cloned())
                .map(move |value| ctx.query_pages(staging, schema, value, limit).boxed())
                .flatten_unordered(CONCURRENCY);
            by_key.chain(collections).inspect_ok(count_read).boxed()
        }
        Checked::Filter(expression) => stream::select_all(
            (0..SEGMENTS).map(|segment| ctx.scan_pages(staging, segment, limit, Some(expression)).boxed()),
        )
        .inspect_ok(count_read)
        .boxed(),
        Checked::Missing => stream::select_all((0..SEGMENTS).map(move |segment| {
            ctx.scan_pages(staging, segment, limit, None)
                .inspect_ok(count_read)
                .and_then(move |items| ctx.absent_from(live, schema, items))
                .boxed()
        }))
        .boxed(),
    };
    let mut sink = PageSink {
        size: page,
        buffer: Vec::new(),
        each_page: &mut each_page,
        pages: 0,
        items: 0,
    };
    let mut pages = pages;
    while let Some(items) = pages.try_next().await? {
        sink.push(items).await?;
    }
    sink.finish().await?;
    let stats = SelectStats {
        items: sink.items,
        pages: sink.pages,
        read: read.load(Ordering::Relaxed),
        not_in_staging: not_in_staging.load(Ordering::Relaxed),
        calls: calls.get(),
    };
    tracing::info!(
        staging,
        live,
        selection = selection.kind(),
        items = stats.items,
        pages = stats.pages,
        read = stats.read,
        not_in_staging = stats.not_in_staging,
        calls = stats.calls,
        "items selected from the staging table"
    );
    Ok(stats)
}

impl ItemSelection {
    fn kind(&self) -> &'static str {
        match self {
            ItemSelection::Keys(_) => "keys",
            ItemSelection::Filter(_) => "filter",
            ItemSelection::Missing => "missing",
        }
    }
}

/// Gathers items into pages of exactly `size` (but the last) for the callback.
struct PageSink<'f, F> {
    size: usize,
    buffer: Vec<Item>,
    each_page: &'f mut F,
    pages: usize,
    items: usize,
}

impl<F, Fut> PageSink<'_, F>
where
    F: FnMut(Vec<Item>) -> Fut,
    Fut: Future<Output = Result<(), PortError>>,
{
    async fn push(&mut self, items: Vec<Item>) -> Result<(), PortError> {
        self.buffer.extend(items);
        while self.buffer.len() >= self.size {
            let rest = self.buffer.split_off(self.size);
            let page = std::mem::replace(&mut self.buffer, rest);
            self.hand_over(page).await?;
        }
        Ok(())
    }

    async fn finish(&mut self) -> Result<(), PortError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let page = std::mem::take(&mut self.buffer);
        self.hand_over(page).await
    }

    async fn hand_over(&mut self, page: Vec<Item>) -> Result<(), PortError> {
        self.pages += 1;
        self.items += page.len();
        (self.each_page)(page).await
    }
}

/// What every read needs: the client, the call counter, the retry tuning.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    client: &'a Client,
    calls: &'a Calls,
    tuning: &'a Backoff,
}

impl<'a> Ctx<'a> {
    /// The pages of one segment of a scan of `table`, one call per page.
    fn scan_pages(
        self,
        table: &'a str,
        segment: i32,
        limit: i32,
        filter: Option<&'a Expression>,
    ) -> impl Stream<Item = Result<Vec<Item>, PortError>> + Send + 'a {
        stream::try_unfold(Some(None), move |start: Option<Option<Item>>| async move {
            let Some(start) = start else {
                return Ok(None);
            };
            self.calls.count();
            let mut request = self
                .client
                .scan()
                .table_name(table)
                .segment(segment)
                .total_segments(SEGMENTS)
                .limit(limit)
                .set_exclusive_start_key(start);
            if let Some(f) = filter {
                request = request
                    .filter_expression(&f.text)
                    .set_expression_attribute_names(Some(f.names.clone()))
                    .set_expression_attribute_values(Some(f.values.clone()));
            }
            let out = request
                .send()
                .await
                .map_err(|e| port_error("Scan", resource(table), e))?;
            Ok(Some((
                out.items.unwrap_or_default(),
                next_start(out.last_evaluated_key),
            )))
        })
    }

    /// The pages of the item collection of `partition` in `table`.
    fn query_pages(
        self,
        table: &'a str,
        schema: &'a KeySchema,
        partition: AttributeValue,
        limit: i32,
    ) -> impl Stream<Item = Result<Vec<Item>, PortError>> + Send + 'a {
        stream::try_unfold(Some(None), move |start: Option<Option<Item>>| {
            let partition = partition.clone();
            async move {
                let Some(start) = start else {
                    return Ok(None);
                };
                self.calls.count();
                let out = self
                    .client
                    .query()
                    .table_name(table)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", &schema.partition.name)
                    .expression_attribute_values(":pk", partition)
                    .limit(limit)
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| port_error("Query", resource(table), e))?;
                Ok(Some((
                    out.items.unwrap_or_default(),
                    next_start(out.last_evaluated_key),
                )))
            }
        })
    }

    /// The items of `items` whose key the live table lacks (strongly consistent reads of the
    /// key attributes only).
    async fn absent_from(
        self,
        live: &str,
        schema: &KeySchema,
        items: Vec<Item>,
    ) -> Result<Vec<Item>, PortError> {
        let names = schema.names();
        let mut present = HashSet::new();
        for chunk in items.chunks(GET_BATCH) {
            let keys = chunk.iter().map(|i| schema.key(i)).collect();
            for found in self.batch_get(live, keys, Read::LiveKeys(schema)).await? {
                present.insert(key_of(&found, &names));
            }
        }
        Ok(items
            .into_iter()
            .filter(|i| !present.contains(&key_of(i, &names)))
            .collect())
    }

    /// The items of `table` with these (distinct, at most 100) keys, read as `read` says,
    /// `UnprocessedKeys` retried after a backoff.
    async fn batch_get(self, table: &str, keys: Vec<Item>, read: Read<'_>) -> Result<Vec<Item>, PortError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(!matches!(read, Read::Staging));
        if let Read::LiveKeys(schema) = read {
            let (projection, names) = schema.projection();
            request = request
                .projection_expression(projection)
                .set_expression_attribute_names(Some(names));
        }
        let request = request.build().map_err(|e| {
            PortError::new(
                "BatchGetItem",
                resource(table),
                FailureKind::Refused,
                e.to_string(),
            )
        })?;
        get_items(self.client, table, request, self.tuning, &|| self.calls.count()).await
    }
}

/// How a `BatchGetItem` reads.
#[derive(Clone, Copy)]
enum Read<'a> {
    /// Whole items of the staging table, which nothing writes: eventually consistent reads
    /// (half the read capacity) see all of it.
    Staging,
    /// Whole items of the live table, strongly consistent: what is there now.
    LiveItems,
    /// Only the key attributes of the live table, strongly consistent: a presence check.
    LiveKeys(&'a KeySchema),
}

/// The next page's start, `None` after the last page.
fn next_start(last: Option<Item>) -> Option<Option<Item>> {
    last.filter(|k| !k.is_empty()).map(Some)
}

// ---------------------------------------------------------------------------------------
// Planning.

/// Of `items`, how many the live table lacks and how many it holds now (strongly
/// consistent `BatchGetItem`s of 100 keys, `UnprocessedKeys` retried); of the latter, which
/// differ from the extract.
pub async fn plan_items(client: &Client, live_table: &str, items: &[Item]) -> Result<ItemPlan, PortError> {
    plan_with(client, live_table, items, &Backoff::default()).await
}

async fn plan_with(
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
fn check_item_keys(
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

// ---------------------------------------------------------------------------------------
// Merging.

/// Writes each item whose key the live table lacks, never overwriting one it holds (see the
/// module documentation). Items with the same key as an earlier one are counted present.
///
/// With a `ledger`, each transaction also records what it did there, and a transaction an
/// earlier try committed reports that try's counts (see [`MergeLedger`]).
pub async fn merge_items(
    client: &Client,
    live_table: &str,
    items: Vec<Item>,
    ledger: Option<&MergeLedger>,
) -> Result<MergeOutcome, PortError> {
    merge_with(client, live_table, items, ledger, &Backoff::default()).await
}

async fn merge_with(
    client: &Client,
    live: &str,
    items: Vec<Item>,
    ledger: Option<&MergeLedger>,
    tuning: &Backoff,
) -> Result<MergeOutcome, PortError> {
    let calls = Calls::default();
    let schema = key_schema_counted(client, live, &calls).await?;
    check_item_keys(&items, &schema, "TransactWriteItems", live)?;
    let names = schema.names();
    let mut seen = HashSet::new();
    let mut duplicates = Vec::new();
    let mut unique = Vec::with_capacity(items.len());
    for item in items {
        if seen.insert(key_of(&item, &names)) {
            unique.push(item);
        } else {
            duplicates.push(schema.key_json(&item));
        }
    }
    if !duplicates.is_empty() {
        tracing::warn!(
            live,
            duplicates = duplicates.len(),
            "items repeated in the extract are written once"
        );
    }
    let ctx = Ctx {
        client,
        calls: &calls,
        tuning,
    };
    // Numbered in the extract's order, which a retry reads again: the same transactions.
    let results: Vec<(usize, Vec<Value>)> = stream::iter(transactions(unique).into_iter().enumerate())
        .map(|(n, chunk)| ctx.merge_transaction(live, &schema, chunk, ledger.map(|l| (l, n))))
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut outcome = MergeOutcome::default();
    for (inserted, present) in results {
        outcome.inserted += inserted;
        outcome.present.extend(present);
    }
    outcome.present.extend(duplicates);
    outcome.calls = calls.get();
    tracing::info!(
        live,
        inserted = outcome.inserted,
        present = outcome.present.len(),
        calls = outcome.calls,
        "items merged into the live table"
    );
    Ok(outcome)
}

/// `items` cut into transactions of at most 25 items and 4 MB.
fn transactions(items: Vec<Item>) -> Vec<Vec<Item>> {
    let mut out: Vec<Vec<Item>> = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for item in items {
        let size = item_size(&item);
        if !current.is_empty() && (current.len() == TRANSACTION_ITEMS || bytes + size > TRANSACTION_BYTES) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(item);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// An item's size by DynamoDB's rules, rounded up (a number counts its text's length + 1,
/// a little more than DynamoDB's one byte per two digits).
fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => n.len() + 1,
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Ss(v) => v.iter().map(String::len).sum(),
        AttributeValue::Ns(v) => v.iter().map(|n| n.len() + 1).sum(),
        AttributeValue::Bs(v) => v.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, v)| k.len() + value_size(v) + 1).sum::<usize>(),
        AttributeValue::L(l) => 3 + l.iter().map(|v| value_size(v) + 1).sum::<usize>(),
        _ => 1,
    }
}

impl Ctx<'_> {
    /// One transaction of puts, conditional on the key's absence; the number inserted and the
    /// keys found present. With a ledger (and the transaction's number), the transaction's
    /// entry goes last, and an entry already there answers for an earlier try.
    async fn merge_transaction(
        self,
        table: &str,
        schema: &KeySchema,
        mut pending: Vec<Item>,
        ledger: Option<(&MergeLedger, usize)>,
    ) -> Result<(usize, Vec<Value>), PortError> {
        let mut present = Vec::new();
        let mut capacity_tries = 0;
        let mut token = request_token();
        let keys =
            ledger.map(|_| keys_sha256(&pending.iter().map(|i| schema.key_json(i)).collect::<Vec<_>>()));
        while !pending.is_empty() {
            let mut puts = pending
                .iter()
                .map(|item| put(table, schema, item))
                .collect::<Result<Vec<_>, _>>()?;
            if let Some((ledger, n)) = ledger {
                let entry = Entry {
                    inserted: pending.len(),
                    present: present.clone(),
                };
                puts.push(ledger.put(n, keys.as_deref().unwrap_or_default(), &entry)?);
            }
            self.calls.count();
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(puts))
                .client_request_token(&token)
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok((pending.len(), present)),
                Err(e) => e,
            };
            let mut reasons: Option<Vec<(Option<String>, Option<String>)>> = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => Some(
                    cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|r| (r.code().map(str::to_string), r.message().map(str::to_string)))
                        .collect(),
                ),
                _ => None,
            };
            let mut ledger_busy = false;
            if let (Some((ledger, n)), Some(reasons)) = (ledger, reasons.as_mut()) {
                match take_entry_reason(reasons, pending.len(), ledger, n)? {
                    EntryReason::Committed => {
                        self.calls.count();
                        let entry = ledger
                            .read(self.client, n, keys.as_deref().unwrap_or_default())
                            .await?;
                        tracing::info!(table, transaction = n, "transaction committed by an earlier try");
                        return Ok((entry.inserted, entry.present));
                    }
                    EntryReason::Busy => ledger_busy = true,
                    EntryReason::Fine => {}
                }
            }
            let capacity = if let Some(reasons) = reasons {
                let (rest, found, capacity) = sort_cancelled(table, schema, pending, &reasons, ledger_busy)?;
                pending = rest;
                present.extend(found);
                // Other puts now: a new token (one reused with other parameters is refused
                // as an IdempotentParameterMismatch).
                token = request_token();
                capacity
            } else if is_capacity_error(&error) {
                tracing::debug!(table, error = %super::describe(&error), "TransactWriteItems throttled");
                // The same puts again, with the same token: had the first been applied after
                // all (TransactionInProgress), DynamoDB does not apply it twice.
                true
            } else {
                return Err(port_error("TransactWriteItems", resource(table), error));
            };
            if capacity {
                capacity_tries += 1;
                if capacity_tries >= self.tuning.max_tries {
                    return Err(PortError::new(
                        "TransactWriteItems",
                        resource(table),
                        FailureKind::Throttled,
                        format!(
                            "{} items still not written after {capacity_tries} throttled or conflicting tries",
                            pending.len()
                        ),
                    ));
                }
                tokio::time::sleep(self.tuning.delay(capacity_tries)).await;
            }
        }
        Ok((0, present))
    }
}

/// What a cancelled transaction says of its ledger entry.
enum EntryReason {
    /// Its condition failed: an earlier try committed the transaction.
    Committed,
    /// Throttled or in a conflict: worth another try.
    Busy,
    /// Nothing against it (or reasons that do not fit the items, which
    /// [`sort_cancelled`] refuses).
    Fine,
}

/// Takes the entry's reason, the last, off a cancelled transaction's `reasons` for `items`
/// puts and its entry; an entry refused for a reason of its own is an error naming it.
fn take_entry_reason(
    reasons: &mut Vec<(Option<String>, Option<String>)>,
    items: usize,
    ledger: &MergeLedger,
    n: usize,
) -> Result<EntryReason, PortError> {
    if reasons.len() != items + 1 {
        return Ok(EntryReason::Fine);
    }
    let (code, message) = reasons.pop().expect("the entry's reason");
    match code.as_deref().unwrap_or("None") {
        CONDITION_FAILED => Ok(EntryReason::Committed),
        c if CAPACITY_REASONS.contains(&c) => Ok(EntryReason::Busy),
        "None" | "" => Ok(EntryReason::Fine),
        other => Err(PortError::new(
            "TransactWriteItems",
            resource(&ledger.table),
            FailureKind::Refused,
            format!(
                "the merge ledger's entry for transaction {n} was refused: {other}: {}",
                message.as_deref().unwrap_or("no message")
            ),
        )),
    }
}

/// Sorts the items of a cancelled transaction by their cancellation reasons: those to try
/// again, the keys found present, and whether capacity (or a conflict) was a reason.
fn sort_cancelled(
    table: &str,
    schema: &KeySchema,
    items: Vec<Item>,
    reasons: &[(Option<String>, Option<String>)],
    ledger_busy: bool,
) -> Result<(Vec<Item>, Vec<Value>, bool), PortError> {
    let refused =
        |why: String| PortError::new("TransactWriteItems", resource(table), FailureKind::Refused, why);
    if reasons.len() != items.len() {
        return Err(refused(format!(
            "transaction cancelled with {} reasons for {} items: cannot tell which items exist",
            reasons.len(),
            items.len()
        )));
    }
    let mut retry = Vec::new();
    let mut present = Vec::new();
    let mut capacity = ledger_busy;
    for (item, (code, message)) in items.into_iter().zip(reasons) {
        match code.as_deref().unwrap_or("None") {
            CONDITION_FAILED => present.push(schema.key_json(&item)),
            "None" | "" => retry.push(item),
            c if CAPACITY_REASONS.contains(&c) => {
                capacity = true;
                retry.push(item);
            }
            other => {
                return Err(refused(format!(
                    "item {} refused: {other}: {}",
                    schema.key_json(&item),
                    message.as_deref().unwrap_or("no message")
                )))
            }
        }
    }
    if !capacity && present.is_empty() {
        // Nothing to drop and nothing to wait for: the same transaction would fail the same way.
        return Err(refused(
            "transaction cancelled without a failed condition or a capacity reason".into(),
        ));
    }
    Ok((retry, present, capacity))
}

fn put(table: &str, schema: &KeySchema, item: &Item) -> Result<TransactWriteItem, PortError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item.clone()))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", &schema.partition.name)
        .build()
        .map_err(|e| {
            PortError::new(
                "TransactWriteItems",
                resource(table),
                FailureKind::Refused,
                e.to_string(),
            )
        })?;
    Ok(TransactWriteItem::builder().put(put).build())
}

// ---------------------------------------------------------------------------------------
// The extract's encoding.

/// Items as JSON lines of DynamoDB JSON. Fails only on an attribute type this SDK cannot
/// name (a type DynamoDB added later), which could not be written back.
pub fn encode_items(items: &[Item]) -> Result<Vec<u8>, PortError> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut line = Map::new();
        for (name, value) in item {
            let json = dynamo_json(value).map_err(|why| {
                PortError::new(
                    "EncodeItems",
                    "extract",
                    FailureKind::Refused,
                    format!("item {i}, attribute {name}: {why}"),
                )
            })?;
            line.insert(name.clone(), json);
        }
        serde_json::to_writer(&mut out, &Value::Object(line))
            .map_err(|e| PortError::new("EncodeItems", "extract", FailureKind::Refused, e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Items from [`encode_items`]' lines (blank lines are skipped).
pub fn decode_items(bytes: &[u8]) -> Result<Vec<Item>, PortError> {
    let refused = |line: usize, why: String| {
        PortError::new(
            "DecodeItems",
            "extract",
            FailureKind::Refused,
            format!("line {line}: {why}"),
        )
    };
    let mut items = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| refused(i + 1, e.to_string()))?;
        let Value::Object(attributes) = value else {
            return Err(refused(i + 1, "not a JSON object".into()));
        };
        let item = attributes
            .iter()
            .map(|(name, v)| {
                attribute_value(v)
                    .map(|a| (name.clone(), a))
                    .map_err(|why| refused(i + 1, format!("attribute {name}: {why}")))
            })
            .collect::<Result<Item, _>>()?;
        items.push(item);
    }
    Ok(items)
}

/// An attribute value in DynamoDB JSON.
fn dynamo_json(value: &AttributeValue) -> Result<Value, String> {
    let one = |t: &str, v: Value| Value::Object(Map::from_iter([(t.to_string(), v)]));
    Ok(match value {
        AttributeValue::S(s) => one("S", Value::String(s.clone())),
        AttributeValue::N(n) => one("N", Value::String(n.clone())),
        AttributeValue::B(b) => one("B", Value::String(base64::encode(b.as_ref()))),
        AttributeValue::Ss(v) => one("SS", Value::from(v.clone())),
        AttributeValue::Ns(v) => one("NS", Value::from(v.clone())),
        AttributeValue::Bs(v) => one(
            "BS",
            Value::from(v.iter().map(|b| base64::encode(b.as_ref())).collect::<Vec<_>>()),
        ),
        AttributeValue::M(m) => one(
            "M",
            Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), dynamo_json(v)?)))
                    .collect::<Result<Map<_, _>, String>>()?,
            ),
        ),
        AttributeValue::L(l) => one(
            "L",
            Value::Array(l.iter().map(dynamo_json).collect::<Result<_, _>>()?),
        ),
        AttributeValue::Null(b) => one("NULL", Value::Bool(*b)),
        AttributeValue::Bool(b) => one("BOOL", Value::Bool(*b)),
        other => return Err(format!("a type this SDK cannot name: {other:?}")),
    })
}

/// An attribute value from DynamoDB JSON.
fn attribute_value(value: &Value) -> Result<AttributeValue, String> {
    let Some((kind, inner)) = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(format!("{value} is not an object with one type key"));
    };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let binary = |s: &str| {
        base64::decode(s)
            .map(Blob::new)
            .map_err(|e| format!("bad base64: {e}"))
    };
    let wrong = || format!("{kind} of the wrong shape: {inner}");
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => Ok(AttributeValue::S(s.clone())),
        ("N", Value::String(n)) if is_number(n) => Ok(AttributeValue::N(n.clone())),
        ("B", Value::String(s)) => binary(s).map(AttributeValue::B),
        ("SS", v) => strings(v).map(AttributeValue::Ss).ok_or_else(wrong),
        ("NS", v) => match strings(v) {
            Some(ns) if ns.iter().all(|n| is_number(n)) => Ok(AttributeValue::Ns(ns)),
            _ => Err(wrong()),
        },
        ("BS", v) => strings(v)
            .ok_or_else(wrong)?
            .iter()
            .map(|s| binary(s))
            .collect::<Result<_, _>>()
            .map(AttributeValue::Bs),
        ("M", Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), attribute_value(v)?)))
            .collect::<Result<_, String>>()
            .map(AttributeValue::M),
        ("L", Value::Array(l)) => l
            .iter()
            .map(attribute_value)
            .collect::<Result<_, _>>()
            .map(AttributeValue::L),
        ("NULL", Value::Bool(b)) => Ok(AttributeValue::Null(*b)),
        ("BOOL", Value::Bool(b)) => Ok(AttributeValue::Bool(*b)),
        ("S" | "N" | "B" | "M" | "L" | "NULL" | "BOOL", _) => Err(wrong()),
        _ => Err(format!("unknown type {kind}")),
    }
}

/// What moto cannot show: throttling past the SDK's retries, transactions cancelled for a
/// conflict next to failed conditions, unprocessed keys. The SDK client answers from rules.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::transact_write_items::{
        TransactWriteItemsInput, TransactWriteItemsOutput,
    };
    use aws_sdk_dynamodb::types::error::{
        ProvisionedThroughputExceededException, TransactionCanceledException,
    };
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, CancellationReason, KeySchemaElement, TableDescription,
    };
    use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use serde_json::json;

    use super::*;

    const FAST: Backoff = Backoff {
        base_delay: std::time::Duration::from_millis(1),
        max_tries: 4,
    };

    fn schema() -> KeySchema {
        KeySchema {
            partition: KeyAttribute {
                name: "pk".into(),
                kind: KeyKind::S,
            },
            sort: Some(KeyAttribute {
                name: "sk".into(),
                kind: KeyKind::N,
            }),
        }
    }

    fn item(pk: &str, sk: u32, v: &str) -> Item {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S(pk.into())),
            ("sk".to_string(), AttributeValue::N(sk.to_string())),
            ("v".to_string(), AttributeValue::S(v.into())),
        ])
    }

    /// DescribeTable answering `pk` (S) + `sk` (N).
    fn describe() -> Rule {
        mock!(Client::describe_table).then_output(|| {
            let key = |name: &str, t: KeyType| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(t)
                    .build()
                    .unwrap()
            };
            let attribute = |name: &str, t: ScalarAttributeType| {
                AttributeDefinition::builder()
                    .attribute_name(name)
                    .attribute_type(t)
                    .build()
                    .unwrap()
            };
            DescribeTableOutput::builder()
                .table(
                    TableDescription::builder()
                        .key_schema(key("pk", KeyType::Hash))
                        .key_schema(key("sk", KeyType::Range))
                        .attribute_definitions(attribute("pk", ScalarAttributeType::S))
                        .attribute_definitions(attribute("sk", ScalarAttributeType::N))
                        .build(),
                )
                .build()
        })
    }

    /// A client without the SDK's own retries, so that every try is one of ours.
    fn client(rules: &[&Rule]) -> Client {
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |b| b
            .retry_config(RetryConfig::disabled()))
    }

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        let reasons = codes
            .iter()
            .map(|c| {
                CancellationReason::builder()
                    .code(*c)
                    .message(format!("{c} here"))
                    .build()
            })
            .collect();
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled")
                .set_cancellation_reasons(Some(reasons))
                .meta(
                    ErrorMetadata::builder()
                        .code("TransactionCanceledException")
                        .build(),
                )
                .build(),
        )
    }

    fn throttled() -> TransactWriteItemsError {
        TransactWriteItemsError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .meta(
                    ErrorMetadata::builder()
                        .code("ProvisionedThroughputExceededException")
                        .build(),
                )
                .build(),
        )
    }

    /// What each TransactWriteItems asked for: the puts' partition keys and the token.
    type Seen = Arc<Mutex<Vec<(Vec<String>, String)>>>;

    fn record(seen: &Seen, input: &TransactWriteItemsInput) -> usize {
        let puts: Vec<&Put> = input.transact_items().iter().filter_map(|t| t.put()).collect();
        for p in &puts {
            assert_eq!(p.condition_expression(), Some("attribute_not_exists(#pk)"));
            assert_eq!(
                p.expression_attribute_names().and_then(|n| n.get("#pk")),
                Some(&"pk".to_string())
            );
            assert_eq!(p.table_name(), "live");
        }
        let keys = puts
            .iter()
            .map(|p| p.item()["pk"].as_s().unwrap().clone())
            .collect();
        let token = input.client_request_token().unwrap_or_default().to_string();
        seen.lock().unwrap().push((keys, token));
        puts.len()
    }

    #[tokio::test]
    async fn a_cancelled_transaction_counts_failed_conditions_present_and_retries_the_rest() {
        let seen: Seen = Arc::default();
        let log = seen.clone();
        // First try: b exists already, c met a concurrent transaction; second try: a and c.
        let transact = mock!(Client::transact_write_items).then_compute_response(move |input| {
            if record(&log, input) == 3 {
                MockResponse::Error(cancelled(&["None", CONDITION_FAILED, "TransactionConflict"]))
            } else {
                MockResponse::Output(TransactWriteItemsOutput::builder().build())
            }
        });
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let items = vec![item("a", 1, "x"), item("b", 1, "x"), item("c", 1, "x")];
        let outcome = merge_with(&client, "live", items, None, &FAST).await.unwrap();
        assert_eq!(outcome.inserted, 2);
        assert_eq!(outcome.present, vec![json!({"pk": "b", "sk": 1})]);
        assert_eq!(outcome.calls, 3, "DescribeTable and two transactions");
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, ["a", "b", "c"]);
        assert_eq!(seen[1].0, ["a", "c"]);
        assert_ne!(seen[0].1, seen[1].1, "other puts, another token");
    }

    #[tokio::test]
    async fn a_ledger_entry_throttled_in_its_transaction_is_written_again_with_it() {
        let tries: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let log = tries.clone();
        let transact = mock!(Client::transact_write_items).then_compute_response(move |input| {
            let tables = input
                .transact_items()
                .iter()
                .filter_map(|t| t.put())
                .map(|p| p.table_name().to_string())
                .collect::<Vec<_>>();
            let first = {
                let mut log = log.lock().unwrap();
                log.push(tables);
                log.len() == 1
            };
            if first {
                MockResponse::Error(cancelled(&["None", "ThrottlingError"]))
            } else {
                MockResponse::Output(TransactWriteItemsOutput::builder().build())
            }
        });
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let ledger = MergeLedger::new("requests", "rr-1#dynamodb:live#live#0".into(), chrono::Utc::now());
        let outcome = merge_with(&client, "live", vec![item("a", 1, "x")], Some(&ledger), &FAST)
            .await
            .unwrap();
        assert_eq!((outcome.inserted, outcome.present.len()), (1, 0));
        assert_eq!(outcome.calls, 3, "DescribeTable and two transactions");
        let tries = tries.lock().unwrap();
        assert_eq!(*tries, vec![vec!["live".to_string(), "requests".to_string()]; 2]);
    }

    /// A transaction whose entry an earlier try wrote: cancelled on every condition, and
    /// answered from the entry `stored` (its `keys_sha256`, its counts).
    async fn merged_again(stored: Item) -> Result<MergeOutcome, PortError> {
        let transact = mock!(Client::transact_write_items)
            .then_error(|| cancelled(&[CONDITION_FAILED, CONDITION_FAILED, CONDITION_FAILED]));
        let entry = mock!(Client::get_item)
            .match_requests(|r| r.table_name() == Some("requests") && r.consistent_read() == Some(true))
            .then_output(move || GetItemOutput::builder().set_item(Some(stored.clone())).build());
        let describe = describe();
        let client = client(&[&describe, &transact, &entry]);
        let ledger = MergeLedger::new("requests", "rr-1#dynamodb:live#live#0".into(), chrono::Utc::now());
        let items = vec![item("a", 1, "x"), item("b", 1, "x")];
        merge_with(&client, "live", items, Some(&ledger), &FAST).await
    }

    fn entry(keys: &str) -> Item {
        HashMap::from([
            ("inserted".to_string(), AttributeValue::N("1".into())),
            (
                "present".to_string(),
                AttributeValue::S(r#"[{"pk":"b","sk":1}]"#.into()),
            ),
            ("keys_sha256".to_string(), AttributeValue::S(keys.into())),
        ])
    }

    #[tokio::test]
    async fn a_transaction_an_earlier_try_committed_answers_with_its_entry() {
        let keys = keys_sha256(&[json!({"pk": "a", "sk": 1}), json!({"pk": "b", "sk": 1})]);
        let outcome = merged_again(entry(&keys)).await.unwrap();
        assert_eq!(outcome.inserted, 1);
        assert_eq!(outcome.present, vec![json!({"pk": "b", "sk": 1})]);
        assert_eq!(outcome.calls, 3, "DescribeTable, the transaction, the entry");

        // An entry about other keys (the batch cut differently) is not trusted.
        let other = keys_sha256(&[json!({"pk": "a", "sk": 1})]);
        let err = merged_again(entry(&other)).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert!(err.message.contains("about other items"), "{err}");
    }

    #[tokio::test]
    async fn a_ledger_entry_refused_for_its_own_reason_is_named() {
        let transact =
            mock!(Client::transact_write_items).then_error(|| cancelled(&["None", "ValidationError"]));
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let ledger = MergeLedger::new("requests", "rr-1#dynamodb:live#live#0".into(), chrono::Utc::now());
        let err = merge_with(&client, "live", vec![item("a", 1, "x")], Some(&ledger), &FAST)
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert_eq!(err.resource, "dynamodb:requests");
        assert!(
            err.message
                .contains("entry for transaction 0 was refused: ValidationError"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_throttled_transaction_is_sent_again_with_the_same_token() {
        let seen: Seen = Arc::default();
        let log = seen.clone();
        let transact = mock!(Client::transact_write_items).then_compute_response(move |input| {
            let tries = {
                record(&log, input);
                log.lock().unwrap().len()
            };
            if tries <= 2 {
                MockResponse::Error(throttled())
            } else {
                MockResponse::Output(TransactWriteItemsOutput::builder().build())
            }
        });
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let outcome = merge_with(&client, "live", vec![item("a", 1, "x")], None, &FAST)
            .await
            .unwrap();
        assert_eq!(outcome.inserted, 1);
        assert!(outcome.present.is_empty());
        assert_eq!(outcome.calls, 4);
        let seen = seen.lock().unwrap();
        assert!(seen
            .iter()
            .all(|(_, token)| *token == seen[0].1 && !token.is_empty()));
    }

    #[tokio::test]
    async fn throttling_past_the_tries_fails_retryable_naming_the_table() {
        let transact = mock!(Client::transact_write_items).then_error(throttled);
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let err = merge_with(&client, "live", vec![item("a", 1, "x")], None, &FAST)
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Throttled);
        assert!(err.kind.is_retryable());
        assert_eq!(err.operation, "TransactWriteItems");
        assert_eq!(err.resource, "dynamodb:live");
        assert_eq!(transact.num_calls(), FAST.max_tries as usize);
    }

    #[tokio::test]
    async fn conflicts_in_every_try_end_as_a_retryable_error() {
        // a exists; b is in another transaction on every try.
        let transact = mock!(Client::transact_write_items).then_compute_response(|input| {
            MockResponse::Error(if input.transact_items().len() == 2 {
                cancelled(&[CONDITION_FAILED, "TransactionConflict"])
            } else {
                cancelled(&["TransactionConflict"])
            })
        });
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let items = vec![item("a", 1, "x"), item("b", 1, "x")];
        let err = merge_with(&client, "live", items, None, &FAST).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Throttled, "{err}");
        assert!(err.message.contains("1 items still not written"), "{err}");
        assert_eq!(transact.num_calls(), FAST.max_tries as usize);
    }

    #[tokio::test]
    async fn an_item_refused_by_dynamodb_fails_the_merge_naming_it() {
        let transact =
            mock!(Client::transact_write_items).then_error(|| cancelled(&["None", "ValidationError"]));
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let items = vec![item("a", 1, "x"), item("b", 2, "x")];
        let err = merge_with(&client, "live", items, None, &FAST).await.unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert!(err.message.contains(r#"{"pk":"b","sk":2}"#), "{err}");
        assert!(err.message.contains("ValidationError"), "{err}");
        assert_eq!(transact.num_calls(), 1);
    }

    #[tokio::test]
    async fn items_without_their_key_are_refused_before_any_write() {
        let transact =
            mock!(Client::transact_write_items).then_output(|| TransactWriteItemsOutput::builder().build());
        let describe = describe();
        let client = client(&[&describe, &transact]);
        let mut no_sort_key = item("a", 1, "x");
        no_sort_key.remove("sk");
        let mut text_sort_key = item("b", 1, "x");
        text_sort_key.insert("sk".into(), AttributeValue::S("1".into()));
        let err = merge_with(&client, "live", vec![no_sort_key, text_sort_key], None, &FAST)
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert!(err.message.contains("item 0 lacks the key attribute sk"), "{err}");
        assert!(err.message.contains("item 1: sk must be a number"), "{err}");
        assert_eq!(transact.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_plan_retries_unprocessed_keys_and_names_conflicts() {
        let keys = |items: &[Item]| {
            KeysAndAttributes::builder()
                .set_keys(Some(items.iter().map(|i| schema().key(i)).collect()))
                .build()
                .unwrap()
        };
        let (a, b, c) = (item("a", 1, "x"), item("b", 1, "x"), item("c", 1, "x"));
        let live_b = item("b", 1, "changed after the loss");
        let (a2, b2, c2, live_b2) = (a.clone(), b.clone(), c.clone(), live_b.clone());
        let get = mock!(Client::batch_get_item)
            .sequence()
            .output(move || {
                BatchGetItemOutput::builder()
                    .responses("live", vec![a2.clone()])
                    .unprocessed_keys("live", keys(&[b2.clone(), c2.clone()]))
                    .build()
            })
            .output(move || {
                BatchGetItemOutput::builder()
                    .responses("live", vec![live_b2.clone()])
                    .build()
            })
            .build();
        let describe = describe();
        let client = client(&[&describe, &get]);
        let plan = plan_with(&client, "live", &[a, b, c], &FAST).await.unwrap();
        assert_eq!(plan.to_insert, 1);
        assert_eq!(plan.present, 2);
        assert_eq!(plan.conflicts, vec![json!({"pk": "b", "sk": 1})]);
        assert_eq!(plan.calls, 3);
        assert_eq!(get.num_calls(), 2);
    }

    #[test]
    fn keys_are_checked_against_the_key_schema_naming_index_and_attribute() {
        let keys = vec![
            json!({"sk": 1}),
            json!({"pk": 5, "sk": 1}),
            json!({"pk": "a", "sk": "x"}),
            json!({"pk": "a", "sk": 1, "color": "red"}),
            json!([1]),
            json!({"pk": "", "sk": 1}),
        ];
        let err = check(&ItemSelection::Keys(keys), &schema(), "staging").unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert_eq!(err.resource, "dynamodb:staging");
        for expected in [
            "keys[0] lacks the partition key pk",
            "keys[1].pk must be a non-empty string",
            "keys[2].sk must be a number",
            "keys[3].color is not a key attribute (the key is pk, sk)",
            "keys[4] must be an object",
            "keys[5].pk must be a non-empty string",
        ] {
            assert!(err.message.contains(expected), "{expected:?} in {}", err.message);
        }
    }

    #[test]
    fn binary_keys_are_base64_and_numbers_may_be_strings() {
        let schema = KeySchema {
            partition: KeyAttribute {
                name: "id".into(),
                kind: KeyKind::B,
            },
            sort: Some(KeyAttribute {
                name: "n".into(),
                kind: KeyKind::N,
            }),
        };
        let ok = ItemSelection::Keys(vec![json!({"id": "AP8K", "n": "12345678901234567890123456789"})]);
        let Checked::Keys { full, partitions } = check(&ok, &schema, "t").unwrap() else {
            panic!("keys")
        };
        assert!(partitions.is_empty());
        assert_eq!(full[0]["id"], AttributeValue::B(Blob::new(vec![0, 255, 10])));
        assert_eq!(
            full[0]["n"],
            AttributeValue::N("12345678901234567890123456789".into())
        );
        let bad = ItemSelection::Keys(vec![json!({"id": "not base64!", "n": "1x"})]);
        let err = check(&bad, &schema, "t").unwrap_err();
        assert!(
            err.message
                .contains("keys[0].id must be a non-empty base64 string"),
            "{err}"
        );
        assert!(err.message.contains("keys[0].n must be a number"), "{err}");
    }

    #[test]
    fn a_partition_key_alone_selects_its_collection_once() {
        let keys = vec![
            json!({"pk": "a", "sk": 1}),
            json!({"pk": "a"}),
            json!("a"),
            json!({"pk": "b", "sk": 2}),
            json!({"pk": "b", "sk": 2}),
        ];
        let checked = check(&ItemSelection::Keys(keys), &schema(), "t").unwrap();
        assert_eq!(
            checked,
            Checked::Keys {
                full: vec![HashMap::from([
                    ("pk".to_string(), AttributeValue::S("b".into())),
                    ("sk".to_string(), AttributeValue::N("2".into())),
                ])],
                partitions: vec![AttributeValue::S("a".into())],
            }
        );
    }

    #[test]
    fn filter_names_and_values_are_placeholders_only() {
        let filter: Map<String, Value> = serde_json::from_value(json!({
            "status": "x = :v OR 1=1",
            "sk": 7,
            "a) OR attribute_exists(b": {"nested": [true, null]},
        }))
        .unwrap();
        let Checked::Filter(e) = check(&ItemSelection::Filter(filter.clone()), &schema(), "t").unwrap()
        else {
            panic!("filter")
        };
        assert_eq!(e.text, "#f0 = :v0 AND #f1 = :v1 AND #f2 = :v2");
        // Only placeholders in the expression: neither names nor values.
        for (name, value) in &filter {
            assert!(!e.text.contains(name.as_str()));
            assert!(!value.is_string() || !e.text.contains(value.as_str().unwrap()));
        }
        let value_of = |name: &str| {
            let placeholder = e.names.iter().find(|(_, n)| *n == name).unwrap().0;
            e.values[&placeholder.replace('#', ":").replace(":f", ":v")].clone()
        };
        assert_eq!(value_of("status"), AttributeValue::S("x = :v OR 1=1".into()));
        assert_eq!(value_of("sk"), AttributeValue::N("7".into()));
        assert_eq!(
            value_of("a) OR attribute_exists(b"),
            AttributeValue::M(HashMap::from([(
                "nested".to_string(),
                AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)])
            )]))
        );
        let bad: Map<String, Value> = serde_json::from_value(json!({"sk": "seven"})).unwrap();
        let err = check(&ItemSelection::Filter(bad), &schema(), "t").unwrap_err();
        assert!(err.message.contains("filter.sk must be a number"), "{err}");
    }

    pub(super) fn every_type() -> Item {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S("cust#1".into())),
            ("sk".to_string(), AttributeValue::N("1".into())),
            (
                "s".to_string(),
                AttributeValue::S("Grüße, 東京 \"quoted\"\n".into()),
            ),
            ("empty".to_string(), AttributeValue::S(String::new())),
            ("n".to_string(), AttributeValue::N("-12.5E+3".into())),
            (
                "b".to_string(),
                AttributeValue::B(Blob::new(vec![0, 255, 10, 13])),
            ),
            ("ss".to_string(), AttributeValue::Ss(vec!["b".into(), "a".into()])),
            (
                "ns".to_string(),
                AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
            ),
            (
                "bs".to_string(),
                AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])]),
            ),
            (
                "l".to_string(),
                AttributeValue::L(vec![
                    AttributeValue::S("x".into()),
                    AttributeValue::N("3".into()),
                    AttributeValue::Null(true),
                    AttributeValue::Bool(true),
                    AttributeValue::L(vec![]),
                ]),
            ),
            (
                "m".to_string(),
                AttributeValue::M(HashMap::from([
                    ("inner".to_string(), AttributeValue::M(HashMap::new())),
                    ("flag".to_string(), AttributeValue::Bool(false)),
                    (
                        "bytes".to_string(),
                        AttributeValue::B(Blob::new(b"\x00".to_vec())),
                    ),
                ])),
            ),
            ("null".to_string(), AttributeValue::Null(true)),
            ("bool".to_string(), AttributeValue::Bool(false)),
        ])
    }

    #[test]
    fn every_attribute_type_round_trips_through_the_encoding() {
        let items = vec![every_type(), item("a", 2, "line\nbreak"), HashMap::new()];
        let bytes = encode_items(&items).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.lines().count(), 3, "one line per item: {text}");
        let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["b"], json!({"B": "AP8KDQ=="}));
        assert_eq!(first["ss"], json!({"SS": ["b", "a"]}));
        assert_eq!(first["n"], json!({"N": "-12.5E+3"}));
        assert_eq!(first["null"], json!({"NULL": true}));
        assert_eq!(decode_items(&bytes).unwrap(), items);
    }

    #[test]
    fn a_damaged_extract_is_refused_naming_the_line() {
        for (line, why) in [
            (r#"{"a": {"S": 1}}"#, "S of the wrong shape"),
            (r#"{"a": {"N": "ten"}}"#, "N of the wrong shape"),
            (r#"{"a": {"B": "***"}}"#, "bad base64"),
            (r#"{"a": {"X": "y"}}"#, "unknown type X"),
            (
                r#"{"a": {"S": "x", "N": "1"}}"#,
                "not an object with one type key",
            ),
            (r#"{"a": {"NS": ["1", "x"]}}"#, "NS of the wrong shape"),
            (r#"[1]"#, "not a JSON object"),
        ] {
            let bytes = format!("{{\"ok\": {{\"S\": \"x\"}}}}\n\n{line}\n");
            let err = decode_items(bytes.as_bytes()).unwrap_err();
            assert!(err.message.starts_with("line 3: "), "{err}");
            assert!(err.message.contains(why), "{why:?} in {err}");
        }
    }

    #[test]
    fn numbers_are_checked_and_keys_come_back_as_json() {
        for ok in ["0", "-12", "3.5", ".5", "5.", "1E+10", "-1.5e-3", "+7"] {
            assert!(is_number(ok), "{ok}");
        }
        for bad in ["", "-", ".", "1e", "e5", "1.2.3", "0x10", "NaN", "1 "] {
            assert!(!is_number(bad), "{bad}");
        }
        assert_eq!(number_json("42"), json!(42));
        assert_eq!(number_json("-1.5"), json!(-1.5));
        assert_eq!(number_json("1.50"), json!("1.50"));
        assert_eq!(
            number_json("12345678901234567890123456789"),
            json!("12345678901234567890123456789")
        );
    }

    #[test]
    fn transactions_hold_at_most_25_items_and_4_mb() {
        let small: Vec<Item> = (0..60).map(|i| item("a", i, "x")).collect();
        let sizes: Vec<usize> = transactions(small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [25, 25, 10]);
        let big = |i| {
            let mut it = item("b", i, "x");
            it.insert("blob".into(), AttributeValue::B(Blob::new(vec![0; 1_500_000])));
            it
        };
        let sizes: Vec<usize> = transactions((0..5).map(big).collect())
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[test]
    fn request_tokens_are_fresh_and_short_enough() {
        assert_ne!(request_token(), request_token());
        assert!(request_token().len() <= 36);
    }

    #[test]
    fn cancellation_reasons_that_do_not_match_the_items_are_refused() {
        let reasons = vec![(Some("None".to_string()), None)];
        let err = sort_cancelled(
            "live",
            &schema(),
            vec![item("a", 1, "x"), item("b", 1, "x")],
            &reasons,
            false,
        )
        .unwrap_err();
        assert_eq!(err.kind, FailureKind::Refused);
        assert!(err.message.contains("1 reasons for 2 items"), "{err}");
    }

    /// The executor runs them in Lambda handlers, which need `Send` futures.
    #[test]
    fn the_futures_are_send() {
        fn send<T: Send>(_: T) {}
        let client = client(&[]);
        send(select_items(
            &client,
            "staging",
            "live",
            &ItemSelection::Missing,
            10,
            |_| async { Ok(()) },
        ));
        send(plan_items(&client, "live", &[]));
        send(merge_items(&client, "live", Vec::new(), None));
    }

    #[test]
    fn records_of_a_decision_become_a_selection() {
        let filter = Map::from_iter([("status".to_string(), json!("open"))]);
        assert_eq!(
            ItemSelection::from_records(&Records::Keys(vec![json!("a")])),
            ItemSelection::Keys(vec![json!("a")])
        );
        assert_eq!(
            ItemSelection::from_records(&Records::Filter(filter.clone())),
            ItemSelection::Filter(filter)
        );
        assert_eq!(
            ItemSelection::from_records(&Records::Missing(true)),
            ItemSelection::Missing
        );
    }
}
