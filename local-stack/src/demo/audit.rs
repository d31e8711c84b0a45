//! The demo's audit: someone shares one of the demo database's snapshots publicly through
//! the RDS API; the daily audit (the real recovery-audit binary) finds and revokes it,
//! reports each instance's coverage, and its HTML page is opened in headless Chromium.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::DEMO_DB;
use crate::simulation::Tick;
use crate::stack::{Invocation, LocalStack};
use crate::{browser, StackError};
use lifeboat::ports::SnapshotSharing;
use lifeboat_aws::RdsSharing;

pub const AUDIT: &str = "recovery-audit";

/// Shares, audits, checks the sharing is gone, opens the page; returns what to print and
/// whether the exposure was revoked.
pub async fn run(stack: &LocalStack, now: DateTime<Utc>) -> Result<(String, bool), StackError> {
    super::give_windows(stack, now);
    let shared = newest_snapshot(stack).await?;
    stack
        .rds()
        .modify_db_snapshot_attribute()
        .db_snapshot_identifier(&shared)
        .attribute_name("restore")
        .values_to_add("all")
        .send()
        .await
        .map_err(|e| StackError::aws("ModifyDBSnapshotAttribute", e))?;
    let mut out = format!("Audit: {shared} was just shared publicly through the RDS API.\n");

    // On demand, as an engineer would run it: every snapshot's sharing, not the day's seventh.
    let mut event = Tick {
        time: now,
        function: AUDIT,
    }
    .event();
    event["detail"] = json!({"sweep_all": true});
    let answer = match stack.invoke(AUDIT, &event).await? {
        Invocation::Succeeded(answer) => answer,
        Invocation::Failed { error_type, message } => {
            out.push_str(&format!("The audit failed: {error_type}: {message}\n"));
            return Ok((out, false));
        }
    };
    let report: Value = serde_json::from_slice(&stack.report_object(str_of(&answer, "report_key")).await?)
        .map_err(|e| StackError::Setup(format!("the audit report is not JSON: {e}")))?;
    for instance in report["instances"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}: {}% covered ({} of {} promised points restorable)\n",
            str_of(instance, "instance_id"),
            instance["coverage_percent"],
            instance["restorable"],
            instance["promised"]
        ));
        for finding in instance["findings"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "    - {} {}: {}\n",
                str_of(finding, "kind"),
                str_of(finding, "subject"),
                str_of(finding, "what")
            ));
        }
    }
    let still_shared = RdsSharing::new(stack.rds()).restorers(&shared).await?;
    let revoked = report["exposures"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["subject"] == shared.as_str() && e["revoked"] == true)
        && still_shared.is_empty();
    out.push_str(&format!(
        "  exposure of {shared}: {}\n",
        if revoked {
            "found and revoked (restore attribute now empty)"
        } else {
            "NOT revoked"
        }
    ));

    let page = stack.config.work_dir.join("audit.html");
    std::fs::write(&page, stack.report_object(str_of(&answer, "page_key")).await?)
        .map_err(|e| StackError::Setup(format!("writing {}: {e}", page.display())))?;
    let png = stack.config.work_dir.join("audit.png");
    let dom = browser::rendered_dom(&page, &stack.config.work_dir).await?;
    browser::screenshot(&page, &png, (1100, 1400), &stack.config.work_dir).await?;
    out.push_str(&format!(
        "  the audit page: {} ({} in headless Chromium; screenshot {})\n",
        page.display(),
        if dom.contains("Lifeboat recovery audit") {
            "renders"
        } else {
            "DOES NOT render"
        },
        png.display()
    ));
    Ok((out, revoked))
}

/// The demo database's newest manual snapshot.
async fn newest_snapshot(stack: &LocalStack) -> Result<String, StackError> {
    let out = stack
        .rds()
        .describe_db_snapshots()
        .db_instance_identifier(DEMO_DB)
        .snapshot_type("manual")
        .send()
        .await
        .map_err(|e| StackError::aws("DescribeDBSnapshots", e))?;
    out.db_snapshots()
        .iter()
        .filter_map(|s| s.db_snapshot_identifier())
        .max()
        .map(String::from)
        .ok_or_else(|| StackError::Setup(format!("{DEMO_DB} has no snapshot to share")))
}

fn str_of<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_default()
}
