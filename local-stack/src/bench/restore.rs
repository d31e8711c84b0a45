//! The restore orchestration's own overhead: from approval to the swap, minus the time the
//! services spend restoring and the time the engineer takes to confirm.
//!
//! On the local stack moto restores at once, so with polling every 0 seconds every second
//! between approval and the swap is orchestration: Step Functions' state transitions, the
//! executor's invocations and its reads and writes of the request. The figure is measured
//! from the request's own timeline (the approval, the wait for confirmation, the
//! confirmation, the first swap step) over a few rollbacks of a two-resource instance.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::inventory::TAG_INSTANCE;
use serde_json::{json, Value};

use crate::api_client::{decide, execution_end, poll, send};
use crate::edge::windows::Window;
use crate::names::{engineer, support};
use crate::stack::{LocalStack, StackConfig};
use crate::{resources, StackError};

const RUNS: usize = 5;
const LIMIT: Duration = Duration::from_secs(120);

/// Rolls an instance back `RUNS` times with the function binaries in `dir`.
pub async fn orchestration_overhead(dir: &Path) -> Result<String, StackError> {
    let mut config = StackConfig::from_env();
    config.functions_dir = dir.to_path_buf();
    // Fast polling: the loop's own cost, not its interval.
    config
        .function_env
        .insert("LIFEBOAT_RESTORE_POLL_INTERVAL_SECONDS".into(), "0".into());
    config
        .function_env
        .insert("LIFEBOAT_RESTORE_MAX_POLLS".into(), "50".into());
    let stack = LocalStack::start(config).await?;
    let tags = [(TAG_INSTANCE, "bench")];
    resources::rds_instance(&stack, "bench-db", &tags, 3).await?;
    resources::dynamodb_table(&stack, "bench-events", &tags).await?;
    let mut before_confirmation = Vec::new();
    let mut after_confirmation = Vec::new();
    for _ in 0..RUNS {
        let (before, after) = one_rollback(&stack).await?;
        before_confirmation.push(before);
        after_confirmation.push(after);
    }
    let ms = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    let (b_median, b_max) = ms(before_confirmation.clone());
    let (a_median, a_max) = ms(after_confirmation.clone());
    let total: Vec<f64> = before_confirmation
        .iter()
        .zip(&after_confirmation)
        .map(|(b, a)| b + a)
        .collect();
    let (t_median, t_max) = ms(total);
    Ok(format!(
        "Restore orchestration overhead, rollback of RDS + DynamoDB by point in time, polling every 0 s, {RUNS} runs ({}):\n  \
         approval to waiting for confirmation: median {b_median:.0} ms, max {b_max:.0} ms\n  \
         confirmation to the swap's first step: median {a_median:.0} ms, max {a_max:.0} ms\n  \
         approval to swap, less the confirmation wait: median {t_median:.0} ms, max {t_max:.0} ms\n",
        dir.display()
    ))
}

/// One rollback; the milliseconds from approval to waiting for confirmation, and from the
/// confirmation to the first swap step.
async fn one_rollback(stack: &LocalStack) -> Result<(f64, f64), StackError> {
    let now = Utc::now();
    for resource in ["rds:bench-db", "dynamodb:bench-events"] {
        stack.edge.windows.set(
            resource,
            Window {
                earliest: now - TimeDelta::hours(72),
                latest: now,
            },
        );
    }
    let filing = json!({
        "instance_id": "bench",
        "description": "An integration deleted 2,000 contacts.",
        "occurred_at": now - TimeDelta::minutes(10),
        "affected": {"objects": ["contacts"], "estimated_records": 2000},
        "business_context": "Benchmark.",
        "cause": "integration_mass_deletion"
    });
    let filed = send(stack, "POST", &support("sam"), "/restore-requests", Some(&filing)).await?;
    let id = filed["id"].as_str().unwrap_or_default().to_string();
    let path = format!("/restore-requests/{id}");
    let decision = json!({"decision": "approve", "reason": "benchmark", "mode": "rollback"});
    let execution = decide(stack, &id, &decision).await?;
    poll("the restore to wait for confirmation", LIMIT, || async {
        let request = send(stack, "GET", &engineer("erin"), &path, None).await?;
        Ok((request["awaiting_confirmation"] == true).then_some(()))
    })
    .await?;
    send(
        stack,
        "POST",
        &engineer("eli"),
        &format!("{path}/confirm"),
        Some(&json!({})),
    )
    .await?;
    let status = execution_end(stack, &execution, LIMIT).await?;
    let request = send(stack, "GET", &engineer("erin"), &path, None).await?;
    if status != "SUCCEEDED" {
        return Err(StackError::Setup(format!(
            "benchmark rollback {id} ended {status}: {request}"
        )));
    }
    let approved_at = time(&request["decision"]["at"])?;
    let step_at = |step: &str| {
        request["run"]["timeline"]
            .as_array()
            .and_then(|t| t.iter().find(|s| s["step"] == step))
            .map(|s| time(&s["at"]))
            .unwrap_or_else(|| Err(StackError::Setup(format!("{id}: no {step} in the timeline"))))
    };
    let waiting_at = step_at("await_confirmation")?;
    let swap_at = step_at("swap")?;
    let confirmed_at = request["history"]
        .as_array()
        .and_then(|h| h.iter().rev().find(|e| e["reason"] == "confirmed"))
        .map(|e| time(&e["at"]))
        .unwrap_or_else(|| Err(StackError::Setup(format!("{id}: no confirmation in the history"))))?;
    let ms = |d: TimeDelta| d.num_microseconds().unwrap_or_default() as f64 / 1000.0;
    Ok((ms(waiting_at - approved_at), ms(swap_at - confirmed_at)))
}

fn time(v: &Value) -> Result<DateTime<Utc>, StackError> {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| StackError::Setup(format!("not a time: {v}")))
}
