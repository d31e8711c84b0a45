//! The demo's selective restore: the demo instance's CRM database gets its data, an RDS
//! snapshot is taken, then the customer's integration deletes a thousand contacts while
//! counselors keep editing others. Support files a request, an engineer approves a
//! selective restore of the missing contacts with their applications and notes, a second
//! engineer confirms after reading the plan (all through the `lifeboat` command line), and the lost rows come back while every later
//! edit survives. The demo checks that row by row and prints what it found.
//!
//! The local stack's point-in-time restore gives the latest copy of the database at or
//! before the target (here, the snapshot taken before the loss).

use chrono::{DurationRound, SecondsFormat, TimeDelta, Utc};
use serde_json::{json, Value};

use super::typed::{self, filed_id, people, request};

use super::{crm, DEMO_DB, DEMO_INSTANCE};
use crate::api_client::execution_end;
use crate::stack::LocalStack;
use crate::StackError;

const LIMIT: std::time::Duration = std::time::Duration::from_secs(300);
const CONTACTS: i64 = 5000;
const LOST: std::ops::RangeInclusive<i64> = 1001..=2000;

fn failed(what: &str, e: impl std::fmt::Display) -> StackError {
    StackError::Setup(format!("demo selective restore: {what}: {e}"))
}

/// Runs the scenario; returns what to print, or an error if any row is not as expected.
pub async fn run(stack: &LocalStack) -> Result<String, StackError> {
    let pg = stack.postgres();
    let db = pg.connect(DEMO_DB).await.map_err(|e| failed("connect", e))?;
    let others = pg.connect(DEMO_DB).await.map_err(|e| failed("connect", e))?;
    crm::seed(&db, CONTACTS).await?;
    stack
        .rds()
        .create_db_snapshot()
        .db_instance_identifier(DEMO_DB)
        .db_snapshot_identifier("demo-crm-before-the-sync")
        .send()
        .await
        .map_err(|e| failed("CreateDBSnapshot", e))?;
    // The recovery point: the next whole second, after the snapshot and before the loss.
    let target = Utc::now()
        .duration_trunc(TimeDelta::seconds(1))
        .map_err(|e| failed("time", e))?
        + TimeDelta::seconds(1);
    tokio::time::sleep_until(
        tokio::time::Instant::now() + (target - Utc::now()).to_std().unwrap_or_default(),
    )
    .await;
    let lost_filter = |c: &str| format!("{c} BETWEEN {} AND {}", LOST.start(), LOST.end());
    let tables = [
        ("contacts", "id"),
        ("applications", "contact_id"),
        ("notes", "contact_id"),
    ];
    let mut before = Vec::new();
    for (table, contact) in tables {
        before.push(
            crm::rows(
                &db,
                &format!("SELECT * FROM {table} WHERE {} ORDER BY id", lost_filter(contact)),
            )
            .await?,
        );
    }
    let loss = crm::integration_deletes_while_others_edit(&db, &others, LOST, 1..=300).await?;
    let mut after_loss = Vec::new();
    for (table, contact) in tables {
        after_loss.push(
            crm::rows(
                &db,
                &format!(
                    "SELECT * FROM {table} WHERE NOT ({}) ORDER BY id",
                    lost_filter(contact)
                ),
            )
            .await?,
        );
    }
    let mut out = format!(
        "\nSelective restore: {DEMO_DB} has {CONTACTS} contacts with applications and notes; the CRM sync deleted {} of them (with {} applications and {} notes) while counselors edited {} others; a new student took the address of contact {}.\n",
        loss.deleted.len(),
        before[1].len(),
        before[2].len(),
        loss.edited.len(),
        loss.stolen_email_of
    );
    stack.edge.windows.set(
        &format!("rds:{DEMO_DB}"),
        crate::edge::windows::Window {
            earliest: target - TimeDelta::hours(72),
            latest: Utc::now(),
        },
    );
    print!("{out}");
    out.clear();
    let (sam, erin, eli) = people();
    let occurred_at = (target + TimeDelta::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
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
            "The CRM sync deleted 1,000 contacts and everything on them; counselors kept working meanwhile.",
            "--occurred-at",
            &occurred_at,
            "--objects",
            "contacts,applications,notes",
            "--estimated-records",
            "1000",
            "--business-context",
            "Counselors need these students' files for Monday's deadline; today's edits must stay.",
        ],
    )
    .await?;
    let id = filed_id(&filed)?;
    let selection = json!([{"resource": format!("rds:{DEMO_DB}"), "table": "contacts", "missing": true, "with_dependants": true}]);
    let selection_file = stack.config.work_dir.join("selection.json");
    std::fs::write(&selection_file, selection.to_string()).map_err(|e| failed("writing the selection", e))?;
    println!("\n{} holds: {selection}", selection_file.display());
    let point = format!(
        "rds:{DEMO_DB}=point_in_time:{}",
        target.to_rfc3339_opts(SecondsFormat::Secs, true)
    );
    let selection_path = selection_file.to_string_lossy().into_owned();
    typed::run(
        stack,
        &erin,
        &[
            "requests",
            "approve",
            &id,
            "--mode",
            "selective",
            "--point",
            &point,
            "--selection",
            &selection_path,
            "--reason",
            "Bring back exactly what the sync deleted, nothing else.",
        ],
    )
    .await?;
    typed::run_live(stack, &erin, &["requests", "watch", &id, "--until-confirmation"]).await?;
    let planned = request(stack, &erin, &id).await?;
    println!("The plan, in the report before anyone confirms:");
    print!("{}", tables_text(&planned, false));
    typed::run(
        stack,
        &eli,
        &[
            "requests",
            "confirm",
            &id,
            "--reason",
            "Plan read: 999 contacts, one address taken.",
        ],
    )
    .await?;
    typed::run_live(stack, &erin, &["requests", "watch", &id]).await?;
    let request = request(stack, &erin, &id).await?;
    let execution = request["execution"].as_str().unwrap_or_default().to_string();
    let status = execution_end(stack, &execution, LIMIT).await?;
    out.push_str(&format!(
        "Request {id}, a selective restore to {target}: execution {status}; what the merge did:\n"
    ));
    out.push_str(&tables_text(&request, true));
    if status != "SUCCEEDED" {
        return Err(failed("the execution", format!("ended {status}: {request}")));
    }
    // Row by row: every lost row is back as it was, but the one whose address is taken
    // (and its dependants); everything else is as the loss left it.
    let mut back = 0;
    for (i, (table, contact)) in tables.into_iter().enumerate() {
        let now = crm::rows(
            &db,
            &format!(
                "SELECT * FROM {table} WHERE {} AND {contact} <> {} ORDER BY id",
                lost_filter(contact),
                loss.stolen_email_of
            ),
        )
        .await?;
        let expected: Vec<String> = before[i]
            .iter()
            .filter(|r| crm::contact_of(r, i) != Some(loss.stolen_email_of))
            .cloned()
            .collect();
        if now != expected {
            return Err(failed(
                "the check",
                format!("{table}: {} rows back, {} expected", now.len(), expected.len()),
            ));
        }
        back += now.len();
        let kept = crm::rows(
            &db,
            &format!(
                "SELECT * FROM {table} WHERE NOT ({}) ORDER BY id",
                lost_filter(contact)
            ),
        )
        .await?;
        if kept != after_loss[i] {
            return Err(failed(
                "the check",
                format!("{table}: a row that lived on after the loss changed"),
            ));
        }
    }
    out.push_str(&format!(
        "Checked row by row: {back} deleted rows are back exactly as they were; contact {} stays out (its address belongs to the new student); every edit made after the loss is intact.\n",
        loss.stolen_email_of
    ));
    if let Some(report) = request["run"]["report"]["markdown"].as_str() {
        out.push_str(&format!(
            "Report: s3://{}/{report}; extract: s3://{}/{}\n",
            crate::names::REPORTS_BUCKET,
            crate::names::REPORTS_BUCKET,
            request["run"]["selective"]["manifest"].as_str().unwrap_or("?")
        ));
    }
    Ok(out)
}

/// Per table: the plan, or what the merge did.
fn tables_text(request: &Value, merged: bool) -> String {
    let mut out = String::new();
    let selective = &request["run"]["selective"];
    for e in selective["extracts"].as_array().into_iter().flatten() {
        for t in e["tables"].as_array().into_iter().flatten() {
            let name = t["table"].as_str().unwrap_or_default();
            let line = if merged {
                let (mut inserted, mut present, mut conflicts, mut orphans) = (0, 0, 0, 0);
                for m in selective["merged"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|m| m["table"] == name)
                {
                    let n = |k: &str| m["result"][k].as_u64().unwrap_or(0);
                    inserted += n("inserted");
                    present += n("present");
                    conflicts += n("conflicts");
                    orphans += n("parent_missing");
                }
                format!("inserted {inserted}, skipped {present} present, {conflicts} conflicts, {orphans} whose parent stays out")
            } else {
                let p = &t["plan"];
                format!(
                    "{} rows extracted: insert {}, skip {} present, {} conflicts",
                    t["rows"], p["insert"], p["present"], p["conflicts"]
                )
            };
            out.push_str(&format!("  {name:<22} {line}\n"));
        }
    }
    out
}
