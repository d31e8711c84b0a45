//! `lifeboat-local`: the local stack from the command line.
//!
//! - `lifeboat-local up`: start the stack, print its endpoints, stay up until Ctrl-C.
//! - `lifeboat-local demo [--days N] [--end RFC3339]`: start the stack, tag a demo instance,
//!   fast-forward N days (400 by default) and print the coverage table.
//! - `lifeboat-local bench [planning] [cold-start] [calls] [--dir DIR]`: retention planning
//!   at fleet scale, cold starts and sizes of the binaries in DIR (the release build), AWS
//!   calls per resource per tick of a simulated fleet; all three by default.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use lifeboat_local::{demo, LocalStack, StackConfig};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lifeboat-local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<ExitCode, String> {
    let command = args.first().map(String::as_str).unwrap_or("help");
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    match command {
        "up" => {
            let stack = LocalStack::start(StackConfig::from_env())
                .await
                .map_err(|e| e.to_string())?;
            print_endpoints(&stack);
            println!("Functions: snapshot-creator, retention-pruner (Lambda Invoke API on the edge). Ctrl-C stops.");
            tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        "demo" => {
            let days: i64 = option("--days").map_or(Ok(400), |d| {
                d.parse().map_err(|_| format!("--days {d:?} is not a number"))
            })?;
            let end = match option("--end") {
                Some(t) => DateTime::parse_from_rfc3339(&t)
                    .map_err(|e| format!("--end {t:?}: {e}"))?
                    .with_timezone(&Utc),
                None => Utc::now(),
            };
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
            if exact {
                println!("Coverage is exactly the policy's.");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("Coverage differs from the policy (see above).");
                Ok(ExitCode::FAILURE)
            }
        }
        "bench" => {
            let dir = option("--dir").map(std::path::PathBuf::from).unwrap_or_else(|| {
                std::env::current_exe()
                    .ok()
                    .and_then(|e| e.parent().map(|p| p.to_path_buf()))
                    .unwrap_or_default()
            });
            // `bench planning`, `intake`, `restore`, `merge`, `copy-back`, `cold-start`,
            // `calls`, or all of them.
            let all = !args.iter().any(|a| {
                [
                    "planning",
                    "cold-start",
                    "calls",
                    "intake",
                    "restore",
                    "merge",
                    "merge-worker",
                    "copy-back",
                ]
                .contains(&a.as_str())
            });
            let part = |name: &str| all || args.iter().any(|a| a == name);
            // The merge benchmark's child process: one run, its figures as JSON.
            if args.iter().any(|a| a == "merge-worker") {
                let (url, store) = (
                    option("--url").unwrap_or_default(),
                    option("--store").unwrap_or_default(),
                );
                let figures = lifeboat_local::bench::merge::merge_worker(&url, std::path::Path::new(&store))
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{figures}");
                return Ok(ExitCode::SUCCESS);
            }
            if part("planning") {
                println!("{}", lifeboat_local::bench::retention_planning());
            }
            if part("intake") {
                println!("{}", lifeboat_local::bench::intake::intake_handling().await);
            }
            if part("restore") {
                let figures = lifeboat_local::bench::restore::orchestration_overhead(&dir)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{figures}");
            }
            if part("merge") {
                use lifeboat_local::bench::merge;
                println!("{}", merge::postgres_heading());
                for rows in [100_000, 1_000_000] {
                    print!("{}", merge::postgres_run(rows).await.map_err(|e| e.to_string())?);
                }
                println!("{}", merge::dynamodb_calls().await.map_err(|e| e.to_string())?);
            }
            if part("copy-back") {
                for items in [10_000, 50_000] {
                    let figures = lifeboat_local::bench::copy_back::copy_back(items)
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("{figures}");
                }
            }
            if part("cold-start") {
                let figures = lifeboat_local::bench::cold_starts(&dir)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{figures}");
            }
            if part("calls") {
                let end = "2026-11-28T12:00:00Z".parse().expect("valid time");
                let calls = lifeboat_local::bench::calls_per_tick(4, 4, 4, end)
                    .await
                    .map_err(|e| e.to_string())?;
                println!("{calls}");
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            println!("usage: lifeboat-local up | demo [--days N] [--end RFC3339] | bench [--dir DIR]");
            Ok(if command == "help" || command == "--help" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn print_endpoints(stack: &LocalStack) {
    println!("Local stack is up:");
    for (what, url) in stack.endpoints() {
        println!("  {what}: {url}");
    }
}
