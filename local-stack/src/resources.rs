//! Customer resources in the local stack: RDS instances and DynamoDB tables, tagged as a
//! customer instance would be.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};

use crate::stack::LocalStack;
use crate::StackError;

/// An RDS PostgreSQL instance with these tags and backup retention (days).
pub async fn rds_instance(
    stack: &LocalStack,
    id: &str,
    tags: &[(&str, &str)],
    retention_days: i32,
) -> Result<(), StackError> {
    let mut req = stack
        .rds()
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .allocated_storage(20)
        .master_username("lifeboat")
        .master_user_password("local-only-password")
        .backup_retention_period(retention_days);
    for (k, v) in tags {
        req = req.tags(aws_sdk_rds::types::Tag::builder().key(*k).value(*v).build());
    }
    req.send()
        .await
        .map_err(|e| StackError::aws(&format!("CreateDBInstance {id}"), e))?;
    Ok(())
}

/// A DynamoDB table keyed by `pk`, with these tags (point-in-time recovery off, as new tables are).
pub async fn dynamodb_table(stack: &LocalStack, name: &str, tags: &[(&str, &str)]) -> Result<(), StackError> {
    dynamodb_table_keyed(stack, name, None, tags).await
}

/// A DynamoDB table keyed by `pk` and, given one, a string sort key (item collections).
pub async fn dynamodb_table_keyed(
    stack: &LocalStack,
    name: &str,
    sort_key: Option<&str>,
    tags: &[(&str, &str)],
) -> Result<(), StackError> {
    let fail = |e: aws_sdk_dynamodb::error::BuildError| StackError::aws("CreateTable", e);
    let mut req = stack
        .dynamodb()
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest);
    let keys = [("pk", KeyType::Hash)]
        .into_iter()
        .chain(sort_key.map(|s| (s, KeyType::Range)));
    for (attribute, key_type) in keys {
        req = req
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(attribute)
                    .key_type(key_type)
                    .build()
                    .map_err(fail)?,
            )
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(fail)?,
            );
    }
    for (k, v) in tags {
        req = req.tags(
            aws_sdk_dynamodb::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .map_err(fail)?,
        );
    }
    req.send()
        .await
        .map_err(|e| StackError::aws(&format!("CreateTable {name}"), e))?;
    Ok(())
}
