//! Connections to an RDS instance's database.
//!
//! - Locally (`LIFEBOAT_POSTGRES_URL`): the local stack's one PostgreSQL server holds a
//!   database per instance, named after the instance.
//! - In AWS: the instance's endpoint and database name from `DescribeDBInstances`, the
//!   credentials from Secrets Manager ([`Credentials`]), and TLS verified against the RDS
//!   certificate bundle named by `LIFEBOAT_DB_CA_BUNDLE` (packaged with the function), never
//!   without TLS.

use std::sync::Arc;

use aws_sdk_rds::types::DbInstance;
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config, NoTls};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PgError;

pub enum Connector {
    /// Not configured: every connection fails with why.
    Unavailable(String),
    Local {
        config: Box<Config>,
    },
    Rds {
        rds: aws_sdk_rds::Client,
        secrets: aws_sdk_secretsmanager::Client,
        tls: MakeRustlsConnect,
        credentials: Credentials,
    },
}

/// Whose credentials an RDS connection signs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Each instance's RDS-managed master user secret: selective restores write production.
    Master,
    /// Restore drills: a drill's sandbox (`lbd-…`, marked as a drill's staging) with its own
    /// managed master secret; any other instance (production) with the read-only credential
    /// the operator keeps in the secret `<prefix><instance identifier>`, never with its master
    /// secret. A missing reader secret fails naming the secret to create.
    DrillReader { prefix: String },
}

impl Connector {
    /// The local stack's server, e.g. `postgres://postgres@127.0.0.1:5432`.
    pub fn local(url: &str) -> Result<Connector, PgError> {
        let config = url
            .parse::<Config>()
            .map_err(|e| PgError::refused(format!("LIFEBOAT_POSTGRES_URL: {e}")))?;
        Ok(Connector::Local {
            config: Box::new(config),
        })
    }

    /// The local stack's server when `local_url` is given, else RDS with TLS. A connector
    /// that cannot be made answers every connection with why (logged once here).
    pub fn for_function(sdk: &aws_config::SdkConfig, local_url: Option<&str>, ca_bundle: &str) -> Connector {
        let made = match local_url {
            Some(url) => Connector::local(url),
            None => Connector::rds(sdk, ca_bundle),
        };
        made.unwrap_or_else(|e| {
            tracing::error!(error = %e, "no database connections");
            Connector::Unavailable(e.message)
        })
    }

    /// RDS, with TLS trusting the certificates in the PEM file `ca_bundle`.
    pub fn rds(sdk: &aws_config::SdkConfig, ca_bundle: &str) -> Result<Connector, PgError> {
        let pem = std::fs::read(ca_bundle)
            .map_err(|e| PgError::refused(format!("LIFEBOAT_DB_CA_BUNDLE {ca_bundle}: {e}")))?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| PgError::refused(format!("{ca_bundle}: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| PgError::refused(format!("{ca_bundle}: {e}")))?;
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError::refused(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Connector::Rds {
            rds: aws_sdk_rds::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            tls: MakeRustlsConnect::new(tls),
            credentials: Credentials::Master,
        })
    }

    /// This connector with RDS instances read as a drill reads them (see
    /// [`Credentials::DrillReader`]); the local stack's server is unchanged.
    pub fn for_drills(self, reader_secret_prefix: &str) -> Connector {
        match self {
            Connector::Rds {
                rds, secrets, tls, ..
            } => Connector::Rds {
                rds,
                secrets,
                tls,
                credentials: Credentials::DrillReader {
                    prefix: reader_secret_prefix.to_string(),
                },
            },
            other => other,
        }
    }

    /// Opens a connection to `instance`'s database; the connection's task runs until the
    /// client is dropped. Sessions give up well inside a merge invocation: a batch waiting on
    /// an application's lock, a hung statement or a lost peer fails (retryably) instead of
    /// holding its transaction until Lambda kills the process.
    pub async fn connect(&self, instance: &str) -> Result<Client, PgError> {
        self.connect_to(instance, None).await
    }

    /// [`Connector::connect`] to the instance's database `database` (`None`: the one the
    /// instance names). The local stack's instance is its database: `database` is ignored.
    pub async fn connect_to(&self, instance: &str, database: Option<&str>) -> Result<Client, PgError> {
        let what = format!("connecting to {instance}'s database");
        match self {
            Connector::Unavailable(why) => Err(PgError::refused(format!("{what}: {why}"))),
            Connector::Local { config } => {
                let mut config = Config::clone(config);
                config.dbname(instance);
                limits(&mut config);
                let (client, connection) = config
                    .connect(NoTls)
                    .await
                    .map_err(|e| PgError::query(&what, e))?;
                tokio::spawn(connection);
                Ok(client)
            }
            Connector::Rds {
                rds,
                secrets,
                tls,
                credentials,
            } => {
                let mut config = rds_config(rds, secrets, credentials, instance).await?;
                if let Some(database) = database {
                    config.dbname(database);
                }
                limits(&mut config);
                let (client, connection) = config
                    .connect(tls.clone())
                    .await
                    .map_err(|e| PgError::query(&what, e))?;
                tokio::spawn(connection);
                Ok(client)
            }
        }
    }
}

fn limits(config: &mut Config) {
    config
        .connect_timeout(std::time::Duration::from_secs(15))
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(30))
        .options("-c lock_timeout=30s -c statement_timeout=600s -c idle_in_transaction_session_timeout=120s");
}

/// Whether `db` is a restore drill's sandbox: named `lbd-…` and marked as a drill's staging,
/// never carrying `lifeboat:instance`.
fn is_drill_sandbox(db: &DbInstance) -> bool {
    let tag = |key: &str| {
        (db.tag_list().iter())
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
    };
    db.db_instance_identifier()
        .is_some_and(|id| id.starts_with("lbd-"))
        && tag(TAG_RESTORE_ROLE) == Some("staging")
        && tag(TAG_RESTORE_REQUEST).is_some_and(|r| r.starts_with("drill-"))
        && tag(TAG_INSTANCE).is_none()
}

/// The secret `instance` (described as `db`) is signed in with, and whether it is the
/// operator's reader secret.
fn secret_of(db: &DbInstance, credentials: &Credentials, instance: &str) -> Result<(String, bool), PgError> {
    let master = || {
        (db.master_user_secret().and_then(|s| s.secret_arn()))
            .map(|arn| (arn.to_string(), false))
            .ok_or_else(|| {
                PgError::refused(format!(
                    "{instance} has no master user secret in Secrets Manager (ManageMasterUserPassword)"
                ))
            })
    };
    match credentials {
        Credentials::Master => master(),
        Credentials::DrillReader { .. } if is_drill_sandbox(db) => master(),
        Credentials::DrillReader { prefix } => Ok((format!("{prefix}{instance}"), true)),
    }
}

/// `instance`'s endpoint, database and credentials.
pub(crate) async fn rds_config(
    rds: &aws_sdk_rds::Client,
    secrets: &aws_sdk_secretsmanager::Client,
    credentials: &Credentials,
    instance: &str,
) -> Result<Config, PgError> {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(instance)
        .send()
        .await
        .map_err(|e| PgError::unavailable(format!("DescribeDBInstances {instance}: {e}")))?;
    let db = out
        .db_instances()
        .first()
        .ok_or_else(|| PgError::refused(format!("no RDS instance {instance}")))?;
    let endpoint = db
        .endpoint()
        .and_then(|e| e.address().map(|a| (a.to_string(), e.port().unwrap_or(5432))))
        .ok_or_else(|| PgError::unavailable(format!("{instance} has no endpoint yet")))?;
    let (secret_id, reader) = secret_of(db, credentials, instance)?;
    let secret = secrets
        .get_secret_value()
        .secret_id(&secret_id)
        .send()
        .await
        .map_err(|e| {
            let missing = e
                .as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception());
            if reader && missing {
                PgError::refused(format!(
                    "a drill reads {instance} with the secret {secret_id}, which does not exist: \
                     create it, {{\"username\": …, \"password\": …}} of a user granted pg_monitor \
                     (README, \"Restore drills\")"
                ))
            } else {
                PgError::unavailable(format!("GetSecretValue {secret_id} for {instance}: {e}"))
            }
        })?;
    let doc: serde_json::Value = secret
        .secret_string()
        .and_then(|s| serde_json::from_str(s).ok())
        .ok_or_else(|| PgError::refused(format!("{instance}'s secret {secret_id} is not a JSON document")))?;
    let field = |k: &str| {
        doc[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| PgError::refused(format!("{instance}'s secret {secret_id} has no {k:?}")))
    };
    let mut config = Config::new();
    config
        .host(&endpoint.0)
        .port(endpoint.1 as u16)
        .user(field("username")?)
        .password(field("password")?)
        .dbname(db.db_name().unwrap_or("postgres"))
        .ssl_mode(SslMode::Require)
        .application_name("lifeboat-restore");
    Ok(config)
}

/// Which secret a connection signs in with: instances as RDS describes them (endpoints and
/// managed secrets moto does not give), Secrets Manager answering by secret id.
#[cfg(test)]
mod tests;
