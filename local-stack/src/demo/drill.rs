//! The demo's restore drill: the drill state machine restores the demo instance's latest
//! points into lbd- sandboxes, checks them against production, deletes them, and reports.

use chrono::{DateTime, TimeDelta, Utc};
use lifeboat::schedule::Slot;
use serde_json::Value;

use super::DEMO_INSTANCE;
use crate::names::REPORTS_BUCKET;
use crate::simulation::{Tick, CREATOR, PRUNER};
use crate::stack::{Invocation, LocalStack};
use crate::{cli, state_machines, StackError};

/// The demo drill's execution (and so its id, `drill-demo-drill`).
const DRILL_NAME: &str = "demo-drill";

/// Runs the drill; returns what to print, whether it succeeded, and the simulated time it
/// moved the demo to (the next hour's ticks), at which the audit then runs.
pub async fn run(stack: &LocalStack) -> Result<(String, bool, DateTime<Utc>), StackError> {
    // The instance's points so far predate the CRM data the selective restore added: the
    // simulation takes the next hour's scheduled point now, so the drill has data to check.
    let next = Slot::containing(Utc::now()).next().start();
    for (function, at) in [(CREATOR, next), (PRUNER, next + TimeDelta::minutes(20))] {
        if let Invocation::Failed { error_type, message } = stack
            .invoke(function, &Tick { time: at, function }.event())
            .await?
        {
            return Err(StackError::Setup(format!(
                "{function} at {at}: {error_type}: {message}"
            )));
        }
    }
    // As an engineer starts one on demand: the drill state machine, with their own AWS
    // credentials (here the stack's), polling the restores every second (moto restores at
    // once) and followed to its end.
    let args = [
        "drills",
        "start",
        DEMO_INSTANCE,
        "--name",
        DRILL_NAME,
        "--poll-interval",
        "1",
        "--wait",
        "--watch-seconds",
        "1",
    ];
    println!("\n[erin, engineering]$ {}", cli::shown(&args));
    let mut command = cli::aws_command(stack, &args);
    command.env("LIFEBOAT_DRILL_STATE_MACHINE_ARN", state_machines::drill_arn());
    let typed = cli::finish(stack, command).await?;
    print!("{}{}", typed.stdout, typed.stderr);
    let mut out = format!(
        "Restore drill of the demo instance (the drill state machine), from the point of {next} the simulation took early:\n"
    );
    let drill = lifeboat::drill::plan::drill_of_execution(DRILL_NAME);
    let key = format!(
        "{}.json",
        lifeboat::drill::report::report_stem(DEMO_INSTANCE, chrono::Utc::now(), &drill)
    );
    let report: Value = serde_json::from_slice(&stack.report_object(&key).await?).unwrap_or(Value::Null);
    for r in report["resources"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}: point {} ({} h old) restored into {} in {} s; sandbox {}\n",
            r["resource"].as_str().unwrap_or_default(),
            r["point"].as_str().unwrap_or_default(),
            r["data_age_seconds"].as_i64().unwrap_or_default() / 3600,
            r["sandbox"].as_str().unwrap_or_default(),
            r["restore_seconds"],
            if r["sandbox_deleted"] == true {
                "deleted"
            } else {
                "NOT deleted"
            },
        ));
        if let Some(e) = r["error"].as_str() {
            out.push_str(&format!("    error: {e}\n"));
        }
        for c in r["checks"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "    {} {}: {}\n",
                if c["passed"] == true { "ok    " } else { "FAILED" },
                c["name"].as_str().unwrap_or_default(),
                c["detail"].as_str().unwrap_or_default()
            ));
        }
    }
    let succeeded = typed.succeeded();
    out.push_str(&format!(
        "  drill {}; report s3://{REPORTS_BUCKET}/{key}\n",
        if succeeded { "succeeded" } else { "FAILED" }
    ));
    Ok((out, succeeded, next + TimeDelta::minutes(30)))
}
