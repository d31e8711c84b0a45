//! The edge: the local stack's single AWS endpoint.
//!
//! - `POST /2015-03-31/functions/{name}/invocations`: the Lambda Invoke API, served by running
//!   the function's real binary (see [`lambda`]).
//! - `/_lifeboat/...`: the control API of tests and the simulation (call ledger, faults,
//!   quotas, function processes; see [`control`]).
//! - RDS `DescribeAccountAttributes`, which moto lacks, answered from moto's own snapshots.
//! - Everything else: metered against AWS's rate limits (see [`rate_limit`]), forwarded to
//!   moto, counted, and subject to injected faults.
//! - RDS calls that move data (create, snapshot, restore, rename, delete): once moto answered
//!   them with success, the instances' PostgreSQL databases follow (see [`databases`]).
//! - Moto's answers report resources' identities (`DbiResourceId`, `TableId`) and point-in-time
//!   restores' times as the services do (see [`identities`]).

pub mod aws_call;
pub mod calls;
mod control;
pub mod databases;
pub mod faults;
mod identities;
pub mod lambda;
pub mod rate_limit;
mod rds_quota;
pub mod windows;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use bytes::Bytes;
use hyper::{Method, Response, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;

use crate::http::{self, Body, HttpClient, Received};
use crate::postgres::PgCluster;
use crate::StackError;
use aws_call::AwsCall;
use calls::CallLedger;
use databases::{Databases, Pending};
use faults::{FaultAction, Faults};
use lambda::{FunctionHost, InvokeResult};

/// RDS's default quota of manual DB snapshots per region.
pub const DEFAULT_RDS_MANUAL_SNAPSHOT_QUOTA: u64 = 100;
/// The error code of a call moto made whose database could not follow.
pub const DATA_PLANE_FAILURE: &str = "LocalDataPlaneFailure";

pub struct Edge {
    port: u16,
    moto_url: Mutex<Option<String>>,
    client: HttpClient,
    pub ledger: CallLedger,
    pub faults: Faults,
    pub rate_limits: rate_limit::RateLimits,
    functions: RwLock<BTreeMap<String, Arc<FunctionHost>>>,
    rds_snapshot_quota: Mutex<u64>,
    /// Continuous-backup windows set by tests (see [`windows`]).
    pub windows: windows::Windows,
    /// The instants point-in-time restores asked for (see [`identities`]).
    restores: identities::Restores,
    /// Manual RDS snapshots in moto: counted once, then kept up to date from the create and
    /// delete calls that pass through the edge (counting in moto costs a full listing).
    rds_manual_snapshots: Mutex<Option<u64>>,
    /// The RDS instances' data, once PostgreSQL is attached.
    databases: OnceLock<Databases>,
    /// Held while moto answers a DynamoDB call (see [`Edge::forward`]).
    dynamodb: Arc<tokio::sync::Mutex<()>>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Edge {
    /// Binds the edge on a free loopback port. Moto is attached once it runs (moto must know
    /// the edge's port before it starts).
    pub async fn bind() -> Result<Arc<Edge>, StackError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| StackError::Setup(format!("edge listener: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| StackError::Setup(e.to_string()))?
            .port();
        let edge = Arc::new(Edge {
            port,
            moto_url: Mutex::new(None),
            client: HttpClient::new(),
            ledger: CallLedger::default(),
            faults: Faults::default(),
            rate_limits: rate_limit::RateLimits::default(),
            functions: RwLock::default(),
            rds_snapshot_quota: Mutex::new(DEFAULT_RDS_MANUAL_SNAPSHOT_QUOTA),
            windows: windows::Windows::default(),
            restores: identities::Restores::default(),
            rds_manual_snapshots: Mutex::new(None),
            databases: OnceLock::new(),
            dynamodb: Arc::default(),
            server: Mutex::new(None),
        });
        let server = http::serve_weak(listener, &edge, "edge stopped", |edge, req| async move {
            edge.handle(req).await
        });
        *edge.server.lock().expect("server lock") = Some(server);
        Ok(edge)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn attach_moto(&self, url: String) {
        *self.moto_url.lock().expect("moto lock") = Some(url);
    }

    /// Gives the RDS instances their data: from now on, RDS calls move databases in `cluster`.
    pub fn attach_postgres(&self, cluster: &Arc<PgCluster>) {
        if self.databases.set(Databases::new(cluster)).is_err() {
            tracing::warn!("the edge already has a PostgreSQL cluster; keeping the first");
        }
    }

    /// The RDS instances' data plane, when PostgreSQL is attached.
    pub fn databases(&self) -> Option<&Databases> {
        self.databases.get()
    }

    pub fn add_function(&self, host: Arc<FunctionHost>) {
        self.functions
            .write()
            .expect("functions lock")
            .insert(host.name().to_string(), host);
    }

    pub fn function(&self, name: &str) -> Option<Arc<FunctionHost>> {
        // Step Functions passes ARNs (`arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
        let name = match name.split_once(":function:") {
            Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
            None => name,
        };
        self.functions.read().expect("functions lock").get(name).cloned()
    }

    pub fn set_rds_snapshot_quota(&self, max: u64) {
        *self.rds_snapshot_quota.lock().expect("quota lock") = max;
    }

    fn track_rds_snapshots(&self, call: &AwsCall) {
        if call.service != "rds" {
            return;
        }
        let mut count = self.rds_manual_snapshots.lock().expect("count lock");
        if let Some(n) = count.as_mut() {
            match call.operation.as_str() {
                "CreateDBSnapshot" | "CopyDBSnapshot" => *n += 1,
                "DeleteDBSnapshot" => *n = n.saturating_sub(1),
                _ => {}
            }
        }
    }

    async fn handle(self: Arc<Self>, req: Received) -> Response<Body> {
        if req.path().starts_with("/_lifeboat/") {
            return control::answer(&self, &req);
        }
        if let Some(name) = invoked_function(&req) {
            return self.invoke(&name, req).await;
        }
        // An RDS call on a task of its own: hyper drops a request's future when its caller
        // goes away (a function killed by its timeout), and a call moto has made must still
        // move the data. Other calls stay on the connection's task, as before (run on tasks
        // of their own, moto's conditional DynamoDB writes were seen to race; `forward` now
        // lets one DynamoDB call at a time through as well).
        if AwsCall::service_of(&req) != "rds" {
            return self.aws(req).await;
        }
        match tokio::spawn(self.clone().aws(req)).await {
            Ok(response) => response,
            Err(e) => http::respond(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain",
                format!("the edge's handling of the call failed: {e}").into_bytes(),
            ),
        }
    }

    /// An AWS call: faults, then the edge's own answer or moto's, with the data following.
    async fn aws(self: Arc<Self>, req: Received) -> Response<Body> {
        let call = AwsCall::of(&req);
        // AWS refuses a call over its budget before anything else looks at it.
        if !self.rate_limits.admit(&call) {
            return self.throttled(&call, "rate_limited", "Rate exceeded");
        }
        // Faults come next, so calls the edge emulates can fail too.
        let action = self.faults.fire(&call);
        if let Some(delay) = action.as_ref().and_then(FaultAction::delay) {
            tokio::time::sleep(delay).await;
        }
        // A call that moves RDS data holds the data plane from before moto sees it until the
        // data followed, so moto's instances and the databases change in the same order.
        let data = match self.databases.get() {
            Some(databases) => databases.begin(&call, &req).await,
            None => None,
        };
        if !matches!(
            action,
            Some(FaultAction::Throttle | FaultAction::ServerError { .. } | FaultAction::Refuse { .. })
        ) {
            if let Some(response) = self.emulated(&call, &req).await {
                if let Some(error) = follow(data, response.status()).await {
                    return self.data_plane_failure(&call, &error);
                }
                self.ledger
                    .record(&call, response.status().as_u16(), Some("emulated".into()));
                return response;
            }
        }
        match action {
            Some(FaultAction::Throttle) => {
                self.throttled(&call, "throttle", "Rate exceeded (injected by the edge)")
            }
            Some(FaultAction::ServerError { status }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let (ct, body) = faults::error_body(
                    &call.service,
                    "InternalFailure",
                    "Internal failure (injected by the edge)",
                );
                self.ledger
                    .record(&call, status.as_u16(), Some("server_error".into()));
                http::respond(status, ct, body)
            }
            Some(FaultAction::Refuse { code }) => {
                let (ct, body) = faults::error_body(&call.service, &code, "Refused (injected by the edge)");
                self.ledger.record(&call, 400, Some("refuse".into()));
                http::respond(StatusCode::BAD_REQUEST, ct, body)
            }
            other => {
                let mut response = self.forward(&req).await;
                if response.0.is_success() {
                    self.track_rds_snapshots(&call);
                    if let Some(body) = identities::faithful(&self.restores, &call, &req, &response.2) {
                        response.1.remove("x-amz-crc32");
                        response.2 = body;
                    }
                }
                // Moto made its change: the data follows even when the caller is then
                // killed or told the resource is still creating.
                if let Some(error) = follow(data, response.0).await {
                    if !matches!(other, Some(FaultAction::KillCaller)) {
                        return self.data_plane_failure(&call, &error);
                    }
                }
                match other {
                    Some(FaultAction::ReportCreating) => {
                        self.ledger
                            .record(&call, response.0.as_u16(), Some("report_creating".into()));
                        let body = faults::report_creating(&response.2);
                        rebuild(response.0, &response.1, Bytes::from(body))
                    }
                    Some(FaultAction::ReportStatus { status }) => {
                        self.ledger.record(
                            &call,
                            response.0.as_u16(),
                            Some(format!("report_status {status}")),
                        );
                        let body = faults::report_status(&response.2, &status);
                        rebuild(response.0, &response.1, Bytes::from(body))
                    }
                    Some(FaultAction::KillCaller) => {
                        self.ledger.record(&call, 500, Some("kill_caller".into()));
                        if let Some(host) = self.function(&call.caller) {
                            host.kill();
                        }
                        let (ct, body) =
                            faults::error_body(&call.service, "InternalFailure", "caller killed by the edge");
                        http::respond(StatusCode::INTERNAL_SERVER_ERROR, ct, body)
                    }
                    _ => {
                        self.ledger.record(&call, response.0.as_u16(), None);
                        rebuild(response.0, &response.1, response.2)
                    }
                }
            }
        }
    }

    /// The answer to a call the edge emulates instead of moto, if it is one.
    async fn emulated(&self, call: &AwsCall, req: &Received) -> Option<Response<Body>> {
        if call.service == "rds" && call.operation == "DescribeAccountAttributes" {
            Some(rds_quota::answer(self, req).await)
        } else if call.service == "rds"
            && matches!(call.operation.as_str(), "CreateDBSnapshot" | "CopyDBSnapshot")
        {
            rds_quota::refusal(self, req).await
        } else {
            windows::answer(self, call, req).await
        }
    }

    /// The service's throttling error, recorded in the ledger as `why`.
    fn throttled(&self, call: &AwsCall, why: &str, message: &str) -> Response<Body> {
        let (ct, body) = faults::error_body(&call.service, faults::throttling_code(&call.service), message);
        self.ledger.record(call, 400, Some(why.into()));
        http::respond(StatusCode::BAD_REQUEST, ct, body)
    }

    /// The answer to a call whose data could not follow: a 500, so that the caller sees it
    /// (moto has made its change all the same).
    /// A 400 with its own code, not a 5xx: the SDK would retry a 5xx, and the retry's answer
    /// from moto ("already exists", "not found") would hide what went wrong.
    fn data_plane_failure(&self, call: &AwsCall, error: &str) -> Response<Body> {
        self.ledger.record(call, 400, Some("data_plane".into()));
        let message = format!("the local stack's database could not follow: {error}");
        let (ct, body) = faults::error_body(&call.service, DATA_PLANE_FAILURE, &xml_escaped(&message));
        http::respond(StatusCode::BAD_REQUEST, ct, body)
    }

    /// Sends the request on to moto and returns its answer.
    pub(crate) async fn forward(&self, req: &Received) -> (StatusCode, hyper::HeaderMap, Bytes) {
        let Some(moto) = self.moto_url.lock().expect("moto lock").clone() else {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Default::default(),
                Bytes::from_static(b"moto is not attached"),
            );
        };
        let url = format!("{moto}{}", req.uri.path_and_query().map_or("/", |p| p.as_str()));
        let mut builder = hyper::Request::builder().method(req.method.clone()).uri(url);
        for (name, value) in &req.headers {
            if name != "content-length" && name != "transfer-encoding" {
                builder = builder.header(name, value);
            }
        }
        let request = builder
            .body(http_body_util::Full::new(req.body.clone()))
            .expect("a received request can be re-sent");
        // moto's DynamoDB is not safe for concurrent calls: a transaction deep-copies the
        // tables it writes while other calls change them (a 500, "dictionary changed size
        // during iteration"), and a conditional write checks, then writes. DynamoDB itself
        // is, so one DynamoDB call at a time reaches moto, on a task of its own that keeps
        // the turn until moto answers even if the caller goes away meanwhile.
        let answer = if AwsCall::service_of(req) == "dynamodb" {
            let turn = self.dynamodb.clone().lock_owned().await;
            let client = self.client.clone();
            tokio::spawn(async move {
                let answer = client.send_full(request).await;
                drop(turn);
                answer
            })
            .await
            .unwrap_or_else(|e| Err(format!("the call to moto failed: {e}")))
        } else {
            self.client.send_full(request).await
        };
        match answer {
            Ok(answer) => answer,
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                Default::default(),
                Bytes::from(format!("edge could not reach moto: {e}")),
            ),
        }
    }

    async fn invoke(&self, name: &str, req: Received) -> Response<Body> {
        let call = AwsCall::of(&req);
        let Some(host) = self.function(name) else {
            self.ledger.record(&call, 404, None);
            return Response::builder()
                .status(StatusCode::NOT_FOUND)
                .header("content-type", "application/json")
                .header("x-amzn-errortype", "ResourceNotFoundException")
                .body(http_body_util::Full::new(Bytes::from(
                    json!({"Type": "User", "Message": format!("Function not found: {name}")}).to_string(),
                )))
                .expect("valid response");
        };
        self.ledger.record(&call, 200, None);
        if req.header("x-amz-invocation-type") == Some("Event") {
            let body = req.body.clone();
            tokio::spawn(async move { host.invoke(body).await });
            return http::respond(StatusCode::ACCEPTED, "application/json", Vec::new());
        }
        let mut response = Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .header("x-amz-executed-version", "$LATEST");
        let body = match host.invoke(req.body).await {
            InvokeResult::Ok(body) => body,
            InvokeResult::FunctionError(body) => {
                response = response.header("x-amz-function-error", "Unhandled");
                body
            }
        };
        response
            .body(http_body_util::Full::new(body))
            .expect("valid response")
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        if let Some(server) = self.server.lock().expect("server lock").take() {
            server.abort();
        }
    }
}

/// Makes the data follow a call answered with `status`, if it moves data and succeeded (the
/// data plane is released either way); the data plane's error, already logged.
async fn follow(data: Option<Pending<'_>>, status: StatusCode) -> Option<String> {
    match data {
        Some(pending) if status.is_success() => pending.apply().await.err().map(|e| e.to_string()),
        _ => None,
    }
}

/// Text for an XML element (error messages may quote SQL).
fn xml_escaped(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `POST /2015-03-31/functions/{name}/invocations` → `name`.
fn invoked_function(req: &Received) -> Option<String> {
    if req.method != Method::POST {
        return None;
    }
    let rest = req.path().strip_prefix("/2015-03-31/functions/")?;
    let name = percent_decoded(rest.strip_suffix("/invocations")?);
    // Step Functions names functions by ARN (…:function:NAME[:QUALIFIER]).
    match name.split_once(":function:") {
        Some((_, function)) => Some(function.split(':').next().unwrap_or(function).to_string()),
        None => Some(name),
    }
}

fn percent_decoded(s: &str) -> String {
    aws_call::form_params(format!("x={s}").as_bytes())
        .pop()
        .map(|(_, v)| v)
        .unwrap_or_default()
}

pub(crate) fn rebuild(status: StatusCode, headers: &hyper::HeaderMap, body: Bytes) -> Response<Body> {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        if name != "content-length" && name != "transfer-encoding" && name != "connection" {
            builder = builder.header(name, value);
        }
    }
    builder
        .body(http_body_util::Full::new(body))
        .expect("valid response")
}
