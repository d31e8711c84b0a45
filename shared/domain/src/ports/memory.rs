//! In-memory ports, for testing the functions' logic without any service.
//!
//! They behave like the real services in what the logic relies on (names are unique per
//! RDS snapshot but not per DynamoDB backup, conditional catalog writes) and can be told to
//! fail a given operation on a given resource.

pub mod exposure;
pub mod locks;
pub mod merger;
pub mod requests;
pub mod restorer;
pub mod status_events;
pub mod workflow;
pub mod world;

pub use exposure::{MemoryBucketAccess, MemorySharing, MemoryTablePolicies};
pub use locks::MemoryLocks;
pub use requests::{MemoryIdempotency, MemoryRequests};
pub use status_events::MemoryStatusEvents;
pub use workflow::MemoryWorkflow;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    BackupService, Catalog, Claim, Deletion, FailureKind, NewPoint, ObjectStore, PortError, Quota,
    ServicePoint, StateChange,
};
use crate::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use crate::inventory::{DiscoveredResource, PitrStatus, TAG_INSTANCE};
use crate::request::options::RestorableWindow;
use crate::schedule::late::owing::may_owe;
use crate::schedule::Slot;

/// One service's resources and points.
#[derive(Debug, Default)]
pub struct MemoryService {
    kind: Option<ResourceKind>,
    state: Mutex<ServiceState>,
}

#[derive(Debug, Default)]
struct ServiceState {
    resources: BTreeMap<ResourceKey, (BTreeMap<String, String>, PitrStatus)>,
    points: Vec<ServicePoint>,
    /// (operation, resource name) pairs that fail.
    failing: HashSet<(String, String)>,
    quota: Option<Quota>,
    windows: BTreeMap<ResourceKey, RestorableWindow>,
    calls: Vec<String>,
    next_id: u64,
}

impl MemoryService {
    pub fn new(kind: ResourceKind) -> Self {
        MemoryService {
            kind: Some(kind),
            state: Mutex::default(),
        }
    }

    pub fn add_resource(&self, name: &str, tags: &[(&str, &str)], pitr: PitrStatus) -> ResourceKey {
        let key = ResourceKey {
            kind: self.kind(),
            name: name.to_string(),
        };
        let tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.lock().resources.insert(key.clone(), (tags, pitr));
        key
    }

    /// Deletes `resource` (its points stay, as a final snapshot and kept points do).
    pub fn remove_resource(&self, resource: &ResourceKey) {
        self.lock().resources.remove(resource);
    }

    /// The continuous-backup window the service reports for `resource`.
    pub fn set_window(&self, resource: &ResourceKey, window: RestorableWindow) {
        self.lock().windows.insert(resource.clone(), window);
    }

    /// A point made by someone else, or a Lifeboat-named one the catalog lacks.
    pub fn add_point(&self, point: ServicePoint) {
        self.lock().points.push(point);
    }

    /// Removes a point behind Lifeboat's back (as an operator's manual deletion would).
    pub fn remove_point(&self, service_id: &str) {
        self.lock().points.retain(|p| p.service_id != service_id);
    }

    pub fn fail(&self, operation: &str, resource: &str) {
        self.lock()
            .failing
            .insert((operation.to_string(), resource.to_string()));
    }

    pub fn heal(&self, operation: &str, resource: &str) {
        self.lock()
            .failing
            .remove(&(operation.to_string(), resource.to_string()));
    }

    pub fn set_quota(&self, quota: Quota) {
        self.lock().quota = Some(quota);
    }

    pub fn all_points(&self) -> Vec<ServicePoint> {
        self.lock().points.clone()
    }

    pub fn pitr(&self, key: &ResourceKey) -> PitrStatus {
        self.lock().resources[key].1
    }

    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ServiceState> {
        self.state.lock().expect("memory service lock")
    }

    fn enter(
        &self,
        operation: &'static str,
        resource: &str,
    ) -> Result<std::sync::MutexGuard<'_, ServiceState>, PortError> {
        let mut state = self.lock();
        state.calls.push(format!("{operation} {resource}"));
        if state
            .failing
            .contains(&(operation.to_string(), resource.to_string()))
        {
            return Err(PortError::new(
                operation,
                resource,
                FailureKind::Unavailable,
                "injected failure",
            ));
        }
        Ok(state)
    }
}

#[async_trait]
impl BackupService for MemoryService {
    fn kind(&self) -> ResourceKind {
        self.kind.expect("MemoryService::new sets the kind")
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, PortError> {
        let state = self.enter("discover", "*")?;
        Ok(state
            .resources
            .iter()
            .map(|(key, (tags, pitr))| DiscoveredResource {
                key: key.clone(),
                tags: tags.clone(),
                pitr: (key.kind == ResourceKind::RdsInstance).then_some(*pitr),
            })
            .collect())
    }

    async fn discover_instance(&self, instance_id: &str) -> Result<Vec<DiscoveredResource>, PortError> {
        let state = self.enter("discover_instance", instance_id)?;
        Ok(state
            .resources
            .iter()
            .filter(|(_, (tags, _))| tags.get(TAG_INSTANCE).map(String::as_str) == Some(instance_id))
            .map(|(key, (tags, _))| DiscoveredResource {
                key: key.clone(),
                tags: tags.clone(),
                pitr: None,
            })
            .collect())
    }

    async fn pitr_status(&self, resource: &ResourceKey) -> Result<PitrStatus, PortError> {
        let state = self.enter("pitr_status", &resource.name)?;
        Ok(state.resources[resource].1)
    }

    async fn raise_pitr_window(&self, resource: &ResourceKey, days: u8) -> Result<(), PortError> {
        let mut state = self.enter("raise_pitr_window", &resource.name)?;
        let entry = state.resources.get_mut(resource).expect("known resource");
        let kept = entry.1.window_days.filter(|_| entry.1.enabled).unwrap_or(0);
        entry.1 = PitrStatus {
            enabled: true,
            window_days: Some(days.max(kept)),
        };
        Ok(())
    }

    async fn restorable_window(&self, resource: &ResourceKey) -> Result<Option<RestorableWindow>, PortError> {
        let state = self.enter("restorable_window", &resource.name)?;
        Ok(state.windows.get(resource).copied())
    }

    async fn snapshot_quota(&self) -> Result<Option<Quota>, PortError> {
        let state = self.enter("snapshot_quota", "*")?;
        Ok(state.quota.clone())
    }

    async fn points(&self) -> Result<Vec<ServicePoint>, PortError> {
        let state = self.enter("points", "*")?;
        Ok(state.points.clone())
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError> {
        let state = self.enter("points_of", &resource.name)?;
        Ok(state
            .points
            .iter()
            .filter(|p| &p.resource == resource)
            .cloned()
            .collect())
    }

    async fn find_point(
        &self,
        resource: &ResourceKey,
        slot: Slot,
    ) -> Result<Option<ServicePoint>, PortError> {
        let state = self.enter("find_point", &resource.name)?;
        Ok(state
            .points
            .iter()
            .find(|p| &p.resource == resource && p.slot == slot)
            .cloned())
    }

    async fn describe_point(
        &self,
        resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Option<ServicePoint>, PortError> {
        let state = self.enter("describe_point", &resource.name)?;
        Ok(state.points.iter().find(|p| p.service_id == service_id).cloned())
    }

    async fn create_point(&self, point: &NewPoint) -> Result<ServicePoint, PortError> {
        let mut state = self.enter("create_point", &point.resource.name)?;
        let name = point.resource.point_name(point.slot);
        // RDS identifiers are unique, so asking twice finds the first; DynamoDB makes another.
        if point.resource.kind == ResourceKind::RdsInstance {
            if let Some(existing) = state.points.iter().find(|p| p.service_id == name) {
                return Ok(existing.clone());
            }
        }
        if let Some(q) = state.quota.as_mut() {
            if q.used >= q.max {
                return Err(PortError::new(
                    "create_point",
                    &point.resource,
                    FailureKind::Refused,
                    "quota exceeded",
                ));
            }
            q.used += 1;
        }
        state.next_id += 1;
        let service_id = match point.resource.kind {
            ResourceKind::RdsInstance => name,
            ResourceKind::DynamoTable => format!("arn:memory:backup/{}/{}", name, state.next_id),
        };
        let created = ServicePoint {
            resource: point.resource.clone(),
            slot: point.slot,
            service_id,
            state: PointState::Available,
            tags: BTreeMap::new(),
        };
        state.points.push(created.clone());
        Ok(created)
    }

    async fn delete_point(&self, resource: &ResourceKey, service_id: &str) -> Result<Deletion, PortError> {
        let mut state = self.enter("delete_point", &resource.name)?;
        let before = state.points.len();
        state.points.retain(|p| p.service_id != service_id);
        let removed = (before - state.points.len()) as u64;
        if let Some(q) = state.quota.as_mut() {
            q.used = q.used.saturating_sub(removed);
        }
        Ok(if state.points.len() < before {
            Deletion::Deleted
        } else {
            Deletion::AlreadyGone
        })
    }
}

/// The catalog, as a map.
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    records: Mutex<BTreeMap<(ResourceKey, Slot), RecoveryPoint>>,
    /// Resources whose records cannot be read (a failed query), injected by tests.
    unreadable: Mutex<BTreeSet<ResourceKey>>,
    /// Older versions of records that the present indexes still show (DynamoDB's indexes are
    /// eventually consistent), injected by tests; consistent reads see the records.
    lagging: Mutex<BTreeMap<(ResourceKey, Slot), RecoveryPoint>>,
    /// The records the owing index holds: set by a write of a record that may owe, cleared by
    /// the service's answer, a deletion or a discharge, as the table's sparse index is.
    owing: Mutex<BTreeSet<(ResourceKey, Slot)>>,
    /// How many times the owing index was read.
    owing_reads: std::sync::atomic::AtomicUsize,
    /// Reading the owing index fails, injected by tests.
    owing_unreadable: std::sync::atomic::AtomicBool,
    /// Records whose writes (a claim, a discharge) fail, injected by tests.
    unwritable: Mutex<BTreeSet<(ResourceKey, Slot)>>,
}

impl MemoryCatalog {
    pub fn snapshot(&self) -> Vec<RecoveryPoint> {
        self.lock().values().cloned().collect()
    }

    /// Writes `point` as a claim does, whatever the slot holds.
    pub fn insert(&self, point: RecoveryPoint) {
        self.index_owing(&point);
        self.lock().insert((point.resource.clone(), point.slot), point);
    }

    /// The records the owing index holds now.
    pub fn owing(&self) -> Vec<(ResourceKey, Slot)> {
        self.owing_index().iter().cloned().collect()
    }

    /// How many times the owing index was read.
    pub fn owing_reads(&self) -> usize {
        self.owing_reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// From now on, writing the record of `resource` at `slot` fails, until [`Self::heal_writes`].
    pub fn fail_writes_of(&self, resource: &ResourceKey, slot: Slot) {
        self.unwritable
            .lock()
            .expect("memory catalog lock")
            .insert((resource.clone(), slot));
    }

    pub fn heal_writes(&self) {
        self.unwritable.lock().expect("memory catalog lock").clear();
    }

    /// Whether reading the owing index fails (as a throttled query would).
    pub fn fail_owing_reads(&self, failing: bool) {
        self.owing_unreadable
            .store(failing, std::sync::atomic::Ordering::Relaxed);
    }

    fn owing_index(&self) -> std::sync::MutexGuard<'_, BTreeSet<(ResourceKey, Slot)>> {
        self.owing.lock().expect("memory catalog lock")
    }

    /// A whole record written: in the owing index or out of it by what it is.
    fn index_owing(&self, point: &RecoveryPoint) {
        let key = (point.resource.clone(), point.slot);
        if may_owe(point) {
            self.owing_index().insert(key);
        } else {
            self.owing_index().remove(&key);
        }
    }

    fn writable(&self, operation: &'static str, resource: &ResourceKey, slot: Slot) -> Result<(), PortError> {
        let unwritable = self.unwritable.lock().expect("memory catalog lock");
        if unwritable.contains(&(resource.clone(), slot)) {
            return Err(PortError::new(
                operation,
                format!("{resource}@{slot}"),
                FailureKind::Unavailable,
                "injected failure",
            ));
        }
        Ok(())
    }

    /// From now on, reading `resource`'s records fails (as a throttled or refused query would).
    pub fn fail_reads_of(&self, resource: &ResourceKey) {
        self.unreadable
            .lock()
            .expect("memory catalog lock")
            .insert(resource.clone());
    }

    /// From now on, the present indexes show `version` for its record, until it is cleared.
    pub fn lag_index(&self, version: RecoveryPoint) {
        self.lagging
            .lock()
            .expect("memory catalog lock")
            .insert((version.resource.clone(), version.slot), version);
    }

    /// The present records as an index shows them: lagging versions in place of records.
    fn as_indexed(&self, records: Vec<RecoveryPoint>) -> Vec<RecoveryPoint> {
        let lagging = self.lagging.lock().expect("memory catalog lock");
        records
            .into_iter()
            .map(|r| lagging.get(&(r.resource.clone(), r.slot)).cloned().unwrap_or(r))
            .filter(|r| r.state.is_present())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(ResourceKey, Slot), RecoveryPoint>> {
        self.records.lock().expect("memory catalog lock")
    }

    fn readable(&self, operation: &'static str, resource: &ResourceKey) -> Result<(), PortError> {
        if self
            .unreadable
            .lock()
            .expect("memory catalog lock")
            .contains(resource)
        {
            return Err(PortError::new(
                operation,
                resource.to_string(),
                FailureKind::Unavailable,
                "injected failure",
            ));
        }
        Ok(())
    }

    fn with_record<T>(
        &self,
        operation: &'static str,
        resource: &ResourceKey,
        slot: Slot,
        f: impl FnOnce(&mut RecoveryPoint) -> Result<T, PortError>,
    ) -> Result<T, PortError> {
        let mut records = self.lock();
        let record = records.get_mut(&(resource.clone(), slot)).ok_or_else(|| {
            PortError::new(
                operation,
                format!("{resource}@{slot}"),
                FailureKind::NotFound,
                "no such record",
            )
        })?;
        f(record)
    }
}

#[async_trait]
impl Catalog for MemoryCatalog {
    async fn get_points(&self, keys: &[(ResourceKey, Slot)]) -> Result<Vec<RecoveryPoint>, PortError> {
        let records = self.lock();
        Ok(keys.iter().filter_map(|k| records.get(k).cloned()).collect())
    }

    async fn claim(&self, point: &RecoveryPoint) -> Result<Claim, PortError> {
        self.writable("claim", &point.resource, point.slot)?;
        let mut records = self.lock();
        let key = (point.resource.clone(), point.slot);
        if let Some(existing) = records.get(&key).filter(|r| r.state != PointState::Due) {
            return Ok(Claim::Exists(Box::new(existing.clone())));
        }
        self.index_owing(point);
        records.insert(key, point.clone());
        Ok(Claim::Claimed)
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<RecoveryPoint>, PortError> {
        // One partition, as DynamoDB's Query reads it: a range of the map, not a scan (the
        // fleet benchmark holds over a million records).
        self.readable("points_of", resource)?;
        let from = (
            resource.clone(),
            Slot::containing(chrono::DateTime::<chrono::Utc>::UNIX_EPOCH),
        );
        Ok(self
            .lock()
            .range(from..)
            .take_while(|((r, _), _)| r == resource)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn present_points_of(&self, resource: &ResourceKey) -> Result<Vec<RecoveryPoint>, PortError> {
        let points = self.points_of(resource).await?;
        Ok(self.as_indexed(points))
    }

    async fn latest_available_before(
        &self,
        resource: &ResourceKey,
        t: DateTime<Utc>,
    ) -> Result<Option<RecoveryPoint>, PortError> {
        let bound = (resource.clone(), Slot::at_or_after(t));
        Ok(self
            .lock()
            .range((resource.clone(), Slot::MIN)..bound)
            .rev()
            .map(|(_, p)| p)
            .find(|p| p.state == PointState::Available)
            .cloned())
    }

    async fn all_points(&self) -> Result<Vec<RecoveryPoint>, PortError> {
        Ok(self.snapshot())
    }

    async fn present_points(&self) -> Result<Vec<RecoveryPoint>, PortError> {
        Ok(self.as_indexed(self.snapshot()))
    }

    async fn present_counts(&self) -> Result<BTreeMap<ResourceKey, usize>, PortError> {
        Ok(crate::inventory::present_counts(
            &self.as_indexed(self.snapshot()),
        ))
    }

    async fn owing_between(&self, from: Slot, to: Slot) -> Result<Vec<RecoveryPoint>, PortError> {
        self.owing_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.owing_unreadable.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PortError::new(
                "owing_between",
                "the owing index",
                FailureKind::Unavailable,
                "injected failure",
            ));
        }
        let owing = self.owing();
        let records = self.lock();
        Ok(owing
            .into_iter()
            .filter(|(_, slot)| (from..=to).contains(slot))
            .filter_map(|key| records.get(&key).cloned())
            .collect())
    }

    async fn reserve(&self, point: &RecoveryPoint) -> Result<bool, PortError> {
        self.writable("reserve", &point.resource, point.slot)?;
        let mut records = self.lock();
        let key = (point.resource.clone(), point.slot);
        if records.contains_key(&key) {
            return Ok(false);
        }
        self.index_owing(point);
        records.insert(key, point.clone());
        Ok(true)
    }

    async fn discharge(&self, resource: &ResourceKey, slot: Slot, note: &str) -> Result<(), PortError> {
        self.writable("discharge", resource, slot)?;
        self.with_record("discharge", resource, slot, |r| {
            r.note = Some(note.to_string());
            Ok(())
        })?;
        self.owing_index().remove(&(resource.clone(), slot));
        Ok(())
    }

    async fn update_state(
        &self,
        resource: &ResourceKey,
        slot: Slot,
        change: &StateChange,
    ) -> Result<(), PortError> {
        self.with_record("update_state", resource, slot, |r| {
            if r.state == PointState::Deleted {
                return Err(PortError::new(
                    "update_state",
                    resource,
                    FailureKind::Conflict,
                    "deleted is final",
                ));
            }
            r.state = change.state;
            if change.service_id.is_some() {
                r.service_id.clone_from(&change.service_id);
            }
            if change.note.is_some() {
                r.note.clone_from(&change.note);
            }
            r.updated_at = change.at;
            Ok(())
        })?;
        if change.service_id.is_some() && change.state.is_present() {
            self.owing_index().remove(&(resource.clone(), slot));
        }
        Ok(())
    }

    async fn mark_deleted(
        &self,
        resource: &ResourceKey,
        slot: Slot,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.with_record("mark_deleted", resource, slot, |r| {
            if !r.holds.is_empty() || !r.state.is_present() {
                return Err(PortError::new(
                    "mark_deleted",
                    resource,
                    FailureKind::Conflict,
                    "held or no longer present",
                ));
            }
            r.state = PointState::Deleted;
            r.note = Some(note.to_string());
            r.updated_at = at;
            Ok(())
        })?;
        self.owing_index().remove(&(resource.clone(), slot));
        Ok(())
    }

    async fn add_hold(&self, resource: &ResourceKey, slot: Slot, holder: &str) -> Result<(), PortError> {
        self.with_record("add_hold", resource, slot, |r| {
            if !r.state.is_present() {
                return Err(PortError::new(
                    "add_hold",
                    resource,
                    FailureKind::Conflict,
                    "the point is gone",
                ));
            }
            r.holds.insert(holder.to_string());
            Ok(())
        })
    }

    async fn remove_hold(&self, resource: &ResourceKey, slot: Slot, holder: &str) -> Result<(), PortError> {
        self.with_record("remove_hold", resource, slot, |r| {
            r.holds.remove(holder);
            Ok(())
        })
    }
}

/// Reports, kept by key.
#[derive(Debug, Default)]
pub struct MemoryReports {
    reports: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Puts of keys ending so fail (a write lost right after what it records was done).
    failing_puts: Mutex<Option<String>>,
}

impl MemoryReports {
    /// Makes every put of a key ending with `suffix` fail, until called with `None`.
    pub fn fail_puts_ending(&self, suffix: Option<&str>) {
        *self.failing_puts.lock().expect("reports lock") = suffix.map(str::to_string);
    }

    /// Puts `body` at `key`, as a function would have (arranging a test).
    pub fn insert(&self, key: &str, body: Vec<u8>) {
        self.reports
            .lock()
            .expect("reports lock")
            .insert(key.to_string(), body);
    }

    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.reports.lock().expect("reports lock").get(key).cloned()
    }

    pub fn keys(&self) -> Vec<String> {
        self.reports
            .lock()
            .expect("reports lock")
            .keys()
            .cloned()
            .collect()
    }
}

#[async_trait]
impl ObjectStore for MemoryReports {
    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), PortError> {
        if (self.failing_puts.lock().expect("reports lock").as_deref()).is_some_and(|s| key.ends_with(s)) {
            return Err(PortError::new(
                "put",
                key,
                FailureKind::Unavailable,
                "the store is failing",
            ));
        }
        self.reports
            .lock()
            .expect("reports lock")
            .insert(key.to_string(), body);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        self.reports
            .lock()
            .expect("reports lock")
            .get(key)
            .cloned()
            .ok_or_else(|| PortError::new("get", key, FailureKind::NotFound, "no such object"))
    }

    async fn list(&self, prefix: &str, start_after: &str, limit: usize) -> Result<Vec<String>, PortError> {
        let reports = self.reports.lock().expect("reports lock");
        Ok(reports
            .keys()
            .filter(|k| k.starts_with(prefix) && k.as_str() > start_after)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        self.reports.lock().expect("reports lock").remove(key);
        Ok(())
    }
}
