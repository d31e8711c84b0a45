//! `lifeboat-local`: the local stack from the command line (`lifeboat-local --help`).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use lifeboat_local::function_settings::FunctionSettings;
use lifeboat_local::{bench, demo, LocalStack, StackConfig};

/// Lifeboat's local stack: moto, the edge (Lambda APIs, forwarding, faults), PostgreSQL and
/// the real function binaries, on loopback, with no AWS account.
#[derive(Parser)]
#[command(name = "lifeboat-local", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the stack, print its endpoints, and stay up until Ctrl-C.
    Up {
        /// A setting for the functions, as a deployment's template parameters give them:
        /// `KEY=VALUE` for every function, `FUNCTION:KEY=VALUE` for one, `KEY=@FILE` to read
        /// the value from a file (e.g. `LIFEBOAT_POLICIES=@policies.json`). Repeatable.
        #[arg(long = "env", value_name = "[FUNCTION:]KEY=VALUE")]
        env: Vec<String>,
        /// A file of such settings, one a line (`#` comments); `--env` entries win.
        #[arg(long = "env-file", value_name = "FILE")]
        env_files: Vec<PathBuf>,
    },
    /// Start the stack, tag a demo customer instance, fast-forward the schedules through the
    /// real binaries and print the coverage table; then a rollback and a selective restore
    /// through the request API, a restore drill, and the daily audit after a snapshot was
    /// shared publicly. Exits non-zero if coverage differs from the policy, the drill fails or
    /// the sharing is not revoked.
    Demo {
        /// Simulated days to fast-forward.
        #[arg(long, default_value_t = 400)]
        days: i64,
        /// The simulation's last instant, RFC 3339 (default: now).
        #[arg(long, value_parser = rfc3339)]
        end: Option<DateTime<Utc>>,
    },
    /// Print the benchmarks' figures (see BENCHMARKS.md): the parts named, or all of them.
    Bench {
        /// Which parts to run; none means all but local-fleet.
        #[arg(value_enum)]
        parts: Vec<Part>,
        /// Where the function binaries whose sizes and cold starts are measured live
        /// (default: beside this executable).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// The merge benchmark's child process: one merge, its figures as JSON on stdout.
    #[command(hide = true)]
    MergeWorker {
        #[arg(long)]
        url: String,
        #[arg(long)]
        store: PathBuf,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
    /// Retention planning at fleet scale.
    Planning,
    /// Restore requests through the intake's handler.
    Intake,
    /// A rollback's orchestration overhead on the local stack.
    Restore,
    /// Selective merges: PostgreSQL at 100,000 and 1,000,000 rows, DynamoDB calls per item.
    Merge,
    /// The DynamoDB copy-back and its verification, shard by shard.
    CopyBack,
    /// Cold starts and sizes of the function binaries in --dir.
    ColdStart,
    /// AWS calls per resource per tick of a simulated fleet.
    Calls,
    /// A fleet's hour at 1,000, 5,000 and 20,000 resources under AWS's rate limits (emulated).
    Fleet,
    /// A fleet's daily audit at 1,000 and 20,000 resources, fanned out, on the same emulation.
    FleetAudit,
    /// 300 resources over three simulated days on the local stack with AWS's rate limits on
    /// (about an hour: run only when named).
    LocalFleet,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse().command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lifeboat-local: {e}");
            ExitCode::FAILURE
        }
    }
}

fn rfc3339(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}), e.g. 2026-11-28T23:00:00Z"))
}

async fn run(command: Command) -> Result<ExitCode, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    match command {
        Command::Up { env, env_files } => {
            let settings = FunctionSettings::parse(&env, &env_files)?;
            let config = StackConfig::from_env().with_settings(settings);
            let stack = LocalStack::start(config).await.map_err(|e| text(&e))?;
            print_endpoints(&stack);
            print_settings(&stack.config);
            println!(
                "Functions: {} (Lambda Invoke API on the edge). Ctrl-C stops.",
                lifeboat_local::names::FUNCTIONS.join(", ")
            );
            tokio::signal::ctrl_c().await.map_err(|e| text(&e))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { days, end } => demo(days, end.unwrap_or_else(Utc::now)).await,
        Command::Bench { parts, dir } => {
            let dir = dir.unwrap_or_else(|| {
                std::env::current_exe()
                    .ok()
                    .and_then(|e| e.parent().map(|p| p.to_path_buf()))
                    .unwrap_or_default()
            });
            let parts = if parts.is_empty() {
                Part::value_variants()
                    .iter()
                    .copied()
                    .filter(|p| *p != Part::LocalFleet)
                    .collect()
            } else {
                parts
            };
            for part in parts {
                println!("{}", figures(part, &dir).await?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::MergeWorker { url, store } => {
            println!(
                "{}",
                bench::merge::merge_worker(&url, &store)
                    .await
                    .map_err(|e| text(&e))?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn demo(days: i64, end: DateTime<Utc>) -> Result<ExitCode, String> {
    let stack = LocalStack::start(StackConfig::from_env())
        .await
        .map_err(|e| e.to_string())?;
    print_endpoints(&stack);
    let (table, exact) = demo::run(&stack, days, end).await.map_err(|e| e.to_string())?;
    println!("\n{table}");
    let restore = demo::restore_request::run(&stack, Utc::now())
        .await
        .map_err(|e| e.to_string())?;
    println!("\n{restore}");
    let selective = demo::selective::run(&stack).await.map_err(|e| e.to_string())?;
    println!("{selective}");
    let (drill, drilled, clock) = demo::drill::run(&stack).await.map_err(|e| e.to_string())?;
    println!("\n{drill}");
    if !drilled {
        println!("The restore drill of the demo instance failed (see above).");
        return Ok(ExitCode::FAILURE);
    }
    let (audit, revoked) = demo::audit::run(&stack, clock).await.map_err(|e| e.to_string())?;
    println!("\n{audit}");
    if !revoked {
        println!("The audit did not revoke the public snapshot (see above).");
        return Ok(ExitCode::FAILURE);
    }
    if exact {
        println!("Coverage is exactly the policy's.");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("Coverage differs from the policy (see above).");
        Ok(ExitCode::FAILURE)
    }
}

/// One part's figures, as text.
async fn figures(part: Part, dir: &std::path::Path) -> Result<String, String> {
    let text = |e: &dyn std::fmt::Display| e.to_string();
    Ok(match part {
        Part::Planning => bench::retention_planning().to_string(),
        Part::Intake => bench::intake::intake_handling().await.to_string(),
        Part::Restore => bench::restore::orchestration_overhead(dir)
            .await
            .map_err(|e| text(&e))?
            .to_string(),
        Part::Merge => {
            let mut out = bench::merge::postgres_heading().to_string();
            out.push('\n');
            for rows in [100_000, 1_000_000] {
                out += &bench::merge::postgres_run(rows)
                    .await
                    .map_err(|e| text(&e))?
                    .to_string();
            }
            out + &bench::merge::dynamodb_calls()
                .await
                .map_err(|e| text(&e))?
                .to_string()
        }
        Part::CopyBack => {
            let mut out = Vec::new();
            for items in [10_000, 50_000] {
                out.push(
                    bench::copy_back::copy_back(items)
                        .await
                        .map_err(|e| text(&e))?
                        .to_string(),
                );
            }
            out.join("\n")
        }
        Part::ColdStart => bench::cold_starts(dir).await.map_err(|e| text(&e))?.to_string(),
        Part::Fleet => bench::fleet::fleet_hours(),
        Part::FleetAudit => bench::fleet_audit::fleet_audits(),
        Part::Calls => {
            let end = "2026-11-28T12:00:00Z".parse().expect("valid time");
            bench::calls_per_tick(4, 4, 4, end)
                .await
                .map_err(|e| text(&e))?
                .to_string()
        }
        Part::LocalFleet => {
            let end = "2026-11-28T12:00:00Z".parse().expect("valid time");
            bench::local_fleet::local_fleet(150, 150, 3, end)
                .await
                .map_err(|e| text(&e))?
        }
    })
}

/// The settings the caller gave the functions (names only for long values).
fn print_settings(config: &StackConfig) {
    let shown = |value: &str| {
        if value.len() > 60 || value.contains('\n') {
            format!("({} bytes)", value.len())
        } else {
            value.to_string()
        }
    };
    let given = (config
        .function_env
        .iter()
        .map(|(k, v)| ("every function".to_string(), k, v)))
    .chain(
        config
            .function_env_by_name
            .iter()
            .flat_map(|(f, env)| env.iter().map(move |(k, v)| (f.clone(), k, v))),
    );
    for (whom, key, value) in given {
        println!("  setting for {whom}: {key}={}", shown(value));
    }
}

fn print_endpoints(stack: &LocalStack) {
    println!("Local stack is up:");
    for (what, url) in stack.endpoints() {
        println!("  {what}: {url}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn a_mistyped_bench_part_is_refused_not_run_as_all() {
        let e = Cli::try_parse_from(["lifeboat-local", "bench", "plannning"])
            .err()
            .expect("refused");
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        let Command::Bench { parts, .. } =
            Cli::try_parse_from(["lifeboat-local", "bench", "copy-back", "calls"])
                .expect("parts")
                .command
        else {
            panic!("bench");
        };
        assert!(parts == [Part::CopyBack, Part::Calls]);
    }

    #[test]
    fn every_bench_part_is_in_the_help() {
        let help = Cli::command()
            .find_subcommand_mut("bench")
            .expect("bench")
            .render_long_help()
            .to_string();
        for part in Part::value_variants() {
            let name = part.to_possible_value().expect("visible").get_name().to_string();
            assert!(help.contains(&name), "{name} missing from:\n{help}");
        }
    }
}
