//! The exposure sweep: every manual snapshot of the managed RDS instances whose turn it is in
//! the rotation of `sweep_days` (a week by default; all of them when asked, or for an audit
//! of one instance), and the reports bucket.
//! Whatever reaches outside the account is revoked at once, unless this is a dry run.
//!
//! One `DescribeDBSnapshotAttributes` per snapshot is what AWS offers; at about 90 snapshots
//! per instance, a turn every few days keeps a fleet's sweep within the RDS budget (see
//! README): CloudTrail's records revoke a new share within minutes, the sweep is the backstop.

use futures::stream::{self, StreamExt};
use lifeboat::audit::{exposed_to, Exposure, Finding, FindingKind};
use lifeboat::catalog::ResourceKind;
use lifeboat::inventory::{ManagedResource, Unmanaged};
use lifeboat::ports::FailureKind;
use lifeboat::rotation::daily_turn_at;
use lifeboat::schedule::Slot;

use crate::{AuditRun, Auditor};

/// Snapshots looked at at once.
const CONCURRENCY: usize = 4;

pub(crate) struct Swept {
    pub found: Vec<Exposure>,
    /// Snapshots or instances whose sharing could not be read.
    pub findings: Vec<Finding>,
}

impl Auditor {
    /// `unmanaged`: resources Lifeboat no longer manages whose points it still keeps (an
    /// offboarded customer's monthly snapshots): theirs are swept too.
    pub(crate) async fn sweep(
        &self,
        run: &AuditRun,
        managed: &[ManagedResource],
        unmanaged: &[Unmanaged],
    ) -> Swept {
        let mut swept = Swept {
            found: Vec::new(),
            findings: Vec::new(),
        };
        let day = Slot::containing(run.at);
        let instances = (managed.iter().map(|m| &m.key))
            .chain(unmanaged.iter().map(|u| &u.resource))
            .filter(|key| key.kind == ResourceKind::RdsInstance)
            .filter(|key| run.sweep_all || daily_turn_at(key, day, self.sweep_days));
        let mut snapshots = Vec::new();
        for key in instances {
            match self.sharing.snapshots_of(&key.name).await {
                Ok(ids) => snapshots.extend(ids.into_iter().map(|id| (key.to_string(), id))),
                Err(e) => swept.findings.push(Finding::new(
                    FindingKind::NotChecked,
                    key.to_string(),
                    format!("its snapshots' sharing could not be listed: {e}"),
                )),
            }
        }
        tracing::info!(
            snapshots = snapshots.len(),
            sweep_all = run.sweep_all,
            "audit: checking who may restore each snapshot"
        );
        let checked: Vec<_> = stream::iter(snapshots)
            .map(|(owner, id)| async move {
                let restorers = self.sharing.restorers(&id).await;
                (owner, id, restorers)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (owner, id, restorers) in checked {
            match restorers {
                Ok(values) => {
                    let outside = self.outside(&values);
                    if !outside.is_empty() {
                        swept
                            .found
                            .push(self.close_snapshot(run.dry_run, owner, id, outside).await);
                    }
                }
                // Deleted between the listing and the look (the pruner at work): nothing
                // is left to share.
                Err(e) if e.kind == FailureKind::NotFound => {}
                Err(e) => swept.findings.push(Finding::new(
                    FindingKind::NotChecked,
                    id,
                    format!("who may restore it could not be read: {e}"),
                )),
            }
        }
        match self.bucket.public_openings().await {
            Ok(openings) if openings.is_empty() => {}
            Ok(openings) => swept.found.push(self.close_bucket(run, openings).await),
            Err(e) => swept.findings.push(Finding::new(
                FindingKind::NotChecked,
                self.bucket.bucket().to_string(),
                format!("its public-access settings could not be read: {e}"),
            )),
        }
        swept
    }

    /// The values of a `restore` attribute that reach outside the account and the accounts
    /// it trusts.
    pub(crate) fn outside(&self, restorers: &[String]) -> Vec<String> {
        exposed_to(restorers, &self.account)
            .into_iter()
            .filter(|v| !self.trusted_accounts.contains(v))
            .collect()
    }

    /// Revokes `outside` from snapshot `id` (of `owner`), unless `dry_run`.
    pub(crate) async fn close_snapshot(
        &self,
        dry_run: bool,
        owner: String,
        id: String,
        outside: Vec<String>,
    ) -> Exposure {
        let outcome = if dry_run {
            None
        } else {
            Some(self.sharing.revoke(&id, &outside).await)
        };
        record(id, owner, outside, outcome)
    }

    async fn close_bucket(&self, run: &AuditRun, openings: Vec<String>) -> Exposure {
        let outcome = if run.dry_run {
            None
        } else {
            Some(self.bucket.block_public_access().await)
        };
        let bucket = self.bucket.bucket().to_string();
        record(bucket.clone(), bucket, openings, outcome)
    }
}

/// The exposure as found and what became of it (`None`: a dry run left it), logged either way.
fn record(
    subject: String,
    owner: String,
    exposed_to: Vec<String>,
    outcome: Option<Result<(), lifeboat::ports::PortError>>,
) -> Exposure {
    let exposure = Exposure {
        revoked: matches!(outcome, Some(Ok(()))),
        error: match &outcome {
            Some(Err(e)) => Some(e.to_string()),
            _ => None,
        },
        subject,
        owner,
        exposed_to,
    };
    if exposure.revoked {
        tracing::warn!(subject = %exposure.subject, owner = %exposure.owner, exposed_to = ?exposure.exposed_to, "exposure found and revoked");
    } else {
        tracing::error!(subject = %exposure.subject, owner = %exposure.owner, exposed_to = ?exposure.exposed_to, error = ?exposure.error, "exposure found and NOT revoked");
    }
    exposure
}
