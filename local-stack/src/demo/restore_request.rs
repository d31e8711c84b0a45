//! The demo's restore request: support files one over the HTTP API for a mass deletion two
//! hours ago, an engineer approves it, and the restore state machine starts.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{DEMO_DB, DEMO_INSTANCE, DEMO_TABLE};
use crate::api_front::PRINCIPAL_HEADER;
use crate::http::{self, HttpClient};
use crate::restore_setup::{engineer, support};
use crate::stack::LocalStack;
use crate::StackError;

/// Files and approves a request; returns what to print.
pub async fn run(stack: &LocalStack, now: DateTime<Utc>) -> Result<String, StackError> {
    // moto keeps no point-in-time windows: give both resources the policy's 72 hours.
    for resource in [format!("rds:{DEMO_DB}"), format!("dynamodb:{DEMO_TABLE}")] {
        stack.edge.windows.set(
            &resource,
            crate::edge::windows::Window {
                earliest: now - TimeDelta::hours(72),
                latest: now,
            },
        );
    }
    let filing = json!({
        "instance_id": DEMO_INSTANCE,
        "description": "The customer's CRM integration deleted about 1,000 contacts in twenty minutes.",
        "occurred_at": now - TimeDelta::hours(2),
        "affected": {"objects": ["contacts"], "areas": ["CRM sync"], "estimated_records": 1000},
        "business_context": "Admissions deadline on Monday; counselors are calling these students.",
        "cause": "integration_mass_deletion"
    });
    let filed = call(stack, &support("sam"), "/restore-requests", &filing).await?;
    let id = filed["id"].as_str().unwrap_or_default().to_string();
    let mut out = format!(
        "Restore request {id} filed by support: triage {}\n",
        filed["triage"]["verdict"].as_str().unwrap_or("?")
    );
    for reason in filed["triage"]["reasons"].as_array().into_iter().flatten() {
        out.push_str(&format!("  - {}\n", reason.as_str().unwrap_or_default()));
    }
    out.push_str("Recovery options:\n");
    for option in filed["recovery_options"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {:<34} {:<14} to {}  (a full rollback loses {:.1} h)\n",
            option["resource"].as_str().unwrap_or_default(),
            option["source"]["kind"].as_str().unwrap_or_default(),
            option["restores_to"].as_str().unwrap_or_default(),
            option["data_loss"]["seconds"].as_f64().unwrap_or_default() / 3600.0
        ));
    }
    let decision = json!({
        "decision": "approve",
        "reason": "An integration's unintended mass deletion that product workflows cannot recover.",
        "mode": "rollback"
    });
    let approved = call(
        stack,
        &engineer("erin"),
        &format!("/restore-requests/{id}/decision"),
        &decision,
    )
    .await?;
    out.push_str(&format!(
        "Approved by engineering; restore execution {}\n",
        approved["execution"].as_str().unwrap_or("(none)")
    ));
    Ok(out)
}

async fn call(stack: &LocalStack, principal: &str, path: &str, body: &Value) -> Result<Value, StackError> {
    let url = format!("{}{path}", stack.api.url());
    let headers = [
        ("content-type", "application/json"),
        (PRINCIPAL_HEADER, principal),
    ];
    let request = http::request("POST", &url, body.to_string().into_bytes(), &headers);
    let (status, body) = HttpClient::new()
        .send(request)
        .await
        .map_err(|e| StackError::Setup(format!("POST {path}: {e}")))?;
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(StackError::Setup(format!(
            "POST {path} answered {status}: {value}"
        )));
    }
    Ok(value)
}
