//! `GET /restore-requests/{id}` (with the restore's progress) and
//! `GET /restore-requests?instance_id=…&status=…`.

use chrono::{DateTime, Utc};
use lifeboat::execution::progress::progress_of;
use lifeboat::request::lifecycle::Status;
use lifeboat::request::problem::{FieldError, Invalid};
use serde_json::json;

use crate::api::{ApiError, ApiResponse};
use crate::Intake;

/// The request, and once its restore runs, how far it is (`progress`, as of `now`).
pub async fn get(intake: &Intake, id: &str, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
    let stored = intake.load(id).await?;
    let mut body = serde_json::to_value(&stored.request).expect("requests serialize");
    if let Some(run) = &stored.request.run {
        body["progress"] = serde_json::to_value(progress_of(run, now)).expect("progress serializes");
    }
    Ok(ApiResponse::json(200, &body))
}

pub async fn list(intake: &Intake, query: &[(String, String)]) -> Result<ApiResponse, ApiError> {
    let (instance_id, status) = parse_query(query)?;
    let requests = intake.requests.list(&instance_id, status).await?;
    Ok(ApiResponse::json(200, &json!({ "restore_requests": requests })))
}

fn parse_query(query: &[(String, String)]) -> Result<(String, Option<Status>), Invalid> {
    let mut errors = Vec::new();
    let mut instance_id = None;
    let mut status = None;
    for (name, value) in query {
        match name.as_str() {
            "instance_id" if !value.is_empty() => instance_id = Some(value.clone()),
            "instance_id" => errors.push(FieldError::new("instance_id", "must not be empty")),
            "status" => match Status::parse(value) {
                Some(s) => status = Some(s),
                None => {
                    let all: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                    errors.push(FieldError::new(
                        "status",
                        format!("must be one of: {}", all.join(", ")),
                    ))
                }
            },
            other => errors.push(FieldError::new(
                other,
                "is not a query parameter of this endpoint",
            )),
        }
    }
    if instance_id.is_none() && errors.iter().all(|e| e.field != "instance_id") {
        errors.push(FieldError::new("instance_id", "is required"));
    }
    if errors.is_empty() {
        Ok((instance_id.expect("checked"), status))
    } else {
        Err(Invalid(errors))
    }
}
