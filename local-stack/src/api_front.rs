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
use std::collections::HashMap;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyRequestContext, ApiGatewayProxyResponse, ApiGatewayRequestIdentity,
};
use aws_lambda_events::encodings::Body as LambdaBody;
use aws_lambda_events::query_map::QueryMap;
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::edge::lambda::InvokeResult;
use crate::edge::Edge;
use crate::http::{self, Body, Received};
use crate::names::ACCOUNT;
use crate::StackError;

pub const PRINCIPAL_HEADER: &str = "x-lifeboat-principal";
pub const FUNCTION: &str = "restore-intake";
const STAGE: &str = "local";
/// One proxy resource serves every path, as the template's API does.
const RESOURCE: &str = "/{proxy+}";

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
    let event = match serde_json::to_vec(&proxy_event(&req)) {
        Ok(event) => event,
        Err(e) => {
            return http::text(
                StatusCode::BAD_REQUEST,
                &format!("the request cannot be an event: {e}"),
            )
        }
    };
    match host.invoke(Bytes::from(event)).await {
        InvokeResult::Ok(out) => proxy_response(&out),
        // API Gateway answers 502 when the integration fails.
        InvokeResult::FunctionError(error) => {
            http::respond(StatusCode::BAD_GATEWAY, "application/json", error.to_vec())
        }
    }
}

/// The API Gateway REST API proxy event of a request.
pub fn proxy_event(req: &Received) -> ApiGatewayProxyRequest {
    let mut headers = req.headers.clone();
    headers.remove(PRINCIPAL_HEADER);
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(req.uri.query().unwrap_or_default().as_bytes()) {
        query.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    let (body, encoded) = match std::str::from_utf8(&req.body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (BASE64.encode(&req.body), true),
    };
    let principal = req.header(PRINCIPAL_HEADER).map(str::to_string);

    let mut identity = ApiGatewayRequestIdentity::default();
    identity.account_id = principal.as_ref().map(|_| ACCOUNT.to_string());
    identity.user_arn = principal.clone();
    identity.caller = principal;
    identity.source_ip = Some("127.0.0.1".into());

    let mut context = ApiGatewayProxyRequestContext::default();
    context.account_id = Some(ACCOUNT.into());
    context.apiid = Some("local".into());
    context.resource_id = Some("local".into());
    context.resource_path = Some(RESOURCE.into());
    context.http_method = req.method.clone();
    context.path = Some(format!("/{STAGE}{}", req.path()));
    context.stage = Some(STAGE.into());
    context.request_id = Some(Uuid::new_v4().to_string());
    context.identity = identity;

    let mut event = ApiGatewayProxyRequest::default();
    event.resource = Some(RESOURCE.into());
    event.path = Some(req.path().to_string());
    event.http_method = req.method.clone();
    event.multi_value_headers = headers.clone();
    event.headers = headers;
    event.query_string_parameters = QueryMap::from(query.clone());
    event.multi_value_query_string_parameters = QueryMap::from(query);
    event.path_parameters = HashMap::from([("proxy".into(), req.path().trim_start_matches('/').into())]);
    event.request_context = context;
    event.body = (!req.body.is_empty()).then_some(body);
    event.is_base64_encoded = encoded;
    event
}

/// The HTTP response of the function's proxy answer.
fn proxy_response(out: &[u8]) -> Response<Body> {
    let Ok(answer) = serde_json::from_slice::<ApiGatewayProxyResponse>(out) else {
        return http::text(
            StatusCode::BAD_GATEWAY,
            "restore-intake answered something that is not an API Gateway proxy response",
        );
    };
    let status = u16::try_from(answer.status_code)
        .ok()
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let mut builder = Response::builder().status(status);
    let mut headers = answer.headers;
    for (name, value) in &answer.multi_value_headers {
        if !headers.get_all(name).iter().any(|v| v == value) {
            headers.append(name, value.clone());
        }
    }
    if let Some(map) = builder.headers_mut() {
        map.extend(headers);
    }
    let bytes = match answer.body {
        Some(LambdaBody::Text(text)) if answer.is_base64_encoded => BASE64.decode(text).unwrap_or_default(),
        Some(LambdaBody::Text(text)) => text.into_bytes(),
        Some(LambdaBody::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    builder
        .body(Body::new(Bytes::from(bytes)))
        .unwrap_or_else(|_| http::text(StatusCode::BAD_GATEWAY, "restore-intake answered bad headers"))
}
