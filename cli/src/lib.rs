//! The `lifeboat` command line: what an engineer or a support agent types to file, decide,
//! confirm and follow restore requests, and to see an instance's recovery points, over the
//! restore-request API (`functions/restore-intake/openapi.yaml`).
//!
//! Calls are signed with SigV4 for `execute-api` from the standard credential chain
//! ([`auth`], [`signing`]); against the local stack, `--local-principal` names the caller in
//! the header its API front reads instead. It holds no domain logic: the API decides and
//! checks everything, and the CLI shows its answers (and its refusals, field by field).
//!
//! Not for: anything the API does not offer (console-only steps such as `SendTaskFailure`).

pub mod args;
pub mod auth;
pub mod client;
pub mod commands;
pub mod decision;
pub mod endpoint;
pub mod error;
pub mod filing;
pub mod input;
pub mod output;
pub mod point;
pub mod problem;
pub mod progress;
pub mod request_view;
pub mod signing;
pub mod watch;
pub mod watch_view;

use std::process::ExitCode;

use clap::Parser;

/// Parses the command line, runs the command, and reports a failure on standard error with
/// its exit code.
pub async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lifeboat: {e}");
            e.exit()
        }
    }
}
