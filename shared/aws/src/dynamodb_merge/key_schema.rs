//! A table's primary key: its attributes and their types, read from `DescribeTable`, and
//! keys given as JSON (the way a selection names them) turned into attribute values and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, KeyType, ScalarAttributeType};
use aws_sdk_dynamodb::Client;
use aws_smithy_types::base64;
use serde_json::Value;

use super::encoding::{dynamo_json, is_number};
use super::{resource, Calls};
use crate::dynamodb_items::Item;
use crate::port_error;
use lifeboat::ports::{FailureKind, PortError};

/// The type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    S,
    N,
    B,
}

impl KeyKind {
    pub(super) fn expected(self) -> &'static str {
        match self {
            KeyKind::S => "a non-empty string (the key attribute's type is S)",
            KeyKind::N => "a number (the key attribute's type is N)",
            KeyKind::B => "a non-empty base64 string (the key attribute's type is B)",
        }
    }

    pub(super) fn holds(self, value: &AttributeValue) -> bool {
        matches!(
            (self, value),
            (KeyKind::S, AttributeValue::S(_))
                | (KeyKind::N, AttributeValue::N(_))
                | (KeyKind::B, AttributeValue::B(_))
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyAttribute {
    pub name: String,
    pub kind: KeyKind,
}

/// A table's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchema {
    pub partition: KeyAttribute,
    pub sort: Option<KeyAttribute>,
}

impl KeySchema {
    /// The key attributes' names, partition key first.
    pub fn names(&self) -> Vec<String> {
        self.attributes().map(|a| a.name.clone()).collect()
    }

    pub(super) fn attributes(&self) -> impl Iterator<Item = &KeyAttribute> {
        std::iter::once(&self.partition).chain(self.sort.as_ref())
    }

    pub(super) fn attribute(&self, name: &str) -> Option<&KeyAttribute> {
        self.attributes().find(|a| a.name == name)
    }

    /// The key attributes of `item`.
    pub(crate) fn key(&self, item: &Item) -> Item {
        self.attributes()
            .filter_map(|a| Some((a.name.clone(), item.get(&a.name)?.clone())))
            .collect()
    }

    /// The key of `item` as JSON, the way a selection names it.
    pub fn key_json(&self, item: &Item) -> Value {
        Value::Object(
            self.attributes()
                .filter_map(|a| Some((a.name.clone(), key_value_json(item.get(&a.name)?))))
                .collect(),
        )
    }

    /// `ProjectionExpression` and names reading only the key attributes.
    pub(crate) fn projection(&self) -> (String, HashMap<String, String>) {
        let names: HashMap<String, String> = self
            .attributes()
            .enumerate()
            .map(|(i, a)| (format!("#k{i}"), a.name.clone()))
            .collect();
        let mut placeholders: Vec<&String> = names.keys().collect();
        placeholders.sort();
        let text = placeholders
            .into_iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        (text, names)
    }
}

/// The key schema of `table`, from `DescribeTable`.
pub async fn key_schema(client: &Client, table: &str) -> Result<KeySchema, PortError> {
    key_schema_counted(client, table, &Calls::default()).await
}

pub(super) async fn key_schema_counted(
    client: &Client,
    table: &str,
    calls: &Calls,
) -> Result<KeySchema, PortError> {
    calls.count();
    let out = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(|e| port_error("DescribeTable", resource(table), e))?;
    let refused = |why: String| PortError::new("DescribeTable", resource(table), FailureKind::Refused, why);
    let description = out
        .table()
        .ok_or_else(|| refused("no table in the answer".into()))?;
    let kind_of = |name: &str| -> Result<KeyKind, PortError> {
        let definition = description
            .attribute_definitions()
            .iter()
            .find(|d| d.attribute_name() == name)
            .ok_or_else(|| refused(format!("no attribute definition of key attribute {name}")))?;
        match definition.attribute_type() {
            ScalarAttributeType::S => Ok(KeyKind::S),
            ScalarAttributeType::N => Ok(KeyKind::N),
            ScalarAttributeType::B => Ok(KeyKind::B),
            other => Err(refused(format!(
                "key attribute {name} has the unknown type {other}"
            ))),
        }
    };
    let mut partition = None;
    let mut sort = None;
    for element in description.key_schema() {
        let name = element.attribute_name().to_string();
        let attribute = KeyAttribute {
            kind: kind_of(&name)?,
            name,
        };
        match element.key_type() {
            KeyType::Hash => partition = Some(attribute),
            KeyType::Range => sort = Some(attribute),
            other => return Err(refused(format!("unknown key type {other}"))),
        }
    }
    Ok(KeySchema {
        partition: partition.ok_or_else(|| refused("the key schema has no partition key".into()))?,
        sort,
    })
}

pub(super) fn item_of(name: &str, value: &AttributeValue) -> Item {
    Item::from([(name.to_string(), value.clone())])
}

/// A key attribute's value from its JSON form.
pub(super) fn key_value(value: &Value, kind: KeyKind) -> Result<AttributeValue, String> {
    match (kind, value) {
        (KeyKind::S, Value::String(s)) if !s.is_empty() => Ok(AttributeValue::S(s.clone())),
        (KeyKind::N, Value::Number(n)) => Ok(AttributeValue::N(n.to_string())),
        (KeyKind::N, Value::String(s)) if is_number(s) => Ok(AttributeValue::N(s.clone())),
        (KeyKind::B, Value::String(s)) => match base64::decode(s) {
            Ok(bytes) if !bytes.is_empty() => Ok(AttributeValue::B(Blob::new(bytes))),
            _ => Err(format!("must be {}, not {value}", kind.expected())),
        },
        _ => Err(format!("must be {}, not {value}", kind.expected())),
    }
}

/// A key attribute's value as JSON: a string, a number (when JSON carries it exactly, else
/// the number's text), or base64.
pub(super) fn key_value_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => number_json(n),
        AttributeValue::B(b) => Value::String(base64::encode(b.as_ref())),
        other => dynamo_json(other).unwrap_or(Value::Null),
    }
}

pub(super) fn number_json(n: &str) -> Value {
    if let Ok(i) = n.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = n.parse::<u64>() {
        return Value::from(u);
    }
    match n.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
        Some(f) if f.to_string() == n => Value::Number(f),
        _ => Value::String(n.to_string()),
    }
}
