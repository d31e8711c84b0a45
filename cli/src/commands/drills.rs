//! `lifeboat drills start INSTANCE`: a restore drill of one customer instance now, through
//! the drill state machine (the stack's `DrillStateMachineArn` output). Drills are not part of
//! the restore-request API: this starts the execution as the console would, with the
//! caller's own AWS credentials (an engineer's role that may `states:StartExecution` on it).
//! With `--wait` it follows the drill to its end and exits 1 unless it succeeded.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{json, Value};

use crate::args::{Connection, DrillStart, Drills, Output};
use crate::auth::chain;
use crate::error::CliError;
use crate::output::json_line;

pub async fn run(connection: &Connection, command: Drills, output: Output) -> Result<(), CliError> {
    match command {
        Drills::Start(start) => self::start(connection, start, output).await,
    }
}

/// The execution's input: the instance, and the point and polling when given.
pub fn input(start: &DrillStart) -> Value {
    let mut input = json!({"instance_id": start.instance});
    if let Some(point) = &start.point {
        input["point"] = json!(point);
    }
    if let Some(seconds) = start.poll_interval {
        input["poll_interval_seconds"] = json!(seconds);
    }
    input
}

/// The execution's name: given, or the instance's and the time's (a name is the drill's id).
pub fn execution_name(start: &DrillStart, now: chrono::DateTime<chrono::Utc>) -> String {
    start.name.clone().unwrap_or_else(|| {
        let instance: String = (start.instance.chars())
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        format!("drill-{instance}-{}-cli", now.format("%Y%m%dt%H%M%S"))
    })
}

async fn start(connection: &Connection, start: DrillStart, output: Output) -> Result<(), CliError> {
    let arn = start.state_machine.clone().ok_or_else(|| {
        CliError::Config(
            "no drill state machine: pass --state-machine or set LIFEBOAT_DRILL_STATE_MACHINE_ARN \
             (the stack's DrillStateMachineArn output)"
                .into(),
        )
    })?;
    let sfn = client(connection).await?;
    let name = execution_name(&start, chrono::Utc::now());
    let started = sfn
        .start_execution()
        .state_machine_arn(&arn)
        .name(&name)
        .input(input(&start).to_string())
        .send()
        .await
        .map_err(|e| refused("StartExecution", &arn, &e))?;
    let execution = started.execution_arn().to_string();
    match output {
        Output::Json => println!(
            "{}",
            json_line(&json!({"execution": execution, "status": "RUNNING"}))
        ),
        Output::Table => println!("drill of {} started: {execution}", start.instance),
    }
    if !start.wait {
        return Ok(());
    }
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .map_err(|e| refused("DescribeExecution", &execution, &e))?;
        let status = described.status().clone();
        if status != ExecutionStatus::Running {
            let outcome: Value = (described.output())
                .and_then(|o| serde_json::from_str(o).ok())
                .unwrap_or(Value::Null);
            let mut report = outcome["outcome"]["report_key"].clone();
            if report.is_null() {
                // A failed drill has no output, but its report exists: the Report step's
                // answer is in the execution's history.
                report = reported_key(&sfn, &execution)
                    .await
                    .map_or(Value::Null, Value::from);
            }
            match output {
                Output::Json => println!(
                    "{}",
                    json_line(
                        &json!({"execution": execution, "status": status.as_str(), "report_key": report, "error": described.error(), "cause": described.cause()})
                    )
                ),
                Output::Table => println!(
                    "drill {}{}{}",
                    status.as_str(),
                    report
                        .as_str()
                        .map_or(String::new(), |k| format!("; report s3 {k}")),
                    described.cause().map_or(String::new(), |c| format!(" ({c})"))
                ),
            }
            return if status == ExecutionStatus::Succeeded {
                Ok(())
            } else {
                Err(CliError::DrillNotSucceeded {
                    execution: name,
                    status: status.as_str().to_lowercase(),
                })
            };
        }
        tokio::time::sleep(Duration::from_secs(start.watch_seconds)).await;
    }
}

/// The report key the drill's `Report` step answered, from the execution's history (newest
/// first); `None` when the drill stopped before its report or the history cannot be read.
async fn reported_key(sfn: &aws_sdk_sfn::Client, execution: &str) -> Option<String> {
    let mut pages = sfn
        .get_execution_history()
        .execution_arn(execution)
        .reverse_order(true)
        .include_execution_data(true)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.ok()?;
        let report = (page.events().iter())
            .filter_map(|e| e.state_exited_event_details())
            .find(|d| d.name() == "Report");
        if let Some(exited) = report {
            let output: Value = serde_json::from_str(exited.output()?).ok()?;
            return output["outcome"]["report_key"].as_str().map(str::to_string);
        }
    }
    None
}

async fn client(connection: &Connection) -> Result<aws_sdk_sfn::Client, CliError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(profile) = &connection.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(region) = &connection.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let config = loader.load().await;
    if config.region().is_none() {
        return Err(CliError::Config(
            "no region: pass --region, set AWS_REGION, or give the profile a region".into(),
        ));
    }
    Ok(aws_sdk_sfn::Client::new(&config))
}

/// A Step Functions call that failed: unreachable (4) or refused (3), with the service's words.
fn refused<E>(operation: &str, target: &str, e: &aws_sdk_sfn::error::SdkError<E>) -> CliError
where
    E: std::error::Error + 'static,
{
    use aws_sdk_sfn::error::SdkError;
    match e {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => CliError::Unreachable {
            endpoint: format!("Step Functions ({operation} {target})"),
            reason: chain(e),
        },
        _ => CliError::Http {
            method: operation.to_string(),
            url: target.to_string(),
            status: e.raw_response().map_or(400, |r| r.status().as_u16()),
            body: chain(e),
            hint: "",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(point: Option<&str>) -> DrillStart {
        DrillStart {
            instance: "acme.eu".into(),
            point: point.map(str::to_string),
            state_machine: None,
            name: None,
            poll_interval: Some(5),
            wait: false,
            watch_seconds: 10,
        }
    }

    #[test]
    fn a_drill_s_input_and_name_come_from_the_arguments() {
        assert_eq!(
            input(&start(Some("random"))),
            json!({"instance_id": "acme.eu", "point": "random", "poll_interval_seconds": 5})
        );
        assert_eq!(input(&start(None))["point"], Value::Null);
        let at = "2026-12-04T10:15:00Z".parse().unwrap();
        assert_eq!(
            execution_name(&start(None), at),
            "drill-acme_eu-20261204t101500-cli"
        );
    }
}
