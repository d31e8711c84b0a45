//! The restore-request API end to end: HTTP through the local stack's API front, the real
//! restore-intake binary, DynamoDB and Step Functions in moto, windows set at the edge.
//!
//! This file holds the helpers (filings, the acme instance, reads of the requests table);
//! the tests are in a module per concern: `filing` (triage, options and holds),
//! `authorization` (who may do what), `idempotency` (retries, executions started exactly
//! once, one winner of two writes) and `bad_input` (every bad input's 4xx).

mod authorization;
mod bad_input;
mod filing;
mod idempotency;

use chrono::{DateTime, Datelike, TimeDelta, Timelike, Utc, Weekday};
use lifeboat::catalog::ResourceKey;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::ports::RequestStore;
use lifeboat::ports::{Catalog, FailureKind};
use lifeboat::schedule::Slot;
use lifeboat_aws::{CatalogTable, RequestsTable};
use lifeboat_e2e::*;
use lifeboat_local::edge::faults::FaultRule;
use lifeboat_local::names::CATALOG_TABLE;
use lifeboat_local::names::{engineer, support, REQUESTS_TABLE};
use lifeboat_local::resources;
use lifeboat_local::restore_setup::state_machine_arn;
use lifeboat_local::LocalStack;
use serde_json::{json, Value};

const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];
const BOTH: &str = concat!("arn:aws:iam::", lifeboat_local::account!(), ":user/pat-both");
const STRANGER: &str = concat!(
    "arn:aws:sts::",
    lifeboat_local::account!(),
    ":assumed-role/marketing/max"
);

fn filing(cause: &str, occurred_at: DateTime<Utc>, description: &str, estimated: Option<u64>) -> Value {
    let mut affected = json!({"objects": ["contacts"], "areas": ["CRM"]});
    if let Some(n) = estimated {
        affected["estimated_records"] = json!(n);
    }
    json!({
        "instance_id": "acme",
        "description": description,
        "occurred_at": occurred_at,
        "affected": affected,
        "business_context": "Application deadline on Monday.",
        "cause": cause
    })
}

fn mass_deletion(occurred_at: DateTime<Utc>) -> Value {
    filing(
        "integration_mass_deletion",
        occurred_at,
        "The customer's CRM sync deleted 2,000 contacts in twenty minutes.",
        Some(2000),
    )
}

fn approve() -> Value {
    json!({"decision": "approve", "reason": "an integration's unintended mass deletion", "mode": "rollback"})
}

/// Instance acme: RDS `db` and DynamoDB `orders`, both with point-in-time recovery on.
async fn acme(stack: &LocalStack) {
    resources::rds_instance(stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(stack, "orders", &ACME).await.unwrap();
    let spec = aws_sdk_dynamodb::types::PointInTimeRecoverySpecification::builder()
        .point_in_time_recovery_enabled(true)
        .recovery_period_in_days(3)
        .build()
        .unwrap();
    stack
        .dynamodb()
        .update_continuous_backups()
        .table_name("orders")
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .unwrap();
}

async fn file(stack: &LocalStack, body: &Value) -> Value {
    let answer = api_json(stack, &support("sam"), "POST", "/restore-requests", body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body
}

async fn requests_in_table(stack: &LocalStack) -> i32 {
    stack
        .dynamodb()
        .scan()
        .table_name(REQUESTS_TABLE)
        .send()
        .await
        .unwrap()
        .count()
}

/// The latest Saturday 23:00 UTC at least `days` days before `now`.
fn saturday_before(now: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    let mut t = (now - TimeDelta::days(days))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap();
    while !(t.weekday() == Weekday::Sat && t.hour() == 23) {
        t -= TimeDelta::hours(1);
    }
    t
}
