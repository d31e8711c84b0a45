//! The body of `POST /restore-requests` from `lifeboat requests file`: a JSON file's fields,
//! overridden by the flags given. Nothing is checked here: the API checks every field and
//! names those at fault, which the problem shows flag by flag.

use serde_json::{json, Map, Value};

use crate::args::{wire_name, FileArgs};
use crate::error::CliError;
use crate::input::read_json;

pub fn filing(args: &FileArgs) -> Result<Value, CliError> {
    let base = match &args.from_file {
        Some(path) => match read_json(path)? {
            Value::Object(o) => o,
            _ => {
                return Err(CliError::Usage(format!(
                    "{} must hold a JSON object (the body of POST /restore-requests)",
                    path.display()
                )))
            }
        },
        None => Map::new(),
    };
    Ok(Value::Object(with_flags(base, args)))
}

fn with_flags(mut body: Map<String, Value>, args: &FileArgs) -> Map<String, Value> {
    let mut set = |name: &str, value: Option<Value>| {
        if let Some(v) = value {
            body.insert(name.to_string(), v);
        }
    };
    set("instance_id", args.instance.as_ref().map(|v| json!(v)));
    set("cause", args.cause.map(|c| json!(wire_name(c))));
    set("description", args.description.as_ref().map(|v| json!(v)));
    set("occurred_at", args.occurred_at.as_ref().map(|v| json!(v)));
    set(
        "business_context",
        args.business_context.as_ref().map(|v| json!(v)),
    );
    let mut affected = match body.remove("affected") {
        Some(Value::Object(o)) => o,
        // Anything else is the API's to refuse, as it came.
        Some(other) if !has_affected_flags(args) => {
            body.insert("affected".into(), other);
            return body;
        }
        _ => Map::new(),
    };
    for (name, values) in [
        ("objects", &args.objects),
        ("records", &args.records),
        ("areas", &args.areas),
    ] {
        if !values.is_empty() {
            affected.insert(name.into(), json!(values));
        }
    }
    if let Some(n) = args.estimated_records {
        affected.insert("estimated_records".into(), json!(n));
    }
    // `affected` is required: an empty one says "not known yet" rather than leaving it out.
    body.insert("affected".into(), Value::Object(affected));
    body
}

fn has_affected_flags(args: &FileArgs) -> bool {
    !args.objects.is_empty()
        || !args.records.is_empty()
        || !args.areas.is_empty()
        || args.estimated_records.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, Requests};
    use clap::Parser;

    fn file_args(args: &[&str]) -> FileArgs {
        let cli = Cli::try_parse_from([&["lifeboat", "requests", "file"], args].concat()).unwrap();
        match cli.command {
            Command::Requests {
                command: Requests::File(a),
            } => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn flags_make_the_whole_filing() {
        let args = file_args(&[
            "--instance",
            "acme",
            "--cause",
            "integration_mass_deletion",
            "--description",
            "The CRM sync deleted about 2,000 contacts.",
            "--occurred-at",
            "2026-11-28T09:10:00Z",
            "--objects",
            "contacts,notes",
            "--areas",
            "CRM",
            "--estimated-records",
            "2000",
            "--business-context",
            "Deadline on Monday.",
        ]);
        assert_eq!(
            Value::Object(with_flags(Map::new(), &args)),
            json!({
                "instance_id": "acme",
                "cause": "integration_mass_deletion",
                "description": "The CRM sync deleted about 2,000 contacts.",
                "occurred_at": "2026-11-28T09:10:00Z",
                "affected": {"objects": ["contacts", "notes"], "areas": ["CRM"], "estimated_records": 2000},
                "business_context": "Deadline on Monday."
            })
        );
    }

    #[test]
    fn flags_override_the_file_and_keep_its_other_fields() {
        let file = json!({
            "instance_id": "acme", "cause": "other", "description": "d",
            "occurred_at": "2026-11-28T09:10:00Z",
            "affected": {"objects": ["contacts"], "estimated_records": 10}
        });
        let Value::Object(file) = file else { unreachable!() };
        let args = file_args(&["--cause", "user_edit", "--estimated-records", "20"]);
        assert_eq!(
            Value::Object(with_flags(file, &args)),
            json!({
                "instance_id": "acme", "cause": "user_edit", "description": "d",
                "occurred_at": "2026-11-28T09:10:00Z",
                "affected": {"objects": ["contacts"], "estimated_records": 20}
            })
        );
    }

    #[test]
    fn an_unknown_cause_is_refused_before_any_call() {
        let e = Cli::try_parse_from(["lifeboat", "requests", "file", "--cause", "gremlins"]).unwrap_err();
        assert!(e.to_string().contains("integration_mass_deletion"), "{e}");
    }
}
