//! The audit's world on in-memory ports, shared by the audit's test binaries (each uses
//! part of it).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::drill::records::{latest_success_key, DrillOutcome, DrillRecord};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::policy::{Policy, PolicyBook};
use lifeboat::ports::memory::world::{self, at, scheduled_event, PITR_3_DAYS};
use lifeboat::ports::memory::{MemoryBucketAccess, MemorySharing, MemoryTablePolicies};
use lifeboat::ports::ServicePoint;
use lifeboat::request::options::RestorableWindow;
use lifeboat::schedule::{tiers_of, Slot};
use lifeboat::zone::Zone;
use recovery_audit::walk::WALK_TIME;
use recovery_audit::{AccountWalk, Auditor};
use serde_json::Value;

pub const ACCOUNT: &str = "123456789012";
/// The company's disaster-recovery account, trusted with its backups.
pub const DR_ACCOUNT: &str = "444455556666";
/// The audit's time: Thursday 2026-12-03, 06:30 UTC.
pub const AT: &str = "2026-12-03T06:30:00Z";

pub struct World {
    pub ports: world::World,
    pub sharing: Arc<MemorySharing>,
    pub tables: Arc<MemoryTablePolicies>,
    pub bucket: Arc<MemoryBucketAccess>,
    pub auditor: Auditor,
}

pub fn world() -> World {
    let ports = world::World::new();
    let sharing = Arc::new(MemorySharing::default());
    let tables = Arc::new(MemoryTablePolicies::default());
    let bucket = Arc::new(MemoryBucketAccess::closed("lifeboat-reports"));
    let auditor = Auditor {
        catalog: ports.catalog.clone(),
        services: ports.services(),
        sharing: sharing.clone(),
        tables: tables.clone(),
        bucket: bucket.clone(),
        reports: ports.reports.clone(),
        policies: PolicyBook::default(),
        account: ACCOUNT.into(),
        trusted_accounts: vec![DR_ACCOUNT.into()],
        simulation: true,
        dry_run: false,
        shard_size: 50,
        shard_concurrency: 4,
        sweep_days: 7,
        walk: AccountWalk {
            sharing: sharing.clone(),
            pages: 100,
            time: WALK_TIME,
        },
        events: lifeboat_function::status_events::Announcer::new(ports.events.clone(), "recovery-audit"),
    };
    World {
        ports,
        sharing,
        tables,
        bucket,
        auditor,
    }
}

impl World {
    /// A resource of `instance`, backed up under the standard policy since `since`: every
    /// point the policy still keeps at [`AT`] recorded and held, and a full 3-day window.
    pub fn backed_up(&self, kind: ResourceKind, name: &str, instance: &str, since: &str) -> ResourceKey {
        let service = self.ports.service(kind);
        let key = service.add_resource(name, &[(TAG_INSTANCE, instance)], PITR_3_DAYS);
        let now = at(AT);
        service.set_window(
            &key,
            RestorableWindow {
                earliest: now - TimeDelta::days(3),
                latest: now - TimeDelta::minutes(5),
            },
        );
        self.drilled(instance, now - TimeDelta::days(2));
        let policy = Policy::standard();
        let mut slot = Slot::containing(at(since));
        while slot.start() <= now {
            let tiers = tiers_of(&policy, Zone::utc(), slot);
            if tiers.live_at(now).next().is_some() {
                let id = key.point_name(slot);
                self.ports.catalog.insert(RecoveryPoint {
                    resource: key.clone(),
                    instance_id: instance.into(),
                    slot,
                    tiers,
                    service_id: Some(id.clone()),
                    state: PointState::Available,
                    holds: BTreeSet::new(),
                    policy: "standard".into(),
                    timezone: "UTC".into(),
                    note: None,
                    updated_at: slot.start(),
                });
                service.add_point(ServicePoint {
                    resource: key.clone(),
                    slot,
                    service_id: id,
                    state: PointState::Available,
                    tags: BTreeMap::new(),
                });
            }
            slot = slot.next();
        }
        key
    }

    /// Records a successful restore drill of `instance` at `when`, as the drill does.
    pub fn drilled(&self, instance: &str, when: DateTime<Utc>) {
        let record = DrillRecord {
            drill_id: format!("drill-{instance}"),
            started_at: when,
            restore_seconds: Some(840),
        };
        self.ports.reports.insert(
            &latest_success_key(instance),
            serde_json::to_vec(&record).unwrap(),
        );
        self.drill_outcome(instance, when, true);
    }

    /// Records a drill's outcome, as the drill's report step does.
    pub fn drill_outcome(&self, instance: &str, when: DateTime<Utc>, succeeded: bool) {
        let outcome = DrillOutcome {
            drill_id: format!("drill-{instance}-{}", when.timestamp()),
            started_at: when,
            succeeded,
        };
        self.ports.reports.insert(&outcome.key(instance), b"{}".to_vec());
    }

    pub async fn audit(&self, detail: Value) -> Result<Value, lifeboat_function::failure::FunctionError> {
        self.auditor.invoke(scheduled_event(AT, detail), at(AT)).await
    }

    pub fn report(&self, key: &str) -> Value {
        serde_json::from_slice(&self.ports.reports.get(key).expect("the report was written")).unwrap()
    }

    pub fn page(&self, key: &str) -> String {
        String::from_utf8(self.ports.reports.get(key).expect("the page was written")).unwrap()
    }
}

pub fn coverage(report: &Value) -> BTreeMap<String, f64> {
    report["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["instance_id"].as_str().unwrap().to_string(),
                i["coverage_percent"].as_f64().unwrap(),
            )
        })
        .collect()
}

pub fn finding_kinds(report: &Value, instance: usize) -> Vec<String> {
    report["instances"][instance]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}
