//! The pruner's logic on in-memory ports: what it deletes, what it never deletes, and its report.

use std::collections::BTreeMap;
use std::ops::Deref;

use chrono::TimeDelta;
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::inventory::{TAG_INSTANCE, TAG_MANAGED};
use lifeboat::policy::{Policy, PolicyBook};
use lifeboat::ports::memory::world::{self, at, scheduled_event};
use lifeboat::ports::{Catalog, ServicePoint};
use lifeboat::schedule::{tiers_of, Slot};
use lifeboat_function::failure::FailureType;
use retention_pruner::{Finding, Outcome, Pruner};
use serde_json::{json, Value};

/// The shared in-memory world, and the pruner wired to its catalog, both services and
/// its reports.
struct World {
    ports: world::World,
    pruner: Pruner,
}

impl Deref for World {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.ports
    }
}

fn world(max_deletions: usize) -> World {
    let ports = world::World::new();
    let pruner = Pruner {
        catalog: ports.catalog.clone(),
        services: ports.services(),
        reports: ports.reports.clone(),
        policies: PolicyBook::default(),
        simulation: false,
        max_deletions_per_resource: max_deletions,
        dry_run: false,
        fanout: lifeboat_function::config::Fanout {
            shard_size: 1,
            concurrency: 2,
        },
    };
    World { ports, pruner }
}

fn tick(time: &str, detail: Value) -> Value {
    scheduled_event(time, detail)
}

/// The catalog record of `slot`.
fn record_at(w: &World, slot: Slot) -> RecoveryPoint {
    w.catalog
        .snapshot()
        .into_iter()
        .find(|p| p.slot == slot)
        .expect("a record of the slot")
}

/// The catalog record of `key` at `slot`.
fn record_at_of(w: &World, key: &ResourceKey, slot: Slot) -> RecoveryPoint {
    w.catalog
        .snapshot()
        .into_iter()
        .find(|p| &p.resource == key && p.slot == slot)
        .expect("a record of the slot")
}

/// A pruning tick at `time`, with the wall clock at the same time.
async fn prune(w: &World, time: &str) -> retention_pruner::PruneReport {
    w.pruner.handle(tick(time, json!({})), at(time)).await.unwrap()
}

/// A pruning tick that lists every resource's points at its service, as on each resource's
/// turn of the rotation (once a day) or when an engineer asks.
async fn prune_reconciling_all(w: &World, time: &str) -> retention_pruner::PruneReport {
    w.pruner
        .handle(tick(time, json!({"reconcile_all": true})), at(time))
        .await
        .unwrap()
}

/// A point both catalogued and held by the service, as the creator and a reconcile leave it.
fn add_point(w: &World, key: &ResourceKey, slot: Slot) {
    let service = if key.kind == ResourceKind::RdsInstance {
        &w.rds
    } else {
        &w.ddb
    };
    let id = key.point_name(slot);
    service.add_point(ServicePoint {
        resource: key.clone(),
        slot,
        service_id: id.clone(),
        state: PointState::Available,
        tags: BTreeMap::from([(TAG_MANAGED.to_string(), "true".to_string())]),
    });
    w.catalog.insert(RecoveryPoint {
        resource: key.clone(),
        instance_id: "acme".into(),
        slot,
        tiers: tiers_of(&Policy::standard(), lifeboat::zone::Zone::utc(), slot),
        service_id: Some(id),
        state: PointState::Available,
        holds: Default::default(),
        policy: "standard".into(),
        timezone: "UTC".into(),
        note: None,
        updated_at: slot.start(),
    });
}

/// A point at the service with no tags, as a DynamoDB backup (or a foreign snapshot) is.
fn untagged_point(key: &ResourceKey, slot: Slot, service_id: impl Into<String>) -> ServicePoint {
    ServicePoint {
        resource: key.clone(),
        slot,
        service_id: service_id.into(),
        state: PointState::Available,
        tags: BTreeMap::new(),
    }
}

/// Hourly points of `key` for `hours` hours ending at `last`.
fn hourly(w: &World, key: &ResourceKey, last: &str, hours: i64) {
    let last = at(last);
    for h in 0..hours {
        add_point(w, key, Slot::containing(last - TimeDelta::hours(h)));
    }
}

#[tokio::test]
async fn expired_points_go_and_the_report_says_why() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    w.rds
        .add_resource("db", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    // Tuesday 2026-11-24 hours: no weekly or monthly tier among them.
    hourly(&w, &db, "2026-11-24T12:00:00Z", 10);
    // At 2026-11-27T06:30 the points up to 06:00 on the 24th are 72 hours old.
    let report = prune(&w, "2026-11-27T06:30:00Z").await;
    assert_eq!(report.deleted, 4, "03:00 to 06:00 expired");
    assert_eq!(w.rds.all_points().len(), 6);
    let gone: Vec<_> = w
        .catalog
        .snapshot()
        .into_iter()
        .filter(|p| p.state == PointState::Deleted)
        .collect();
    assert_eq!(gone.len(), 4);
    assert!(gone[0].note.as_ref().unwrap().contains("every tier expired"));
    let stored: Value = serde_json::from_slice(&w.reports.get(&report.report_key).unwrap()).unwrap();
    assert_eq!(stored["decisions"].as_array().unwrap().len(), 10);
    let first = &stored["decisions"][0];
    assert_eq!(
        (first["action"].as_str(), first["outcome"].as_str()),
        (Some("delete"), Some("deleted"))
    );
    let last = &stored["decisions"][9];
    assert_eq!(
        (last["action"].as_str(), last["reason"].as_str()),
        (Some("keep"), Some("live"))
    );
}

#[tokio::test]
async fn the_newest_point_survives_even_when_expired_and_held_points_survive() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    let table = ResourceKey::dynamodb("orders");
    hourly(&w, &db, "2026-11-24T12:00:00Z", 3);
    hourly(&w, &table, "2026-11-24T12:00:00Z", 3);
    w.catalog
        .add_hold(&table, Slot::containing(at("2026-11-24T10:00:00Z")), "req-7")
        .await
        .unwrap();
    let report = prune(&w, "2026-12-30T00:30:00Z").await;
    let kept: Vec<_> = w
        .catalog
        .snapshot()
        .into_iter()
        .filter(|p| p.state.is_present())
        .map(|p| (p.resource.name, p.slot.to_string()))
        .collect();
    assert_eq!(
        kept,
        vec![
            ("db".to_string(), "2026-11-24T12:00:00Z".to_string()),
            ("orders".to_string(), "2026-11-24T10:00:00Z".to_string()),
            ("orders".to_string(), "2026-11-24T12:00:00Z".to_string()),
        ]
    );
    assert_eq!(report.deleted, 3);
    let held = report
        .decisions
        .iter()
        .find(|d| d.decision.resource == table && d.decision.slot.to_string() == "2026-11-24T10:00:00Z")
        .unwrap();
    assert_eq!(serde_json::to_value(&held.decision).unwrap()["reason"], "held");
}

#[tokio::test]
async fn the_deletion_bound_is_per_resource_and_what_it_leaves_is_the_backlog() {
    let w = world(2);
    let db = ResourceKey::rds("db");
    let table = ResourceKey::dynamodb("orders");
    // Six hours each: five expired points besides the newest, which is kept.
    hourly(&w, &db, "2026-11-24T12:00:00Z", 6);
    hourly(&w, &table, "2026-11-24T12:00:00Z", 6);
    let report = prune(&w, "2026-11-30T00:30:00Z").await;
    assert_eq!(report.deleted, 4, "two of each resource, not four of one");
    assert_eq!(w.rds.all_points().len(), 4);
    assert_eq!(w.ddb.all_points().len(), 4);
    let oldest_left = at("2026-11-24T09:00:00Z") + TimeDelta::hours(72);
    assert_eq!(
        report.backlog,
        retention_pruner::Backlog {
            points: 6,
            oldest_expired_at: Some(oldest_left),
            oldest_hours: (at("2026-11-30T00:30:00Z") - oldest_left).num_hours() as u64,
        },
        "the oldest expiries went first; the rest wait"
    );
    let next = prune(&w, "2026-11-30T01:30:00Z").await;
    assert_eq!(next.deleted, 4);
    assert_eq!(next.backlog.points, 2, "the backlog drains at the bound");
    let last = prune(&w, "2026-11-30T02:30:00Z").await;
    assert_eq!(
        (last.deleted, last.backlog.points, last.backlog.oldest_hours),
        (2, 0, 0)
    );
}

#[tokio::test]
async fn a_new_point_is_confirmed_by_name_and_each_resource_is_listed_once_a_day() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    let table = ResourceKey::dynamodb("orders");
    w.rds
        .add_resource("db", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    w.ddb
        .add_resource("orders", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    hourly(&w, &db, "2026-11-24T12:00:00Z", 3);
    hourly(&w, &table, "2026-11-24T12:00:00Z", 3);
    // The creator's claim of the newest slot, not yet confirmed: no service id, `creating`.
    let newest = Slot::containing(at("2026-11-24T12:00:00Z"));
    let claim = RecoveryPoint {
        state: PointState::Creating,
        service_id: None,
        ..record_at_of(&w, &db, newest)
    };
    w.catalog.insert(claim);
    let first = prune(&w, "2026-11-24T12:30:00Z").await;
    assert!(first.reconciliation.iter().any(|r| r.resource == db
        && r.slot == newest
        && r.finding
            == Finding::Synced {
                from: PointState::Creating,
                to: PointState::Available
            }));
    let confirmed = record_at_of(&w, &db, newest);
    assert_eq!(confirmed.state, PointState::Available);
    assert_eq!(confirmed.service_id, Some(db.point_name(newest)));
    for hour in 1..24 {
        let time = at("2026-11-24T12:30:00Z") + TimeDelta::hours(hour);
        prune(&w, &time.to_rfc3339()).await;
    }
    for (service, name) in [(&w.rds, "db"), (&w.ddb, "orders")] {
        let calls = service.calls();
        let count = |op: &str| calls.iter().filter(|c| *c == &format!("{op} {name}")).count();
        assert_eq!(
            count("points_of"),
            1,
            "{name}: listed once in 24 ticks: {calls:?}"
        );
        assert!(
            !calls.iter().any(|c| c == "points *"),
            "the region is never listed"
        );
    }
    let db_calls = w.rds.calls();
    assert_eq!(
        db_calls.iter().filter(|c| *c == "find_point db").count(),
        1,
        "a point is looked up until confirmed, then no more"
    );
}

#[tokio::test]
async fn a_dry_run_changes_nothing() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    hourly(&w, &db, "2026-11-24T12:00:00Z", 6);
    let before = w.catalog.snapshot();
    let report = w
        .pruner
        .handle(
            tick("2026-12-30T00:30:00Z", json!({"dry_run": true})),
            at("2026-12-30T00:30:00Z"),
        )
        .await
        .unwrap();
    assert!(report.dry_run);
    assert_eq!(
        report
            .decisions
            .iter()
            .filter(|d| d.outcome == Outcome::WouldDelete)
            .count(),
        5
    );
    assert_eq!(w.catalog.snapshot(), before);
    assert_eq!(w.rds.all_points().len(), 6);
    assert!(report.report_key.ends_with(".dry-run.json"));
}

#[tokio::test]
async fn points_lifeboat_did_not_make_are_never_touched_and_lifeboat_points_are_adopted() {
    let w = world(100);
    w.rds
        .add_resource("db", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    let db = ResourceKey::rds("db");
    hourly(&w, &db, "2026-11-24T12:00:00Z", 1);
    // A Lifeboat-named snapshot the catalog lacks, long expired: adopted, then pruned.
    let orphan = Slot::containing(at("2026-11-20T05:00:00Z"));
    w.rds
        .add_point(untagged_point(&db, orphan, db.point_name(orphan)));
    let report = prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    assert!(report
        .reconciliation
        .iter()
        .any(|r| r.finding == Finding::Adopted && r.slot == orphan));
    assert!(w.rds.all_points().iter().all(|p| p.slot != orphan));
    let record = record_at(&w, orphan);
    assert_eq!(record.state, PointState::Deleted);
    assert_eq!(record.instance_id, "acme");
}

#[tokio::test]
async fn vanished_points_are_reported_and_creating_records_are_synced() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    hourly(&w, &db, "2026-11-24T12:00:00Z", 2);
    // The 11:00 point disappears from the service behind Lifeboat's back.
    w.rds
        .remove_point(&db.point_name(Slot::containing(at("2026-11-24T11:00:00Z"))));
    let report = prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    assert_eq!(report.reconciliation.len(), 1);
    assert_eq!(report.reconciliation[0].finding, Finding::Vanished);
    let states: Vec<_> = w.catalog.snapshot().into_iter().map(|p| p.state).collect();
    assert_eq!(states, vec![PointState::Missing, PointState::Available]);
}

#[tokio::test]
async fn a_failing_listing_spares_that_resource_and_fails_the_run_after_the_report() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    let table = ResourceKey::dynamodb("orders");
    hourly(&w, &db, "2026-11-24T12:00:00Z", 3);
    hourly(&w, &table, "2026-11-24T12:00:00Z", 3);
    w.rds.fail("points_of", "db");
    let err = w
        .pruner
        .handle(
            tick("2026-12-30T00:30:00Z", json!({"reconcile_all": true})),
            at("2026-12-30T00:30:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::ResourcesFailed);
    assert!(
        err.message.contains("listing the points of rds:db"),
        "{}",
        err.message
    );
    assert_eq!(
        w.rds.all_points().len(),
        3,
        "nothing of the unlisted resource is deleted"
    );
    assert_eq!(w.ddb.all_points().len(), 1, "the other resource is pruned");
    assert_eq!(w.reports.keys().len(), 1);
}

#[tokio::test]
async fn a_malformed_event_writes_nothing() {
    let w = world(100);
    let err = w
        .pruner
        .handle(
            json!({"detail-type":"Scheduled Event","time":"soon"}),
            at("2026-12-30T00:30:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::InvalidEvent);
    let err = w
        .pruner
        .handle(
            tick("2026-12-30T00:30:00Z", json!({"dry_run":"yes"})),
            at("2026-12-30T00:30:00Z"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureType::InvalidEvent);
    assert!(w.reports.keys().is_empty());
}

#[tokio::test]
async fn a_deletion_interrupted_after_the_catalog_said_deleted_is_finished() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    hourly(&w, &db, "2026-11-24T12:00:00Z", 2);
    let interrupted = Slot::containing(at("2026-11-24T11:00:00Z"));
    // The run marked the record deleted, then stopped before the service call.
    w.catalog
        .mark_deleted(
            &db,
            interrupted,
            "deleted by a run that crashed",
            at("2026-11-30T00:30:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(w.rds.all_points().len(), 2);
    let report = prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    assert!(report
        .reconciliation
        .iter()
        .any(|r| r.finding == Finding::DeletionFinished && r.slot == interrupted));
    assert_eq!(w.rds.all_points().len(), 1);
    let record = record_at(&w, interrupted);
    assert_eq!(record.state, PointState::Deleted);
}

#[tokio::test]
async fn a_second_backup_of_one_slot_is_deleted_and_the_catalogued_one_kept() {
    let w = world(100);
    let table = ResourceKey::dynamodb("orders");
    hourly(&w, &table, "2026-11-24T12:00:00Z", 1);
    let slot = Slot::containing(at("2026-11-24T12:00:00Z"));
    w.ddb.add_point(untagged_point(&table, slot, "arn:duplicate"));
    let report = prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    assert!(report.reconciliation.iter().any(
        |r| matches!(&r.finding, Finding::DuplicateDeleted { service_id } if service_id == "arn:duplicate")
    ));
    let left: Vec<_> = w.ddb.all_points().into_iter().map(|p| p.service_id).collect();
    assert_eq!(left, vec![table.point_name(slot)]);
}

/// A table with one catalogued hourly point, held at the service under its recorded id.
fn one_recorded_point() -> (World, ResourceKey, Slot, String) {
    let w = world(100);
    let table = ResourceKey::dynamodb("orders");
    w.ddb
        .add_resource("orders", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    hourly(&w, &table, "2026-11-24T12:00:00Z", 1);
    let slot = Slot::containing(at("2026-11-24T12:00:00Z"));
    let recorded = table.point_name(slot);
    (w, table, slot, recorded)
}

/// The service holds only `service_id` for the slot, and the catalog records it.
fn assert_only_copy(w: &World, slot: Slot, service_id: &str) {
    let left: Vec<_> = w.ddb.all_points().into_iter().map(|p| p.service_id).collect();
    assert_eq!(left, [service_id]);
    assert_eq!(record_at(w, slot).service_id.as_deref(), Some(service_id));
}

/// Of two copies of a slot, the one the catalog records stays, even when the present index
/// lags the record's id: the records of duplicated slots are read again, consistently.
#[tokio::test]
async fn of_duplicates_the_recorded_copy_stays_though_the_index_lags() {
    let (w, table, slot, recorded) = one_recorded_point();
    // A retried creation's second copy, whose id sorts first.
    w.ddb.add_point(untagged_point(&table, slot, "arn:0-retry"));
    // The index shows the record without the id that identifies the copy it means (written
    // since, as a repair by an earlier reconciliation writes one).
    w.catalog.lag_index(RecoveryPoint {
        service_id: None,
        ..record_at(&w, slot)
    });
    let report = prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    assert!(report.reconciliation.iter().any(
        |r| matches!(&r.finding, Finding::DuplicateDeleted { service_id } if service_id == "arn:0-retry")
    ));
    assert_only_copy(&w, slot, &recorded);
}

/// The same when the index does not show the slot's record at all yet.
#[tokio::test]
async fn of_duplicates_the_recorded_copy_stays_though_the_index_lacks_the_record() {
    let (w, table, slot, recorded) = one_recorded_point();
    w.ddb.add_point(untagged_point(&table, slot, "arn:0-retry"));
    // An index entry not there yet reads as no present record.
    w.catalog.lag_index(RecoveryPoint {
        state: PointState::Missing,
        ..record_at(&w, slot)
    });
    prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    assert_only_copy(&w, slot, &recorded);
}

/// A recorded copy the service has deleted (by hand) never stays in place of a live one.
#[tokio::test]
async fn of_duplicates_a_live_copy_stays_when_the_recorded_one_is_deleted() {
    let (w, table, slot, recorded) = one_recorded_point();
    w.ddb.remove_point(&recorded);
    w.ddb.add_point(ServicePoint {
        state: PointState::Deleted,
        ..untagged_point(&table, slot, recorded.clone())
    });
    w.ddb.add_point(untagged_point(&table, slot, "arn:z-retry"));
    prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    let live: Vec<_> = w
        .ddb
        .all_points()
        .into_iter()
        .filter(|p| p.state.is_present())
        .map(|p| p.service_id)
        .collect();
    assert_eq!(live, vec!["arn:z-retry".to_string()]);
    assert_eq!(record_at(&w, slot).service_id.as_deref(), Some("arn:z-retry"));
}

#[tokio::test]
async fn an_adopted_dynamodb_backup_is_held_not_deleted() {
    let w = world(100);
    let table = ResourceKey::dynamodb("orders");
    hourly(&w, &table, "2026-11-24T12:00:00Z", 1);
    let orphan = Slot::containing(at("2026-10-01T05:00:00Z"));
    w.ddb.add_point(untagged_point(&table, orphan, "arn:orphan"));
    prune_reconciling_all(&w, "2026-11-24T12:30:00Z").await;
    prune_reconciling_all(&w, "2028-11-24T12:30:00Z").await;
    assert!(
        w.ddb.all_points().iter().any(|p| p.service_id == "arn:orphan"),
        "its origin is unproven"
    );
    let record = record_at(&w, orphan);
    assert!(record.holds.contains(retention_pruner::UNVERIFIED_ORIGIN));
}

/// One stage of a fanned-out tick at `time` (see `lifeboat::fanout`).
async fn stage(
    w: &World,
    time: &str,
    stage: Value,
) -> Result<Value, lifeboat_function::failure::FunctionError> {
    let mut payload = stage;
    payload["event"] = tick(time, json!({}));
    w.pruner.invoke(payload, at(time)).await
}

#[tokio::test]
async fn a_fanned_out_tick_prunes_shard_by_shard_and_the_finish_sums_up() {
    let w = world(100);
    w.rds
        .add_resource("db", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    w.ddb
        .add_resource("orders", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    // A resource deleted long ago: its points remain, nothing backs it up any more.
    let gone = ResourceKey::rds("gone");
    for key in [
        ResourceKey::rds("db"),
        ResourceKey::dynamodb("orders"),
        gone.clone(),
    ] {
        hourly(&w, &key, "2026-11-24T12:00:00Z", 6);
    }
    let time = "2026-11-30T00:30:00Z";
    let plan: lifeboat::fanout::Plan =
        serde_json::from_value(stage(&w, time, json!({"stage": "plan"})).await.unwrap()).unwrap();
    assert_eq!((plan.resources, plan.shards.len(), plan.concurrency), (3, 3, 2));
    assert_eq!(plan.counts["unmanaged"], 1);
    let mut results = Vec::new();
    for key in &plan.shards {
        let result = stage(&w, time, json!({"stage": "shard", "shard": key}))
            .await
            .unwrap();
        results.push(result);
    }
    assert!(results.iter().all(|r| r["counts"]["deleted"] == 5), "{results:?}");
    assert_eq!(
        w.rds.all_points().len() + w.ddb.all_points().len(),
        3,
        "each resource's newest point stays"
    );
    let finish = stage(
        &w,
        time,
        json!({"stage": "finish", "plan": plan, "results": results}),
    )
    .await
    .unwrap();
    assert_eq!(finish["totals"]["deleted"], 15, "{finish}");
    assert_eq!(finish["unmanaged"], 1);
    let keys = w.reports.keys();
    assert!(
        keys.iter().any(|k| k.starts_with("retention/2026/11/30/")),
        "{keys:?}"
    );
    for shard in plan.shards {
        let report = format!("{}.report.json", shard.trim_end_matches(".json"));
        assert!(keys.contains(&report), "{report} in {keys:?}");
    }
}

/// A shard that cannot read one resource's records leaves that resource alone (without them,
/// its points at the service would look unknown to the catalog), prunes the others, and the
/// finish fails naming it.
#[tokio::test]
async fn a_resource_whose_records_cannot_be_read_is_left_alone_and_named() {
    let w = world(100);
    let db = ResourceKey::rds("db");
    let orders = ResourceKey::dynamodb("orders");
    w.rds
        .add_resource("db", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    w.ddb
        .add_resource("orders", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    for key in [&db, &orders] {
        hourly(&w, key, "2026-11-24T12:00:00Z", 6);
    }
    w.catalog.fail_reads_of(&orders);
    let records_before = w.catalog.snapshot();
    // Every resource on its reconciliation turn: the unreadable one would be listed too.
    let time = "2026-11-30T00:30:00Z";
    let run = |stage: Value| {
        let mut payload = stage;
        payload["event"] = tick(time, json!({"reconcile_all": true}));
        w.pruner.invoke(payload, at(time))
    };
    let plan: lifeboat::fanout::Plan =
        serde_json::from_value(run(json!({"stage": "plan"})).await.unwrap()).unwrap();
    let mut results = Vec::new();
    for key in &plan.shards {
        results.push(run(json!({"stage": "shard", "shard": key})).await.unwrap());
    }
    assert_eq!(w.rds.all_points().len(), 1, "the readable resource is pruned");
    assert_eq!(
        w.ddb.all_points().len(),
        6,
        "nothing of the unreadable one is deleted"
    );
    let untouched: Vec<_> = w
        .catalog
        .snapshot()
        .into_iter()
        .filter(|p| p.resource == orders)
        .collect();
    let before: Vec<_> = records_before
        .into_iter()
        .filter(|p| p.resource == orders)
        .collect();
    assert_eq!(untouched, before, "nor is any of its records changed or adopted");
    let err = run(json!({"stage": "finish", "plan": plan, "results": results}))
        .await
        .unwrap_err();
    assert!(
        err.message.contains("reading the catalog of dynamodb:orders"),
        "{}",
        err.message
    );
}

/// A point whose id the creator recorded is confirmed by that id (for DynamoDB a
/// `DescribeBackup`, not the account's five `ListBackups` a second).
#[tokio::test]
async fn a_new_point_with_its_id_is_confirmed_by_id_not_by_listing() {
    let w = world(100);
    let table = ResourceKey::dynamodb("orders");
    w.ddb
        .add_resource("orders", &[(TAG_INSTANCE, "acme")], world::PITR_3_DAYS);
    hourly(&w, &table, "2026-11-24T12:00:00Z", 2);
    let newest = Slot::containing(at("2026-11-24T12:00:00Z"));
    let answered = RecoveryPoint {
        state: PointState::Creating,
        ..record_at_of(&w, &table, newest)
    };
    w.catalog.insert(answered);
    prune(&w, "2026-11-24T12:30:00Z").await;
    assert_eq!(record_at_of(&w, &table, newest).state, PointState::Available);
    let calls = w.ddb.calls();
    assert!(calls.contains(&"describe_point orders".to_string()), "{calls:?}");
    assert!(!calls.iter().any(|c| c.starts_with("find_point")), "{calls:?}");
}
