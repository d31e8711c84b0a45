//! The demo's restore request: support files one over the HTTP API for a mass deletion two
//! hours ago, an engineer approves it, the restore state machine restores both resources
//! into staging, a second engineer confirms, and the instance is rolled back.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::DEMO_INSTANCE;
use crate::api_client::{decide, execution_end, poll, send};
use crate::names::{engineer, support};
use crate::stack::LocalStack;
use crate::StackError;

/// How long the demo waits for each stage of the restore.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Files, approves and confirms a rollback and waits for it to end; returns what to print.
pub async fn run(stack: &LocalStack, now: DateTime<Utc>) -> Result<String, StackError> {
    super::give_windows(stack, now);
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
    let execution = decide(stack, &id, &decision).await?;
    out.push_str(&format!(
        "Approved by engineering; restore execution {execution}\n"
    ));
    let path = format!("/restore-requests/{id}");
    poll("the restore to wait for confirmation", LIMIT, || async {
        let request = send(stack, "GET", &engineer("erin"), &path, None).await?;
        Ok((request["awaiting_confirmation"] == true || request["status"] == "failed").then_some(()))
    })
    .await?;
    let confirmation = json!({"reason": "Staging checked: the contacts are there."});
    call(stack, &engineer("eli"), &format!("{path}/confirm"), &confirmation).await?;
    out.push_str("Staging ready; confirmed by a second engineer.\n");
    let status = execution_end(stack, &execution, LIMIT).await?;
    let request = send(stack, "GET", &engineer("erin"), &path, None).await?;
    out.push_str(&format!(
        "Execution {status}; request {}. Timeline:\n",
        request["status"].as_str().unwrap_or("?")
    ));
    for step in request["run"]["timeline"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}  {:<18} {}\n",
            step["at"].as_str().unwrap_or_default(),
            step["step"].as_str().unwrap_or_default(),
            step["detail"].as_str().unwrap_or_default()
        ));
    }
    for r in request["run"]["resources"].as_array().into_iter().flatten() {
        let text = |k: &str| r[k].as_str().unwrap_or("none").to_string();
        let kept_as = if text("resource").starts_with("rds:") {
            format!("RDS instance {}", text("fallback"))
        } else {
            "its safety backup (the table kept its name)".to_string()
        };
        out.push_str(&format!(
            "  {}: {}; safety snapshot {}; old production kept as {kept_as}\n",
            text("resource"),
            text("phase"),
            text("safety_snapshot"),
        ));
    }
    if let Some(report) = request["run"]["report"]["markdown"].as_str() {
        out.push_str(&format!(
            "Report: s3://{}/{report} (and .json)\n",
            crate::names::REPORTS_BUCKET
        ));
    }
    if status != "SUCCEEDED" {
        return Err(StackError::Setup(format!(
            "the demo rollback ended {status}: {request}"
        )));
    }
    Ok(out)
}

async fn call(stack: &LocalStack, principal: &str, path: &str, body: &Value) -> Result<Value, StackError> {
    send(stack, "POST", principal, path, Some(body)).await
}
