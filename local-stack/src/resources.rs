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
    let fail = |e: aws_sdk_dynamodb::error::BuildError| StackError::aws("CreateTable", e);
    let mut req = stack
        .dynamodb()
        .create_table()
        .table_name(name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(fail)?,
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(fail)?,
        )
        .billing_mode(BillingMode::PayPerRequest);
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
