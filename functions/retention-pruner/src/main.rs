//! The retention-pruner Lambda: wires the AWS adapters and runs the handler.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lifeboat_aws::{self as aws, CatalogTable, ReportsBucket};
use lifeboat_function::config::{ConfigError, Settings, REPORTS_BUCKET};
use retention_pruner::Pruner;
use serde_json::Value;
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lifeboat_function::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => return lifeboat_function::failure::serve_configuration_error(e).await,
    };
    let Some(bucket) = settings.reports_bucket.clone() else {
        return lifeboat_function::failure::serve_configuration_error(ConfigError::Missing(REPORTS_BUCKET))
            .await;
    };
    // Built on the first event rather than before the first poll: see `lifeboat_aws::tls`
    // and BENCHMARKS.md for what a cold start costs and where.
    let pruner = OnceCell::new();
    let (pruner, settings, bucket) = (&pruner, &settings, &bucket);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let pruner = pruner.get_or_init(|| build(settings, bucket)).await;
        pruner.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}

async fn build(settings: &Settings, bucket: &str) -> Pruner {
    let config = aws::load_config(settings.tls_trust);
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(settings.s3_force_path_style)
        .build();
    Pruner {
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &settings.catalog_table,
        )),
        services: aws::backup_services(&config),
        reports: Arc::new(ReportsBucket::new(
            aws_sdk_s3::Client::from_conf(s3),
            bucket.to_string(),
        )),
        policies: settings.policies.clone(),
        simulation: settings.simulation,
        max_deletions_per_run: settings.max_deletions_per_run,
        dry_run: settings.dry_run,
    }
}
