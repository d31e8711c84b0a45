//! The retention-pruner Lambda: wires the AWS adapters and runs the handler.

use std::sync::Arc;

use lambda_runtime::Error;
use lifeboat_aws::{self as aws, CatalogTable};
use lifeboat_function::config::{ConfigError, Settings, REPORTS_BUCKET};
use lifeboat_function::{bootstrap, pacing};
use retention_pruner::Pruner;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstrap::serve(
        || {
            let settings = Settings::from_env()?;
            let bucket = (settings.reports_bucket.clone()).ok_or(ConfigError::Missing(REPORTS_BUCKET))?;
            Ok((settings, bucket))
        },
        async |(settings, bucket): &(Settings, String)| build(settings, bucket).await,
        async |pruner: &Pruner, event, now| pruner.invoke(event, now).await,
    )
    .await
}

async fn build(settings: &Settings, bucket: &str) -> Pruner {
    let config = aws::load_config(settings.tls_trust);
    Pruner {
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &settings.catalog_table,
        )),
        services: pacing::paced(
            aws::backup_services(&config),
            settings.budget,
            settings.fanout.concurrency,
        ),
        reports: Arc::new(aws::reports_bucket(&config, bucket, settings.s3_force_path_style)),
        policies: settings.policies.clone(),
        simulation: settings.simulation,
        max_deletions_per_resource: settings.max_deletions_per_resource,
        dry_run: settings.dry_run,
        fanout: settings.fanout,
    }
}
