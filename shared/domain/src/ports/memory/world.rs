//! One fixture for the functions' handler tests: every in-memory port a handler can be wired
//! to, made together, and the people, times and events those tests share.
//!
//! Each function's tests keep only what builds their own handler from a [`World`] (which
//! ports it takes, its settings); the ports stay reachable through the world, so a test
//! arranges them before a call and reads them after. A test that needs an instance of
//! customer `acme` adds one with [`World::add_acme_resource`].

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use super::restorer::MemoryRestorer;
use super::{MemoryCatalog, MemoryReports, MemoryService};
use super::{MemoryIdempotency, MemoryLocks, MemoryRequests, MemoryStatusEvents, MemoryWorkflow};
use crate::catalog::{ResourceKey, ResourceKind};
use crate::inventory::{PitrStatus, TAG_INSTANCE};
use crate::ports::BackupService;
use crate::request::options::RestorableWindow;

/// A support engineer who files requests.
pub const SUPPORT: &str = "arn:aws:iam::111122223333:user/sam-support";
/// An engineer who decides requests.
pub const ENGINEER: &str = "arn:aws:iam::111122223333:user/erin-engineer";
/// A second engineer (confirms what [`ENGINEER`] approved).
pub const ENGINEER_2: &str = "arn:aws:iam::111122223333:user/eli-engineer";
/// Engineers' role: its sessions are engineering, the role's own ARN names no one.
pub const ENGINEERING_ROLE: &str = "arn:aws:iam::111122223333:role/lifeboat-engineering";

/// Point-in-time recovery on, kept three days: what the standard policy asks for.
pub const PITR_3_DAYS: PitrStatus = PitrStatus {
    enabled: true,
    window_days: Some(3),
};

/// The wall clock of the request tests: Saturday 2026-11-28, noon UTC.
pub fn now() -> DateTime<Utc> {
    at("2026-11-28T12:00:00Z")
}

/// An RFC 3339 time.
pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 time")
}

/// The EventBridge Scheduler event of a tick at `time` (RFC 3339), with `detail`.
pub fn scheduled_event(time: &str, detail: Value) -> Value {
    json!({"version":"0","id":"evt","detail-type":"Scheduled Event","source":"aws.scheduler",
           "account":"123456789012","time":time,"region":"eu-west-1","resources":[],"detail":detail})
}

/// Every in-memory port, empty: nothing shares state with another world.
pub struct World {
    pub catalog: Arc<MemoryCatalog>,
    /// RDS instances and their snapshots.
    pub rds: Arc<MemoryService>,
    /// DynamoDB tables and their backups.
    pub ddb: Arc<MemoryService>,
    /// Restores resources of the kind the world was made for ([`World::restoring`]).
    pub restorer: Arc<MemoryRestorer>,
    pub requests: Arc<MemoryRequests>,
    pub locks: Arc<MemoryLocks>,
    pub idempotency: Arc<MemoryIdempotency>,
    pub reports: Arc<MemoryReports>,
    pub workflow: Arc<MemoryWorkflow>,
    /// The status events the handlers published.
    pub events: Arc<MemoryStatusEvents>,
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

impl World {
    /// A world whose restorer restores RDS instances.
    pub fn new() -> World {
        World::restoring(ResourceKind::RdsInstance)
    }

    /// A world whose restorer restores resources of `kind`.
    pub fn restoring(kind: ResourceKind) -> World {
        World {
            catalog: Arc::new(MemoryCatalog::default()),
            rds: Arc::new(MemoryService::new(ResourceKind::RdsInstance)),
            ddb: Arc::new(MemoryService::new(ResourceKind::DynamoTable)),
            restorer: Arc::new(MemoryRestorer::new(kind)),
            requests: Arc::new(MemoryRequests::default()),
            locks: Arc::new(MemoryLocks::default()),
            idempotency: Arc::new(MemoryIdempotency::default()),
            reports: Arc::new(MemoryReports::default()),
            workflow: Arc::new(MemoryWorkflow::default()),
            events: Arc::new(MemoryStatusEvents::default()),
        }
    }

    /// The service holding resources of `kind`.
    pub fn service(&self, kind: ResourceKind) -> &Arc<MemoryService> {
        match kind {
            ResourceKind::RdsInstance => &self.rds,
            ResourceKind::DynamoTable => &self.ddb,
        }
    }

    /// Both services, RDS first, as a handler that scans every service takes them.
    pub fn services(&self) -> Vec<Arc<dyn BackupService>> {
        vec![self.rds.clone(), self.ddb.clone()]
    }

    /// Adds `name` to the service of `kind` as a resource of instance `acme`, point-in-time
    /// recovery on for three days, restorable over the 72 hours up to five minutes before
    /// [`now`].
    pub fn add_acme_resource(&self, kind: ResourceKind, name: &str) -> ResourceKey {
        let service = self.service(kind);
        let key = service.add_resource(name, &[(TAG_INSTANCE, "acme")], PITR_3_DAYS);
        service.set_window(
            &key,
            RestorableWindow {
                earliest: now() - TimeDelta::hours(72),
                latest: now() - TimeDelta::minutes(5),
            },
        );
        key
    }
}
