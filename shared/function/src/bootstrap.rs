//! How every function that serves Lambda events starts: logs first, then its settings, read
//! once; a misconfigured deployment answers every invocation with the variable named (see
//! [`crate::failure::serve_configuration_error`]); the handler is built on the first event
//! rather than before the first poll (see `lifeboat_aws::tls` and BENCHMARKS.md for what a
//! cold start costs and where), then serves every event.
//!
//! The intake serves API Gateway requests through `lambda_http` and starts on its own.

use chrono::{DateTime, Utc};
use lambda_runtime::{service_fn, Diagnostic, Error, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::config::ConfigError;
use crate::{failure, telemetry};

/// Serves events until the runtime stops: `handle(handler, event, now)` with the handler
/// `build(settings)` made on the first event and `now` the wall clock at the event's arrival.
pub async fn serve<S, H, R, E>(
    settings: impl FnOnce() -> Result<S, ConfigError>,
    build: impl AsyncFn(&S) -> H,
    handle: impl AsyncFn(&H, Value, DateTime<Utc>) -> Result<R, E>,
) -> Result<(), Error>
where
    R: Serialize,
    E: Into<Diagnostic>,
{
    telemetry::init();
    let settings = match settings() {
        Ok(settings) => settings,
        Err(e) => return failure::serve_configuration_error(e).await,
    };
    let handler = OnceCell::new();
    let (handler, settings, build, handle) = (&handler, &settings, &build, &handle);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let handler = handler.get_or_init(|| build(settings)).await;
        let answer = handle(handler, event.payload, Utc::now())
            .await
            .map_err(Into::into)?;
        serde_json::to_value(answer).map_err(|e| Diagnostic {
            error_type: "InvalidAnswer".into(),
            error_message: format!("the answer could not be written as JSON: {e}"),
        })
    }))
    .await
}
