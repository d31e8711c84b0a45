//! The account walk: a fanned-out audit's plan lists part of the account's manual snapshots
//! each run, going on where the last run stopped, so that the copies no shard lists are found
//! and dealt to the shards to be checked ([`crate::fanout`]).
//!
//! A shard lists the snapshots of its own instances by name: managed, kept, made by restores
//! and drills ([`crate::guarded`]). A copy whose source instance is none of those (deleted
//! and forgotten by the catalog, like a kept `lbf-` instance's final snapshot or a restore's
//! safety snapshot of an instance deleted since; or an instance whose tags Lifeboat cannot
//! read) is still guarded by its source's Lifeboat name, its own or its tags
//! ([`lifeboat::audit::lineage`]), and only a listing of the account finds it. At fleet scale
//! that listing is thousands of pages (100 snapshots a call), beyond one invocation, so each
//! plan lists for at most [`WALK_TIME`], at the sharing half of the audit's RDS budget (no
//! shard of its audit runs while the plan does), from the marker the last run left; at the
//! end of the listing the next run starts over. Every such copy is checked within as many
//! daily runs as the listing has pages divided by the pages one plan lists.
//!
//! The walk's progress is kept in [`RECORD`]: the run that walked last, the marker it
//! started from and the one the next run starts from. A plan retried before its plan was on
//! record walks the same pages again (what it found was never dealt); a dry run walks but
//! keeps nothing, so a run that revokes nothing never moves the walk past what it found; a
//! kept marker that RDS refuses starts the walk over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lifeboat::audit::{lineage, Finding, FindingKind, KnownSources, ManualSnapshot};
use lifeboat::inventory::{managed, DiscoveredResource, Unmanaged, TAG_INSTANCE};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::{FailureKind, SnapshotSharing, SnapshotsOf};
use lifeboat_function::failure::FunctionError;
use lifeboat_function::pacing::{self, Budget};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::exposure::{made_of, Made, SweepScope};
use crate::guarded::listed_sources;
use crate::publish::prefixes;
use crate::{AuditRun, Auditor};

/// The longest one plan walks: with discovery beside it and the shards' objects written
/// after, well within the invocation's 15 minutes.
pub const WALK_TIME: Duration = Duration::from_secs(600);
/// Where the walk's progress is kept, in the reports bucket.
pub const RECORD: &str = "audits/sharing-walk.json";
/// What a finding about the walk names.
const SUBJECT: &str = "rds:snapshot:* (the account walk)";

/// How a plan walks the account's manual snapshots.
pub struct AccountWalk {
    /// The listing, paced for the plan alone.
    pub sharing: Arc<dyn SnapshotSharing>,
    /// The most pages one plan lists, and the most time it spends on them.
    pub pages: usize,
    pub time: Duration,
}

impl AccountWalk {
    /// `sharing` paced at half of `budget.rds` (the other half is discovery's), for at most
    /// [`WALK_TIME`] and the pages that pace allows in it.
    pub fn paced(sharing: Arc<dyn SnapshotSharing>, budget: Budget) -> AccountWalk {
        let pages = (budget.rds / 2.0 * WALK_TIME.as_secs_f64()).floor() as usize;
        AccountWalk {
            sharing: pacing::paced_sharing(sharing, budget, 2),
            pages: pages.max(1),
            time: WALK_TIME,
        }
    }
}

/// The walk's progress, as kept between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalkRecord {
    /// The run that walked last (its reports' prefix).
    pub run: String,
    /// Where that run started, and where the next starts (`None`: the listing's beginning).
    pub from: Option<String>,
    pub next: Option<String>,
    /// What that run listed.
    pub pages: usize,
    pub snapshots: usize,
    /// When the pass under way started, and when the last whole pass ended.
    pub pass_started: Option<DateTime<Utc>>,
    pub last_pass_ended: Option<DateTime<Utc>>,
}

/// What a plan's walk found: the snapshots guarded whatever their source (by its Lifeboat
/// name, their own or their tags), and what could not be listed.
pub(crate) struct Walked {
    pub snapshots: Vec<ManualSnapshot>,
    pub findings: Vec<Finding>,
}

impl Auditor {
    /// Lists the account's manual snapshots from where the walk stands, within its bounds,
    /// and keeps where it stopped (unless a dry run).
    pub(crate) async fn walk(&self, run: &AuditRun) -> Result<Walked, FunctionError> {
        let this_run = prefixes(run).0;
        let before = self.recorded::<WalkRecord>(RECORD).await?.unwrap_or_default();
        let retried = before.run == this_run;
        let mut from = if retried {
            before.from.clone()
        } else {
            before.next.clone()
        };
        let deadline = Instant::now() + self.walk.time;
        let (mut marker, mut pages, mut snapshots) = (from.clone(), 0, Vec::new());
        let mut findings = Vec::new();
        let mut listed = 0;
        let ended = loop {
            if pages >= self.walk.pages || Instant::now() >= deadline {
                break false;
            }
            match self
                .walk
                .sharing
                .manual_snapshots(SnapshotsOf::Account, marker.clone())
                .await
            {
                Ok(page) => {
                    pages += 1;
                    listed += page.snapshots.len();
                    // Whether a snapshot's source is a shard's is known once discovery is
                    // done; what nothing but its source could guard is dropped now.
                    let unknown = KnownSources::default();
                    snapshots.extend((page.snapshots.into_iter()).filter(|s| lineage(s, &unknown).is_some()));
                    match page.next {
                        Some(next) => marker = Some(next),
                        None => break true,
                    }
                }
                Err(e) if pages == 0 && from.is_some() && e.kind == FailureKind::Refused => {
                    tracing::warn!(error = %e, "the account walk's kept marker was refused: starting over");
                    (from, marker) = (None, None);
                }
                Err(e) => {
                    tracing::error!(error = %e, pages, "the account walk could not list a page");
                    findings.push(Finding::new(
                        FindingKind::NotChecked,
                        SUBJECT.into(),
                        format!(
                            "a page of the account's manual snapshots could not be listed, so the copies on it and after it are unchecked until the next run lists it: {e}"
                        ),
                    ));
                    break false;
                }
            }
        };
        let record = WalkRecord {
            run: this_run,
            next: if ended { None } else { marker },
            pages,
            snapshots: listed,
            pass_started: match &from {
                None => Some(run.at),
                Some(_) => before.pass_started,
            },
            last_pass_ended: if ended {
                Some(run.at)
            } else {
                before.last_pass_ended
            },
            from,
        };
        tracing::info!(record = %serde_json::to_string(&record).unwrap_or_default(), guarded = snapshots.len(), "the account walk");
        if !run.dry_run {
            self.put_json(RECORD, &record).await?;
        }
        Ok(Walked { snapshots, findings })
    }
}

/// Of the snapshots the walk found, those whose source no shard lists (see
/// [`listed_sources`]): the resources discovered that an instance claims, what restores and
/// drills made that none claims (`unclaimed`), and the unmanaged resources Lifeboat keeps
/// points of.
pub(crate) fn orphans(
    walked: Vec<ManualSnapshot>,
    claimed: &[DiscoveredResource],
    unclaimed: &[Made],
    unmanaged: &[Unmanaged],
    policies: &PolicyBook,
) -> Vec<ManualSnapshot> {
    let managed: Vec<_> = (claimed.iter())
        .filter_map(|d| managed(d, policies).ok().flatten())
        .collect();
    let mut made = made_of(claimed);
    made.extend(unclaimed.iter().cloned());
    let listed = listed_sources(&SweepScope {
        managed: &managed,
        unmanaged,
        made: &made,
        orphans: &[],
        whole_account: false,
    });
    let mut seen = BTreeSet::new();
    (walked.into_iter())
        .filter(|s| !listed.contains(&s.instance) && seen.insert(s.id.clone()))
        .collect()
}

/// The shard each orphan goes to: its instance's, when its tags name an instance a shard
/// audits (its exposure then shows on that instance's page), else the next in turn.
pub(crate) fn deal_orphans(
    orphans: Vec<ManualSnapshot>,
    shards_of_instances: &BTreeMap<String, usize>,
    count: usize,
) -> Vec<(usize, ManualSnapshot)> {
    (orphans.into_iter().enumerate())
        .map(|(i, o)| {
            let shard = (o.tags.get(TAG_INSTANCE))
                .and_then(|instance| shards_of_instances.get(instance))
                .copied()
                .unwrap_or(i % count.max(1));
            (shard, o)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat::catalog::ResourceKey;
    use std::collections::BTreeMap;

    fn snapshot(id: &str, instance: &str, tags: &[(&str, &str)]) -> ManualSnapshot {
        ManualSnapshot {
            id: id.into(),
            instance: instance.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn a_copy_is_an_orphan_only_when_no_shard_lists_its_source() {
        let claimed = vec![
            DiscoveredResource {
                key: ResourceKey::rds("acme-db"),
                tags: BTreeMap::from([(TAG_INSTANCE.to_string(), "acme".to_string())]),
                pitr: None,
            },
            DiscoveredResource {
                key: ResourceKey::rds("lbf-1b4e28ba-acme-db"),
                tags: BTreeMap::from([(TAG_INSTANCE.to_string(), "acme".to_string())]),
                pitr: None,
            },
        ];
        let unclaimed = vec![Made {
            key: ResourceKey::rds("lbd-5c1e0a9f-globex-db"),
            instance: None,
        }];
        let walked = vec![
            snapshot("lifeboat-acme-db-x", "acme-db", &[]),
            snapshot("kept-copy", "lbf-1b4e28ba-acme-db", &[]),
            snapshot("sandbox-copy", "lbd-5c1e0a9f-globex-db", &[]),
            snapshot("acme-copy", "gone-db", &[(TAG_INSTANCE, "acme")]),
            snapshot("acme-copy", "gone-db", &[(TAG_INSTANCE, "acme")]),
            snapshot("final", "lbf-0a11ce00-gone-db", &[]),
        ];
        let found = orphans(walked, &claimed, &unclaimed, &[], &PolicyBook::default());
        let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["acme-copy", "final"]);
    }

    #[test]
    fn an_orphan_tagged_with_a_shard_s_instance_goes_to_that_shard() {
        let shards = BTreeMap::from([("acme".to_string(), 1)]);
        let dealt = deal_orphans(
            vec![
                snapshot("a", "gone-db", &[(TAG_INSTANCE, "acme")]),
                snapshot("b", "gone-db", &[]),
                snapshot("c", "gone-db", &[(TAG_INSTANCE, "offboarded")]),
            ],
            &shards,
            2,
        );
        let at: Vec<(usize, &str)> = dealt.iter().map(|(i, s)| (*i, s.id.as_str())).collect();
        assert_eq!(at, [(1, "a"), (1, "b"), (0, "c")]);
    }
}
