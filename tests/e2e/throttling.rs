//! AWS's rate limits on the local stack: the edge meters the functions' calls with AWS's token
//! buckets and answers the services' real throttling errors; the functions still do the work.

use chrono::TimeDelta;
use lifeboat::inventory::{TAG_INSTANCE, TAG_POLICY};
use lifeboat::policy::PolicyBook;
use lifeboat_e2e::*;
use lifeboat_local::edge::rate_limit::{aws_defaults, Limit};
use lifeboat_local::names::REPORTS_BUCKET;
use lifeboat_local::resources;
use lifeboat_local::simulation::{self, Delivery, Mode};

const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];

/// A budget far below AWS's (4 calls a second, bursts of 3), so that one tick of a few
/// instances outruns it: the creator's calls are refused for real, and its SDK's adaptive
/// retry brings every point home all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_over_the_rds_budget_is_throttled_and_still_makes_every_point() {
    let stack = stack().await;
    assert_eq!(
        stack.edge.rate_limits.list(),
        aws_defaults(),
        "AWS's limits are on by default"
    );
    let ids = ["db-a", "db-b", "db-c", "db-d"];
    for id in ids {
        resources::rds_instance(&stack, id, &ACME, 3).await.unwrap();
    }
    stack
        .edge
        .rate_limits
        .set(vec![Limit {
            service: "rds".into(),
            operations: Vec::new(),
            per_second: 4.0,
            burst: 3.0,
        }])
        .unwrap();
    stack.edge.ledger.clear();
    tick(&stack, CREATOR, "2026-11-28T03:00:00Z").await;
    let expected: Vec<String> = ids
        .iter()
        .map(|id| format!("lifeboat-{id}-20261128t0300z"))
        .collect();
    assert_eq!(rds_snapshots(&stack).await, expected);
    let calls = calls_by(&stack, CREATOR);
    let throttled = calls
        .iter()
        .filter(|c| c.injected.as_deref() == Some("rate_limited"))
        .count();
    assert!(throttled > 0, "the budget was outrun: {calls:?}");
    assert!(
        calls
            .iter()
            .filter(|c| c.injected.as_deref() == Some("rate_limited"))
            .all(|c| c.service == "rds" && c.status == 400),
        "only RDS is refused, with the service's throttling status"
    );
}

/// A policy whose hourly points live three hours, so that a few hours of ticks prune too.
const BRIEF: &str = r#"[{"name": "brief", "hourly": {"retention": {"hours": 3}}}]"#;

/// The production path: every tick through its fleet-tick state machine (plan, shards of
/// three resources two at a time, finish), against an account whose RDS budget is three calls a
/// second. The functions pace far above it (the local stack's default), so that the shards
/// outrun it whatever the machine's load (their own pacing is measured by its unit tests and
/// `bench fleet`): the SDK's retries meet it. Six hours of hourly ticks keep exactly the
/// policy's points, with no failed tick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_fanned_out_in_shards_under_tight_rate_limits_keeps_exactly_its_points() {
    let stack = stack_with(&[
        ("LIFEBOAT_POLICIES", BRIEF),
        ("LIFEBOAT_SHARD_SIZE", "3"),
        ("LIFEBOAT_SHARD_CONCURRENCY", "2"),
    ])
    .await;
    let tags = [(TAG_INSTANCE, "acme"), (TAG_POLICY, "brief")];
    for i in 0..4 {
        resources::rds_instance(&stack, &format!("db-{i}"), &tags, 3)
            .await
            .unwrap();
    }
    for i in 0..3 {
        resources::dynamodb_table(&stack, &format!("table-{i}"), &tags)
            .await
            .unwrap();
    }
    let limit = |service: &str, operations: &[&str], per_second: f64, burst: f64| Limit {
        service: service.into(),
        operations: operations.iter().map(|o| o.to_string()).collect(),
        per_second,
        burst,
    };
    stack
        .edge
        .rate_limits
        .set(vec![
            limit("rds", &[], 3.0, 3.0),
            limit("dynamodb", &["ListBackups"], 1.0, 1.0),
            limit("dynamodb", &["CreateBackup"], 50.0, 50.0),
        ])
        .unwrap();
    let policies = PolicyBook::from_json(BRIEF).unwrap();
    let managed = simulation::managed_resources(&stack, &policies).await.unwrap();
    assert_eq!(managed.len(), 7);
    let end = at("2026-11-28T12:00:00Z");
    let start = end - TimeDelta::hours(6);
    let ticks = simulation::plan(Mode::Full, start, end, &managed);
    let report = simulation::run_delivered(&stack, &ticks, Delivery::FanOut)
        .await
        .unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_exact_coverage(&stack, &managed, (start, end), &ticks, &report).await;
    assert!(
        report.throttled() > 0,
        "the budgets were outrun: {}",
        report.render_calls(managed.len())
    );
    // Each tick ran as three shards of at most three resources.
    let shards = stack
        .s3()
        .list_objects_v2()
        .bucket(REPORTS_BUCKET)
        .prefix("ticks/snapshot-creator/2026/11/28/20261128t1200z/")
        .send()
        .await
        .unwrap();
    let keys: Vec<&str> = shards.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
}
