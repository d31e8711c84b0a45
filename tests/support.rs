//! Helpers of the end-to-end tests: a local stack per test, events, and views of its state.
//!
//! Each test starts its own stack (moto, the edge, the real function binaries from the
//! debug build: `scripts/test` builds them first) and stops it when the stack is dropped.
//! The tests are one binary (`e2e/main.rs`) and run side by side: nothing here is shared
//! between stacks.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use lifeboat::catalog::RecoveryPoint;
use lifeboat::ports::Catalog;
use lifeboat_aws::CatalogTable;
use lifeboat_local::edge::calls::LoggedCall;
use lifeboat_local::names::CATALOG_TABLE;
use lifeboat_local::names::{engineer, support};
use lifeboat_local::simulation::{self, RunReport, Tick};
use lifeboat_local::stack::Invocation;
use lifeboat_local::{LocalStack, StackConfig};
use serde_json::{json, Value};

pub use lifeboat_local::simulation::{CREATOR, PRUNER};

/// A stack whose functions run with the simulation switch on (ticks may be in the future).
pub async fn stack() -> LocalStack {
    stack_with(&[]).await
}

/// A stack whose functions get these extra environment variables.
pub async fn stack_with(env: &[(&str, &str)]) -> LocalStack {
    let mut config = StackConfig::from_env();
    // The tests of one binary start stacks side by side: numbered, no two can share a work
    // directory (logs, PostgreSQL's files) even if they start within the clock's resolution.
    static STACKS: AtomicUsize = AtomicUsize::new(0);
    let n = STACKS.fetch_add(1, Ordering::Relaxed);
    let mut dir = config.work_dir.into_os_string();
    dir.push(format!("-{n}"));
    config.work_dir = dir.into();
    config.function_env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<BTreeMap<_, _>>();
    LocalStack::start(config).await.expect("the local stack starts")
}

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 time")
}

/// The scheduled event of `function` at `time`.
pub fn event(function: &'static str, time: &str) -> Value {
    Tick {
        time: at(time),
        function,
    }
    .event()
}

/// Invokes `function` for the tick at `time` and expects success.
pub async fn tick(stack: &LocalStack, function: &'static str, time: &str) -> Value {
    tick_with(stack, function, time, json!({})).await
}

/// [`tick`] with the event's `detail` (`{"reconcile_all": true}`, `{"dry_run": true}`).
pub async fn tick_with(stack: &LocalStack, function: &'static str, time: &str, detail: Value) -> Value {
    let mut event = event(function, time);
    event["detail"] = detail;
    match stack
        .invoke(function, &event)
        .await
        .expect("the Invoke API answers")
    {
        Invocation::Succeeded(v) => v,
        failed => panic!("{function} at {time} failed: {failed:?}"),
    }
}

/// Every catalog record, in any state.
pub async fn catalog(stack: &LocalStack) -> Vec<RecoveryPoint> {
    CatalogTable::new(stack.dynamodb(), CATALOG_TABLE)
        .all_points()
        .await
        .expect("the catalog reads")
}

/// Names of the manual RDS snapshots moto holds.
pub async fn rds_snapshots(stack: &LocalStack) -> Vec<String> {
    let out = stack
        .rds()
        .describe_db_snapshots()
        .snapshot_type("manual")
        .send()
        .await
        .expect("DescribeDBSnapshots");
    let mut names: Vec<String> = out
        .db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// Names of the DynamoDB backups moto holds.
pub async fn dynamodb_backups(stack: &LocalStack) -> Vec<String> {
    let out = stack.dynamodb().list_backups().send().await.expect("ListBackups");
    let mut names: Vec<String> = out
        .backup_summaries()
        .iter()
        .filter_map(|b| b.backup_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

/// The calls `caller` made since the ledger was last cleared.
pub fn calls_by(stack: &LocalStack, caller: &str) -> Vec<LoggedCall> {
    stack
        .edge
        .ledger
        .log()
        .into_iter()
        .filter(|c| c.caller == caller)
        .collect()
}

/// Whether any call of `caller` wrote something (anything but reads).
pub fn wrote(calls: &[LoggedCall]) -> bool {
    calls.iter().any(|c| {
        !["Describe", "List", "Get", "BatchGet", "Scan", "Query"]
            .iter()
            .any(|read| c.operation.starts_with(read))
    })
}

/// Invokes `function` with `event`, expects it to fail with `error_type`, returns the message.
pub async fn expect_failure(
    stack: &LocalStack,
    function: &'static str,
    event: &Value,
    error_type: &str,
) -> String {
    match stack
        .invoke(function, event)
        .await
        .expect("the Invoke API answers")
    {
        Invocation::Failed {
            error_type: got,
            message,
        } => {
            assert_eq!(got, error_type, "{function}: {message}");
            message
        }
        ok => panic!("{function} was expected to fail with {error_type}: {ok:?}"),
    }
}

/// An answer of the restore-request API.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub location: Option<String>,
}

/// Calls the restore-request API on the stack's HTTP front as `principal` (none: unsigned).
pub async fn api(
    stack: &LocalStack,
    principal: Option<&str>,
    method: &str,
    path: &str,
    body: &[u8],
    idempotency_key: Option<&str>,
) -> Answer {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(p) = principal {
        headers.push((lifeboat_local::api_front::PRINCIPAL_HEADER, p));
    }
    if let Some(k) = idempotency_key {
        headers.push(("idempotency-key", k));
    }
    let url = format!("{}{path}", stack.api.url());
    let request = lifeboat_local::http::request(method, &url, body.to_vec(), &headers);
    let (status, headers, body) = lifeboat_local::http::HttpClient::new()
        .send_full(request)
        .await
        .expect("the API front answers");
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Answer {
        status: status.as_u16(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        content_type: header("content-type").unwrap_or_default(),
        location: header("location"),
    }
}

/// `api` with a JSON body (`Value::Null`: no body).
pub async fn api_json(stack: &LocalStack, principal: &str, method: &str, path: &str, body: &Value) -> Answer {
    let bytes = if body.is_null() {
        Vec::new()
    } else {
        body.to_string().into_bytes()
    };
    api(stack, Some(principal), method, path, &bytes, None).await
}

/// Sets the continuous-backup window the edge reports for `resource` (`rds:db`, ...).
pub async fn set_window(stack: &LocalStack, resource: &str, earliest: DateTime<Utc>, latest: DateTime<Utc>) {
    let url = format!("{}/_lifeboat/restorable-windows/{resource}", stack.edge.url());
    let body = serde_json::json!({"earliest": earliest, "latest": latest}).to_string();
    let request = lifeboat_local::http::request("PUT", &url, body.into_bytes(), &[]);
    let (status, _) = lifeboat_local::http::HttpClient::new()
        .send(request)
        .await
        .unwrap();
    assert!(status.is_success(), "setting the window of {resource}: {status}");
}

/// How long a restore may take on the local stack before a test gives up on it.
pub const EXECUTION_DEADLINE: std::time::Duration = std::time::Duration::from_secs(240);

/// Waits until `check` answers `Some` (the local stack's [`poll`], which every wait on the
/// stack goes through), failing the test after [`EXECUTION_DEADLINE`] with `what`.
///
/// [`poll`]: lifeboat_local::api_client::poll
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    lifeboat_local::api_client::poll(what, EXECUTION_DEADLINE, || {
        let answer = check();
        async move { Ok(answer.await) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A finished execution: its status, error and output.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    pub status: String,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub output: Option<Value>,
}

/// Waits for the execution `arn` to stop running.
pub async fn finished(stack: &LocalStack, arn: &str) -> Finished {
    let sfn = aws_sdk_sfn::Client::new(stack.sdk_config());
    eventually(&format!("execution {arn} to end"), || {
        let sfn = sfn.clone();
        async move {
            let out = sfn.describe_execution().execution_arn(arn).send().await.ok()?;
            let status = out.status().as_str().to_string();
            (status != "RUNNING").then(|| Finished {
                status,
                error: out.error().map(str::to_string),
                cause: out.cause().map(str::to_string),
                output: out.output().and_then(|o| serde_json::from_str(o).ok()),
            })
        }
    })
    .await
}

/// Starts an execution of the restore state machine as an engineer would in the console.
pub async fn start_from_console(stack: &LocalStack, name: &str, input: &Value) -> String {
    aws_sdk_sfn::Client::new(stack.sdk_config())
        .start_execution()
        .state_machine_arn(lifeboat_local::restore_setup::state_machine_arn())
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string()
}

/// The report of request `id`: its JSON and its Markdown.
pub async fn report(stack: &LocalStack, id: &str) -> (Value, String) {
    let s3 = stack.s3();
    let get = |key: String| {
        let s3 = s3.clone();
        async move {
            let out = s3
                .get_object()
                .bucket(lifeboat_local::names::REPORTS_BUCKET)
                .key(&key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("report {key}: {e:?}"));
            out.body
                .collect()
                .await
                .expect("report body")
                .into_bytes()
                .to_vec()
        }
    };
    let json = get(format!("restores/{id}/report.json")).await;
    let markdown = get(format!("restores/{id}/report.md")).await;
    (
        serde_json::from_slice(&json).expect("the JSON report parses"),
        String::from_utf8(markdown).expect("the Markdown report is UTF-8"),
    )
}

/// Files a mass deletion at `occurred_at` and returns its id.
pub async fn file(stack: &LocalStack, occurred_at: DateTime<Utc>) -> String {
    let body = json!({
        "instance_id": "acme",
        "description": "The CRM sync deleted 2,000 contacts.",
        "occurred_at": occurred_at,
        "affected": {"objects": ["contacts"], "estimated_records": 2000},
        "business_context": "Deadline on Monday.",
        "cause": "integration_mass_deletion"
    });
    let answer = api_json(stack, &support("sam"), "POST", "/restore-requests", &body).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    answer.body["id"].as_str().unwrap().to_string()
}

pub async fn request(stack: &LocalStack, id: &str) -> Value {
    let answer = api_json(
        stack,
        &engineer("erin"),
        "GET",
        &format!("/restore-requests/{id}"),
        &Value::Null,
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

/// Waits until the restore of `id` waits for confirmation, then confirms it as an engineer.
pub async fn confirm(stack: &LocalStack, id: &str) {
    eventually(&format!("request {id} to await confirmation"), || async {
        let r = request(stack, id).await;
        assert_ne!(
            r["status"], "failed",
            "the restore failed before confirmation: {r}"
        );
        (r["awaiting_confirmation"] == true).then_some(())
    })
    .await;
    let answer = api_json(
        stack,
        &engineer("eli"),
        "POST",
        &format!("/restore-requests/{id}/confirm"),
        &json!({"reason": "staging checked"}),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

pub fn execution_of(approval: &Answer) -> String {
    assert_eq!(approval.status, 200, "{}", approval.body);
    approval.body["execution"].as_str().unwrap().to_string()
}

/// The creator's and the pruner's ticks at `t`: the scheduled points of that hour.
pub async fn scheduled_points(stack: &LocalStack, t: DateTime<Utc>) {
    tick(stack, CREATOR, &t.to_rfc3339()).await;
    tick(stack, PRUNER, &(t + TimeDelta::minutes(20)).to_rfc3339()).await;
}

/// The start of the hour `hours` before `now`.
pub fn hour_before(now: DateTime<Utc>, hours: i64) -> DateTime<Utc> {
    (now - TimeDelta::hours(hours))
        .duration_trunc(TimeDelta::hours(1))
        .unwrap()
}

/// Fails the test, printing the coverage table, unless the points kept after the last of
/// `ticks` (a run of `start..=end` that `report` describes) are exactly the policy's.
pub async fn assert_exact_coverage(
    stack: &LocalStack,
    managed: &[lifeboat::inventory::ManagedResource],
    (start, end): (DateTime<Utc>, DateTime<Utc>),
    ticks: &[Tick],
    report: &RunReport,
) {
    let last = ticks.last().expect("a run has ticks").time;
    let coverage = simulation::coverage(stack, managed, start, end, last)
        .await
        .unwrap();
    assert!(
        coverage.is_exact(),
        "{}",
        simulation::render(&coverage, report, managed.len())
    );
}

/// The object at `key` in the reports bucket.
pub async fn reports_object(stack: &LocalStack, key: &str) -> Vec<u8> {
    stack
        .report_object(key)
        .await
        .unwrap_or_else(|e| panic!("the reports bucket's {key}: {e}"))
}

/// The report of `instance`'s drill run today as the drill state machine's execution
/// `execution` (a failed execution's output does not carry its key).
pub async fn todays_drill_report(stack: &LocalStack, instance: &str, execution: &str) -> serde_json::Value {
    let drill = lifeboat::drill::plan::drill_of_execution(execution);
    let key = format!(
        "{}.json",
        lifeboat::drill::report::report_stem(instance, Utc::now(), &drill)
    );
    serde_json::from_slice(&reports_object(stack, &key).await).unwrap()
}
