//! The `lifeboat` command line (`cli/`) run against the local stack, as people type it: the
//! binary beside the function binaries (the workspace's debug build), pointed at the stack's
//! API front with `LIFEBOAT_API_URL`, calling as a person through `LIFEBOAT_LOCAL_PRINCIPAL`
//! (the header only the local stack reads; a deployment signs with the person's credentials).
//! The demo prints each command line before running it; tests read exit codes and output.

use std::path::PathBuf;
use std::process::Stdio;

use crate::stack::LocalStack;
use crate::StackError;

/// One finished run of `lifeboat`.
#[derive(Debug, Clone)]
pub struct CliRun {
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }
}

pub fn binary(stack: &LocalStack) -> PathBuf {
    stack.config.functions_dir.join("lifeboat")
}

/// `lifeboat ARGS` as `principal`, on the stack's API; standard input closed, output piped.
pub fn command(stack: &LocalStack, principal: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary(stack));
    command
        .args(args)
        .env("LIFEBOAT_API_URL", stack.api.url())
        .env("LIFEBOAT_LOCAL_PRINCIPAL", principal)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// `lifeboat ARGS` calling AWS itself (the drill state machine) through the stack's edge,
/// with the credentials the stack's clients use, as an engineer's credential chain would.
pub fn aws_command(stack: &LocalStack, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary(stack));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", stack.edge.url())
        .env("AWS_REGION", crate::names::REGION)
        // The edge knows its callers by their access key id.
        .env("AWS_ACCESS_KEY_ID", "lifeboat-cli")
        .env("AWS_SECRET_ACCESS_KEY", "local")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs `command` to its end.
pub async fn finish(stack: &LocalStack, mut command: tokio::process::Command) -> Result<CliRun, StackError> {
    let out = command.output().await.map_err(|e| {
        StackError::Setup(format!(
            "running {} (cargo build --workspace --bins builds it): {e}",
            binary(stack).display()
        ))
    })?;
    Ok(CliRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Runs `lifeboat ARGS` as `principal` to its end.
pub async fn run(stack: &LocalStack, principal: &str, args: &[&str]) -> Result<CliRun, StackError> {
    finish(stack, command(stack, principal, args)).await
}

/// The command line as a person would type it: `lifeboat requests file --cause other …`,
/// arguments with spaces or quotes single-quoted.
pub fn shown(args: &[&str]) -> String {
    let mut line = "lifeboat".to_string();
    for arg in args {
        line.push(' ');
        if !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.:/=,@+".contains(c))
        {
            line.push_str(arg);
        } else {
            line.push_str(&format!("'{}'", arg.replace('\'', r"'\''")));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_is_shown_as_a_shell_would_take_it() {
        assert_eq!(
            shown(&[
                "requests",
                "confirm",
                "rr-1",
                "--reason",
                "Staging checked: it's there."
            ]),
            r"lifeboat requests confirm rr-1 --reason 'Staging checked: it'\''s there.'"
        );
    }
}
