//! The restore-executor Lambda: wires the AWS adapters and serves the state machine's tasks.

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use lifeboat::execution::selective::DEFAULT_BATCH_ROWS;
use lifeboat::ports::ReportSink;
use lifeboat::request::roles::Roles;
use lifeboat_aws::dynamodb_merger::DynamoMerger;
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_aws::rds_restore::RdsRestorer;
use lifeboat_aws::{self as aws, CatalogTable, ReportsBucket, RequestsTable};
use lifeboat_function::config::{ConfigError, Settings, REPORTS_BUCKET};
use lifeboat_postgres::{Connector, PgMerger};
use restore_executor::Executor;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::OnceCell;

pub const REQUESTS_TABLE: &str = "LIFEBOAT_REQUESTS_TABLE";
/// Who may confirm a restore (the same list the intake reads).
pub const ENGINEERING_PRINCIPALS: &str = "LIFEBOAT_ENGINEERING_PRINCIPALS";
/// The local stack's PostgreSQL server (a database per RDS instance). Unset in AWS.
pub const POSTGRES_URL: &str = "LIFEBOAT_POSTGRES_URL";
/// In AWS: the RDS certificate bundle (PEM) database connections are verified against.
pub const DB_CA_BUNDLE: &str = "LIFEBOAT_DB_CA_BUNDLE";
const DEFAULT_DB_CA_BUNDLE: &str = "/opt/rds-global-bundle.pem";
/// Rows per extract batch, and how long one merge invocation starts batches for.
pub const MERGE_BATCH_ROWS: &str = "LIFEBOAT_MERGE_BATCH_ROWS";
pub const MERGE_BUDGET_SECONDS: &str = "LIFEBOAT_MERGE_BUDGET_SECONDS";
/// How long one invocation runs a copy-back shard, and how many items a scanned page holds
/// (unset: DynamoDB's 1 MB pages).
pub const COPY_BACK_BUDGET_SECONDS: &str = "LIFEBOAT_COPY_BACK_BUDGET_SECONDS";
pub const COPY_BACK_PAGE_ITEMS: &str = "LIFEBOAT_COPY_BACK_PAGE_ITEMS";
/// How long an undo waits for a failed swap's shards in flight to stop (default 60 s), and
/// the largest table a rollback copies back (default 150 GiB).
pub const COPY_BACK_FENCE_SECONDS: &str = "LIFEBOAT_COPY_BACK_FENCE_SECONDS";
pub const COPY_BACK_MAX_GIB: &str = "LIFEBOAT_COPY_BACK_MAX_GIB";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lifeboat_function::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => return lifeboat_function::failure::serve_configuration_error(e).await,
    };
    let (Some(bucket), Some(table)) = (
        settings.reports_bucket.clone(),
        std::env::var(REQUESTS_TABLE).ok().filter(|t| !t.is_empty()),
    ) else {
        let missing = if settings.reports_bucket.is_none() {
            REPORTS_BUCKET
        } else {
            REQUESTS_TABLE
        };
        return lifeboat_function::failure::serve_configuration_error(ConfigError::Missing(missing)).await;
    };
    let roles = Roles::from_lists("", &std::env::var(ENGINEERING_PRINCIPALS).unwrap_or_default());
    if roles.engineering.is_empty() {
        return lifeboat_function::failure::serve_configuration_error(ConfigError::Missing(
            ENGINEERING_PRINCIPALS,
        ))
        .await;
    }
    // Built on the first event, as in the other functions.
    let executor = OnceCell::new();
    let (executor, settings, bucket, table, roles) = (&executor, &settings, &bucket, &table, &roles);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let executor = executor
            .get_or_init(|| build(settings, bucket, table, roles.clone()))
            .await;
        executor
            .handle(event.payload, chrono::Utc::now())
            .await
            // The step's stable name is the error type the definition's Retry and Catch match.
            .map_err(|e| Diagnostic {
                error_type: e.name.to_string(),
                error_message: e.message,
            })
    }))
    .await
}

async fn build(settings: &Settings, bucket: &str, table: &str, roles: Roles) -> Executor {
    let config = aws::load_config(settings.tls_trust);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(settings.s3_force_path_style)
        .build();
    let requests = Arc::new(RequestsTable::new(dynamodb.clone(), table));
    let dynamodb_client = dynamodb.clone();
    let reports: Arc<dyn ReportSink> = Arc::new(ReportsBucket::new(
        aws_sdk_s3::Client::from_conf(s3),
        bucket.to_string(),
    ));
    Executor {
        requests: requests.clone(),
        locks: requests,
        catalog: Arc::new(CatalogTable::new(dynamodb.clone(), &settings.catalog_table)),
        services: aws::backup_services(&config),
        restorers: vec![
            Arc::new(RdsRestorer::new(aws_sdk_rds::Client::new(&config))),
            Arc::new(DynamoRestorer::new(dynamodb, table, copy_back_settings())),
        ],
        reports: reports.clone(),
        mergers: vec![
            Arc::new(PgMerger::new(connector(&config), reports.clone())),
            Arc::new(DynamoMerger::new(dynamodb_client, reports, table)),
        ],
        batch_rows: number(MERGE_BATCH_ROWS).unwrap_or(DEFAULT_BATCH_ROWS).max(1),
        merge_budget: Duration::from_secs(number(MERGE_BUDGET_SECONDS).unwrap_or(600)),
        shard_budget: Duration::from_secs(number(COPY_BACK_BUDGET_SECONDS).unwrap_or(600)),
        roles,
    }
}

fn copy_back_settings() -> CopyBackSettings {
    let defaults = CopyBackSettings::default();
    CopyBackSettings {
        page_items: number(COPY_BACK_PAGE_ITEMS).and_then(|n| i32::try_from(n).ok()),
        fence_wait: number(COPY_BACK_FENCE_SECONDS).map_or(defaults.fence_wait, Duration::from_secs),
        max_bytes: number(COPY_BACK_MAX_GIB).map_or(defaults.max_bytes, |gib| gib << 30),
    }
}

fn number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// The local stack's server when `LIFEBOAT_POSTGRES_URL` is set, else RDS with TLS. A
/// connector that cannot be made answers every connection with why.
fn connector(config: &aws_config::SdkConfig) -> Connector {
    let made = match std::env::var(POSTGRES_URL).ok().filter(|u| !u.is_empty()) {
        Some(url) => Connector::local(&url),
        None => {
            let bundle = std::env::var(DB_CA_BUNDLE).unwrap_or_else(|_| DEFAULT_DB_CA_BUNDLE.to_string());
            Connector::rds(config, &bundle)
        }
    };
    made.unwrap_or_else(|e| {
        tracing::error!(error = %e, "no database connections for selective restores");
        Connector::Unavailable(e.message)
    })
}
