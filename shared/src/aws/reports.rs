//! Reports, written to the reports bucket.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::port_error;
use crate::ports::{PortError, ReportSink};

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
impl ReportSink for ReportsBucket {
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
}
