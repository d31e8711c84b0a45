//! In-memory snapshot sharing and bucket settings, which a test can open and fail.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::exposure::{BucketAccess, SnapshotSharing};
use crate::ports::{FailureKind, PortError};

/// RDS snapshots by identifier: the instance each is of and who may restore it.
#[derive(Debug, Default)]
pub struct MemorySharing {
    snapshots: Mutex<BTreeMap<String, (String, BTreeSet<String>)>>,
    failing: Mutex<BTreeSet<String>>,
    vanishing: Mutex<BTreeSet<String>>,
    revocations: Mutex<Vec<(String, Vec<String>)>>,
}

impl MemorySharing {
    pub fn add_snapshot(&self, instance: &str, snapshot: &str, restorers: &[&str]) {
        self.snapshots.lock().unwrap().insert(
            snapshot.into(),
            (instance.into(), restorers.iter().map(|r| r.to_string()).collect()),
        );
    }

    /// Makes every revocation of `snapshot` fail.
    pub fn fail_revoking(&self, snapshot: &str) {
        self.failing.lock().unwrap().insert(snapshot.into());
    }

    /// Makes `snapshot` listed but gone when its sharing is read (deleted meanwhile).
    pub fn vanish_on_look(&self, snapshot: &str) {
        self.vanishing.lock().unwrap().insert(snapshot.into());
    }

    pub fn restorers_now(&self, snapshot: &str) -> Vec<String> {
        self.snapshots.lock().unwrap()[snapshot]
            .1
            .iter()
            .cloned()
            .collect()
    }

    /// Every revocation asked for, in order.
    pub fn revocations(&self) -> Vec<(String, Vec<String>)> {
        self.revocations.lock().unwrap().clone()
    }
}

#[async_trait]
impl SnapshotSharing for MemorySharing {
    async fn snapshots_of(&self, instance: &str) -> Result<Vec<String>, PortError> {
        let snapshots = self.snapshots.lock().unwrap();
        Ok(snapshots
            .iter()
            .filter(|(_, (of, _))| of == instance)
            .map(|(id, _)| id.clone())
            .collect())
    }

    async fn instance_of(&self, snapshot: &str) -> Result<Option<String>, PortError> {
        Ok(self
            .snapshots
            .lock()
            .unwrap()
            .get(snapshot)
            .map(|(of, _)| of.clone()))
    }

    async fn restorers(&self, snapshot: &str) -> Result<Vec<String>, PortError> {
        if self.vanishing.lock().unwrap().contains(snapshot) {
            self.snapshots.lock().unwrap().remove(snapshot);
        }
        let snapshots = self.snapshots.lock().unwrap();
        let (_, restorers) = snapshots.get(snapshot).ok_or_else(|| {
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
        if let Some((_, restorers)) = snapshots.get_mut(snapshot) {
            restorers.retain(|r| !values.contains(r));
        }
        Ok(())
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
