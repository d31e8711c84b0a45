//! DynamoDB items in bulk, as every part that reads or writes many of them needs them: the
//! canonical text of an item and of its key, and batch reads and writes whose unprocessed
//! keys or items, and capacity errors, are retried after a jittered exponential backoff, a
//! bounded number of times, then reported as throttled.
//!
//! DynamoDB answers a batch with part of it unprocessed when the table is at its capacity;
//! asking again at once only adds to the load, so every retry waits.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, WriteRequest};
use aws_sdk_dynamodb::Client;
use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use tokio::time::Instant;

use super::port_error;
use lifeboat::ports::{FailureKind, PortError};

pub type Item = HashMap<String, AttributeValue>;

/// Segments of a parallel scan.
pub(crate) const SEGMENTS: i32 = 4;
/// Batches in flight at once.
pub(crate) const CONCURRENCY: usize = 4;
/// Tries of one batch (its unprocessed part, or after a capacity error) before giving up.
pub(crate) const MAX_TRIES: u32 = 8;
/// `BatchGetItem`'s limit of keys per call.
pub(crate) const GET_BATCH: usize = 100;
/// `BatchWriteItem`'s limit of requests per call.
pub(crate) const WRITE_BATCH: usize = 25;
/// The longest backoff between two tries.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// Whole-request errors that mean "too much, too fast" or "another transaction is on these
/// items": worth retrying the same request after a backoff.
pub(crate) const CAPACITY_ERRORS: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// How hard to retry; the defaults serve production, tests shorten the delays.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base_delay: Duration,
    pub max_tries: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_delay: Duration::from_millis(50),
            max_tries: MAX_TRIES,
        }
    }
}

impl Backoff {
    /// The waits of one retried batch or transaction, from its first failure on.
    pub fn retry(&self) -> Retry {
        Retry {
            // Exponential from the base delay, capped, with a jitter (up to the delay again)
            // so that concurrent writers throttled together spread out; a wait before each
            // try after the first.
            delays: ExponentialBuilder::new()
                .with_min_delay(self.base_delay)
                .with_max_delay(MAX_DELAY)
                .with_max_times(self.max_tries.saturating_sub(1) as usize)
                .with_jitter()
                .build(),
            tries: 0,
        }
    }
}

/// Where one retried call stands: how many tries failed, and the waits left.
pub struct Retry {
    delays: ExponentialBackoff,
    tries: u32,
}

impl Retry {
    /// After a failed try: waits before the next, or, when the tries are spent, answers how
    /// many were made.
    pub async fn wait(&mut self) -> Result<(), u32> {
        self.tries += 1;
        match self.delays.next() {
            Some(delay) => {
                tokio::time::sleep(delay).await;
                Ok(())
            }
            None => Err(self.tries),
        }
    }
}

pub(crate) fn is_capacity_error<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| CAPACITY_ERRORS.contains(&code))
}

/// The items of `table` that `request` asks for (at most 100 keys), its unprocessed keys and
/// capacity errors retried after a backoff. `count` is called once per call sent.
pub async fn get_items(
    client: &Client,
    table: &str,
    mut request: KeysAndAttributes,
    backoff: &Backoff,
    count: &(dyn Fn() + Sync),
) -> Result<Vec<Item>, PortError> {
    let resource = || format!("dynamodb:{table}");
    let mut found = Vec::new();
    let mut retry = backoff.retry();
    loop {
        count();
        match client
            .batch_get_item()
            .request_items(table, request.clone())
            .send()
            .await
        {
            Ok(mut out) => {
                if let Some(items) = out.responses.as_mut().and_then(|r| r.remove(table)) {
                    found.extend(items);
                }
                match out.unprocessed_keys.as_mut().and_then(|u| u.remove(table)) {
                    Some(rest) if !rest.keys().is_empty() => request = rest,
                    _ => return Ok(found),
                }
            }
            Err(e) if is_capacity_error(&e) => {
                tracing::debug!(table, error = %super::describe(&e), "BatchGetItem throttled");
            }
            Err(e) => return Err(port_error("BatchGetItem", resource(), e)),
        }
        if let Err(tries) = retry.wait().await {
            return Err(PortError::new(
                "BatchGetItem",
                resource(),
                FailureKind::Throttled,
                format!(
                    "{} keys still unprocessed after {tries} tries",
                    request.keys().len()
                ),
            ));
        }
    }
}

/// Writes one batch of at most 25 requests to `table`, its unprocessed items and capacity
/// errors retried after a backoff. No call is sent at or after `deadline`, and the SDK gives
/// each call (with its own retries) up by then: a batch that runs out of time fails as
/// throttled, with what it had not written named.
pub async fn write_items(
    client: &Client,
    table: &str,
    mut batch: Vec<WriteRequest>,
    backoff: &Backoff,
    deadline: Instant,
) -> Result<(), PortError> {
    let resource = || format!("dynamodb:{table}");
    let mut retry = backoff.retry();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(PortError::new(
                "BatchWriteItem",
                resource(),
                FailureKind::Throttled,
                format!(
                    "{} items not written within the write bound; the page is done again",
                    batch.len()
                ),
            ));
        }
        let bounded = aws_sdk_dynamodb::config::Builder::default()
            .timeout_config(TimeoutConfig::builder().operation_timeout(left).build());
        match client
            .batch_write_item()
            .request_items(table, batch.clone())
            .customize()
            .config_override(bounded)
            .send()
            .await
        {
            Ok(out) => {
                batch = out
                    .unprocessed_items()
                    .and_then(|u| u.get(table))
                    .cloned()
                    .unwrap_or_default();
                if batch.is_empty() {
                    return Ok(());
                }
            }
            Err(e) if is_capacity_error(&e) => {
                tracing::debug!(table, error = %super::describe(&e), "BatchWriteItem throttled");
            }
            Err(e) => return Err(port_error("BatchWriteItem", resource(), e)),
        }
        if let Err(tries) = retry.wait().await {
            return Err(PortError::new(
                "BatchWriteItem",
                resource(),
                FailureKind::Throttled,
                format!("{} items still unprocessed after {tries} tries", batch.len()),
            ));
        }
    }
}

/// DynamoDB's figure of `table`'s items: its description's, refreshed about every six
/// hours (never a scan).
pub(crate) async fn item_count(client: &Client, table: &str) -> Result<u64, PortError> {
    let out = (client.describe_table().table_name(table).send().await)
        .map_err(|e| super::port_error("DescribeTable", format!("dynamodb:{table}"), e))?;
    Ok(out.table().and_then(|t| t.item_count()).unwrap_or(0).max(0) as u64)
}

/// An item's key attributes, canonically.
pub(crate) fn key_of(item: &Item, keys: &[String]) -> String {
    keys.iter()
        .map(|k| item.get(k).map(canonical).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{1f}")
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

/// What moto cannot do: answer part of a batch as unprocessed.
#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::*;

    fn keys() -> KeysAndAttributes {
        KeysAndAttributes::builder()
            .keys(HashMap::from([("pk".to_string(), AttributeValue::S("a".into()))]))
            .build()
            .unwrap()
    }

    fn unprocessed() -> BatchGetItemOutput {
        BatchGetItemOutput::builder()
            .unprocessed_keys("t", keys())
            .build()
    }

    #[tokio::test(start_paused = true)]
    async fn unprocessed_keys_are_asked_again_only_after_a_growing_wait() {
        let found = || {
            BatchGetItemOutput::builder()
                .responses(
                    "t",
                    vec![HashMap::from([("pk".to_string(), AttributeValue::S("a".into()))])],
                )
                .build()
        };
        let rule = mock!(Client::batch_get_item)
            .sequence()
            .output(unprocessed)
            .output(unprocessed)
            .output(found)
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let backoff = Backoff::default();
        let start = tokio::time::Instant::now();
        let items = get_items(&client, "t", keys(), &backoff, &|| {}).await.unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(rule.num_calls(), 3);
        // Two waits, at least half of 100 ms and of 200 ms each.
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(150), "waited {waited:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_never_processed_are_reported_throttled_after_the_last_try() {
        let rule = mock!(Client::batch_get_item).then_output(unprocessed);
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        let backoff = Backoff::default();
        let e = get_items(&client, "t", keys(), &backoff, &|| {})
            .await
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::Throttled);
        assert_eq!(rule.num_calls(), MAX_TRIES as usize);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_wait_longer_each_time_up_to_a_cap_then_give_up() {
        let b = Backoff::default();
        let mut retry = b.retry();
        for failed in 1..b.max_tries {
            let nominal = (b.base_delay * (1 << (failed - 1))).min(MAX_DELAY);
            let started = tokio::time::Instant::now();
            assert_eq!(retry.wait().await, Ok(()), "try {failed}");
            let waited = started.elapsed();
            assert!(
                waited >= nominal && waited <= nominal * 2,
                "{failed}: {waited:?} of {nominal:?}"
            );
        }
        assert_eq!(retry.wait().await, Err(b.max_tries));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_batch_sends_nothing_after_its_deadline() {
        use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
        use aws_sdk_dynamodb::types::PutRequest;

        let put = || {
            let item = HashMap::from([("pk".to_string(), AttributeValue::S("a".into()))]);
            WriteRequest::builder()
                .put_request(PutRequest::builder().set_item(Some(item)).build().unwrap())
                .build()
        };
        let unprocessed = move || {
            BatchWriteItemOutput::builder()
                .unprocessed_items("t", vec![put()])
                .build()
        };
        let rule = mock!(Client::batch_write_item).then_output(unprocessed);
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&rule]);
        // Backoffs of at least 50, 100, 200 ms: the fourth try would start after 350 ms.
        let started = Instant::now();
        let deadline = started + Duration::from_millis(300);
        let e = write_items(&client, "t", vec![put()], &Backoff::default(), deadline)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FailureKind::Throttled);
        assert!(e.message.contains("within the write bound"), "{e}");
        assert!(
            rule.num_calls() < MAX_TRIES as usize,
            "{} calls",
            rule.num_calls()
        );
        assert!(
            Instant::now() >= deadline,
            "it gave up at its deadline, not before"
        );
        let nothing = write_items(&client, "t", vec![put()], &Backoff::default(), started).await;
        assert!(nothing.is_err());
        assert!(rule.num_calls() <= 3, "a batch past its deadline sends nothing");
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
