//! The `plan` step: the instance's managed resources and, for each, the recovery point the
//! drill restores and the sandbox it restores into, recorded before anything is restored.

use chrono::{DateTime, Utc};
use lifeboat::catalog::ResourceKey;
use lifeboat::drill::plan::{choose_point, drill_id, drill_of_execution, sandbox_name, PointChoice};
use lifeboat::drill::records::run_key;
use lifeboat::execution::error::{StepError, INVALID_INPUT, NOT_RESTORABLE};
use lifeboat::inventory::managed;
use lifeboat::schedule::Slot;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Driller;

/// One resource's part of a drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanItem {
    pub drill_id: String,
    pub resource: ResourceKey,
    pub point: Slot,
    /// The snapshot identifier or backup ARN restored.
    pub service_id: String,
    pub sandbox: String,
    pub policy: String,
    pub started_at: DateTime<Utc>,
}

impl PlanItem {
    /// Refuses an item whose sandbox is not the one its drill names for its resource: items
    /// come back in task events, and a forged or corrupted one must never make a step touch
    /// production or another restore's resources.
    pub fn check(&self) -> Result<(), StepError> {
        let expected = sandbox_name(&self.drill_id, &self.resource);
        if !self.drill_id.starts_with("drill-")
            || self.sandbox != expected
            || !self.sandbox.starts_with("lbd-")
        {
            return Err(StepError::new(
                INVALID_INPUT,
                format!(
                    "plan item of {}: sandbox {:?} is not drill {:?}'s sandbox ({expected:?}); refused",
                    self.resource, self.sandbox, self.drill_id
                ),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DrillPlan {
    pub drill_id: String,
    pub instance_id: String,
    pub started_at: DateTime<Utc>,
    pub choice: PointChoice,
    pub resources: Vec<PlanItem>,
}

/// What a drill's execution input may carry (the polling settings are the state machine's).
const INPUTS: [&str; 4] = ["instance_id", "point", "poll_interval_seconds", "max_polls"];

/// The execution input: `{"instance_id": "acme"}`, optionally with `"point"`: `"latest"`
/// (the default), `"random"`, or a slot (`"2026-11-28T23:00:00Z"`).
fn parse_input(input: &Value, drill: &str) -> Result<(String, PointChoice), StepError> {
    for (name, range) in [("poll_interval_seconds", 1..=3600u64), ("max_polls", 1..=1000)] {
        if let Some(v) = input.get(name) {
            if !v.as_u64().is_some_and(|n| range.contains(&n)) {
                return Err(StepError::new(
                    INVALID_INPUT,
                    format!(
                        "field `{name}` must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
    }
    let invalid = |m: String| StepError::new(INVALID_INPUT, m);
    let object = input
        .as_object()
        .ok_or_else(|| invalid("the drill's input must be an object: {\"instance_id\": \"…\"}".into()))?;
    if let Some(unknown) = (object.keys()).find(|k| !INPUTS.contains(&k.as_str())) {
        return Err(invalid(format!(
            "field `{unknown}` is not an input of a drill ({})",
            INPUTS.join(", ")
        )));
    }
    let instance = object
        .get("instance_id")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty() && s.len() <= 128)
        .ok_or_else(|| invalid("field `instance_id` must name the customer instance to drill".into()))?;
    let choice = match object.get("point") {
        None | Some(Value::Null) => PointChoice::Latest,
        Some(Value::String(s)) if s == "latest" => PointChoice::Latest,
        // The seed is the drill's id: a retried plan chooses the same point.
        Some(Value::String(s)) if s == "random" => PointChoice::Random {
            seed: lifeboat::rotation::fnv1a(drill),
        },
        Some(Value::String(s)) => PointChoice::Slot {
            slot: Slot::try_from(s.clone()).map_err(|e| invalid(format!("field `point`: {e}")))?,
        },
        Some(other) => {
            return Err(invalid(format!(
                "field `point` must be \"latest\", \"random\" or a slot time, got {other}"
            )))
        }
    };
    Ok((instance.to_string(), choice))
}

impl Driller {
    /// `execution`: the execution's name, which makes the drill's id (two executions in one
    /// hour, the schedule's and an engineer's, never share sandboxes).
    pub async fn plan(
        &self,
        input: &Value,
        execution: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<DrillPlan, StepError> {
        let instance_hint = input
            .get("instance_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let drill = match execution {
            Some(name) => drill_of_execution(name),
            None => drill_id(instance_hint, now),
        };
        let (instance, choice) = parse_input(input, &drill)?;
        let mut resources = Vec::new();
        for service in &self.services {
            let found =
                (service.discover_instance(&instance).await).map_err(|e| StepError::from_port("plan", e))?;
            for d in &found {
                let m = match managed(d, &self.policies) {
                    Ok(Some(m)) if m.instance_id == instance => m,
                    Ok(_) => continue,
                    Err(e) => return Err(StepError::new(NOT_RESTORABLE, format!("step plan: {e}"))),
                };
                let records =
                    (self.catalog.points_of(&m.key).await).map_err(|e| StepError::from_port("plan", e))?;
                let point = choose_point(&records, choice).ok_or_else(|| {
                    StepError::new(
                        NOT_RESTORABLE,
                        format!(
                            "step plan: {} has no available recovery point for {choice:?}",
                            m.key
                        ),
                    )
                })?;
                let service_id = point.service_id.clone().ok_or_else(|| {
                    StepError::new(
                        NOT_RESTORABLE,
                        format!("step plan: {} at {} has no service id yet", m.key, point.slot),
                    )
                })?;
                resources.push(PlanItem {
                    drill_id: drill.clone(),
                    sandbox: sandbox_name(&drill, &m.key),
                    resource: m.key.clone(),
                    point: point.slot,
                    service_id,
                    policy: m.policy.name.clone(),
                    started_at: now,
                });
            }
        }
        if resources.is_empty() {
            return Err(StepError::new(
                NOT_RESTORABLE,
                format!("step plan: no managed resource carries lifeboat:instance={instance}"),
            ));
        }
        resources.sort_by(|a, b| a.resource.cmp(&b.resource));
        let plan = DrillPlan {
            drill_id: drill,
            instance_id: instance,
            started_at: now,
            choice,
            resources,
        };
        // Recorded before any sandbox exists: if the execution stops before its cleanup,
        // the sweep learns from this what to delete (see `sweep`).
        let body = serde_json::to_vec_pretty(&plan).expect("plans serialize");
        (self
            .reports
            .put(&run_key(&plan.drill_id, "plan"), body, "application/json")
            .await)
            .map_err(|e| StepError::from_port("plan", e))?;
        tracing::info!(drill = %plan.drill_id, instance = %plan.instance_id, resources = plan.resources.len(), "drill planned");
        Ok(plan)
    }
}
