//! A restore request as a person reads it (`show`, and the answers of `file` and the
//! decisions): what was reported, the triage, the options and what each would lose, the
//! decision, the restore's run and the audit trail. Fields the API leaves out are skipped.

use serde_json::Value;

use crate::output::{duration, person, text, Table};
use crate::progress::Progress;

pub fn request(r: &Value) -> String {
    let mut out = format!(
        "Request {}  [{}]  instance {}\n",
        text(r, "id"),
        text(r, "status"),
        text(r, "instance_id")
    );
    out.push_str(&format!(
        "  filed by {} at {}; cause {}; occurred at {}\n",
        person(text(r, "submitted_by")),
        text(r, "submitted_at"),
        text(r, "cause"),
        text(r, "occurred_at")
    ));
    out.push_str(&format!("  {}\n", text(r, "description")));
    if let Some(context) = r["business_context"].as_str().filter(|c| !c.is_empty()) {
        out.push_str(&format!("  business context: {context}\n"));
    }
    out.push_str(&triage(r));
    out.push_str(&options(r));
    out.push_str(&decision(r));
    out.push_str(&run(r));
    out.push_str(&history(r));
    out
}

/// The one-line answer to a decision, cancellation or confirmation.
pub fn status_line(r: &Value) -> String {
    let mut line = format!("Request {} is {}", text(r, "id"), text(r, "status"));
    if let Some(execution) = r["execution"].as_str() {
        line.push_str(&format!("; restore execution {execution}"));
    }
    if r["awaiting_confirmation"] == true {
        line.push_str("; waiting for a confirmation");
    }
    line
}

fn triage(r: &Value) -> String {
    let mut out = format!("Triage: {}\n", text(&r["triage"], "verdict"));
    for reason in r["triage"]["reasons"].as_array().into_iter().flatten() {
        out.push_str(&format!("  - {}\n", reason.as_str().unwrap_or_default()));
    }
    out
}

fn options(r: &Value) -> String {
    let mut table = Table::new(&[
        "RESOURCE",
        "POINT",
        "RESTORES TO",
        "ROLLBACK LOSES",
        "RESTORABLE UNTIL",
    ]);
    for o in r["recovery_options"].as_array().into_iter().flatten() {
        table.row(vec![
            text(o, "resource").to_string(),
            source(&o["source"]),
            text(o, "restores_to").to_string(),
            duration(o["data_loss"]["seconds"].as_i64().unwrap_or_default()),
            o["restorable_until"].as_str().unwrap_or("(held)").to_string(),
        ]);
    }
    if table.is_empty() {
        return String::new();
    }
    format!("Recovery options:\n{}", table.render("  "))
}

/// A source or chosen point as `--point` takes it: `snapshot:SLOT`, `point_in_time:TIME`.
pub fn source(s: &Value) -> String {
    match s["kind"].as_str() {
        Some("snapshot") => format!("snapshot:{}", text(s, "slot")),
        Some("point_in_time") => format!("point_in_time:{}", text(s, "target")),
        _ => "-".into(),
    }
}

fn decision(r: &Value) -> String {
    let d = &r["decision"];
    if d.is_null() {
        return String::new();
    }
    let mode = d["mode"].as_str().map(|m| format!(" ({m})")).unwrap_or_default();
    let mut out = format!(
        "Decision: {}{mode} by {} at {}: {}\n",
        text(d, "verdict"),
        person(text(d, "by")),
        text(d, "at"),
        text(d, "reason")
    );
    for p in d["recovery_points"].as_array().into_iter().flatten() {
        out.push_str(&format!("  {}={}\n", text(p, "resource"), source(p)));
    }
    for s in d["selection"].as_array().into_iter().flatten() {
        out.push_str(&format!("  selection: {s}\n"));
    }
    if let Some(execution) = r["execution"].as_str() {
        out.push_str(&format!("Restore execution: {execution}\n"));
    }
    out
}

fn run(r: &Value) -> String {
    let run = &r["run"];
    let mut out = String::new();
    if r["awaiting_confirmation"] == true {
        out.push_str(&format!(
            "Waiting for a confirmation: a second engineer checks staging, then runs `lifeboat requests confirm {}`\n",
            text(r, "id")
        ));
    }
    if run.is_null() {
        return out;
    }
    let mut table = Table::new(&["RESOURCE", "PHASE", "STAGING", "FALLBACK", "SAFETY SNAPSHOT"]);
    for res in run["resources"].as_array().into_iter().flatten() {
        table.row(
            ["resource", "phase", "staging", "fallback", "safety_snapshot"]
                .iter()
                .map(|k| text(res, k).to_string())
                .collect(),
        );
    }
    out.push_str(&format!(
        "Run ({}, started {}):\n",
        text(run, "mode"),
        text(run, "started_at")
    ));
    out.push_str(&table.render("  "));
    if let Some(progress) = Progress::of(r) {
        out.push_str(&format!("Progress ({}):\n", progress.step));
        for resource in &progress.resources {
            out.push_str(&format!("  {:<28} {}\n", resource.resource, resource.summary()));
        }
    }
    out.push_str("Timeline:\n");
    for step in run["timeline"].as_array().into_iter().flatten() {
        out.push_str(&format!("  {}\n", timeline_entry(step)));
    }
    if let Some(by) = run["confirmed_by"].as_str() {
        out.push_str(&format!(
            "Confirmed by {} at {}\n",
            person(by),
            text(run, "confirmed_at")
        ));
    }
    if !run["outcome"].is_null() {
        out.push_str(&format!("Outcome: {}\n", outcome(&run["outcome"])));
    }
    if let Some(report) = run["report"]["markdown"].as_str() {
        out.push_str(&format!(
            "Report: {report} (and {})\n",
            text(&run["report"], "json")
        ));
    }
    out
}

pub fn outcome(o: &Value) -> String {
    let mut line = text(o, "result").to_string();
    for key in ["error", "cause"] {
        if let Some(t) = o[key].as_str() {
            line.push_str(&format!(": {t}"));
        }
    }
    line
}

pub fn timeline_entry(step: &Value) -> String {
    format!(
        "{}  {:<18} {}",
        text(step, "at"),
        text(step, "step"),
        text(step, "detail")
    )
}

pub fn history_entry(h: &Value) -> String {
    let change = match h["from"].as_str() {
        Some(from) if from != text(h, "to") => format!("{from} -> {}", text(h, "to")),
        Some(_) => text(h, "to").to_string(),
        None => format!("-> {}", text(h, "to")),
    };
    let reason = h["reason"].as_str().map(|r| format!(": {r}")).unwrap_or_default();
    format!("{}  {:<8} {change}{reason}", text(h, "at"), person(text(h, "by")))
}

fn history(r: &Value) -> String {
    let mut out = "History:\n".to_string();
    for h in r["history"].as_array().into_iter().flatten() {
        out.push_str(&format!("  {}\n", history_entry(h)));
    }
    out
}

/// `lifeboat requests list`: one line per request.
pub fn list(requests: &[Value]) -> String {
    if requests.is_empty() {
        return "No requests.\n".into();
    }
    let mut table = Table::new(&["ID", "STATUS", "FILED AT", "BY", "CAUSE", "TRIAGE"]);
    for r in requests {
        table.row(vec![
            text(r, "id").to_string(),
            text(r, "status").to_string(),
            text(r, "submitted_at").to_string(),
            person(text(r, "submitted_by")).to_string(),
            text(r, "cause").to_string(),
            text(&r["triage"], "verdict").to_string(),
        ]);
    }
    table.render("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filed() -> Value {
        json!({
            "id": "rr-6c0e", "status": "approved", "instance_id": "acme",
            "description": "The CRM sync deleted about 2,000 contacts.",
            "occurred_at": "2026-11-28T09:10:00Z", "business_context": "",
            "affected": {}, "cause": "integration_mass_deletion",
            "submitted_by": "arn:aws:sts::1:assumed-role/Support/sam",
            "submitted_at": "2026-11-28T11:02:13Z",
            "triage": {"verdict": "likely_qualifies", "reasons": ["The policy's second qualifying example."]},
            "recovery_options": [{
                "resource": "rds:acme-db", "source": {"kind": "point_in_time", "target": "2026-11-28T09:05:00Z"},
                "restores_to": "2026-11-28T09:05:00Z",
                "data_loss": {"since": "2026-11-28T09:05:00Z", "until": "2026-11-28T11:02:13Z", "seconds": 7033},
                "restorable_until": "2026-12-01T09:05:00Z"
            }],
            "decision": {"verdict": "approve", "mode": "rollback", "by": "arn:aws:sts::1:assumed-role/Eng/erin",
                         "at": "2026-11-28T11:05:00Z", "reason": "mass deletion"},
            "execution": "arn:aws:states:us-east-1:1:execution:restore:rr-6c0e",
            "awaiting_confirmation": false,
            "history": [
                {"at": "2026-11-28T11:02:13Z", "by": "arn:aws:sts::1:assumed-role/Support/sam", "to": "submitted"},
                {"at": "2026-11-28T11:05:00Z", "by": "arn:aws:sts::1:assumed-role/Eng/erin", "from": "submitted", "to": "approved", "reason": "mass deletion"}
            ]
        })
    }

    #[test]
    fn a_request_shows_its_options_with_what_they_lose_and_its_trail() {
        let text = request(&filed());
        for expected in [
            "Request rr-6c0e  [approved]  instance acme",
            "filed by sam at 2026-11-28T11:02:13Z",
            "Triage: likely_qualifies",
            "rds:acme-db  point_in_time:2026-11-28T09:05:00Z  2026-11-28T09:05:00Z  1h 57m",
            "Decision: approve (rollback) by erin",
            "2026-11-28T11:05:00Z  erin     submitted -> approved: mass deletion",
        ] {
            assert!(text.contains(expected), "{expected:?} missing from:\n{text}");
        }
        assert!(
            !text.contains("business context"),
            "an empty context is not shown"
        );
    }

    #[test]
    fn a_list_is_a_line_per_request() {
        let text = list(&[filed()]);
        assert!(text.starts_with("ID  "), "{text}");
        assert!(
            text.contains("rr-6c0e  approved  2026-11-28T11:02:13Z  sam"),
            "{text}"
        );
        assert_eq!(list(&[]), "No requests.\n");
    }
}
