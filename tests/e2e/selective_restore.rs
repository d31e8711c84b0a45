//! Selective restores end to end: the real definition from `infra/` executed by moto, the
//! real restore-executor, RDS instances with real PostgreSQL databases (the local stack's data
//! plane) and DynamoDB tables in moto. Requests are filed, approved and confirmed through the
//! restore-request API; the data is checked row by row.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::names::names;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat_e2e::*;
use lifeboat_local::demo::crm::{self, Loss};
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::REPORTS_BUCKET;
use lifeboat_local::names::{engineer, REQUESTS_TABLE};
use lifeboat_local::{resources, LocalStack};
use serde_json::{json, Value};
use tokio_postgres::Client;

const ACME: [(&str, &str); 2] = [(TAG_INSTANCE, "acme"), ("team", "crm")];
const CONTACTS: i64 = 3000;

/// Production `db` with the CRM data, its scheduled snapshot three hours ago; returns a
/// connection to it and the snapshot's slot.
async fn crm_db(stack: &LocalStack) -> (Client, chrono::DateTime<Utc>) {
    resources::rds_instance(stack, "db", &ACME, 3).await.unwrap();
    let client = stack.postgres().connect("db").await.unwrap();
    crm::seed(&client, CONTACTS).await.unwrap();
    let slot = hour_before(Utc::now(), 3);
    scheduled_points(stack, slot).await;
    (client, slot)
}

/// Approves `id` for a selective restore from the snapshot of `slot`; the execution.
async fn approve_selective(stack: &LocalStack, id: &str, points: Value, selection: Value) -> String {
    let body = json!({"decision": "approve", "reason": "an integration deleted contacts",
        "mode": "selective", "recovery_points": points, "selection": selection});
    let answer = api_json(
        stack,
        &engineer("erin"),
        "POST",
        &format!("/restore-requests/{id}/decision"),
        &body,
    )
    .await;
    execution_of(&answer)
}

fn db_snapshot(slot: chrono::DateTime<Utc>) -> Value {
    json!([{"resource": "rds:db", "kind": "snapshot", "slot": slot}])
}

/// The rows of the three tables in key order, `filter` applied to each (by contact).
async fn crm_rows(client: &Client, filter: &str) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for (table, contact) in [
        ("contacts", "id"),
        ("applications", "contact_id"),
        ("notes", "contact_id"),
    ] {
        let q = format!(
            "SELECT * FROM {table} WHERE {} ORDER BY id",
            filter.replace("$c", contact)
        );
        all.push(crm::rows(client, &q).await.unwrap());
    }
    all
}

async fn count(client: &Client, q: &str) -> i64 {
    client.query_one(q, &[]).await.unwrap().get(0)
}

/// Waits until `id` awaits confirmation and returns its report then.
async fn report_before_confirmation(stack: &LocalStack, id: &str) -> Value {
    eventually(&format!("request {id} to await confirmation"), || async {
        let r = request(stack, id).await;
        assert_ne!(r["status"], "failed", "failed before confirmation: {r}");
        (r["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    report(stack, id).await.0
}

fn table_of<'a>(report: &'a Value, table: &str) -> &'a Value {
    report["selective"]["resources"][0]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap_or_else(|| panic!("no {table} in {report}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_contacts_come_back_with_their_dependants_and_later_edits_survive() {
    // Batches of 400 rows, one batch per merge invocation: the state machine loops.
    let stack = stack_with(&[
        ("LIFEBOAT_MERGE_BATCH_ROWS", "400"),
        ("LIFEBOAT_MERGE_BUDGET_SECONDS", "0"),
    ])
    .await;
    let (db, slot) = crm_db(&stack).await;
    let lost = "$c BETWEEN 1001 AND 2000";
    let before = crm_rows(&db, lost).await;
    let others = stack.postgres().connect("db").await.unwrap();
    let loss: Loss = crm::integration_deletes_while_others_edit(&db, &others, 1001..=2000, 1..=200)
        .await
        .unwrap();
    let untouched = "$c NOT BETWEEN 1001 AND 2000";
    let after_loss = crm_rows(&db, untouched).await;
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM contacts WHERE id BETWEEN 1001 AND 2000"
        )
        .await,
        0
    );

    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let selection =
        json!([{"resource": "rds:db", "table": "contacts", "missing": true, "with_dependants": true}]);
    let execution = approve_selective(&stack, &id, db_snapshot(slot), selection).await;

    // The plan is in the report before anyone confirms, and production is untouched.
    let planned = report_before_confirmation(&stack, &id).await;
    assert_eq!(
        table_of(&planned, "public.contacts")["plan"],
        json!({"insert": 999, "present": 0, "conflicts": 1})
    );
    assert_eq!(table_of(&planned, "public.applications")["rows"], 1000);
    assert_eq!(table_of(&planned, "public.notes")["rows"], 2000);
    assert_eq!(crm_rows(&db, lost).await, vec![Vec::<String>::new(); 3]);
    let manifest = planned["selective"]["manifest"].as_str().unwrap().to_string();
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");

    // Every deleted row is back as at the recovery point, except the contact whose address
    // a newcomer holds now, and its dependants.
    let stolen = loss.stolen_email_of;
    let without_stolen = of_contacts(&before, |c| c != stolen);
    let now = crm_rows(&db, &format!("{lost} AND $c <> {stolen}")).await;
    assert_eq!(now, without_stolen);
    assert_eq!(now[0].len(), 999);
    // Everything that lived on after the loss is exactly as it was.
    assert_eq!(crm_rows(&db, untouched).await, after_loss);
    assert_eq!(
        crm::rows(
            &db,
            &format!("SELECT name FROM contacts WHERE id = {}", loss.newcomer)
        )
        .await
        .unwrap(),
        ["(\"New student\")"]
    );
    assert!(loss.edited.iter().all(|e| *e <= 200));

    let (report, markdown) = report(&stack, &id).await;
    assert_eq!(report["status"], "completed");
    let merged = |t: &str| table_of(&report, t)["merged"].clone();
    assert_eq!(merged("public.contacts")["inserted"], 999);
    assert_eq!(merged("public.contacts")["conflicts"], 1);
    assert_eq!(
        merged("public.contacts")["skipped"][0]["key"],
        json!({"id": stolen})
    );
    assert_eq!(merged("public.contacts")["skipped"][0]["reason"], "conflict");
    assert_eq!(merged("public.applications")["parent_missing"], 1);
    assert_eq!(merged("public.notes")["parent_missing"], 2);
    assert!(markdown.contains("## Selective restore"), "{markdown}");
    assert!(markdown.contains("a unique value is held by another production row"));
    // The extract stays as the audit artifact; staging is gone.
    let object = stack
        .s3()
        .get_object()
        .bucket(REPORTS_BUCKET)
        .key(&manifest)
        .send()
        .await;
    assert!(object.is_ok(), "the manifest {manifest} is kept");
    let staging = names(&id, &ResourceKey::rds("db")).staging;
    assert!(!stack.postgres().database_exists(&staging).await.unwrap());
    // 3 + 3 + 5 batches of 400: the merge looped.
    assert!(
        report["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["step"] == "merge")
            .count()
            >= 11
    );
}

/// The rows of [`crm_rows`]'s three tables whose contact passes `keep`: contacts by their
/// id (the first field), applications and notes by their contact (the second).
fn of_contacts(tables: &[Vec<String>], keep: impl Fn(i64) -> bool) -> Vec<Vec<String>> {
    tables
        .iter()
        .enumerate()
        .map(|(t, rows)| {
            rows.iter()
                .filter(|row| crm::contact_of(row, t).is_some_and(&keep))
                .cloned()
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn selection_by_keys_and_filters_with_and_without_dependants_and_an_injection_is_a_value() {
    let stack = stack().await;
    let (db, slot) = crm_db(&stack).await;
    let before = crm_rows(&db, "$c IN (5, 6, 7)").await;
    db.batch_execute("DELETE FROM contacts WHERE id IN (5, 6, 7, 8)")
        .await
        .unwrap();
    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let selection = json!([
        {"resource": "rds:db", "table": "contacts", "keys": [5, {"id": 6}]},
        {"resource": "rds:db", "table": "public.contacts", "filter": {"email": "student7@example.edu"}, "with_dependants": true},
        {"resource": "rds:db", "table": "contacts", "filter": {"email": "x' OR '1'='1"}, "with_dependants": true}
    ]);
    let execution = approve_selective(&stack, &id, db_snapshot(slot), selection).await;
    confirm(&stack, &id).await;
    assert_eq!(finished(&stack, &execution).await.status, "SUCCEEDED");

    // 5 and 6 alone; 7 with its application and notes; 8 was not selected.
    let now = crm_rows(&db, "$c IN (5, 6, 7)").await;
    assert_eq!(now[0], before[0]);
    assert_eq!(now[1..], of_contacts(&before, |c| c == 7)[1..]);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts WHERE id = 8").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts").await, CONTACTS - 1);
    let (report, _) = report(&stack, &id).await;
    assert_eq!(table_of(&report, "public.contacts")["merged"]["inserted"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_before_the_merge_leaves_production_untouched() {
    let stack = stack().await;
    let (db, slot) = crm_db(&stack).await;
    db.batch_execute("DELETE FROM contacts WHERE id <= 100")
        .await
        .unwrap();
    let after_loss = crm_rows(&db, "true").await;
    // The extract cannot be stored.
    stack.edge.faults.add(
        FaultRule::on("s3", "PutObject")
            .by("restore-executor")
            .target_contains("/extract/")
            .refuse("AccessDenied"),
    );
    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let selection =
        json!([{"resource": "rds:db", "table": "contacts", "missing": true, "with_dependants": true}]);
    let execution = approve_selective(&stack, &id, db_snapshot(slot), selection).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "FAILED", "{end:?}");
    stack.edge.faults.clear();

    assert_eq!(crm_rows(&db, "true").await, after_loss);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'lifeboat'"
        )
        .await,
        0,
        "nothing of Lifeboat's was written to production"
    );
    let r = request(&stack, &id).await;
    assert_eq!(r["status"], "failed");
    let staging = names(&id, &ResourceKey::rds("db")).staging;
    assert!(!stack.postgres().database_exists(&staging).await.unwrap());
    let (report, _) = report(&stack, &id).await;
    assert!(
        report["outcome"]["cause"]
            .as_str()
            .unwrap()
            .contains("AccessDenied"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_batches_then_the_retry_leaves_every_row_exactly_once() {
    let stack = stack_with(&[("LIFEBOAT_MERGE_BATCH_ROWS", "100")]).await;
    let (db, slot) = crm_db(&stack).await;
    let before = crm_rows(&db, "$c <= 300").await;
    db.batch_execute("DELETE FROM contacts WHERE id <= 300")
        .await
        .unwrap();
    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let selection =
        json!([{"resource": "rds:db", "table": "contacts", "missing": true, "with_dependants": true}]);
    let execution = approve_selective(&stack, &id, db_snapshot(slot), selection).await;
    report_before_confirmation(&stack, &id).await;
    // The merge's first write marks it started; its second records batch 0, already
    // committed in production: that write fails (every SDK attempt), so the invocation fails
    // after the commit. Then the process dies reading batch 2: a crash between batches.
    stack.edge.faults.add(
        FaultRule::on("dynamodb", "PutItem")
            .by("restore-executor")
            .target_contains(REQUESTS_TABLE)
            .skip(1)
            .times(lifeboat_aws::MAX_ATTEMPTS)
            .server_error(500),
    );
    stack.edge.faults.add(
        FaultRule::on("s3", "GetObject")
            .by("restore-executor")
            .target_contains("public.contacts/00002")
            .times(1)
            .kill_caller(),
    );
    confirm(&stack, &id).await;
    let end = finished(&stack, &execution).await;
    assert_eq!(end.status, "SUCCEEDED", "{end:?}");
    let injected = calls_by(&stack, "restore-executor")
        .iter()
        .filter(|c| c.injected.is_some())
        .count();
    assert_eq!(
        injected,
        lifeboat_aws::MAX_ATTEMPTS as usize + 1,
        "both faults fired: every try of the write, and the crash"
    );

    assert_eq!(crm_rows(&db, "$c <= 300").await, before);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts").await, CONTACTS);
    assert_eq!(count(&db, "SELECT count(*) FROM notes").await, 2 * CONTACTS);
    let (report, _) = report(&stack, &id).await;
    let contacts = &table_of(&report, "public.contacts")["merged"];
    assert_eq!(
        (contacts["inserted"].clone(), contacts["present"].clone()),
        (json!(300), json!(0))
    );
    // How far it got: every batch and row of the extract merged, the crash's batch once.
    let progress = &request(&stack, &id).await["progress"]["resources"][0];
    assert_eq!(progress["stage"], "done", "{progress}");
    assert_eq!(progress["unit"], "rows", "{progress}");
    let (done, total) = (
        progress["done"].as_u64().unwrap(),
        progress["total"].as_u64().unwrap(),
    );
    assert!(done == total && total >= 300, "{progress}");
    let batches = &progress["batches"];
    assert!(
        batches[0] == batches[1] && batches[0].as_u64() >= Some(3),
        "{progress}"
    );
}

/// `events` as `(pk, sk) → v`.
async fn events(stack: &LocalStack) -> BTreeMap<(String, String), String> {
    let out = stack.dynamodb().scan().table_name("events").send().await.unwrap();
    out.items()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_s().unwrap().clone();
            ((s("pk"), s("sk")), s("v"))
        })
        .collect()
}

async fn put_event(stack: &LocalStack, pk: &str, sk: &str, v: &str) {
    stack
        .dynamodb()
        .put_item()
        .table_name("events")
        .item("pk", AttributeValue::S(pk.into()))
        .item("sk", AttributeValue::S(sk.into()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

async fn delete_event(stack: &LocalStack, pk: &str, sk: &str) {
    stack
        .dynamodb()
        .delete_item()
        .table_name("events")
        .key("pk", AttributeValue::S(pk.into()))
        .key("sk", AttributeValue::S(sk.into()))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_item_collections_and_missing_items_come_back_and_live_items_are_never_overwritten() {
    let stack = stack().await;
    resources::dynamodb_table_keyed(&stack, "events", Some("sk"), &ACME)
        .await
        .unwrap();
    for (pk, n) in [("customer#1", 5), ("customer#2", 3), ("customer#3", 2)] {
        for i in 1..=n {
            put_event(&stack, pk, &format!("{i}"), &format!("{pk} event {i}")).await;
        }
    }
    let slot = hour_before(Utc::now(), 3);
    scheduled_points(&stack, slot).await;
    let at_backup = events(&stack).await;
    // The loss: customer#1's collection and one of customer#2's items; then customer#1's
    // first event is written again, newer than the backup.
    for i in 1..=5 {
        delete_event(&stack, "customer#1", &i.to_string()).await;
    }
    delete_event(&stack, "customer#2", "2").await;
    put_event(&stack, "customer#1", "1", "rewritten after the loss").await;
    put_event(&stack, "customer#3", "9", "written after the loss").await;
    let points = json!([{"resource": "dynamodb:events", "kind": "snapshot", "slot": slot}]);

    // The whole collection of customer#1, by its partition key alone.
    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let selection =
        json!([{"resource": "dynamodb:events", "table": "events", "keys": [{"pk": "customer#1"}]}]);
    let execution = approve_selective(&stack, &id, points.clone(), selection).await;
    let planned = report_before_confirmation(&stack, &id).await;
    assert_eq!(
        table_of(&planned, "events")["plan"],
        json!({"insert": 4, "present": 1, "conflicts": 0})
    );
    confirm(&stack, &id).await;
    assert_eq!(finished(&stack, &execution).await.status, "SUCCEEDED");
    let now = events(&stack).await;
    for i in 2..=5 {
        let key = ("customer#1".to_string(), i.to_string());
        assert_eq!(now[&key], at_backup[&key]);
    }
    let first = ("customer#1".to_string(), "1".to_string());
    assert_eq!(
        now[&first], "rewritten after the loss",
        "a live item is never overwritten"
    );
    assert!(
        !now.contains_key(&("customer#2".to_string(), "2".to_string())),
        "not selected"
    );
    let (report1, _) = report(&stack, &id).await;
    assert_eq!(table_of(&report1, "events")["merged"]["present"], 1);
    // Its one transaction recorded its counts beside the requests, for a retried merge.
    let entry = stack
        .dynamodb()
        .get_item()
        .table_name(REQUESTS_TABLE)
        .key(
            "id",
            AttributeValue::S(format!("merged#{id}#dynamodb:events#events#0#0")),
        )
        .send()
        .await
        .unwrap();
    let entry = entry.item().expect("the merge ledger's entry");
    assert_eq!(entry["inserted"], AttributeValue::N("4".into()));

    // Then everything missing: customer#2's item; nothing live is touched.
    let id = file(&stack, Utc::now() - TimeDelta::minutes(30)).await;
    let selection = json!([{"resource": "dynamodb:events", "table": "events", "missing": true}]);
    let execution = approve_selective(&stack, &id, points, selection).await;
    confirm(&stack, &id).await;
    assert_eq!(finished(&stack, &execution).await.status, "SUCCEEDED");
    let mut expected = at_backup.clone();
    expected.insert(first.clone(), "rewritten after the loss".into());
    expected.insert(("customer#3".into(), "9".into()), "written after the loss".into());
    assert_eq!(events(&stack).await, expected);
    let (report2, _) = report(&stack, &id).await;
    assert_eq!(table_of(&report2, "events")["merged"]["inserted"], 1);
}
