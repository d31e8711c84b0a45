//! The bodies of `POST /restore-requests/{id}/decision`, exactly as the OpenAPI document's
//! `DecisionBody` has them: a rejection, or an approval with its mode, optional recovery
//! points and (selective) selection.

use serde_json::{json, Map, Value};

use crate::args::{wire_name, ApproveArgs};
use crate::error::CliError;
use crate::input::read_json;
use crate::point::ChosenPoint;

/// An approval's body; the selection file, if any, is read here.
pub fn approval(args: &ApproveArgs) -> Result<Value, CliError> {
    let selection = match &args.selection {
        Some(path) => Some(selection(read_json(path)?)),
        None => None,
    };
    Ok(approval_body(args, selection))
}

fn approval_body(args: &ApproveArgs, selection: Option<Value>) -> Value {
    let mut body = Map::new();
    body.insert("decision".into(), json!("approve"));
    body.insert("reason".into(), json!(args.reason));
    body.insert("mode".into(), json!(wire_name(args.mode)));
    if !args.points.is_empty() {
        let points: Vec<Value> = args.points.iter().map(ChosenPoint::body).collect();
        body.insert("recovery_points".into(), Value::Array(points));
    }
    if let Some(selection) = selection {
        body.insert("selection".into(), selection);
    }
    Value::Object(body)
}

/// A selection file holds the array, `{"selection": [...]}`, or one selection object.
fn selection(file: Value) -> Value {
    match file {
        Value::Object(mut o) if o.contains_key("selection") => o.remove("selection").unwrap_or_default(),
        Value::Object(o) => Value::Array(vec![Value::Object(o)]),
        other => other,
    }
}

pub fn rejection(reason: &str) -> Value {
    json!({"decision": "reject", "reason": reason})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, Requests};
    use clap::Parser;

    fn approve(args: &[&str]) -> ApproveArgs {
        let cli = Cli::try_parse_from([&["lifeboat", "requests", "approve"], args].concat()).unwrap();
        match cli.command {
            Command::Requests {
                command: Requests::Approve(a),
            } => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_rollback_approval_names_its_points_as_the_api_does() {
        let args = approve(&[
            "rr-1",
            "--mode",
            "rollback",
            "--reason",
            "an integration's mass deletion",
            "--point",
            "rds:acme-db=point_in_time:2026-11-28T09:05:00Z",
            "--point",
            "dynamodb:acme-events=snapshot:2026-11-28T09:00:00Z",
        ]);
        assert_eq!(args.id, "rr-1");
        assert_eq!(
            approval_body(&args, None),
            json!({
                "decision": "approve",
                "reason": "an integration's mass deletion",
                "mode": "rollback",
                "recovery_points": [
                    {"resource": "rds:acme-db", "kind": "point_in_time", "target": "2026-11-28T09:05:00Z"},
                    {"resource": "dynamodb:acme-events", "kind": "snapshot", "slot": "2026-11-28T09:00:00Z"}
                ]
            })
        );
    }

    #[test]
    fn without_points_the_approval_leaves_them_to_the_request_options() {
        let args = approve(&["rr-1", "--mode", "rollback", "--reason", "r"]);
        assert_eq!(
            approval_body(&args, None),
            json!({"decision": "approve", "reason": "r", "mode": "rollback"})
        );
    }

    #[test]
    fn a_selective_approval_carries_the_selection_of_its_file() {
        let args = approve(&["rr-1", "--mode", "selective", "--reason", "r"]);
        let one = json!({"resource": "rds:db", "table": "contacts", "missing": true});
        for file in [
            json!([one.clone()]),
            json!({"selection": [one.clone()]}),
            one.clone(),
        ] {
            assert_eq!(
                approval_body(&args, Some(selection(file))),
                json!({"decision": "approve", "reason": "r", "mode": "selective", "selection": [one]})
            );
        }
    }

    #[test]
    fn approving_needs_a_mode() {
        let missing_mode = Cli::try_parse_from(["lifeboat", "requests", "approve", "rr-1", "--reason", "r"]);
        assert!(missing_mode.is_err());
    }

    #[test]
    fn a_rejection_is_its_reason() {
        assert_eq!(
            rejection("works as configured"),
            json!({"decision": "reject", "reason": "works as configured"})
        );
    }
}
