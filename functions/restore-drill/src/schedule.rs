//! The weekly drills: an hourly Scheduled Event starts the drill of every managed instance
//! whose hour of the week it is (`lifeboat::drill::plan::drill_turn_at`), so a fleet's
//! drills spread over the week. `detail.instance` starts that instance's drill now.
//! Executions are named after the instance and the hour: a retried event starts nothing new.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use lifeboat::drill::plan::drill_turn_at;
use lifeboat::event::{parse_tick, ClockGuard};
use lifeboat::execution::error::{StepError, INVALID_INPUT};
use lifeboat::inventory::{instance_key, managed};
use serde::Serialize;
use serde_json::{json, Value};

use crate::Driller;

#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub slot: String,
    /// The executions started (or found started), by name.
    pub drills: Vec<String>,
}

impl Driller {
    pub async fn start_due(&self, event: &Value, now: DateTime<Utc>) -> Result<Started, StepError> {
        let guard = ClockGuard { now, max_age: None };
        let tick = parse_tick(event, (!self.simulation).then_some(guard))
            .map_err(|e| StepError::new(INVALID_INPUT, e.to_string()))?;
        let only = match tick.detail.get("instance") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
            Some(other) => {
                return Err(StepError::new(
                    INVALID_INPUT,
                    format!("field `detail.instance` must be a customer instance id, got {other}"),
                ))
            }
        };
        let workflow = self
            .drills
            .as_ref()
            .ok_or_else(|| StepError::new(INVALID_INPUT, "no drill state machine is configured"))?;
        let mut instances = BTreeSet::new();
        let mut failures = Vec::new();
        for service in &self.services {
            // One service's failure must not hold back the other's instances' drills.
            let found = match service.discover().await {
                Ok(found) => found,
                Err(e) => {
                    tracing::error!(error = %e, "drill starts: discovery failed");
                    failures.push(e);
                    continue;
                }
            };
            instances.extend(
                found
                    .iter()
                    .filter_map(|d| managed(d, &self.policies).ok().flatten())
                    .map(|m| m.instance_id),
            );
        }
        let due: Vec<String> = instances
            .into_iter()
            .filter(|i| match &only {
                Some(one) => i == one,
                None => drill_turn_at(i, tick.slot),
            })
            .collect();
        let mut drills = Vec::new();
        for instance in due {
            let name = execution_name(&instance, tick.slot);
            (workflow.start(&name, &json!({"instance_id": instance})).await)
                .map_err(|e| StepError::from_port("start_due", e))?;
            tracing::info!(instance = %instance, execution = %name, "drill started");
            drills.push(name);
        }
        if let Some(e) = failures.into_iter().next() {
            return Err(StepError::from_port("start_due", e));
        }
        Ok(Started {
            slot: tick.slot.to_string(),
            drills,
        })
    }
}

/// `drill-<instance>-<hour>` within Step Functions' 80 characters: a long id is cut and a
/// hash of it keeps names apart, and the hour is always there, so next week's drill is a new
/// execution.
fn execution_name(instance: &str, slot: lifeboat::schedule::Slot) -> String {
    let label = slot.label();
    // Two instances never share a name: an id unsafe here is made safe with its hash.
    let id = instance_key(instance);
    let room = 80 - "drill-".len() - 1 - label.len();
    let id = if id.len() <= room {
        id
    } else {
        let hash = lifeboat::rotation::fnv1a(&id);
        format!("{}{hash:016x}", &id[..room - 16])
    };
    format!("drill-{id}-{label}")
}
