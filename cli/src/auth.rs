//! Who the calls are made as: a signing identity from the standard AWS credential chain
//! (environment, profiles, IAM Identity Center, credential_process, ...) for a deployed API,
//! or, for the local stack, a principal named in its `X-Lifeboat-Principal` header.

use std::time::{Duration, SystemTime};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use tokio::sync::Mutex;

use crate::args::Connection;
use crate::endpoint::Endpoint;
use crate::error::CliError;

/// The header the local stack's API front takes the caller from (and a deployed API ignores).
pub const LOCAL_PRINCIPAL_HEADER: &str = "x-lifeboat-principal";

pub enum Auth {
    LocalPrincipal(String),
    SigV4(Signer),
}

/// Credentials and the region to sign for. Credentials are reused until a few minutes before
/// they expire: a watch reads the request every few seconds, and asking the chain each time
/// would call IAM Identity Center as often.
pub struct Signer {
    provider: SharedCredentialsProvider,
    pub region: String,
    cached: Mutex<Option<Credentials>>,
}

const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

pub async fn auth(connection: &Connection, endpoint: &Endpoint) -> Result<Auth, CliError> {
    if let Some(principal) = &connection.local_principal {
        if !endpoint.is_loopback() {
            return Err(CliError::Config(format!(
                "--local-principal (LIFEBOAT_LOCAL_PRINCIPAL) is for the local stack, on this \
                 machine; {} is not: unset it to sign with your AWS credentials",
                endpoint.base()
            )));
        }
        return Ok(Auth::LocalPrincipal(principal.clone()));
    }
    if !endpoint.is_https() && !endpoint.is_loopback() {
        return Err(CliError::Config(format!(
            "{} is plain HTTP: signed calls (and their session tokens) go over https only",
            endpoint.base()
        )));
    }
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &connection.profile {
        loader = loader.profile_name(profile);
    }
    let config = loader.load().await;
    let region = connection
        .region
        .clone()
        .or_else(|| endpoint.region())
        .or_else(|| config.region().map(Region::to_string))
        .ok_or_else(|| {
            CliError::Config(
                "no region to sign for: pass --region, set AWS_REGION, or give the profile a region".into(),
            )
        })?;
    let provider = config
        .credentials_provider()
        .ok_or_else(|| CliError::Config(no_credentials()))?;
    let signer = Signer {
        provider,
        region,
        cached: Mutex::new(None),
    };
    // Loaded now, so that missing credentials are reported before anything is sent.
    signer.credentials().await?;
    Ok(Auth::SigV4(signer))
}

impl Signer {
    pub async fn credentials(&self) -> Result<Credentials, CliError> {
        let mut cached = self.cached.lock().await;
        let fresh = |c: &Credentials| {
            c.expiry()
                .is_none_or(|at| at > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
        };
        if let Some(c) = cached.as_ref().filter(|c| fresh(c)) {
            return Ok(c.clone());
        }
        let loaded = self
            .provider
            .provide_credentials()
            .await
            .map_err(credentials_error)?;
        *cached = Some(loaded.clone());
        Ok(loaded)
    }
}

fn no_credentials() -> String {
    "no AWS credentials found: set AWS_PROFILE (or pass --profile) to a profile with \
     credentials, or run `aws sso login --profile NAME` for an IAM Identity Center profile, or \
     set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for the local stack, pass \
     --local-principal instead)"
        .into()
}

fn credentials_error(e: CredentialsError) -> CliError {
    match e {
        CredentialsError::CredentialsNotLoaded(_) => CliError::Config(no_credentials()),
        other => CliError::Config(format!(
            "the AWS credentials could not be loaded: {}; if the profile uses IAM Identity \
             Center, run `aws sso login --profile NAME`",
            chain(&other)
        )),
    }
}

/// An error with its causes, `a: b: c`: the SDK's top-level messages rarely say what to fix.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
