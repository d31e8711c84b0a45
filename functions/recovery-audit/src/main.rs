//! The recovery-audit Lambda: wires the AWS adapters and runs the handler.

use std::sync::Arc;

use lambda_runtime::Error;
use lifeboat_aws::event_bus::EventBus;
use lifeboat_aws::{self as aws, CatalogTable, DynamoTablePolicies, RdsSharing};
use lifeboat_function::bootstrap;
use lifeboat_function::status_events::Announcer;
use recovery_audit::settings::AuditSettings;
use recovery_audit::{AccountWalk, Auditor};

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstrap::serve(
        AuditSettings::from_env,
        async |settings: &AuditSettings| build(settings).await,
        async |auditor: &Auditor, event, now| auditor.invoke(event, now).await,
    )
    .await
}

async fn build(settings: &AuditSettings) -> Auditor {
    let common = &settings.common;
    let config = aws::load_config(common.tls_trust);
    // The services' listings and the sharing look-ups share the RDS budget half and half,
    // and a fanned-out audit's shards that run at once share it again.
    let share = 2 * common.fanout.concurrency;
    Auditor {
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &common.catalog_table,
        )),
        services: lifeboat_function::pacing::paced(aws::backup_services(&config), common.budget, share),
        sharing: lifeboat_function::pacing::paced_sharing(
            Arc::new(RdsSharing::new(aws_sdk_rds::Client::new(&config))),
            common.budget,
            share,
        ),
        // A fanned-out audit's plan runs alone: its walk takes the sharing half whole.
        walk: AccountWalk::paced(
            Arc::new(RdsSharing::new(aws_sdk_rds::Client::new(&config))),
            common.budget,
        ),
        tables: Arc::new(DynamoTablePolicies::new(
            aws_sdk_dynamodb::Client::new(&config),
            &settings.account,
        )),
        bucket: Arc::new(aws::reports_bucket_access(
            &config,
            &settings.reports_bucket,
            common.s3_force_path_style,
        )),
        reports: Arc::new(aws::reports_bucket(
            &config,
            &settings.reports_bucket,
            common.s3_force_path_style,
        )),
        policies: common.policies.clone(),
        account: settings.account.clone(),
        trusted_accounts: settings.trusted_accounts.clone(),
        simulation: common.simulation,
        dry_run: common.dry_run,
        shard_size: common.fanout.shard_size,
        shard_concurrency: common.fanout.concurrency,
        sweep_days: settings.sweep_days,
        events: Announcer::new(
            Arc::new(EventBus::for_function(&config, &common.event_bus)),
            recovery_audit::publish::FUNCTION,
        ),
    }
}
