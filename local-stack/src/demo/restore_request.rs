//! The demo's restore request, driven through the `lifeboat` command line as people would:
//! support files one for a mass deletion two hours ago, an engineer approves it and watches
//! the restore state machine restore both resources into staging, a second engineer
//! confirms, and the watch follows the instance's rollback to its end. Each command is
//! printed before its answer ([`typed`]).

use super::typed::{self, filed_id, people, request, Person};
use super::DEMO_INSTANCE;
use crate::api_client::execution_end;
use crate::stack::LocalStack;
use crate::StackError;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// How long the demo waits for the execution to end once the watch saw the request end.
const LIMIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Files, approves, watches and confirms a rollback, printing each command as it runs;
/// returns the summary to print after it.
pub async fn run(stack: &LocalStack, now: DateTime<Utc>) -> Result<String, StackError> {
    super::give_windows(stack, now);
    println!(
        "\nA restore request, through the lifeboat command line (LIFEBOAT_API_URL={}; each \
         person's LIFEBOAT_LOCAL_PRINCIPAL stands in for the AWS credentials that sign in a deployment):",
        stack.api.url()
    );
    let (sam, erin, eli) = people();
    let occurred_at = (now - TimeDelta::hours(2)).to_rfc3339_opts(SecondsFormat::Secs, true);
    let filed = typed::run(
        stack,
        &sam,
        &[
            "requests",
            "file",
            "--instance",
            DEMO_INSTANCE,
            "--cause",
            "integration_mass_deletion",
            "--description",
            "The customer's CRM integration deleted about 1,000 contacts in twenty minutes.",
            "--occurred-at",
            &occurred_at,
            "--objects",
            "contacts",
            "--areas",
            "CRM sync",
            "--estimated-records",
            "1000",
            "--business-context",
            "Admissions deadline on Monday; counselors are calling these students.",
        ],
    )
    .await?;
    let id = filed_id(&filed)?;
    typed::run(
        stack,
        &erin,
        &[
            "requests",
            "approve",
            &id,
            "--mode",
            "rollback",
            "--reason",
            "An integration's unintended mass deletion that product workflows cannot recover.",
        ],
    )
    .await?;
    typed::run_live(stack, &erin, &["requests", "watch", &id, "--until-confirmation"]).await?;
    typed::run(
        stack,
        &eli,
        &[
            "requests",
            "confirm",
            &id,
            "--reason",
            "Staging checked: the contacts are there.",
        ],
    )
    .await?;
    typed::run_live(stack, &erin, &["requests", "watch", &id]).await?;
    summary(stack, &erin, &id).await
}

/// What was kept of old production, where the report is, and whether the execution succeeded.
async fn summary(stack: &LocalStack, who: &Person<'_>, id: &str) -> Result<String, StackError> {
    let request = request(stack, who, id).await?;
    let execution = request["execution"].as_str().unwrap_or_default();
    let status = execution_end(stack, execution, LIMIT).await?;
    let mut out = format!(
        "Execution {status}; request {}.\n",
        request["status"].as_str().unwrap_or("?")
    );
    for r in request["run"]["resources"].as_array().into_iter().flatten() {
        let text = |k: &str| r[k].as_str().unwrap_or("none").to_string();
        let kept_as = if text("resource").starts_with("rds:") {
            format!("RDS instance {}", text("fallback"))
        } else {
            "its safety backup (the table kept its name)".to_string()
        };
        out.push_str(&format!(
            "  {}: {}; safety snapshot {}; old production kept as {kept_as}\n",
            text("resource"),
            text("phase"),
            text("safety_snapshot"),
        ));
    }
    if let Some(report) = request["run"]["report"]["markdown"].as_str() {
        out.push_str(&format!(
            "Report: s3://{}/{report} (and .json)\n",
            crate::names::REPORTS_BUCKET
        ));
    }
    if status != "SUCCEEDED" {
        return Err(StackError::Setup(format!(
            "the demo rollback ended {status}: {request}"
        )));
    }
    Ok(out)
}
