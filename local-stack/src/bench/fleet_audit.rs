//! `bench fleet-audit`: the daily audit of a fleet through its real fan-out (plan, shards at
//! the configured concurrency, finish) and the real recovery-audit code, against the same
//! emulated services, rate limits and simulated clock as `bench fleet` (see [`super::fleet`]).
//! Each shard reads its resources' catalog records, points and continuous backup windows,
//! and the sharing of the snapshots of the RDS instances whose weekly turn it is (listed 100
//! a call, then one `DescribeDBSnapshotAttributes` each, all of them private). The plan walks
//! the account's manual snapshots beside discovery, for its time or its pages, whichever
//! ends first (`recovery_audit::walk`): the figures say how far, and so in how many daily
//! runs the walk passes over the whole account.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::audit::ManualSnapshot;
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::policy::PolicyBook;
use lifeboat::ports::memory::{MemoryBucketAccess, MemoryCatalog, MemoryReports, MemoryTablePolicies};
use lifeboat::ports::{
    BackupService, Catalog, ObjectStore, PortError, SnapshotPage, SnapshotSharing, SnapshotsOf,
};
use lifeboat::schedule::Slot;
use lifeboat_function::config::Fanout;
use lifeboat_function::pacing::{self, Budget};
use serde_json::Value;

use super::fleet::{event, fan_out, fleet, on_a_paused_clock, Account, Function, Service};

/// The runs measured: fleet size, the audit's RDS calls a second, the sharing sweep's days.
const RUNS: [(usize, f64, u32); 4] = [
    (1_000, 3.0, 7),
    (20_000, 3.0, 7),
    (20_000, 3.0, 30),
    (20_000, 8.0, 7),
];
const ACCOUNT: &str = "123456789012";
/// The most snapshots one `DescribeDBSnapshots` answers.
const PAGE: usize = 100;

/// Every snapshot of the account with its source, in listing order.
type Listing = Arc<Vec<(ResourceKey, String)>>;

/// The RDS instances' snapshots' sharing, as RDS answers it: a listing call per 100
/// snapshots and a call per snapshot, through the account's budget.
struct Sharing {
    account: Arc<Account>,
    rds: Arc<Service>,
    /// The account's listing as its first page saw it: the walk's later pages go on in it.
    walked: Mutex<Option<Listing>>,
}

impl Sharing {
    fn new(account: Arc<Account>, rds: Arc<Service>) -> Sharing {
        Sharing {
            account,
            rds,
            walked: Mutex::new(None),
        }
    }

    /// Every snapshot of the account, listed afresh at a listing's first page.
    fn account_listing(&self, first: bool) -> Listing {
        let mut walked = self.walked.lock().expect("listing");
        match walked.as_ref() {
            Some(all) if !first => all.clone(),
            _ => walked.insert(Arc::new(self.rds.all_snapshot_ids())).clone(),
        }
    }
}

#[async_trait]
impl SnapshotSharing for Sharing {
    async fn manual_snapshots(
        &self,
        of: SnapshotsOf<'_>,
        marker: Option<String>,
    ) -> Result<SnapshotPage, PortError> {
        (self.account)
            .call(("rds", "DescribeDBSnapshots"), Duration::from_millis(200))
            .await?;
        let all: Arc<Vec<(ResourceKey, String)>> = match of {
            SnapshotsOf::Account => self.account_listing(marker.is_none()),
            SnapshotsOf::Instances(names) => Arc::new(
                (names.iter())
                    .flat_map(|n| {
                        let key = ResourceKey::rds(n);
                        (self.rds.snapshot_ids(&key).into_iter()).map(move |id| (key.clone(), id))
                    })
                    .collect(),
            ),
        };
        let start: usize = marker.and_then(|m| m.parse().ok()).unwrap_or(0);
        let end = (start + PAGE).min(all.len());
        Ok(SnapshotPage {
            snapshots: all[start.min(end)..end]
                .iter()
                .map(|(key, id)| ManualSnapshot {
                    id: id.clone(),
                    instance: key.name.clone(),
                    tags: Default::default(),
                })
                .collect(),
            next: (end < all.len()).then(|| end.to_string()),
        })
    }

    async fn snapshot(&self, _snapshot: &str) -> Result<Option<ManualSnapshot>, PortError> {
        Ok(None)
    }

    async fn restorers(&self, _snapshot: &str) -> Result<Vec<String>, PortError> {
        (self.account)
            .call(
                ("rds", "DescribeDBSnapshotAttributes"),
                Duration::from_millis(150),
            )
            .await?;
        Ok(vec![ACCOUNT.to_string()])
    }

    async fn revoke(&self, _snapshot: &str, _values: &[String]) -> Result<(), PortError> {
        self.account
            .call(("rds", "ModifyDBSnapshotAttribute"), Duration::from_millis(150))
            .await
    }
}

#[async_trait(?Send)]
impl Function for recovery_audit::Auditor {
    async fn invoke(&self, payload: Value, now: DateTime<Utc>) -> Result<Value, String> {
        recovery_audit::Auditor::invoke(self, payload, now)
            .await
            .map_err(|e| e.to_string())
    }
}

/// One size's audit, a few hours after the fleet's last tick, at `rds` calls a second, the
/// snapshots' sharing swept over `sweep_days`.
async fn audit(size: usize, rds: f64, sweep_days: u32) -> String {
    let budget = Budget {
        rds,
        ..Budget::default()
    };
    let slot = Slot::containing("2026-11-28T12:00:00Z".parse().expect("a time"));
    let account = Arc::new(Account::new());
    let catalog = Arc::new(MemoryCatalog::default());
    let reports = Arc::new(MemoryReports::default());
    let services = fleet(size, slot, &account, &catalog);
    let rds_service = (services.iter())
        .find(|s| s.kind() == ResourceKind::RdsInstance)
        .expect("RDS")
        .clone();
    let services: Vec<Arc<dyn BackupService>> = services
        .into_iter()
        .map(|s| s as Arc<dyn BackupService>)
        .collect();
    let fanout = Fanout::default();
    let started = std::time::Instant::now();
    // One function object per Lambda instance, paced as the function's main paces it.
    let share = 2 * fanout.concurrency;
    let auditors: Vec<Arc<dyn Function>> = (0..fanout.concurrency)
        .map(|_| {
            Arc::new(recovery_audit::Auditor {
                catalog: catalog.clone() as Arc<dyn Catalog>,
                services: pacing::paced(services.clone(), budget, share),
                sharing: pacing::paced_sharing(
                    Arc::new(Sharing::new(account.clone(), rds_service.clone())),
                    budget,
                    share,
                ),
                walk: recovery_audit::AccountWalk::paced(
                    Arc::new(Sharing::new(account.clone(), rds_service.clone())),
                    budget,
                ),
                tables: Arc::new(MemoryTablePolicies::default()),
                bucket: Arc::new(MemoryBucketAccess::closed("lifeboat-reports")),
                reports: reports.clone() as Arc<dyn ObjectStore>,
                policies: PolicyBook::default(),
                account: ACCOUNT.into(),
                trusted_accounts: Vec::new(),
                simulation: true,
                dry_run: false,
                shard_size: fanout.shard_size,
                shard_concurrency: fanout.concurrency,
                sweep_days,
                events: lifeboat_function::status_events::Announcer::new(
                    Arc::new(lifeboat::ports::memory::MemoryStatusEvents::default()),
                    "recovery-audit",
                ),
            }) as Arc<dyn Function>
        })
        .collect();
    let at = slot.start() + TimeDelta::minutes(45);
    let run = fan_out(&auditors, &account, event(at), at).await;
    let cpu = started.elapsed().as_secs_f64();
    let instances = match &run.finish {
        Ok(summary) => format!("{} instances audited", summary["instances"]),
        Err(e) => format!("FINISH: {}", e.chars().take(160).collect::<String>()),
    };
    let walk = walked(&reports, rds_service.all_snapshot_ids().len());
    format!(
        "  {size:>6} resources  RDS {rds} a second  sweep over {sweep_days:>2} days  {:>6.1} min ({:.1} h)  plan {:.1} min, {walk}  {:>5.2} calls/resource  {:>7} throttled  {:>3} failed calls  {:>3} failed shards  peak {} shards  {instances}  (CPU {cpu:.1} s)\n",
        run.minutes,
        run.minutes / 60.0,
        run.plan_minutes,
        run.calls as f64 / size as f64,
        run.throttled,
        run.failed,
        run.shard_failures,
        run.peak,
    )
}

/// How far the plan walked the account's `snapshots`, and so in how many daily runs the walk
/// passes over them all.
fn walked(reports: &MemoryReports, snapshots: usize) -> String {
    let record: Option<recovery_audit::walk::WalkRecord> = reports
        .get(recovery_audit::walk::RECORD)
        .and_then(|body| serde_json::from_slice(&body).ok());
    match record {
        Some(r) if r.pages > 0 => format!(
            "walk {} of {} pages (a pass every {} days)",
            r.pages,
            snapshots.div_ceil(PAGE),
            snapshots.div_ceil(PAGE).div_ceil(r.pages)
        ),
        _ => "walk NONE".to_string(),
    }
}

/// Every size, on a paused clock of its own.
pub fn fleet_audits() -> String {
    let mut out = String::from(
        "Fleet audit (bench fleet-audit): the daily audit fanned out (shards of 50 resources, whole\n\
         instances, 4 at once), its RDS budget halved between listings and sharing, against the\n\
         emulated services of bench fleet; simulated time:\n",
    );
    for (size, rds, sweep_days) in RUNS {
        let _ = write!(out, "{}", on_a_paused_clock(move || audit(size, rds, sweep_days)));
    }
    out
}
