//! The check step reads only its own drill's sandboxes: the plan comes back in the task
//! event, and an item forged to name production (or another drill's sandbox) is refused
//! before anything is inspected or kept; a sandbox put under its name after `ready` proved
//! the drill's own is not inspected.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::drill::checks::{CheckResult, DrillSpec};
use lifeboat::drill::plan::sandbox_name;
use lifeboat::drill::records::run_key;
use lifeboat::execution::error::INVALID_INPUT;
use lifeboat::inventory::TAG_INSTANCE;
use lifeboat::policy::PolicyBook;
use lifeboat::ports::memory::restorer::MemoryRestorer;
use lifeboat::ports::memory::world::{self, at, PITR_3_DAYS};
use lifeboat::ports::{PortError, SandboxInspector};
use lifeboat::schedule::{Slot, TierSet};
use lifeboat_function::status_events::Announcer;
use restore_drill::{DrillPlan, Driller};
use serde_json::{json, Value};

/// What the check step asked to inspect: (production, sandbox).
#[derive(Default)]
struct Recording {
    seen: Mutex<Vec<(String, String)>>,
}

#[async_trait::async_trait]
impl SandboxInspector for Recording {
    fn kind(&self) -> ResourceKind {
        ResourceKind::RdsInstance
    }

    async fn inspect(
        &self,
        production: &ResourceKey,
        sandbox: &str,
        _spec: &DrillSpec,
    ) -> Result<Vec<CheckResult>, PortError> {
        self.seen
            .lock()
            .unwrap()
            .push((production.name.clone(), sandbox.to_string()));
        Ok(vec![CheckResult {
            name: "read".into(),
            passed: true,
            detail: format!("{sandbox} read"),
        }])
    }
}

fn now() -> DateTime<Utc> {
    at("2026-12-03T06:10:00Z")
}

struct World {
    ports: world::World,
    restorer: Arc<MemoryRestorer>,
    inspector: Arc<Recording>,
    driller: Driller,
}

fn world() -> World {
    let ports = world::World::new();
    let restorer = Arc::new(MemoryRestorer::new(ResourceKind::RdsInstance));
    let inspector = Arc::new(Recording::default());
    let key = ports
        .rds
        .add_resource("acme-db", &[(TAG_INSTANCE, "acme")], PITR_3_DAYS);
    let slot = Slot::containing(at("2026-12-03T04:00:00Z"));
    restorer.add_production("acme-db", "live");
    restorer.add_snapshot(&key, &key.point_name(slot), "data of the point");
    ports.catalog.insert(RecoveryPoint {
        resource: key.clone(),
        instance_id: "acme".into(),
        slot,
        tiers: TierSet::default(),
        service_id: Some(key.point_name(slot)),
        state: PointState::Available,
        holds: Default::default(),
        policy: "standard".into(),
        timezone: "UTC".into(),
        note: None,
        updated_at: slot.start(),
    });
    let driller = Driller {
        catalog: ports.catalog.clone(),
        services: ports.services(),
        restorers: vec![restorer.clone()],
        inspectors: vec![inspector.clone()],
        reports: ports.reports.clone(),
        policies: PolicyBook::default(),
        drills: None,
        runs: None,
        simulation: true,
        events: Announcer::new(ports.events.clone(), "restore-drill"),
    };
    World {
        ports,
        restorer,
        inspector,
        driller,
    }
}

impl World {
    async fn plan(&self) -> DrillPlan {
        let plan = (self.driller)
            .handle(json!({"step": "plan", "input": {"instance_id": "acme"}}), now())
            .await
            .unwrap();
        serde_json::from_value(plan).unwrap()
    }

    /// Each sandbox of `plan` restored and proven ready by the real steps: their answers.
    async fn restored(&self, plan: &DrillPlan) -> Vec<Value> {
        let mut restored = Vec::new();
        for item in &plan.resources {
            let item = serde_json::to_value(item).unwrap();
            let step = |name: &str| json!({"step": name, "item": item});
            self.driller.handle(step("start"), now()).await.unwrap();
            let ready = self.driller.handle(step("ready"), now()).await.unwrap();
            assert_eq!(ready["ready"], true, "{ready}");
            restored.push(json!({ "ready": ready }));
        }
        restored
    }

    async fn check(
        &self,
        plan: &DrillPlan,
        restored: &[Value],
    ) -> Result<Value, lifeboat::execution::error::StepError> {
        let restored: Vec<Value> = (0..plan.resources.len())
            .map(|i| restored[i.min(restored.len() - 1)].clone())
            .collect();
        (self.driller)
            .handle(
                json!({"step": "check", "plan": plan, "restored": restored}),
                now(),
            )
            .await
    }

    fn checks_kept(&self, plan: &DrillPlan) -> bool {
        self.ports
            .reports
            .get(&run_key(&plan.drill_id, "checks"))
            .is_some()
    }
}

#[tokio::test]
async fn a_forged_plan_item_is_refused_before_anything_is_inspected_or_kept() {
    let w = world();
    let plan = w.plan().await;
    let restored = w.restored(&plan).await;
    let genuine = plan.resources[0].clone();

    let mut production = plan.clone();
    production.resources[0].sandbox = "acme-db".into();
    let mut other_drill = plan.clone();
    other_drill.resources[0].drill_id = "drill-globex-20261203t0600z".into();
    other_drill.resources[0].sandbox = sandbox_name("drill-globex-20261203t0600z", &genuine.resource);
    let mut second_forged = plan.clone();
    let mut forged = genuine.clone();
    forged.sandbox = "acme-db".into();
    second_forged.resources.push(forged);

    for (what, forged) in [
        ("production as the sandbox", production),
        ("another drill's sandbox", other_drill),
        ("a forged item after a genuine one", second_forged),
    ] {
        let e = w.check(&forged, &restored).await.unwrap_err();
        assert_eq!(e.name, INVALID_INPUT, "{what}: {e}");
        assert!(e.message.contains("refused"), "{what}: {e}");
        assert!(
            w.inspector.seen.lock().unwrap().is_empty(),
            "{what}: nothing inspected"
        );
        assert!(!w.checks_kept(&forged), "{what}: nothing kept");
    }

    // The genuine plan is inspected: its sandbox against production.
    let kept = w.check(&plan, &restored).await.unwrap();
    assert_eq!(kept["checks"], 1, "{kept}");
    assert_eq!(
        *w.inspector.seen.lock().unwrap(),
        [("acme-db".to_string(), genuine.sandbox.clone())]
    );
    assert!(w.checks_kept(&plan));
}

/// Someone replaces the sandbox after `ready` proved it the drill's (with its marks copied):
/// the check inspects nothing of it and reports why, so a look-alike cannot make a drill pass.
#[tokio::test]
async fn a_sandbox_replaced_after_ready_is_not_inspected() {
    let w = world();
    let plan = w.plan().await;
    let restored = w.restored(&plan).await;
    let sandbox = plan.resources[0].sandbox.clone();
    let marks = w.restorer.resource(&sandbox).unwrap().marks;
    let marks: Vec<(&str, &str)> = marks.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    w.restorer.replace(&sandbox, "production's very data", &marks);

    let kept = w.check(&plan, &restored).await.unwrap();
    assert!(w.inspector.seen.lock().unwrap().is_empty(), "nothing inspected");
    let checks = w
        .ports
        .reports
        .get(&run_key(&plan.drill_id, "checks"))
        .expect("kept");
    let checks = String::from_utf8_lossy(&checks).to_string();
    assert!(
        checks.contains("not the one restored and proven ready")
            && checks.contains("replaced under the name"),
        "{kept} {checks}"
    );
}
