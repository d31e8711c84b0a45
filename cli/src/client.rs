//! The restore-request API over HTTP(S): JSON in and out, signed (or, on the local stack,
//! with the principal header), every answer that is not a success turned into a [`CliError`]
//! that says what to do.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::args::Connection;
use crate::auth::{self, Auth, LOCAL_PRINCIPAL_HEADER};
use crate::endpoint::Endpoint;
use crate::error::CliError;
use crate::problem::Problem;
use crate::signing::{signature_headers, Unsigned};

/// API Gateway gives up on an integration after 29 seconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(35);

pub struct Api {
    endpoint: Endpoint,
    auth: Auth,
    http: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Api {
    /// The API of `connection`, with credentials loaded (so that missing ones are reported
    /// before anything is sent).
    pub async fn connect(connection: &Connection) -> Result<Api, CliError> {
        let endpoint = Endpoint::parse(connection.endpoint.as_deref())?;
        let auth = auth::auth(connection, &endpoint).await?;
        let http = Client::builder(TokioExecutor::new()).build(connector()?);
        Ok(Api { endpoint, auth, http })
    }

    pub async fn get(&self, path: &str) -> Result<Value, CliError> {
        self.send(Method::GET, path, None, None).await
    }

    /// A POST with a JSON body (none: an empty body), under `idempotency_key` or a new one,
    /// so that a retry by the transport never acts twice.
    pub async fn post(
        &self,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, CliError> {
        let key = idempotency_key
            .map(str::to_string)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        self.send(Method::POST, path, Some(bytes), Some(&key)).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<Value, CliError> {
        let url = self.endpoint.url(path);
        let request = self
            .request(&method, &url, body.unwrap_or_default(), idempotency_key)
            .await?;
        let unreachable = |reason: String| CliError::Unreachable {
            endpoint: self.endpoint.base().to_string(),
            reason,
        };
        let response = tokio::time::timeout(CALL_TIMEOUT, self.http.request(request))
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", CALL_TIMEOUT.as_secs())))?
            .map_err(|e| unreachable(transport_reason(&e)))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(format!("reading the answer: {e}")))?
            .to_bytes();
        if (200..300).contains(&status) {
            return Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null));
        }
        Err(refusal(method.as_str(), &url, status, &bytes))
    }

    async fn request(
        &self,
        method: &Method,
        url: &str,
        body: Vec<u8>,
        idempotency_key: Option<&str>,
    ) -> Result<Request<Full<Bytes>>, CliError> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| CliError::Usage(format!("{url} is not a URL: {e}")))?;
        let host = uri.authority().map(|a| a.to_string()).unwrap_or_default();
        let mut headers: Vec<(&str, &str)> = vec![("host", &host), ("accept", "application/json")];
        if !body.is_empty() {
            headers.push(("content-type", "application/json"));
        }
        if let Some(key) = idempotency_key {
            headers.push(("idempotency-key", key));
        }
        let extra = match &self.auth {
            Auth::LocalPrincipal(principal) => vec![(LOCAL_PRINCIPAL_HEADER.to_string(), principal.clone())],
            Auth::SigV4(signer) => {
                let credentials = signer.credentials().await?;
                let unsigned = Unsigned {
                    method: method.as_str(),
                    url,
                    headers: &headers,
                    body: &body,
                };
                signature_headers(&unsigned, &credentials, &signer.region, SystemTime::now())?
            }
        };
        let mut builder = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in headers.iter().copied() {
            builder = builder.header(name, value);
        }
        for (name, value) in &extra {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CliError::Usage(format!("building the request: {e}")))
    }
}

/// HTTPS with the system's trusted roots (plain HTTP too, for the local stack). A machine
/// without any roots can still reach the local stack.
fn connector() -> Result<HttpsConnector<HttpConnector>, CliError> {
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = match HttpsConnectorBuilder::new().with_provider_and_native_roots(provider.clone()) {
        Ok(builder) => builder,
        Err(_) => {
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| CliError::Config(format!("TLS: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    Ok(builder.https_or_http().enable_http1().build())
}

/// Why a call did not get an answer, in words: "connection refused" rather than a chain of
/// hyper's error types.
fn transport_reason(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return "connection refused (is the API running, and is the endpoint right?)".into();
            }
        }
        source = s.source();
    }
    auth::chain(e)
}

/// An answer that is not a success: the API's problem document, or what API Gateway said.
fn refusal(method: &str, url: &str, status: u16, body: &[u8]) -> CliError {
    if let Some(problem) = Problem::parse(body) {
        return CliError::Problem(problem);
    }
    let text = String::from_utf8_lossy(body);
    let hint = if text.contains("Missing Authentication Token") {
        " (API Gateway says this of a path it does not serve, or of an unsigned call: the \
         endpoint should end with the stage, e.g. /prod)"
    } else if text.contains("signature") || text.contains("Credential should be scoped") {
        " (check --region against the endpoint's region, and the computer's clock)"
    } else if status == 403 {
        " (the credentials' role may not invoke this API)"
    } else {
        ""
    };
    CliError::Http {
        method: method.to_string(),
        url: url.to_string(),
        status,
        body: text.chars().take(500).collect(),
        hint,
    }
}
