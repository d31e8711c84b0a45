//! The catalog adapter against the local stack's DynamoDB: what moto answers for the calls
//! the in-memory catalog cannot check (transactions and their all-or-nothing refusals).

use std::collections::BTreeSet;

use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::ports::{Catalog, FailureKind, StateChange};
use lifeboat::schedule::{Slot, TierSet};
use lifeboat_aws::CatalogTable;
use lifeboat_e2e::{at, calls_by, catalog, stack};
use lifeboat_local::names::{CATALOG_TABLE, TESTER};

fn claimed(table: &str, hour: &str) -> RecoveryPoint {
    RecoveryPoint {
        resource: ResourceKey::dynamodb(table),
        instance_id: "acme".into(),
        slot: Slot::containing(at(&format!("2026-11-24T{hour}:00:00Z"))),
        tiers: TierSet::default(),
        service_id: None,
        state: PointState::Creating,
        holds: BTreeSet::new(),
        policy: "standard".into(),
        timezone: "UTC".into(),
        note: None,
        updated_at: at("2026-11-24T03:00:00Z"),
    }
}

fn now_available(point: &RecoveryPoint) -> (ResourceKey, Slot, StateChange) {
    let change = StateChange {
        state: PointState::Available,
        service_id: Some(format!("arn:backup/{}", point.resource)),
        note: None,
        at: at("2026-11-24T03:30:00Z"),
    };
    (point.resource.clone(), point.slot, change)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changes_are_written_in_one_transaction_or_one_by_one_when_refused() {
    let stack = stack().await;
    let table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let points: Vec<_> = ["orders", "users", "invoices"].map(|t| claimed(t, "03")).into();
    for p in &points {
        table.claim(p).await.expect("claim");
    }

    stack.edge.ledger.clear();
    let changes: Vec<_> = points.iter().map(now_available).collect();
    let results = table.update_states(&changes).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let operations: Vec<String> = calls_by(&stack, TESTER)
        .into_iter()
        .map(|c| c.operation)
        .collect();
    assert_eq!(operations, vec!["TransactWriteItems"]);
    let records = catalog(&stack).await;
    assert!(records
        .iter()
        .all(|r| r.state == PointState::Available && r.service_id.is_some()));

    // A deleted record is final: the transaction is refused as a whole, and each change is
    // then applied alone, so only the deleted record's change fails.
    let later: Vec<_> = points.iter().map(|p| claimed(&p.resource.name, "04")).collect();
    for p in &later {
        table.claim(p).await.expect("claim");
    }
    table
        .mark_deleted(
            &later[1].resource,
            later[1].slot,
            "expired",
            at("2026-11-24T04:30:00Z"),
        )
        .await
        .expect("mark deleted");
    let results = table
        .update_states(&later.iter().map(now_available).collect::<Vec<_>>())
        .await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert_eq!(results[1].as_ref().unwrap_err().kind, FailureKind::Conflict);
    let states: Vec<PointState> = catalog(&stack)
        .await
        .into_iter()
        .filter(|r| r.slot == later[0].slot)
        .map(|r| r.state)
        .collect();
    assert_eq!(states.iter().filter(|s| **s == PointState::Deleted).count(), 1);
    assert_eq!(states.iter().filter(|s| **s == PointState::Available).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_latest_available_point_before_a_time_skips_deleted_and_unfinished_ones() {
    let stack = stack().await;
    let table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let [three, four, five] = ["03", "04", "05"].map(|h| claimed("orders", h));
    for p in [&three, &four, &five] {
        table.claim(p).await.expect("claim");
    }
    let results = table
        .update_states(&[now_available(&three), now_available(&four)])
        .await;
    assert!(results.iter().all(Result::is_ok));
    table
        .mark_deleted(&four.resource, four.slot, "expired", at("2026-11-24T05:30:00Z"))
        .await
        .unwrap();
    let latest = |t: &str| {
        let table = &table;
        let t = at(t);
        async move {
            table
                .latest_available_before(&ResourceKey::dynamodb("orders"), t)
                .await
                .unwrap()
                .map(|p| p.slot)
        }
    };
    assert_eq!(latest("2026-11-24T06:00:00Z").await, Some(three.slot));
    assert_eq!(latest("2026-11-24T03:30:00Z").await, Some(three.slot));
    assert_eq!(latest("2026-11-24T03:00:00Z").await, None);
}

/// The shards' read: one resource's present records through the sparse index by resource,
/// without its deleted or missing records, and without another resource's; and the plan's:
/// present points per resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resources_present_records_come_without_its_deleted_history() {
    let stack = stack().await;
    let table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let [three, four, five, six] = ["03", "04", "05", "06"].map(|h| claimed("orders", h));
    let other = claimed("users", "03");
    for p in [&three, &four, &five, &six, &other] {
        table.claim(p).await.expect("claim");
    }
    let results = table
        .update_states(&[now_available(&three), now_available(&four), now_available(&five)])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    table
        .mark_deleted(&four.resource, four.slot, "expired", at("2026-11-24T05:30:00Z"))
        .await
        .unwrap();
    let vanished = StateChange {
        state: PointState::Missing,
        service_id: None,
        note: Some("vanished".into()),
        at: at("2026-11-24T05:30:00Z"),
    };
    table
        .update_state(&five.resource, five.slot, &vanished)
        .await
        .unwrap();
    let present = table
        .present_points_of(&ResourceKey::dynamodb("orders"))
        .await
        .unwrap();
    let mut found: Vec<(Slot, PointState)> = present.iter().map(|p| (p.slot, p.state)).collect();
    found.sort_by_key(|(slot, _)| *slot);
    assert_eq!(
        found,
        [
            (three.slot, PointState::Available),
            (six.slot, PointState::Creating)
        ]
    );
    assert_eq!(
        table
            .points_of(&ResourceKey::dynamodb("orders"))
            .await
            .unwrap()
            .len(),
        4,
        "the table keeps every record"
    );
    // A fleet's plan reads only how many each resource has.
    let counts = table.present_counts().await.unwrap();
    assert_eq!(
        counts.into_iter().collect::<Vec<_>>(),
        [
            (ResourceKey::dynamodb("orders"), 2),
            (ResourceKey::dynamodb("users"), 1)
        ]
    );
}
