//! snapshot-creator: on each hourly tick, makes sure every managed resource has its point for
//! the tick's slot, and that its point-in-time recovery window matches its policy.
//!
//! Idempotent per tick: the slot is claimed in the catalog before the service is asked, so a
//! retried or repeated tick finds the claim and looks for what the first try made instead of
//! making a second one. One resource's failure does not stop the others; the invocation then
//! fails with `ResourcesFailed` (or `QuotaExceeded`) so the schedule's retry and alarms see it.
//! A weekly or monthly point it could not take is not lost: its tiers are handed on to the
//! next slot, whose tick takes them late on its own point; what a failed tick left owed is
//! found by the next tick that reaches the resource, in one read of the catalog's owing index
//! a tick (see [`late`]).

mod fanout;
mod late;
mod pitr;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::event::{parse_tick, ClockGuard, Tick};
use lifeboat::fanout::{staged, Stage};
use lifeboat::inventory::{managed, DiscoveredResource, ManagedResource};
use lifeboat::policy::{PolicyBook, Tier};
use lifeboat::ports::{BackupService, Catalog, Claim, NewPoint, ObjectStore, PortError, StateChange};
use lifeboat::quota::{self, Candidate};
use lifeboat::schedule::late::{self as late_slots, Debt};
use lifeboat::schedule::{Slot, TierSet};
use lifeboat_function::config::Fanout;
use lifeboat_function::failure::{FailureType, FunctionError};
use serde::Serialize;
use serde_json::Value;

pub use pitr::PitrCheck;

/// How many resources are worked on at once: enough that one throttled resource's backoff
/// does not hold up the rest, few enough to stay well inside the services' rate limits.
pub(crate) const CONCURRENCY: usize = 8;

/// How far back a resource's points count as recent when a short quota ranks resources.
const RECENT: chrono::TimeDelta = chrono::TimeDelta::hours(72);

/// The oldest tick the creator acts on: the schedule's and Lambda's retries give up within
/// 25 minutes; a snapshot taken later than this would not hold its slot's data.
pub const MAX_TICK_AGE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// What the creator needs; `main` wires the AWS adapters, tests wire memory ports.
pub struct Creator {
    pub catalog: Arc<dyn Catalog>,
    pub services: Vec<Arc<dyn BackupService>>,
    pub policies: PolicyBook,
    /// Lifts the future-event guard (local stack and tests only).
    pub simulation: bool,
    /// Where a fanned-out tick's shards are kept (the reports bucket); `None` where ticks
    /// only run whole.
    pub shards: Option<Arc<dyn ObjectStore>>,
    pub fanout: Fanout,
}

/// What happened to one resource's point this tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PointOutcome {
    /// Asked the service for the point.
    Created,
    /// The catalog already had the point for this slot.
    AlreadyPresent,
    /// A previous try claimed the slot; the point was found at the service.
    FoundAfterRetry,
    /// This slot is none of the policy's tiers.
    NotASlot,
    /// The slot's only tier is hourly, and the instance's continuous backup window serves it
    /// (`hourly.source: point_in_time`): no snapshot is taken.
    ServedByWindow,
    /// Not attempted: the service's snapshot quota could not hold every point of the tick,
    /// and the points that fit went to resources that needed them more.
    RefusedByQuota,
    Failed,
}

impl PointOutcome {
    /// Its name, as reports write it (`created`, `refused_by_quota`, ...).
    pub fn name(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ResourceReport {
    pub resource: String,
    pub instance_id: String,
    pub tiers: Vec<&'static str>,
    /// The weekly and monthly tiers the point takes late (or tried to, when it failed), each
    /// with the slot it stands for (whose own point could not be taken).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub late: BTreeMap<Tier, Slot>,
    pub point: PointOutcome,
    pub pitr: PitrCheck,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

/// The answer of a successful tick (and the log line of a failed one).
#[derive(Debug, Clone, Serialize)]
pub struct TickSummary {
    pub slot: String,
    pub event_id: String,
    pub resources: Vec<ResourceReport>,
    /// Failures not tied to one managed resource (a discovery call, a bad tag).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl Creator {
    /// Handles one invocation: a whole tick (a Scheduled Event), or one stage of a
    /// fanned-out tick (see [`lifeboat::fanout`]). `wall_clock` is the real time, used only
    /// to refuse ticks from the future or too old to be this hour's (unless simulating).
    pub async fn invoke(&self, payload: Value, wall_clock: DateTime<Utc>) -> Result<Value, FunctionError> {
        let staged = staged(&payload)?;
        let tick = self.tick(&staged.event, wall_clock)?;
        let answer = match staged.stage {
            Stage::Whole => serde_json::to_value(self.run(&tick).await?),
            Stage::Plan => serde_json::to_value(self.plan_shards(&tick).await?),
            Stage::Shard { key } => serde_json::to_value(self.run_shard(&tick, &key).await?),
            Stage::Finish { plan, results } => return fanout::finish(&tick, &plan, &results),
        };
        Ok(answer.expect("answers serialize"))
    }

    /// A whole tick.
    pub async fn handle(
        &self,
        event: Value,
        wall_clock: DateTime<Utc>,
    ) -> Result<TickSummary, FunctionError> {
        let tick = self.tick(&event, wall_clock)?;
        self.run(&tick).await
    }

    fn tick(&self, event: &Value, wall_clock: DateTime<Utc>) -> Result<Tick, FunctionError> {
        let guard = ClockGuard {
            now: wall_clock,
            max_age: Some(MAX_TICK_AGE),
        };
        let tick = parse_tick(event, (!self.simulation).then_some(guard))?;
        tracing::info!(slot = %tick.slot, event_id = %tick.event_id, "snapshot tick");
        Ok(tick)
    }

    async fn run(&self, tick: &Tick) -> Result<TickSummary, FunctionError> {
        let mut failures = Vec::new();
        let resources = self
            .inventory(&mut failures)
            .await
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        let owing = self.owing(tick, &mut failures).await;
        let planned = self.plan(tick, resources, &owing).await?;
        let refused = self.over_quota(tick, &planned, &mut failures).await;
        let summary = TickSummary {
            slot: tick.slot.to_string(),
            event_id: tick.event_id.clone(),
            resources: self.handle_planned(tick, planned, &refused).await,
            failures,
        };
        finish(summary)
    }

    /// Handles each planned resource; `refused` are those the quota admitted no point for.
    async fn handle_planned(
        &self,
        tick: &Tick,
        planned: Vec<Planned>,
        refused: &[ResourceKey],
    ) -> Vec<ResourceReport> {
        let mut reports: Vec<ResourceReport> = stream::iter(planned)
            .map(|p| {
                let quota_refused = refused.contains(&p.resource.key);
                self.handle_resource(tick, p, quota_refused)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        reports.sort_by(|a, b| a.resource.cmp(&b.resource));
        reports
    }

    /// Every managed resource of every service, as discovered and as managed; failures are
    /// collected, not fatal.
    async fn inventory(&self, failures: &mut Vec<String>) -> Vec<(DiscoveredResource, ManagedResource)> {
        let mut resources = Vec::new();
        for service in &self.services {
            match service.discover().await {
                Ok(found) => {
                    for f in found {
                        match managed(&f, &self.policies) {
                            Ok(Some(m)) => resources.push((f, m)),
                            Ok(None) => {}
                            Err(e) => failures.push(e.to_string()),
                        }
                    }
                }
                Err(e) => failures.push(format!("discovery: {e}")),
            }
        }
        resources
    }

    /// Each resource with its tiers for the slot (its own, and those it owes late) and its
    /// catalog record, if any. One read of the slot's records, with the slot before's for
    /// the resources whose weekly or monthly slot that was (see [`late_slots`]); `owing`
    /// are the records of earlier slots that may owe a tier ([`Creator::owing`]).
    async fn plan(
        &self,
        tick: &Tick,
        resources: Vec<ManagedResource>,
        owing: &[RecoveryPoint],
    ) -> Result<Vec<Planned>, FunctionError> {
        let keys: Vec<_> = resources
            .iter()
            .flat_map(|r| {
                let before = late_slots::reads_slot_before(&r.policy, r.timezone, tick.slot)
                    .then(|| (r.key.clone(), tick.slot.prev()));
                std::iter::once((r.key.clone(), tick.slot)).chain(before)
            })
            .collect();
        let existing = self.catalog.get_points(&keys).await.map_err(|e| {
            FunctionError::new(FailureType::DependencyFailed, format!("reading the catalog: {e}"))
        })?;
        let mut by_resource: HashMap<&ResourceKey, Vec<RecoveryPoint>> = HashMap::new();
        let mut owing_of: HashMap<&ResourceKey, Vec<RecoveryPoint>> = HashMap::new();
        for record in &existing {
            by_resource
                .entry(&record.resource)
                .or_default()
                .push(record.clone());
        }
        for record in owing.iter().filter(|r| r.slot < tick.slot) {
            by_resource
                .entry(&record.resource)
                .or_default()
                .push(record.clone());
            owing_of.entry(&record.resource).or_default().push(record.clone());
        }
        Ok(resources
            .into_iter()
            .map(|resource| {
                let records = by_resource.get(&resource.key).map_or(&[][..], Vec::as_slice);
                let owing = owing_of.remove(&resource.key).unwrap_or_default();
                // A record handed on (`due`) is no point: the slot is still to be claimed.
                let record = records
                    .iter()
                    .find(|p| p.slot == tick.slot && p.state != PointState::Due)
                    .cloned();
                let debt = match record {
                    Some(_) => Debt::new(),
                    None => late_slots::owed(&resource.policy, resource.timezone, tick.slot, records),
                };
                let mut tiers = resource.point_tiers(tick.slot);
                tiers
                    .0
                    .extend(late_slots::late_tiers(&resource.policy, &debt, tick.slot).0);
                Planned {
                    resource,
                    tiers,
                    record,
                    debt,
                    owing,
                }
            })
            .collect())
    }

    /// The resources whose new points a service's quota cannot hold. When a quota is short,
    /// the points that fit are still made, in order of value (see [`lifeboat::quota`]); the
    /// rest are refused and reported, and the invocation fails so the alarm fires.
    async fn over_quota(
        &self,
        tick: &Tick,
        planned: &[Planned],
        failures: &mut Vec<String>,
    ) -> Vec<ResourceKey> {
        let mut refused = Vec::new();
        for service in &self.services {
            let needing: Vec<&Planned> = planned
                .iter()
                .filter(|p| p.resource.key.kind == service.kind() && p.may_create())
                .collect();
            let needed = needing.len() as u64;
            if needed == 0 {
                continue;
            }
            let q = match service.snapshot_quota().await {
                Ok(Some(q)) if q.used + needed > q.max => q,
                Ok(_) => continue,
                // Not knowing the quota is no reason to skip a backup: the create calls
                // themselves will still be refused by the service if it is really exhausted.
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the snapshot quota");
                    continue;
                }
            };
            let candidates = self.candidates(tick, &needing).await;
            let admission = quota::admit(candidates, q.max.saturating_sub(q.used));
            let skipped: Vec<String> = admission.skipped.iter().map(|c| c.resource.to_string()).collect();
            failures.push(format!(
                "quota {}: {} used of {}, this tick needs {needed} more: took {} ({} monthly, {} weekly, \
                 {} hourly), skipped {}: {}. Raise the quota or lower the fleet's retention.",
                q.name,
                q.used,
                q.max,
                admission.admitted.len(),
                admission.admitted_of(Tier::Monthly),
                admission.admitted_of(Tier::Weekly),
                admission.admitted_of(Tier::Hourly),
                skipped.len(),
                skipped.join(", "),
            ));
            refused.extend(admission.skipped.into_iter().map(|c| c.resource));
        }
        refused
    }

    /// The resources needing a point, with what ranks them when not all fit: the point's
    /// longest tier and the resource's present points of the last three days (read only when
    /// a quota is short; unreadable counts as none, so the doubt favours a point).
    async fn candidates(&self, tick: &Tick, needing: &[&Planned]) -> Vec<Candidate> {
        let since = tick.slot.start() - RECENT;
        stream::iter(needing)
            .map(|p| async move {
                let recent_points = match self.catalog.present_points_of(&p.resource.key).await {
                    Ok(points) => points.iter().filter(|r| r.slot.start() >= since).count(),
                    Err(e) => {
                        tracing::warn!(resource = %p.resource.key, error = %e, "could not count recent points");
                        0
                    }
                };
                Candidate {
                    resource: p.resource.key.clone(),
                    tier: p.tiers.0.keys().max().copied().unwrap_or(Tier::Hourly),
                    recent_points,
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await
    }

    async fn handle_resource(
        &self,
        tick: &Tick,
        mut planned: Planned,
        quota_refused: bool,
    ) -> ResourceReport {
        let service = self
            .services
            .iter()
            .find(|s| s.kind() == planned.resource.key.kind)
            .expect("resources come from the services")
            .as_ref();
        let mut errors = Vec::new();
        late::settle(service, self.catalog.as_ref(), tick, &mut planned).await;
        if planned.record.is_none() && planned.debt.is_empty() {
            self.discharge(
                &mut planned,
                "nothing it owed is owed any more: a point serves it, or its period ended",
            )
            .await;
        }
        if let Err(e) = self.reserve(tick, &planned).await {
            errors.push(format!("reserving its next weekly or monthly slot: {e}"));
        }
        let point = if planned.tiers.is_empty() && planned.resource.hourly_from_window() {
            PointOutcome::ServedByWindow
        } else if planned.tiers.is_empty() {
            PointOutcome::NotASlot
        } else if quota_refused && planned.may_create() {
            PointOutcome::RefusedByQuota
        } else {
            match self.ensure_point(service, tick, &mut planned).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    errors.push(format!("creating the point: {e}"));
                    PointOutcome::Failed
                }
            }
        };
        if matches!(point, PointOutcome::Failed | PointOutcome::RefusedByQuota) {
            let why = errors.first().map_or("refused by the quota", String::as_str);
            if let Err(e) = self.hand_on(tick, &mut planned, why).await {
                errors.push(format!("handing its weekly and monthly tiers on: {e}"));
            }
        }
        let pitr = match pitr::check(service, &planned.resource).await {
            Ok(check) => check,
            Err(e) => {
                errors.push(format!("point-in-time check: {e}"));
                PitrCheck::Unknown
            }
        };
        let report = ResourceReport {
            resource: planned.resource.key.to_string(),
            instance_id: planned.resource.instance_id.clone(),
            tiers: planned.tiers.names(),
            late: planned.debt.iter().map(|(t, o)| (*t, o.missed)).collect(),
            point,
            pitr,
            errors,
        };
        tracing::info!(resource = %report.resource, point = ?report.point, pitr = ?report.pitr, errors = ?report.errors, "resource handled");
        report
    }

    async fn ensure_point(
        &self,
        service: &dyn BackupService,
        tick: &Tick,
        planned: &mut Planned,
    ) -> Result<PointOutcome, PortError> {
        let record = match &planned.record {
            Some(record) => record.clone(),
            None => {
                let intent = RecoveryPoint {
                    note: late::note(&planned.debt),
                    ..intent(tick, &planned.resource, &planned.tiers)
                };
                match self.catalog.claim(&intent).await? {
                    Claim::Claimed => {
                        // The claim now carries what earlier records owed (it owes it until
                        // the service answers).
                        let why = format!("the point of {} takes on what it owed", tick.slot);
                        self.discharge(planned, &why).await;
                        let created = service.create_point(&new_point(&intent)).await?;
                        self.record(tick, &created).await;
                        return Ok(PointOutcome::Created);
                    }
                    Claim::Exists(record) => *record,
                }
            }
        };
        let resource = &planned.resource;
        if record.service_id.is_some() || !record.state.is_present() {
            return Ok(PointOutcome::AlreadyPresent);
        }
        // Claimed by an earlier try that may have stopped before or after asking the service.
        let (found, outcome) = match service.find_point(&resource.key, tick.slot).await? {
            Some(found) => (found, PointOutcome::FoundAfterRetry),
            None => (
                service.create_point(&new_point(&record)).await?,
                PointOutcome::Created,
            ),
        };
        // Recorded now, so that later retries of this tick need not look again.
        let change = StateChange {
            state: found.state,
            service_id: Some(found.service_id),
            note: None,
            at: tick.time,
        };
        self.catalog
            .update_state(&resource.key, tick.slot, &change)
            .await?;
        Ok(outcome)
    }
}

impl Creator {
    /// Records the service's answer (its id and state) on the claim, so the pruner confirms
    /// the point by id. Not recorded, the claim is still found by name: only logged.
    async fn record(&self, tick: &Tick, created: &lifeboat::ports::ServicePoint) {
        let change = StateChange {
            state: created.state,
            service_id: Some(created.service_id.clone()),
            note: None,
            at: tick.time,
        };
        if let Err(e) = self
            .catalog
            .update_state(&created.resource, created.slot, &change)
            .await
        {
            tracing::warn!(resource = %created.resource, slot = %created.slot, error = %e, "the point's id was not recorded; it is found by name");
        }
    }
}

struct Planned {
    resource: ManagedResource,
    /// The point's tiers: the slot's own and those it owes late.
    tiers: TierSet,
    record: Option<RecoveryPoint>,
    /// The weekly and monthly tiers it owes late (see [`late_slots::owed`]).
    debt: Debt,
    /// The resource's records of earlier slots that may owe a tier (from the owing index),
    /// until they are discharged.
    owing: Vec<RecoveryPoint>,
}

impl Planned {
    /// Whether handling it may ask the service for a point, so takes a place in the quota:
    /// no record yet, or an earlier try's claim with no point recorded (that try may have
    /// stopped before asking the service, and this one then asks).
    fn may_create(&self) -> bool {
        !self.tiers.is_empty()
            && self
                .record
                .as_ref()
                .is_none_or(|r| r.service_id.is_none() && r.state.is_present())
    }
}

/// The catalog record written before the service is asked: state `creating`, no service id.
fn intent(tick: &Tick, resource: &ManagedResource, tiers: &TierSet) -> RecoveryPoint {
    RecoveryPoint {
        resource: resource.key.clone(),
        instance_id: resource.instance_id.clone(),
        slot: tick.slot,
        tiers: tiers.clone(),
        service_id: None,
        state: PointState::Creating,
        holds: Default::default(),
        policy: resource.policy.name.clone(),
        timezone: resource.timezone.name().to_string(),
        note: None,
        updated_at: tick.time,
    }
}

fn new_point(record: &RecoveryPoint) -> NewPoint {
    NewPoint {
        resource: record.resource.clone(),
        instance_id: record.instance_id.clone(),
        slot: record.slot,
        tiers: record.tiers.clone(),
        policy: record.policy.clone(),
        timezone: record.timezone.clone(),
    }
}

/// Turns the summary into the invocation's result: an error when anything failed.
fn finish(summary: TickSummary) -> Result<TickSummary, FunctionError> {
    let mut problems: Vec<String> = summary.failures.clone();
    for r in &summary.resources {
        problems.extend(r.errors.iter().map(|e| format!("{}: {e}", r.resource)));
    }
    let quota = summary
        .resources
        .iter()
        .any(|r| r.point == PointOutcome::RefusedByQuota);
    if problems.is_empty() {
        tracing::info!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "tick done");
        return Ok(summary);
    }
    tracing::error!(summary = %serde_json::to_string(&summary).unwrap_or_default(), "tick done with failures");
    Err(tick_failed(&summary.slot, quota, &problems))
}

/// A tick's failure, whole or fanned out: `QuotaExceeded` when the quota was short (the
/// alarm names the cause), else `ResourcesFailed`, with every problem.
pub(crate) fn tick_failed(slot: &str, quota_short: bool, problems: &[String]) -> FunctionError {
    let kind = if quota_short {
        FailureType::QuotaExceeded
    } else {
        FailureType::ResourcesFailed
    };
    let message = format!(
        "slot {slot}: {} problem(s): {}",
        problems.len(),
        problems.join("; ")
    );
    FunctionError::new(kind, message)
}
