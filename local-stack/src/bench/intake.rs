//! The intake's request handling: a filing parsed, triaged and answered with its recovery
//! options, for an instance (one RDS instance, one DynamoDB table) with a year of points in
//! the catalog (what the policy keeps, plus the records of the points pruned during the
//! year, which the catalog keeps 400 days), on in-memory ports so only Lifeboat's own work
//! is measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::inventory::{PitrStatus, TAG_INSTANCE};
use lifeboat::policy::{Policy, PolicyBook};
use lifeboat::ports::memory::{MemoryCatalog, MemoryService};
use lifeboat::ports::memory::{MemoryIdempotency, MemoryRequests, MemoryWorkflow};
use lifeboat::ports::Catalog;
use lifeboat::request::options::RestorableWindow;
use lifeboat::request::roles::Roles;
use lifeboat::schedule::{tiers_of, Slot};
use restore_intake::{ApiRequest, Intake};
use serde_json::json;

const RUNS: usize = 200;
const SUPPORT: &str = concat!("arn:aws:iam::", crate::names::account!(), ":user/support");
const ENGINEER: &str = concat!("arn:aws:iam::", crate::names::account!(), ":user/engineer");

pub async fn intake_handling() -> String {
    let now: DateTime<Utc> = "2026-11-28T12:00:00Z".parse().expect("valid time");
    let (intake, points) = instance_with_a_year(now).await;
    let mut times = Vec::with_capacity(RUNS);
    for i in 0..RUNS {
        // Outside the 72-hour window, so the options come from the catalog's points.
        let filing = json!({
            "instance_id": "acme",
            "description": "An integration deleted 2,000 contacts.",
            "occurred_at": now - TimeDelta::days(10 + (i % 300) as i64),
            "affected": {"objects": ["contacts"], "estimated_records": 2000},
            "cause": "integration_mass_deletion"
        });
        let request = ApiRequest {
            method: "POST".into(),
            path: "/restore-requests".into(),
            body: filing.to_string().into_bytes(),
            principal: Some(SUPPORT.into()),
            ..ApiRequest::default()
        };
        let started = Instant::now();
        let answer = intake.handle(request, now).await;
        times.push(started.elapsed());
        assert_eq!(
            answer.status, 201,
            "the benchmark's filing is valid: {}",
            answer.body
        );
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "Intake request handling (parse, triage, options, holds, store; in-memory ports), an instance of 2 resources with {points} catalogued points, {RUNS} filings:\n  median {:.3} ms, p95 {:.3} ms\n",
        ms(times[RUNS / 2]),
        ms(times[RUNS * 95 / 100])
    )
}

async fn instance_with_a_year(now: DateTime<Utc>) -> (Intake, usize) {
    let catalog = Arc::new(MemoryCatalog::default());
    let rds = Arc::new(MemoryService::new(ResourceKind::RdsInstance));
    let ddb = Arc::new(MemoryService::new(ResourceKind::DynamoTable));
    let pitr = PitrStatus {
        enabled: true,
        window_days: Some(3),
    };
    let window = RestorableWindow {
        earliest: now - TimeDelta::hours(72),
        latest: now,
    };
    let policy = Policy::standard();
    let mut count = 0;
    for (service, name) in [(&rds, "acme-db"), (&ddb, "acme-events")] {
        let key = service.add_resource(name, &[(TAG_INSTANCE, "acme")], pitr);
        service.set_window(&key, window);
        count += catalogue_a_year(&catalog, &key, &policy, now).await;
    }
    let intake = Intake {
        requests: Arc::new(MemoryRequests::default()),
        idempotency: Arc::new(MemoryIdempotency::default()),
        catalog,
        services: vec![rds, ddb],
        workflow: Arc::new(MemoryWorkflow::default()),
        roles: Roles::from_lists(SUPPORT, ENGINEER),
        policies: PolicyBook::default(),
        execution_input: serde_json::Map::new(),
        // The benchmark measures the intake's reads, not a bus.
        events: lifeboat_function::status_events::Announcer::new(
            Arc::new(lifeboat::ports::memory::MemoryStatusEvents::default()),
            "restore-intake",
        ),
    };
    (intake, count)
}

/// A year of hourly records for `key`: what the policy still keeps is available, the rest
/// deleted (as the pruner leaves them).
async fn catalogue_a_year(
    catalog: &MemoryCatalog,
    key: &ResourceKey,
    policy: &Policy,
    now: DateTime<Utc>,
) -> usize {
    let mut n = 0;
    let mut t = now - TimeDelta::days(365);
    while t <= now {
        let slot = Slot::containing(t);
        let tiers = tiers_of(policy, lifeboat::zone::Zone::utc(), slot);
        let kept = tiers.0.values().any(|expiry| *expiry > now);
        let point = RecoveryPoint {
            resource: key.clone(),
            instance_id: "acme".into(),
            slot,
            tiers,
            service_id: Some(key.point_name(slot)),
            state: if kept {
                PointState::Available
            } else {
                PointState::Deleted
            },
            holds: Default::default(),
            policy: policy.name.clone(),
            timezone: "UTC".into(),
            note: None,
            updated_at: t,
        };
        catalog.claim(&point).await.expect("in-memory claim");
        n += 1;
        t += TimeDelta::hours(1);
    }
    n
}
