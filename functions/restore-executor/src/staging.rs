//! Deleting what a restore staged: only what this request made and marked as its staging,
//! never a resource in mid-swap that may be production now (only its undo may move it). A
//! resource by the staging name the restorer refuses as not this request's is left where it
//! is and named in the timeline: it was never this request's to delete.

use chrono::{DateTime, Utc};
use lifeboat::catalog::ResourceKind;
use lifeboat::execution::error::StepError;
use lifeboat::execution::run::{Phase, Run, Step};
use lifeboat::ports::{Deletion, FailureKind};

use crate::{target, Executor};

fn deleted(deletion: Deletion) -> &'static str {
    match deletion {
        Deletion::Deleted => "deleted",
        Deletion::AlreadyGone => "already gone (swapped in as production, or kept aside by an undo)",
    }
}

/// Deletes every staging resource the run made and has not deleted yet; what could not be
/// deleted yet because it is busy (still being restored or renamed), to try again later.
pub async fn delete_staging(
    executor: &Executor,
    id: &str,
    run: &mut Run,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StepError> {
    let mut busy = Vec::new();
    for i in 0..run.resources.len() {
        let r = &run.resources[i];
        // An RDS production in mid-swap may be what staging was: only its undo may move it.
        // DynamoDB staging is never production (its items are copied, the table stays).
        let mid_swap = r.resource.kind == ResourceKind::RdsInstance
            && r.production_touched()
            && r.phase != Phase::Verified;
        if r.phase < Phase::StagingStarted || r.staging_deleted || mid_swap {
            continue;
        }
        let deletion = match executor
            .restorer(r.resource.kind)?
            .delete_staging(&target(id, run.started_at, r))
            .await
        {
            Ok(deletion) => deletion,
            // The service refuses to delete what it is still working on.
            Err(e) if e.kind == FailureKind::Conflict => {
                busy.push(format!(
                    "{}: staging {} is busy: {}",
                    r.resource, r.staging, e.message
                ));
                continue;
            }
            // What carries the staging name is not provably this request's (a look-alike made
            // before the restore, so the restore itself never happened): left as it is, and
            // said, rather than failing the failure path.
            Err(e) if e.kind == FailureKind::NotOurs => {
                run.record(
                    Step::CleanUp,
                    now,
                    format!(
                        "{}: staging {} not deleted, not this request's: {}",
                        r.resource, r.staging, e.message
                    ),
                );
                continue;
            }
            Err(e) => return Err(StepError::from_port("clean_up", e)),
        };
        run.record(
            Step::CleanUp,
            now,
            format!("{}: staging {} {}", r.resource, r.staging, deleted(deletion)),
        );
        run.resources[i].staging_deleted = true;
    }
    Ok(busy)
}
