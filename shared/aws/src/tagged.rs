//! Resources found by their Lifeboat tags through the Resource Groups Tagging API: one paged
//! call for a whole fleet instead of one tag lookup per resource, and, scoped to one
//! instance's tag value, a handful of resources out of thousands (what filing a restore
//! request needs, inside API Gateway's 29 seconds).

use std::collections::BTreeMap;

use aws_sdk_resourcegroupstagging::types::TagFilter;
use aws_sdk_resourcegroupstagging::Client;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::ports::PortError;

use super::port_error;

/// A tagged resource: its ARN and tags.
pub(crate) struct Tagged {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

/// The resources of `resource_type` (`rds:db`, `dynamodb:table`) carrying a
/// `lifeboat:instance` tag, of any value or of `instance` only.
pub(crate) async fn tagged(
    client: &Client,
    resource_type: &str,
    instance: Option<&str>,
) -> Result<Vec<Tagged>, PortError> {
    let filter = TagFilter::builder()
        .key(TAG_INSTANCE)
        .set_values(instance.map(|i| vec![i.to_string()]))
        .build();
    let mut found = Vec::new();
    let mut pages = client
        .get_resources()
        .resource_type_filters(resource_type)
        .tag_filters(filter)
        .into_paginator()
        .send();
    let scope = format!("{resource_type}:{}", instance.unwrap_or("*"));
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| port_error("GetResources", &scope, e))?;
        found.extend(page.resource_tag_mapping_list().iter().filter_map(|m| {
            Some(Tagged {
                arn: m.resource_arn()?.to_string(),
                tags: m
                    .tags()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
            })
        }));
    }
    Ok(found)
}
