//! Which manual snapshots a sweep checks: those listed in its scope that hold a customer's
//! data ([`lifeboat::audit::lineage`]) and whose turn it is.
//!
//! Listing: an audit of the fleet in one invocation lists the account's manual snapshots
//! (100 a call), so that it also finds copies whose instance is gone and that the catalog
//! never knew (a final snapshot of a deleted `lbf-` instance, a tagged copy). An audit of one
//! instance, or a shard of a fanned-out audit, lists the snapshots taken of its instances
//! (50 instances a filter, 100 snapshots a call): no single invocation could list a fleet of
//! thousands of instances' snapshots within its time and the RDS budget. A shard also checks
//! the copies of other sources that its plan's walk of the account found and dealt it
//! ([`crate::walk`]).
//!
//! Turns: a managed or kept instance's own snapshots (about 90 each, the bulk) are checked
//! on its turn of the rotation over `sweep_days`, as one `DescribeDBSnapshotAttributes` per
//! snapshot is all AWS offers; copies of what Lifeboat made and copies known only by name or
//! tags are checked on every run that lists them (a fanned-out audit's, for a source no
//! shard lists, when its walk reaches them): they are few, made around incidents, and no
//! rotation gives them a turn of their own.

use std::collections::{BTreeMap, BTreeSet};

use lifeboat::audit::{
    lineage, Exposure, ExposureKind, Finding, FindingKind, KnownSources, Lineage, ManualSnapshot,
};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::ports::{PortError, SnapshotsOf, SNAPSHOT_SOURCES_BATCH};
use lifeboat::rotation::daily_turn_at;
use lifeboat::schedule::Slot;

use crate::exposure::SweepScope;
use crate::{AuditRun, Auditor};

/// A snapshot to check, and why.
pub(crate) struct Guarded {
    pub snapshot: ManualSnapshot,
    pub lineage: Lineage,
    /// The customer instance whose data it holds, when its tags or its instance's say.
    pub instance: Option<String>,
}

impl Guarded {
    /// The exposure it is, once found reaching `outside`.
    pub fn exposed(self, outside: Vec<String>) -> Exposure {
        Exposure {
            instance: self.instance,
            lineage: Some(self.lineage),
            ..Exposure::found(
                ExposureKind::Snapshot,
                self.snapshot.id,
                ResourceKey::rds(self.snapshot.instance).to_string(),
                outside,
            )
        }
    }
}

impl Auditor {
    /// The guarded snapshots of `scope` due at this run, and what could not be listed.
    pub(crate) async fn guarded_snapshots(
        &self,
        run: &AuditRun,
        scope: &SweepScope<'_>,
    ) -> (Vec<Guarded>, Vec<Finding>) {
        let known = known_sources(scope);
        // Whose data a snapshot of each instance holds, by what its instance is tagged with.
        let owners: BTreeMap<String, String> = (scope.managed.iter())
            .filter_map(|m| Some((rds(&m.key)?, m.instance_id.clone())))
            .chain((scope.made.iter()).filter_map(|m| Some((rds(&m.key)?, m.instance.clone()?))))
            .collect();
        let day = Slot::containing(run.at);
        let on_turn = |instance: &str| {
            run.sweep_all || daily_turn_at(&ResourceKey::rds(instance), day, self.sweep_days)
        };
        let (mut listed, findings) = if scope.whole_account {
            self.list(None).await
        } else {
            let sources: BTreeSet<String> = (known.managed.iter().chain(&known.kept))
                .filter(|name| on_turn(name))
                .cloned()
                .chain(made_sources(scope))
                .collect();
            self.list(Some(sources.into_iter().collect())).await
        };
        let mut seen: BTreeSet<String> = listed.iter().map(|s| s.id.clone()).collect();
        listed.extend(
            (scope.orphans.iter())
                .filter(|o| seen.insert(o.id.clone()))
                .cloned(),
        );
        let guarded = listed
            .into_iter()
            .filter_map(|snapshot| {
                let lineage = lineage(&snapshot, &known)?;
                if lineage.rotates() && !on_turn(&snapshot.instance) {
                    return None;
                }
                let instance = (snapshot.tags.get(TAG_INSTANCE))
                    .or_else(|| owners.get(&snapshot.instance))
                    .cloned();
                Some(Guarded {
                    snapshot,
                    lineage,
                    instance,
                })
            })
            .collect();
        (guarded, findings)
    }

    /// Every manual snapshot of the account (`None`), or of `sources`, page by page; what
    /// failed is a finding and the rest is still listed.
    async fn list(&self, sources: Option<Vec<String>>) -> (Vec<ManualSnapshot>, Vec<Finding>) {
        let (mut listed, mut findings) = (Vec::new(), Vec::new());
        let batches: Vec<Option<&[String]>> = match &sources {
            None => vec![None],
            Some(names) => names.chunks(SNAPSHOT_SOURCES_BATCH).map(Some).collect(),
        };
        for batch in batches {
            let of = batch.map_or(SnapshotsOf::Account, SnapshotsOf::Instances);
            if let Err(e) = self.list_pages(of, &mut listed).await {
                let subject = batch.map_or_else(|| "rds:snapshot:*".to_string(), |b| b.join(", "));
                tracing::error!(subject, error = %e, "audit: could not list snapshots");
                findings.push(Finding::new(
                    FindingKind::NotChecked,
                    subject,
                    format!("manual snapshots could not be listed, so their sharing is unchecked: {e}"),
                ));
            }
        }
        (listed, findings)
    }

    async fn list_pages(&self, of: SnapshotsOf<'_>, into: &mut Vec<ManualSnapshot>) -> Result<(), PortError> {
        let mut marker = None;
        loop {
            let page = self.sharing.manual_snapshots(of, marker).await?;
            into.extend(page.snapshots);
            match page.next {
                Some(next) => marker = Some(next),
                None => return Ok(()),
            }
        }
    }
}

/// The RDS instance `key` names, if it names one.
fn rds(key: &ResourceKey) -> Option<String> {
    (key.kind == ResourceKind::RdsInstance).then(|| key.name.clone())
}

/// The managed and kept instances of `scope`: their snapshots are guarded by their source.
fn known_sources(scope: &SweepScope<'_>) -> KnownSources {
    KnownSources {
        managed: scope.managed.iter().filter_map(|m| rds(&m.key)).collect(),
        kept: scope.unmanaged.iter().filter_map(|u| rds(&u.resource)).collect(),
    }
}

/// The instances restores and drills made in `scope`, whose snapshots are listed every run.
fn made_sources<'a>(scope: &'a SweepScope<'_>) -> impl Iterator<Item = String> + 'a {
    scope.made.iter().filter_map(|m| rds(&m.key))
}

/// Every instance whose snapshots a shard with `scope` lists, on their turn or every run:
/// a copy of any other instance is found only by the plan's walk of the account.
pub(crate) fn listed_sources(scope: &SweepScope<'_>) -> BTreeSet<String> {
    let known = known_sources(scope);
    (known.managed.into_iter())
        .chain(known.kept)
        .chain(made_sources(scope))
        .collect()
}
