//! The restore-request API over plain HTTP, as API Gateway would serve it: each request
//! becomes an API Gateway REST proxy event for `restore-intake`, run by the edge's function
//! host, and the function's answer becomes the HTTP response.
//!
//! API Gateway authenticates callers by SigV4 and puts the IAM principal in the event's
//! request context. Here the caller names it in the `X-Lifeboat-Principal` header instead:
//! only this front reads that header (the function never looks at headers for identity), so
//! it cannot be forged through a deployed API.

use std::net::SocketAddr;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use hyper::{Response, StatusCode};
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;

use crate::edge::lambda::InvokeResult;
use crate::edge::Edge;
use crate::http::{self, Body, Received};
use crate::names::ACCOUNT;
use crate::StackError;

pub const PRINCIPAL_HEADER: &str = "x-lifeboat-principal";
pub const FUNCTION: &str = "restore-intake";
const STAGE: &str = "local";

pub struct ApiFront {
    port: u16,
    server: tokio::task::JoinHandle<()>,
}

impl ApiFront {
    /// Serves the API on a free loopback port for as long as `edge` lives.
    pub async fn start(edge: &Arc<Edge>) -> Result<ApiFront, StackError> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| StackError::Setup(format!("binding the API front: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| StackError::Setup(e.to_string()))?
            .port();
        let server = http::serve_weak(
            listener,
            edge,
            "the local stack stopped",
            |edge, req| async move { answer(&edge, req).await },
        );
        Ok(ApiFront { port, server })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for ApiFront {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(edge: &Edge, req: Received) -> Response<Body> {
    let Some(host) = edge.function(FUNCTION) else {
        return http::text(StatusCode::SERVICE_UNAVAILABLE, "restore-intake is not running");
    };
    let event = proxy_event(&req);
    match host.invoke(Bytes::from(event.to_string())).await {
        InvokeResult::Ok(out) => proxy_response(&out),
        // API Gateway answers 502 when the integration fails.
        InvokeResult::FunctionError(error) => {
            http::respond(StatusCode::BAD_GATEWAY, "application/json", error.to_vec())
        }
    }
}

/// The API Gateway REST API proxy event of a request.
pub fn proxy_event(req: &Received) -> Value {
    let mut headers = Map::new();
    let mut multi_headers = Map::new();
    for (name, value) in &req.headers {
        if name.as_str() == PRINCIPAL_HEADER {
            continue;
        }
        let value = value.to_str().unwrap_or_default().to_string();
        headers.insert(name.to_string(), Value::String(value.clone()));
        multi_headers
            .entry(name.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("an array")
            .push(Value::String(value));
    }
    let mut query = Map::new();
    let mut multi_query = Map::new();
    for (k, v) in form_urlencoded::parse(req.uri.query().unwrap_or_default().as_bytes()) {
        query.insert(k.to_string(), Value::String(v.to_string()));
        multi_query
            .entry(k.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
            .as_array_mut()
            .expect("an array")
            .push(Value::String(v.to_string()));
    }
    let (body, encoded) = match std::str::from_utf8(&req.body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (BASE64.encode(&req.body), true),
    };
    let principal = req.header(PRINCIPAL_HEADER);
    let empty = |m: Map<String, Value>| {
        if m.is_empty() {
            Value::Null
        } else {
            Value::Object(m)
        }
    };
    json!({
        "resource": "/{proxy+}",
        "path": req.path(),
        "httpMethod": req.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": empty(query),
        "multiValueQueryStringParameters": empty(multi_query),
        "pathParameters": {"proxy": req.path().trim_start_matches('/')},
        "stageVariables": null,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "resourceId": "local",
            "resourcePath": "/{proxy+}",
            "httpMethod": req.method.as_str(),
            "path": format!("/{STAGE}{}", req.path()),
            "stage": STAGE,
            "requestId": uuid_like(),
            "identity": {
                "userArn": principal,
                "caller": principal,
                "accountId": principal.map(|_| ACCOUNT),
                "sourceIp": "127.0.0.1",
            },
        },
        "body": if req.body.is_empty() { Value::Null } else { Value::String(body) },
        "isBase64Encoded": encoded,
    })
}

/// The HTTP response of the function's proxy answer.
fn proxy_response(out: &[u8]) -> Response<Body> {
    let Ok(answer) = serde_json::from_slice::<Value>(out) else {
        return http::text(
            StatusCode::BAD_GATEWAY,
            "restore-intake answered something that is not JSON",
        );
    };
    let status = answer["statusCode"]
        .as_u64()
        .and_then(|s| StatusCode::from_u16(s as u16).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = Response::builder().status(status);
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(map) = answer["headers"].as_object() {
        headers.extend(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))),
        );
    }
    if let Some(map) = answer["multiValueHeaders"].as_object() {
        for (k, values) in map {
            for v in values.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !headers
                    .iter()
                    .any(|(hk, hv)| hk.eq_ignore_ascii_case(k) && hv == v)
                {
                    headers.push((k.clone(), v.to_string()));
                }
            }
        }
    }
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let body = answer["body"].as_str().unwrap_or_default();
    let bytes = if answer["isBase64Encoded"].as_bool() == Some(true) {
        BASE64.decode(body).unwrap_or_default()
    } else {
        body.as_bytes().to_vec()
    };
    builder
        .body(Body::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| http::text(StatusCode::BAD_GATEWAY, "restore-intake answered bad headers"))
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("local-{:012}", NEXT.fetch_add(1, Ordering::Relaxed))
}
