//! A selection checked against the key schema before anything is read: keys of the right
//! attributes and types (a partition key alone standing for its item collection), and filters
//! whose names and values only ever go into placeholders.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, Value};

use super::key_schema::{item_of, key_value, KeySchema};
use super::{resource, ItemSelection};
use crate::dynamodb_items::{key_of, Item};
use lifeboat::ports::{FailureKind, PortError};

/// A selection in DynamoDB's terms.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Checked {
    Keys {
        /// Distinct full keys, without those inside a selected item collection.
        full: Vec<Item>,
        /// Distinct partition key values whose whole item collection is selected.
        partitions: Vec<AttributeValue>,
    },
    Filter(Expression),
    Missing,
}

/// A condition with its placeholders.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Expression {
    pub(super) text: String,
    pub(super) names: HashMap<String, String>,
    pub(super) values: HashMap<String, AttributeValue>,
}

/// At most this many problems are named in one error.
pub(super) const MAX_PROBLEMS: usize = 20;

pub(super) fn check(
    selection: &ItemSelection,
    schema: &KeySchema,
    table: &str,
) -> Result<Checked, PortError> {
    let mut problems = Vec::new();
    let checked = match selection {
        ItemSelection::Keys(keys) => check_keys(keys, schema, &mut problems),
        ItemSelection::Filter(filter) => Checked::Filter(filter_expression(filter, schema, &mut problems)),
        ItemSelection::Missing => Checked::Missing,
    };
    if problems.is_empty() {
        return Ok(checked);
    }
    let more = problems.len().saturating_sub(MAX_PROBLEMS);
    problems.truncate(MAX_PROBLEMS);
    let mut message = problems.join("; ");
    if more > 0 {
        message.push_str(&format!("; and {more} more"));
    }
    Err(PortError::new(
        "SelectItems",
        resource(table),
        FailureKind::Refused,
        message,
    ))
}

pub(super) fn check_keys(keys: &[Value], schema: &KeySchema, problems: &mut Vec<String>) -> Checked {
    if keys.is_empty() {
        problems.push("keys must name at least one key".into());
    }
    let names = schema.names();
    let key_list = names.join(", ");
    let mut full: Vec<Item> = Vec::new();
    let mut partitions: Vec<AttributeValue> = Vec::new();
    let mut seen_full = HashSet::new();
    let mut seen_partitions = HashSet::new();
    for (i, key) in keys.iter().enumerate() {
        let object: Map<String, Value> = match key {
            Value::Object(o) => o.clone(),
            Value::String(_) | Value::Number(_) => {
                Map::from_iter([(schema.partition.name.clone(), key.clone())])
            }
            _ => {
                problems.push(format!(
                    "keys[{i}] must be an object of key attributes ({key_list}) or the partition key's value"
                ));
                continue;
            }
        };
        let mut item = Item::new();
        let mut ok = true;
        for (name, value) in &object {
            match schema.attribute(name) {
                None => {
                    problems.push(format!(
                        "keys[{i}].{name} is not a key attribute (the key is {key_list})"
                    ));
                    ok = false;
                }
                Some(attribute) => match key_value(value, attribute.kind) {
                    Ok(v) => {
                        item.insert(name.clone(), v);
                    }
                    Err(why) => {
                        problems.push(format!("keys[{i}].{name} {why}"));
                        ok = false;
                    }
                },
            }
        }
        if !object.contains_key(&schema.partition.name) {
            problems.push(format!(
                "keys[{i}] lacks the partition key {}",
                schema.partition.name
            ));
            ok = false;
        }
        if !ok {
            continue;
        }
        let whole_collection = schema.sort.as_ref().is_some_and(|s| !item.contains_key(&s.name));
        if whole_collection {
            let value = item.remove(&schema.partition.name).expect("checked above");
            if seen_partitions.insert(key_of(&item_of(&schema.partition.name, &value), &names[..1])) {
                partitions.push(value);
            }
        } else if seen_full.insert(key_of(&item, &names)) {
            full.push(item);
        }
    }
    // A full key inside a selected item collection would be read twice.
    let partition = &names[..1];
    full.retain(|k| !seen_partitions.contains(&key_of(k, partition)));
    Checked::Keys { full, partitions }
}

/// `#f0 = :v0 AND #f1 = :v1 …`: the attribute names and values only ever as placeholders.
pub(super) fn filter_expression(
    filter: &Map<String, Value>,
    schema: &KeySchema,
    problems: &mut Vec<String>,
) -> Expression {
    if filter.is_empty() {
        problems.push("filter must name at least one attribute".into());
    }
    let mut terms = Vec::new();
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    for (i, (name, value)) in filter.iter().enumerate() {
        if name.is_empty() {
            problems.push(format!("filter has an empty attribute name (entry {i})"));
            continue;
        }
        let value = match schema.attribute(name) {
            Some(attribute) => match key_value(value, attribute.kind) {
                Ok(v) => v,
                Err(why) => {
                    problems.push(format!("filter.{name} {why}"));
                    continue;
                }
            },
            None => plain_value(value),
        };
        terms.push(format!("#f{i} = :v{i}"));
        names.insert(format!("#f{i}"), name.clone());
        values.insert(format!(":v{i}"), value);
    }
    Expression {
        text: terms.join(" AND "),
        names,
        values,
    }
}

/// A plain JSON value as the attribute value it most naturally is.
pub(super) fn plain_value(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(a) => AttributeValue::L(a.iter().map(plain_value).collect()),
        Value::Object(o) => AttributeValue::M(o.iter().map(|(k, v)| (k.clone(), plain_value(v))).collect()),
    }
}
