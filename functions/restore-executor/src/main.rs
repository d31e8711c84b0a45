//! The restore-executor Lambda: wires the AWS adapters and serves the state machine's tasks.

use std::sync::Arc;

use lambda_runtime::Error;
use lifeboat::ports::ObjectStore;
use lifeboat_aws::dynamodb_merger::DynamoMerger;
use lifeboat_aws::dynamodb_restore::DynamoRestorer;
use lifeboat_aws::rds_restore::RdsRestorer;
use lifeboat_aws::{self as aws, CatalogTable, EventBus, ReportsBucket, RequestsTable};
use lifeboat_function::bootstrap;
use lifeboat_function::failure::step_failure;
use lifeboat_function::status_events::Announcer;
use lifeboat_postgres::{Connector, PgMerger};
use restore_executor::settings::ExecutorSettings;
use restore_executor::{Executor, ACTOR};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstrap::serve(
        ExecutorSettings::from_env,
        async |settings: &ExecutorSettings| build(settings),
        async |executor: &Executor, event, now| executor.handle(event, now).await.map_err(step_failure),
    )
    .await
}

fn build(settings: &ExecutorSettings) -> Executor {
    let config = aws::load_config(settings.common.tls_trust);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(settings.common.s3_force_path_style)
        .build();
    let requests = Arc::new(RequestsTable::new(dynamodb.clone(), &settings.requests_table));
    let reports: Arc<dyn ObjectStore> = Arc::new(ReportsBucket::new(
        aws_sdk_s3::Client::from_conf(s3),
        settings.reports_bucket.clone(),
    ));
    Executor {
        requests: requests.clone(),
        locks: requests,
        catalog: Arc::new(CatalogTable::new(
            dynamodb.clone(),
            &settings.common.catalog_table,
        )),
        services: aws::backup_services(&config),
        restorers: vec![
            Arc::new(RdsRestorer::new(aws_sdk_rds::Client::new(&config))),
            Arc::new(DynamoRestorer::new(
                dynamodb.clone(),
                &settings.requests_table,
                settings.copy_back,
            )),
        ],
        reports: reports.clone(),
        mergers: vec![
            Arc::new(PgMerger::new(
                Connector::for_function(&config, settings.postgres_url.as_deref(), &settings.db_ca_bundle),
                reports.clone(),
            )),
            Arc::new(DynamoMerger::new(dynamodb, reports, &settings.requests_table)),
        ],
        batch_rows: settings.batch_rows,
        merge_budget: settings.merge_budget,
        shard_budget: settings.shard_budget,
        roles: settings.roles.clone(),
        events: Announcer::new(
            Arc::new(EventBus::for_function(&config, &settings.common.event_bus)),
            ACTOR,
        ),
    }
}
