//! The restore-request API against its OpenAPI document: schemathesis (from the project's
//! virtualenv) generates requests from `functions/restore-intake/openapi.yaml` and sends them
//! to the local stack's HTTP front; no answer may be a 5xx or break the document.

use std::path::Path;
use std::process::Command;

use chrono::{TimeDelta, Utc};
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat_e2e::*;
use lifeboat_local::api_front::PRINCIPAL_HEADER;
use lifeboat_local::names::{ENGINEERING_ROLE, SUPPORT_ROLE};
use lifeboat_local::resources;
use serde_json::json;

/// Support and engineering at once, so that every endpoint can succeed for generated calls.
const CALLER: &str = concat!("arn:aws:iam::", lifeboat_local::account!(), ":user/schemathesis");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_document() {
    let support = format!("{SUPPORT_ROLE},{CALLER}");
    let engineering = format!("{ENGINEERING_ROLE},{CALLER}");
    let stack = stack_with(&[
        ("LIFEBOAT_SUPPORT_PRINCIPALS", &support),
        ("LIFEBOAT_ENGINEERING_PRINCIPALS", &engineering),
    ])
    .await;
    resources::rds_instance(&stack, "acme-db", &[(TAG_INSTANCE, "acme")], 3)
        .await
        .unwrap();
    let now = Utc::now();
    set_window(&stack, "rds:acme-db", now - TimeDelta::hours(72), now).await;
    // One request filed by someone else, so decisions on it can succeed too.
    let filed = api_json(
        &stack,
        &lifeboat_local::names::support("sam"),
        "POST",
        "/restore-requests",
        &json!({
            "instance_id": "acme", "description": "A sync deleted contacts.",
            "occurred_at": now - TimeDelta::hours(1), "affected": {"objects": ["contacts"]},
            "cause": "integration_mass_deletion"
        }),
    )
    .await;
    assert_eq!(filed.status, 201, "{}", filed.body);

    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions/restore-intake/openapi.yaml");
    let st = lifeboat_local::moto::python().with_file_name("st");
    let report = stack.config.work_dir.join("schemathesis");
    let out = tokio::task::spawn_blocking({
        let url = stack.api.url();
        move || {
            Command::new(&st)
                .arg("run")
                .arg(&schema)
                .args(["--url", &url])
                .args(["--header", &format!("{PRINCIPAL_HEADER}: {CALLER}")])
                .args([
                    "--checks",
                    "not_a_server_error,response_schema_conformance,status_code_conformance",
                ])
                .args(["--max-examples", "20", "--seed", "20261128", "--workers", "1"])
                .args(["--request-timeout", "60"])
                .arg("--report-dir")
                .arg(&report)
                .env("NO_COLOR", "1")
                .output()
                .unwrap_or_else(|e| panic!("running {} (scripts/bootstrap installs it): {e}", st.display()))
        }
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    // It really exercised the API: every operation, and the filing's example accepted.
    assert!(text.contains("7 selected"), "{text}");
}
