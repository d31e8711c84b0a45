//! The API's requests and answers, independent of how they arrive (API Gateway through
//! `lambda_http` in a deployment, the same events from the local stack's HTTP front).
//!
//! Every error answer is one RFC 9457 problem document (`application/problem+json`) whose
//! `errors` name the fields at fault.

use lifeboat::ports::PortError;
use lifeboat::request::lifecycle::{Forbidden, WrongState};
use lifeboat::request::options::Unrecoverable;
use lifeboat::request::problem::{FieldError, Invalid};
use serde::Serialize;
use serde_json::json;

/// Bodies above this are refused with 413 before they are read: the largest valid filing
/// (every text field at its bound) is about 30 KiB.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub idempotency_key: Option<String>,
    pub body: Vec<u8>,
    /// The IAM principal API Gateway authenticated (`None` if the call was not signed).
    pub principal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub location: Option<String>,
}

impl ApiResponse {
    pub fn json(status: u16, body: &impl Serialize) -> ApiResponse {
        ApiResponse {
            status,
            content_type: "application/json",
            body: serde_json::to_string(body).expect("API bodies serialize"),
            location: None,
        }
    }
}

/// Why a call failed, as the caller should see it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(Invalid),
    #[error("{0}")]
    Unrecoverable(Unrecoverable),
    #[error("the request was not signed by an IAM principal")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(Forbidden),
    #[error("no restore request {0}")]
    NotFound(String),
    #[error("instance {0:?} has no resource managed by Lifeboat (tag lifeboat:instance)")]
    UnknownInstance(String),
    #[error("no such path: {0}")]
    NoRoute(String),
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("{0}")]
    WrongState(WrongState),
    #[error("{0}")]
    Conflict(String),
    #[error("the Idempotency-Key was used before with another request")]
    KeyReused,
    #[error("the body is {0} bytes; at most {MAX_BODY} are accepted")]
    TooLarge(usize),
    #[error("{0}")]
    Dependency(PortError),
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Invalid(e)
    }
}

impl From<Forbidden> for ApiError {
    fn from(e: Forbidden) -> Self {
        ApiError::Forbidden(e)
    }
}

impl From<WrongState> for ApiError {
    fn from(e: WrongState) -> Self {
        ApiError::WrongState(e)
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> Self {
        ApiError::Dependency(e)
    }
}

impl ApiError {
    /// A failed conditional write of request `id`: lost to someone else's change (409), or
    /// the store failed.
    pub fn write_failed(e: PortError, id: &str) -> ApiError {
        if e.kind == lifeboat::ports::FailureKind::Conflict {
            ApiError::Conflict(format!(
                "request {id} was changed by someone else meanwhile; read it again"
            ))
        } else {
            ApiError::Dependency(e)
        }
    }

    fn status_and_kind(&self) -> (u16, &'static str, &'static str) {
        match self {
            ApiError::Invalid(_) => (400, "invalid-input", "The request is not valid"),
            ApiError::Unrecoverable(_) => (422, "unrecoverable", "No backup can serve this request"),
            ApiError::Unauthenticated => (401, "unauthenticated", "Not signed"),
            ApiError::Forbidden(_) => (403, "forbidden", "Not allowed"),
            ApiError::NotFound(_) | ApiError::UnknownInstance(_) | ApiError::NoRoute(_) => {
                (404, "not-found", "Not found")
            }
            ApiError::MethodNotAllowed { .. } => (405, "method-not-allowed", "Method not allowed"),
            ApiError::WrongState(_) => (
                409,
                "wrong-state",
                "The request is not in a state that allows this",
            ),
            ApiError::Conflict(_) => (409, "conflict", "Changed meanwhile"),
            ApiError::KeyReused => (409, "idempotency-key-reused", "Idempotency-Key reused"),
            ApiError::TooLarge(_) => (413, "payload-too-large", "The body is too large"),
            ApiError::Dependency(e) if e.kind.is_retryable() => (
                503,
                "unavailable",
                "A service Lifeboat depends on is unavailable; retry",
            ),
            ApiError::Dependency(_) => (502, "dependency-failed", "A service Lifeboat depends on failed"),
        }
    }

    /// The fields at fault, for the problem document.
    fn errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Invalid(invalid) => invalid.0.clone(),
            ApiError::Unrecoverable(Unrecoverable::UnknownInstance(_)) => {
                vec![FieldError::new("instance_id", self.to_string())]
            }
            ApiError::Unrecoverable(_) => vec![FieldError::new("occurred_at", self.to_string())],
            ApiError::TooLarge(_) => vec![FieldError::new("body", self.to_string())],
            ApiError::KeyReused => vec![FieldError::new("Idempotency-Key", self.to_string())],
            ApiError::NotFound(_) => vec![FieldError::new("id", self.to_string())],
            ApiError::UnknownInstance(_) => vec![FieldError::new("instance_id", self.to_string())],
            _ => Vec::new(),
        }
    }

    /// The RFC 9457 problem document of this error.
    pub fn response(&self) -> ApiResponse {
        let (status, kind, title) = self.status_and_kind();
        let body = json!({
            "type": format!("urn:lifeboat:problem:{kind}"),
            "title": title,
            "status": status,
            "detail": self.to_string(),
            "errors": self.errors(),
        });
        ApiResponse {
            status,
            content_type: "application/problem+json",
            body: body.to_string(),
            location: None,
        }
    }
}
