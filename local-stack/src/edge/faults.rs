//! Fault injection: what moto never does, made to happen on purpose.
//!
//! A rule matches calls by service, operation, caller and the call's target (a substring, or
//! exactly), may stay dormant until a call of another operation has passed (to strike at a
//! given moment of a flow: "after the swap's last change"), fires a bounded number of times,
//! and then does one thing: answer a throttling error, a 5xx or a refusal instead of moto,
//! add latency, report resources as still `creating` (or in another status) in moto's
//! answer, or kill the calling function's process once moto has answered (a crash part-way).

use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::aws_call::AwsCall;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer the service's throttling error.
    Throttle,
    /// Answer this HTTP status (5xx) with the service's internal-error shape.
    ServerError { status: u16 },
    /// Answer 400 with this error code: a refusal no retry can fix.
    Refuse { code: String },
    /// Wait this long, then forward.
    Delay { millis: u64 },
    /// Forward, then rewrite `available` statuses in the answer to `creating`.
    ReportCreating,
    /// Forward, then rewrite an RDS instance's `available` status in the answer to this one
    /// (`backing-up`, `modifying`: states RDS passes through by itself).
    ReportStatus { status: String },
    /// Forward, then kill the calling function's process before it sees the answer.
    KillCaller,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// A substring of the call's target (identifier, table name, S3 path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_contains: Option<String>,
    /// The call's target, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_equals: Option<String>,
    /// An operation: the rule is dormant until a call of it (by the rule's caller, if it
    /// names one) has passed the edge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Matching calls to let through before the rule starts firing.
    #[serde(default)]
    pub skip: u32,
    /// How many times the rule fires; `None` for every matching call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    pub action: FaultAction,
}

/// A [`FaultRule`] being written: what it matches, how often it fires; one of its action
/// methods ([`FaultRuleBuilder::throttle`], ...) finishes it. So a rule reads as one line:
/// `FaultRule::on("rds", "ModifyDBInstance").times(1).refuse("InvalidDBInstanceState")`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a fault rule needs an action (throttle, refuse, ...) to be a rule"]
pub struct FaultRuleBuilder {
    service: Option<String>,
    operation: Option<String>,
    caller: Option<String>,
    target_contains: Option<String>,
    target_equals: Option<String>,
    after: Option<String>,
    skip: u32,
    times: Option<u32>,
}

impl FaultRule {
    /// A rule on every call of `operation` of `service` (`rds`, `dynamodb`, `s3`, `states`...).
    pub fn on(service: &str, operation: &str) -> FaultRuleBuilder {
        FaultRuleBuilder {
            service: Some(service.to_string()),
            ..FaultRule::on_operation(operation)
        }
    }

    /// A rule on every call of `operation`, whatever the service.
    pub fn on_operation(operation: &str) -> FaultRuleBuilder {
        FaultRuleBuilder {
            service: None,
            operation: Some(operation.to_string()),
            caller: None,
            target_contains: None,
            target_equals: None,
            after: None,
            skip: 0,
            times: None,
        }
    }
}

impl FaultRuleBuilder {
    /// Only calls made by `caller` (a function's name, or the tester).
    pub fn by(self, caller: &str) -> Self {
        FaultRuleBuilder {
            caller: Some(caller.to_string()),
            ..self
        }
    }

    /// Only calls whose target contains `part`.
    pub fn target_contains(self, part: &str) -> Self {
        FaultRuleBuilder {
            target_contains: Some(part.to_string()),
            ..self
        }
    }

    /// Only calls whose target is exactly `target`.
    pub fn target_equals(self, target: &str) -> Self {
        FaultRuleBuilder {
            target_equals: Some(target.to_string()),
            ..self
        }
    }

    /// Dormant until a call of `operation` (by the rule's caller, if named) has passed.
    pub fn after(self, operation: &str) -> Self {
        FaultRuleBuilder {
            after: Some(operation.to_string()),
            ..self
        }
    }

    /// Lets the first `n` matching calls through.
    pub fn skip(self, n: u32) -> Self {
        FaultRuleBuilder { skip: n, ..self }
    }

    /// Fires `n` times, then is gone (without it: on every matching call).
    pub fn times(self, n: u32) -> Self {
        FaultRuleBuilder {
            times: Some(n),
            ..self
        }
    }

    /// Answers the service's throttling error.
    pub fn throttle(self) -> FaultRule {
        self.then(FaultAction::Throttle)
    }

    /// Answers `status` (5xx) with the service's internal-error shape.
    pub fn server_error(self, status: u16) -> FaultRule {
        self.then(FaultAction::ServerError { status })
    }

    /// Answers 400 with `code`.
    pub fn refuse(self, code: &str) -> FaultRule {
        self.then(FaultAction::Refuse {
            code: code.to_string(),
        })
    }

    /// Waits `millis`, then forwards.
    pub fn delay(self, millis: u64) -> FaultRule {
        self.then(FaultAction::Delay { millis })
    }

    /// Forwards, then reports `available` resources as `creating`.
    pub fn report_creating(self) -> FaultRule {
        self.then(FaultAction::ReportCreating)
    }

    /// Forwards, then reports an `available` RDS instance in `status`.
    pub fn report_status(self, status: &str) -> FaultRule {
        self.then(FaultAction::ReportStatus {
            status: status.to_string(),
        })
    }

    /// Forwards, then kills the calling function's process before it sees the answer.
    pub fn kill_caller(self) -> FaultRule {
        self.then(FaultAction::KillCaller)
    }

    /// The rule, doing `action` when it fires.
    pub fn then(self, action: FaultAction) -> FaultRule {
        FaultRule {
            service: self.service,
            operation: self.operation,
            caller: self.caller,
            target_contains: self.target_contains,
            target_equals: self.target_equals,
            after: self.after,
            skip: self.skip,
            times: self.times,
            action,
        }
    }
}

impl FaultRule {
    fn matches(&self, call: &AwsCall) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.service, &call.service)
            && eq(&self.operation, &call.operation)
            && eq(&self.caller, &call.caller)
            && self
                .target_contains
                .as_deref()
                .is_none_or(|t| call.target.contains(t))
            && eq(&self.target_equals, &call.target)
    }

    /// Whether `call` wakes this rule up (see [`FaultRule::after`]).
    fn wakes(&self, call: &AwsCall) -> bool {
        self.after.as_deref() == Some(call.operation.as_str())
            && self.caller.as_deref().is_none_or(|c| c == call.caller)
    }
}

#[derive(Default)]
pub struct Faults {
    /// Each rule, and whether it is awake (a rule without `after` always is).
    rules: Mutex<Vec<(FaultRule, bool)>>,
}

impl Faults {
    pub fn add(&self, rule: FaultRule) {
        let awake = rule.after.is_none();
        self.rules.lock().expect("faults lock").push((rule, awake));
    }

    pub fn clear(&self) {
        self.rules.lock().expect("faults lock").clear();
    }

    pub fn list(&self) -> Vec<FaultRule> {
        let rules = self.rules.lock().expect("faults lock");
        rules.iter().map(|(r, _)| r.clone()).collect()
    }

    /// The action of the first awake rule that fires for `call`, counting the firing; then
    /// wakes the rules `call` wakes (so a rule never fires on the call that woke it).
    pub fn fire(&self, call: &AwsCall) -> Option<FaultAction> {
        let mut rules = self.rules.lock().expect("faults lock");
        let action = Self::first_firing(&mut rules, call);
        for (rule, awake) in rules.iter_mut() {
            *awake = *awake || rule.wakes(call);
        }
        action
    }

    fn first_firing(rules: &mut Vec<(FaultRule, bool)>, call: &AwsCall) -> Option<FaultAction> {
        let index = rules.iter().position(|(r, awake)| *awake && r.matches(call))?;
        let rule = &mut rules[index].0;
        if rule.skip > 0 {
            rule.skip -= 1;
            return None;
        }
        let action = rule.action.clone();
        match &mut rule.times {
            Some(1) => {
                rules.remove(index);
            }
            Some(n) => *n -= 1,
            None => {}
        }
        Some(action)
    }
}

impl FaultAction {
    pub fn delay(&self) -> Option<Duration> {
        match self {
            FaultAction::Delay { millis } => Some(Duration::from_millis(*millis)),
            _ => None,
        }
    }
}

/// The error body a service answers, in its protocol's shape.
pub fn error_body(service: &str, code: &str, message: &str) -> (&'static str, Vec<u8>) {
    match service {
        "rds" | "sts" | "sqs" => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error>\
                 <RequestId>lifeboat-edge</RequestId></ErrorResponse>"
            )
            .into_bytes(),
        ),
        "s3" => (
            "application/xml",
            format!("<Error><Code>{code}</Code><Message>{message}</Message></Error>").into_bytes(),
        ),
        _ => (
            "application/x-amz-json-1.0",
            serde_json::to_vec(&serde_json::json!({"__type": code, "message": message})).expect("JSON"),
        ),
    }
}

/// The throttling error code each service uses.
pub fn throttling_code(service: &str) -> &'static str {
    match service {
        "rds" => "Throttling",
        "s3" => "SlowDown",
        _ => "ThrottlingException",
    }
}

/// Rewrites an RDS instance's `available` status in an answer to `status`.
pub fn report_status(body: &[u8], status: &str) -> Vec<u8> {
    String::from_utf8_lossy(body)
        .replace(
            "<DBInstanceStatus>available</DBInstanceStatus>",
            &format!("<DBInstanceStatus>{status}</DBInstanceStatus>"),
        )
        .into_bytes()
}

/// Rewrites `available` statuses in a service's answer to `creating`.
pub fn report_creating(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    if text.trim_start().starts_with('{') {
        let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&text) else {
            return body.to_vec();
        };
        rewrite_json(&mut value);
        return serde_json::to_vec(&value).expect("JSON");
    }
    text.replace("<Status>available</Status>", "<Status>creating</Status>")
        .replace(
            "<DBInstanceStatus>available</DBInstanceStatus>",
            "<DBInstanceStatus>creating</DBInstanceStatus>",
        )
        .into_bytes()
}

fn rewrite_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key.ends_with("Status") && (v == "AVAILABLE" || v == "ACTIVE") {
                    *v = "CREATING".into();
                } else {
                    rewrite_json(v);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(rewrite_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: &str, target: &str) -> AwsCall {
        AwsCall {
            caller: "snapshot-creator".into(),
            service: "rds".into(),
            operation: op.into(),
            target: target.into(),
        }
    }

    #[test]
    fn rules_fire_a_bounded_number_of_times_after_their_skip() {
        let faults = Faults::default();
        faults.add(
            FaultRule::on("rds", "CreateDBSnapshot")
                .target_contains("db-b")
                .skip(1)
                .times(2)
                .throttle(),
        );
        assert_eq!(faults.fire(&call("CreateDBSnapshot", "lifeboat-db-a-x")), None);
        assert_eq!(
            faults.fire(&call("CreateDBSnapshot", "lifeboat-db-b-x")),
            None,
            "skipped"
        );
        assert_eq!(
            faults.fire(&call("CreateDBSnapshot", "lifeboat-db-b-x")),
            Some(FaultAction::Throttle)
        );
        assert_eq!(
            faults.fire(&call("CreateDBSnapshot", "lifeboat-db-b-x")),
            Some(FaultAction::Throttle)
        );
        assert_eq!(faults.fire(&call("CreateDBSnapshot", "lifeboat-db-b-x")), None);
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_rule_after_an_operation_sleeps_until_that_operation_passes() {
        let faults = Faults::default();
        faults.add(
            FaultRule::on_operation("DescribeDBInstances")
                .target_equals("db")
                .after("RemoveTagsFromResource")
                .times(1)
                .report_status("backing-up"),
        );
        assert_eq!(faults.fire(&call("DescribeDBInstances", "db")), None, "asleep");
        assert_eq!(
            faults.fire(&call("RemoveTagsFromResource", "arn")),
            None,
            "wakes it"
        );
        assert_eq!(
            faults.fire(&call("DescribeDBInstances", "lbf-x-db")),
            None,
            "exact target"
        );
        assert!(faults.fire(&call("DescribeDBInstances", "db")).is_some());
        assert!(faults.list().is_empty());
        assert_eq!(
            report_status(b"<DBInstanceStatus>available</DBInstanceStatus>", "modifying"),
            b"<DBInstanceStatus>modifying</DBInstanceStatus>"
        );
    }

    #[test]
    fn statuses_are_rewritten_in_both_protocols() {
        let xml = report_creating(b"<DBSnapshot><Status>available</Status></DBSnapshot>");
        assert_eq!(xml, b"<DBSnapshot><Status>creating</Status></DBSnapshot>");
        let json = report_creating(br#"{"BackupSummaries":[{"BackupStatus":"AVAILABLE"}]}"#);
        assert_eq!(json, br#"{"BackupSummaries":[{"BackupStatus":"CREATING"}]}"#);
    }
}
