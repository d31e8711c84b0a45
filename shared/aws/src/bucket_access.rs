//! A bucket's public-access blocks, read and closed.

use async_trait::async_trait;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use aws_sdk_s3::Client;

use super::port_error;
use lifeboat::ports::{BucketAccess, PortError};

/// The error S3 answers for a bucket with no public-access block configured.
const NONE_CONFIGURED: &str = "NoSuchPublicAccessBlockConfiguration";
const BLOCKS: [&str; 4] = [
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
];

pub struct S3BucketAccess {
    client: Client,
    bucket: String,
}

impl S3BucketAccess {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3BucketAccess {
            client,
            bucket: bucket.into(),
        }
    }
}

#[async_trait]
impl BucketAccess for S3BucketAccess {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn public_openings(&self) -> Result<Vec<String>, PortError> {
        let config = match self
            .client
            .get_public_access_block()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(out) => out.public_access_block_configuration,
            Err(e) if e.code() == Some(NONE_CONFIGURED) => None,
            Err(e) => return Err(port_error("GetPublicAccessBlock", &self.bucket, e)),
        };
        let on = config.map_or([false; 4], |c| {
            [
                c.block_public_acls,
                c.ignore_public_acls,
                c.block_public_policy,
                c.restrict_public_buckets,
            ]
            .map(|b| b.unwrap_or(false))
        });
        Ok(BLOCKS
            .iter()
            .zip(on)
            .filter(|(_, on)| !on)
            .map(|(name, _)| format!("{name} off"))
            .collect())
    }

    async fn block_public_access(&self) -> Result<(), PortError> {
        let all = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.client
            .put_public_access_block()
            .bucket(&self.bucket)
            .public_access_block_configuration(all)
            .send()
            .await
            .map_err(|e| port_error("PutPublicAccessBlock", &self.bucket, e))?;
        Ok(())
    }
}
