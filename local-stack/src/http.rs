//! The little HTTP the local stack needs: a server loop, a client, and body helpers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

pub type Body = Full<Bytes>;

/// A request with its body read.
pub struct Received {
    pub method: hyper::Method,
    pub uri: hyper::Uri,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }
}

/// Serves `handler` on `listener` until the returned task is aborted.
pub fn serve<H, F>(listener: TcpListener, handler: Arc<H>) -> tokio::task::JoinHandle<()>
where
    H: Fn(Received) -> F + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors or similar: back off instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = match body.collect().await {
                            Ok(b) => b.to_bytes(),
                            Err(e) => {
                                return Ok::<_, Infallible>(text(StatusCode::BAD_REQUEST, &e.to_string()))
                            }
                        };
                        let received = Received {
                            method: parts.method,
                            uri: parts.uri,
                            headers: parts.headers,
                            body,
                        };
                        Ok(handler(received).await)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// Serves `handle` on `target` for as long as `target` lives; after that, answers `gone`.
/// (The server task holds only a weak reference, so dropping the owner stops the service.)
pub fn serve_weak<T, F, Fut>(
    listener: TcpListener,
    target: &Arc<T>,
    gone: &'static str,
    handle: F,
) -> tokio::task::JoinHandle<()>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>, Received) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let weak = Arc::downgrade(target);
    let handle = Arc::new(handle);
    serve(
        listener,
        Arc::new(move |req: Received| {
            let target = weak.upgrade();
            let handle = handle.clone();
            async move {
                match target {
                    Some(t) => handle(t, req).await,
                    None => text(StatusCode::SERVICE_UNAVAILABLE, gone),
                }
            }
        }),
    )
}

pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    respond(status, "text/plain", body.as_bytes().to_vec())
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    respond(
        status,
        "application/json",
        serde_json::to_vec(value).expect("JSON serializes"),
    )
}

pub fn respond(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("static response parts are valid")
}

pub fn request(method: &str, url: &str, body: Vec<u8>, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("request parts are valid")
}

/// A plain-HTTP client (everything local is on loopback).
#[derive(Clone)]
pub struct HttpClient {
    inner: Client<hyper_util::client::legacy::connect::HttpConnector, Body>,
}

impl Default for HttpClient {
    fn default() -> Self {
        HttpClient::new()
    }
}

impl HttpClient {
    pub fn new() -> Self {
        HttpClient {
            inner: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// Sends a request and reads the whole answer.
    pub async fn send(&self, req: Request<Body>) -> Result<(StatusCode, Bytes), String> {
        let (status, _, body) = self.send_full(req).await?;
        Ok((status, body))
    }

    pub async fn send_full(
        &self,
        req: Request<Body>,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
        let response = self.inner.request(req).await.map_err(|e| format!("{e:?}"))?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}
