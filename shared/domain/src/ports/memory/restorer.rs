//! An in-memory [`Restorer`] for one kind of resource, for testing the restore executor.
//!
//! Resources (production, staging, the fallback) and snapshots (catalogued ones and safety
//! snapshots) are named entries holding a content value, marked the way the real services
//! tag what a restore makes. The swap renames as RDS does: production is set aside as the
//! fallback and staging takes its name; the undo renames them back. Each entry made is a new
//! incarnation with an identity of its own (kept through renames), so a test can replace a
//! resource under its name as someone else would ([`MemoryRestorer::replace`]). Polled
//! methods can be told to answer `Pending` a number of times first, and any method to fail.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::catalog::{ResourceKey, ResourceKind};
use crate::execution::identity::{refusal, Identity, Made};
use crate::execution::names::names;
use crate::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use crate::ports::restorer::{Holder, Progress, RestoreFrom, Restorer, Target, Verification};
use crate::ports::{Deletion, FailureKind, PortError};

/// The mark naming the resource a snapshot was taken of.
const SOURCE: &str = "source";
/// The restore role of a restored resource kept aside by an undo.
const SERVED_PRODUCTION: &str = "served-production";

/// A resource or snapshot: what it holds and how it is marked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub content: String,
    pub marks: BTreeMap<String, String>,
    /// Which making of a resource by its name this is (its identity).
    pub incarnation: u64,
}

impl Entry {
    fn mark(&self, key: &str) -> Option<&str> {
        self.marks.get(key).map(String::as_str)
    }

    /// Whether a restore for `request_id` made this entry in `role` (any role if `None`).
    fn belongs_to(&self, request_id: &str, role: Option<&str>) -> bool {
        self.mark(TAG_RESTORE_REQUEST) == Some(request_id)
            && role.is_none_or(|r| self.mark(TAG_RESTORE_ROLE) == Some(r))
    }

    fn identity(&self) -> Identity {
        Identity {
            id: format!("memory-{}", self.incarnation),
            created: None,
        }
    }
}

#[derive(Debug)]
pub struct MemoryRestorer {
    kind: ResourceKind,
    state: Mutex<RestorerState>,
}

#[derive(Debug, Default)]
struct RestorerState {
    /// Production, staging and fallback resources, by name.
    resources: BTreeMap<String, Entry>,
    /// Snapshots and backups, by service id.
    snapshots: BTreeMap<String, Entry>,
    /// How many times each polled method answers `Pending` per entry before `Done`.
    pending_polls: BTreeMap<String, u32>,
    /// Polls made so far, by method and entry.
    polls: BTreeMap<(String, String), u32>,
    failing: BTreeMap<String, FailureKind>,
    calls: BTreeMap<String, u32>,
    /// What an undo's comparison is to find different (see [`MemoryRestorer::differ_after_undo`]).
    undo_differences: Option<String>,
    /// Incarnations made so far.
    made: u64,
}

impl MemoryRestorer {
    pub fn new(kind: ResourceKind) -> Self {
        MemoryRestorer {
            kind,
            state: Mutex::default(),
        }
    }

    /// A production resource holding `content`.
    pub fn add_production(&self, name: &str, content: &str) -> ResourceKey {
        self.lock().make(name, content_only(content));
        ResourceKey {
            kind: self.kind,
            name: name.to_string(),
        }
    }

    /// A snapshot of `resource` with the service id `service_id`, holding `content`.
    pub fn add_snapshot(&self, resource: &ResourceKey, service_id: &str, content: &str) {
        let mut entry = content_only(content);
        entry.marks.insert(SOURCE.into(), resource.name.clone());
        self.lock().snapshots.insert(service_id.to_string(), entry);
    }

    /// Someone deletes what carries `name` and makes another resource by it, holding
    /// `content` and carrying `marks` (copied from what it replaces, say).
    pub fn replace(&self, name: &str, content: &str, marks: &[(&str, &str)]) {
        let mut entry = content_only(content);
        entry.marks = marks
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.lock().make(name, entry);
    }

    /// Someone renames what carries `from` to `to`, by hand.
    pub fn rename_by_hand(&self, from: &str, to: &str) {
        self.lock().rename(from, to);
    }

    /// Makes `method` (`staging_ready`, `swap`, ...) answer `Pending` `polls` times for each
    /// entry before it answers `Done`.
    pub fn set_pending_polls(&self, method: &str, polls: u32) {
        self.lock().pending_polls.insert(method.to_string(), polls);
    }

    /// Makes every call of `method` fail with `kind`, until [`MemoryRestorer::heal`].
    pub fn fail(&self, method: &str, kind: FailureKind) {
        self.lock().failing.insert(method.to_string(), kind);
    }

    /// Makes an undo find production different from what it put back, as `what` says
    /// (a write that came after the undo copied its key).
    pub fn differ_after_undo(&self, what: &str) {
        self.lock().undo_differences = Some(what.to_string());
    }

    pub fn heal(&self, method: &str) {
        self.lock().failing.remove(method);
    }

    /// The names of the resources that exist.
    pub fn names(&self) -> Vec<String> {
        self.lock().resources.keys().cloned().collect()
    }

    /// The service ids of the snapshots that exist.
    pub fn snapshot_ids(&self) -> Vec<String> {
        self.lock().snapshots.keys().cloned().collect()
    }

    pub fn resource(&self, name: &str) -> Option<Entry> {
        self.lock().resources.get(name).cloned()
    }

    pub fn snapshot(&self, service_id: &str) -> Option<Entry> {
        self.lock().snapshots.get(service_id).cloned()
    }

    /// What the resource named `name` holds, if it exists.
    pub fn content(&self, name: &str) -> Option<String> {
        self.resource(name).map(|e| e.content)
    }

    /// How many times `method` was called (failed calls included).
    pub fn calls(&self, method: &str) -> u32 {
        self.lock().calls.get(method).copied().unwrap_or(0)
    }

    fn lock(&self) -> MutexGuard<'_, RestorerState> {
        self.state.lock().expect("memory restorer lock")
    }

    /// Counts the call and fails it if told to.
    fn enter(&self, method: &'static str, on: &str) -> Result<MutexGuard<'_, RestorerState>, PortError> {
        let mut state = self.lock();
        *state.calls.entry(method.to_string()).or_default() += 1;
        match state.failing.get(method) {
            Some(kind) => Err(PortError::new(method, on, *kind, "injected failure")),
            None => Ok(state),
        }
    }
}

impl RestorerState {
    /// Puts `entry` under `name` as a resource made now (a new identity).
    fn make(&mut self, name: &str, mut entry: Entry) {
        self.made += 1;
        entry.incarnation = self.made;
        self.resources.insert(name.to_string(), entry);
    }

    /// Why the resource by `name` may not be used as the pinned `made`, if it may not
    /// (`marked`: whether it carries the marks it must).
    fn unpinned(&self, name: &str, made: Made, pinned: Option<&Identity>, marked: bool) -> Option<String> {
        let Some(entry) = self.resources.get(name) else {
            return Some(format!("nothing carries the name {name}"));
        };
        if !marked {
            return Some(format!(
                "{name} does not carry this restore's {} marks",
                made.as_str()
            ));
        }
        refusal(made, pinned, &entry.identity())
    }
    /// `Pending` until `method` has been polled for `name` as often as it was told to wait.
    fn poll(&mut self, method: &str, name: &str) -> Progress {
        let wait = self.pending_polls.get(method).copied().unwrap_or(0);
        let polls = self
            .polls
            .entry((method.to_string(), name.to_string()))
            .or_default();
        if *polls < wait {
            *polls += 1;
            Progress::Pending(format!("{method}: {name} is busy ({polls} of {wait})"))
        } else {
            Progress::Done
        }
    }

    fn rename(&mut self, from: &str, to: &str) {
        if let Some(entry) = self.resources.remove(from) {
            self.resources.insert(to.to_string(), entry);
        }
    }

    fn set_marks(&mut self, name: &str, marks: &[(&str, &str)]) {
        if let Some(entry) = self.resources.get_mut(name) {
            entry.marks = marks
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        }
    }
}

fn content_only(content: &str) -> Entry {
    Entry {
        content: content.to_string(),
        marks: BTreeMap::new(),
        incarnation: 0,
    }
}

fn refused(method: &'static str, on: impl std::fmt::Display, why: String) -> PortError {
    PortError::new(method, on, FailureKind::Refused, why)
}

/// A resource by the name that is not provably this restore's.
fn not_ours(method: &'static str, on: impl std::fmt::Display, why: String) -> PortError {
    PortError::new(method, on, FailureKind::NotOurs, why)
}

#[async_trait]
impl Restorer for MemoryRestorer {
    fn kind(&self) -> ResourceKind {
        self.kind
    }

    async fn snapshot_usable(&self, resource: &ResourceKey, service_id: &str) -> Result<bool, PortError> {
        let state = self.enter("snapshot_usable", service_id)?;
        Ok(state
            .snapshots
            .get(service_id)
            .is_some_and(|s| s.mark(SOURCE) == Some(resource.name.as_str())))
    }

    async fn start_safety_snapshot(
        &self,
        resource: &ResourceKey,
        name: &str,
        request_id: &str,
    ) -> Result<String, PortError> {
        let mut state = self.enter("start_safety_snapshot", name)?;
        // A retry finds what the first try made; a snapshot by the name not marked as this
        // request's safety snapshot is not taken as it.
        if let Some(existing) = state.snapshots.get(name) {
            if existing.belongs_to(request_id, Some("safety"))
                && existing.mark(SOURCE) == Some(resource.name.as_str())
            {
                return Ok(name.to_string());
            }
            return Err(not_ours(
                "start_safety_snapshot",
                name,
                "a snapshot by the safety snapshot's name exists and is not this request's".into(),
            ));
        }
        let production = state.resources.get(&resource.name).ok_or_else(|| {
            PortError::new(
                "start_safety_snapshot",
                resource,
                FailureKind::NotFound,
                "production is gone",
            )
        })?;
        let mut snapshot = content_only(&production.content);
        snapshot.marks = BTreeMap::from([
            (SOURCE.to_string(), resource.name.clone()),
            (TAG_RESTORE_REQUEST.to_string(), request_id.to_string()),
            (TAG_RESTORE_ROLE.to_string(), "safety".to_string()),
        ]);
        state.snapshots.insert(name.to_string(), snapshot);
        Ok(name.to_string())
    }

    async fn safety_snapshot_ready(
        &self,
        _resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Progress, PortError> {
        let mut state = self.enter("safety_snapshot_ready", service_id)?;
        if !state.snapshots.contains_key(service_id) {
            return Err(PortError::new(
                "safety_snapshot_ready",
                service_id,
                FailureKind::NotFound,
                "no such snapshot",
            ));
        }
        Ok(state.poll("safety_snapshot_ready", service_id))
    }

    async fn start_staging(&self, target: &Target<'_>) -> Result<(), PortError> {
        let mut state = self.enter("start_staging", target.staging)?;
        let from = target.restore_from()?;
        // A retry finds what the first try made; anything else by the name is not ours.
        if let Some(existing) = state.resources.get(target.staging) {
            if existing.belongs_to(target.request_id, Some("staging")) {
                return Ok(());
            }
            return Err(not_ours(
                "start_staging",
                target.staging,
                "a resource by the staging name exists and is not this request's staging".into(),
            ));
        }
        if !state.resources.contains_key(&target.production.name) {
            return Err(PortError::new(
                "start_staging",
                target.production,
                FailureKind::NotFound,
                "production is gone",
            ));
        }
        let content = match from {
            RestoreFrom::PointInTime(t) => format!("{} as of {t}", target.production.name),
            RestoreFrom::Snapshot(id) => {
                state
                    .snapshots
                    .get(id)
                    .map(|s| s.content.clone())
                    .ok_or_else(|| {
                        PortError::new("start_staging", id, FailureKind::NotFound, "no such snapshot")
                    })?
            }
        };
        let mut staging = content_only(&content);
        staging.marks = BTreeMap::from([
            (TAG_RESTORE_REQUEST.to_string(), target.request_id.to_string()),
            (TAG_RESTORE_ROLE.to_string(), "staging".to_string()),
        ]);
        state.make(target.staging, staging);
        Ok(())
    }

    async fn staging_ready(&self, target: &Target<'_>) -> Result<Progress, PortError> {
        let mut state = self.enter("staging_ready", target.staging)?;
        let Some(staging) = state.resources.get(target.staging) else {
            return Err(PortError::new(
                "staging_ready",
                target.staging,
                FailureKind::NotFound,
                "staging is gone",
            ));
        };
        if !staging.belongs_to(target.request_id, Some("staging")) {
            return Err(not_ours(
                "staging_ready",
                target.staging,
                "it is not marked as this request's staging".into(),
            ));
        }
        Ok(state.poll("staging_ready", target.staging))
    }

    async fn identity(&self, target: &Target<'_>, made: Made) -> Result<Identity, PortError> {
        let name = match made {
            Made::Staging => target.staging,
            Made::Fallback => target.fallback,
        };
        let state = self.enter("identity", name)?;
        let Some(entry) = state.resources.get(name) else {
            return Err(PortError::new(
                "identity",
                name,
                FailureKind::NotFound,
                "nothing by the name",
            ));
        };
        if !entry.belongs_to(target.request_id, Some(made.as_str())) {
            return Err(not_ours(
                "identity",
                name,
                format!("it is not marked as this request's {}", made.as_str()),
            ));
        }
        Ok(entry.identity())
    }

    /// Renames at the first call; the pending polls stand for the renames taking time.
    async fn swap(&self, target: &Target<'_>, _safety_snapshot: &str) -> Result<Progress, PortError> {
        let mut state = self.enter("swap", &target.production.name)?;
        let production = state.resources.get(&target.production.name);
        let restored = production.is_some_and(|p| p.belongs_to(target.request_id, None));
        let fallback = state.resources.contains_key(target.fallback);
        let staging = state.resources.contains_key(target.staging);
        match (production.is_some(), restored, fallback, staging) {
            (true, false, false, true) => {
                let marked = state.resources[target.staging].belongs_to(target.request_id, Some("staging"));
                if let Some(why) = state.unpinned(target.staging, Made::Staging, target.staging_identity, marked) {
                    return Err(not_ours("swap", target.staging, why));
                }
                let production = &target.production.name;
                state.set_marks(
                    production,
                    &[
                        (TAG_RESTORE_REQUEST, target.request_id),
                        (TAG_RESTORE_ROLE, "fallback"),
                    ],
                );
                state.rename(production, target.fallback);
                state.rename(target.staging, production);
                state.set_marks(production, &[(TAG_RESTORE_REQUEST, target.request_id)]);
            }
            (true, true, true, false) => {
                let production = &target.production.name;
                if let Some(why) = state.unpinned(production, Made::Staging, target.staging_identity, true) {
                    return Err(not_ours("swap", production, why));
                }
            }
            _ => {
                return Err(refused(
                    "swap",
                    target.production,
                    format!("unexpected state for a swap: production restored {restored}, fallback {fallback}, staging {staging}"),
                ))
            }
        }
        Ok(state.poll("swap", &target.production.name))
    }

    async fn undo_swap(&self, target: &Target<'_>, _safety_snapshot: &str) -> Result<Progress, PortError> {
        let mut state = self.enter("undo_swap", &target.production.name)?;
        let production = state.resources.get(&target.production.name);
        let restored = production.is_some_and(|p| p.belongs_to(target.request_id, None));
        let fallback = state.resources.contains_key(target.fallback);
        match (production.is_some(), restored, fallback) {
            // The restored resource has served as production: kept aside, never deleted.
            (true, true, true) => {
                let production = &target.production.name;
                if let Some(why) = state.unpinned(production, Made::Staging, target.staging_identity, true) {
                    return Err(not_ours("undo_swap", production, why));
                }
                let retired = names(target.request_id, target.production).retired;
                state.set_marks(
                    production,
                    &[
                        (TAG_RESTORE_REQUEST, target.request_id),
                        (TAG_RESTORE_ROLE, SERVED_PRODUCTION),
                    ],
                );
                state.rename(production, &retired);
                state.rename(target.fallback, production);
                state.set_marks(production, &[]);
            }
            // Never swapped, or already put back.
            (true, false, false) => {}
            // The original is aside and something else holds production's name: not moved.
            (true, false, true) => {
                return Err(not_ours(
                    "undo_swap",
                    target.production,
                    format!("production's name is held by a resource that is neither this restore's nor the original (kept as {})", target.fallback),
                ))
            }
            _ => {
                return Err(refused(
                    "undo_swap",
                    target.production,
                    format!("unexpected state for undoing a swap: production restored {restored}, fallback {fallback}"),
                ))
            }
        }
        Ok(state.poll("undo_swap", &target.production.name))
    }

    /// Finished once the swap's pending polls are used up, whether or not a step heard it.
    async fn swap_finished(&self, target: &Target<'_>) -> Result<bool, PortError> {
        let state = self.enter("swap_finished", &target.production.name)?;
        let wait = state.pending_polls.get("swap").copied().unwrap_or(0);
        let polls = state
            .polls
            .get(&("swap".to_string(), target.production.name.clone()))
            .copied();
        Ok(polls.is_some_and(|p| p >= wait))
    }

    async fn holder(&self, target: &Target<'_>) -> Result<Holder, PortError> {
        let state = self.enter("holder", &target.production.name)?;
        Ok(match state.resources.get(&target.production.name) {
            Some(p)
                if p.belongs_to(target.request_id, None)
                    && p.mark(TAG_RESTORE_ROLE) != Some("fallback")
                    && target.staging_identity.is_none_or(|pin| *pin == p.identity()) =>
            {
                Holder::Restored
            }
            Some(_) if state.resources.contains_key(target.fallback) => Holder::Other,
            Some(_) => Holder::Original,
            None => Holder::Nobody,
        })
    }

    async fn undo_differences(&self, target: &Target<'_>) -> Result<Option<String>, PortError> {
        let state = self.enter("undo_differences", &target.production.name)?;
        Ok(state.undo_differences.clone())
    }

    async fn kept_aside(&self, target: &Target<'_>) -> Result<Option<String>, PortError> {
        let state = self.enter("kept_aside", &target.production.name)?;
        let retired = names(target.request_id, target.production).retired;
        Ok(state.resources.contains_key(&retired).then_some(retired))
    }

    /// `Settling` as many times as `verify` was told to wait, then the comparison.
    async fn verify(&self, target: &Target<'_>) -> Result<Verification, PortError> {
        let mut state = self.enter("verify", &target.production.name)?;
        if let Progress::Pending(why) = state.poll("verify", &target.production.name) {
            return Ok(Verification::Settling(why));
        }
        let production = state.resources.get(&target.production.name);
        let ok = production
            .is_some_and(|p| p.belongs_to(target.request_id, None) && p.mark(TAG_RESTORE_ROLE).is_none())
            && state.resources.contains_key(target.fallback);
        if ok {
            if let Some(why) = state.unpinned(
                &target.production.name,
                Made::Staging,
                target.staging_identity,
                true,
            ) {
                return Err(not_ours("verify", target.production, why));
            }
        }
        Ok(match production {
            Some(p) if ok => Verification::Passed(format!(
                "{} holds the restored content {:?}",
                target.production, p.content
            )),
            _ => Verification::Failed(format!(
                "{} is not the restored resource, or the fallback is missing",
                target.production
            )),
        })
    }

    /// This restorer hands out no shards; a shard run anyway (a test's task) does nothing
    /// and is done, unless told to fail.
    async fn run_shard(
        &self,
        _target: &Target<'_>,
        shard: &crate::execution::shard::Shard,
        _budget: std::time::Duration,
    ) -> Result<Progress, PortError> {
        let _state = self.enter("run_shard", &shard.label())?;
        Ok(Progress::Done)
    }

    async fn delete_staging(&self, target: &Target<'_>) -> Result<Deletion, PortError> {
        let mut state = self.enter("delete_staging", target.staging)?;
        if target.staging == target.production.name {
            return Err(refused(
                "delete_staging",
                target.staging,
                "refusing to delete production".into(),
            ));
        }
        let Some(staging) = state.resources.get(target.staging) else {
            return Ok(Deletion::AlreadyGone);
        };
        if !staging.belongs_to(target.request_id, Some("staging")) {
            return Err(not_ours(
                "delete_staging",
                target.staging,
                "refusing to delete: it is not marked as this request's staging".into(),
            ));
        }
        // Once pinned, only the very resource pinned.
        if let Some(why) = target
            .staging_identity
            .and_then(|pin| pin.differs(&staging.identity()))
        {
            return Err(not_ours(
                "delete_staging",
                target.staging,
                format!("refusing to delete: {why}"),
            ));
        }
        state.resources.remove(target.staging);
        Ok(Deletion::Deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target<'a>(production: &'a ResourceKey, from: RestoreFrom) -> Target<'a> {
        Target {
            request_id: "rr-1",
            production,
            staging: "db-staging",
            fallback: "db-fallback",
            origin: Some(crate::ports::restorer::Origin {
                from,
                asked_after: "2026-11-28T09:00:00Z".parse().unwrap(),
            }),
            staging_identity: None,
            fallback_identity: None,
        }
    }

    #[tokio::test]
    async fn a_swap_keeps_the_old_production_and_its_undo_puts_it_back() {
        let r = MemoryRestorer::new(ResourceKind::RdsInstance);
        let db = r.add_production("db", "after the loss");
        r.add_snapshot(&db, "snap-1", "before the loss");
        let t = target(&db, RestoreFrom::Snapshot("snap-1".into()));
        r.start_staging(&t).await.unwrap();
        let pinned = r.identity(&t, Made::Staging).await.unwrap();
        let t = Target {
            staging_identity: Some(&pinned),
            ..t
        };
        assert_eq!(r.swap(&t, "").await.unwrap(), Progress::Done);
        assert_eq!(r.content("db").as_deref(), Some("before the loss"));
        assert_eq!(r.content("db-fallback").as_deref(), Some("after the loss"));
        assert!(matches!(r.verify(&t).await.unwrap(), Verification::Passed(_)));
        assert_eq!(
            r.swap(&t, "").await.unwrap(),
            Progress::Done,
            "a retry changes nothing"
        );

        assert_eq!(r.undo_swap(&t, "").await.unwrap(), Progress::Done);
        assert_eq!(r.content("db").as_deref(), Some("after the loss"));
        assert_eq!(r.resource("db").unwrap().marks, BTreeMap::new());
        // The restored resource served as production: kept aside, not staging again.
        assert_eq!(r.names(), ["db", "lbr-1-db"]);
        assert_eq!(r.kept_aside(&t).await.unwrap().as_deref(), Some("lbr-1-db"));
        assert_eq!(r.delete_staging(&t).await.unwrap(), Deletion::AlreadyGone);
        assert_eq!(
            r.undo_swap(&t, "").await.unwrap(),
            Progress::Done,
            "a retry changes nothing"
        );
        assert_eq!(r.names(), ["db", "lbr-1-db"]);
    }

    #[tokio::test]
    async fn staging_replaced_under_its_name_is_never_swapped_in_nor_deleted() {
        let r = MemoryRestorer::new(ResourceKind::RdsInstance);
        let db = r.add_production("db", "after the loss");
        r.add_snapshot(&db, "snap-1", "before the loss");
        let t = target(&db, RestoreFrom::Snapshot("snap-1".into()));
        r.start_staging(&t).await.unwrap();
        let pinned = r.identity(&t, Made::Staging).await.unwrap();
        let unpinned = t.clone();
        let t = Target {
            staging_identity: Some(&pinned),
            ..t
        };
        let marks = r.resource("db-staging").unwrap().marks;
        let marks: Vec<(&str, &str)> = marks.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        r.replace("db-staging", "someone else's", &marks);

        for refused in [
            r.swap(&t, "").await.unwrap_err(),
            r.swap(&unpinned, "").await.unwrap_err(),
            r.delete_staging(&t).await.unwrap_err(),
        ] {
            assert_eq!(refused.kind, FailureKind::NotOurs, "{refused}");
        }
        assert_eq!(
            r.content("db").as_deref(),
            Some("after the loss"),
            "production untouched"
        );
        assert_eq!(r.content("db-staging").as_deref(), Some("someone else's"));
        assert_eq!(
            r.undo_swap(&t, "").await.unwrap(),
            Progress::Done,
            "nothing to undo"
        );
        assert_eq!(r.holder(&t).await.unwrap(), Holder::Original);
    }

    #[tokio::test]
    async fn polled_methods_wait_as_told_and_methods_fail_as_told() {
        let r = MemoryRestorer::new(ResourceKind::DynamoTable);
        let table = r.add_production("orders", "v2");
        r.set_pending_polls("staging_ready", 2);
        let at = "2026-11-28T10:00:00Z".parse().unwrap();
        let t = target(&table, RestoreFrom::PointInTime(at));
        r.start_staging(&t).await.unwrap();
        assert!(!r.staging_ready(&t).await.unwrap().is_done());
        assert!(!r.staging_ready(&t).await.unwrap().is_done());
        assert!(r.staging_ready(&t).await.unwrap().is_done());

        r.fail("verify", FailureKind::Throttled);
        assert_eq!(r.verify(&t).await.unwrap_err().kind, FailureKind::Throttled);
        assert_eq!(r.calls("verify"), 1);
        r.heal("verify");
        assert!(
            matches!(r.verify(&t).await.unwrap(), Verification::Failed(_)),
            "nothing was swapped"
        );
    }

    #[tokio::test]
    async fn only_this_requests_staging_is_ever_deleted() {
        let r = MemoryRestorer::new(ResourceKind::RdsInstance);
        let db = r.add_production("db", "v1");
        r.add_production("db-staging", "someone else's");
        r.add_snapshot(&db, "snap-1", "v0");
        let t = target(&db, RestoreFrom::Snapshot("snap-1".into()));
        let as_production = Target {
            staging: "db",
            ..t.clone()
        };
        let refused = r.start_staging(&t).await.unwrap_err();
        assert_eq!(refused.kind, FailureKind::NotOurs, "never adopted");
        assert_eq!(r.delete_staging(&t).await.unwrap_err().kind, FailureKind::NotOurs);
        assert_eq!(
            r.delete_staging(&as_production).await.unwrap_err().kind,
            FailureKind::Refused,
            "production named as staging is a bad request"
        );
        assert_eq!(r.names(), ["db", "db-staging"]);
        assert_eq!(r.content("db-staging").as_deref(), Some("someone else's"));
    }
}
