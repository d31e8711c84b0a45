//! The restore-executor Lambda: wires the AWS adapters and serves the state machine's tasks.

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use lifeboat::aws::dynamodb_restore::DynamoRestorer;
use lifeboat::aws::rds_restore::RdsRestorer;
use lifeboat::aws::{self, CatalogTable, ReportsBucket, RequestsTable};
use lifeboat::config::{ConfigError, Settings, REPORTS_BUCKET};
use restore_executor::Executor;
use serde_json::Value;
use tokio::sync::OnceCell;

pub const REQUESTS_TABLE: &str = "LIFEBOAT_REQUESTS_TABLE";

#[tokio::main]
async fn main() -> Result<(), Error> {
    lifeboat::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => return lifeboat::failure::serve_configuration_error(e).await,
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
        return lifeboat::failure::serve_configuration_error(ConfigError::Missing(missing)).await;
    };
    // Built on the first event, as in the other functions.
    let executor = OnceCell::new();
    let (executor, settings, bucket, table) = (&executor, &settings, &bucket, &table);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let executor = executor.get_or_init(|| build(settings, bucket, table)).await;
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

async fn build(settings: &Settings, bucket: &str, table: &str) -> Executor {
    let config = aws::load_config(settings.tls_trust);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(settings.s3_force_path_style)
        .build();
    let requests = Arc::new(RequestsTable::new(dynamodb.clone(), table));
    Executor {
        requests: requests.clone(),
        locks: requests,
        catalog: Arc::new(CatalogTable::new(dynamodb.clone(), &settings.catalog_table)),
        services: aws::backup_services(&config),
        restorers: vec![
            Arc::new(RdsRestorer::new(aws_sdk_rds::Client::new(&config))),
            Arc::new(DynamoRestorer::new(dynamodb)),
        ],
        reports: Arc::new(ReportsBucket::new(
            aws_sdk_s3::Client::from_conf(s3),
            bucket.to_string(),
        )),
    }
}
