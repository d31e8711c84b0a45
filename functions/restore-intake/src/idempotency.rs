//! `Idempotency-Key`: a POST retried with the same key gets the first answer; the same key
//! with another request is refused (409).
//!
//! Keys are scoped to the caller's person, so one person's key never replays another's
//! answer, and a retry from a refreshed session of the same person finds the first one.
//! Answers of 5xx are not remembered: the call did not happen as far as the caller can
//! tell, and a retry should try again. Filing derives the new request's id from the key's
//! scope, so two concurrent first tries create one request, not two.

use std::future::Future;

use chrono::{DateTime, Utc};
use lifeboat::ports::Remembered;
use lifeboat::request::lifecycle::Caller;
use lifeboat::request::problem::Invalid;
use uuid::Uuid;

use crate::api::{ApiError, ApiRequest, ApiResponse};
use crate::Intake;

pub const HEADER: &str = "Idempotency-Key";
pub const MAX_KEY: usize = 128;

/// Fixed namespace of the name-based UUIDs below (any constant would do; this one is random).
const NAMESPACE: Uuid = Uuid::from_u128(0x6c1f_e2a4_9b57_4c1e_a0f3_5d2e_8b41_7c90);

/// Runs `post` unless an answer to the same key is remembered. `post` gets the key's scope,
/// when there is a key.
pub async fn once<F, Fut>(
    intake: &Intake,
    caller: &Caller,
    request: &ApiRequest,
    now: DateTime<Utc>,
    post: F,
) -> Result<ApiResponse, ApiError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: Future<Output = Result<ApiResponse, ApiError>>,
{
    let Some(key) = &request.idempotency_key else {
        return post(None).await;
    };
    check_key(key)?;
    // By person, not session ARN: a retry after a credential refresh (a new session of the
    // same person) must find the first answer, not file a second request.
    let scope = name(&format!("{}\n{key}", caller.person));
    let fingerprint = name(&format!(
        "{} {}\n{}",
        request.method,
        request.path,
        String::from_utf8_lossy(&request.body)
    ));
    if let Some(first) = intake.idempotency.recall(&scope).await? {
        return replay(first, &fingerprint);
    }
    let answer = match post(Some(scope.clone())).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::info!(method = %request.method, path = %request.path, error = %e, "request refused");
            e.response()
        }
    };
    if answer.status >= 500 {
        return Ok(answer);
    }
    let kept = intake
        .idempotency
        .remember(
            &scope,
            &Remembered {
                fingerprint: fingerprint.clone(),
                status: answer.status,
                body: answer.body.clone(),
                at: now,
            },
        )
        .await?;
    // A concurrent first try with the same key may have been remembered first.
    if kept.body == answer.body {
        Ok(answer)
    } else {
        replay(kept, &fingerprint)
    }
}

fn check_key(key: &str) -> Result<(), Invalid> {
    let printable = key.chars().all(|c| c.is_ascii_graphic());
    if key.is_empty() || key.len() > MAX_KEY || !printable {
        return Err(Invalid::one(
            HEADER,
            format!("must be 1 to {MAX_KEY} printable ASCII characters without spaces"),
        ));
    }
    Ok(())
}

fn replay(first: Remembered, fingerprint: &str) -> Result<ApiResponse, ApiError> {
    if first.fingerprint != fingerprint {
        return Err(ApiError::KeyReused);
    }
    let location = (first.status == 201)
        .then(|| serde_json::from_str::<serde_json::Value>(&first.body).ok())
        .flatten()
        .and_then(|v| v["id"].as_str().map(|id| format!("/restore-requests/{id}")));
    Ok(ApiResponse {
        status: first.status,
        content_type: if first.status >= 400 {
            "application/problem+json"
        } else {
            "application/json"
        },
        body: first.body,
        location,
    })
}

/// A stable name for `text` (a name-based UUID: same text, same name).
pub fn name(text: &str) -> String {
    Uuid::new_v5(&NAMESPACE, text.as_bytes()).simple().to_string()
}
