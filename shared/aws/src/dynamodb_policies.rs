//! DynamoDB tables' resource policies: the account's tables, a table's policy read with its
//! revision, and rewritten or deleted only at that revision, so that a change someone made
//! meanwhile is never overwritten.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::port_error;
use lifeboat::ports::{FailureKind, PortError, TablePolicies, TablePolicy};

pub struct DynamoTablePolicies {
    client: Client,
    /// `arn:<partition>:dynamodb:<region>:<account>:table/`: the policy calls take ARNs, and
    /// `ListTables` answers names.
    arn_prefix: String,
}

impl DynamoTablePolicies {
    /// The tables of `account`, in the client's region.
    pub fn new(client: Client, account: &str) -> Self {
        let region = client
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let arn_prefix = format!("arn:{}:dynamodb:{region}:{account}:table/", partition(&region));
        DynamoTablePolicies { client, arn_prefix }
    }

    fn arn(&self, table: &str) -> String {
        format!("{}{table}", self.arn_prefix)
    }
}

/// The AWS partition of `region`.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A rewrite refused because the policy is not at the revision read (DynamoDB answers
/// `PolicyNotFoundException`): someone changed it meanwhile.
fn changed_meanwhile(operation: &'static str, table: &str, e: PortError) -> PortError {
    PortError::new(
        operation,
        format!("dynamodb:{table}"),
        FailureKind::Conflict,
        format!(
            "the policy changed since it was read, nothing written ({})",
            e.message
        ),
    )
}

#[async_trait]
impl TablePolicies for DynamoTablePolicies {
    async fn tables(&self) -> Result<Vec<String>, PortError> {
        let mut names = Vec::new();
        let mut pages = self.client.list_tables().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("ListTables", "dynamodb:*", e))?;
            names.extend(page.table_names().iter().cloned());
        }
        Ok(names)
    }

    async fn policy(&self, table: &str) -> Result<Option<TablePolicy>, PortError> {
        match self
            .client
            .get_resource_policy()
            .resource_arn(self.arn(table))
            .send()
            .await
        {
            Ok(out) => Ok(Some(TablePolicy {
                document: out.policy().unwrap_or_default().to_string(),
                revision: out.revision_id().unwrap_or_default().to_string(),
            })),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_policy_not_found_exception() || s.is_resource_not_found_exception()
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(port_error("GetResourcePolicy", format!("dynamodb:{table}"), e)),
        }
    }

    async fn tags(&self, table: &str) -> Result<BTreeMap<String, String>, PortError> {
        let mut tags = BTreeMap::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_tags_of_resource()
                .resource_arn(self.arn(table))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| port_error("ListTagsOfResource", format!("dynamodb:{table}"), e))?;
            tags.extend(
                out.tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string())),
            );
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(tags),
            }
        }
    }

    async fn replace_policy(&self, table: &str, document: &str, revision: &str) -> Result<(), PortError> {
        match self
            .client
            .put_resource_policy()
            .resource_arn(self.arn(table))
            .policy(document)
            .expected_revision_id(revision)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let refused_as_changed = e
                    .as_service_error()
                    .is_some_and(|s| s.is_policy_not_found_exception());
                let e = port_error("PutResourcePolicy", format!("dynamodb:{table}"), e);
                Err(if refused_as_changed {
                    changed_meanwhile("PutResourcePolicy", table, e)
                } else {
                    e
                })
            }
        }
    }

    async fn delete_policy(&self, table: &str, revision: &str) -> Result<(), PortError> {
        match self
            .client
            .delete_resource_policy()
            .resource_arn(self.arn(table))
            .expected_revision_id(revision)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let refused_as_changed = e
                    .as_service_error()
                    .is_some_and(|s| s.is_policy_not_found_exception());
                let e = port_error("DeleteResourcePolicy", format!("dynamodb:{table}"), e);
                Err(if refused_as_changed {
                    changed_meanwhile("DeleteResourcePolicy", table, e)
                } else {
                    e
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_s_arn_is_in_the_partition_of_its_region() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
    }
}
