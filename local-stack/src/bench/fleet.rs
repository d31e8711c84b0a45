//! `bench fleet`: one hour of a fleet's scheduled work (the creator's tick at :00, the
//! pruner's at :30) through the real fan-out (plan, shards at the configured concurrency,
//! finish) and the real creator and pruner code, against emulated services that answer with
//! AWS's rate limits and realistic latencies, on a simulated clock.
//!
//! What the emulation models (moto cannot hold 20,000 instances at speed):
//! - AWS's token buckets per account, the local stack's edge's own (`edge::rate_limit`): RDS
//!   12 calls a second (bursts of 300) for every operation together; DynamoDB `ListBackups` 5
//!   a second, `CreateBackup` 50; other calls unmetered. A call finding its bucket empty is throttled and retried as the SDK does
//!   (exponential backoff with jitter, 5 tries); a call still refused then fails.
//! - Latency: 150 ms for RDS calls, 50 ms for DynamoDB control-plane calls, 200 ms for a
//!   listing page; an RDS snapshot is `creating` for 10 minutes, a DynamoDB backup for 1.
//! - Each shard is one Lambda instance with its own pacing (the functions' defaults: RDS 8
//!   calls a second, `ListBackups` 3, `CreateBackup` 30, divided among the shards at once).
//! - Not modelled: the catalog's latency (DynamoDB's data plane, on-demand, is not the
//!   bottleneck; it is the in-memory catalog here), Lambda cold starts, Step Functions'
//!   own latency per state (tens of milliseconds), the SDK's adaptive client-side limiter.
//!
//! The clock is tokio's, paused: it moves only when every task waits, so an hour of
//! emulated waiting takes the CPU time of the code alone.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::fanout::{Plan, ShardResult};
use lifeboat::inventory::{DiscoveredResource, PitrStatus, TAG_INSTANCE, TAG_TIMEZONE};
use lifeboat::policy::{Policy, PolicyBook};
use lifeboat::ports::memory::{MemoryCatalog, MemoryReports};
use lifeboat::ports::{
    BackupService, Catalog, Deletion, FailureKind, NewPoint, ObjectStore, PortError, Quota, ServicePoint,
};
use lifeboat::request::options::RestorableWindow;
use lifeboat::schedule::{tiers_of, Slot};
use lifeboat::zone::Zone;
use lifeboat_function::config::Fanout;
use lifeboat_function::pacing::{self, Budget};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::edge::aws_call::AwsCall;
use crate::edge::rate_limit::RateLimits;

/// The fleet sizes measured.
pub const SIZES: [usize; 3] = [1_000, 5_000, 20_000];
const ZONES: [&str; 4] = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Tokyo"];
/// The SDK's tries of one call.
const TRIES: u32 = 5;

/// A call: its service (as SigV4 names it) and operation.
pub(super) type Op = (&'static str, &'static str);

/// What the account saw.
#[derive(Default)]
pub(super) struct Counters {
    calls: AtomicU64,
    throttled: AtomicU64,
    failed: AtomicU64,
}

/// The emulated account: the edge's token buckets with AWS's limits (the same
/// [`RateLimits`] the local stack meters with), counters, and a seeded jitter (runs are
/// repeatable).
pub(super) struct Account {
    limits: RateLimits,
    counters: Counters,
    jitter: Mutex<u64>,
}

impl Account {
    pub(super) fn new() -> Account {
        Account {
            limits: RateLimits::default(),
            counters: Counters::default(),
            jitter: Mutex::new(0x9e37_79b9_7f4a_7c15),
        }
    }

    /// Whether the account's budget admits the call now, on the simulated clock.
    fn admitted(&self, (service, operation): Op) -> bool {
        let call = AwsCall {
            caller: "bench".into(),
            service: service.into(),
            operation: operation.into(),
            target: String::new(),
        };
        self.limits.admit_at(&call, Instant::now().into_std())
    }

    /// A fraction in [0, 1), from a xorshift generator.
    fn jitter(&self) -> f64 {
        let mut x = self.jitter.lock().expect("jitter");
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        (*x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One call as the SDK makes it: tries until admitted (backing off between tries), then
    /// waits the call's latency.
    pub(super) async fn call(&self, op: Op, latency: Duration) -> Result<(), PortError> {
        for attempt in 0..TRIES {
            self.counters.calls.fetch_add(1, Ordering::Relaxed);
            if self.admitted(op) {
                tokio::time::sleep(latency).await;
                return Ok(());
            }
            self.counters.throttled.fetch_add(1, Ordering::Relaxed);
            let cap = (2f64.powi(attempt as i32)).min(20.0);
            tokio::time::sleep(Duration::from_secs_f64(cap * self.jitter())).await;
        }
        self.counters.failed.fetch_add(1, Ordering::Relaxed);
        Err(PortError::new(op.1, "*", FailureKind::Throttled, "Rate exceeded"))
    }
}

/// One emulated service: its resources and their points.
pub(super) struct Service {
    kind: ResourceKind,
    account: Arc<Account>,
    resources: Vec<DiscoveredResource>,
    points: Mutex<BTreeMap<ResourceKey, Vec<(ServicePoint, Instant)>>>,
    next_id: AtomicU64,
    /// The simulated wall clock: `epoch` at `started`.
    epoch: DateTime<Utc>,
    started: Instant,
}

impl Service {
    /// The snapshots the service holds of `resource`, by id (what `DescribeDBSnapshots`
    /// lists).
    pub(super) fn snapshot_ids(&self, resource: &ResourceKey) -> Vec<String> {
        let points = self.points.lock().expect("points");
        points.get(resource).map_or_else(Vec::new, |ps| {
            ps.iter().map(|(p, _)| p.service_id.clone()).collect()
        })
    }

    /// Every snapshot the service holds, with the resource it is of.
    pub(super) fn all_snapshot_ids(&self) -> Vec<(ResourceKey, String)> {
        let points = self.points.lock().expect("points");
        (points.iter())
            .flat_map(|(key, ps)| ps.iter().map(move |(p, _)| (key.clone(), p.service_id.clone())))
            .collect()
    }

    /// The operation this service's call is: RDS's, or DynamoDB's (`dynamodb` unless named
    /// with its service, as the Tagging API's).
    fn op(&self, rds: &'static str, dynamodb: Op) -> Op {
        match self.kind {
            ResourceKind::RdsInstance => ("rds", rds),
            ResourceKind::DynamoTable => dynamodb,
        }
    }

    fn latency(&self) -> Duration {
        match self.kind {
            ResourceKind::RdsInstance => Duration::from_millis(150),
            ResourceKind::DynamoTable => Duration::from_millis(50),
        }
    }

    fn creation_time(&self) -> Duration {
        match self.kind {
            ResourceKind::RdsInstance => Duration::from_secs(600),
            ResourceKind::DynamoTable => Duration::from_secs(60),
        }
    }

    /// A point as the service reports it now (available once its creation time passed).
    fn seen(&self, (point, ready): &(ServicePoint, Instant)) -> ServicePoint {
        let state = if Instant::now() >= *ready {
            PointState::Available
        } else {
            PointState::Creating
        };
        ServicePoint {
            state,
            ..point.clone()
        }
    }

    async fn list(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError> {
        let op = self.op("DescribeDBSnapshots", ("dynamodb", "ListBackups"));
        self.account.call(op, Duration::from_millis(200)).await?;
        let points = self.points.lock().expect("points");
        Ok(points
            .get(resource)
            .map_or_else(Vec::new, |ps| ps.iter().map(|p| self.seen(p)).collect()))
    }
}

#[async_trait]
impl BackupService for Service {
    fn kind(&self) -> ResourceKind {
        self.kind
    }

    async fn discover(&self) -> Result<Vec<DiscoveredResource>, PortError> {
        // One page a hundred resources (DescribeDBInstances, the Tagging API's GetResources).
        for _ in 0..self.resources.len().div_ceil(100) {
            let op = self.op("DescribeDBInstances", ("tagging", "GetResources"));
            self.account.call(op, Duration::from_millis(200)).await?;
        }
        Ok(self.resources.clone())
    }

    async fn discover_instance(&self, instance_id: &str) -> Result<Vec<DiscoveredResource>, PortError> {
        self.account
            .call(("tagging", "GetResources"), self.latency())
            .await?;
        Ok(self
            .resources
            .iter()
            .filter(|r| r.tags.get(TAG_INSTANCE).map(String::as_str) == Some(instance_id))
            .cloned()
            .collect())
    }

    async fn pitr_status(&self, _resource: &ResourceKey) -> Result<PitrStatus, PortError> {
        let op = self.op("DescribeDBInstances", ("dynamodb", "DescribeContinuousBackups"));
        self.account.call(op, self.latency()).await?;
        Ok(PITR)
    }

    async fn raise_pitr_window(&self, _resource: &ResourceKey, _days: u8) -> Result<(), PortError> {
        let op = self.op("ModifyDBInstance", ("dynamodb", "UpdateContinuousBackups"));
        self.account.call(op, self.latency()).await
    }

    async fn restorable_window(
        &self,
        _resource: &ResourceKey,
    ) -> Result<Option<RestorableWindow>, PortError> {
        let op = self.op(
            "DescribeDBInstanceAutomatedBackups",
            ("dynamodb", "DescribeContinuousBackups"),
        );
        self.account.call(op, self.latency()).await?;
        let now = self.epoch + Instant::now().duration_since(self.started);
        Ok(Some(RestorableWindow {
            earliest: now - TimeDelta::days(3),
            latest: now - TimeDelta::minutes(5),
        }))
    }

    async fn snapshot_quota(&self) -> Result<Option<Quota>, PortError> {
        // DynamoDB has no count quota; its adapter asks nothing.
        if self.kind == ResourceKind::DynamoTable {
            return Ok(None);
        }
        self.account
            .call(("rds", "DescribeAccountAttributes"), self.latency())
            .await?;
        // Raised as the README's sizing says: 90 per instance.
        Ok(Some(Quota {
            name: "ManualSnapshots".into(),
            used: 0,
            max: 90 * self.resources.len() as u64 + 100,
        }))
    }

    async fn points(&self) -> Result<Vec<ServicePoint>, PortError> {
        Err(PortError::new(
            "points",
            "*",
            FailureKind::Refused,
            "never listed whole in a tick",
        ))
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<ServicePoint>, PortError> {
        self.list(resource).await
    }

    async fn find_point(
        &self,
        resource: &ResourceKey,
        slot: Slot,
    ) -> Result<Option<ServicePoint>, PortError> {
        Ok(self.list(resource).await?.into_iter().find(|p| p.slot == slot))
    }

    async fn describe_point(
        &self,
        resource: &ResourceKey,
        service_id: &str,
    ) -> Result<Option<ServicePoint>, PortError> {
        let op = self.op("DescribeDBSnapshots", ("dynamodb", "DescribeBackup"));
        self.account.call(op, self.latency()).await?;
        let points = self.points.lock().expect("points");
        Ok(points
            .get(resource)
            .and_then(|ps| ps.iter().find(|(p, _)| p.service_id == service_id))
            .map(|p| self.seen(p)))
    }

    /// RDS: one `DescribeDBSnapshots` filtered by up to 50 ids; DynamoDB: one
    /// `DescribeBackup` each.
    async fn describe_points(&self, ids: &[(ResourceKey, String)]) -> Result<Vec<ServicePoint>, PortError> {
        if self.kind == ResourceKind::RdsInstance {
            self.account
                .call(("rds", "DescribeDBSnapshots"), Duration::from_millis(200))
                .await?;
        } else {
            for _ in ids {
                self.account
                    .call(("dynamodb", "DescribeBackup"), self.latency())
                    .await?;
            }
        }
        let points = self.points.lock().expect("points");
        Ok(ids
            .iter()
            .filter_map(|(resource, id)| {
                let held = points.get(resource)?;
                held.iter()
                    .find(|(p, _)| &p.service_id == id)
                    .map(|p| self.seen(p))
            })
            .collect())
    }

    async fn create_point(&self, point: &NewPoint) -> Result<ServicePoint, PortError> {
        let op = self.op("CreateDBSnapshot", ("dynamodb", "CreateBackup"));
        self.account.call(op, self.latency()).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let created = ServicePoint {
            resource: point.resource.clone(),
            slot: point.slot,
            service_id: format!("{}-{id}", point.resource.point_name(point.slot)),
            state: PointState::Creating,
            tags: BTreeMap::new(),
        };
        let ready = Instant::now() + self.creation_time();
        self.points
            .lock()
            .expect("points")
            .entry(point.resource.clone())
            .or_default()
            .push((created.clone(), ready));
        Ok(created)
    }

    async fn delete_point(&self, resource: &ResourceKey, service_id: &str) -> Result<Deletion, PortError> {
        let op = self.op("DeleteDBSnapshot", ("dynamodb", "DeleteBackup"));
        self.account.call(op, self.latency()).await?;
        let mut points = self.points.lock().expect("points");
        let held = points.entry(resource.clone()).or_default();
        let before = held.len();
        held.retain(|(p, _)| p.service_id != service_id);
        Ok(if held.len() < before {
            Deletion::Deleted
        } else {
            Deletion::AlreadyGone
        })
    }
}

const PITR: PitrStatus = PitrStatus {
    enabled: true,
    window_days: Some(3),
};

/// A fleet of `size` resources (half RDS, half DynamoDB, zones in turn) in steady state at
/// `slot`: each with its hourly points of the last 72 hours, catalogued and held.
pub(super) fn fleet(
    size: usize,
    slot: Slot,
    account: &Arc<Account>,
    catalog: &MemoryCatalog,
) -> Vec<Arc<Service>> {
    let policy = Policy::standard();
    [ResourceKind::RdsInstance, ResourceKind::DynamoTable]
        .into_iter()
        .map(|kind| {
            let resources: Vec<DiscoveredResource> = (0..size / 2)
                .map(|i| {
                    let name = format!("customer-{i:05}");
                    let key = match kind {
                        ResourceKind::RdsInstance => ResourceKey::rds(&name),
                        ResourceKind::DynamoTable => ResourceKey::dynamodb(&name),
                    };
                    DiscoveredResource {
                        key,
                        tags: BTreeMap::from([
                            (TAG_INSTANCE.to_string(), name),
                            (TAG_TIMEZONE.to_string(), ZONES[i % ZONES.len()].to_string()),
                        ]),
                        pitr: (kind == ResourceKind::RdsInstance).then_some(PITR),
                    }
                })
                .collect();
            let mut points = BTreeMap::new();
            for r in &resources {
                let zone = Zone::named(&r.tags[TAG_TIMEZONE]).expect("a known zone");
                let held: Vec<(ServicePoint, Instant)> = (1..=72)
                    .map(|h| {
                        let past = Slot::containing(slot.start() - TimeDelta::hours(h));
                        let id = r.key.point_name(past);
                        catalog.insert(RecoveryPoint {
                            resource: r.key.clone(),
                            instance_id: r.tags[TAG_INSTANCE].clone(),
                            slot: past,
                            tiers: tiers_of(&policy, zone, past),
                            service_id: Some(id.clone()),
                            state: PointState::Available,
                            holds: Default::default(),
                            policy: policy.name.clone(),
                            timezone: zone.name().to_string(),
                            note: None,
                            updated_at: past.start(),
                        });
                        let point = ServicePoint {
                            resource: r.key.clone(),
                            slot: past,
                            service_id: id,
                            state: PointState::Available,
                            tags: BTreeMap::new(),
                        };
                        (point, Instant::now())
                    })
                    .collect();
                points.insert(r.key.clone(), held);
            }
            Arc::new(Service {
                kind,
                account: account.clone(),
                resources,
                points: Mutex::new(points),
                next_id: AtomicU64::new(0),
                epoch: slot.start(),
                started: Instant::now(),
            })
        })
        .collect()
}

/// A function's invocation, as the state machine makes it (on the bench's one thread: the
/// handlers' futures need not be `Send`).
#[async_trait(?Send)]
pub(super) trait Function {
    async fn invoke(&self, payload: Value, now: DateTime<Utc>) -> Result<Value, String>;
}

#[async_trait(?Send)]
impl Function for snapshot_creator::Creator {
    async fn invoke(&self, payload: Value, now: DateTime<Utc>) -> Result<Value, String> {
        snapshot_creator::Creator::invoke(self, payload, now)
            .await
            .map_err(|e| e.to_string())
    }
}

#[async_trait(?Send)]
impl Function for retention_pruner::Pruner {
    async fn invoke(&self, payload: Value, now: DateTime<Utc>) -> Result<Value, String> {
        retention_pruner::Pruner::invoke(self, payload, now)
            .await
            .map_err(|e| e.to_string())
    }
}

/// What one fanned-out tick took.
pub(super) struct TickRun {
    pub minutes: f64,
    /// The plan's part of it.
    pub plan_minutes: f64,
    pub calls: u64,
    pub throttled: u64,
    pub failed: u64,
    pub shard_failures: usize,
    pub peak: usize,
    pub finish: Result<Value, String>,
}

/// Runs one tick as the fleet-tick state machine does: the plan, then the shards on
/// `instances` (one Lambda instance each, at most that many at once), then the finish.
pub(super) async fn fan_out(
    instances: &[Arc<dyn Function>],
    account: &Account,
    event: Value,
    now: DateTime<Utc>,
) -> TickRun {
    let (calls, throttled, failed) = (
        account.counters.calls.load(Ordering::Relaxed),
        account.counters.throttled.load(Ordering::Relaxed),
        account.counters.failed.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    let plan_answer = instances[0]
        .invoke(json!({"stage": "plan", "event": event}), now)
        .await
        .expect("the plan succeeds");
    let plan: Plan = serde_json::from_value(plan_answer.clone()).expect("a plan");
    let plan_minutes = started.elapsed().as_secs_f64() / 60.0;
    let queue = Arc::new(Mutex::new(plan.shards.iter().cloned().collect::<VecDeque<_>>()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let workers = instances.iter().take(plan.concurrency as usize).map(|instance| {
        let (queue, in_flight, peak, event) = (queue.clone(), in_flight.clone(), peak.clone(), event.clone());
        async move {
            let mut results = Vec::new();
            loop {
                let Some(key) = queue.lock().expect("queue").pop_front() else {
                    return results;
                };
                let now_running = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                peak.fetch_max(now_running, Ordering::Relaxed);
                let answer = instance
                    .invoke(json!({"stage": "shard", "event": event, "shard": key}), now)
                    .await;
                in_flight.fetch_sub(1, Ordering::Relaxed);
                results.push(match answer {
                    Ok(v) => serde_json::from_value(v).expect("a shard result"),
                    Err(e) => ShardResult {
                        shard: key,
                        failed: true,
                        error: Some(e),
                        ..ShardResult::default()
                    },
                });
            }
        }
    });
    let results: Vec<ShardResult> = futures::future::join_all(workers)
        .await
        .into_iter()
        .flatten()
        .collect();
    let shard_failures = results.iter().filter(|r| r.failed || r.failure_count > 0).count();
    let finish = instances[0]
        .invoke(
            json!({"stage": "finish", "event": event, "plan": plan_answer, "results": results}),
            now,
        )
        .await;
    TickRun {
        minutes: started.elapsed().as_secs_f64() / 60.0,
        plan_minutes,
        calls: account.counters.calls.load(Ordering::Relaxed) - calls,
        throttled: account.counters.throttled.load(Ordering::Relaxed) - throttled,
        failed: account.counters.failed.load(Ordering::Relaxed) - failed,
        shard_failures,
        peak: peak.load(Ordering::Relaxed),
        finish,
    }
}

pub(super) fn event(time: DateTime<Utc>) -> Value {
    json!({
        "version": "0", "id": format!("bench-{}", time.timestamp()), "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012", "region": "us-east-1", "resources": [],
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "detail": {}
    })
}

/// One size: the creator's tick at :00, then the pruner's at :30.
async fn hour(size: usize) -> String {
    let slot = Slot::containing("2026-11-28T12:00:00Z".parse().expect("a time"));
    let account = Arc::new(Account::new());
    let catalog = Arc::new(MemoryCatalog::default());
    let reports = Arc::new(MemoryReports::default());
    let services = fleet(size, slot, &account, &catalog);
    let fanout = Fanout::default();
    let services: Vec<Arc<dyn BackupService>> = services
        .into_iter()
        .map(|s| s as Arc<dyn BackupService>)
        .collect();
    let build_started = std::time::Instant::now();
    // One function object per Lambda instance: each paces on its own.
    let creators: Vec<Arc<dyn Function>> = (0..fanout.concurrency)
        .map(|_| {
            Arc::new(snapshot_creator::Creator {
                catalog: catalog.clone() as Arc<dyn Catalog>,
                services: pacing::paced(services.clone(), Budget::default(), fanout.concurrency),
                policies: PolicyBook::default(),
                simulation: true,
                shards: Some(reports.clone() as Arc<dyn ObjectStore>),
                fanout,
            }) as Arc<dyn Function>
        })
        .collect();
    let pruners: Vec<Arc<dyn Function>> = (0..fanout.concurrency)
        .map(|_| {
            Arc::new(retention_pruner::Pruner {
                catalog: catalog.clone() as Arc<dyn Catalog>,
                services: pacing::paced(services.clone(), Budget::default(), fanout.concurrency),
                reports: reports.clone() as Arc<dyn ObjectStore>,
                policies: PolicyBook::default(),
                simulation: true,
                max_deletions_per_resource: lifeboat_function::config::DEFAULT_MAX_DELETIONS_PER_RESOURCE,
                dry_run: false,
                fanout,
            }) as Arc<dyn Function>
        })
        .collect();
    let creation = fan_out(&creators, &account, event(slot.start()), slot.start()).await;
    // The pruner's tick is at :30; the clock moves there (or stays, if creation ran late).
    let pruning_at = slot.start() + TimeDelta::minutes(30);
    tokio::time::sleep(Duration::from_secs_f64((30.0 - creation.minutes).max(0.0) * 60.0)).await;
    let pruning = fan_out(&pruners, &account, event(pruning_at), pruning_at).await;
    let cpu = build_started.elapsed().as_secs_f64();
    let mut out = String::new();
    for (name, run) in [("creator", &creation), ("pruner", &pruning)] {
        let _ = writeln!(
            out,
            "  {size:>6} resources  {name:<8} {:>6.1} min  {:>5.2} calls/resource  {:>7} throttled  {:>3} failed calls  {:>3} failed shards  peak {} shards{}",
            run.minutes,
            run.calls as f64 / size as f64,
            run.throttled,
            run.failed,
            run.shard_failures,
            run.peak,
            match &run.finish {
                Ok(v) => format!("  {}", v.get("totals").map(Value::to_string).unwrap_or_default()),
                Err(e) => format!("  FINISH FAILED: {}", e.chars().take(200).collect::<String>()),
            }
        );
    }
    let _ = writeln!(
        out,
        "  {size:>6} resources  (the emulation's own CPU time: {cpu:.1} s)"
    );
    out
}

/// Every size, on a paused clock of its own (a thread with a current-thread runtime).
pub fn fleet_hours() -> String {
    let mut out = String::from(
        "Fleet hour (bench fleet): the creator's tick at :00, the pruner's at :30, fanned out\n\
         (shards of 50, 4 at once), paced at the default budget, against emulated RDS and DynamoDB\n\
         with AWS's rate limits and latencies (see local-stack/src/bench/fleet.rs); simulated minutes:\n",
    );
    for size in SIZES {
        out += &on_a_paused_clock(move || hour(size));
    }
    out
}

/// `run`'s figures, on a paused clock of its own: a thread with a current-thread runtime,
/// whose time moves only when every task waits.
pub(super) fn on_a_paused_clock<F, Fut>(run: F) -> String
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = String>,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
            .block_on(run())
    })
    .join()
    .expect("the bench thread")
}
