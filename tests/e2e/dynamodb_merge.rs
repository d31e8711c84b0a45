//! The DynamoDB half of a selective restore against moto, with the real SDK: items taken
//! from a staging table (the live table as it was at the recovery point) by key, by item
//! collection, by filter or as "missing from live", through the extract's encoding, and
//! merged into the live table without overwriting anything changed since.
//!
//! The client used here has the SDK's own retries off, so that every call the edge sees is
//! one the library made and counted.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use chrono::Utc;
use lifeboat::ports::{FailureKind, PortError};
use lifeboat_aws::dynamodb_items::Item;
use lifeboat_aws::dynamodb_merge::MergeLedger;
use lifeboat_aws::dynamodb_merge::{
    decode_items, encode_items, merge_items, plan_items, select_items, ItemSelection, SelectStats,
};
use lifeboat_e2e::stack;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::REQUESTS_TABLE;
use lifeboat_local::names::TESTER;
use lifeboat_local::LocalStack;
use serde_json::{json, Value};

const LIVE: &str = "orders";
const STAGING: &str = "lbs-1b4e28ba-orders";

/// A stack with `orders` and its staging copy, both keyed by `pk` (S) and `sk` (N).
async fn tables() -> (LocalStack, Client) {
    let stack = stack().await;
    let config = aws_sdk_dynamodb::config::Builder::from(stack.sdk_config())
        .retry_config(RetryConfig::disabled())
        .build();
    let client = Client::from_conf(config);
    for table in [LIVE, STAGING] {
        create_table(
            &client,
            table,
            &[("pk", ScalarAttributeType::S), ("sk", ScalarAttributeType::N)],
        )
        .await;
    }
    (stack, client)
}

async fn create_table(client: &Client, name: &str, key: &[(&str, ScalarAttributeType)]) {
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    for (i, (attribute, kind)) in key.iter().enumerate() {
        let key_type = if i == 0 { KeyType::Hash } else { KeyType::Range };
        request = request
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(*attribute)
                    .key_type(key_type)
                    .build()
                    .unwrap(),
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(*attribute)
                    .attribute_type(kind.clone())
                    .build()
                    .unwrap(),
            );
    }
    request.send().await.expect("CreateTable");
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn order(pk: &str, sk: i64, note: &str) -> Item {
    HashMap::from([
        ("pk".to_string(), s(pk)),
        ("sk".to_string(), n(sk)),
        ("note".to_string(), s(note)),
        ("status".to_string(), s("open")),
    ])
}

/// An item with every attribute type, awkward values included.
fn every_type(pk: &str, sk: i64) -> Item {
    HashMap::from([
        ("pk".to_string(), s(pk)),
        ("sk".to_string(), n(sk)),
        ("text".to_string(), s("Grüße, 東京 \"quoted\" \\ back\nslash")),
        ("empty".to_string(), s("")),
        ("amount".to_string(), AttributeValue::N("-12.5".into())),
        (
            "raw".to_string(),
            AttributeValue::B(Blob::new(vec![0, 255, 10, 13, 128])),
        ),
        (
            "tags".to_string(),
            AttributeValue::Ss(vec!["vip".into(), "eu".into()]),
        ),
        (
            "scores".to_string(),
            AttributeValue::Ns(vec!["1".into(), "2.5".into()]),
        ),
        (
            "chunks".to_string(),
            AttributeValue::Bs(vec![Blob::new(vec![1]), Blob::new(vec![2, 3])]),
        ),
        (
            "history".to_string(),
            AttributeValue::L(vec![
                s("created"),
                n(3),
                AttributeValue::Null(true),
                AttributeValue::Bool(true),
                AttributeValue::M(HashMap::from([("at".to_string(), s("2026-11-28"))])),
            ]),
        ),
        (
            "address".to_string(),
            AttributeValue::M(HashMap::from([
                ("city".to_string(), s("Zürich")),
                ("lines".to_string(), AttributeValue::L(vec![s("a"), s("b")])),
                ("verified".to_string(), AttributeValue::Bool(false)),
            ])),
        ),
        ("deleted_at".to_string(), AttributeValue::Null(true)),
        ("active".to_string(), AttributeValue::Bool(true)),
        ("status".to_string(), s("open")),
    ])
}

async fn put_all(client: &Client, table: &str, items: &[Item]) {
    for item in items {
        client
            .put_item()
            .table_name(table)
            .set_item(Some(item.clone()))
            .send()
            .await
            .expect("PutItem");
    }
}

async fn delete(client: &Client, table: &str, pk: &str, sk: i64) {
    client
        .delete_item()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", n(sk))
        .send()
        .await
        .expect("DeleteItem");
}

async fn get(client: &Client, table: &str, pk: &str, sk: i64) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .key("sk", n(sk))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem")
        .item
}

/// Every item of `table` by key (`pk/sk`).
async fn all(client: &Client, table: &str) -> BTreeMap<String, Item> {
    let mut items = BTreeMap::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("Scan");
        for item in out.items() {
            items.insert(key(item), item.clone());
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

fn key(item: &Item) -> String {
    format!("{}/{}", item["pk"].as_s().unwrap(), item["sk"].as_n().unwrap())
}

/// An item with its sets sorted, to compare items whatever order a set comes back in.
fn normal(item: &Item) -> BTreeMap<String, String> {
    fn value(v: &AttributeValue) -> String {
        match v {
            AttributeValue::Ss(x) | AttributeValue::Ns(x) => {
                format!("{:?}", x.iter().collect::<BTreeSet<_>>())
            }
            AttributeValue::Bs(x) => format!("{:?}", x.iter().map(|b| b.as_ref()).collect::<BTreeSet<_>>()),
            AttributeValue::M(m) => format!(
                "{:?}",
                m.iter().map(|(k, v)| (k, value(v))).collect::<BTreeMap<_, _>>()
            ),
            AttributeValue::L(l) => format!("{:?}", l.iter().map(value).collect::<Vec<_>>()),
            other => format!("{other:?}"),
        }
    }
    item.iter().map(|(k, v)| (k.clone(), value(v))).collect()
}

/// DynamoDB calls the tester made since the ledger was cleared, and those of one operation.
fn dynamodb_calls(stack: &LocalStack) -> u64 {
    calls_of(stack, None)
}

fn calls_of(stack: &LocalStack, operation: Option<&str>) -> u64 {
    stack
        .edge
        .ledger
        .log()
        .iter()
        .filter(|c| c.caller == TESTER && c.service == "dynamodb")
        .filter(|c| operation.is_none_or(|o| c.operation == o))
        .count() as u64
}

/// Selects into memory (through the extract's encoding, as the executor stores pages),
/// checking the page bound; the items and the stats.
async fn select(
    stack: &LocalStack,
    client: &Client,
    selection: &ItemSelection,
    page: usize,
) -> Result<(Vec<Item>, SelectStats, Vec<usize>), PortError> {
    stack.edge.ledger.clear();
    let mut extract: Vec<Vec<u8>> = Vec::new();
    let mut sizes = Vec::new();
    let stats = select_items(client, STAGING, LIVE, selection, page, |items| {
        sizes.push(items.len());
        let encoded = encode_items(&items);
        let stored = encoded.map(|bytes| extract.push(bytes));
        async move { stored }
    })
    .await?;
    assert_eq!(
        stats.calls,
        dynamodb_calls(stack),
        "every DynamoDB call of the selection is counted"
    );
    assert!(
        sizes.iter().all(|s| *s <= page && *s > 0),
        "pages of at most {page}: {sizes:?}"
    );
    let (last, full) = sizes.split_last().map_or((&0, &[][..]), |(l, f)| (l, f));
    assert!(
        full.iter().all(|s| *s == page),
        "only the last page is short: {sizes:?}"
    );
    assert!(*last <= page);
    assert_eq!(stats.pages, sizes.len());
    let items: Vec<Item> = extract
        .iter()
        .flat_map(|bytes| decode_items(bytes).expect("the extract decodes"))
        .collect();
    assert_eq!(stats.items, items.len());
    Ok((items, stats, sizes))
}

fn keys_of(items: &[Item]) -> BTreeSet<String> {
    items.iter().map(key).collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn filter(value: Value) -> ItemSelection {
    let Value::Object(map) = value else {
        panic!("a filter is an object")
    };
    ItemSelection::Filter(map)
}

#[tokio::test]
async fn deleted_items_come_back_identical_and_items_changed_since_are_never_overwritten() {
    let (stack, client) = tables().await;
    // The recovery point: staging holds it; live held the same then.
    let then = vec![
        every_type("cust#1", 1),
        order("cust#1", 2, "second order"),
        order("cust#1", 3, "third order"),
        order("cust#2", 1, "untouched"),
        every_type("cust#3", 1),
    ];
    put_all(&client, STAGING, &then).await;
    put_all(&client, LIVE, &then).await;
    // The loss, and work done since: two of cust#1's orders and cust#3 deleted, cust#1's
    // third order edited, a new customer.
    delete(&client, LIVE, "cust#1", 1).await;
    delete(&client, LIVE, "cust#1", 2).await;
    delete(&client, LIVE, "cust#3", 1).await;
    put_all(&client, LIVE, &[order("cust#1", 3, "edited after the loss")]).await;
    put_all(&client, LIVE, &[order("cust#4", 1, "new since")]).await;
    let live_before = all(&client, LIVE).await;

    // cust#1's whole collection (its order 2 named too, read once), cust#3/1, and a key
    // staging never had.
    let selection = ItemSelection::Keys(vec![
        json!({"pk": "cust#1"}),
        json!({"pk": "cust#1", "sk": 2}),
        json!({"pk": "cust#3", "sk": 1}),
        json!({"pk": "cust#9", "sk": 1}),
    ]);
    let (items, stats, _) = select(&stack, &client, &selection, 2).await.unwrap();
    assert_eq!(
        keys_of(&items),
        set(&["cust#1/1", "cust#1/2", "cust#1/3", "cust#3/1"])
    );
    assert_eq!(items.len(), 4, "each item once");
    assert_eq!(stats.not_in_staging, 1);
    assert!(calls_of(&stack, Some("Query")) >= 1, "the collection is queried");
    assert_eq!(calls_of(&stack, Some("Scan")), 0, "no scan for keys");

    stack.edge.ledger.clear();
    let plan = plan_items(&client, LIVE, &items).await.unwrap();
    assert_eq!((plan.to_insert, plan.present), (3, 1));
    assert_eq!(plan.conflicts, vec![json!({"pk": "cust#1", "sk": 3})]);
    assert_eq!(plan.calls, dynamodb_calls(&stack));
    assert_eq!(plan.calls, 2, "DescribeTable and one BatchGetItem");

    stack.edge.ledger.clear();
    let outcome = merge_items(&client, LIVE, items.clone(), None).await.unwrap();
    assert_eq!(outcome.inserted, 3);
    assert_eq!(outcome.present, vec![json!({"pk": "cust#1", "sk": 3})]);
    assert_eq!(outcome.calls, dynamodb_calls(&stack));
    assert_eq!(
        calls_of(&stack, Some("TransactWriteItems")),
        2,
        "one transaction cancelled by the present item's condition, then the rest"
    );

    // The edit made after the loss stands; what was deleted is back exactly as it was.
    let edited = get(&client, LIVE, "cust#1", 3).await.unwrap();
    assert_eq!(edited["note"], s("edited after the loss"));
    for (pk, sk) in [("cust#1", 1), ("cust#1", 2), ("cust#3", 1)] {
        let restored = get(&client, LIVE, pk, sk).await.expect("restored");
        let original = get(&client, STAGING, pk, sk).await.unwrap();
        assert_eq!(normal(&restored), normal(&original), "{pk}/{sk}");
    }
    let live_after = all(&client, LIVE).await;
    for (k, item) in &live_before {
        assert_eq!(normal(&live_after[k]), normal(item), "{k} is as it was");
    }
    assert_eq!(live_after.len(), live_before.len() + 3);

    // Merging again writes nothing: every item is present now.
    let again = merge_items(&client, LIVE, items, None).await.unwrap();
    assert_eq!(again.inserted, 0);
    assert_eq!(again.present.len(), 4);
    assert_eq!(
        normal(&get(&client, LIVE, "cust#1", 3).await.unwrap()),
        normal(&edited)
    );
}

#[tokio::test]
async fn a_filter_binds_values_and_names_and_never_splices_them() {
    let (stack, client) = tables().await;
    let mut crafted = order("cust#5", 1, "crafted");
    crafted.insert("status".into(), s("x = :v OR 1=1"));
    let mut closed = order("cust#6", 2, "closed");
    closed.insert("status".into(), s("closed"));
    let mut odd_name = order("cust#7", 1, "odd name");
    odd_name.insert("a) OR attribute_exists(pk".into(), s("open"));
    put_all(
        &client,
        STAGING,
        &[
            crafted,
            closed,
            odd_name,
            order("cust#1", 1, "a"),
            order("cust#1", 2, "b"),
            order("cust#2", 2, "c"),
        ],
    )
    .await;

    // A value that looks like an expression is only a value.
    let (items, stats, _) = select(&stack, &client, &filter(json!({"status": "x = :v OR 1=1"})), 10)
        .await
        .unwrap();
    assert_eq!(keys_of(&items), set(&["cust#5/1"]));
    assert_eq!(calls_of(&stack, Some("Scan")), 4, "one call per segment");
    assert_eq!(stats.read, 1);

    // A name that looks like an expression is only a name.
    let (items, ..) = select(
        &stack,
        &client,
        &filter(json!({"a) OR attribute_exists(pk": "open"})),
        10,
    )
    .await
    .unwrap();
    assert_eq!(keys_of(&items), set(&["cust#7/1"]));

    // Several attributes are all required; a key attribute takes its key's type.
    let (items, ..) = select(&stack, &client, &filter(json!({"status": "open", "sk": 2})), 10)
        .await
        .unwrap();
    assert_eq!(keys_of(&items), set(&["cust#1/2", "cust#2/2"]));
    let (items, ..) = select(
        &stack,
        &client,
        &filter(json!({"pk": "cust#1", "status": "open"})),
        1,
    )
    .await
    .unwrap();
    assert_eq!(keys_of(&items), set(&["cust#1/1", "cust#1/2"]));

    let err = select(&stack, &client, &filter(json!({"sk": "two"})), 10)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Refused);
    assert!(err.message.contains("filter.sk must be a number"), "{err}");
    assert_eq!(calls_of(&stack, Some("Scan")), 0, "nothing read on a bad filter");
}

#[tokio::test]
async fn missing_selects_exactly_what_live_lacks_in_bounded_pages_and_merges_it_back() {
    let (stack, client) = tables().await;
    let then: Vec<Item> = (0..12)
        .flat_map(|c| (1..=5).map(move |o| order(&format!("cust#{c}"), o, &format!("order {o} of {c}"))))
        .collect();
    put_all(&client, STAGING, &then).await;
    put_all(&client, LIVE, &then).await;
    let mut deleted = BTreeSet::new();
    for (i, item) in then.iter().enumerate() {
        if i % 7 == 0 || i % 11 == 3 {
            let (pk, sk) = (item["pk"].as_s().unwrap(), item["sk"].as_n().unwrap());
            delete(&client, LIVE, pk, sk.parse().unwrap()).await;
            deleted.insert(key(item));
        }
    }
    // Changed or added since: not missing, and left alone.
    put_all(
        &client,
        LIVE,
        &[
            order("cust#2", 2, "changed since"),
            order("cust#99", 1, "added since"),
        ],
    )
    .await;
    assert!(!deleted.contains("cust#2/2"));
    let live_before = all(&client, LIVE).await;

    let (items, stats, sizes) = select(&stack, &client, &ItemSelection::Missing, 4).await.unwrap();
    assert_eq!(keys_of(&items), deleted);
    assert_eq!(items.len(), deleted.len());
    assert_eq!(stats.read, then.len(), "staging read once");
    assert_eq!(sizes.iter().sum::<usize>(), deleted.len());
    assert!(
        calls_of(&stack, Some("BatchGetItem")) >= 1,
        "presence checked in live"
    );

    stack.edge.ledger.clear();
    let outcome = merge_items(&client, LIVE, items, None).await.unwrap();
    assert_eq!(outcome.inserted, deleted.len());
    assert!(outcome.present.is_empty());
    assert_eq!(outcome.calls, dynamodb_calls(&stack));
    assert_eq!(
        calls_of(&stack, Some("TransactWriteItems")) as usize,
        deleted.len().div_ceil(25)
    );

    let live = all(&client, LIVE).await;
    let staging = all(&client, STAGING).await;
    for (k, item) in &staging {
        let expected = live_before.get(k).unwrap_or(item);
        assert_eq!(normal(&live[k]), normal(expected), "{k}");
    }
    assert_eq!(
        live.len(),
        staging.len() + 1,
        "staging's items and the one added since"
    );

    // Nothing is missing any more.
    let (items, ..) = select(&stack, &client, &ItemSelection::Missing, 4).await.unwrap();
    assert!(items.is_empty());
}

#[tokio::test]
async fn every_attribute_type_survives_the_extract() {
    let (stack, client) = tables().await;
    put_all(&client, STAGING, &[every_type("cust#1", 1)]).await;
    let (items, ..) = select(
        &stack,
        &client,
        &ItemSelection::Keys(vec![json!({"pk": "cust#1", "sk": 1})]),
        10,
    )
    .await
    .unwrap();
    let read = get(&client, STAGING, "cust#1", 1).await.unwrap();
    assert_eq!(items, vec![read.clone()], "decoded exactly as read");

    let bytes = encode_items(&items).unwrap();
    let line: Value = serde_json::from_slice(bytes.strip_suffix(b"\n").unwrap()).unwrap();
    assert_eq!(line["raw"], json!({"B": "AP8KDYA="}));
    assert_eq!(
        line["amount"]["N"].as_str().map(|n| n.parse::<f64>().unwrap()),
        Some(-12.5)
    );
    assert_eq!(line["deleted_at"], json!({"NULL": true}));
    assert_eq!(line["active"], json!({"BOOL": true}));
    assert_eq!(line["address"]["M"]["city"], json!({"S": "Zürich"}));
    assert!(line["chunks"]["BS"].is_array() && line["tags"]["SS"].is_array());

    merge_items(&client, LIVE, decode_items(&bytes).unwrap(), None)
        .await
        .unwrap();
    let restored = get(&client, LIVE, "cust#1", 1).await.unwrap();
    assert_eq!(normal(&restored), normal(&read));
}

/// A batch merged again, its step retried after a try that stopped half-way, reports what
/// the first try did rather than counting that try's items as present: each transaction's
/// counts commit with its puts, in the requests table.
#[tokio::test]
async fn a_batch_merged_again_reports_the_first_try_s_counts_from_the_ledger() {
    let (stack, client) = tables().await;
    // Three transactions: 25, 25 and 10 items; order 30, in the second, is live already.
    let items: Vec<Item> = (0..60).map(|i| order("cust#1", i, "back")).collect();
    put_all(&client, LIVE, &[order("cust#1", 30, "edited after the loss")]).await;
    let ledger = MergeLedger::new(REQUESTS_TABLE, "rr-1#dynamodb:orders#orders#0".into(), Utc::now());

    // The first try stops after its first transaction.
    let first = merge_items(&client, LIVE, items[..25].to_vec(), Some(&ledger))
        .await
        .unwrap();
    assert_eq!((first.inserted, first.present.len()), (25, 0));
    // The retry merges the whole batch; so does a third try.
    for attempt in ["retry", "third try"] {
        let outcome = merge_items(&client, LIVE, items.clone(), Some(&ledger))
            .await
            .unwrap();
        assert_eq!(outcome.inserted, 59, "{attempt}");
        assert_eq!(
            outcome.present,
            vec![json!({"pk": "cust#1", "sk": 30})],
            "{attempt}"
        );
    }
    assert_eq!(all(&client, LIVE).await.len(), 60, "every item once");
    let edited = get(&client, LIVE, "cust#1", 30).await.unwrap();
    assert_eq!(edited["note"], s("edited after the loss"));

    // The entries, one per transaction, expire with the table's TTL.
    let entries = all_entries(&client).await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let in_30_days = (Utc::now() + chrono::TimeDelta::days(30)).timestamp();
    for e in &entries {
        let Some(AttributeValue::N(at)) = e.get("expires_at") else {
            panic!("an entry without its expiry: {e:?}")
        };
        let at: i64 = at.parse().unwrap();
        assert!(
            (in_30_days - 600..=in_30_days).contains(&at),
            "{at} vs {in_30_days}"
        );
    }

    // Without the ledger, the same batch can only count everything present.
    let plain = merge_items(&client, LIVE, items, None).await.unwrap();
    assert_eq!((plain.inserted, plain.present.len()), (0, 60));
    drop(stack);
}

/// The merge ledger's entries in the requests table.
async fn all_entries(client: &Client) -> Vec<Item> {
    let out = client
        .scan()
        .table_name(REQUESTS_TABLE)
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    out.items()
        .iter()
        .filter(|i| matches!(i.get("id"), Some(AttributeValue::S(id)) if id.starts_with("merged#")))
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_throttled_merge_backs_off_and_completes_or_fails_retryable() {
    let (stack, client) = tables().await;
    let items: Vec<Item> = (0..30).map(|i| order("cust#1", i, "back")).collect();
    let transactions = || FaultRule::on("dynamodb", "TransactWriteItems").by(TESTER);

    // Throttled three times, then through: every item written once.
    stack.edge.ledger.clear();
    stack.edge.faults.add(transactions().times(3).throttle());
    let outcome = merge_items(&client, LIVE, items[..20].to_vec(), None)
        .await
        .unwrap();
    assert_eq!(outcome.inserted, 20);
    assert!(outcome.present.is_empty());
    assert_eq!(
        calls_of(&stack, Some("TransactWriteItems")),
        4,
        "three throttled, one through"
    );
    assert_eq!(outcome.calls, dynamodb_calls(&stack));
    assert_eq!(all(&client, LIVE).await.len(), 20);

    // Throttled on every try: a retryable error naming the operation and the table, and
    // nothing more written.
    stack.edge.faults.add(transactions().throttle());
    let err = merge_items(&client, LIVE, items, None).await.unwrap_err();
    stack.edge.faults.clear();
    assert_eq!(err.kind, FailureKind::Throttled);
    assert!(err.kind.is_retryable());
    assert_eq!(err.operation, "TransactWriteItems");
    assert_eq!(err.resource, format!("dynamodb:{LIVE}"));
    assert_eq!(all(&client, LIVE).await.len(), 20);
}

#[tokio::test]
async fn selections_are_checked_against_the_key_schema_before_anything_is_read() {
    let (stack, client) = tables().await;
    put_all(&client, STAGING, &[order("cust#1", 1, "a")]).await;
    let selection = ItemSelection::Keys(vec![
        json!({"sk": 1}),
        json!({"pk": 5, "sk": 1}),
        json!({"pk": "cust#1", "sk": "one"}),
        json!({"pk": "cust#1", "sk": 1, "note": "a"}),
        json!(true),
    ]);
    let err = select(&stack, &client, &selection, 10).await.unwrap_err();
    assert_eq!(err.kind, FailureKind::Refused);
    assert_eq!(err.resource, format!("dynamodb:{STAGING}"));
    for expected in [
        "keys[0] lacks the partition key pk",
        "keys[1].pk must be a non-empty string",
        "keys[2].sk must be a number",
        "keys[3].note is not a key attribute (the key is pk, sk)",
        "keys[4] must be an object",
    ] {
        assert!(err.message.contains(expected), "{expected:?} in {}", err.message);
    }
    assert_eq!(dynamodb_calls(&stack), 1, "only DescribeTable");

    // A bare partition key value selects its collection, as in a decision's keys.
    let (items, ..) = select(&stack, &client, &ItemSelection::Keys(vec![json!("cust#1")]), 10)
        .await
        .unwrap();
    assert_eq!(keys_of(&items), set(&["cust#1/1"]));

    let err = select(&stack, &client, &ItemSelection::Missing, 0)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Refused);

    // "Missing" compares keys: a live table keyed otherwise is not this staging's original.
    client.delete_table().table_name(LIVE).send().await.unwrap();
    create_table(&client, LIVE, &[("id", ScalarAttributeType::S)]).await;
    let err = select(&stack, &client, &ItemSelection::Missing, 10)
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::Refused);
    assert!(err.message.contains("not a copy"), "{err}");
    assert_eq!(calls_of(&stack, Some("Scan")), 0);
}

/// A page callback's error stops the selection and is returned as it is.
#[tokio::test]
async fn a_failing_page_store_stops_the_selection() {
    let (_stack, client) = tables().await;
    let items: Vec<Item> = (0..10).map(|i| order("cust#1", i, "x")).collect();
    put_all(&client, STAGING, &items).await;
    let mut pages = 0;
    let err = select_items(&client, STAGING, LIVE, &ItemSelection::Missing, 3, |_| {
        pages += 1;
        let result = Err(PortError::new(
            "PutObject",
            "s3://extracts/batch-1",
            FailureKind::Unavailable,
            "injected",
        ));
        async move { result }
    })
    .await
    .unwrap_err();
    assert_eq!(err.operation, "PutObject");
    assert_eq!(pages, 1);
}
