//! The `lifeboat` binary against the local stack, as support and engineers use it: filing,
//! the instance's recovery points, an approval, a watch to the end of a rollback confirmed
//! by a second engineer, a watch of a rejected request, and bad input answered with the
//! field named.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat_e2e::*;
use lifeboat_local::cli::{self, CliRun};
use lifeboat_local::names::{engineer, support};
use lifeboat_local::{resources, LocalStack};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

const ACME: [(&str, &str); 1] = [(TAG_INSTANCE, "acme")];

async fn lifeboat(stack: &LocalStack, principal: &str, args: &[&str]) -> CliRun {
    cli::run(stack, principal, args)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `lifeboat ARGS` and expects exit 0; its standard output.
async fn ok(stack: &LocalStack, principal: &str, args: &[&str]) -> String {
    let run = lifeboat(stack, principal, args).await;
    assert!(
        run.succeeded(),
        "{} exited {:?}:\n{}\n{}",
        cli::shown(args),
        run.code,
        run.stdout,
        run.stderr
    );
    run.stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Instance acme: RDS `db` with a 72-hour window, DynamoDB `orders`.
async fn acme(stack: &LocalStack, now: DateTime<Utc>) {
    resources::rds_instance(stack, "db", &ACME, 3).await.unwrap();
    resources::dynamodb_table(stack, "orders", &ACME).await.unwrap();
    set_window(stack, "rds:db", now - TimeDelta::hours(72), now).await;
}

/// Files a mass deletion half an hour ago with the CLI's flags, as support; the request.
async fn file_with_flags(stack: &LocalStack, now: DateTime<Utc>) -> Value {
    let occurred_at = (now - TimeDelta::minutes(30)).to_rfc3339();
    let out = ok(
        stack,
        &support("sam"),
        &[
            "requests",
            "file",
            "--instance",
            "acme",
            "--cause",
            "integration_mass_deletion",
            "--description",
            "The CRM sync deleted about 2,000 contacts.",
            "--occurred-at",
            &occurred_at,
            "--objects",
            "contacts,notes",
            "--estimated-records",
            "2000",
            "--output",
            "json",
        ],
    )
    .await;
    json(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_filed_approved_watched_and_confirmed_with_the_cli() {
    let stack = stack().await;
    let now = Utc::now();
    acme(&stack, now).await;
    let backup_hour = hour_before(now, 2);
    scheduled_points(&stack, backup_hour).await;

    // The points an engineer chooses from, before anything is filed.
    let points = ok(&stack, &engineer("erin"), &["points", "acme"]).await;
    let snapshot = format!("snapshot:{}", backup_hour.format("%Y-%m-%dT%H:00:00Z"));
    for expected in [
        "rds:db  (policy standard)",
        "dynamodb:orders  (policy standard)",
        "hourly:",
        &snapshot,
    ] {
        assert!(points.contains(expected), "{expected:?} missing from:\n{points}");
    }
    let listing = json(&ok(&stack, &support("sam"), &["points", "acme", "--output", "json"]).await);
    let orders = listing["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "dynamodb:orders")
        .expect("orders is listed");
    assert_eq!(orders["points"][0]["point"], snapshot.as_str());
    let loss = orders["points"][0]["data_loss"]["seconds"].as_i64().unwrap();
    let expected = (Utc::now() - backup_hour).num_seconds();
    assert!(
        (expected - 120..=expected).contains(&loss),
        "{loss} s, about {expected} s expected"
    );

    let filed = file_with_flags(&stack, now).await;
    let id = filed["id"].as_str().expect("an id").to_string();
    assert_eq!(filed["status"], "submitted");
    assert_eq!(
        filed["affected"]["objects"],
        serde_json::json!(["contacts", "notes"])
    );

    let target = (now - TimeDelta::minutes(35))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap()
        .to_rfc3339();
    let approved = ok(
        &stack,
        &engineer("erin"),
        &[
            "requests",
            "approve",
            &id,
            "--mode",
            "rollback",
            "--point",
            &format!("rds:db=point_in_time:{target}"),
            "--point",
            &format!("dynamodb:orders={snapshot}"),
            "--reason",
            "An integration's mass deletion.",
        ],
    )
    .await;
    assert!(
        approved.contains(&format!("Request {id} is approved")),
        "{approved}"
    );

    // The watch's standard output is a pipe: one JSON line per change. The second engineer
    // confirms when the watch says the restore waits for it.
    let mut watch = cli::command(
        &stack,
        &engineer("erin"),
        &["requests", "watch", &id, "--interval", "0.5"],
    )
    .spawn()
    .expect("lifeboat requests watch starts");
    let mut lines = BufReader::new(watch.stdout.take().expect("piped")).lines();
    let mut changes: Vec<Value> = Vec::new();
    let waiting = |c: &Value| c["change"] == "awaiting_confirmation" && c["awaiting"] == true;
    tokio::time::timeout(EXECUTION_DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("the watch's output reads") {
            changes.push(json(&line));
            if changes.last().is_some_and(waiting) {
                return;
            }
        }
        panic!("the watch ended before the restore waited for a confirmation: {changes:#?}");
    })
    .await
    .expect("the watch says the restore waits for a confirmation");
    let shown = ok(&stack, &engineer("eli"), &["requests", "show", &id]).await;
    assert!(shown.contains("Waiting for a confirmation"), "{shown}");
    ok(
        &stack,
        &engineer("eli"),
        &["requests", "confirm", &id, "--reason", "Staging checked."],
    )
    .await;

    let status = tokio::time::timeout(EXECUTION_DEADLINE, async {
        while let Some(line) = lines.next_line().await.expect("the watch's output reads") {
            changes.push(json(&line));
        }
        watch.wait().await.expect("the watch ends")
    })
    .await
    .expect("the watch ends with the restore");
    let stdout: Vec<String> = changes.iter().map(Value::to_string).collect();
    let stdout = stdout.join("\n");
    assert_eq!(status.code(), Some(0), "{stdout}");
    let has =
        |kind: &str, check: &dyn Fn(&Value) -> bool| changes.iter().any(|c| c["change"] == kind && check(c));
    assert!(has("timeline", &|c| c["entry"]["step"] == "swap"), "{stdout}");
    assert!(
        has("phase", &|c| c["resource"] == "rds:db"
            && c["phase"] == "verified"),
        "{stdout}"
    );
    assert!(has("history", &|c| c["entry"]["to"] == "completed"), "{stdout}");
    let last = changes.last().expect("the watch printed changes");
    assert_eq!(last["change"], "end");
    assert_eq!(last["status"], "completed");

    let list = ok(
        &stack,
        &support("sam"),
        &["requests", "list", "--instance", "acme", "--status", "completed"],
    )
    .await;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.contains("completed")),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_names_the_field_and_a_watched_rejection_exits_non_zero() {
    let stack = stack().await;
    let now = Utc::now();
    acme(&stack, now).await;

    let refused = lifeboat(
        &stack,
        &support("sam"),
        &[
            "requests",
            "file",
            "--instance",
            "acme",
            "--cause",
            "other",
            "--description",
            "Something went missing.",
            "--occurred-at",
            "yesterday",
        ],
    )
    .await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    assert!(
        refused
            .stderr
            .lines()
            .any(|l| l.trim_start().starts_with("occurred_at: ")),
        "the field is named on its own line: {}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let none = json(
        &ok(
            &stack,
            &support("sam"),
            &["requests", "list", "--instance", "acme", "--output", "json"],
        )
        .await,
    );
    assert_eq!(
        none["restore_requests"],
        serde_json::json!([]),
        "nothing was filed"
    );

    let missing = lifeboat(&stack, &engineer("erin"), &["requests", "show", "rr-nope"]).await;
    assert_eq!(missing.code, Some(3), "{missing:?}");
    assert!(
        missing.stderr.contains("id: no restore request rr-nope"),
        "{}",
        missing.stderr
    );
    let unknown = lifeboat(&stack, &engineer("erin"), &["points", "nobody"]).await;
    assert_eq!(unknown.code, Some(3), "{unknown:?}");
    assert!(unknown.stderr.contains("instance_id: "), "{}", unknown.stderr);

    let id = file_with_flags(&stack, now).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The filer may not decide their own request: refused with 403, exit 3.
    let own = lifeboat(
        &stack,
        &support("sam"),
        &["requests", "reject", &id, "--reason", "no"],
    )
    .await;
    assert_eq!(own.code, Some(3), "{own:?}");
    ok(
        &stack,
        &engineer("erin"),
        &[
            "requests",
            "reject",
            &id,
            "--reason",
            "Recoverable in the product's trash.",
        ],
    )
    .await;
    let watched = lifeboat(
        &stack,
        &engineer("erin"),
        &["requests", "watch", &id, "--interval", "0.5"],
    )
    .await;
    assert_eq!(watched.code, Some(1), "{watched:?}");
    assert!(watched.stderr.contains("ended rejected"), "{}", watched.stderr);
}
