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
}
