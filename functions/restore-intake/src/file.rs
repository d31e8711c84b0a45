//! `POST /restore-requests`: support files a request and learns at once how it looks under
//! the policy (triage) and which recovery points could serve it, at what cost.

use chrono::{DateTime, Utc};
use lifeboat::inventory::managed;
use lifeboat::ports::FailureKind;
use lifeboat::ports::StoredRequest;
use lifeboat::request::filing::parse_filing;
use lifeboat::request::lifecycle::{Caller, RestoreRequest};
use lifeboat::request::options::{recovery_options, InstanceResource};
use lifeboat::request::triage::{triage, Facts};
use lifeboat::status_event::RestoreChange;
use uuid::Uuid;

use crate::api::{ApiError, ApiResponse};
use crate::Intake;
use lifeboat::request::holds;

pub async fn file(
    intake: &Intake,
    caller: &Caller,
    body: &[u8],
    now: DateTime<Utc>,
    key_scope: Option<String>,
) -> Result<ApiResponse, ApiError> {
    let filing = parse_filing(body, now)?;
    let resources = instance_resources(intake, &filing.instance_id).await?;
    let mut points = Vec::new();
    for r in &resources {
        points.extend(
            intake
                .catalog
                .latest_available_before(&r.key, filing.occurred_at)
                .await?,
        );
    }
    let options = recovery_options(&filing.instance_id, filing.occurred_at, now, &resources, &points)
        .map_err(ApiError::Unrecoverable)?;
    let triage = triage(&Facts {
        cause: filing.cause,
        description: &filing.description,
        affected: &filing.affected,
    });
    // With an Idempotency-Key, concurrent first tries share one id and so one request.
    let id = format!(
        "rr-{}",
        key_scope.unwrap_or_else(|| Uuid::new_v4().simple().to_string())
    );
    let request = RestoreRequest::file(id, filing, caller, now, triage, options);
    // Held before the request exists, so the pruner cannot take a point between the two;
    // if the request is never written, the holds are released.
    let held = holds::points_of(&request);
    holds::place(&*intake.catalog, &held, &request.id)
        .await
        .map_err(|e| match e.kind {
            FailureKind::Conflict => ApiError::Conflict(format!(
                "a recovery point was deleted while the request was filed ({e}); file it again"
            )),
            _ => ApiError::Dependency(e),
        })?;
    let stored = StoredRequest {
        request,
        version: 0,
        task_token: None,
    };
    match intake.requests.create(&stored).await {
        Ok(()) => {
            intake
                .events
                .announce(&stored.request, RestoreChange::Filed)
                .await;
            Ok(created(&stored.request))
        }
        Err(e) if e.kind == FailureKind::Conflict => {
            // A concurrent first try with the same key wrote it: announced again, same id.
            let existing = intake.load(&stored.request.id).await?;
            intake
                .events
                .announce(&existing.request, RestoreChange::Filed)
                .await;
            Ok(created(&existing.request))
        }
        Err(e) => {
            holds::release(&*intake.catalog, &held, &stored.request.id).await;
            Err(e.into())
        }
    }
}

fn created(request: &RestoreRequest) -> ApiResponse {
    let mut response = ApiResponse::json(201, request);
    response.location = Some(format!("/restore-requests/{}", request.id));
    response
}

/// The managed resources of `instance_id`, with their continuous-backup windows: a tag query
/// scoped to the instance, so filing stays quick whatever the fleet's size.
pub async fn instance_resources(
    intake: &Intake,
    instance_id: &str,
) -> Result<Vec<InstanceResource>, ApiError> {
    let mut resources = Vec::new();
    for service in &intake.services {
        for found in service.discover_instance(instance_id).await? {
            let resource = match managed(&found, &intake.policies) {
                Ok(Some(m)) if m.instance_id == instance_id => m,
                Ok(_) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "skipping a resource with bad Lifeboat tags");
                    continue;
                }
            };
            let window = service.restorable_window(&resource.key).await?;
            resources.push(InstanceResource {
                key: resource.key,
                policy: resource.policy,
                window,
            });
        }
    }
    Ok(resources)
}
