//! The local stack's restore-request API as a client calls it: JSON over the API front, as
//! a principal, and polling until something is so. The demo and the benchmarks use it.

use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api_front::PRINCIPAL_HEADER;
use crate::http::{self, HttpClient};
use crate::names::engineer;
use crate::stack::LocalStack;
use crate::StackError;

/// Decides request `id` as engineer erin; the execution an approval started (empty for a
/// rejection).
pub async fn decide(stack: &LocalStack, id: &str, decision: &Value) -> Result<String, StackError> {
    let path = format!("/restore-requests/{id}/decision");
    let answer = send(stack, "POST", &engineer("erin"), &path, Some(decision)).await?;
    Ok(answer["execution"].as_str().unwrap_or_default().to_string())
}

/// Calls the API as `principal`; the JSON answer, or an error naming the call and status.
pub async fn send(
    stack: &LocalStack,
    method: &str,
    principal: &str,
    path: &str,
    body: Option<&Value>,
) -> Result<Value, StackError> {
    let url = format!("{}{path}", stack.api.url());
    let headers = [
        ("content-type", "application/json"),
        (PRINCIPAL_HEADER, principal),
    ];
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let request = http::request(method, &url, bytes, &headers);
    let (status, body) = HttpClient::new()
        .send(request)
        .await
        .map_err(|e| StackError::Setup(format!("{method} {path}: {e}")))?;
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if !status.is_success() {
        return Err(StackError::Setup(format!(
            "{method} {path} answered {status}: {value}"
        )));
    }
    Ok(value)
}

/// Polls `check` every 200 ms until it answers, for at most `limit`.
pub async fn poll<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> Result<T, StackError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, StackError>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(StackError::Setup(format!("gave up waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits for a Step Functions execution to stop running; its status.
pub async fn execution_end(
    stack: &LocalStack,
    execution: &str,
    limit: Duration,
) -> Result<String, StackError> {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    poll("the restore execution to end", limit, || async {
        let described = sfn
            .describe_execution()
            .execution_arn(execution)
            .send()
            .await
            .map_err(|e| StackError::aws(&format!("DescribeExecution {execution}"), e))?;
        let status = described.status().as_str().to_string();
        Ok((status != "RUNNING").then_some(status))
    })
    .await
}
