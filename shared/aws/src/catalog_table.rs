//! The catalog as a DynamoDB table: partition key `resource` (`rds:<id>` or
//! `dynamodb:<table>`), sort key `slot` (RFC 3339, on the hour).
//!
//! Holds are a string set, so adding and removing one is a single atomic update and an
//! emptied set disappears; "no holds" is then simply `attribute_not_exists(holds)`.
//!
//! Two sparse indexes, each holding only the records that carry its key attribute: `present`
//! (records of points the services should hold) and `owing` (records that may owe a weekly
//! or monthly tier, see [`lifeboat::schedule::late::owing`]). A record written whole gets each
//! attribute by what it is; updates remove `owing` (the service's answer, a deletion, a
//! discharge) but never add it, so a claim found missing keeps owing what it carried.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::dynamodb_items::{get_items, Backoff, GET_BATCH};
use super::port_error;
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey};
use lifeboat::policy::Tier;
use lifeboat::ports::{Catalog, Claim, FailureKind, PortError, StateChange};
use lifeboat::schedule::late::owing::may_owe;
use lifeboat::schedule::{Slot, TierSet};

type Item = HashMap<String, AttributeValue>;

/// The sparse global secondary index of present records (`creating` or `available`): only
/// they carry the attribute `present`, so only they are in it.
pub const PRESENT_INDEX: &str = "present-points";
/// The same sparse index, by resource: `resource` and `present` as its keys, so that it holds
/// only the records of present points (an item lacking a key attribute is not indexed).
pub const PRESENT_BY_RESOURCE_INDEX: &str = "present-by-resource";
pub const PRESENT: &str = "present";
const PRESENT_VALUE: &str = "1";
/// The sparse global secondary index of records that may owe a weekly or monthly tier:
/// `owing` (one value) and `slot` as its keys, so that one query reads those of a range of
/// slots, for the whole fleet.
pub const OWING_INDEX: &str = "owing-points";
pub const OWING: &str = "owing";
const OWING_VALUE: &str = "1";

/// BatchGetItem takes at most 100 keys.
/// TransactWriteItems takes at most 100 actions.
const TRANSACT_LIMIT: usize = 100;

pub struct CatalogTable {
    client: Client,
    table: String,
}

impl CatalogTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        CatalogTable {
            client,
            table: table.into(),
        }
    }

    /// The conditional update that sets a record's state: for one `UpdateItem`, or as one
    /// action of a transaction.
    fn state_update(&self, resource: &ResourceKey, slot: Slot, change: &StateChange) -> Update {
        let mut set = vec!["#state = :state", "updated_at = :at"];
        let mut values: Item = HashMap::from([
            (":deleted".to_string(), s("deleted")),
            (":state".to_string(), s(state_name(change.state))),
            (":at".to_string(), s(change.at.to_rfc3339())),
        ]);
        if let Some(id) = &change.service_id {
            set.push("service_id = :id");
            values.insert(":id".into(), s(id));
        }
        if let Some(note) = &change.note {
            set.push("note = :note");
            values.insert(":note".into(), s(note));
        }
        // Only records of points that are gone are purged by the table's TTL, and only
        // records of present points are in the present index. The service's answer means
        // the record owes nothing more.
        let remove = if change.state.is_present() && change.service_id.is_some() {
            set.push("present = :yes");
            values.insert(":yes".into(), s(PRESENT_VALUE));
            " REMOVE purge_at, owing"
        } else if change.state.is_present() {
            set.push("present = :yes");
            values.insert(":yes".into(), s(PRESENT_VALUE));
            " REMOVE purge_at"
        } else {
            set.push("purge_at = :purge");
            values.insert(":purge".into(), purge_at(change.at));
            " REMOVE present"
        };
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(CatalogTable::key(resource, slot)))
            // A deleted record is final: a late reconciliation must not bring it back.
            .condition_expression("attribute_exists(#r) AND #state <> :deleted")
            .expression_attribute_names("#r", "resource")
            .expression_attribute_names("#state", "state")
            .set_expression_attribute_values(Some(values))
            .update_expression(format!("SET {}{remove}", set.join(", ")))
            .build()
            .expect("table name, key and update expression are set")
    }

    /// Up to [`TRANSACT_LIMIT`] state changes in one `TransactWriteItems` call (the pruner's
    /// hourly "now available" updates, one per resource, cost one call instead of one each).
    /// A transaction is all or nothing, so when it is refused (one record deleted meanwhile,
    /// a conflict, a throttle) each change is retried on its own and gets its own answer.
    async fn update_chunk(&self, chunk: &[(ResourceKey, Slot, StateChange)]) -> Vec<Result<(), PortError>> {
        if chunk.len() > 1 {
            let items = chunk
                .iter()
                .map(|(resource, slot, change)| {
                    TransactWriteItem::builder()
                        .update(self.state_update(resource, *slot, change))
                        .build()
                })
                .collect();
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return chunk.iter().map(|_| Ok(())).collect(),
                Err(e) => tracing::debug!(
                    error = %port_error("TransactWriteItems", &self.table, e),
                    "batched state changes refused; applying them one by one"
                ),
            }
        }
        let mut results = Vec::with_capacity(chunk.len());
        for (resource, slot, change) in chunk {
            results.push(self.update_state(resource, *slot, change).await);
        }
        results
    }

    async fn scan(&self) -> Result<Vec<RecoveryPoint>, PortError> {
        let mut points = Vec::new();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("Scan", &self.table, e))?;
            for item in page.items() {
                points.push(decode(&self.table, item)?);
            }
        }
        Ok(points)
    }

    /// The present records, from the sparse index that holds only them: the table also keeps
    /// the records of deleted points (for 400 days), which the pruner's hourly read skips.
    /// The index is eventually consistent; a record read a moment stale is caught by the
    /// conditional writes that follow (a deletion marks only a present record).
    async fn query_present(&self) -> Result<Vec<RecoveryPoint>, PortError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PRESENT_INDEX)
            .key_condition_expression("#present = :yes")
            .expression_attribute_names("#present", PRESENT)
            .expression_attribute_values(":yes", s(PRESENT_VALUE));
        self.query_points(query, format!("{}/index/{PRESENT_INDEX}", self.table))
            .await
    }

    /// Every record a query answers, page by page.
    async fn query_points(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        target: String,
    ) -> Result<Vec<RecoveryPoint>, PortError> {
        let mut points = Vec::new();
        let mut pages = query.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("Query", &target, e))?;
            for item in page.items() {
                points.push(decode(&self.table, item)?);
            }
        }
        Ok(points)
    }

    /// `ADD` or `DELETE` one holder in the record's string set of holds, atomically. A hold
    /// is only added to a point the services still hold, so it cannot race a deletion.
    async fn change_holds(
        &self,
        verb: &str,
        resource: &ResourceKey,
        slot: Slot,
        holder: &str,
    ) -> Result<(), PortError> {
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(CatalogTable::key(resource, slot)))
            .update_expression(format!("{verb} holds :h"))
            .expression_attribute_names("#r", "resource")
            .expression_attribute_values(":h", AttributeValue::Ss(vec![holder.to_string()]));
        let request = if verb == "ADD" {
            request
                .condition_expression("attribute_exists(#r) AND #state IN (:creating, :available)")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":creating", s("creating"))
                .expression_attribute_values(":available", s("available"))
        } else {
            request.condition_expression("attribute_exists(#r)")
        };
        request
            .send()
            .await
            .map_err(|e| port_error("UpdateItem", format!("{resource}@{slot}"), e))?;
        Ok(())
    }

    fn key(resource: &ResourceKey, slot: Slot) -> Item {
        HashMap::from([
            ("resource".to_string(), s(resource.to_string())),
            ("slot".to_string(), s(slot.to_string())),
        ])
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// How long the record of a deleted or vanished point is kept: past the longest retention
/// of the standard policy, so a year's audit can still say why every point went. The table's
/// TTL on `purge_at` (epoch seconds) removes it afterwards.
const RECORD_KEPT_AFTER_DELETION: chrono::TimeDelta = chrono::TimeDelta::days(400);

fn purge_at(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N((at + RECORD_KEPT_AFTER_DELETION).timestamp().to_string())
}

fn state_name(state: PointState) -> &'static str {
    match state {
        PointState::Creating => "creating",
        PointState::Available => "available",
        PointState::Deleted => "deleted",
        PointState::Missing => "missing",
        PointState::Due => "due",
    }
}

fn parse_state(name: &str) -> Option<PointState> {
    [
        PointState::Creating,
        PointState::Available,
        PointState::Deleted,
        PointState::Missing,
        PointState::Due,
    ]
    .into_iter()
    .find(|s| state_name(*s) == name)
}

pub(crate) fn to_item(p: &RecoveryPoint) -> Item {
    let mut item = CatalogTable::key(&p.resource, p.slot);
    let tiers: HashMap<String, AttributeValue> = p
        .tiers
        .0
        .iter()
        .map(|(t, until)| (t.as_str().to_string(), s(until.to_rfc3339())))
        .collect();
    item.insert("tiers".into(), AttributeValue::M(tiers));
    item.insert("expires_at".into(), s(p.expires_at().to_rfc3339()));
    item.insert("instance_id".into(), s(&p.instance_id));
    item.insert("state".into(), s(state_name(p.state)));
    if may_owe(p) {
        item.insert(OWING.into(), s(OWING_VALUE));
    }
    if p.state.is_present() {
        item.insert(PRESENT.into(), s(PRESENT_VALUE));
    } else {
        // A record written in a state of no point (a `due` record handed on) is purged as
        // the records of points that are gone are.
        item.insert("purge_at".into(), purge_at(p.updated_at));
    }
    item.insert("policy".into(), s(&p.policy));
    item.insert("timezone".into(), s(&p.timezone));
    item.insert("updated_at".into(), s(p.updated_at.to_rfc3339()));
    if let Some(id) = &p.service_id {
        item.insert("service_id".into(), s(id));
    }
    if let Some(note) = &p.note {
        item.insert("note".into(), s(note));
    }
    if !p.holds.is_empty() {
        item.insert(
            "holds".into(),
            AttributeValue::Ss(p.holds.iter().cloned().collect()),
        );
    }
    item
}

pub(crate) fn from_item(item: &Item) -> Result<RecoveryPoint, String> {
    let text = |name: &str| -> Result<&str, String> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .ok_or_else(|| format!("attribute `{name}` is missing or not a string"))
    };
    let time = |name: &str| -> Result<DateTime<Utc>, String> {
        DateTime::parse_from_rfc3339(text(name)?)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("attribute `{name}`: {e}"))
    };
    let resource = ResourceKey::try_from(text("resource")?.to_string())?;
    let slot = Slot::try_from(text("slot")?.to_string())?;
    let mut tiers = BTreeMap::new();
    if let Some(AttributeValue::M(m)) = item.get("tiers") {
        for (name, until) in m {
            let tier = Tier::parse(name).ok_or_else(|| format!("unknown tier {name:?}"))?;
            let until = until
                .as_s()
                .ok()
                .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
                .ok_or_else(|| format!("tier {name:?} has no valid expiry"))?;
            tiers.insert(tier, until.with_timezone(&Utc));
        }
    }
    let state = text("state")?;
    Ok(RecoveryPoint {
        resource,
        instance_id: text("instance_id")?.to_string(),
        slot,
        tiers: TierSet(tiers),
        service_id: text("service_id").ok().map(str::to_string),
        state: parse_state(state).ok_or_else(|| format!("unknown state {state:?}"))?,
        holds: match item.get("holds") {
            Some(AttributeValue::Ss(h)) => h.iter().cloned().collect(),
            _ => Default::default(),
        },
        policy: text("policy")?.to_string(),
        timezone: text("timezone")?.to_string(),
        note: text("note").ok().map(str::to_string),
        updated_at: time("updated_at")?,
    })
}

fn decode(table: &str, item: &Item) -> Result<RecoveryPoint, PortError> {
    from_item(item).map_err(|e| {
        PortError::new(
            "ReadCatalog",
            table,
            FailureKind::Refused,
            format!("bad catalog record: {e}"),
        )
    })
}

#[async_trait]
impl Catalog for CatalogTable {
    async fn get_points(&self, keys: &[(ResourceKey, Slot)]) -> Result<Vec<RecoveryPoint>, PortError> {
        let mut found = Vec::new();
        for chunk in keys.chunks(GET_BATCH) {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(
                    chunk.iter().map(|(r, s)| CatalogTable::key(r, *s)).collect(),
                ))
                .consistent_read(true)
                .build()
                .map_err(|e| {
                    PortError::new("BatchGetItem", &self.table, FailureKind::Refused, e.to_string())
                })?;
            // Unprocessed keys are asked again after a backoff, not at once.
            let items = get_items(&self.client, &self.table, request, &Backoff::default(), &|| {}).await?;
            for item in &items {
                found.push(decode(&self.table, item)?);
            }
        }
        Ok(found)
    }

    async fn claim(&self, point: &RecoveryPoint) -> Result<Claim, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(point)))
            // A `due` record is no point: the claim of its slot replaces it.
            .condition_expression("attribute_not_exists(#r) OR #state = :due")
            .expression_attribute_names("#r", "resource")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":due", s(state_name(PointState::Due)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Claimed),
            Err(e) => {
                let e = port_error("PutItem", format!("{}@{}", point.resource, point.slot), e);
                if e.kind != FailureKind::Conflict {
                    return Err(e);
                }
                let existing = self.get_points(&[(point.resource.clone(), point.slot)]).await?;
                existing
                    .into_iter()
                    .next()
                    .map(|p| Claim::Exists(Box::new(p)))
                    .ok_or(e)
            }
        }
    }

    async fn reserve(&self, point: &RecoveryPoint) -> Result<bool, PortError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(point)))
            // Never over a record: a claim, or a hand-on that carries more.
            .condition_expression("attribute_not_exists(#r)")
            .expression_attribute_names("#r", "resource")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = port_error("PutItem", format!("{}@{}", point.resource, point.slot), e);
                if e.kind == FailureKind::Conflict {
                    return Ok(false);
                }
                Err(e)
            }
        }
    }

    async fn points_of(&self, resource: &ResourceKey) -> Result<Vec<RecoveryPoint>, PortError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#r = :r")
            .expression_attribute_names("#r", "resource")
            .expression_attribute_values(":r", s(resource.to_string()))
            .consistent_read(true);
        self.query_points(query, format!("{}/{resource}", self.table))
            .await
    }

    async fn present_points_of(&self, resource: &ResourceKey) -> Result<Vec<RecoveryPoint>, PortError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PRESENT_BY_RESOURCE_INDEX)
            .key_condition_expression("#r = :r AND #present = :yes")
            .expression_attribute_names("#r", "resource")
            .expression_attribute_names("#present", PRESENT)
            .expression_attribute_values(":r", s(resource.to_string()))
            .expression_attribute_values(":yes", s(PRESENT_VALUE));
        let target = format!("{}/index/{PRESENT_BY_RESOURCE_INDEX}/{resource}", self.table);
        self.query_points(query, target).await
    }

    /// Newest first from the slot before `t`, skipping the records of deleted points (a loss
    /// ten days back passes about a week of pruned hourly records before its weekly point).
    async fn latest_available_before(
        &self,
        resource: &ResourceKey,
        t: DateTime<Utc>,
    ) -> Result<Option<RecoveryPoint>, PortError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#r = :r AND #slot < :bound")
            .filter_expression("#state = :available")
            .expression_attribute_names("#r", "resource")
            .expression_attribute_names("#slot", "slot")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":r", s(resource.to_string()))
            .expression_attribute_values(":bound", s(Slot::at_or_after(t).to_string()))
            .expression_attribute_values(":available", s(state_name(PointState::Available)))
            .scan_index_forward(false)
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("Query", format!("{}/{resource}", self.table), e))?;
            if let Some(item) = page.items().first() {
                return decode(&self.table, item).map(Some);
            }
        }
        Ok(None)
    }

    async fn all_points(&self) -> Result<Vec<RecoveryPoint>, PortError> {
        self.scan().await
    }

    async fn present_points(&self) -> Result<Vec<RecoveryPoint>, PortError> {
        self.query_present().await
    }

    /// The sparse index's keys only (a projection of `resource`): a page still reads up to
    /// 1 MB of records, but nothing else crosses the wire or stays in memory.
    async fn present_counts(&self) -> Result<BTreeMap<ResourceKey, usize>, PortError> {
        let mut counts = BTreeMap::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PRESENT_INDEX)
            .key_condition_expression("#present = :yes")
            .projection_expression("#r")
            .expression_attribute_names("#present", PRESENT)
            .expression_attribute_names("#r", "resource")
            .expression_attribute_values(":yes", s(PRESENT_VALUE))
            .into_paginator()
            .send();
        let target = format!("{}/index/{PRESENT_INDEX}", self.table);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("Query", &target, e))?;
            for item in page.items() {
                let resource = item
                    .get("resource")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|r| ResourceKey::try_from(r.clone()).ok())
                    .ok_or_else(|| {
                        PortError::new(
                            "Query",
                            &target,
                            FailureKind::Refused,
                            "an index item without a readable resource",
                        )
                    })?;
                *counts.entry(resource).or_default() += 1;
            }
        }
        Ok(counts)
    }

    /// The owing index by slot range: a query of one key value, paged; nothing but records
    /// that may owe is read. Eventually consistent, as every index is: a record written a
    /// moment ago may be missing, and is read by the next tick.
    async fn owing_between(&self, from: Slot, to: Slot) -> Result<Vec<RecoveryPoint>, PortError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(OWING_INDEX)
            .key_condition_expression("#owing = :yes AND #slot BETWEEN :from AND :to")
            .expression_attribute_names("#owing", OWING)
            .expression_attribute_names("#slot", "slot")
            .expression_attribute_values(":yes", s(OWING_VALUE))
            .expression_attribute_values(":from", s(from.to_string()))
            .expression_attribute_values(":to", s(to.to_string()));
        self.query_points(query, format!("{}/index/{OWING_INDEX}", self.table))
            .await
    }

    async fn discharge(&self, resource: &ResourceKey, slot: Slot, note: &str) -> Result<(), PortError> {
        let target = format!("{resource}@{slot}");
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(CatalogTable::key(resource, slot)))
            .update_expression("SET note = :note REMOVE owing")
            .condition_expression("attribute_exists(#r)")
            .expression_attribute_names("#r", "resource")
            .expression_attribute_values(":note", s(note))
            .send()
            .await;
        match result.map_err(|e| port_error("UpdateItem", &target, e)) {
            Err(e) if e.kind == FailureKind::Conflict => Err(PortError::new(
                "UpdateItem",
                target,
                FailureKind::NotFound,
                "no such record to discharge",
            )),
            other => other.map(|_| ()),
        }
    }

    async fn update_state(
        &self,
        resource: &ResourceKey,
        slot: Slot,
        change: &StateChange,
    ) -> Result<(), PortError> {
        let update = self.state_update(resource, slot, change);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(update.key))
            .set_condition_expression(update.condition_expression)
            .update_expression(update.update_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values)
            .send()
            .await
            .map_err(|e| port_error("UpdateItem", format!("{resource}@{slot}"), e))?;
        Ok(())
    }

    async fn update_states(
        &self,
        changes: &[(ResourceKey, Slot, StateChange)],
    ) -> Vec<Result<(), PortError>> {
        let mut results = Vec::with_capacity(changes.len());
        for chunk in changes.chunks(TRANSACT_LIMIT) {
            results.extend(self.update_chunk(chunk).await);
        }
        results
    }

    async fn mark_deleted(
        &self,
        resource: &ResourceKey,
        slot: Slot,
        note: &str,
        at: DateTime<Utc>,
    ) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(CatalogTable::key(resource, slot)))
            .update_expression(
                "SET #state = :deleted, note = :note, updated_at = :at, purge_at = :purge REMOVE present, owing",
            )
            .condition_expression(
                "attribute_exists(#r) AND attribute_not_exists(holds) AND #state IN (:creating, :available)",
            )
            .expression_attribute_names("#r", "resource")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":deleted", s("deleted"))
            .expression_attribute_values(":creating", s("creating"))
            .expression_attribute_values(":available", s("available"))
            .expression_attribute_values(":note", s(note))
            .expression_attribute_values(":at", s(at.to_rfc3339()))
            .expression_attribute_values(":purge", purge_at(at))
            .send()
            .await
            .map_err(|e| port_error("UpdateItem", format!("{resource}@{slot}"), e))?;
        Ok(())
    }

    async fn add_hold(&self, resource: &ResourceKey, slot: Slot, holder: &str) -> Result<(), PortError> {
        self.change_holds("ADD", resource, slot, holder).await
    }

    async fn remove_hold(&self, resource: &ResourceKey, slot: Slot, holder: &str) -> Result<(), PortError> {
        self.change_holds("DELETE", resource, slot, holder).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lifeboat::policy::Policy;
    use lifeboat::schedule::tiers_of;

    #[test]
    fn records_round_trip_through_items() {
        let slot = Slot::containing("2026-10-31T23:00:00Z".parse().unwrap());
        let key = ResourceKey::rds("db");
        let point = RecoveryPoint {
            service_id: Some(key.point_name(slot)),
            resource: key,
            instance_id: "acme".into(),
            slot,
            tiers: tiers_of(&Policy::standard(), lifeboat::zone::Zone::utc(), slot),
            state: PointState::Available,
            holds: ["req-1".to_string()].into(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: Some("adopted".into()),
            updated_at: slot.start(),
        };
        assert_eq!(from_item(&to_item(&point)).unwrap(), point);
    }

    /// moto never answers part of a batch as unprocessed; DynamoDB does at its capacity.
    #[tokio::test(start_paused = true)]
    async fn unprocessed_catalog_keys_are_asked_again_after_a_backoff() {
        use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
        use aws_smithy_mocks::{mock, mock_client, RuleMode};

        let slot = Slot::containing("2026-10-31T23:00:00Z".parse().unwrap());
        let key = ResourceKey::rds("db");
        let point = RecoveryPoint {
            service_id: Some(key.point_name(slot)),
            resource: key.clone(),
            instance_id: "acme".into(),
            slot,
            tiers: tiers_of(&Policy::standard(), lifeboat::zone::Zone::utc(), slot),
            state: PointState::Available,
            holds: Default::default(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: slot.start(),
        };
        let unprocessed = move || {
            let keys = KeysAndAttributes::builder()
                .keys(CatalogTable::key(&ResourceKey::rds("db"), slot))
                .build()
                .unwrap();
            BatchGetItemOutput::builder()
                .unprocessed_keys("catalog", keys)
                .build()
        };
        let item = to_item(&point);
        let rule = mock!(Client::batch_get_item)
            .sequence()
            .output(unprocessed)
            .output(unprocessed)
            .output(move || {
                BatchGetItemOutput::builder()
                    .responses("catalog", vec![item.clone()])
                    .build()
            })
            .build();
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
        let start = tokio::time::Instant::now();
        let found = CatalogTable::new(client, "catalog")
            .get_points(&[(key, slot)])
            .await
            .unwrap();
        assert_eq!(found, vec![point]);
        assert_eq!(rule.num_calls(), 3);
        let waited = start.elapsed();
        assert!(
            waited >= std::time::Duration::from_millis(150),
            "asked again without waiting: {waited:?}"
        );
    }
}
