//! `lifeboat requests watch ID`: reads the request every few seconds until it reaches a final
//! status, and shows what changed since the last read: new audit-trail and timeline entries,
//! the phases and progress of its resources, a wait for confirmation.
//!
//! With `until_confirmation`, it also ends (with success) as soon as the restore waits for a
//! confirmation: "tell me when staging is ready to check". Otherwise it ends with success
//! only for `completed`; `failed`, `rejected` and `cancelled` end with
//! [`CliError::NotCompleted`]. A read that fails for a while (a 5xx, the network) is tried
//! again, a few times in a row at most; a refusal (404, 403) ends the watch at once.

use std::time::Duration;

use chrono::DateTime;
use serde::Serialize;
use serde_json::Value;

use crate::client::Api;
use crate::endpoint::segment;
use crate::error::CliError;

/// The statuses a request never leaves.
pub const FINAL: [&str; 4] = ["completed", "failed", "rejected", "cancelled"];

/// Failed reads in a row before the watch gives up.
const MAX_FAILED_READS: u32 = 5;

/// Where a watch shows what it sees: bars for a person at a terminal, JSON lines for a
/// script (both in the `watch_view` module).
pub trait View {
    /// The changes of one read, and the request as read.
    fn show(&mut self, changes: &[Change], request: &Value);
    /// A read that failed and will be tried again.
    fn note(&mut self, text: &str);
    /// The request reached a final status.
    fn end(&mut self, end: &Change, request: &Value);
    /// The watch stops before the end: the restore waits for a confirmation.
    fn pause(&mut self, request: &Value);
}

/// How long to follow a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    End,
    /// The end, or a wait for a confirmation, whichever comes first.
    Confirmation,
}

/// One change between two reads of a request (one JSON line each with `--output json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Status { from: Option<String>, to: String },
    History { entry: Value },
    Timeline { entry: Value },
    Phase { resource: String, phase: String },
    Progress { progress: Value },
    AwaitingConfirmation { awaiting: bool },
    End { status: String, outcome: Value },
}

pub async fn watch(
    api: &Api,
    id: &str,
    (interval, until): (Duration, Until),
    view: &mut dyn View,
) -> Result<(), CliError> {
    let path = format!("/restore-requests/{}", segment(id));
    let mut last: Option<Value> = None;
    let mut failed_reads = 0;
    loop {
        match api.get(&path).await {
            Ok(request) => {
                failed_reads = 0;
                view.show(&changes(last.as_ref(), &request), &request);
                let status = request["status"].as_str().unwrap_or_default();
                if FINAL.contains(&status) {
                    view.end(&end(&request), &request);
                    return match status {
                        "completed" => Ok(()),
                        other => Err(CliError::NotCompleted {
                            id: id.to_string(),
                            status: other.to_string(),
                        }),
                    };
                }
                if until == Until::Confirmation && request["awaiting_confirmation"] == true {
                    view.pause(&request);
                    return Ok(());
                }
                last = Some(request);
            }
            Err(e) if e.is_transient() && failed_reads < MAX_FAILED_READS => {
                failed_reads += 1;
                view.note(&format!("{e}; reading again"));
            }
            Err(e) => return Err(e),
        }
        tokio::time::sleep(interval).await;
    }
}

fn end(request: &Value) -> Change {
    Change::End {
        status: request["status"].as_str().unwrap_or_default().to_string(),
        outcome: request["run"]["outcome"].clone(),
    }
}

/// What `after` shows that `before` (the previous read, none at first) did not.
pub fn changes(before: Option<&Value>, after: &Value) -> Vec<Change> {
    let empty = Value::Null;
    let before = before.unwrap_or(&empty);
    // The audit trail and the timeline interleaved as they happened.
    let mut out: Vec<Change> = new_entries(&before["history"], &after["history"])
        .into_iter()
        .map(|entry| Change::History { entry })
        .chain(
            new_entries(&before["run"]["timeline"], &after["run"]["timeline"])
                .into_iter()
                .map(|entry| Change::Timeline { entry }),
        )
        .collect();
    out.sort_by_key(|c| match c {
        Change::History { entry } | Change::Timeline { entry } => entry["at"]
            .as_str()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok()),
        _ => None,
    });
    if before["status"] != after["status"] {
        out.push(Change::Status {
            from: before["status"].as_str().map(str::to_string),
            to: after["status"].as_str().unwrap_or_default().to_string(),
        });
    }
    for (resource, phase) in phases(after) {
        if !phases(before).contains(&(resource.clone(), phase.clone())) {
            out.push(Change::Phase { resource, phase });
        }
    }
    let progress = after.get("progress").cloned().unwrap_or(Value::Null);
    if !progress.is_null() && before.get("progress") != Some(&progress) {
        out.push(Change::Progress { progress });
    }
    let awaiting = after["awaiting_confirmation"] == true;
    if awaiting != (before["awaiting_confirmation"] == true) {
        out.push(Change::AwaitingConfirmation { awaiting });
    }
    out
}

/// The entries of the list `after` beyond the length of `before`: the audit trail and the
/// timeline only grow.
fn new_entries(before: &Value, after: &Value) -> Vec<Value> {
    let seen = before.as_array().map_or(0, Vec::len);
    after
        .as_array()
        .map(|a| a.iter().skip(seen).cloned().collect())
        .unwrap_or_default()
}

fn phases(request: &Value) -> Vec<(String, String)> {
    request["run"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["resource"].as_str().unwrap_or_default().to_string(),
                r["phase"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(status: &str, history: usize, timeline: usize, phase: &str, awaiting: bool) -> Value {
        let entry = |i: usize| json!({"at": format!("2026-11-28T11:0{i}:00Z"), "by": "x", "to": status});
        let step =
            |i: usize| json!({"step": format!("step{i}"), "at": "2026-11-28T11:05:00Z", "detail": "d"});
        json!({
            "status": status,
            "awaiting_confirmation": awaiting,
            "history": (0..history).map(entry).collect::<Vec<_>>(),
            "run": {"mode": "rollback", "timeline": (0..timeline).map(step).collect::<Vec<_>>(),
                    "resources": [{"resource": "rds:db", "phase": phase}]}
        })
    }

    #[test]
    fn the_first_read_shows_everything_so_far() {
        let first = read("executing", 3, 2, "ready", false);
        let changes = changes(None, &first);
        let kinds: Vec<String> = changes
            .iter()
            .map(|c| {
                serde_json::to_value(c).unwrap()["change"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            kinds,
            ["history", "history", "history", "timeline", "timeline", "status", "phase"]
        );
    }

    #[test]
    fn trail_and_timeline_entries_are_shown_in_the_order_they_happened() {
        let before = read("executing", 1, 1, "swapped", false);
        let mut after = before.clone();
        after["run"]["timeline"]
            .as_array_mut()
            .unwrap()
            .push(json!({"step": "verify", "at": "2026-11-28T11:09:00.5Z", "detail": "d"}));
        after["history"]
            .as_array_mut()
            .unwrap()
            .push(json!({"at": "2026-11-28T11:09:01Z", "by": "x", "to": "completed"}));
        let changes = changes(Some(&before), &after);
        assert!(matches!(&changes[0], Change::Timeline { .. }), "{changes:?}");
        assert!(matches!(&changes[1], Change::History { .. }), "{changes:?}");
    }

    #[test]
    fn a_later_read_shows_only_what_is_new() {
        let before = read("executing", 3, 2, "ready", false);
        let after = read("executing", 4, 3, "ready", true);
        let changes = changes(Some(&before), &after);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(matches!(&changes[0], Change::History { entry } if entry["at"] == "2026-11-28T11:03:00Z"));
        assert!(matches!(&changes[1], Change::Timeline { entry } if entry["step"] == "step2"));
        assert_eq!(changes[2], Change::AwaitingConfirmation { awaiting: true });
        assert_eq!(super::changes(Some(&after), &after), vec![]);
    }

    #[test]
    fn a_status_and_a_phase_change_are_one_line_each_in_json() {
        let before = read("executing", 1, 0, "ready", false);
        let after = read("completed", 1, 0, "verified", false);
        let lines: Vec<String> = changes(Some(&before), &after)
            .iter()
            .map(|c| serde_json::to_string(c).unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                r#"{"change":"status","from":"executing","to":"completed"}"#,
                r#"{"change":"phase","resource":"rds:db","phase":"verified"}"#,
            ]
        );
    }

    #[test]
    fn progress_is_a_change_when_it_appears_or_moves() {
        let mut before = read("executing", 1, 0, "swapping", false);
        let mut after = before.clone();
        after["progress"] =
            json!({"step": "swap", "resources": [{"resource": "rds:db", "stage": "renaming"}]});
        assert!(matches!(
            &changes(Some(&before), &after)[..],
            [Change::Progress { .. }]
        ));
        before["progress"] = after["progress"].clone();
        assert_eq!(changes(Some(&before), &after), vec![]);
    }
}
