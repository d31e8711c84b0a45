//! The restore requests as a DynamoDB table: partition key `id`.
//!
//! A request is stored as its JSON document (`request`) beside the attributes the table
//! needs to find and guard it: `instance_id` and `submitted_at` (the key of the
//! `instance-requests` index that lists an instance's requests), `status`, `version` (the
//! optimistic lock of every change) and `task_token` (never part of the document, so it is
//! never shown). Other records live in the same table under ids with a `#`, which no request
//! id has, and without `instance_id`, so the index never lists them: idempotency records
//! (`idempotency#<scope>`, a day's TTL), resource locks (`lock#<resource>`), and the
//! DynamoDB merge ledger's entries (`merged#…`, see `dynamodb_merge_ledger`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeDelta, Utc};

use super::port_error;
use lifeboat::ports::{FailureKind, PortError};
use lifeboat::ports::{IdempotencyStore, Remembered, RequestStore, ResourceLocks, StoredRequest};
use lifeboat::request::lifecycle::{RestoreRequest, Status};

type Item = HashMap<String, AttributeValue>;

pub const INSTANCE_INDEX: &str = "instance-requests";
const IDEMPOTENCY_PREFIX: &str = "idempotency#";
/// Resource locks live in the same table, one item per production resource being restored.
const LOCK_PREFIX: &str = "lock#";
/// How long a retry with the same Idempotency-Key gets the first answer.
pub const IDEMPOTENCY_TTL: TimeDelta = TimeDelta::hours(24);

pub struct RequestsTable {
    client: Client,
    table: String,
}

impl RequestsTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        RequestsTable {
            client,
            table: table.into(),
        }
    }

    fn key(id: &str) -> Item {
        HashMap::from([("id".to_string(), s(id))])
    }

    /// The item `id`, read consistently (what a conditional write just refused is visible).
    async fn read(&self, id: &str) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("GetItem", id, e))?;
        Ok(out.item)
    }

    fn to_item(&self, stored: &StoredRequest) -> Result<Item, PortError> {
        let r = &stored.request;
        let document = serde_json::to_string(r)
            .map_err(|e| PortError::new("encode", &r.id, FailureKind::Refused, e.to_string()))?;
        let mut item = HashMap::from([
            ("id".to_string(), s(&r.id)),
            ("instance_id".to_string(), s(&r.instance_id)),
            ("submitted_at".to_string(), s(r.submitted_at.to_rfc3339())),
            ("status".to_string(), s(r.status.as_str())),
            (
                "version".to_string(),
                AttributeValue::N(stored.version.to_string()),
            ),
            ("request".to_string(), s(document)),
        ]);
        if let Some(token) = &stored.task_token {
            item.insert("task_token".into(), s(token));
        }
        Ok(item)
    }

    fn decode(&self, item: &Item) -> Result<StoredRequest, PortError> {
        let id = text(item, "id").unwrap_or("?").to_string();
        let bad = |problem: String| {
            PortError::new(
                "decode",
                format!("{}/{id}", self.table),
                FailureKind::Refused,
                problem,
            )
        };
        let request: RestoreRequest =
            serde_json::from_str(text(item, "request").ok_or_else(|| bad("no request document".into()))?)
                .map_err(|e| bad(e.to_string()))?;
        let version = match item.get("version") {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| bad(format!("version {n:?}")))?,
            _ => return Err(bad("no version".into())),
        };
        Ok(StoredRequest {
            request,
            version,
            task_token: text(item, "task_token").map(str::to_string),
        })
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

#[async_trait]
impl RequestStore for RequestsTable {
    async fn create(&self, request: &StoredRequest) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.to_item(request)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| port_error("PutItem", &request.request.id, e))?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<StoredRequest>, PortError> {
        if id.contains('#') {
            // Not a request id: one of the other records the table holds.
            return Ok(None);
        }
        self.read(id).await?.map(|item| self.decode(&item)).transpose()
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<Status>,
    ) -> Result<Vec<RestoreRequest>, PortError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INSTANCE_INDEX)
            .key_condition_expression("instance_id = :i")
            .expression_attribute_values(":i", s(instance_id))
            .scan_index_forward(false);
        if let Some(status) = status {
            query = query
                .filter_expression("#status = :s")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":s", s(status.as_str()));
        }
        let mut pages = query.into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| port_error("Query", format!("{}/index/{INSTANCE_INDEX}", self.table), e))?;
            for item in page.items() {
                found.push(self.decode(item)?.request);
            }
        }
        Ok(found)
    }

    async fn replace(&self, request: &StoredRequest, expected_version: u64) -> Result<(), PortError> {
        let mut next = request.clone();
        next.version = expected_version + 1;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.to_item(&next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected_version.to_string()))
            .send()
            .await
            .map_err(|e| port_error("PutItem", &request.request.id, e))?;
        Ok(())
    }
}

#[async_trait]
impl ResourceLocks for RequestsTable {
    async fn acquire(&self, resource: &str, holder: &str) -> Result<(), PortError> {
        let id = format!("{LOCK_PREFIX}{resource}");
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(&id))
            .item("holder", s(holder))
            .condition_expression("attribute_not_exists(id) OR holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        let Err(e) = result else { return Ok(()) };
        let mut e = port_error("PutItem", &id, e);
        if e.kind == FailureKind::Conflict {
            // Name the holder, so the refusal says which request to look at.
            let current = (self.read(&id).await.ok().flatten())
                .and_then(|item| text(&item, "holder").map(str::to_string));
            e.message = format!("held by {}", current.as_deref().unwrap_or("another request"));
        }
        Err(e)
    }

    async fn release(&self, resource: &str, holder: &str) -> Result<(), PortError> {
        let id = format!("{LOCK_PREFIX}{resource}");
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(&id)))
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        match result.map_err(|e| port_error("DeleteItem", &id, e)) {
            // Not held, or held by someone else: nothing of ours to release.
            Err(e) if e.kind == FailureKind::Conflict => Ok(()),
            other => other.map(|_| ()),
        }
    }
}

#[async_trait]
impl IdempotencyStore for RequestsTable {
    async fn recall(&self, scope: &str) -> Result<Option<Remembered>, PortError> {
        let id = format!("{IDEMPOTENCY_PREFIX}{scope}");
        Ok(self.read(&id).await?.as_ref().and_then(remembered))
    }

    async fn remember(&self, scope: &str, answer: &Remembered) -> Result<Remembered, PortError> {
        let id = format!("{IDEMPOTENCY_PREFIX}{scope}");
        let expires = answer.at + IDEMPOTENCY_TTL;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("id", s(&id))
            .item("fingerprint", s(&answer.fingerprint))
            .item("status", AttributeValue::N(answer.status.to_string()))
            .item("body", s(&answer.body))
            .item("at", s(answer.at.to_rfc3339()))
            .item("expires_at", AttributeValue::N(expires.timestamp().to_string()))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(answer.clone()),
            Err(e) => {
                let e = port_error("PutItem", &id, e);
                if e.kind != FailureKind::Conflict {
                    return Err(e);
                }
                self.recall(scope).await?.ok_or(e)
            }
        }
    }
}

fn remembered(item: &Item) -> Option<Remembered> {
    let status = match item.get("status") {
        Some(AttributeValue::N(n)) => n.parse().ok()?,
        _ => return None,
    };
    Some(Remembered {
        fingerprint: text(item, "fingerprint")?.to_string(),
        status,
        body: text(item, "body")?.to_string(),
        at: text(item, "at")?.parse::<DateTime<Utc>>().ok()?,
    })
}
