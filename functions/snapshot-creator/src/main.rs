//! The snapshot-creator Lambda: wires the AWS adapters and runs the handler.

use std::sync::Arc;

use lambda_runtime::{service_fn, Error, LambdaEvent};
use lifeboat_aws::{self as aws, CatalogTable};
use lifeboat_function::config::Settings;
use serde_json::Value;
use snapshot_creator::Creator;
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lifeboat_function::telemetry::init();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => return lifeboat_function::failure::serve_configuration_error(e).await,
    };
    // Built on the first event rather than before the first poll: see `lifeboat_aws::tls`
    // and BENCHMARKS.md for what a cold start costs and where.
    let creator = OnceCell::new();
    let (creator, settings) = (&creator, &settings);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let creator = creator.get_or_init(|| build(settings)).await;
        creator.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}

async fn build(settings: &Settings) -> Creator {
    let config = aws::load_config(settings.tls_trust);
    Creator {
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &settings.catalog_table,
        )),
        services: aws::backup_services(&config),
        policies: settings.policies.clone(),
        simulation: settings.simulation,
    }
}
