//! Pacing: a function's calls to a rate-limited service spread at a steady rate, so that the
//! shards of a tick, together, stay within the account's budget instead of bursting into it
//! and spending it on refusals.
//!
//! AWS meters calls per account and region (RDS: 12 a second for every operation together;
//! DynamoDB: `ListBackups` 5 a second, `CreateBackup` 50). Lifeboat's scheduled functions
//! take a share of each budget ([`Budget`], leaving the rest to restores and other tools),
//! and each invocation takes its part of that share: the share divided by the shards that
//! run at once. The SDK's adaptive retry stays below, for throttling that happens anyway.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use lifeboat::audit::ManualSnapshot;
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::inventory::{DiscoveredResource, PitrStatus};
use lifeboat::ports::{
    BackupService, Deletion, NewPoint, PortError, Quota, ServicePoint, SnapshotPage, SnapshotSharing,
    SnapshotsOf, DESCRIBE_BATCH,
};
use lifeboat::request::options::RestorableWindow;
use lifeboat::schedule::Slot;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Calls a second Lifeboat's scheduled functions may make, together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Every RDS call.
    pub rds: f64,
    /// DynamoDB `ListBackups` (finding and listing a table's backups).
    pub dynamodb_list_backups: f64,
    /// DynamoDB `CreateBackup`.
    pub dynamodb_create_backup: f64,
}

impl Default for Budget {
    /// Two thirds of AWS's limits (12, 5 and 50 a second), the rest left to restores, the
    /// console and other tools of the account.
    fn default() -> Self {
        Budget {
            rds: 8.0,
            dynamodb_list_backups: 3.0,
            dynamodb_create_backup: 30.0,
        }
    }
}

/// A steady rate: each call waits for its turn, `interval` after the one before.
struct Gate {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Gate {
    fn new(per_second: f64) -> Gate {
        Gate {
            interval: Duration::from_secs_f64(1.0 / per_second.max(f64::MIN_POSITIVE)),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait(&self) {
        let turn = {
            let mut next = self.next.lock().await;
            let turn = (*next).max(Instant::now());
            *next = turn + self.interval;
            turn
        };
        tokio::time::sleep_until(turn).await;
    }
}

/// A service whose calls wait for their turn. RDS: every call through one gate. DynamoDB:
/// `ListBackups` callers (finding, listing points) through one, `CreateBackup` through
/// another; its other calls are not metered so tightly by AWS and pass.
pub struct Paced {
    inner: Arc<dyn BackupService>,
    every: Option<Gate>,
    listing: Option<Gate>,
    creating: Option<Gate>,
}

/// `services` paced at `budget` divided by `share` (the invocations that run at once).
pub fn paced(
    services: Vec<Arc<dyn BackupService>>,
    budget: Budget,
    share: u32,
) -> Vec<Arc<dyn BackupService>> {
    let part = |rate: f64| Some(Gate::new(rate / f64::from(share.max(1))));
    services
        .into_iter()
        .map(|inner| {
            let paced = match inner.kind() {
                ResourceKind::RdsInstance => Paced {
                    every: part(budget.rds),
                    listing: None,
                    creating: None,
                    inner,
                },
                ResourceKind::DynamoTable => Paced {
                    every: None,
                    listing: part(budget.dynamodb_list_backups),
                    creating: part(budget.dynamodb_create_backup),
                    inner,
                },
            };
            Arc::new(paced) as Arc<dyn BackupService>
        })
        .collect()
}

impl Paced {
    async fn turn(&self, gate: Option<&Gate>) {
        for gate in [self.every.as_ref(), gate].into_iter().flatten() {
            gate.wait().await;
        }
    }
}

#[async_trait]
impl BackupService for Paced {
    fn kind(&self) -> ResourceKind {
        self.inner.kind()
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, PortError> {
        self.turn(None).await;
        self.inner.discover().await
    }

    async fn discover_instance(&self, instance_id: &str) -> Result<Vec<DiscoveredResource>, PortError> {
        self.turn(None).await;
        self.inner.discover_instance(instance_id).await
    }

    async fn pitr_status(&self, resource: &ResourceKey) -> Result<PitrStatus, PortError> {
        self.turn(None).await;
        self.inner.pitr_status(resource).await
    }

    async fn raise_pitr_window(&self, resource: &ResourceKey, days: u8) -> Result<(), PortError> {
        self.turn(None).await;
        self.inner.raise_pitr_window(resource, days).await
    }

    async fn restorable_window(&self, resource: &ResourceKey) -> Result<Option<RestorableWindow>, PortError> {
        self.turn(None).await;
        self.inner.restorable_window(resource).await
    }

    async fn snapshot_quota(&self) -> Result<Option<Quota>, PortError> {
        self.turn(None).await;
        self.inner.snapshot_quota().await
    }

    async fn points(&self) -> Result<Vec<ServicePoint>, PortError> {
        self.turn(self.listing.as_ref()).await;
        self.inner.points().await
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError> {
        self.turn(self.listing.as_ref()).await;
        self.inner.points_of(resource).await
    }

    async fn find_point(
        &self,
        resource: &ResourceKey,
        slot: Slot,
    ) -> Result<Option<ServicePoint>, PortError> {
        self.turn(self.listing.as_ref()).await;
        self.inner.find_point(resource, slot).await
    }

    async fn describe_point(
        &self,
        resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Option<ServicePoint>, PortError> {
        self.turn(None).await;
        self.inner.describe_point(resource, service_id).await
    }

    async fn describe_points(&self, ids: &[(ResourceKey, String)]) -> Result<Vec<ServicePoint>, PortError> {
        let mut found = Vec::new();
        for batch in ids.chunks(DESCRIBE_BATCH) {
            self.turn(None).await;
            found.extend(self.inner.describe_points(batch).await?);
        }
        Ok(found)
    }

    async fn create_point(&self, point: &NewPoint) -> Result<ServicePoint, PortError> {
        self.turn(self.creating.as_ref()).await;
        self.inner.create_point(point).await
    }

    async fn delete_point(&self, resource: &ResourceKey, service_id: &str) -> Result<Deletion, PortError> {
        self.turn(None).await;
        self.inner.delete_point(resource, service_id).await
    }
}

/// Snapshot sharing whose calls wait for their turn at `budget.rds` divided by `share` (its
/// part of the RDS budget beside the caller's other RDS calls).
pub fn paced_sharing(
    inner: Arc<dyn SnapshotSharing>,
    budget: Budget,
    share: u32,
) -> Arc<dyn SnapshotSharing> {
    Arc::new(PacedSharing {
        inner,
        gate: Gate::new(budget.rds / f64::from(share.max(1))),
    })
}

struct PacedSharing {
    inner: Arc<dyn SnapshotSharing>,
    gate: Gate,
}

#[async_trait]
impl SnapshotSharing for PacedSharing {
    async fn manual_snapshots(
        &self,
        of: SnapshotsOf<'_>,
        marker: Option<String>,
    ) -> Result<SnapshotPage, PortError> {
        self.gate.wait().await;
        self.inner.manual_snapshots(of, marker).await
    }

    async fn snapshot(&self, snapshot: &str) -> Result<Option<ManualSnapshot>, PortError> {
        self.gate.wait().await;
        self.inner.snapshot(snapshot).await
    }

    async fn restorers(&self, snapshot: &str) -> Result<Vec<String>, PortError> {
        self.gate.wait().await;
        self.inner.restorers(snapshot).await
    }

    async fn revoke(&self, snapshot: &str, values: &[String]) -> Result<(), PortError> {
        self.gate.wait().await;
        self.inner.revoke(snapshot, values).await
    }
}

#[cfg(test)]
mod tests {
    use lifeboat::ports::memory::MemoryService;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_go_at_the_share_of_the_budget_and_unmetered_ones_pass() {
        let rds: Arc<dyn BackupService> = Arc::new(MemoryService::new(ResourceKind::RdsInstance));
        let ddb: Arc<dyn BackupService> = Arc::new(MemoryService::new(ResourceKind::DynamoTable));
        let budget = Budget {
            rds: 8.0,
            dynamodb_list_backups: 2.0,
            dynamodb_create_backup: 30.0,
        };
        // Two invocations at once: each takes half.
        let services = paced(vec![rds, ddb], budget, 2);
        let key = ResourceKey::rds("db");
        let start = Instant::now();
        for _ in 0..9 {
            services[0].points_of(&key).await.unwrap();
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "4 a second: the first at once, 8 more"
        );
        let table = ResourceKey::dynamodb("t");
        let start = Instant::now();
        for _ in 0..3 {
            services[1].points_of(&table).await.unwrap();
        }
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "ListBackups at 1 a second"
        );
        let start = Instant::now();
        for _ in 0..50 {
            services[1].delete_point(&table, "arn").await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::ZERO, "DeleteBackup is not paced");
    }
}
