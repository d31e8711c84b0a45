//! The data plane of the local stack's RDS instances: a PostgreSQL database per instance in
//! the stack's [`PgCluster`], named exactly after the DB instance identifier.
//!
//! Moto keeps RDS's control plane only. The edge makes the data follow every RDS call that
//! passes through it, once moto (or the edge itself) answered the call with success:
//!
//! | call | the data |
//! |---|---|
//! | `CreateDBInstance` | an empty database |
//! | `CreateDBSnapshot`, `CopyDBSnapshot` | a copy of the instance's database (of the source snapshot's copy), kept as `lbsnap_<n>` |
//! | `RestoreDBInstanceFromDBSnapshot` | a copy of the snapshot's copy (an empty database into identifiers a test named, see [`Databases::restore_empty_into`]) |
//! | `RestoreDBInstanceToPointInTime` | see below |
//! | `ModifyDBInstance` with `NewDBInstanceIdentifier` | the database renamed (its sessions ended first) |
//! | `DeleteDBInstance` | the database dropped (after a copy, for a final snapshot) |
//! | `DeleteDBSnapshot` | the copy dropped |
//!
//! Snapshot copies are named `lbsnap_<n>`: RDS identifiers have no underscore, so no
//! instance's database can take the name. The edge keeps, in memory, which copy is which
//! snapshot's, of which instance, taken when (by the edge's wall clock).
//!
//! **Point in time, approximated.** RDS replays its continuous backups to any second of the
//! window; the local stack keeps no log to replay. `UseLatestRestorableTime` gets a copy of
//! the source's database as it is now. A `RestoreTime` gets a copy of the newest snapshot
//! copy of the source instance (by identifier at the time of the snapshot) that the edge took
//! at or before that time by its own wall clock (not the snapshot's slot nor moto's create
//! time); changes made after that snapshot are not restored. With no such snapshot, the
//! target gets an empty database, and a warning is logged.
//!
//! A rename follows moto, which renames at once whether or not `ApplyImmediately` is set.
//!
//! Each of these calls holds the data plane from before moto sees it until its data followed,
//! so moto's instances and the databases change in the same order (a rename never interleaves
//! with a copy). When the data cannot follow, the error is logged and the call is answered
//! with a 400 (`LocalDataPlaneFailure`, which the SDK does not retry), though moto has made its change.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, MutexGuard};

use super::aws_call::{form_params, AwsCall};
use crate::http::Received;
use crate::postgres::{PgCluster, PgError};

/// The databases of one local stack's RDS instances, and its snapshots' copies.
pub struct Databases {
    /// The stack owns the cluster: it stops when the stack is dropped, even if the edge lives on.
    cluster: Weak<PgCluster>,
    copies: Mutex<Copies>,
}

/// The snapshot copies, by snapshot identifier.
#[derive(Debug, Default)]
struct Copies {
    next: u64,
    by_snapshot: BTreeMap<String, SnapshotCopy>,
    /// Instance identifier prefixes whose restores from a snapshot yield an empty database,
    /// on a test's request (see [`Databases::restore_empty_into`]).
    empty_restores: Vec<String>,
}

/// A snapshot's copy of its instance's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotCopy {
    /// The database holding the copy (`lbsnap_<n>`).
    pub database: String,
    /// The instance the snapshot is of (its identifier then).
    pub instance: String,
    /// When the edge copied the instance's database (its wall clock).
    pub taken_at: DateTime<Utc>,
    /// The order copies were made in, to tell apart copies of the same instant.
    seq: u64,
}

/// What a call does to the data.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DataOp {
    CreateInstance {
        instance: String,
    },
    Snapshot {
        snapshot: String,
        instance: String,
    },
    CopySnapshot {
        source: String,
        target: String,
    },
    RestoreFromSnapshot {
        snapshot: String,
        instance: String,
    },
    RestoreToPointInTime {
        source: String,
        target: String,
        to: RestoreTo,
    },
    Rename {
        from: String,
        to: String,
    },
    DeleteInstance {
        instance: String,
        final_snapshot: Option<String>,
    },
    DeleteSnapshot {
        snapshot: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RestoreTo {
    Latest,
    Time(DateTime<Utc>),
}

/// Why the data could not follow a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataPlaneError {
    #[error("{operation}: {reason}")]
    BadCall { operation: String, reason: String },
    #[error("{0}")]
    Database(#[from] PgError),
    #[error("no copy of snapshot {0}: it was not taken through the local stack's edge")]
    UnknownSnapshot(String),
    #[error("the local stack's PostgreSQL has stopped")]
    Stopped,
}

/// A data-plane call between its arrival and moto's answer: it holds the data plane.
pub struct Pending<'a> {
    operation: String,
    op: Result<DataOp, String>,
    copies: MutexGuard<'a, Copies>,
    cluster: &'a Weak<PgCluster>,
}

impl Databases {
    pub fn new(cluster: &Arc<PgCluster>) -> Databases {
        Databases {
            cluster: Arc::downgrade(cluster),
            copies: Mutex::default(),
        }
    }

    /// From now on, a restore from a snapshot into an instance whose identifier starts with
    /// `prefix` yields an empty database (what a broken backup would give): for tests of what
    /// notices it. Moto's control plane answers as always.
    pub async fn restore_empty_into(&self, prefix: &str) {
        self.copies.lock().await.empty_restores.push(prefix.to_string());
    }

    /// Holds the data plane for `call`, if it moves RDS data; [`Pending::apply`] once moto
    /// answered with success, or drop it.
    pub async fn begin(&self, call: &AwsCall, req: &Received) -> Option<Pending<'_>> {
        if call.service != "rds" {
            return None;
        }
        let op = plan(&call.operation, &form_params(&req.body))?;
        Some(Pending {
            operation: call.operation.clone(),
            op,
            copies: self.copies.lock().await,
            cluster: &self.cluster,
        })
    }

    /// The copy the edge keeps of `snapshot`.
    pub async fn copy_of(&self, snapshot: &str) -> Option<SnapshotCopy> {
        self.copies
            .lock()
            .await
            .by_snapshot
            .get(snapshot_id(snapshot))
            .cloned()
    }
}

impl Pending<'_> {
    /// Makes the data follow the call moto answered with success.
    pub async fn apply(mut self) -> Result<(), DataPlaneError> {
        let started = Instant::now();
        let result = match self.op.clone() {
            Ok(op) => self.run(&op).await,
            Err(reason) => Err(DataPlaneError::BadCall {
                operation: self.operation.clone(),
                reason,
            }),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &result {
            Ok(()) => tracing::info!(operation = %self.operation, elapsed_ms, "RDS data followed"),
            Err(e) => tracing::error!(operation = %self.operation, error = %e, "RDS data could not follow"),
        }
        result
    }

    async fn run(&mut self, op: &DataOp) -> Result<(), DataPlaneError> {
        let cluster = self.cluster.upgrade().ok_or(DataPlaneError::Stopped)?;
        match op {
            DataOp::CreateInstance { instance } => cluster.create_database(instance).await?,
            DataOp::Snapshot { snapshot, instance } => self.snapshot(&cluster, snapshot, instance).await?,
            DataOp::CopySnapshot { source, target } => {
                let from = self.copy(source)?;
                let database = self.copies.next_name();
                cluster.copy_database(&from.database, &database).await?;
                // The copy is of the same instant as its source.
                if let Some(replaced) = self.copies.keep(target, database, from.instance, from.taken_at) {
                    cluster.drop_database(&replaced.database).await?;
                }
            }
            DataOp::RestoreFromSnapshot { snapshot, instance } => {
                let from = self.copy(snapshot)?;
                if self
                    .copies
                    .empty_restores
                    .iter()
                    .any(|p| instance.starts_with(p.as_str()))
                {
                    tracing::warn!(
                        snapshot,
                        instance,
                        "a restore made to yield an empty database, as a test asked"
                    );
                    cluster.create_database(instance).await?;
                } else {
                    cluster.copy_database(&from.database, instance).await?;
                }
            }
            DataOp::RestoreToPointInTime { source, target, to } => match to {
                RestoreTo::Latest => {
                    cluster.copy_database(source, target).await?;
                }
                RestoreTo::Time(at) => match self.copies.newest_at(source, *at) {
                    Some(copy) => {
                        tracing::info!(source, target, restore_time = %at, snapshot_copy = %copy.database,
                            taken_at = %copy.taken_at, "point in time served by the newest snapshot copy before it");
                        cluster.copy_database(&copy.database, target).await?;
                    }
                    None => {
                        tracing::warn!(source, target, restore_time = %at,
                            "no snapshot copy of the source at or before the restore time: the target's database is empty");
                        cluster.create_database(target).await?;
                    }
                },
            },
            DataOp::Rename { from, to } => cluster.rename_database(from, to).await?,
            DataOp::DeleteInstance {
                instance,
                final_snapshot,
            } => {
                if let Some(snapshot) = final_snapshot {
                    self.snapshot(&cluster, snapshot, instance).await?;
                }
                if !cluster.drop_database(instance).await? {
                    tracing::warn!(instance, "a deleted instance had no database");
                }
            }
            DataOp::DeleteSnapshot { snapshot } => match self.copies.by_snapshot.remove(snapshot) {
                Some(copy) => {
                    cluster.drop_database(&copy.database).await?;
                }
                None => tracing::debug!(snapshot, "a deleted snapshot had no copy"),
            },
        }
        Ok(())
    }

    /// Copies `instance`'s database as it is now, as `snapshot`'s.
    async fn snapshot(
        &mut self,
        cluster: &PgCluster,
        snapshot: &str,
        instance: &str,
    ) -> Result<(), DataPlaneError> {
        // The copy holds what was committed when it began.
        let taken_at = Utc::now();
        let database = self.copies.next_name();
        cluster.copy_database(instance, &database).await?;
        if let Some(replaced) = self
            .copies
            .keep(snapshot, database, instance.to_string(), taken_at)
        {
            // Moto refuses a snapshot identifier in use: only a lost deletion gets here.
            cluster.drop_database(&replaced.database).await?;
        }
        Ok(())
    }

    fn copy(&self, snapshot: &str) -> Result<SnapshotCopy, DataPlaneError> {
        self.copies
            .by_snapshot
            .get(snapshot)
            .cloned()
            .ok_or_else(|| DataPlaneError::UnknownSnapshot(snapshot.to_string()))
    }
}

impl Copies {
    fn next_name(&mut self) -> String {
        self.next += 1;
        format!("lbsnap_{}", self.next)
    }

    /// Records `database` as `snapshot`'s copy; the copy it replaces, if any.
    fn keep(
        &mut self,
        snapshot: &str,
        database: String,
        instance: String,
        taken_at: DateTime<Utc>,
    ) -> Option<SnapshotCopy> {
        let seq = self.next;
        self.by_snapshot.insert(
            snapshot.to_string(),
            SnapshotCopy {
                database,
                instance,
                taken_at,
                seq,
            },
        )
    }

    /// The newest copy of `instance` taken at or before `at`.
    fn newest_at(&self, instance: &str, at: DateTime<Utc>) -> Option<SnapshotCopy> {
        self.by_snapshot
            .values()
            .filter(|c| c.instance == instance && c.taken_at <= at)
            .max_by_key(|c| (c.taken_at, c.seq))
            .cloned()
    }
}

/// What an RDS call does to the data: `None` for calls that leave it alone; an error for a
/// data-plane call the edge cannot read (which fails it, if moto accepts it).
fn plan(operation: &str, params: &[(String, String)]) -> Option<Result<DataOp, String>> {
    let optional = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let required = |name: &str| optional(name).ok_or_else(|| format!("no {name}"));
    let flag = |name: &str| optional(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let snapshot = |name: &str| required(name).map(|s| snapshot_id(&s).to_string());
    let op = match operation {
        "CreateDBInstance" => {
            required("DBInstanceIdentifier").map(|instance| DataOp::CreateInstance { instance })
        }
        "CreateDBSnapshot" => snapshot("DBSnapshotIdentifier").and_then(|snapshot| {
            Ok(DataOp::Snapshot {
                snapshot,
                instance: required("DBInstanceIdentifier")?,
            })
        }),
        "CopyDBSnapshot" => snapshot("SourceDBSnapshotIdentifier").and_then(|source| {
            Ok(DataOp::CopySnapshot {
                source,
                target: snapshot("TargetDBSnapshotIdentifier")?,
            })
        }),
        "RestoreDBInstanceFromDBSnapshot" => snapshot("DBSnapshotIdentifier").and_then(|snapshot| {
            Ok(DataOp::RestoreFromSnapshot {
                snapshot,
                instance: required("DBInstanceIdentifier")?,
            })
        }),
        "RestoreDBInstanceToPointInTime" => {
            restore_to(&optional("RestoreTime"), flag("UseLatestRestorableTime")).and_then(|to| {
                Ok(DataOp::RestoreToPointInTime {
                    // The data plane knows instances by identifier, not by resource id or
                    // automated-backups ARN.
                    source: required("SourceDBInstanceIdentifier")?,
                    target: required("TargetDBInstanceIdentifier")?,
                    to,
                })
            })
        }
        "ModifyDBInstance" => {
            let to = optional("NewDBInstanceIdentifier")?;
            required("DBInstanceIdentifier").map(|from| DataOp::Rename { from, to })
        }
        "DeleteDBInstance" => required("DBInstanceIdentifier").map(|instance| DataOp::DeleteInstance {
            instance,
            // Moto (as RDS) takes the final snapshot unless told to skip it.
            final_snapshot: optional("FinalDBSnapshotIdentifier")
                .filter(|_| !flag("SkipFinalSnapshot"))
                .map(|s| snapshot_id(&s).to_string()),
        }),
        "DeleteDBSnapshot" => {
            snapshot("DBSnapshotIdentifier").map(|snapshot| DataOp::DeleteSnapshot { snapshot })
        }
        _ => return None,
    };
    Some(op)
}

/// `RestoreTime` (ISO 8601) or the latest restorable time (also when neither is given).
fn restore_to(time: &Option<String>, latest: bool) -> Result<RestoreTo, String> {
    match time {
        Some(t) if !latest => DateTime::parse_from_rfc3339(t)
            .map(|t| RestoreTo::Time(t.with_timezone(&Utc)))
            .map_err(|e| format!("RestoreTime {t:?}: {e}")),
        _ => Ok(RestoreTo::Latest),
    }
}

/// A snapshot's identifier from its identifier or ARN (`arn:aws:rds:…:snapshot:<id>`).
fn snapshot_id(s: &str) -> &str {
    match s
        .strip_prefix("arn:")
        .and_then(|arn| arn.rsplit_once(":snapshot:"))
    {
        Some((_, id)) => id,
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn calls_that_move_data_are_read() {
        let op = |operation, pairs: &[(&str, &str)]| plan(operation, &params(pairs)).map(Result::unwrap);
        assert_eq!(
            op(
                "CreateDBSnapshot",
                &[("DBSnapshotIdentifier", "s1"), ("DBInstanceIdentifier", "db")]
            ),
            Some(DataOp::Snapshot {
                snapshot: "s1".into(),
                instance: "db".into()
            })
        );
        assert_eq!(
            op(
                "RestoreDBInstanceFromDBSnapshot",
                &[
                    (
                        "DBSnapshotIdentifier",
                        crate::names::arn("rds", "snapshot:s1").as_str()
                    ),
                    ("DBInstanceIdentifier", "db-2")
                ]
            ),
            Some(DataOp::RestoreFromSnapshot {
                snapshot: "s1".into(),
                instance: "db-2".into()
            })
        );
        assert_eq!(
            op(
                "RestoreDBInstanceToPointInTime",
                &[
                    ("SourceDBInstanceIdentifier", "db"),
                    ("TargetDBInstanceIdentifier", "db-pitr"),
                    ("RestoreTime", "2026-11-28T09:05:00Z")
                ]
            ),
            Some(DataOp::RestoreToPointInTime {
                source: "db".into(),
                target: "db-pitr".into(),
                to: RestoreTo::Time(at("2026-11-28T09:05:00Z"))
            })
        );
        assert_eq!(
            op(
                "RestoreDBInstanceToPointInTime",
                &[
                    ("SourceDBInstanceIdentifier", "db"),
                    ("TargetDBInstanceIdentifier", "db-pitr"),
                    ("UseLatestRestorableTime", "true")
                ]
            ),
            Some(DataOp::RestoreToPointInTime {
                source: "db".into(),
                target: "db-pitr".into(),
                to: RestoreTo::Latest
            })
        );
        assert_eq!(
            op(
                "ModifyDBInstance",
                &[
                    ("DBInstanceIdentifier", "db"),
                    ("NewDBInstanceIdentifier", "db-old"),
                    ("ApplyImmediately", "true")
                ]
            ),
            Some(DataOp::Rename {
                from: "db".into(),
                to: "db-old".into()
            })
        );
        assert_eq!(
            op(
                "DeleteDBInstance",
                &[
                    ("DBInstanceIdentifier", "db"),
                    ("FinalDBSnapshotIdentifier", "last"),
                    ("SkipFinalSnapshot", "false")
                ]
            ),
            Some(DataOp::DeleteInstance {
                instance: "db".into(),
                final_snapshot: Some("last".into())
            })
        );
        assert_eq!(
            op(
                "DeleteDBInstance",
                &[
                    ("DBInstanceIdentifier", "db"),
                    ("FinalDBSnapshotIdentifier", "last"),
                    ("SkipFinalSnapshot", "true")
                ]
            ),
            Some(DataOp::DeleteInstance {
                instance: "db".into(),
                final_snapshot: None
            })
        );
    }

    #[test]
    fn other_calls_leave_the_data_alone() {
        assert_eq!(
            plan("DescribeDBInstances", &params(&[("DBInstanceIdentifier", "db")])),
            None
        );
        // A modification without a new identifier changes settings, not data.
        assert_eq!(
            plan(
                "ModifyDBInstance",
                &params(&[("DBInstanceIdentifier", "db"), ("MultiAZ", "true")])
            ),
            None
        );
    }

    #[test]
    fn unreadable_data_calls_are_errors() {
        let bad = plan(
            "RestoreDBInstanceToPointInTime",
            &params(&[
                ("SourceDBInstanceIdentifier", "db"),
                ("TargetDBInstanceIdentifier", "t"),
                ("RestoreTime", "yesterday"),
            ]),
        );
        assert!(matches!(bad, Some(Err(e)) if e.contains("RestoreTime")));
        assert!(matches!(plan("CreateDBInstance", &[]), Some(Err(e)) if e.contains("DBInstanceIdentifier")));
    }

    #[test]
    fn a_point_in_time_is_served_by_the_newest_copy_at_or_before_it() {
        let mut copies = Copies::default();
        for (snapshot, instance, time) in [
            ("a", "db", "2026-11-28T09:00:00Z"),
            ("b", "db", "2026-11-28T10:00:00Z"),
            ("c", "other", "2026-11-28T10:30:00Z"),
            ("d", "db", "2026-11-28T11:00:00Z"),
        ] {
            let name = copies.next_name();
            copies.keep(snapshot, name, instance.into(), at(time));
        }
        let newest = |time| copies.newest_at("db", at(time)).map(|c| c.database);
        assert_eq!(newest("2026-11-28T10:45:00Z").as_deref(), Some("lbsnap_2"));
        assert_eq!(newest("2026-11-28T10:00:00Z").as_deref(), Some("lbsnap_2"));
        assert_eq!(newest("2026-11-28T12:00:00Z").as_deref(), Some("lbsnap_4"));
        assert_eq!(newest("2026-11-28T08:59:59Z"), None);
    }
}
