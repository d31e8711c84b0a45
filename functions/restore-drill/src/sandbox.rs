//! The sandbox of one resource: restored from the plan's point (`start`), polled until
//! usable (`ready`), and deleted (`clean_up`), only ever the sandbox this drill made: marked
//! as its own, or (a DynamoDB table not yet marked) restored from the plan's backup after the
//! plan was recorded. The restorers refuse anything else by the sandbox's name: never
//! adopted, checked, written or deleted. `ready` answers the sandbox's identity with its
//! readiness: the `check` step inspects only the sandbox of that identity, so a look-alike
//! put under the name after `ready` cannot make a drill pass.

use chrono::{DateTime, Utc};
use lifeboat::execution::error::StepError;
use lifeboat::execution::identity::{Identity, Made};
use lifeboat::ports::restorer::{Origin, Progress, RestoreFrom, Target};
use lifeboat::ports::Deletion;
use serde::Serialize;
use serde_json::Value;

use crate::{Driller, PlanItem};

#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    /// When it was seen usable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The sandbox's identity once it was usable: what `check` inspects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    pub resource: String,
    pub sandbox: String,
    pub deleted: bool,
    /// Whether there was a sandbox to delete (not gone already).
    pub found: bool,
    pub detail: String,
}

/// The sandbox as the restorers take it: restored from the plan's point, and made after the
/// plan was recorded (`started_at`, before anything was restored), so a resource by the
/// sandbox's name made before it is not this drill's; with its identity once `ready` pinned it.
pub(crate) fn target<'a>(item: &'a PlanItem, pinned: Option<&'a Identity>) -> Target<'a> {
    // A drill has no fallback: nothing of production is ever moved.
    Target {
        request_id: &item.drill_id,
        production: &item.resource,
        staging: &item.sandbox,
        fallback: "",
        origin: Some(Origin {
            from: RestoreFrom::Snapshot(item.service_id.clone()),
            asked_after: item.started_at,
        }),
        staging_identity: pinned,
        fallback_identity: None,
    }
}

impl Driller {
    pub async fn start(&self, item: &PlanItem) -> Result<Value, StepError> {
        item.check()?;
        (self
            .restorer(item.resource.kind)?
            .start_staging(&target(item, None))
            .await)
            .map_err(|e| StepError::from_port("start", e))?;
        tracing::info!(drill = %item.drill_id, resource = %item.resource, sandbox = %item.sandbox, "drill sandbox restoring");
        Ok(Value::Null)
    }

    pub async fn ready(&self, item: &PlanItem, now: DateTime<Utc>) -> Result<Readiness, StepError> {
        item.check()?;
        let restorer = self.restorer(item.resource.kind)?;
        let progress = (restorer.staging_ready(&target(item, None)).await)
            .map_err(|e| StepError::from_port("ready", e))?;
        // Restored: now readable? (An RDS sandbox gets its own credentials first.)
        let progress = match (progress, self.inspector(item.resource.kind)) {
            (Progress::Done, Some(inspector)) => (inspector.prepare(&item.sandbox, &item.drill_id).await)
                .map_err(|e| StepError::from_port("ready", e))?,
            (progress, _) => progress,
        };
        let waiting = |what: String| Readiness {
            ready: false,
            at: None,
            waiting_for: Some(what),
            identity: None,
        };
        Ok(match progress {
            Progress::Done => Readiness {
                ready: true,
                at: Some(now),
                waiting_for: None,
                identity: Some(
                    (restorer.identity(&target(item, None), Made::Staging).await)
                        .map_err(|e| StepError::from_port("ready", e))?,
                ),
            },
            Progress::Pending(what) => waiting(what),
            Progress::Spread(_) => waiting("shards".into()),
        })
    }

    /// Deletes the sandbox; a sandbox the service is still working on is retried by the
    /// state machine (`Lifeboat.Retryable`).
    pub async fn clean_up(&self, item: &PlanItem) -> Result<Cleaned, StepError> {
        item.check()?;
        // A conflict (still restoring) is retryable; a refusal (not this drill's) is not.
        let deletion = (self
            .restorer(item.resource.kind)?
            .delete_staging(&target(item, None))
            .await)
            .map_err(|e| StepError::from_port("clean_up", e))?;
        let found = deletion == Deletion::Deleted;
        let detail = if found {
            "deleted"
        } else {
            "already gone (never made, or deleted by an earlier try)"
        };
        tracing::info!(drill = %item.drill_id, sandbox = %item.sandbox, detail, "drill sandbox cleaned up");
        Ok(Cleaned {
            resource: item.resource.to_string(),
            sandbox: item.sandbox.clone(),
            deleted: true,
            found,
            detail: detail.into(),
        })
    }
}
