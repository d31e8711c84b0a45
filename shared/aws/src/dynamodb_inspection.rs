//! What a restore drill reads in a DynamoDB sandbox: its item count against production's
//! (a `Scan` of its keys, read only), a sample of those keys read back one by one
//! (`GetItem`, and whether production still has them), and the instance's own key checks.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::drill::checks::{compare_counts, CheckResult, DrillCheck, DrillSpec, LiveCount};
use lifeboat::drill::sample::{sample_read_back, Sampler};
use lifeboat::ports::{PortError, SandboxInspector};
use serde_json::{Map, Value};

use super::dynamodb_items::item_count;
use super::dynamodb_merge::key_schema;
use super::port_error;

/// How many of a sandbox's keys are read back.
const SAMPLE_KEYS: usize = 20;

type Key = HashMap<String, AttributeValue>;

pub struct DynamoInspector {
    client: Client,
}

impl DynamoInspector {
    pub fn new(client: Client) -> Self {
        DynamoInspector { client }
    }

    /// Every item of `table`, counted (a drill's sandbox is read whole: every page must be
    /// readable), and a sample of its keys from across the pass. Only the keys are
    /// returned: what the scan reads costs the same. Production's count is its table
    /// description's (updated about every six hours), so that a drill never scans a
    /// customer's production table.
    async fn scanned(&self, table: &str) -> Result<(u64, Vec<Key>), PortError> {
        let names = self.key_names(table).await?;
        let projection: Vec<String> = (0..names.len()).map(|i| format!("#k{i}")).collect();
        let mut sampler = Sampler::new(SAMPLE_KEYS);
        let mut count = 0u64;
        let mut start: Option<Key> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .projection_expression(projection.join(", "))
                .set_expression_attribute_names(Some(
                    projection.iter().cloned().zip(names.iter().cloned()).collect(),
                ))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error("Scan", format!("dynamodb:{table}"), e))?;
            count += page.count().max(0) as u64;
            page.items().iter().for_each(|item| sampler.offer(item.clone()));
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok((count, sampler.finish())),
            }
        }
    }

    async fn key_names(&self, table: &str) -> Result<Vec<String>, PortError> {
        Ok(key_schema(&self.client, table).await?.names())
    }

    async fn has(&self, table: &str, key: &Key, consistent: bool) -> Result<bool, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key.clone()))
            .consistent_read(consistent)
            .projection_expression("#k")
            .expression_attribute_names("#k", key.keys().next().cloned().unwrap_or_default())
            .send()
            .await
            .map_err(|e| port_error("GetItem", format!("dynamodb:{table}"), e))?;
        Ok(out.item().is_some())
    }

    /// The sample read back from the sandbox (each must be found) and looked up in
    /// production (reported only: items deleted since the point are expected).
    async fn read_back(
        &self,
        production: &str,
        sandbox: &str,
        sample: &[Key],
    ) -> Result<CheckResult, PortError> {
        let (mut read_back, mut in_production) = (0, 0);
        for key in sample {
            read_back += usize::from(self.has(sandbox, key, true).await?);
            in_production += usize::from(self.has(production, key, false).await?);
        }
        Ok(sample_read_back(sandbox, sample.len(), read_back, in_production))
    }

    async fn key_check(&self, index: usize, sandbox: &str, key: &Map<String, Value>) -> CheckResult {
        let name = format!("check {index}: key {}", Value::Object(key.clone()));
        let attributes = match attribute_map(key) {
            Ok(a) => a,
            Err(e) => {
                return CheckResult {
                    name,
                    passed: false,
                    detail: e,
                }
            }
        };
        let found = self
            .client
            .get_item()
            .table_name(sandbox)
            .set_key(Some(attributes))
            .consistent_read(true)
            .send()
            .await;
        let (passed, detail) = match found {
            Ok(out) if out.item().is_some() => (true, "found".to_string()),
            Ok(_) => (false, "not found in the sandbox".to_string()),
            Err(e) => (
                false,
                port_error("GetItem", format!("dynamodb:{sandbox}"), e).to_string(),
            ),
        };
        CheckResult { name, passed, detail }
    }
}

/// A key in DynamoDB's JSON (`{"pk": {"S": "a"}, "sk": {"N": "1"}}`) as attribute values:
/// strings and numbers, what keys are made of (binary keys are not supported here).
fn attribute_map(key: &Map<String, Value>) -> Result<HashMap<String, AttributeValue>, String> {
    key.iter()
        .map(|(name, typed)| {
            let value = match (typed.get("S"), typed.get("N")) {
                (Some(Value::String(s)), None) => AttributeValue::S(s.clone()),
                (None, Some(Value::String(n))) => AttributeValue::N(n.clone()),
                _ => {
                    return Err(format!(
                        "key attribute {name}: only {{\"S\": …}} and {{\"N\": \"…\"}} are supported"
                    ))
                }
            };
            Ok((name.clone(), value))
        })
        .collect()
}

#[async_trait]
impl SandboxInspector for DynamoInspector {
    fn kind(&self) -> ResourceKind {
        ResourceKind::DynamoTable
    }

    async fn inspect(
        &self,
        production: &ResourceKey,
        sandbox: &str,
        spec: &DrillSpec,
    ) -> Result<Vec<CheckResult>, PortError> {
        let live = BTreeMap::from([(
            production.name.clone(),
            LiveCount::Known {
                rows: item_count(&self.client, &production.name).await?,
                from: "DynamoDB's item count, refreshed about every six hours",
            },
        )]);
        let (count, sample) = self.scanned(sandbox).await?;
        let restored = BTreeMap::from([(production.name.clone(), Some(count))]);
        let mut results = compare_counts(&live, &restored);
        results.push(self.read_back(&production.name, sandbox, &sample).await?);
        for (index, check) in spec.checks.iter().enumerate() {
            if let DrillCheck::Key { table, key } = check {
                if table.as_deref().is_none_or(|t| t == production.name) {
                    results.push(self.key_check(index, sandbox, key).await);
                }
            }
        }
        Ok(results)
    }
}
