//! Each command: its body built from the arguments (and files) first, so that bad input is
//! reported before any credential is looked up; then the call; then the answer printed.

mod drills;
mod points;
mod requests;

use crate::args::{Cli, Command};
use crate::error::CliError;

pub async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Requests { command } => requests::run(&cli.connection, command, cli.output).await,
        Command::Points { instance } => points::run(&cli.connection, &instance, cli.output).await,
        Command::Drills { command } => drills::run(&cli.connection, command, cli.output).await,
    }
}
