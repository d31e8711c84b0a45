//! The local stack started from outside as `scripts/local-stack` starts it (`lifeboat-local
//! up`), with settings for its functions as a deployment's template parameters give them:
//! they reach the functions, and a setting that is not one is refused before anything starts.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, Tag,
};
use chrono::{DurationRound, TimeDelta, Utc};
use lifeboat::inventory::{TAG_INSTANCE, TAG_POLICY};
use lifeboat_local::names::TESTER;
use lifeboat_local::simulation::Tick;
use lifeboat_local::StackConfig;
use serde_json::Value;

fn lifeboat_local() -> Command {
    Command::new(StackConfig::from_env().functions_dir.join("lifeboat-local"))
}

/// Stops the stack as Ctrl-C does (it then stops moto, PostgreSQL and the functions).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_given_to_the_local_stack_reach_its_functions() {
    let dir = std::env::temp_dir().join(format!("lifeboat-up-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // A policy only a deployment's PolicyDocuments would hold: weekly points, no hourly ones.
    std::fs::write(
        dir.join("policies.json"),
        r#"[{"name": "weekly-only", "weekly": {"weekday": "saturday", "hour": 23, "retention": {"months": 1}}}]"#,
    )
    .unwrap();
    let policies = format!("LIFEBOAT_POLICIES=@{}", dir.join("policies.json").display());
    let mut child = lifeboat_local()
        .args([
            "up",
            "--env",
            &policies,
            "--env",
            "snapshot-creator:AWS_LAMBDA_LOG_LEVEL=DEBUG",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let lines: Vec<String> = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .take_while(|l| !l.starts_with("Functions:"))
            .collect()
    })
    .await
    .unwrap();
    let printed = lines.join("\n");
    assert!(
        printed.contains("setting for every function: LIFEBOAT_POLICIES=")
            && printed.contains("setting for snapshot-creator: AWS_LAMBDA_LOG_LEVEL=DEBUG"),
        "{printed}"
    );
    let edge = (lines.iter())
        .find(|l| l.contains("AWS endpoint"))
        .and_then(|l| l.rsplit(' ').next())
        .expect("the edge's address is printed")
        .to_string();

    let sdk = lifeboat_local::stack::sdk_config(&edge, TESTER).await;
    let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
    aws_sdk_dynamodb::Client::new(&sdk)
        .create_table()
        .table_name("orders")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .tags(tag(TAG_INSTANCE, "acme"))
        .tags(tag(TAG_POLICY, "weekly-only"))
        .send()
        .await
        .unwrap();
    // A weekday hour: no point of this policy's (an unknown policy would fail the resource).
    let mut hour = Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap();
    while hour.format("%a").to_string() == "Sat" {
        hour -= TimeDelta::hours(1);
    }
    let tick = Tick {
        time: hour,
        function: "snapshot-creator",
    };
    let answer = aws_sdk_lambda::Client::new(&sdk)
        .invoke()
        .function_name("snapshot-creator")
        .payload(aws_sdk_lambda::primitives::Blob::new(tick.event().to_string()))
        .send()
        .await
        .unwrap();
    let payload: Value = serde_json::from_slice(answer.payload().unwrap().as_ref()).unwrap();
    assert_eq!(answer.function_error(), None, "{payload}");
    let orders = (payload["resources"].as_array().unwrap().iter())
        .find(|r| r["resource"] == "dynamodb:orders")
        .unwrap_or_else(|| panic!("{payload}"));
    assert_eq!(orders["point"], "not_a_slot", "the weekly-only policy: {orders}");
    drop(running);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_setting_that_is_not_one_is_refused_naming_it_before_anything_starts() {
    let out = lifeboat_local()
        .args(["up", "--env", "LIFEBOAT_CATALOG_TABLE=elsewhere"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("LIFEBOAT_CATALOG_TABLE=elsewhere") && text.contains("set by the local stack"),
        "{text}"
    );
}
