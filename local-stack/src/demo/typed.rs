//! The demo's restore requests as people drive them: each `lifeboat` command printed with who
//! types it, then what it answers, as it happens. The local stack stands in for API Gateway:
//! each person's `LIFEBOAT_LOCAL_PRINCIPAL` names them, where a deployment would sign with
//! their AWS credentials.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::cli::{self, CliRun};
use crate::names::{engineer, support};
use crate::stack::LocalStack;
use crate::StackError;

/// Who types a command: a name to print and the principal the stack sees.
pub struct Person<'a> {
    pub name: &'a str,
    pub principal: String,
}

/// Prints the command line, runs it, prints its output; an error if it did not succeed.
pub async fn run(stack: &LocalStack, who: &Person<'_>, args: &[&str]) -> Result<CliRun, StackError> {
    announce(who, args);
    let run = cli::run(stack, &who.principal, args).await?;
    print!("{}", run.stdout);
    if !run.succeeded() {
        return Err(StackError::Setup(format!(
            "`{}` exited {:?}: {}",
            cli::shown(args),
            run.code,
            run.stderr.trim()
        )));
    }
    Ok(run)
}

/// Runs the command on the demo's own standard output, so that on a terminal the watch's
/// progress bars draw live (and a pipe gets its JSON lines).
pub async fn run_live(stack: &LocalStack, who: &Person<'_>, args: &[&str]) -> Result<(), StackError> {
    announce(who, args);
    let status = cli::command(stack, &who.principal, args)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .await
        .map_err(|e| StackError::Setup(format!("running {}: {e}", cli::binary(stack).display())))?;
    if !status.success() {
        return Err(StackError::Setup(format!(
            "`{}` exited {:?}",
            cli::shown(args),
            status.code()
        )));
    }
    Ok(())
}

fn announce(who: &Person<'_>, args: &[&str]) {
    println!("\n[{}]$ {}", who.name, cli::shown(args));
    // The child writes to the same terminal: what the demo printed must be out first.
    let _ = std::io::stdout().flush();
}

/// The id a `lifeboat requests file` answered with (its first line: `Request rr-… [submitted]`).
pub fn filed_id(run: &CliRun) -> Result<String, StackError> {
    run.stdout
        .split_whitespace()
        .find(|w| w.starts_with("rr-"))
        .map(str::to_string)
        .ok_or_else(|| StackError::Setup(format!("no request id in: {}", run.stdout)))
}

/// The demo's people: support's sam, and two engineers, erin (approves) and eli (confirms).
pub fn people() -> (Person<'static>, Person<'static>, Person<'static>) {
    (
        Person {
            name: "sam, support",
            principal: support("sam"),
        },
        Person {
            name: "erin, engineering",
            principal: engineer("erin"),
        },
        Person {
            name: "eli, engineering",
            principal: engineer("eli"),
        },
    )
}

/// The request as the API has it now (read with `lifeboat requests show ID --output json`).
pub async fn request(stack: &LocalStack, who: &Person<'_>, id: &str) -> Result<Value, StackError> {
    let run = cli::run(
        stack,
        &who.principal,
        &["requests", "show", id, "--output", "json"],
    )
    .await?;
    serde_json::from_str(&run.stdout).map_err(|e| {
        StackError::Setup(format!(
            "lifeboat requests show {id}: {e}: {}{}",
            run.stdout, run.stderr
        ))
    })
}
