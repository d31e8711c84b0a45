//! Building blocks of the DynamoDB tables the local stack creates (the same tables as
//! `infra/template.yaml`'s).

use aws_sdk_dynamodb::types::{AttributeDefinition, KeySchemaElement, KeyType, ScalarAttributeType};

use crate::StackError;

pub fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StackError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| StackError::aws("KeySchemaElement", e))
}

pub fn string_attribute(name: &str) -> Result<AttributeDefinition, StackError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| StackError::aws("AttributeDefinition", e))
}
