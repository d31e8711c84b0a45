//! The snapshot-creator Lambda: wires the AWS adapters and runs the handler.

use std::sync::Arc;

use lambda_runtime::Error;
use lifeboat_aws::{self as aws, CatalogTable};
use lifeboat_function::config::Settings;
use lifeboat_function::{bootstrap, pacing};
use snapshot_creator::Creator;

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstrap::serve(
        Settings::from_env,
        async |settings: &Settings| build(settings).await,
        async |creator: &Creator, event, now| creator.invoke(event, now).await,
    )
    .await
}

async fn build(settings: &Settings) -> Creator {
    let config = aws::load_config(settings.tls_trust);
    Creator {
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &settings.catalog_table,
        )),
        services: pacing::paced(
            aws::backup_services(&config),
            settings.budget,
            settings.fanout.concurrency,
        ),
        policies: settings.policies.clone(),
        simulation: settings.simulation,
        shards: (settings.reports_bucket.as_deref())
            .map(|bucket| Arc::new(aws::reports_bucket(&config, bucket, settings.s3_force_path_style)) as _),
        fanout: settings.fanout,
    }
}
