//! Restore execution end to end: the real definition from `infra/` executed by moto's Step
//! Functions interpreter, its tasks served by the real restore-executor binary, requests
//! filed, approved and confirmed through the restore-request API.
//!
//! This file holds the helpers (production's resources, approvals, reads of the stack); the
//! tests are in a module per concern: `rollbacks` that succeed, `refusals` (what is refused
//! or runs out, with production untouched) and `faults` (a fault at each step, and after the
//! swap began).

mod faults;
mod refusals;
mod rollbacks;

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_rds::types::Tag;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::execution::names::names;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::Catalog;
use lifeboat_aws::CatalogTable;
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::{FaultRule, FaultRuleBuilder};
use lifeboat_local::names::engineer;
use lifeboat_local::names::CATALOG_TABLE;
use lifeboat_local::LocalStack;
use serde_json::{json, Value};

const ACME: [(&str, &str); 2] = [(TAG_INSTANCE, "acme"), ("team", "crm")];

/// Production `db` with settings a restore does not copy: a parameter group, security
/// groups, deletion protection, a backup retention and tags.
async fn production_db(stack: &LocalStack) {
    let rds = stack.rds();
    rds.create_db_parameter_group()
        .db_parameter_group_name("acme-pg")
        .db_parameter_group_family("postgres16")
        .description("acme's tuned parameters")
        .send()
        .await
        .unwrap();
    let mut create = rds
        .create_db_instance()
        .db_instance_identifier("db")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("lifeboat")
        .master_user_password("local-only-password")
        .db_parameter_group_name("acme-pg")
        .vpc_security_group_ids("sg-acme")
        .deletion_protection(true)
        .backup_retention_period(3);
    for (k, v) in ACME {
        create = create.tags(Tag::builder().key(k).value(v).build());
    }
    create.send().await.unwrap();
}

/// Production table `orders`.
pub(crate) async fn production_orders(stack: &LocalStack) {
    lifeboat_local::resources::dynamodb_table(stack, "orders", &ACME)
        .await
        .unwrap();
}

async fn put(stack: &LocalStack, pk: &str, v: &str) {
    stack
        .dynamodb()
        .put_item()
        .table_name("orders")
        .item("pk", AttributeValue::S(pk.into()))
        .item("v", AttributeValue::S(v.into()))
        .send()
        .await
        .unwrap();
}

/// `orders` as `pk → v`.
pub(crate) async fn orders(stack: &LocalStack) -> BTreeMap<String, String> {
    let out = stack.dynamodb().scan().table_name("orders").send().await.unwrap();
    out.items()
        .iter()
        .map(|i| {
            let s = |k: &str| i[k].as_s().unwrap().clone();
            (s("pk"), s("v"))
        })
        .collect()
}

/// Approves `id` for a rollback to `points`; the API's answer.
pub(crate) async fn approve(stack: &LocalStack, id: &str, points: Value) -> Answer {
    let body = json!({"decision": "approve", "reason": "a mass deletion by an integration",
        "mode": "rollback", "recovery_points": points});
    api_json(
        stack,
        &engineer("erin"),
        "POST",
        &format!("/restore-requests/{id}/decision"),
        &body,
    )
    .await
}

/// Files a loss a minute ago and approves rolling `db` back to five minutes ago; the
/// request and the execution approval started.
async fn roll_db_back_five_minutes(stack: &LocalStack) -> (String, String) {
    let target = (Utc::now() - TimeDelta::minutes(5))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let id = file(stack, Utc::now() - TimeDelta::minutes(1)).await;
    let points = json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]);
    let execution = execution_of(&approve(stack, &id, points).await);
    (id, execution)
}

/// Changes production's backup retention, as someone might while a restore is prepared.
async fn set_production_retention(stack: &LocalStack, days: i32) {
    stack
        .rds()
        .modify_db_instance()
        .db_instance_identifier("db")
        .backup_retention_period(days)
        .apply_immediately(true)
        .send()
        .await
        .unwrap();
}

async fn instance(stack: &LocalStack, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
    let out = stack
        .rds()
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()?;
    out.db_instances().first().cloned()
}

fn tags(db: &aws_sdk_rds::types::DbInstance) -> BTreeMap<String, String> {
    db.tag_list()
        .iter()
        .map(|t| {
            (
                t.key().unwrap().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

async fn instance_ids(stack: &LocalStack) -> Vec<String> {
    let out = stack.rds().describe_db_instances().send().await.unwrap();
    let mut ids: Vec<String> = out
        .db_instances()
        .iter()
        .map(|d| d.db_instance_identifier().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

async fn table_names(stack: &LocalStack) -> Vec<String> {
    let mut names = stack
        .dynamodb()
        .list_tables()
        .send()
        .await
        .unwrap()
        .table_names()
        .to_vec();
    names.sort();
    names
}

/// Whether any catalog record is still held by `id`.
async fn holds_of(stack: &LocalStack, id: &str) -> usize {
    CatalogTable::new(stack.dynamodb(), CATALOG_TABLE)
        .all_points()
        .await
        .unwrap()
        .iter()
        .filter(|p| p.holds.iter().any(|h| h == id))
        .count()
}

/// Files and approves a point-in-time rollback of `db` whose execution does not start
/// (StartExecution fails), so that the test starts it from the console with its own input.
async fn approved_without_execution(stack: &LocalStack, now: DateTime<Utc>) -> String {
    let id = file(stack, now - TimeDelta::minutes(30)).await;
    stack.edge.faults.add(
        FaultRule::on("states", "StartExecution")
            .times(lifeboat_aws::MAX_ATTEMPTS)
            .server_error(500),
    );
    let target = (now - TimeDelta::minutes(35))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let answer = approve(
        stack,
        &id,
        json!([{"resource": "rds:db", "kind": "point_in_time", "target": target}]),
    )
    .await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    stack.edge.faults.clear();
    id
}
