//! Selecting: the selected items read from staging and handed over in pages of a bounded
//! size, by key (`BatchGetItem`, `Query` for an item collection), by filter (a parallel
//! `Scan`), or as the items the live table lacks (each page checked against it).

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, BoxStream, Stream, StreamExt, TryStreamExt};

use super::key_schema::{key_schema_counted, KeySchema};
use super::selection::{check, Checked, Expression};
use super::{resource, Calls, Ctx, ItemSelection, SelectStats};
use crate::dynamodb_items::{get_items, key_of, Backoff, Item, CONCURRENCY, GET_BATCH, SEGMENTS};
use crate::port_error;
use lifeboat::ports::{FailureKind, PortError};

pub(super) type Pages<'a> = BoxStream<'a, Result<Vec<Item>, PortError>>;

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

pub(super) async fn select_with<F, Fut>(
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
    pub(super) fn kind(&self) -> &'static str {
        match self {
            ItemSelection::Keys(_) => "keys",
            ItemSelection::Filter(_) => "filter",
            ItemSelection::Missing => "missing",
        }
    }
}

/// Gathers items into pages of exactly `size` (but the last) for the callback.
pub(super) struct PageSink<'f, F> {
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
    pub(super) async fn push(&mut self, items: Vec<Item>) -> Result<(), PortError> {
        self.buffer.extend(items);
        while self.buffer.len() >= self.size {
            let rest = self.buffer.split_off(self.size);
            let page = std::mem::replace(&mut self.buffer, rest);
            self.hand_over(page).await?;
        }
        Ok(())
    }

    pub(super) async fn finish(&mut self) -> Result<(), PortError> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let page = std::mem::take(&mut self.buffer);
        self.hand_over(page).await
    }

    pub(super) async fn hand_over(&mut self, page: Vec<Item>) -> Result<(), PortError> {
        self.pages += 1;
        self.items += page.len();
        (self.each_page)(page).await
    }
}

impl<'a> Ctx<'a> {
    /// The pages of one segment of a scan of `table`, one call per page.
    pub(super) fn scan_pages(
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
    pub(super) fn query_pages(
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
    pub(super) async fn absent_from(
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
    pub(super) async fn batch_get(
        self,
        table: &str,
        keys: Vec<Item>,
        read: Read<'_>,
    ) -> Result<Vec<Item>, PortError> {
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
pub(super) enum Read<'a> {
    /// Whole items of the staging table, which nothing writes: eventually consistent reads
    /// (half the read capacity) see all of it.
    Staging,
    /// Whole items of the live table, strongly consistent: what is there now.
    LiveItems,
    /// Only the key attributes of the live table, strongly consistent: a presence check.
    LiveKeys(&'a KeySchema),
}

/// The next page's start, `None` after the last page.
pub(super) fn next_start(last: Option<Item>) -> Option<Option<Item>> {
    last.filter(|k| !k.is_empty()).map(Some)
}
