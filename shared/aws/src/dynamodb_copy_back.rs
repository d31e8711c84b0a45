//! A DynamoDB copy-back, one [`Shard`] at a time: bringing a target table (the live table)
//! to a source table's content (staging's, or the pre-swap backup's for an undo), or only
//! comparing the two (verification).
//!
//! A shard scans one segment of one side, a page at a time:
//! - the source's side reads each page's items from the target (strongly consistent
//!   `BatchGetItem`s) and puts those the target lacks or holds differently;
//! - the target's side reads each page's keys from the source and deletes those the source
//!   lacks.
//!
//! The two sides never write the same item, so every shard runs alongside the others. After
//! each page the shard's checkpoint (`copyback#<request>#<shard>` in the requests table: the
//! scan's position and the counts) is written, conditional on the page count it read, so a
//! shard run again (after a crash, a timeout or a retry) resumes after its last page, and of
//! two runs of one shard only one goes on. A checkpoint is written before the first page's
//! writes: a copy-back with no checkpoint has written nothing. Writing only what differs makes
//! a page done twice harmless.
//!
//! The number of segments is fixed by the copy-back's plan (`copyback#<request>#<resource>#
//! <purpose>`), written once from the larger table's size, so every later look finds the same
//! shards. Plans and checkpoints expire with the requests table's TTL after 30 days.
//!
//! A copy-back can be fenced (its plan marked): an undo fences the swap first, because shards
//! may still run after the state machine gave up on them. That no write of the swap lands
//! after the undo begins writing holds for certain, not by a guess at how long a page takes:
//! 1. Every write batch (one `BatchWriteItem` of at most 25 items, with its retries) starts
//!    with a strongly consistent read of the fence, and a fenced batch writes nothing. A
//!    batch let through was read before the fence was in place.
//! 2. No call of a batch is sent later than [`WriteBounds::batch`] after the start of that
//!    read, and the SDK gives each call up by then (its operation timeout is the time left):
//!    so every request of the swap is sent before the fence was in place plus the bound.
//! 3. The undo records when it saw its fence in place (`fence_seen_at`, taken after the
//!    fence's write was acknowledged or read back), and writes nothing before
//!    [`WriteBounds::undo_wait`] after it: the bound, and a margin for a request already sent
//!    to be applied by the service and for the clocks of two invocations to differ.
//!
//! A shard also reads the fence before each page, so a fenced shard stops reading too.
//!
//! A shard's source (staging, or an undo's fallback) is the table pinned for it, proven so by
//! the caller before the run. Every page is proven read from it: after the page's reads and
//! before its writes and its checkpoint, the source is described again (one `DescribeTable`
//! a page) and must still have the pinned `TableId` and creation time. A deleted table's
//! `TableId` never comes back, so the pinned table before and after the reads means they
//! came from it; otherwise the shard fails [`FailureKind::NotOurs`], writing nothing of the
//! page and never finishing.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use tokio::time::Instant;

use super::dynamodb_items::{
    get_items, item_text, key_of, write_items, Backoff, Item, CONCURRENCY, GET_BATCH, WRITE_BATCH,
};
use super::dynamodb_merge::{decode_items, encode_items, key_schema, KeySchema};
use super::dynamodb_provenance::Described;
use super::{port_error, utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::identity::{Identity, Made};
use lifeboat::execution::shard::{segments_for, Purpose, Shard, Side};
use lifeboat::ports::{FailureKind, PortError};

/// How long plans and checkpoints are kept (the requests table's TTL attribute).
const KEPT_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Sample keys kept per shard of differences found.
const SAMPLES: usize = 10;

/// Where a shard stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Checkpoint {
    /// Pages done.
    pub pages: u64,
    /// Where the scan goes on (`None` before the first page, and when done).
    pub cursor: Option<Item>,
    pub done: bool,
    /// Items (or keys) read from the shard's side.
    pub scanned: u64,
    /// Items put (source side) or deleted (target side).
    pub written: u64,
    /// Items that differed: on the source side, missing from the target or different there;
    /// on the target side, absent from the source.
    pub differing: u64,
    /// Some of the differing keys, as JSON.
    pub samples: Vec<String>,
}

/// How long a copy-back's writes can go on after a fence read that let them through, and so
/// how long an undo waits after fencing before it writes (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBounds {
    /// From the start of a write batch's fence read, the latest its last call is sent and
    /// given up (a batch throttled past it fails, and its page is done again by the shard's
    /// next run).
    pub batch: Duration,
    /// For a request already sent to be applied by the service, and for the clocks of the
    /// undo's invocations to differ: seconds, where the bound is a minute.
    pub margin: Duration,
}

impl WriteBounds {
    /// Batches bounded to `batch`, with half as much again as the margin.
    pub fn of_batch(batch: Duration) -> WriteBounds {
        WriteBounds {
            batch,
            margin: batch / 2,
        }
    }

    /// How long after seeing its fence in place an undo waits before it writes anything.
    pub fn undo_wait(&self) -> Duration {
        self.batch + self.margin
    }
}

impl Default for WriteBounds {
    /// A batch's eight tries with their backoffs take seconds; throttled for a minute it
    /// gives up rather than go on past what the undo waits for.
    fn default() -> Self {
        WriteBounds::of_batch(Duration::from_secs(60))
    }
}

/// The table a shard copies from (or compares with): proven the one pinned as `made`, of
/// `identity`, just before the shard's run.
#[derive(Debug, Clone, Copy)]
pub struct PinnedSource<'a> {
    pub table: &'a str,
    pub made: Made,
    pub identity: &'a Identity,
}

/// The copy-backs of one request's resources, their plans and checkpoints.
pub struct CopyBack<'a> {
    pub client: &'a Client,
    /// The requests table, which keeps the plans and checkpoints.
    pub ledger: &'a str,
    pub request_id: &'a str,
    /// Items per scanned page (`None`: DynamoDB's 1 MB pages).
    pub page_items: Option<i32>,
    pub bounds: WriteBounds,
}

impl CopyBack<'_> {
    fn plan_id(&self, resource: &ResourceKey, purpose: Purpose) -> String {
        format!("copyback#{}#{resource}#{}", self.request_id, purpose.as_str())
    }

    fn checkpoint_id(&self, shard: &Shard) -> String {
        format!("copyback#{}#{}", self.request_id, shard.label())
    }

    /// The segments of the copy-back of `resource` for `purpose`, if it was planned.
    pub async fn planned(&self, resource: &ResourceKey, purpose: Purpose) -> Result<Option<u32>, PortError> {
        let item = self.get(&self.plan_id(resource, purpose)).await?;
        Ok(item
            .and_then(|i| number(&i, "segments"))
            .and_then(|n| u32::try_from(n).ok()))
    }

    /// Plans the copy-back of `resource` for `purpose` from the size of the larger of
    /// `tables` (the source and the target), once: a plan already written stands. Its shards.
    pub async fn plan(
        &self,
        resource: &ResourceKey,
        purpose: Purpose,
        tables: [&str; 2],
    ) -> Result<Vec<Shard>, PortError> {
        if let Some(segments) = self.planned(resource, purpose).await? {
            return Ok(Shard::all(resource, purpose, segments));
        }
        let mut bytes = 0;
        for table in tables {
            bytes = bytes.max(self.size_of(table).await?);
        }
        let segments = segments_for(bytes);
        let mut item = self.stamped(&self.plan_id(resource, purpose));
        item.insert("segments".into(), n(u64::from(segments)));
        match self.put_new(item).await {
            Ok(()) => Ok(Shard::all(resource, purpose, segments)),
            // Planned meanwhile by another try: that plan stands.
            Err(e) if e.kind == FailureKind::Conflict => {
                let segments = self.planned(resource, purpose).await?.ok_or(e)?;
                Ok(Shard::all(resource, purpose, segments))
            }
            Err(e) => Err(e),
        }
    }

    /// DynamoDB's figure of `table`'s size (updated about every six hours).
    async fn size_of(&self, table: &str) -> Result<u64, PortError> {
        let bytes = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| port_error("DescribeTable", format!("dynamodb:{table}"), e))?
            .table()
            .and_then(|t| t.table_size_bytes())
            .unwrap_or(0);
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// Stops the copy-back of `resource` for `purpose`: every shard checks the fence before
    /// each page and each write batch and, fenced, writes nothing more. When the fence was
    /// first seen in place (now, or by an earlier try): no batch let through before it sends
    /// anything after it plus [`WriteBounds::batch`]. `None` when it was never planned (so no
    /// shard of it ever ran).
    pub async fn fence(
        &self,
        resource: &ResourceKey,
        purpose: Purpose,
    ) -> Result<Option<DateTime<Utc>>, PortError> {
        let id = self.plan_id(resource, purpose);
        let Some(plan) = self.get(&id).await? else {
            return Ok(None);
        };
        if let Some(at) = time_of(&plan, "fence_seen_at") {
            return Ok(Some(at));
        }
        if fenced_at(&plan).is_none() {
            let set = self
                .set_once(&id, "fenced_at", Utc::now(), "attribute_exists(id)")
                .await;
            match set {
                // Fenced meanwhile by another try: in place all the same.
                Ok(()) => {}
                Err(e) if e.kind == FailureKind::Conflict => {}
                Err(e) => return Err(e),
            }
        }
        // Acknowledged or read back: in place before this moment.
        match self
            .set_once(&id, "fence_seen_at", Utc::now(), "attribute_exists(fenced_at)")
            .await
        {
            // Seen by another try first: that time stands.
            Err(e) if e.kind != FailureKind::Conflict => return Err(e),
            _ => {}
        }
        Ok(self
            .get(&id)
            .await?
            .as_ref()
            .and_then(|p| time_of(p, "fence_seen_at")))
    }

    /// When the fence of the copy-back of `resource` for `purpose` was first seen in place,
    /// if it was: read only, never fencing.
    pub async fn fence_seen(
        &self,
        resource: &ResourceKey,
        purpose: Purpose,
    ) -> Result<Option<DateTime<Utc>>, PortError> {
        let plan = self.get(&self.plan_id(resource, purpose)).await?;
        Ok(plan.as_ref().and_then(|p| time_of(p, "fence_seen_at")))
    }

    /// Sets `attribute` of the plan `id` to `at`, unless it is set already (a conflict).
    async fn set_once(
        &self,
        id: &str,
        attribute: &str,
        at: DateTime<Utc>,
        also: &str,
    ) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(self.ledger)
            .key("id", AttributeValue::S(id.to_string()))
            .update_expression("SET #a = :at")
            .condition_expression(format!("{also} AND attribute_not_exists(#a)"))
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":at", AttributeValue::S(at.to_rfc3339()))
            .send()
            .await
            .map_err(|e| port_error("UpdateItem", id, e))?;
        Ok(())
    }

    async fn fenced(&self, shard: &Shard) -> Result<bool, PortError> {
        let plan = self.get(&self.plan_id(&shard.resource, shard.purpose)).await?;
        Ok(plan.as_ref().and_then(fenced_at).is_some())
    }

    /// An error if `shard`'s copy-back is fenced.
    async fn stop_if_fenced(&self, shard: &Shard) -> Result<(), PortError> {
        if self.fenced(shard).await? {
            return Err(PortError::new(
                "copy-back",
                shard.label(),
                FailureKind::Refused,
                "the copy-back was stopped (its undo has begun): nothing more is written",
            ));
        }
        Ok(())
    }

    /// Each shard's checkpoint (`None`: the shard has not started).
    pub async fn checkpoints(&self, shards: &[Shard]) -> Result<Vec<Option<Checkpoint>>, PortError> {
        let ids: Vec<String> = shards.iter().map(|s| self.checkpoint_id(s)).collect();
        let mut found: HashMap<String, Checkpoint> = HashMap::new();
        for chunk in ids.chunks(GET_BATCH) {
            let keys = chunk
                .iter()
                .map(|id| HashMap::from([("id".to_string(), AttributeValue::S(id.clone()))]))
                .collect();
            let request = KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|e| {
                    PortError::new("BatchGetItem", self.ledger, FailureKind::Refused, e.to_string())
                })?;
            for item in get_items(self.client, self.ledger, request, &Backoff::default(), &|| {}).await? {
                let id = text(&item, "id").unwrap_or_default().to_string();
                found.insert(id, decode_checkpoint(&item)?);
            }
        }
        Ok(ids.iter().map(|id| found.remove(id)).collect())
    }

    /// Runs `shard` between `source` and `target` until it is done or `budget` has passed;
    /// whether it is done. `NotOurs` once a page may have been read from a table other than
    /// the source pinned, with nothing of that page written.
    pub async fn run(
        &self,
        shard: &Shard,
        pinned: &PinnedSource<'_>,
        target: &str,
        budget: Duration,
    ) -> Result<bool, PortError> {
        let source = pinned.table;
        let started = Instant::now();
        let id = self.checkpoint_id(shard);
        let mut checkpoint = match self.load(&id).await? {
            Some(c) => c,
            None => {
                // On record before anything is written: no checkpoint, nothing written.
                let fresh = Checkpoint::default();
                match self.save(&id, &fresh, None).await {
                    Ok(()) => fresh,
                    Err(e) if e.kind == FailureKind::Conflict => return Ok(false),
                    Err(e) => return Err(e),
                }
            }
        };
        if checkpoint.done {
            return Ok(true);
        }
        let schema = key_schema(self.client, target).await?;
        let (scanned_table, other_table) = match shard.side {
            Side::Source => (source, target),
            Side::Target => (target, source),
        };
        loop {
            self.stop_if_fenced(shard).await?;
            let (page, next) = self
                .scan_page(shard, scanned_table, &schema, checkpoint.cursor.take())
                .await?;
            let differing = match shard.side {
                Side::Source => self.differing_items(other_table, &schema, &page).await?,
                Side::Target => self.missing_keys(other_table, &schema, &page).await?,
            };
            // Pinned before the page's reads (by the caller, or after the page before) and
            // after them: read from the pinned table, or nothing of the page is kept.
            self.still_pinned(shard, pinned).await?;
            if shard.purpose.writes() {
                self.write(shard, target, &differing).await?;
                checkpoint.written += differing.len() as u64;
            }
            let read_pages = checkpoint.pages;
            checkpoint.pages += 1;
            checkpoint.scanned += page.len() as u64;
            checkpoint.differing += differing.len() as u64;
            for item in differing
                .iter()
                .take(SAMPLES.saturating_sub(checkpoint.samples.len()))
            {
                checkpoint.samples.push(schema.key_json(item).to_string());
            }
            checkpoint.done = next.is_none();
            checkpoint.cursor = next;
            match self.save(&id, &checkpoint, Some(read_pages)).await {
                Ok(()) => {}
                // Another run of this shard is ahead: it goes on, this one stops.
                Err(e) if e.kind == FailureKind::Conflict => return Ok(false),
                Err(e) => return Err(e),
            }
            if checkpoint.done {
                tracing::info!(shard = %shard.label(), pages = checkpoint.pages, scanned = checkpoint.scanned, written = checkpoint.written, differing = checkpoint.differing, "shard done");
                return Ok(true);
            }
            if started.elapsed() >= budget {
                return Ok(false);
            }
        }
    }

    /// `NotOurs` unless the table by the source's name is still the one pinned (its `TableId`
    /// and creation time): one `DescribeTable`.
    async fn still_pinned(&self, shard: &Shard, source: &PinnedSource<'_>) -> Result<(), PortError> {
        let table = source.table;
        let described = self.client.describe_table().table_name(table).send().await;
        let why = match described {
            Ok(out) => {
                let found = out.table().map(|t| Described {
                    table_id: t.table_id().map(str::to_string),
                    created: t.creation_date_time().and_then(utc),
                    ..Described::default()
                });
                // A table being deleted keeps its id and may still answer reads, but not
                // all of them: what it returned is no proof of staging's content.
                let deleting = (out.table().and_then(|t| t.table_status()))
                    .is_some_and(|s| *s == aws_sdk_dynamodb::types::TableStatus::Deleting);
                match found.map(|d| d.identity()) {
                    _ if deleting => Some("it is being deleted".into()),
                    Some(Ok(found)) => source.identity.differs(&found),
                    Some(Err(why)) => Some(why),
                    None => Some("DynamoDB describes no table by the name".into()),
                }
            }
            Err(e) => {
                let e = port_error("DescribeTable", format!("dynamodb:{table}"), e);
                if e.kind != FailureKind::NotFound {
                    return Err(e);
                }
                Some("it is gone".into())
            }
        };
        match why {
            None => Ok(()),
            Some(why) => Err(PortError::new(
                "copy-back",
                format!("dynamodb:{table}"),
                FailureKind::NotOurs,
                format!(
                    "shard {}: the page just read may not have come from the {} table pinned, so nothing of it is written: {why}",
                    shard.label(),
                    source.made.as_str()
                ),
            )),
        }
    }

    /// One page of the shard's segment of `table` (only the keys on the target's side); the
    /// position after it, `None` after the last page.
    async fn scan_page(
        &self,
        shard: &Shard,
        table: &str,
        schema: &KeySchema,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), PortError> {
        let segments = i32::try_from(shard.segments).unwrap_or(i32::MAX);
        let segment = i32::try_from(shard.segment).unwrap_or(i32::MAX);
        let mut scan = self
            .client
            .scan()
            .table_name(table)
            .segment(segment)
            .total_segments(segments)
            .consistent_read(true)
            .set_limit(self.page_items)
            .set_exclusive_start_key(start);
        if shard.side == Side::Target {
            let (projection, names) = schema.projection();
            scan = scan
                .projection_expression(projection)
                .set_expression_attribute_names(Some(names));
        }
        let out = scan
            .send()
            .await
            .map_err(|e| port_error("Scan", format!("dynamodb:{table}"), e))?;
        let next = out.last_evaluated_key().filter(|k| !k.is_empty()).cloned();
        Ok((out.items.unwrap_or_default(), next))
    }

    /// The items of `page` (the source's) that `target` lacks or holds differently.
    async fn differing_items(
        &self,
        target: &str,
        schema: &KeySchema,
        page: &[Item],
    ) -> Result<Vec<Item>, PortError> {
        let names = schema.names();
        let held: HashMap<String, String> = self
            .read(target, schema, page, false)
            .await?
            .iter()
            .map(|i| (key_of(i, &names), item_text(i)))
            .collect();
        Ok(page
            .iter()
            .filter(|i| held.get(&key_of(i, &names)) != Some(&item_text(i)))
            .cloned()
            .collect())
    }

    /// The keys of `page` (the target's) that `source` lacks.
    async fn missing_keys(
        &self,
        source: &str,
        schema: &KeySchema,
        page: &[Item],
    ) -> Result<Vec<Item>, PortError> {
        let names = schema.names();
        let present: HashSet<String> = self
            .read(source, schema, page, true)
            .await?
            .iter()
            .map(|i| key_of(i, &names))
            .collect();
        Ok(page
            .iter()
            .filter(|i| !present.contains(&key_of(i, &names)))
            .map(|i| schema.key(i))
            .collect())
    }

    /// What `table` holds of the keys of `items`, strongly consistent (only the keys when
    /// `keys_only`).
    async fn read(
        &self,
        table: &str,
        schema: &KeySchema,
        items: &[Item],
        keys_only: bool,
    ) -> Result<Vec<Item>, PortError> {
        let mut requests = Vec::new();
        for chunk in items.chunks(GET_BATCH) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|i| schema.key(i)).collect()))
                .consistent_read(true);
            if keys_only {
                let (projection, names) = schema.projection();
                request = request
                    .projection_expression(projection)
                    .set_expression_attribute_names(Some(names));
            }
            requests.push(
                request.build().map_err(|e| {
                    PortError::new("BatchGetItem", table, FailureKind::Refused, e.to_string())
                })?,
            );
        }
        let backoff = Backoff::default();
        let found: Vec<Vec<Item>> = futures::stream::iter(requests)
            .map(|request| get_items(self.client, table, request, &backoff, &|| {}))
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Puts (source side) or deletes (target side) `items` in `target`, each batch only if
    /// the fence, read just before it, lets it through, and within the bound from that read.
    async fn write(&self, shard: &Shard, target: &str, items: &[Item]) -> Result<(), PortError> {
        let refused = |e: aws_sdk_dynamodb::error::BuildError| {
            PortError::new(
                "BatchWriteItem",
                format!("dynamodb:{target}"),
                FailureKind::Refused,
                e.to_string(),
            )
        };
        let requests: Vec<WriteRequest> = items
            .iter()
            .map(|item| match shard.side {
                Side::Source => PutRequest::builder()
                    .set_item(Some(item.clone()))
                    .build()
                    .map(|p| WriteRequest::builder().put_request(p).build()),
                Side::Target => DeleteRequest::builder()
                    .set_key(Some(item.clone()))
                    .build()
                    .map(|d| WriteRequest::builder().delete_request(d).build()),
            })
            .collect::<Result<_, _>>()
            .map_err(refused)?;
        let backoff = Backoff::default();
        let backoff = &backoff;
        futures::stream::iter(requests.chunks(WRITE_BATCH).map(<[WriteRequest]>::to_vec))
            .map(|batch| async move {
                let read_at = Instant::now();
                self.stop_if_fenced(shard).await?;
                write_items(self.client, target, batch, backoff, read_at + self.bounds.batch).await
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn load(&self, id: &str) -> Result<Option<Checkpoint>, PortError> {
        self.get(id).await?.map(|i| decode_checkpoint(&i)).transpose()
    }

    pub(crate) async fn get(&self, id: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(self.ledger)
            .key("id", AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("GetItem", id, e))?;
        Ok(out.item)
    }

    /// Writes `checkpoint`, if the stored one has done `read_pages` pages (`None`: if there
    /// is none).
    async fn save(
        &self,
        id: &str,
        checkpoint: &Checkpoint,
        read_pages: Option<u64>,
    ) -> Result<(), PortError> {
        let mut item = self.stamped(id);
        item.insert("pages".into(), n(checkpoint.pages));
        item.insert("done".into(), AttributeValue::Bool(checkpoint.done));
        item.insert("scanned".into(), n(checkpoint.scanned));
        item.insert("written".into(), n(checkpoint.written));
        item.insert("differing".into(), n(checkpoint.differing));
        if !checkpoint.samples.is_empty() {
            let samples = checkpoint
                .samples
                .iter()
                .cloned()
                .map(AttributeValue::S)
                .collect();
            item.insert("samples".into(), AttributeValue::L(samples));
        }
        if let Some(cursor) = &checkpoint.cursor {
            let encoded = encode_items(std::slice::from_ref(cursor))?;
            item.insert(
                "cursor".into(),
                AttributeValue::S(String::from_utf8_lossy(&encoded).into_owned()),
            );
        }
        let Some(read_pages) = read_pages else {
            return self.put_new(item).await;
        };
        self.client
            .put_item()
            .table_name(self.ledger)
            .set_item(Some(item))
            .condition_expression("pages = :read")
            .expression_attribute_values(":read", n(read_pages))
            .send()
            .await
            .map_err(|e| port_error("PutItem", id, e))?;
        Ok(())
    }

    pub(crate) async fn put_new(&self, item: Item) -> Result<(), PortError> {
        let id = text(&item, "id").unwrap_or_default().to_string();
        self.client
            .put_item()
            .table_name(self.ledger)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| port_error("PutItem", id, e))?;
        Ok(())
    }

    /// An item with its id, the time and its expiry.
    pub(crate) fn stamped(&self, id: &str) -> Item {
        let now = Utc::now();
        let expires = now.timestamp().max(0) as u64 + KEPT_FOR.as_secs();
        HashMap::from([
            ("id".to_string(), AttributeValue::S(id.to_string())),
            ("updated_at".to_string(), AttributeValue::S(now.to_rfc3339())),
            ("expires_at".to_string(), n(expires)),
        ])
    }
}

/// What a copy-back's checkpoints add up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub shards: usize,
    pub done: usize,
    pub scanned_source: u64,
    /// Keys read from the target's side.
    pub scanned_target: u64,
    pub written: u64,
    /// Source items the target lacks or holds differently.
    pub missing_or_different: u64,
    /// Target items the source lacks.
    pub extra: u64,
    pub samples: Vec<String>,
}

impl Tally {
    pub fn of(shards: &[Shard], checkpoints: &[Option<Checkpoint>]) -> Tally {
        let mut tally = Tally {
            shards: shards.len(),
            ..Tally::default()
        };
        for (shard, checkpoint) in shards.iter().zip(checkpoints) {
            let Some(c) = checkpoint else { continue };
            tally.done += usize::from(c.done);
            tally.written += c.written;
            match shard.side {
                Side::Source => {
                    tally.scanned_source += c.scanned;
                    tally.missing_or_different += c.differing;
                }
                Side::Target => {
                    tally.scanned_target += c.scanned;
                    tally.extra += c.differing;
                }
            }
            for s in &c.samples {
                if tally.samples.len() < SAMPLES {
                    tally.samples.push(s.clone());
                }
            }
        }
        tally
    }

    pub fn all_done(&self) -> bool {
        self.done == self.shards
    }
}

/// The shards of `shards` whose checkpoint is not done.
pub fn unfinished(shards: Vec<Shard>, checkpoints: &[Option<Checkpoint>]) -> Vec<Shard> {
    shards
        .into_iter()
        .zip(checkpoints)
        .filter(|(_, c)| !c.as_ref().is_some_and(|c| c.done))
        .map(|(s, _)| s)
        .collect()
}

fn decode_checkpoint(item: &Item) -> Result<Checkpoint, PortError> {
    let cursor = match text(item, "cursor") {
        Some(encoded) => decode_items(encoded.as_bytes())?.into_iter().next(),
        None => None,
    };
    Ok(Checkpoint {
        pages: number(item, "pages").unwrap_or(0),
        cursor,
        done: matches!(item.get("done"), Some(AttributeValue::Bool(true))),
        scanned: number(item, "scanned").unwrap_or(0),
        written: number(item, "written").unwrap_or(0),
        differing: number(item, "differing").unwrap_or(0),
        samples: match item.get("samples") {
            Some(AttributeValue::L(list)) => list.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
            _ => Vec::new(),
        },
    })
}

fn fenced_at(plan: &Item) -> Option<DateTime<Utc>> {
    time_of(plan, "fenced_at")
}

fn time_of(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    text(item, name)?.parse().ok()
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn number(item: &Item, name: &str) -> Option<u64> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat::execution::shard::Purpose;

    #[test]
    fn an_undo_waits_out_the_bound_on_every_write_batch_and_a_margin() {
        let bounds = WriteBounds::default();
        assert_eq!(bounds.batch, Duration::from_secs(60));
        assert_eq!(bounds.undo_wait(), Duration::from_secs(90));
        let local = WriteBounds::of_batch(Duration::from_secs(2));
        assert_eq!(local.undo_wait(), Duration::from_secs(3));
        assert!(
            local.undo_wait() > local.batch,
            "never less than the bound itself"
        );
    }

    #[test]
    fn a_tally_adds_up_both_sides_and_knows_what_is_left() {
        let resource = ResourceKey::dynamodb("orders");
        let shards = Shard::all(&resource, Purpose::Verify, 2);
        let done = |differing, samples: &[&str]| {
            Some(Checkpoint {
                pages: 1,
                done: true,
                scanned: 10,
                differing,
                samples: samples.iter().map(|s| s.to_string()).collect(),
                ..Checkpoint::default()
            })
        };
        let checkpoints = vec![
            done(1, &[r#"{"pk":"a"}"#]),
            done(0, &[]),
            done(2, &[r#"{"pk":"x"}"#]),
            None,
        ];
        let tally = Tally::of(&shards, &checkpoints);
        assert_eq!((tally.done, tally.shards), (3, 4));
        assert!(!tally.all_done());
        assert_eq!(tally.scanned_source, 20);
        assert_eq!((tally.missing_or_different, tally.extra), (1, 2));
        assert_eq!(tally.samples, [r#"{"pk":"a"}"#, r#"{"pk":"x"}"#]);
        assert_eq!(unfinished(shards.clone(), &checkpoints), vec![shards[3].clone()]);
    }

    /// `still_pinned` against one `DescribeTable` answer of `status`, for the pinned table.
    async fn pinned_check(status: aws_sdk_dynamodb::types::TableStatus) -> Result<(), PortError> {
        use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
        use aws_sdk_dynamodb::types::TableDescription;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};
        let created = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z").unwrap();
        let pinned = Identity {
            id: "t-1".into(),
            created: Some(created.with_timezone(&chrono::Utc)),
        };
        let rule = mock!(Client::describe_table).then_output(move || {
            let table = TableDescription::builder()
                .table_name("lbs-x-orders")
                .table_id("t-1")
                .creation_date_time(aws_sdk_dynamodb::primitives::DateTime::from_secs(
                    created.timestamp(),
                ))
                .table_status(status.clone())
                .build();
            DescribeTableOutput::builder().table(table).build()
        });
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let copy_back = CopyBack {
            client: &client,
            ledger: "requests",
            request_id: "r",
            page_items: None,
            bounds: WriteBounds::default(),
        };
        let shard = &Shard::all(&ResourceKey::dynamodb("orders"), Purpose::Swap, 1)[0];
        let source = PinnedSource {
            table: "lbs-x-orders",
            made: Made::Staging,
            identity: &pinned,
        };
        copy_back.still_pinned(shard, &source).await
    }

    #[tokio::test]
    async fn a_page_read_from_the_pinned_table_while_it_is_being_deleted_proves_nothing() {
        use aws_sdk_dynamodb::types::TableStatus;
        pinned_check(TableStatus::Active)
            .await
            .expect("the pinned table, active");
        let e = pinned_check(TableStatus::Deleting).await.unwrap_err();
        assert_eq!(e.kind, FailureKind::NotOurs, "{e}");
        assert!(e.message.contains("being deleted"), "{e}");
    }
}
