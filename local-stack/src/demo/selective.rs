//! The demo's selective restore: the demo instance's CRM database gets its data, an RDS
//! snapshot is taken, then the customer's integration deletes a thousand contacts while
//! counselors keep editing others. Support files a request, an engineer approves a
//! selective restore of the missing contacts with their applications and notes, a second
//! engineer confirms after reading the plan, and the lost rows come back while every later
//! edit survives. The demo checks that row by row and prints what it found.
//!
//! The local stack's point-in-time restore gives the latest copy of the database at or
//! before the target (here, the snapshot taken before the loss).

use chrono::{DurationRound, TimeDelta, Utc};
use serde_json::{json, Value};

use super::{crm, DEMO_DB, DEMO_INSTANCE};
use crate::api_client::{decide, execution_end, poll, send};
use crate::names::{engineer, support};
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
    let filing = json!({
        "instance_id": DEMO_INSTANCE,
        "description": "The CRM sync deleted 1,000 contacts and everything on them; counselors kept working meanwhile.",
        "occurred_at": target + TimeDelta::seconds(1),
        "affected": {"objects": ["contacts", "applications", "notes"], "estimated_records": 1000},
        "business_context": "Counselors need these students' files for Monday's deadline; today's edits must stay.",
        "cause": "integration_mass_deletion"
    });
    let filed = send(stack, "POST", &support("sam"), "/restore-requests", Some(&filing)).await?;
    let id = filed["id"].as_str().unwrap_or_default().to_string();
    let decision = json!({
        "decision": "approve",
        "reason": "Bring back exactly what the sync deleted, nothing else.",
        "mode": "selective",
        "recovery_points": [{"resource": format!("rds:{DEMO_DB}"), "kind": "point_in_time", "target": target}],
        "selection": [{"resource": format!("rds:{DEMO_DB}"), "table": "contacts", "missing": true, "with_dependants": true}]
    });
    let path = format!("/restore-requests/{id}");
    let execution = decide(stack, &id, &decision).await?;
    out.push_str(&format!(
        "Request {id} approved for a selective restore to {target}; execution {execution}\n"
    ));
    let request = poll("the plan, before confirmation", LIMIT, || async {
        let request = send(stack, "GET", &engineer("erin"), &path, None).await?;
        Ok((request["awaiting_confirmation"] == true || request["status"] == "failed").then_some(request))
    })
    .await?;
    out.push_str("The plan, in the report before anyone confirms:\n");
    out.push_str(&tables_text(&request, false));
    send(
        stack,
        "POST",
        &engineer("eli"),
        &format!("{path}/confirm"),
        Some(&json!({"reason": "Plan read: 999 contacts, one address taken."})),
    )
    .await?;
    let status = execution_end(stack, &execution, LIMIT).await?;
    let request = send(stack, "GET", &engineer("erin"), &path, None).await?;
    out.push_str(&format!(
        "Confirmed by a second engineer; execution {status}; what the merge did:\n"
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
