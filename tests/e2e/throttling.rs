//! AWS's rate limits on the local stack: the edge meters the functions' calls with AWS's token
//! buckets and answers the services' real throttling errors; the functions still do the work.

use lifeboat::inventory::TAG_INSTANCE;
use lifeboat_e2e::*;
use lifeboat_local::edge::rate_limit::{aws_defaults, Limit};
use lifeboat_local::resources;

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
