//! The restore-drill Lambda: wires the AWS adapters and serves the drill state machine's tasks.

use std::sync::Arc;

use lambda_runtime::Error;
use lifeboat::ports::workflow::WorkflowRuns;
use lifeboat::ports::RestoreWorkflow;
use lifeboat_aws::dynamodb_inspection::DynamoInspector;
use lifeboat_aws::dynamodb_restore::{CopyBackSettings, DynamoRestorer};
use lifeboat_aws::event_bus::EventBus;
use lifeboat_aws::rds_restore::RdsRestorer;
use lifeboat_aws::{self as aws, CatalogTable, StepFunctions};
use lifeboat_function::bootstrap;
use lifeboat_function::config::{ConfigError, Env, Settings, REPORTS_BUCKET, REQUESTS_TABLE};
use lifeboat_function::failure::step_failure;
use lifeboat_function::status_events::Announcer;
use lifeboat_postgres::drill_inspection::PgInspector;
use lifeboat_postgres::Connector;
use restore_drill::Driller;

/// The local stack's PostgreSQL server; unset in AWS (RDS endpoints with TLS).
const POSTGRES_URL: &str = "LIFEBOAT_POSTGRES_URL";
const DB_CA_BUNDLE: &str = "LIFEBOAT_DB_CA_BUNDLE";
/// The drill state machine, which the hourly schedule's event starts executions of.
const DRILL_STATE_MACHINE_ARN: &str = "LIFEBOAT_DRILL_STATE_MACHINE_ARN";
/// Comma-separated security group ids the sandboxes sit in (production's when unset).
const SANDBOX_SECURITY_GROUP_IDS: &str = "LIFEBOAT_DRILL_SECURITY_GROUP_IDS";
/// Where the read-only credential of each production RDS instance is: the secret
/// `<prefix><instance identifier>` (the drill never reads production's master secret).
const READER_SECRET_PREFIX: &str = "LIFEBOAT_DRILL_READER_SECRET_PREFIX";
const DEFAULT_READER_SECRET_PREFIX: &str = "lifeboat/drill-reader/";

struct DrillSettings {
    common: Settings,
    reports_bucket: String,
    requests_table: String,
    postgres_url: Option<String>,
    db_ca_bundle: String,
    drill_state_machine: Option<String>,
    sandbox_security_groups: Vec<String>,
    reader_secret_prefix: String,
}

fn settings() -> Result<DrillSettings, ConfigError> {
    let get = |name: &str| std::env::var(name).ok();
    let common = Settings::from_lookup(get)?;
    let env = Env(get);
    Ok(DrillSettings {
        reports_bucket: common
            .reports_bucket
            .clone()
            .ok_or(ConfigError::Missing(REPORTS_BUCKET))?,
        requests_table: env.required(REQUESTS_TABLE)?,
        postgres_url: env.text(POSTGRES_URL),
        db_ca_bundle: env
            .text(DB_CA_BUNDLE)
            .unwrap_or_else(|| "/opt/rds-global-bundle.pem".into()),
        drill_state_machine: env.text(DRILL_STATE_MACHINE_ARN),
        sandbox_security_groups: env
            .parsed(SANDBOX_SECURITY_GROUP_IDS, |v| {
                let ids: Vec<String> = v
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if ids.iter().all(|id| id.starts_with("sg-")) {
                    Ok(ids)
                } else {
                    Err("must be security group ids (sg-…) separated by commas")
                }
            })?
            .unwrap_or_default(),
        reader_secret_prefix: env
            .parsed(READER_SECRET_PREFIX, |v| {
                let valid = |c: char| c.is_ascii_alphanumeric() || "/_+=.@-".contains(c);
                if v.chars().all(valid) {
                    Ok(v.to_string())
                } else {
                    Err("must be a Secrets Manager name prefix (letters, digits and /_+=.@-)")
                }
            })?
            .unwrap_or_else(|| DEFAULT_READER_SECRET_PREFIX.into()),
        common,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    bootstrap::serve(
        settings,
        async |settings: &DrillSettings| build(settings),
        async |driller: &Driller, event, now| driller.handle(event, now).await.map_err(step_failure),
    )
    .await
}

fn build(settings: &DrillSettings) -> Driller {
    let config = aws::load_config(settings.common.tls_trust);
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let connector =
        Connector::for_function(&config, settings.postgres_url.as_deref(), &settings.db_ca_bundle)
            .for_drills(&settings.reader_secret_prefix);
    let drills = (settings.drill_state_machine.as_ref())
        .map(|arn| Arc::new(StepFunctions::new(aws_sdk_sfn::Client::new(&config), arn)));
    Driller {
        catalog: Arc::new(CatalogTable::new(
            dynamodb.clone(),
            &settings.common.catalog_table,
        )),
        services: aws::backup_services(&config),
        restorers: vec![
            Arc::new(RdsRestorer::for_sandboxes(
                aws_sdk_rds::Client::new(&config),
                settings.sandbox_security_groups.clone(),
            )),
            // The copy-back settings serve rollbacks only; a drill restores a table whole.
            Arc::new(DynamoRestorer::new(
                dynamodb.clone(),
                &settings.requests_table,
                CopyBackSettings::default(),
            )),
        ],
        inspectors: vec![
            Arc::new(PgInspector::new(connector)),
            Arc::new(DynamoInspector::new(dynamodb)),
        ],
        reports: Arc::new(aws::reports_bucket(
            &config,
            &settings.reports_bucket,
            settings.common.s3_force_path_style,
        )),
        policies: settings.common.policies.clone(),
        drills: drills.clone().map(|d| d as Arc<dyn RestoreWorkflow>),
        runs: drills.map(|d| d as Arc<dyn WorkflowRuns>),
        simulation: settings.common.simulation,
        events: Announcer::new(
            Arc::new(EventBus::for_function(&config, &settings.common.event_bus)),
            restore_drill::report::FUNCTION,
        ),
    }
}
