//! What moto cannot show: throttling past the SDK's retries, transactions cancelled for a
//! conflict next to failed conditions, unprocessed keys. The SDK client answers from rules.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::error::{ProvisionedThroughputExceededException, TransactionCanceledException};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, CancellationReason, KeySchemaElement, KeyType, KeysAndAttributes,
    Put, ScalarAttributeType, TableDescription,
};
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use serde_json::{json, Map, Value};

use super::encoding::{decode_items, encode_items, is_number};
use super::key_schema::{number_json, KeyAttribute, KeyKind, KeySchema};
use super::merge::{merge_with, request_token, sort_cancelled, transactions, CONDITION_FAILED};
use super::plan::plan_with;
use super::selection::{check, Checked};
use super::{
    keys_sha256, merge_items, plan_items, select_items, ItemSelection, MergeLedger, MergeOutcome, Records,
};
use crate::dynamodb_items::{Backoff, Item};
use lifeboat::ports::{FailureKind, PortError};

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
    let transact = mock!(Client::transact_write_items).then_error(|| cancelled(&["None", "ValidationError"]));
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
    let transact = mock!(Client::transact_write_items).then_error(|| cancelled(&["None", "ValidationError"]));
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
    let Checked::Filter(e) = check(&ItemSelection::Filter(filter.clone()), &schema(), "t").unwrap() else {
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
