//! The AWS adapters: the ports implemented with the AWS SDK for Rust.
//!
//! Each adapter turns SDK types into domain types at the boundary and SDK errors into
//! [`PortError`]s that name the operation and resource. Endpoints come from the standard SDK
//! configuration, so the local stack only sets `AWS_ENDPOINT_URL`.

pub mod bucket_access;
pub mod catalog_table;
pub mod dynamodb;
mod dynamodb_backups;
pub mod dynamodb_copy_back;
pub mod dynamodb_inspection;
pub mod dynamodb_items;
pub mod dynamodb_merge;
pub mod dynamodb_merger;
pub mod dynamodb_policies;
mod dynamodb_provenance;
pub mod dynamodb_restore;
pub mod event_bus;
pub mod rds;
pub mod rds_restore;
pub mod rds_sharing;
pub mod reports;
pub mod requests_table;
mod tagged;
pub mod tls;
pub mod workflow;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use lifeboat::ports::{FailureKind, PortError};

pub use bucket_access::S3BucketAccess;
pub use catalog_table::{
    CatalogTable, OWING, OWING_INDEX, PRESENT, PRESENT_BY_RESOURCE_INDEX, PRESENT_INDEX,
};
pub use dynamodb::DynamoBackups;
pub use dynamodb_policies::DynamoTablePolicies;
pub use event_bus::EventBus;
pub use rds::RdsSnapshots;
pub use rds_sharing::RdsSharing;
pub use reports::ReportsBucket;
pub use requests_table::RequestsTable;
pub use tls::TlsTrust;
pub use workflow::StepFunctions;

/// The backup services Lifeboat manages, built from one SDK configuration.
pub fn backup_services(
    config: &aws_config::SdkConfig,
) -> Vec<std::sync::Arc<dyn lifeboat::ports::BackupService>> {
    vec![
        std::sync::Arc::new(RdsSnapshots::new(
            aws_sdk_rds::Client::new(config),
            aws_sdk_resourcegroupstagging::Client::new(config),
        )),
        std::sync::Arc::new(DynamoBackups::new(
            aws_sdk_dynamodb::Client::new(config),
            aws_sdk_resourcegroupstagging::Client::new(config),
        )),
    ]
}

/// The reports bucket (retention reports, restore reports, a fanned-out tick's shards).
/// `force_path_style` for endpoints without virtual-hosted buckets (the local stack).
pub fn reports_bucket(config: &aws_config::SdkConfig, bucket: &str, force_path_style: bool) -> ReportsBucket {
    ReportsBucket::new(s3_client(config, force_path_style), bucket)
}

/// The reports bucket's public-access settings (see [`reports_bucket`]).
pub fn reports_bucket_access(
    config: &aws_config::SdkConfig,
    bucket: &str,
    force_path_style: bool,
) -> S3BucketAccess {
    S3BucketAccess::new(s3_client(config, force_path_style), bucket)
}

fn s3_client(config: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(s3)
}

/// How many times the SDK tries one call: AWS's standard 3 spends a throttled call's tries
/// within about three seconds, less than one refill of a busy account's budget.
pub const MAX_ATTEMPTS: u32 = 5;

/// Adaptive retry: besides backing off and retrying throttling and transient errors, as the
/// standard mode does, the client slows its own sending rate once it is throttled, so the
/// shards of a tick that share an account's budget settle under it instead of spending it
/// on refusals.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS)
}

/// The SDK configuration of a function, from the environment Lambda gives it: the region
/// (`AWS_REGION`), the function role's credentials (`AWS_ACCESS_KEY_ID`, ...) and, on the
/// local stack, `AWS_ENDPOINT_URL`; with the HTTPS client that trusts what `trust` says.
///
/// Not `aws_config::defaults`: its provider chains (profiles, web identity through STS,
/// container and instance metadata, credential processes) never apply inside Lambda, and
/// linking them costs every cold start relocations and pages (see BENCHMARKS.md).
pub fn load_config(trust: TlsTrust) -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION")
        .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
        .ok()
        .map(aws_config::Region::new);
    let credentials = aws_credential_types::provider::SharedCredentialsProvider::new(
        aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
    );
    let mut builder = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .retry_config(retry_config())
        .time_source(aws_smithy_async::time::SystemTimeSource::new());
    if let Some(sleep) = aws_smithy_async::rt::sleep::default_async_sleep() {
        builder = builder.sleep_impl(sleep);
    }
    if let Some(url) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|u| !u.is_empty()) {
        builder = builder.endpoint_url(url);
    }
    if let Some(client) = tls::https_client(trust) {
        builder = builder.http_client(client);
    }
    builder.build()
}

const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
];

const NOT_FOUND: &[&str] = &[
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "BackupNotFoundException",
    "TableNotFoundException",
    "ResourceNotFoundException",
    "NoSuchBucket",
    "NoSuchKey",
];

const CONFLICT: &[&str] = &[
    "ConditionalCheckFailedException",
    "DBSnapshotAlreadyExists",
    "DBSnapshotAlreadyExistsFault",
    "TransactionConflictException",
    "BackupInUseException",
    "InvalidDBSnapshotState",
    "InvalidDBSnapshotStateFault",
    "ExecutionAlreadyExists",
    // A restore target that a retried step asked for already.
    "DBInstanceAlreadyExists",
    "DBInstanceAlreadyExistsFault",
    "TableAlreadyExistsException",
    "ResourceInUseException",
    // The instance is busy (backing up, renaming, being created): try again later.
    "InvalidDBInstanceState",
    "InvalidDBInstanceStateFault",
    // A task token that is no longer waiting (answered, timed out, or never issued).
    "TaskDoesNotExist",
    "TaskTimedOut",
    "InvalidToken",
];

/// Turns an SDK error into a port error for `operation` on `resource`.
pub(crate) fn port_error<E>(
    operation: &'static str,
    resource: impl std::fmt::Display,
    err: SdkError<E, HttpResponse>,
) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (kind, message) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("Unknown");
            let kind = if THROTTLING.contains(&code) {
                FailureKind::Throttled
            } else if NOT_FOUND.contains(&code) {
                FailureKind::NotFound
            } else if CONFLICT.contains(&code) {
                FailureKind::Conflict
            } else if service.raw().status().is_server_error() {
                FailureKind::Unavailable
            } else {
                FailureKind::Refused
            };
            (kind, format!("{code}: {}", e.message().unwrap_or("no message")))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            (FailureKind::Unavailable, describe(&err))
        }
        _ => (FailureKind::Refused, describe(&err)),
    };
    PortError::new(operation, resource, kind, message)
}

/// An SDK time as a UTC time (`None` beyond chrono's range).
pub(crate) fn utc(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// An error with its chain of sources, on one line.
pub fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
