//! `lifeboat requests …`: file, list, show, approve, reject, cancel, confirm, watch.

use std::io::IsTerminal;
use std::time::Duration;

use serde_json::{json, Value};

use crate::args::{wire_name, Connection, Output, Requests};
use crate::client::Api;
use crate::decision;
use crate::endpoint::{query, segment};
use crate::error::CliError;
use crate::filing::filing;
use crate::output::json_line;
use crate::request_view;
use crate::watch::{watch, Until, View};
use crate::watch_view::{Bars, JsonLines};

pub async fn run(connection: &Connection, command: Requests, output: Output) -> Result<(), CliError> {
    match command {
        Requests::File(args) => {
            let body = filing(&args)?;
            let api = Api::connect(connection).await?;
            let filed = api
                .post(
                    "/restore-requests",
                    Some(&body),
                    args.key.idempotency_key.as_deref(),
                )
                .await?;
            print(output, &filed, |r| {
                format!(
                    "{}Next: an engineer approves it with `lifeboat requests approve {} --mode rollback|selective --reason …`\n",
                    request_view::request(r),
                    r["id"].as_str().unwrap_or("ID")
                )
            });
            Ok(())
        }
        Requests::List { instance, status } => {
            let status = status.map(wire_name);
            let mut pairs = vec![("instance_id", instance.as_str())];
            if let Some(s) = &status {
                pairs.push(("status", s));
            }
            let api = Api::connect(connection).await?;
            let answer = api.get(&format!("/restore-requests{}", query(&pairs))).await?;
            print(output, &answer, |a| {
                request_view::list(
                    a["restore_requests"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default(),
                )
            });
            Ok(())
        }
        Requests::Show { id } => {
            let api = Api::connect(connection).await?;
            let request = api.get(&request_path(&id, "")).await?;
            print(output, &request, request_view::request);
            Ok(())
        }
        Requests::Approve(args) => {
            let body = decision::approval(&args)?;
            change(
                connection,
                output,
                &args.id,
                "decision",
                Some(body),
                args.key.idempotency_key,
            )
            .await
        }
        Requests::Reject { id, reason, key } => {
            let body = decision::rejection(&reason);
            change(
                connection,
                output,
                &id,
                "decision",
                Some(body),
                key.idempotency_key,
            )
            .await
        }
        Requests::Cancel { id, reason, key } => {
            let body = json!({ "reason": reason });
            change(connection, output, &id, "cancel", Some(body), key.idempotency_key).await
        }
        Requests::Confirm { id, reason, key } => {
            // The endpoint takes an empty body or {"reason": …}.
            let body = reason.map(|reason| json!({ "reason": reason }));
            change(connection, output, &id, "confirm", body, key.idempotency_key).await
        }
        Requests::Watch {
            id,
            interval,
            until_confirmation,
        } => {
            let interval = Duration::try_from_secs_f64(interval)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| CliError::Usage("--interval must be a positive number of seconds".into()))?;
            let api = Api::connect(connection).await?;
            let mut view: Box<dyn View> = if output == Output::Json || !std::io::stdout().is_terminal() {
                Box::new(JsonLines)
            } else {
                Box::new(Bars::new(&id))
            };
            let until = if until_confirmation {
                Until::Confirmation
            } else {
                Until::End
            };
            watch(&api, &id, (interval, until), view.as_mut()).await
        }
    }
}

/// `/restore-requests/{id}` and its sub-resources (`decision`, `cancel`, `confirm`).
fn request_path(id: &str, action: &str) -> String {
    let base = format!("/restore-requests/{}", segment(id));
    if action.is_empty() {
        base
    } else {
        format!("{base}/{action}")
    }
}

/// A POST that changes request `id`; prints the request as it is after it.
async fn change(
    connection: &Connection,
    output: Output,
    id: &str,
    action: &str,
    body: Option<Value>,
    idempotency_key: Option<String>,
) -> Result<(), CliError> {
    let api = Api::connect(connection).await?;
    let request = api
        .post(
            &request_path(id, action),
            body.as_ref(),
            idempotency_key.as_deref(),
        )
        .await?;
    print(output, &request, |r| {
        format!("{}\n", request_view::status_line(r))
    });
    Ok(())
}

fn print(output: Output, answer: &Value, human: impl Fn(&Value) -> String) {
    match output {
        Output::Json => println!("{}", json_line(answer)),
        Output::Table => print!("{}", human(answer)),
    }
}
