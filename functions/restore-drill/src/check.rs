//! The `check` step: each sandbox that became usable is inspected against production
//! (read only); one that did not is reported with why.

use lifeboat::drill::checks::CheckResult;
use lifeboat::execution::error::StepError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DrillPlan, Driller, PlanItem};

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
    pub async fn check(&self, plan: &DrillPlan, restored: &[Value]) -> Result<Vec<Checked>, StepError> {
        let mut out = Vec::new();
        for (i, item) in plan.resources.iter().enumerate() {
            let result = restored.get(i).cloned().unwrap_or(Value::Null);
            out.push(self.check_one(item, &result).await);
        }
        Ok(out)
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
