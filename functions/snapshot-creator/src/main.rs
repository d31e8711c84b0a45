//! The snapshot-creator Lambda: wires the AWS adapters and runs the handler.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lifeboat::aws::{self, CatalogTable};
use lifeboat::config::Settings;
use serde_json::Value;
use snapshot_creator::Creator;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lifeboat::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => return lifeboat::failure::serve_configuration_error(e).await,
    };
    let config = aws::load_config().await;
    let creator = Creator {
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &settings.catalog_table,
        )),
        services: aws::backup_services(&config),
        policies: settings.policies,
        simulation: settings.simulation,
    };
    let creator = &creator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        creator.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}
