//! The restore-intake Lambda: API Gateway (REST API, IAM authorization) events in, the
//! intake's answers out.

use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};
use lifeboat_aws::{self as aws, CatalogTable, EventBus, RequestsTable, StepFunctions};
use lifeboat_function::config::Settings;
use lifeboat_function::status_events::Announcer;
use restore_intake::config::IntakeSettings;
use restore_intake::idempotency::HEADER;
use restore_intake::{ApiRequest, ApiResponse, Intake};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lifeboat_function::telemetry::init();
    let settings = match Settings::from_env().and_then(|s| Ok((s, IntakeSettings::from_env()?))) {
        Ok(settings) => settings,
        Err(e) => return lifeboat_function::failure::serve_configuration_error(e).await,
    };
    // Built on the first request rather than before the first poll, as in the other functions.
    let intake = OnceCell::new();
    let (intake, settings) = (&intake, &settings);
    lambda_http::run(service_fn(move |event: Request| async move {
        let intake = intake.get_or_init(|| build(&settings.0, &settings.1)).await;
        let answer = intake.handle(api_request(event), chrono::Utc::now()).await;
        Ok::<_, Error>(http_response(answer))
    }))
    .await
}

async fn build(common: &Settings, own: &IntakeSettings) -> Intake {
    let config = aws::load_config(common.tls_trust);
    let requests = Arc::new(RequestsTable::new(
        aws_sdk_dynamodb::Client::new(&config),
        &own.requests_table,
    ));
    Intake {
        requests: requests.clone(),
        idempotency: requests,
        catalog: Arc::new(CatalogTable::new(
            aws_sdk_dynamodb::Client::new(&config),
            &common.catalog_table,
        )),
        services: aws::backup_services(&config),
        workflow: Arc::new(StepFunctions::new(
            aws_sdk_sfn::Client::new(&config),
            &own.state_machine_arn,
        )),
        roles: own.roles.clone(),
        policies: common.policies.clone(),
        execution_input: own.execution_input.clone(),
        events: Announcer::new(
            Arc::new(EventBus::for_function(&config, &common.event_bus)),
            "restore-intake",
        ),
    }
}

/// The caller is API Gateway's authenticated IAM principal, never anything in the request.
fn api_request(event: Request) -> ApiRequest {
    let principal = match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.identity.user_arn.clone(),
        _ => None,
    };
    let query = event
        .query_string_parameters_ref()
        .map(|q| q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
        .unwrap_or_default();
    let idempotency_key = event
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    ApiRequest {
        method: event.method().as_str().to_string(),
        path: event.raw_http_path().to_string(),
        query,
        idempotency_key,
        body: event.body().to_vec(),
        principal,
    }
}

fn http_response(answer: ApiResponse) -> Response<Body> {
    let mut response = Response::builder()
        .status(answer.status)
        .header("content-type", answer.content_type);
    if let Some(location) = answer.location {
        response = response.header("location", location);
    }
    response
        .body(Body::Text(answer.body))
        .expect("status and headers are valid")
}
