//! What a restore drill reads in a DynamoDB sandbox: its item count against production's
//! (a `Scan` counting, read only) and the instance's own key checks (`GetItem`).

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use aws_sdk_dynamodb::Client;
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::drill::checks::{compare_counts, CheckResult, DrillCheck, DrillSpec};
use lifeboat::ports::{PortError, SandboxInspector};
use serde_json::{Map, Value};

use super::port_error;

pub struct DynamoInspector {
    client: Client,
}

impl DynamoInspector {
    pub fn new(client: Client) -> Self {
        DynamoInspector { client }
    }

    /// Every item of `table`, counted (a drill's sandbox is read whole: every page must be
    /// readable). Production's count is its table description's (updated about every six
    /// hours), so that a drill never scans a customer's production table.
    async fn scanned_count(&self, table: &str) -> Result<u64, PortError> {
        let mut count = 0u64;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .select(Select::Count)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error("Scan", format!("dynamodb:{table}"), e))?;
            count += page.count().max(0) as u64;
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(count),
            }
        }
    }

    async fn described_count(&self, table: &str) -> Result<u64, PortError> {
        let out = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| port_error("DescribeTable", format!("dynamodb:{table}"), e))?;
        Ok(out.table().and_then(|t| t.item_count()).unwrap_or(0).max(0) as u64)
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
            self.described_count(&production.name).await?,
        )]);
        let restored = BTreeMap::from([(production.name.clone(), Some(self.scanned_count(sandbox).await?))]);
        let mut results = compare_counts(&live, &restored);
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
