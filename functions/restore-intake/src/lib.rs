//! The restore-request API (the README's "The restore-request API", and `openapi.yaml` beside
//! this crate): support files requests, engineering decides them, approval starts the restore
//! state machine once.
//!
//! [`Intake::handle`] takes an [`ApiRequest`] and answers an [`ApiResponse`]; `main.rs`
//! converts API Gateway's events into the first and the second into its answers. Each
//! endpoint lives in its own module: [`file`], [`read`], [`decide`], [`cancel`], [`confirm`],
//! and [`points`] (an instance's recovery points, read-only).

pub mod api;
pub mod cancel;
pub mod config;
pub mod confirm;
pub mod decide;
pub mod file;
pub mod idempotency;
pub mod points;
pub mod read;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::{BackupService, Catalog};
use lifeboat::ports::{IdempotencyStore, RequestStore, RestoreWorkflow, StoredRequest};
use lifeboat::request::lifecycle::{Action, Caller};

pub use api::{ApiError, ApiRequest, ApiResponse};
use lifeboat::request::roles::Roles;

/// A change asked of one request: by whom, which, with what body, when.
#[derive(Clone, Copy)]
pub struct Change<'a> {
    pub caller: &'a Caller,
    pub id: &'a str,
    pub body: &'a [u8],
    pub now: DateTime<Utc>,
}

pub struct Intake {
    pub requests: Arc<dyn RequestStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub catalog: Arc<dyn Catalog>,
    pub services: Vec<Arc<dyn BackupService>>,
    pub workflow: Arc<dyn RestoreWorkflow>,
    pub roles: Roles,
    pub policies: PolicyBook,
    /// Fields added to the input of every execution an approval starts (polling settings).
    pub execution_input: serde_json::Map<String, serde_json::Value>,
    /// Status events: filed, decided, cancelled; published once the change is written,
    /// never failing the call.
    pub events: lifeboat_function::status_events::Announcer,
}

/// The endpoints, by method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    File,
    List,
    Get(String),
    Decide(String),
    Cancel(String),
    Confirm(String),
    /// An instance's recovery points.
    Points(String),
}

impl Route {
    /// What the caller asks to do, which decides who may.
    fn action(&self) -> Action {
        match self {
            Route::File => Action::File,
            Route::List | Route::Get(_) | Route::Points(_) => Action::Read,
            Route::Decide(_) => Action::Decide,
            Route::Cancel(_) => Action::Cancel,
            Route::Confirm(_) => Action::Confirm,
        }
    }
}

impl Intake {
    pub async fn handle(&self, request: ApiRequest, now: DateTime<Utc>) -> ApiResponse {
        let (method, path) = (request.method.clone(), request.path.clone());
        match self.serve(request, now).await {
            Ok(response) => response,
            Err(e) => {
                let response = e.response();
                if response.status >= 500 {
                    tracing::error!(%method, %path, error = %e, "request failed");
                } else {
                    tracing::info!(%method, %path, status = response.status, error = %e, "request refused");
                }
                response
            }
        }
    }

    async fn serve(&self, request: ApiRequest, now: DateTime<Utc>) -> Result<ApiResponse, ApiError> {
        let route = route(&request.method, &request.path)?;
        let principal = request.principal.clone().ok_or(ApiError::Unauthenticated)?;
        let caller = self.roles.caller(&principal);
        if request.body.len() > api::MAX_BODY {
            return Err(ApiError::TooLarge(request.body.len()));
        }
        // Before anything is read: refused callers learn nothing, not even from idempotency records.
        caller.may(route.action())?;
        match route {
            Route::List => read::list(self, &request.query).await,
            Route::Get(id) => read::get(self, &id, now).await,
            Route::Points(instance_id) => points::list(self, &instance_id, now).await,
            // Every POST may be retried with the same Idempotency-Key and gets the first answer.
            post => {
                idempotency::once(self, &caller, &request, now, |key_scope| {
                    self.post(post.clone(), &caller, &request.body, now, key_scope)
                })
                .await
            }
        }
    }

    async fn post(
        &self,
        route: Route,
        caller: &Caller,
        body: &[u8],
        now: DateTime<Utc>,
        key_scope: Option<String>,
    ) -> Result<ApiResponse, ApiError> {
        // The request the route names is the only id a change can carry.
        let change = |id| Change {
            caller,
            id,
            body,
            now,
        };
        match route {
            Route::File => file::file(self, caller, body, now, key_scope).await,
            Route::Decide(id) => decide::decide(self, change(&id)).await,
            Route::Cancel(id) => cancel::cancel(self, change(&id)).await,
            Route::Confirm(id) => confirm::confirm(self, change(&id)).await,
            Route::List | Route::Get(_) | Route::Points(_) => unreachable!("reads are not posts"),
        }
    }

    /// The request `id`, or 404.
    pub(crate) async fn load(&self, id: &str) -> Result<StoredRequest, ApiError> {
        self.requests
            .get(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(id.to_string()))
    }
}

fn route(method: &str, path: &str) -> Result<Route, ApiError> {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let route = match (parts.as_slice(), method) {
        (["restore-requests"], "POST") => Some(Route::File),
        (["restore-requests"], "GET") => Some(Route::List),
        (["restore-requests"], _) => None,
        (["restore-requests", id], "GET") => Some(Route::Get(id.to_string())),
        (["restore-requests", _], _) => None,
        (["restore-requests", id, "decision"], "POST") => Some(Route::Decide(id.to_string())),
        (["restore-requests", id, "cancel"], "POST") => Some(Route::Cancel(id.to_string())),
        (["restore-requests", id, "confirm"], "POST") => Some(Route::Confirm(id.to_string())),
        (["restore-requests", _, "decision" | "cancel" | "confirm"], _) => None,
        (["instances", id, "recovery-points"], "GET") => Some(Route::Points(id.to_string())),
        (["instances", _, "recovery-points"], _) => None,
        _ => return Err(ApiError::NoRoute(path.to_string())),
    };
    route.ok_or_else(|| ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: path.to_string(),
    })
}
