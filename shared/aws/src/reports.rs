//! Reports, written to the reports bucket.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::port_error;
use lifeboat::ports::{ObjectStore, PortError};

pub struct ReportsBucket {
    client: Client,
    bucket: String,
}

impl ReportsBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        ReportsBucket {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl ObjectStore for ReportsBucket {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| port_error("PutObject", format!("s3://{}/{key}", self.bucket), e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, PortError> {
        let at = format!("s3://{}/{key}", self.bucket);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| port_error("GetObject", &at, e))?;
        let body = out.body.collect().await.map_err(|e| {
            PortError::new(
                "GetObject",
                &at,
                lifeboat::ports::FailureKind::Unavailable,
                e.to_string(),
            )
        })?;
        Ok(body.into_bytes().to_vec())
    }

    async fn list(&self, prefix: &str, start_after: &str, limit: usize) -> Result<Vec<String>, PortError> {
        let at = format!("s3://{}/{prefix}", self.bucket);
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .start_after(start_after)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("ListObjectsV2", &at, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_string));
            if keys.len() >= limit {
                keys.truncate(limit);
                break;
            }
        }
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        // S3 answers a delete of a missing key with success.
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| port_error("DeleteObject", format!("s3://{}/{key}", self.bucket), e))?;
        Ok(())
    }
}
