//! The audit of a fleet, fanned out by the fleet-tick state machine (see
//! [`lifeboat::fanout`]): one invocation paces about 16 RDS calls per instance, so a fleet
//! of thousands cannot be audited within one invocation's 15 minutes.
//!
//! - `plan`: discovery once, the resources no longer managed (which needs the fleet in
//!   view), beside it the day's part of the walk of the account's snapshots ([`crate::walk`]),
//!   and the customer instances split into shards of at most the shard size in resources
//!   (an instance is never split: its coverage and drills are one). The plan's own findings
//!   go to `<run>/plan.json`, each shard's work to `<run>/shards/`.
//! - `shard`: its instances audited and their snapshots' sharing swept (revoked when
//!   exposed), with the copies the walk found whose source no shard lists, dealt to it;
//!   each instance's report written as an audit of that instance would write it
//!   (`audits/<date>/instances/<id>/`, with its timelines), and the shard's summary (no
//!   points) beside its object.
//! - `finish`: the day's report assembled from the summaries (its page links each
//!   instance's own page rather than drawing a fleet's timelines), the metrics, and the
//!   run fails when the plan, a shard, a check or a revocation did.

use futures::stream::{self, StreamExt};
use lifeboat::audit::{AuditReport, Finding, FindingKind, InstanceAudit, ManualSnapshot};
use lifeboat::catalog::ResourceKey;
use lifeboat::fanout::{self, Plan, ShardResult};
use lifeboat::inventory::{DiscoveredResource, Unmanaged, TAG_INSTANCE};
use lifeboat_function::failure::{FailureType, FunctionError};
use lifeboat_function::shards;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::exposure::{made_of, Made, SweepScope};
use crate::publish::prefixes;
use crate::walk::{deal_orphans, orphans};
use crate::{conclude, mark_undiscovered, AuditRun, AuditSummary, Auditor};

/// Shard objects read at once by the finish.
const READS: usize = 8;

/// What the plan found about the whole fleet, and its answer: an event planned before (a
/// retried plan, the same event started twice) gets the same plan, so two executions of one
/// audit never deal the fleet differently.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PlanRecord {
    unmanaged: Vec<Unmanaged>,
    findings: Vec<Finding>,
    undiscovered: Vec<String>,
    plan: Plan,
}

/// A shard's work: its instances' resources as discovered, and the unmanaged resources
/// and what restores and drills made (no instance's tags claim it) whose copies it sweeps.
#[derive(Debug, Serialize, Deserialize)]
struct AuditShard {
    instances: Vec<String>,
    discovered: Vec<DiscoveredResource>,
    unmanaged: Vec<Unmanaged>,
    #[serde(default)]
    made: Vec<Made>,
    /// Guarded copies whose source no shard lists, found by the plan's walk.
    #[serde(default)]
    orphans: Vec<ManualSnapshot>,
    /// The services discovery could not read: no instance's coverage is proven.
    undiscovered: Vec<String>,
}

/// What a shard did: its answer and its instances' summaries. A shard run again for the
/// same event answers this again, so the record of what it revoked is never replaced.
#[derive(Debug, Serialize, Deserialize)]
struct ShardSummary {
    result: ShardResult,
    report: AuditReport,
}

impl Auditor {
    pub(crate) async fn plan_shards(&self, run: &AuditRun) -> Result<Plan, FunctionError> {
        if let Some(record) = self.recorded::<PlanRecord>(&plan_key(run)).await? {
            tracing::info!(at = %run.at, shards = record.plan.shards.len(), "audit planned before: the same plan");
            return Ok(record.plan);
        }
        // The walk paces its own calls: beside discovery, it takes the plan's time once.
        let (discovery, walked) = if run.instance.is_none() {
            let (discovery, walked) = futures::join!(self.discover(run), self.walk(run));
            (discovery, Some(walked?))
        } else {
            (self.discover(run).await, None)
        };
        let (unmanaged, mut findings) = self
            .unmanaged(run, &discovery.discovered, &discovery.undiscovered)
            .await;
        findings.extend(discovery.findings);
        let mut unclaimed = Vec::new();
        let discovered: BTreeSet<ResourceKey> =
            (discovery.discovered.iter()).map(|d| d.key.clone()).collect();
        let mut by_instance: BTreeMap<String, Vec<DiscoveredResource>> = BTreeMap::new();
        for found in discovery.discovered {
            let instance = found.tags.get(TAG_INSTANCE).cloned();
            match instance {
                Some(i) if run.instance.as_ref().is_none_or(|only| *only == i) => {
                    by_instance.entry(i).or_default().push(found)
                }
                Some(_) => {}
                // Only resources an instance claims are audited; bad tags elsewhere are
                // named by the classification of a shard's resources, so here they are
                // classified alone.
                None => {
                    findings.extend(self.classify(run, std::slice::from_ref(&found)).findings);
                    unclaimed.extend(made_of(std::slice::from_ref(&found)));
                }
            }
        }
        if run.instance.is_none() {
            match self.made_tables().await {
                // A table discovered is its instance's shard's, or dealt above already.
                Ok(tables) => unclaimed.extend(tables.into_iter().filter(|t| !discovered.contains(&t.key))),
                Err(finding) => findings.push(finding),
            }
        }
        let resources = by_instance.values().map(Vec::len).sum();
        let orphans = match walked {
            Some(walked) => {
                findings.extend(walked.findings);
                let claimed: Vec<DiscoveredResource> = by_instance.values().flatten().cloned().collect();
                orphans(walked.snapshots, &claimed, &unclaimed, &unmanaged, &self.policies)
            }
            None => Vec::new(),
        };
        let mut groups = group(by_instance, self.shard_size);
        // The unmanaged resources' snapshots, what Lifeboat made and the copies the walk
        // found are swept too: dealt out over the shards.
        if groups.is_empty() && !(unmanaged.is_empty() && unclaimed.is_empty() && orphans.is_empty()) {
            groups.push(Vec::new());
        }
        let mut objects: Vec<(String, AuditShard)> = groups
            .into_iter()
            .enumerate()
            .map(|(index, instances)| {
                let (names, discovered): (Vec<String>, Vec<Vec<DiscoveredResource>>) =
                    instances.into_iter().unzip();
                let shard = AuditShard {
                    instances: names,
                    discovered: discovered.into_iter().flatten().collect(),
                    unmanaged: Vec::new(),
                    made: Vec::new(),
                    orphans: Vec::new(),
                    undiscovered: discovery.undiscovered.clone(),
                };
                (shard_key(run, index), shard)
            })
            .collect();
        let count = objects.len().max(1);
        for (i, u) in unmanaged.iter().enumerate() {
            objects[i % count].1.unmanaged.push(u.clone());
        }
        for (i, m) in unclaimed.into_iter().enumerate() {
            objects[i % count].1.made.push(m);
        }
        let orphan_count = orphans.len();
        let shards_of_instances: BTreeMap<String, usize> = (objects.iter().enumerate())
            .flat_map(|(i, (_, shard))| shard.instances.iter().map(move |name| (name.clone(), i)))
            .collect();
        for (i, o) in deal_orphans(orphans, &shards_of_instances, count) {
            objects[i].1.orphans.push(o);
        }
        let keys = shards::write_all(self.reports.as_ref(), objects).await?;
        tracing::info!(at = %run.at, resources, shards = keys.len(), orphans = orphan_count, "audit planned");
        let failures: Vec<String> = (findings.iter())
            .filter(|f| f.kind == FindingKind::NotChecked)
            .map(|f| format!("{}: {}", f.subject, f.what))
            .collect();
        let plan = Plan {
            shards: keys,
            concurrency: self.shard_concurrency,
            resources,
            counts: BTreeMap::new(),
            failures: fanout::bounded_failures(&failures),
            quota_short: false,
        };
        // Last: a plan on record has its shards written.
        let record = PlanRecord {
            unmanaged,
            findings,
            undiscovered: discovery.undiscovered,
            plan,
        };
        self.put_json(&plan_key(run), &record).await?;
        Ok(record.plan)
    }

    pub(crate) async fn run_shard(&self, run: &AuditRun, key: &str) -> Result<ShardResult, FunctionError> {
        if !key.starts_with(&format!("{}/shards/", prefixes(run).0)) {
            return Err(FunctionError::new(
                FailureType::InvalidEvent,
                format!("shard {key} is not one of this audit's shards"),
            ));
        }
        if let Some(done) = self.recorded::<ShardSummary>(&summary_key(key)).await? {
            tracing::info!(shard = key, "audit shard done before: its result again");
            return Ok(done.result);
        }
        let shard: AuditShard = shards::read(self.reports.as_ref(), key).await?;
        let classified = self.classify(run, &shard.discovered);
        let mut audits = self.audit_all(run, &classified.managed).await;
        audits.extend(classified.misconfigured);
        let mut made = made_of(&shard.discovered);
        made.extend(shard.made.iter().cloned());
        let scope = SweepScope {
            managed: &classified.managed,
            unmanaged: &shard.unmanaged,
            made: &made,
            orphans: &shard.orphans,
            whole_account: false,
        };
        let exposures = self.sweep(run, &scope).await;
        let mut findings = classified.findings;
        findings.extend(exposures.findings);
        let mut report = AuditReport::assemble(run.at, audits, exposures.found, Vec::new(), findings);
        self.attach_drills(&mut report, run.at).await;
        mark_undiscovered(&mut report, &shard.undiscovered);
        for instance in &report.instances {
            self.write_instance_report(run, &report, instance).await?;
        }
        let failures: Vec<String> = (report.all_findings())
            .filter(|f| f.kind == FindingKind::NotChecked)
            .map(|f| format!("{}: {}", f.subject, f.what))
            .chain(
                (report.exposures.iter())
                    .filter(|e| !e.revoked && e.error.is_some())
                    .map(|e| format!("{} not revoked: {}", e.subject, e.error.as_deref().unwrap_or(""))),
            )
            .collect();
        let counts = BTreeMap::from([
            ("instances".to_string(), report.instances.len() as u64),
            ("exposures".to_string(), report.exposures.len() as u64),
        ]);
        // The summary the finish assembles the day from: everything but the points, which
        // the instance's own report keeps.
        for instance in &mut report.instances {
            instance.resources.iter_mut().for_each(|r| r.points.clear());
        }
        let result = ShardResult::new(key, shard.discovered.len(), counts, &failures);
        let summary = ShardSummary { result, report };
        self.put_json(&summary_key(key), &summary).await?;
        tracing::info!(
            shard = key,
            instances = shard.instances.len(),
            failures = failures.len(),
            "audit shard done"
        );
        Ok(summary.result)
    }

    pub(crate) async fn finish_shards(
        &self,
        run: &AuditRun,
        plan: &Plan,
        results: &[ShardResult],
    ) -> Result<AuditSummary, FunctionError> {
        let ours = format!("{}/shards/", prefixes(run).0);
        if let Some(stray) = plan.shards.iter().find(|k| !k.starts_with(&ours)) {
            return Err(FunctionError::new(
                FailureType::InvalidEvent,
                format!("shard {stray} is not one of this audit's shards"),
            ));
        }
        let record: PlanRecord = shards::read(self.reports.as_ref(), &plan_key(run)).await?;
        let (mut instances, mut exposures, mut findings) = (Vec::new(), Vec::new(), record.findings);
        let failed: BTreeSet<&str> = (results.iter().filter(|r| r.failed))
            .map(|r| r.shard.as_str())
            .collect();
        let failed = &failed;
        let summaries: Vec<_> = stream::iter(&plan.shards)
            .map(|key| async move {
                if failed.contains(key.as_str()) {
                    return (key, Err("the shard failed after its retries".to_string()));
                }
                let read = shards::read::<ShardSummary>(self.reports.as_ref(), &summary_key(key)).await;
                (key, read.map_err(|e| e.to_string()))
            })
            .buffered(READS)
            .collect()
            .await;
        for (key, summary) in summaries {
            match summary {
                Ok(part) => {
                    instances.extend(part.report.instances);
                    exposures.extend(part.report.exposures);
                    findings.extend(part.report.findings);
                }
                Err(why) => {
                    let (lost, finding) = self.unaudited(key, &why).await;
                    instances.extend(lost);
                    findings.extend(finding);
                }
            }
        }
        // The fleet's findings as one invocation's report has them (the unmanaged last).
        let mut report = AuditReport::assemble(run.at, Vec::new(), Vec::new(), record.unmanaged, findings);
        instances.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        report.instances = instances;
        report.exposures = exposures;
        mark_undiscovered(&mut report, &record.undiscovered);
        let link = |page_prefix: &str, instance: &str| instance_href(run, page_prefix, instance);
        let summary = self.publish(run, &report, Some(&link)).await?;
        self.announce_findings(&report, run.dry_run, run.at).await;
        conclude(run, &report, summary)
    }

    /// The instances of a shard that did not report, each at 0 percent with why; or, when
    /// not even its object can be read, a finding naming the shard.
    async fn unaudited(&self, key: &str, why: &str) -> (Vec<InstanceAudit>, Option<Finding>) {
        let why = format!("not audited: its shard {key} failed ({why})");
        match shards::read::<AuditShard>(self.reports.as_ref(), key).await {
            Ok(shard) => (
                (shard.instances.into_iter())
                    .map(|i| InstanceAudit::unchecked(i, why.clone()))
                    .collect(),
                None,
            ),
            Err(e) => (
                Vec::new(),
                Some(Finding::new(
                    FindingKind::NotChecked,
                    key.to_string(),
                    format!("{why}; its instances are unknown: {e}"),
                )),
            ),
        }
    }

    /// An instance's part of the shard's report, written where an audit of that instance
    /// writes (its run's copy, and the day's latest unless a dry run), without metrics: the
    /// finish publishes them for the fleet.
    async fn write_instance_report(
        &self,
        run: &AuditRun,
        shard: &AuditReport,
        instance: &InstanceAudit,
    ) -> Result<(), FunctionError> {
        let owned: BTreeSet<String> = instance
            .resources
            .iter()
            .map(|r| r.resource.to_string())
            .collect();
        let report = AuditReport {
            generated_at: shard.generated_at,
            instances: vec![instance.clone()],
            exposures: (shard.exposures.iter())
                .filter(|e| owned.contains(&e.owner) || e.instance.as_ref() == Some(&instance.instance_id))
                .cloned()
                .collect(),
            unmanaged: Vec::new(),
            findings: Vec::new(),
        };
        let (run_prefix, latest) = prefixes(&instance_run(run, &instance.instance_id));
        for prefix in std::iter::once(run_prefix).chain(latest) {
            self.write_report(&prefix, &report, None).await?;
        }
        Ok(())
    }

    /// What is recorded at `key`, if anything (a record that cannot be read is a failure,
    /// never taken for none).
    pub(crate) async fn recorded<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, FunctionError> {
        match self.reports.get(key).await {
            Ok(body) => serde_json::from_slice(&body).map(Some).map_err(|e| {
                FunctionError::new(FailureType::DependencyFailed, format!("{key} is unreadable: {e}"))
            }),
            Err(e) if e.kind == lifeboat::ports::FailureKind::NotFound => Ok(None),
            Err(e) => Err(FunctionError::new(
                FailureType::DependencyFailed,
                format!("reading {key}: {e}"),
            )),
        }
    }

    pub(crate) async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<(), FunctionError> {
        let body = serde_json::to_vec(value).expect("records serialize");
        (self.reports.put(key, body, "application/json").await)
            .map_err(|e| FunctionError::new(FailureType::DependencyFailed, format!("writing {key}: {e}")))
    }
}

/// `run` as an audit of one instance: where its report goes.
fn instance_run(run: &AuditRun, instance: &str) -> AuditRun {
    AuditRun {
        instance: Some(instance.to_string()),
        ..run.clone()
    }
}

/// The link from the day's page under `page_prefix` to the run's copy of `instance`'s page
/// (which a dry run writes too), relative so the pages open from a download as well.
fn instance_href(run: &AuditRun, page_prefix: &str, instance: &str) -> String {
    let day = prefixes(&AuditRun {
        instance: None,
        dry_run: false,
        ..run.clone()
    })
    .0;
    let day = day
        .rsplit_once("/runs/")
        .map_or(day.as_str(), |(d, _)| d)
        .to_string();
    let target = format!("{}/report.html", prefixes(&instance_run(run, instance)).0);
    let up = page_prefix
        .strip_prefix(&day)
        .map_or(0, |rest| rest.split('/').filter(|s| !s.is_empty()).count());
    format!(
        "{}{}",
        "../".repeat(up),
        target.strip_prefix(&format!("{day}/")).unwrap_or(&target)
    )
}

fn plan_key(run: &AuditRun) -> String {
    format!("{}/plan.json", prefixes(run).0)
}

fn shard_key(run: &AuditRun, index: usize) -> String {
    format!("{}/shards/shard-{index:05}.json", prefixes(run).0)
}

fn summary_key(shard: &str) -> String {
    format!("{}.summary.json", shard.trim_end_matches(".json"))
}

/// Instances in order, grouped so that no group passes `size` resources unless one
/// instance alone does.
fn group<T>(instances: BTreeMap<String, Vec<T>>, size: usize) -> Vec<Vec<(String, Vec<T>)>> {
    let mut groups: Vec<Vec<(String, Vec<T>)>> = Vec::new();
    let mut filled = 0;
    for (instance, resources) in instances {
        let n = resources.len();
        match groups.last_mut() {
            Some(last) if filled + n <= size.max(1) => {
                last.push((instance, resources));
                filled += n;
            }
            _ => {
                groups.push(vec![(instance, resources)]);
                filled = n;
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(dry_run: bool) -> AuditRun {
        AuditRun {
            at: "2026-12-03T06:45:00Z".parse().unwrap(),
            event_id: "e-1".into(),
            instance: None,
            dry_run,
            sweep_all: false,
        }
    }

    #[test]
    fn instances_are_grouped_whole_within_the_shard_size() {
        let fleet = BTreeMap::from([
            ("a".to_string(), vec![1, 2]),
            ("b".to_string(), vec![3]),
            ("c".to_string(), vec![4, 5, 6, 7]),
            ("d".to_string(), vec![8]),
        ]);
        let names: Vec<Vec<String>> = group(fleet, 3)
            .into_iter()
            .map(|g| g.into_iter().map(|(i, _)| i).collect())
            .collect();
        assert_eq!(names, [vec!["a", "b"], vec!["c"], vec!["d"]]);
    }

    #[test]
    fn the_day_s_page_links_each_instance_s_page_relative_to_where_it_is() {
        let real = run(false);
        let (run_prefix, latest) = prefixes(&real);
        assert_eq!(
            instance_href(&real, &latest.unwrap(), "acme"),
            "instances/acme/runs/064500/report.html"
        );
        assert_eq!(
            instance_href(&real, &run_prefix, "acme"),
            "../../instances/acme/runs/064500/report.html"
        );
        let dry = run(true);
        assert_eq!(
            instance_href(&dry, &prefixes(&dry).0, "acme"),
            "../../instances/acme/runs/064500-dry-run/report.html"
        );
    }
}
