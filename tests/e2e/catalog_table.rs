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

/// The creator's read of what earlier ticks left owed: the sparse owing index by slot range.
/// A record is in it when written owing (a `due` record, a claim carrying a weekly tier
/// without the service's answer) and leaves it when answered, deleted, discharged or
/// replaced by a claim that owes nothing; a claim found missing stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_that_may_owe_stay_in_the_owing_index_until_answered_deleted_or_discharged() {
    use lifeboat::policy::Tier;
    let stack = stack().await;
    let table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let weekly = |table: &str, hour: &str, state: PointState| RecoveryPoint {
        tiers: TierSet([(Tier::Weekly, at("2026-12-24T03:00:00Z"))].into()),
        state,
        ..claimed(table, hour)
    };
    let unanswered = weekly("orders", "03", PointState::Creating);
    let answered = weekly("orders", "04", PointState::Creating);
    let missing = weekly("users", "03", PointState::Creating);
    let due = weekly("users", "04", PointState::Due);
    let deleted = weekly("invoices", "03", PointState::Creating);
    let replaced = weekly("invoices", "04", PointState::Due);
    let hourly = claimed("orders", "05");
    let long_ago = RecoveryPoint {
        slot: Slot::containing(at("2026-10-01T03:00:00Z")),
        ..weekly("orders", "03", PointState::Due)
    };
    for p in [
        &unanswered,
        &answered,
        &missing,
        &due,
        &deleted,
        &replaced,
        &hourly,
        &long_ago,
    ] {
        table.claim(p).await.expect("claim");
    }
    let owing = |from: &str, to: &str| {
        let table = &table;
        let (from, to) = (Slot::containing(at(from)), Slot::containing(at(to)));
        async move {
            let mut found: Vec<String> = table
                .owing_between(from, to)
                .await
                .unwrap()
                .into_iter()
                .map(|r| format!("{}@{}", r.resource, &r.slot.to_string()[8..13]))
                .collect();
            found.sort();
            found
        }
    };
    let month = ("2026-10-24T03:00:00Z", "2026-11-24T23:00:00Z");
    assert_eq!(
        owing(month.0, month.1).await,
        [
            "dynamodb:invoices@24T03",
            "dynamodb:invoices@24T04",
            "dynamodb:orders@24T03",
            "dynamodb:orders@24T04",
            "dynamodb:users@24T03",
            "dynamodb:users@24T04"
        ]
    );
    assert_eq!(
        owing("2026-11-24T04:00:00Z", "2026-11-24T04:00:00Z").await.len(),
        3,
        "by slot"
    );

    let results = table.update_states(&[now_available(&answered)]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let vanished = StateChange {
        state: PointState::Missing,
        service_id: None,
        note: Some("vanished".into()),
        at: at("2026-11-24T05:30:00Z"),
    };
    table
        .update_state(&missing.resource, missing.slot, &vanished)
        .await
        .unwrap();
    table
        .mark_deleted(
            &deleted.resource,
            deleted.slot,
            "expired",
            at("2026-11-24T05:30:00Z"),
        )
        .await
        .unwrap();
    table.claim(&claimed("invoices", "04")).await.unwrap();
    for _ in 0..2 {
        table
            .discharge(&due.resource, due.slot, "taken on by the point of 05:00")
            .await
            .expect("a discharge, again");
    }
    assert_eq!(
        owing(month.0, month.1).await,
        ["dynamodb:orders@24T03", "dynamodb:users@24T03"]
    );
    let records = catalog(&stack).await;
    let kept = records
        .iter()
        .find(|r| r.resource == due.resource && r.slot == due.slot)
        .unwrap();
    assert_eq!(
        (kept.state, kept.note.as_deref()),
        (PointState::Due, Some("taken on by the point of 05:00"))
    );
    let err = table
        .discharge(&ResourceKey::dynamodb("nothing"), due.slot, "why")
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::NotFound, "{err}");
    assert!(
        !catalog(&stack).await.iter().any(|r| r.resource.name == "nothing"),
        "a discharge never writes a record of its own"
    );
}

/// A reservation is written only where the slot has no record: never over a claim or a
/// due that carries more; it is in the owing index, and the slot's claim replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_is_written_only_where_the_slot_has_no_record_and_a_claim_replaces_it() {
    use lifeboat::policy::Tier;
    let stack = stack().await;
    let table = CatalogTable::new(stack.dynamodb(), CATALOG_TABLE);
    let reservation = |name: &str| RecoveryPoint {
        tiers: TierSet([(Tier::Weekly, at("2026-12-24T04:00:00Z"))].into()),
        state: PointState::Due,
        note: Some("reserved".into()),
        ..claimed(name, "04")
    };
    let claim = claimed("orders", "04");
    table.claim(&claim).await.unwrap();
    assert!(
        !table.reserve(&reservation("orders")).await.unwrap(),
        "over a claim"
    );
    let handed = RecoveryPoint {
        note: Some("handed on".into()),
        tiers: TierSet([(Tier::Monthly, at("2027-11-24T04:00:00Z"))].into()),
        ..reservation("users")
    };
    table.claim(&handed).await.unwrap();
    assert!(!table.reserve(&reservation("users")).await.unwrap(), "over a due");
    assert!(table.reserve(&reservation("invoices")).await.unwrap());
    assert!(!table.reserve(&reservation("invoices")).await.unwrap(), "again");
    let slot = claim.slot;
    let mut owing: Vec<(String, Option<String>)> = table
        .owing_between(slot, slot)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.resource.to_string(), r.note))
        .collect();
    owing.sort();
    assert_eq!(
        owing,
        [
            ("dynamodb:invoices".to_string(), Some("reserved".to_string())),
            ("dynamodb:users".to_string(), Some("handed on".to_string())),
        ]
    );
    assert_eq!(
        table.claim(&claimed("invoices", "04")).await.unwrap(),
        lifeboat::ports::Claim::Claimed,
        "the slot's claim replaces its reservation"
    );
    assert_eq!(table.owing_between(slot, slot).await.unwrap().len(), 1);
}
