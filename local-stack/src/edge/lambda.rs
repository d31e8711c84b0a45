//! Running the real function binaries under a local implementation of the Lambda Runtime API.
//!
//! Each function gets its own Runtime API listener and, like one warm Lambda instance, one
//! process that handles one invocation at a time. The process is started on the first
//! invocation and again after it exits (a crash, or a kill injected by a fault). An
//! invocation whose process dies answers `Runtime.ExitError`, as Lambda does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::{oneshot, Notify};

use crate::http::{self, Body, Received};
use crate::StackError;

/// What an invocation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeResult {
    Ok(Bytes),
    /// The function failed: its error document (`errorType`, `errorMessage`).
    FunctionError(Bytes),
}

/// How to start one function.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub binary: PathBuf,
    pub env: BTreeMap<String, String>,
    pub timeout: Duration,
    pub log: PathBuf,
}

struct Pending {
    id: String,
    event: Bytes,
    deadline_ms: u128,
    delivered: bool,
    reply: Option<oneshot::Sender<InvokeResult>>,
}

#[derive(Default)]
struct Process {
    /// Sending on it kills the process.
    kill: Option<oneshot::Sender<()>>,
    alive: bool,
    spawned_at: Option<Instant>,
    /// When the process first asked for work, after its latest spawn.
    first_poll: Option<Duration>,
    /// Counts spawns. A Runtime API poll belongs to the process current when it arrived; a
    /// poll left waiting by a dead process must not take the next process's invocation.
    generation: u64,
}

pub struct FunctionHost {
    spec: FunctionSpec,
    runtime_port: u16,
    pending: Mutex<Option<Pending>>,
    ready: Notify,
    process: Mutex<Process>,
    one_at_a_time: tokio::sync::Mutex<()>,
    next_id: Mutex<u64>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The latest process's cold start, once it has polled the Runtime API.
    first_poll: tokio::sync::watch::Sender<Option<Duration>>,
}

impl FunctionHost {
    /// Starts the function's Runtime API listener; the process starts on first invocation.
    pub async fn start(spec: FunctionSpec) -> Result<Arc<FunctionHost>, StackError> {
        if !spec.binary.exists() {
            return Err(StackError::Setup(format!(
                "function binary {} is missing (build it: cargo build --workspace --bins)",
                spec.binary.display()
            )));
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| StackError::Setup(format!("runtime API listener for {}: {e}", spec.name)))?;
        let runtime_port = listener
            .local_addr()
            .map_err(|e| StackError::Setup(e.to_string()))?
            .port();
        let host = Arc::new(FunctionHost {
            spec,
            runtime_port,
            pending: Mutex::new(None),
            ready: Notify::new(),
            process: Mutex::default(),
            one_at_a_time: tokio::sync::Mutex::new(()),
            next_id: Mutex::new(0),
            server: Mutex::new(None),
            first_poll: tokio::sync::watch::Sender::new(None),
        });
        let server = http::serve_weak(listener, &host, "function host stopped", |host, req| async move {
            host.runtime_api(req).await
        });
        *host.server.lock().expect("server lock") = Some(server);
        Ok(host)
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Invokes the function with `event` and waits for its answer.
    pub async fn invoke(self: &Arc<Self>, event: Bytes) -> InvokeResult {
        let _turn = self.one_at_a_time.lock().await;
        if let Err(e) = self.ensure_process() {
            return error_result("Runtime.StartError", &e.to_string());
        }
        let id = {
            let mut n = self.next_id.lock().expect("id lock");
            *n += 1;
            format!("{}-{:06}", self.spec.name, *n)
        };
        let (reply, answer) = oneshot::channel();
        let deadline = SystemTime::now() + self.spec.timeout;
        *self.pending.lock().expect("pending lock") = Some(Pending {
            id,
            event,
            deadline_ms: deadline
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis(),
            delivered: false,
            reply: Some(reply),
        });
        self.ready.notify_one();
        let result = match tokio::time::timeout(self.spec.timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => error_result(
                "Runtime.ExitError",
                "the function's process exited during the invocation",
            ),
            Err(_) => {
                self.kill();
                error_result(
                    "Sandbox.Timedout",
                    &format!(
                        "Task timed out after {:.2} seconds",
                        self.spec.timeout.as_secs_f64()
                    ),
                )
            }
        };
        *self.pending.lock().expect("pending lock") = None;
        result
    }

    /// Kills the function's process (a crash, as far as the invocation in flight can tell).
    pub fn kill(&self) {
        let mut process = self.process.lock().expect("process lock");
        if let Some(kill) = process.kill.take() {
            let _ = kill.send(());
        }
        process.alive = false;
        drop(process);
        self.ready.notify_waiters();
    }

    /// The time from the latest spawn to the process's first poll of the Runtime API.
    pub fn cold_start(&self) -> Option<Duration> {
        self.process.lock().expect("process lock").first_poll
    }

    /// Waits until the latest process has polled the Runtime API; its cold start.
    pub async fn wait_for_first_poll(&self) -> Duration {
        let mut polled = self.first_poll.subscribe();
        let value = polled
            .wait_for(Option::is_some)
            .await
            .expect("the host owns the sender");
        value.expect("waited for Some")
    }

    /// Starts the process now if it is not running; returns when it is spawned.
    pub fn ensure_process(self: &Arc<Self>) -> Result<(), StackError> {
        let mut process = self.process.lock().expect("process lock");
        if process.alive {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .map_err(|e| StackError::Setup(format!("log {}: {e}", self.spec.log.display())))?;
        let err_log = log.try_clone().map_err(|e| StackError::Setup(e.to_string()))?;
        let mut child = Command::new(&self.spec.binary)
            .env_clear()
            .envs(std::env::vars().filter(|(k, _)| k == "PATH" || k == "RUST_BACKTRACE"))
            .envs(&self.spec.env)
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("127.0.0.1:{}", self.runtime_port),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env(
                "AWS_LAMBDA_LOG_GROUP_NAME",
                format!("/aws/lambda/{}", self.spec.name),
            )
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err_log))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| StackError::Setup(format!("starting {}: {e}", self.spec.binary.display())))?;
        let (kill, killed) = oneshot::channel::<()>();
        *process = Process {
            kill: Some(kill),
            alive: true,
            spawned_at: Some(Instant::now()),
            first_poll: None,
            generation: process.generation + 1,
        };
        self.first_poll.send_replace(None);
        self.ready.notify_waiters();
        let host = Arc::downgrade(self);
        let generation = process.generation;
        tokio::spawn(async move {
            tokio::select! {
                _ = child.wait() => {}
                _ = killed => { let _ = child.kill().await; }
            }
            if let Some(host) = host.upgrade() {
                host.process_exited(generation);
            }
        });
        Ok(())
    }

    /// Process `generation` is gone: fail the invocation in flight, whether or not it had
    /// taken it (a process that dies at start never asks). A newer process is not affected.
    fn process_exited(&self, generation: u64) {
        {
            let mut process = self.process.lock().expect("process lock");
            if process.generation != generation {
                return;
            }
            process.alive = false;
        }
        self.ready.notify_waiters();
        if let Some(p) = self.pending.lock().expect("pending lock").as_mut() {
            // Dropping the sender answers the invocation with Runtime.ExitError.
            p.reply.take();
        }
    }

    async fn runtime_api(self: Arc<Self>, req: Received) -> hyper::Response<Body> {
        let path = req.path().trim_start_matches("/2018-06-01/runtime/").to_string();
        let parts: Vec<&str> = path.split('/').collect();
        match (req.method.clone(), parts.as_slice()) {
            (Method::GET, ["invocation", "next"]) => self.next_invocation().await,
            (Method::POST, ["invocation", id, "response"]) => self.answer(id, InvokeResult::Ok(req.body)),
            (Method::POST, ["invocation", id, "error"]) => {
                self.answer(id, InvokeResult::FunctionError(req.body))
            }
            (Method::POST, ["init", "error"]) => {
                let mut pending = self.pending.lock().expect("pending lock");
                if let Some(reply) = pending.as_mut().and_then(|p| p.reply.take()) {
                    let _ = reply.send(InvokeResult::FunctionError(req.body));
                }
                http::json(StatusCode::ACCEPTED, &json!({"status": "OK"}))
            }
            _ => http::text(StatusCode::NOT_FOUND, "unknown Runtime API path"),
        }
    }

    async fn next_invocation(&self) -> hyper::Response<Body> {
        let generation = {
            let mut process = self.process.lock().expect("process lock");
            if process.first_poll.is_none() {
                process.first_poll = process.spawned_at.map(|t| t.elapsed());
                self.first_poll.send_replace(process.first_poll);
            }
            process.generation
        };
        loop {
            // Registered before the checks, so a wake-up between them is not lost.
            let notified = self.ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.process.lock().expect("process lock").generation != generation {
                return http::text(StatusCode::GONE, "this poll belongs to a process that is gone");
            }
            {
                let mut pending = self.pending.lock().expect("pending lock");
                if let Some(p) = pending.as_mut().filter(|p| !p.delivered) {
                    p.delivered = true;
                    return hyper::Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/json")
                        .header("lambda-runtime-aws-request-id", &p.id)
                        .header("lambda-runtime-deadline-ms", p.deadline_ms.to_string())
                        .header(
                            "lambda-runtime-invoked-function-arn",
                            crate::names::arn("lambda", &format!("function:{}", self.spec.name)),
                        )
                        .header("lambda-runtime-trace-id", format!("Root=1-local-{}", p.id))
                        .body(http_body_util::Full::new(p.event.clone()))
                        .expect("valid response");
                }
            }
            notified.await;
        }
    }

    fn answer(&self, id: &str, result: InvokeResult) -> hyper::Response<Body> {
        let mut pending = self.pending.lock().expect("pending lock");
        match pending
            .as_mut()
            .filter(|p| p.id == id)
            .and_then(|p| p.reply.take())
        {
            Some(reply) => {
                let _ = reply.send(result);
                http::json(StatusCode::ACCEPTED, &json!({"status": "OK"}))
            }
            None => http::text(StatusCode::BAD_REQUEST, "no such invocation in flight"),
        }
    }
}

impl Drop for FunctionHost {
    fn drop(&mut self) {
        if let Some(server) = self.server.lock().expect("server lock").take() {
            server.abort();
        }
        self.kill();
    }
}

fn error_result(error_type: &str, message: &str) -> InvokeResult {
    InvokeResult::FunctionError(Bytes::from(
        serde_json::to_vec(&json!({"errorType": error_type, "errorMessage": message})).expect("JSON"),
    ))
}
