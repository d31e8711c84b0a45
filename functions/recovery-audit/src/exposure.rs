//! The exposure sweep: every copy of a customer's data in the run's scope checked for who
//! outside the account can reach it, and closed at once unless this is a dry run:
//! - the guarded manual RDS snapshots ([`crate::guarded`]: a managed or kept instance's own,
//!   on its turn of the rotation of `sweep_days`, copies of what Lifeboat made, every run,
//!   and in a fanned-out audit the copies of other sources its walk reached,
//!   [`crate::walk`]), whose `restore` attribute loses what reaches outside;
//! - DynamoDB tables' resource policies ([`crate::table_exposure`]: managed tables reported,
//!   Lifeboat's own rewritten);
//! - the reports bucket's public-access blocks.
//!
//! CloudTrail's records revoke a new snapshot share within minutes ([`crate::sharing_change`]);
//! the sweep is the backstop.

use futures::stream::{self, StreamExt};
use lifeboat::audit::{
    exposed_to, lineage::is_made_by_lifeboat, Exposure, ExposureKind, Finding, FindingKind, ManualSnapshot,
};
use lifeboat::catalog::ResourceKey;
use lifeboat::inventory::{DiscoveredResource, ManagedResource, Unmanaged, TAG_INSTANCE};
use lifeboat::ports::FailureKind;
use serde::{Deserialize, Serialize};

use crate::{AuditRun, Auditor};

/// Snapshots looked at at once.
const CONCURRENCY: usize = 4;

/// Something a restore or a drill made (an instance or a table named `lbs-`, `lbf-`, `lbr-`,
/// `lbd-`): a copy of a customer's data that no scheduled function manages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Made {
    pub key: ResourceKey,
    /// The customer instance its tags name, when they do (restores and drills copy
    /// production's tags to what they make in RDS; restored DynamoDB tables take none).
    pub instance: Option<String>,
}

/// What Lifeboat made among `discovered`.
pub(crate) fn made_of(discovered: &[DiscoveredResource]) -> Vec<Made> {
    discovered
        .iter()
        .filter(|d| is_made_by_lifeboat(&d.key.name))
        .map(|d| Made {
            key: d.key.clone(),
            instance: d.tags.get(TAG_INSTANCE).cloned(),
        })
        .collect()
}

/// What a sweep covers.
pub(crate) struct SweepScope<'a> {
    pub managed: &'a [ManagedResource],
    /// Resources Lifeboat no longer manages whose points it still keeps (an offboarded
    /// customer's monthly snapshots).
    pub unmanaged: &'a [Unmanaged],
    pub made: &'a [Made],
    /// Guarded copies whose source is none of the above nor any other shard's, which a
    /// fanned-out audit's walk of the account found ([`crate::walk`]).
    pub orphans: &'a [ManualSnapshot],
    /// Every manual snapshot of the account listed (an audit of the fleet in one
    /// invocation, which has it all in view), rather than those of the instances above only
    /// (an audit of one instance, a shard of a fanned-out audit).
    pub whole_account: bool,
}

pub(crate) struct Swept {
    pub found: Vec<Exposure>,
    /// What could not be listed or read.
    pub findings: Vec<Finding>,
}

impl Auditor {
    pub(crate) async fn sweep(&self, run: &AuditRun, scope: &SweepScope<'_>) -> Swept {
        let (guarded, mut findings) = self.guarded_snapshots(run, scope).await;
        tracing::info!(
            snapshots = guarded.len(),
            sweep_all = run.sweep_all,
            whole_account = scope.whole_account,
            "audit: checking who may restore each guarded snapshot"
        );
        let checked: Vec<_> = stream::iter(guarded)
            .map(|g| async move {
                let restorers = self.sharing.restorers(&g.snapshot.id).await;
                (g, restorers)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut found = Vec::new();
        for (guarded, restorers) in checked {
            match restorers {
                Ok(values) => {
                    let outside = self.outside(&values);
                    if !outside.is_empty() {
                        found.push(self.close_snapshot(run.dry_run, guarded.exposed(outside)).await);
                    }
                }
                // Deleted between the listing and the look (the pruner at work): nothing
                // is left to share.
                Err(e) if e.kind == FailureKind::NotFound => {}
                Err(e) => findings.push(Finding::new(
                    FindingKind::NotChecked,
                    guarded.snapshot.id,
                    format!("who may restore it could not be read: {e}"),
                )),
            }
        }
        let (tables, table_findings) = self.sweep_tables(run, scope).await;
        found.extend(tables);
        findings.extend(table_findings);
        match self.bucket.public_openings().await {
            Ok(openings) if openings.is_empty() => {}
            Ok(openings) => found.push(self.close_bucket(run, openings).await),
            Err(e) => findings.push(Finding::new(
                FindingKind::NotChecked,
                self.bucket.bucket().to_string(),
                format!("its public-access settings could not be read: {e}"),
            )),
        }
        Swept { found, findings }
    }

    /// The values of a `restore` attribute that reach outside the account and the accounts
    /// it trusts.
    pub(crate) fn outside(&self, restorers: &[String]) -> Vec<String> {
        exposed_to(restorers, &self.account)
            .into_iter()
            .filter(|v| !self.trusted_accounts.contains(v))
            .collect()
    }

    /// The account and the accounts it trusts: who may reach a copy.
    pub(crate) fn inside(&self) -> Vec<&str> {
        std::iter::once(self.account.as_str())
            .chain(self.trusted_accounts.iter().map(String::as_str))
            .collect()
    }

    /// Revokes what `exposure` names from its snapshot, unless `dry_run`.
    pub(crate) async fn close_snapshot(&self, dry_run: bool, exposure: Exposure) -> Exposure {
        let outcome = if dry_run {
            None
        } else {
            Some(self.sharing.revoke(&exposure.subject, &exposure.exposed_to).await)
        };
        record(exposure, outcome)
    }

    async fn close_bucket(&self, run: &AuditRun, openings: Vec<String>) -> Exposure {
        let outcome = if run.dry_run {
            None
        } else {
            Some(self.bucket.block_public_access().await)
        };
        let bucket = self.bucket.bucket().to_string();
        record(
            Exposure::found(ExposureKind::Bucket, bucket.clone(), bucket, openings),
            outcome,
        )
    }
}

/// The exposure as found and what became of it (`None`: a dry run, or one left to the
/// operator), logged either way.
pub(crate) fn record(
    exposure: Exposure,
    outcome: Option<Result<(), lifeboat::ports::PortError>>,
) -> Exposure {
    let exposure = Exposure {
        revoked: matches!(outcome, Some(Ok(()))),
        error: match &outcome {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        },
        ..exposure
    };
    if exposure.revoked {
        tracing::warn!(subject = %exposure.subject, owner = %exposure.owner, exposed_to = ?exposure.exposed_to, "exposure found and closed");
    } else if let Some(left) = &exposure.left {
        tracing::warn!(subject = %exposure.subject, owner = %exposure.owner, exposed_to = ?exposure.exposed_to, left, "exposure found and left to the operator");
    } else {
        tracing::error!(subject = %exposure.subject, owner = %exposure.owner, exposed_to = ?exposure.exposed_to, error = ?exposure.error, left = ?exposure.left, "exposure found and NOT closed");
    }
    exposure
}
