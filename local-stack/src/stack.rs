//! Starting and stopping the whole local stack.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{BillingMode, GlobalSecondaryIndex, KeyType, Projection, ProjectionType};
use aws_sdk_lambda::primitives::Blob;
use lifeboat_aws::{OWING, OWING_INDEX, PRESENT, PRESENT_BY_RESOURCE_INDEX, PRESENT_INDEX};
use serde_json::Value;

use crate::api_front::ApiFront;
use crate::edge::lambda::{FunctionHost, FunctionSpec};
use crate::edge::Edge;
use crate::moto::MotoServer;
use crate::names::{
    ACCOUNT, CATALOG_TABLE, ENGINEERING_ROLE, FUNCTIONS, REGION, REPORTS_BUCKET, REQUESTS_TABLE, TESTER,
};
use crate::postgres::PgCluster;
use crate::tables::{key, string_attribute};
use crate::StackError;
use crate::{restore_setup, state_machines, status_events};

#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Where the function binaries are (`snapshot-creator`, `retention-pruner`).
    pub functions_dir: PathBuf,
    /// Where logs go.
    pub work_dir: PathBuf,
    /// Extra environment for every function (e.g. `LIFEBOAT_MAX_DELETIONS_PER_RESOURCE`).
    pub function_env: BTreeMap<String, String>,
    /// Extra environment for one function, by name, over `function_env`.
    pub function_env_by_name: BTreeMap<String, BTreeMap<String, String>>,
    pub function_timeout: Duration,
    /// Whether RDS calls move the instances' PostgreSQL databases (see
    /// [`crate::edge::databases`]). Off only for benchmarks of the control plane at fleet
    /// scale, where a database copy per snapshot would not fit in memory.
    pub rds_data: bool,
}

impl StackConfig {
    /// Binaries from `LIFEBOAT_FUNCTIONS_DIR`, else beside the running executable (the
    /// debug build serves tests), logs in a fresh temporary directory.
    pub fn from_env() -> StackConfig {
        let functions_dir = std::env::var_os("LIFEBOAT_FUNCTIONS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(default_functions_dir);
        let work_dir = std::env::temp_dir().join(format!(
            "lifeboat-local-{}-{}",
            std::process::id(),
            chrono::Utc::now().format("%H%M%S%f")
        ));
        StackConfig {
            functions_dir,
            work_dir,
            function_env: BTreeMap::new(),
            function_env_by_name: BTreeMap::new(),
            function_timeout: Duration::from_secs(300),
            rds_data: true,
        }
    }
}

impl StackConfig {
    /// What `function` is given beyond the stack's own wiring.
    pub fn extra_env(&self, function: &str) -> BTreeMap<String, String> {
        let mut env = self.function_env.clone();
        env.extend(
            self.function_env_by_name
                .get(function)
                .cloned()
                .unwrap_or_default(),
        );
        env
    }

    /// With the caller's settings for the functions (see [`crate::function_settings`]).
    pub fn with_settings(mut self, settings: crate::function_settings::FunctionSettings) -> StackConfig {
        self.function_env.extend(settings.all);
        for (function, env) in settings.by_function {
            self.function_env_by_name.entry(function).or_default().extend(env);
        }
        self
    }
}

/// `target/debug` when running from `target/debug` or `target/debug/deps`.
fn default_functions_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().unwrap_or(Path::new("."));
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// A running local stack; everything stops when it is dropped.
pub struct LocalStack {
    pub edge: Arc<Edge>,
    /// The restore-request API over HTTP (see [`crate::api_front`]).
    pub api: ApiFront,
    moto: MotoServer,
    /// The RDS instances' data (the edge holds it weakly: it stops with the stack).
    postgres: Arc<PgCluster>,
    pub config: StackConfig,
    sdk: aws_config::SdkConfig,
}

impl LocalStack {
    pub async fn start(config: StackConfig) -> Result<LocalStack, StackError> {
        std::fs::create_dir_all(&config.work_dir)
            .map_err(|e| StackError::Setup(format!("creating {}: {e}", config.work_dir.display())))?;
        let edge = Edge::bind().await?;
        // Both take a second or so: side by side.
        let moto_log = config.work_dir.join("moto.log");
        let (moto, postgres) = tokio::join!(
            MotoServer::start(edge.port(), &moto_log),
            PgCluster::start(&config.work_dir),
        );
        let (moto, postgres) = (moto?, Arc::new(postgres?));
        edge.attach_moto(moto.url());
        if config.rds_data {
            edge.attach_postgres(&postgres);
        }
        for name in FUNCTIONS {
            let host = FunctionHost::start(FunctionSpec {
                name: name.to_string(),
                binary: config.functions_dir.join(name),
                env: function_env(name, &edge.url(), &postgres.url(), &config.extra_env(name)),
                timeout: config.function_timeout,
                log: config.work_dir.join(format!("{name}.log")),
            })
            .await?;
            edge.add_function(host);
        }
        let sdk = sdk_config(&edge.url(), TESTER).await;
        let api = ApiFront::start(&edge).await?;
        let stack = LocalStack {
            edge,
            api,
            moto,
            postgres,
            config,
            sdk,
        };
        stack.create_lifeboat_resources().await?;
        restore_setup::create(&stack.sdk).await?;
        state_machines::create(&stack.sdk).await?;
        status_events::create(&stack.sdk).await?;
        Ok(stack)
    }

    /// SDK configuration for talking to the stack as the tester.
    pub fn sdk_config(&self) -> &aws_config::SdkConfig {
        &self.sdk
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// The object at `key` in the reports bucket (a report, an audit page).
    pub async fn report_object(&self, key: &str) -> Result<Vec<u8>, StackError> {
        use lifeboat::ports::ObjectStore;
        lifeboat_aws::reports_bucket(&self.sdk, REPORTS_BUCKET, true)
            .get(key)
            .await
            .map_err(StackError::from)
    }

    pub fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.sdk)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk)
    }

    pub fn tagging(&self) -> aws_sdk_resourcegroupstagging::Client {
        aws_sdk_resourcegroupstagging::Client::new(&self.sdk)
    }

    pub fn moto_url(&self) -> String {
        self.moto.url()
    }

    /// The PostgreSQL server holding a database per RDS instance, named after the instance
    /// (see [`crate::edge::databases`]).
    pub fn postgres(&self) -> &PgCluster {
        &self.postgres
    }

    /// Invokes a function through the Lambda Invoke API, as a schedule would.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Invocation, StackError> {
        let out = self
            .lambda()
            .invoke()
            .function_name(function)
            .payload(Blob::new(serde_json::to_vec(event).expect("events serialize")))
            .send()
            .await
            .map_err(|e| StackError::aws("Invoke", e))?;
        let payload: Value = out
            .payload()
            .map(|p| serde_json::from_slice(p.as_ref()).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        Ok(match out.function_error() {
            Some(_) => Invocation::Failed {
                error_type: payload["errorType"].as_str().unwrap_or_default().to_string(),
                message: payload["errorMessage"].as_str().unwrap_or_default().to_string(),
            },
            None => Invocation::Succeeded(payload),
        })
    }

    async fn create_lifeboat_resources(&self) -> Result<(), StackError> {
        // The same table as infra/template.yaml's CatalogTable.
        let present_index = GlobalSecondaryIndex::builder()
            .index_name(PRESENT_INDEX)
            .key_schema(key(PRESENT, KeyType::Hash)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(|e| StackError::aws("GlobalSecondaryIndex present-points", e))?;
        let present_by_resource = GlobalSecondaryIndex::builder()
            .index_name(PRESENT_BY_RESOURCE_INDEX)
            .key_schema(key("resource", KeyType::Hash)?)
            .key_schema(key(PRESENT, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(|e| StackError::aws("GlobalSecondaryIndex present-by-resource", e))?;
        let owing = GlobalSecondaryIndex::builder()
            .index_name(OWING_INDEX)
            .key_schema(key(OWING, KeyType::Hash)?)
            .key_schema(key("slot", KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(|e| StackError::aws("GlobalSecondaryIndex owing-points", e))?;
        self.dynamodb()
            .create_table()
            .table_name(CATALOG_TABLE)
            .key_schema(key("resource", KeyType::Hash)?)
            .key_schema(key("slot", KeyType::Range)?)
            .attribute_definitions(string_attribute("resource")?)
            .attribute_definitions(string_attribute("slot")?)
            .attribute_definitions(string_attribute(PRESENT)?)
            .attribute_definitions(string_attribute(OWING)?)
            .global_secondary_indexes(present_index)
            .global_secondary_indexes(present_by_resource)
            .global_secondary_indexes(owing)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map_err(|e| StackError::aws("CreateTable lifeboat-catalog", e))?;
        self.s3()
            .create_bucket()
            .bucket(REPORTS_BUCKET)
            .send()
            .await
            .map_err(|e| StackError::aws("CreateBucket lifeboat-reports", e))?;
        // Closed to the public, as the template's ReportsBucket is.
        let closed = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        self.s3()
            .put_public_access_block()
            .bucket(REPORTS_BUCKET)
            .public_access_block_configuration(closed)
            .send()
            .await
            .map_err(|e| StackError::aws("PutPublicAccessBlock lifeboat-reports", e))?;
        Ok(())
    }

    pub fn endpoints(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "AWS endpoint (edge: Lambda Invoke API, all other services via moto)",
                self.edge.url(),
            ),
            ("moto server", self.moto.url()),
            (
                "PostgreSQL (a database per RDS instance, named after it)",
                self.postgres.url(),
            ),
            ("edge control API", format!("{}/_lifeboat/", self.edge.url())),
            (
                "restore-request API (caller from the X-Lifeboat-Principal header)",
                format!("{}/restore-requests", self.api.url()),
            ),
            (
                "status events (rule on the default bus, to this SQS FIFO queue)",
                status_events::QUEUE.to_string(),
            ),
            ("logs", self.config.work_dir.display().to_string()),
        ]
    }
}

/// What an invocation answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    Succeeded(Value),
    Failed { error_type: String, message: String },
}

impl Invocation {
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Invocation::Failed { error_type, .. } => Some(error_type),
            Invocation::Succeeded(_) => None,
        }
    }
}

fn function_env(
    name: &str,
    edge: &str,
    postgres: &str,
    extra: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_ENDPOINT_URL", edge),
        // Where an RDS instance's data is locally: this server, the database named after
        // the instance (a deployment reaches each instance at its own endpoint instead).
        ("LIFEBOAT_POSTGRES_URL", postgres),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        // The access key names the caller in the edge's ledger.
        ("AWS_ACCESS_KEY_ID", name),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("AWS_LAMBDA_LOG_LEVEL", "INFO"),
        ("LIFEBOAT_CATALOG_TABLE", CATALOG_TABLE),
        ("LIFEBOAT_REPORTS_BUCKET", REPORTS_BUCKET),
        ("LIFEBOAT_S3_FORCE_PATH_STYLE", "true"),
        // moto's EventBridge, where a rule sends them on to a queue tests read.
        ("LIFEBOAT_EVENT_BUS", status_events::EVENT_BUS),
        // The local stack replays time; only it and tests set this switch.
        ("LIFEBOAT_SIMULATION", "true"),
        // Moto answers at once and most tests want speed: the functions pace far above the
        // edge's AWS limits (tests of pacing and throttling set real budgets).
        ("LIFEBOAT_RDS_CALLS_PER_SECOND", "1000"),
        ("LIFEBOAT_DYNAMODB_LIST_BACKUPS_PER_SECOND", "1000"),
        ("LIFEBOAT_DYNAMODB_CREATE_BACKUPS_PER_SECOND", "1000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if name == "restore-executor" || name == "restore-drill" {
        env.insert("LIFEBOAT_REQUESTS_TABLE".to_string(), REQUESTS_TABLE.to_string());
        env.insert(
            "LIFEBOAT_ENGINEERING_PRINCIPALS".to_string(),
            ENGINEERING_ROLE.to_string(),
        );
        // Moto answers in milliseconds: a write batch bounded to a few seconds, so an undo
        // waits seconds (the bound and half again), not a minute and a half.
        env.insert("LIFEBOAT_COPY_BACK_WRITE_SECONDS".to_string(), "2".to_string());
    }
    if name == "restore-drill" {
        env.insert(
            "LIFEBOAT_DRILL_STATE_MACHINE_ARN".to_string(),
            state_machines::drill_arn(),
        );
    }
    if name == "recovery-audit" {
        env.insert("LIFEBOAT_ACCOUNT_ID".to_string(), ACCOUNT.to_string());
    }
    if name == "restore-intake" {
        env.extend(
            restore_setup::intake_env()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
    }
    env.extend(extra.clone());
    env
}

/// SDK configuration pointing at the edge, signing as `caller`.
pub async fn sdk_config(edge: &str, caller: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(edge)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            caller,
            "local",
            None,
            None,
            "lifeboat-local",
        ))
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_learn_where_the_databases_are() {
        let env = function_env(
            "restore-executor",
            "http://127.0.0.1:1",
            "postgres://postgres@127.0.0.1:2",
            &BTreeMap::new(),
        );
        assert_eq!(env["LIFEBOAT_POSTGRES_URL"], "postgres://postgres@127.0.0.1:2");
        assert_eq!(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:1");
    }
}
