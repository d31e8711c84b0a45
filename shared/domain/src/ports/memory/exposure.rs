//! In-memory snapshot sharing, table policies and bucket settings, which a test can open and
//! fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::audit::ManualSnapshot;
use crate::ports::exposure::{
    BucketAccess, SnapshotPage, SnapshotSharing, SnapshotsOf, TablePolicies, TablePolicy,
    SNAPSHOT_SOURCES_BATCH,
};
use crate::ports::{FailureKind, PortError};

/// A snapshot: the instance it is of, its tags, who may restore it.
type Held = (String, BTreeMap<String, String>, BTreeSet<String>);

/// RDS snapshots by identifier: the instance each is of, its tags and who may restore it.
/// Listings come in pages of [`MemorySharing::page_size`] (100, as RDS's largest).
#[derive(Debug)]
pub struct MemorySharing {
    snapshots: Mutex<BTreeMap<String, Held>>,
    page_size: Mutex<usize>,
    failing: Mutex<BTreeSet<String>>,
    vanishing: Mutex<BTreeSet<String>>,
    refused_markers: Mutex<BTreeSet<String>>,
    revocations: Mutex<Vec<(String, Vec<String>)>>,
    listings: Mutex<Vec<String>>,
}

impl Default for MemorySharing {
    fn default() -> Self {
        MemorySharing {
            snapshots: Mutex::default(),
            page_size: Mutex::new(100),
            failing: Mutex::default(),
            vanishing: Mutex::default(),
            refused_markers: Mutex::default(),
            revocations: Mutex::default(),
            listings: Mutex::default(),
        }
    }
}

impl MemorySharing {
    pub fn add_snapshot(&self, instance: &str, snapshot: &str, restorers: &[&str]) {
        self.add_tagged_snapshot(instance, snapshot, &[], restorers);
    }

    /// A snapshot carrying `tags` (copied from its instance, or given by whoever took it).
    pub fn add_tagged_snapshot(
        &self,
        instance: &str,
        snapshot: &str,
        tags: &[(&str, &str)],
        restorers: &[&str],
    ) {
        self.snapshots.lock().unwrap().insert(
            snapshot.into(),
            (
                instance.into(),
                tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                restorers.iter().map(|r| r.to_string()).collect(),
            ),
        );
    }

    pub fn set_page_size(&self, size: usize) {
        *self.page_size.lock().unwrap() = size.max(1);
    }

    /// Makes every revocation of `snapshot` fail.
    pub fn fail_revoking(&self, snapshot: &str) {
        self.failing.lock().unwrap().insert(snapshot.into());
    }

    /// Makes `snapshot` listed but gone when its sharing is read (deleted meanwhile).
    pub fn vanish_on_look(&self, snapshot: &str) {
        self.vanishing.lock().unwrap().insert(snapshot.into());
    }

    /// Makes every listing from `marker` (the last snapshot of the page before) refused, as
    /// RDS refuses a marker it does not take, until [`Self::accept_markers`].
    pub fn refuse_marker(&self, marker: &str) {
        self.refused_markers.lock().unwrap().insert(marker.into());
    }

    pub fn accept_markers(&self) {
        self.refused_markers.lock().unwrap().clear();
    }

    pub fn restorers_now(&self, snapshot: &str) -> Vec<String> {
        self.snapshots.lock().unwrap()[snapshot]
            .2
            .iter()
            .cloned()
            .collect()
    }

    /// Every revocation asked for, in order.
    pub fn revocations(&self) -> Vec<(String, Vec<String>)> {
        self.revocations.lock().unwrap().clone()
    }

    /// Every listing page asked for, in order: `*` for the account's, else the instances
    /// named, joined by commas.
    pub fn listings(&self) -> Vec<String> {
        self.listings.lock().unwrap().clone()
    }
}

#[async_trait]
impl SnapshotSharing for MemorySharing {
    async fn manual_snapshots(
        &self,
        of: SnapshotsOf<'_>,
        marker: Option<String>,
    ) -> Result<SnapshotPage, PortError> {
        let scope = match of {
            SnapshotsOf::Account => "*".to_string(),
            SnapshotsOf::Instances(names) => names.join(","),
        };
        self.listings.lock().unwrap().push(scope.clone());
        if let SnapshotsOf::Instances(names) = of {
            if names.len() > SNAPSHOT_SOURCES_BATCH {
                return Err(PortError::new(
                    "DescribeDBSnapshots",
                    scope,
                    FailureKind::Refused,
                    "InvalidParameterCombination: too many filter values",
                ));
            }
        }
        if let Some(m) = (marker.as_ref()).filter(|m| self.refused_markers.lock().unwrap().contains(*m)) {
            return Err(PortError::new(
                "DescribeDBSnapshots",
                scope,
                FailureKind::Refused,
                format!("InvalidParameterValue: marker {m} is not valid"),
            ));
        }
        let size = *self.page_size.lock().unwrap();
        let snapshots = self.snapshots.lock().unwrap();
        let listed: Vec<ManualSnapshot> = snapshots
            .iter()
            .filter(|(_, (of_instance, _, _))| match of {
                SnapshotsOf::Account => true,
                SnapshotsOf::Instances(names) => names.contains(of_instance),
            })
            .filter(|(id, _)| marker.as_ref().is_none_or(|m| *id > m))
            .take(size + 1)
            .map(|(id, (instance, tags, _))| ManualSnapshot {
                id: id.clone(),
                instance: instance.clone(),
                tags: tags.clone(),
            })
            .collect();
        let next = (listed.len() > size).then(|| listed[size - 1].id.clone());
        Ok(SnapshotPage {
            snapshots: listed.into_iter().take(size).collect(),
            next,
        })
    }

    async fn snapshot(&self, snapshot: &str) -> Result<Option<ManualSnapshot>, PortError> {
        Ok(self
            .snapshots
            .lock()
            .unwrap()
            .get(snapshot)
            .map(|(instance, tags, _)| ManualSnapshot {
                id: snapshot.into(),
                instance: instance.clone(),
                tags: tags.clone(),
            }))
    }

    async fn restorers(&self, snapshot: &str) -> Result<Vec<String>, PortError> {
        if self.vanishing.lock().unwrap().contains(snapshot) {
            self.snapshots.lock().unwrap().remove(snapshot);
        }
        let snapshots = self.snapshots.lock().unwrap();
        let (_, _, restorers) = snapshots.get(snapshot).ok_or_else(|| {
            PortError::new(
                "DescribeDBSnapshotAttributes",
                snapshot,
                FailureKind::NotFound,
                "no such snapshot",
            )
        })?;
        Ok(restorers.iter().cloned().collect())
    }

    async fn revoke(&self, snapshot: &str, values: &[String]) -> Result<(), PortError> {
        self.revocations
            .lock()
            .unwrap()
            .push((snapshot.into(), values.to_vec()));
        if self.failing.lock().unwrap().contains(snapshot) {
            return Err(PortError::new(
                "ModifyDBSnapshotAttribute",
                snapshot,
                FailureKind::Refused,
                "AccessDenied",
            ));
        }
        let mut snapshots = self.snapshots.lock().unwrap();
        if let Some((_, _, restorers)) = snapshots.get_mut(snapshot) {
            restorers.retain(|r| !values.contains(r));
        }
        Ok(())
    }
}

/// A table: its tags, and its policy with its revision.
type Table = (BTreeMap<String, String>, Option<TablePolicy>);

/// DynamoDB tables and their resource policies, each rewrite giving a new revision.
#[derive(Debug, Default)]
pub struct MemoryTablePolicies {
    tables: Mutex<BTreeMap<String, Table>>,
    revisions: Mutex<u64>,
    /// Tables whose policy someone changes between the audit's read and its write.
    racing: Mutex<BTreeSet<String>>,
    unreadable: Mutex<BTreeSet<String>>,
    writes: Mutex<Vec<String>>,
}

impl MemoryTablePolicies {
    pub fn add_table(&self, name: &str, tags: &[(&str, &str)]) {
        let tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.tables.lock().unwrap().insert(name.into(), (tags, None));
    }

    /// Puts `document` as `table`'s policy, as someone with the console would.
    pub fn put(&self, table: &str, document: &str) {
        let revision = self.next_revision();
        if let Some((_, policy)) = self.tables.lock().unwrap().get_mut(table) {
            *policy = Some(TablePolicy {
                document: document.into(),
                revision,
            });
        }
    }

    /// Makes someone change `table`'s policy right after the audit reads it.
    pub fn race_on_read(&self, table: &str) {
        self.racing.lock().unwrap().insert(table.into());
    }

    /// Makes reading `table`'s policy fail.
    pub fn fail_reading(&self, table: &str) {
        self.unreadable.lock().unwrap().insert(table.into());
    }

    /// The table's policy now, as JSON.
    pub fn policy_now(&self, table: &str) -> Option<serde_json::Value> {
        let tables = self.tables.lock().unwrap();
        let (_, policy) = tables.get(table)?;
        policy
            .as_ref()
            .map(|p| serde_json::from_str(&p.document).expect("policies are JSON"))
    }

    /// Every write asked for, in order (`put <table>`, `delete <table>`), refused ones too.
    pub fn writes(&self) -> Vec<String> {
        self.writes.lock().unwrap().clone()
    }

    fn next_revision(&self) -> String {
        let mut n = self.revisions.lock().unwrap();
        *n += 1;
        format!("rev-{n}")
    }

    fn rewrite(
        &self,
        table: &str,
        document: Option<&str>,
        revision: &str,
        op: &'static str,
    ) -> Result<(), PortError> {
        self.writes.lock().unwrap().push(format!(
            "{} {table}",
            if document.is_some() { "put" } else { "delete" }
        ));
        let fresh = self.next_revision();
        let mut tables = self.tables.lock().unwrap();
        let Some((_, policy)) = tables.get_mut(table) else {
            return Err(PortError::new(op, table, FailureKind::NotFound, "no such table"));
        };
        if policy.as_ref().map(|p| p.revision.as_str()) != Some(revision) {
            return Err(PortError::new(
                op,
                table,
                FailureKind::Conflict,
                "PolicyNotFoundException: the policy's revision is not the one expected",
            ));
        }
        *policy = document.map(|d| TablePolicy {
            document: d.into(),
            revision: fresh,
        });
        Ok(())
    }
}

#[async_trait]
impl TablePolicies for MemoryTablePolicies {
    async fn tables(&self) -> Result<Vec<String>, PortError> {
        Ok(self.tables.lock().unwrap().keys().cloned().collect())
    }

    async fn policy(&self, table: &str) -> Result<Option<TablePolicy>, PortError> {
        if self.unreadable.lock().unwrap().contains(table) {
            return Err(PortError::new(
                "GetResourcePolicy",
                table,
                FailureKind::Refused,
                "AccessDenied",
            ));
        }
        let read = self
            .tables
            .lock()
            .unwrap()
            .get(table)
            .and_then(|(_, p)| p.clone());
        if self.racing.lock().unwrap().remove(table) {
            if let Some(p) = &read {
                self.put(table, &p.document);
            }
        }
        Ok(read)
    }

    async fn tags(&self, table: &str) -> Result<BTreeMap<String, String>, PortError> {
        let tables = self.tables.lock().unwrap();
        let (tags, _) = tables.get(table).ok_or_else(|| {
            PortError::new(
                "ListTagsOfResource",
                table,
                FailureKind::NotFound,
                "no such table",
            )
        })?;
        Ok(tags.clone())
    }

    async fn replace_policy(&self, table: &str, document: &str, revision: &str) -> Result<(), PortError> {
        self.rewrite(table, Some(document), revision, "PutResourcePolicy")
    }

    async fn delete_policy(&self, table: &str, revision: &str) -> Result<(), PortError> {
        self.rewrite(table, None, revision, "DeleteResourcePolicy")
    }
}

/// A bucket whose public-access blocks are on unless a test opens it.
#[derive(Debug)]
pub struct MemoryBucketAccess {
    name: String,
    openings: Mutex<Vec<String>>,
}

impl MemoryBucketAccess {
    pub fn closed(name: &str) -> Self {
        MemoryBucketAccess {
            name: name.into(),
            openings: Mutex::new(Vec::new()),
        }
    }

    pub fn open(&self, opening: &str) {
        self.openings.lock().unwrap().push(opening.into());
    }
}

#[async_trait]
impl BucketAccess for MemoryBucketAccess {
    fn bucket(&self) -> &str {
        &self.name
    }

    async fn public_openings(&self) -> Result<Vec<String>, PortError> {
        Ok(self.openings.lock().unwrap().clone())
    }

    async fn block_public_access(&self) -> Result<(), PortError> {
        self.openings.lock().unwrap().clear();
        Ok(())
    }
}
