//! Merging: items written with `TransactWriteItems` of puts conditional on the key being
//! absent, so nothing in the live table is ever overwritten; failed conditions counted as
//! present, capacity errors and conflicts retried after a backoff with the same token.

use std::collections::HashSet;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::Value;

use super::key_schema::{key_schema_counted, KeySchema};
use super::ledger::{keys_sha256, Entry, MergeLedger};
use super::plan::check_item_keys;
use super::{resource, Calls, Ctx, MergeOutcome};
use crate::dynamodb_items::{is_capacity_error, key_of, Backoff, Item, CONCURRENCY};
use crate::port_error;
use lifeboat::ports::{FailureKind, PortError};

/// Puts per transaction. `TransactWriteItems` takes up to 100, but a smaller transaction
/// makes the retry after a failed condition (or a conflict) cheaper and stays far from the
/// 4 MB limit on a transaction's items.
pub(super) const TRANSACTION_ITEMS: usize = 25;
/// A transaction's items may not exceed 4 MB (by DynamoDB's item size rules).
pub(super) const TRANSACTION_BYTES: usize = 4_000_000;
/// Cancellation reasons of one item of a transaction that a retry can overcome.
pub(super) const CAPACITY_REASONS: &[&str] = &[
    "ProvisionedThroughputExceeded",
    "ThrottlingError",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflict",
];
/// The cancellation reason of an item whose condition failed: its key is in the live table.
pub(super) const CONDITION_FAILED: &str = "ConditionalCheckFailed";

/// A fresh `ClientRequestToken`: the same token is sent again only with the same
/// transaction, after an error that left its outcome unknown or in progress, so that
/// DynamoDB applies it at most once.
pub(super) fn request_token() -> String {
    format!("lb-{}", uuid::Uuid::new_v4().simple())
}

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

pub(super) async fn merge_with(
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
pub(super) fn transactions(items: Vec<Item>) -> Vec<Vec<Item>> {
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
pub(super) fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub(super) fn value_size(value: &AttributeValue) -> usize {
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
    pub(super) async fn merge_transaction(
        self,
        table: &str,
        schema: &KeySchema,
        mut pending: Vec<Item>,
        ledger: Option<(&MergeLedger, usize)>,
    ) -> Result<(usize, Vec<Value>), PortError> {
        let mut present = Vec::new();
        let mut retry = self.tuning.retry();
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
                tracing::debug!(table, error = %crate::describe(&error), "TransactWriteItems throttled");
                // The same puts again, with the same token: had the first been applied after
                // all (TransactionInProgress), DynamoDB does not apply it twice.
                true
            } else {
                return Err(port_error("TransactWriteItems", resource(table), error));
            };
            if capacity {
                if let Err(tries) = retry.wait().await {
                    return Err(PortError::new(
                        "TransactWriteItems",
                        resource(table),
                        FailureKind::Throttled,
                        format!(
                            "{} items still not written after {tries} throttled or conflicting tries",
                            pending.len()
                        ),
                    ));
                }
            }
        }
        Ok((0, present))
    }
}

/// What a cancelled transaction says of its ledger entry.
pub(super) enum EntryReason {
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
pub(super) fn take_entry_reason(
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
pub(super) fn sort_cancelled(
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

pub(super) fn put(table: &str, schema: &KeySchema, item: &Item) -> Result<TransactWriteItem, PortError> {
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
