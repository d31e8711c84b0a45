//! The `check` step: each sandbox that became usable is inspected against production
//! (read only); one that did not is reported with why. The plan comes back in the task
//! event: every item is checked to be its drill's own sandbox before anything is read, and
//! each sandbox to still be the one `ready` proved (its identity, as `ready` answered it): a
//! resource put under the sandbox's name since is not inspected, and the check fails naming it.

use lifeboat::drill::checks::CheckResult;
use lifeboat::drill::records::run_key;
use lifeboat::execution::error::{StepError, INVALID_INPUT};
use lifeboat::execution::identity::{Identity, Made};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sandbox::target;
use crate::{DrillPlan, Driller, PlanItem};

/// Where a `check` step kept its results, and how many there were.
#[derive(Debug, Clone, Serialize)]
pub struct ChecksKept {
    pub key: String,
    pub checks: usize,
    pub failed: usize,
}

/// One resource's restore and checks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Checked {
    pub resource: String,
    pub restore_seconds: Option<i64>,
    pub checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Driller {
    /// `restored`: the Map's results, one per resource in the plan's order: the item with
    /// its `ready` answer, or with the `error` the state machine caught.
    ///
    /// The results go to `drills/runs/<drill>/checks.json`, and only where they are goes
    /// back into the execution's state: a database of a thousand tables has a thousand
    /// checks, and Step Functions caps the state at 256 KB.
    pub async fn check(&self, plan: &DrillPlan, restored: &[Value]) -> Result<ChecksKept, StepError> {
        for item in &plan.resources {
            if item.drill_id != plan.drill_id {
                return Err(StepError::new(
                    INVALID_INPUT,
                    format!(
                        "plan item of {} belongs to drill {:?}, not to this plan's {:?}; refused",
                        item.resource, item.drill_id, plan.drill_id
                    ),
                ));
            }
            item.check()?;
        }
        let mut out = Vec::new();
        for (i, item) in plan.resources.iter().enumerate() {
            let result = restored.get(i).cloned().unwrap_or(Value::Null);
            out.push(self.check_one(item, &result).await);
        }
        let key = run_key(&plan.drill_id, "checks");
        let body = serde_json::to_vec_pretty(&out).expect("checks serialize");
        (self.reports.put(&key, body, "application/json").await)
            .map_err(|e| StepError::from_port("check", e))?;
        Ok(ChecksKept {
            key,
            checks: out.iter().map(|c| c.checks.len()).sum(),
            failed: out
                .iter()
                .map(|c| c.checks.iter().filter(|r| !r.passed).count() + usize::from(c.error.is_some()))
                .sum(),
        })
    }

    /// The checks `plan`'s `check` step kept; none when the drill stopped before its check
    /// (the state machine's `[]`). Any other key is refused: a report reads its own drill's.
    pub(crate) async fn kept_checks(
        &self,
        plan: &DrillPlan,
        checked: &Value,
    ) -> Result<Vec<Checked>, StepError> {
        if checked.as_array().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        let expected = run_key(&plan.drill_id, "checks");
        if checked.get("key").and_then(Value::as_str) != Some(expected.as_str()) {
            return Err(StepError::new(
                INVALID_INPUT,
                format!("field `checked` must be `[]` or this drill's checks, {{\"key\": {expected:?}}}"),
            ));
        }
        let body = (self.reports.get(&expected).await).map_err(|e| StepError::from_port("report", e))?;
        serde_json::from_slice(&body)
            .map_err(|e| StepError::new(INVALID_INPUT, format!("{expected} is not a drill's checks: {e}")))
    }

    async fn check_one(&self, item: &PlanItem, restored: &Value) -> Checked {
        let mut checked = Checked {
            resource: item.resource.to_string(),
            restore_seconds: None,
            checks: Vec::new(),
            error: None,
        };
        let usable_at = restored["ready"]["at"]
            .as_str()
            .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
        let Some(usable_at) = usable_at else {
            checked.error = Some(match restored.get("error") {
                Some(e) => format!(
                    "the restore failed: {}",
                    e["Cause"].as_str().unwrap_or("no cause")
                ),
                None => "the sandbox never became usable".into(),
            });
            return checked;
        };
        checked.restore_seconds = Some((usable_at - item.started_at).num_seconds());
        let pinned = serde_json::from_value::<Identity>(restored["ready"]["identity"].clone()).ok();
        let still = match self.restorer(item.resource.kind) {
            Ok(restorer) => (restorer
                .still_pinned(&target(item, pinned.as_ref()), Made::Staging)
                .await)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(why) = still {
            checked.error = Some(format!(
                "the sandbox is not the one restored and proven ready: {why}"
            ));
            return checked;
        }
        let spec = self
            .policies
            .get(&item.policy)
            .ok()
            .and_then(|p| p.drill.clone())
            .unwrap_or_default();
        match self.inspector(item.resource.kind) {
            None => checked.error = Some(format!("no inspector for {}", item.resource.kind.as_str())),
            Some(inspector) => match inspector.inspect(&item.resource, &item.sandbox, &spec).await {
                Ok(results) => checked.checks = results,
                Err(e) => checked.error = Some(format!("the sandbox could not be checked: {e}")),
            },
        }
        checked
    }
}
