//! The API's logic on in-memory ports: authorization, idempotency, decisions, holds.
//! (The same behaviours run end to end through the local stack in `tests/e2e/restore_intake/`.)

use std::ops::Deref;
use std::sync::Arc;

use chrono::TimeDelta;
use lifeboat::catalog::{PointState, RecoveryPoint, ResourceKey, ResourceKind};
use lifeboat::policy::{PolicyBook, Tier};
use lifeboat::ports::memory::world::{self, now, ENGINEER, ENGINEERING_ROLE, ENGINEER_2, SUPPORT};
use lifeboat::ports::{Catalog, PortError};
use lifeboat::ports::{RequestStore, RestoreWorkflow};
use lifeboat::request::lifecycle::AuditEntry;
use lifeboat::request::roles::Roles;
use lifeboat::schedule::{Slot, TierSet};
use lifeboat_function::status_events::Announcer;
use restore_intake::{ApiRequest, ApiResponse, Intake};
use serde_json::{json, Value};

const SUPPORT_2: &str = "arn:aws:iam::111122223333:user/sue-support";
const BOTH: &str = "arn:aws:iam::111122223333:user/bo-both";
const STRANGER: &str = "arn:aws:iam::111122223333:user/stranger";
/// Roles people assume: one person may hold several (their session name is the person).
const SUPPORT_ROLE: &str = "arn:aws:iam::111122223333:role/lifeboat-support";
const SUPPORT_ROLE_2: &str = "arn:aws:iam::111122223333:role/lifeboat-support-oncall";

fn session(role: &str, person: &str) -> String {
    let name = role.rsplit('/').next().unwrap();
    format!("arn:aws:sts::111122223333:assumed-role/{name}/{person}")
}

/// The shared in-memory world, and the intake wired to it (RDS only).
struct World {
    ports: world::World,
    intake: Intake,
}

impl Deref for World {
    type Target = world::World;
    fn deref(&self) -> &world::World {
        &self.ports
    }
}

/// Instance `acme`: RDS `db` with a 72-hour window, a weekly point a week ago.
fn world() -> World {
    let ports = world::World::new();
    ports.add_acme_resource(ResourceKind::RdsInstance, "db");
    let intake = Intake {
        requests: ports.requests.clone(),
        idempotency: ports.idempotency.clone(),
        catalog: ports.catalog.clone(),
        services: vec![ports.rds.clone()],
        workflow: ports.workflow.clone(),
        roles: Roles::from_lists(
            &format!("{SUPPORT},{SUPPORT_2},{BOTH},{SUPPORT_ROLE},{SUPPORT_ROLE_2}"),
            &format!("{ENGINEER},{ENGINEER_2},{BOTH},{ENGINEERING_ROLE}"),
        ),
        policies: PolicyBook::default(),
        execution_input: serde_json::Map::new(),
        events: Announcer::new(ports.events.clone(), "restore-intake"),
    };
    World { ports, intake }
}

async fn add_point(w: &World, slot: &str) -> Slot {
    let slot = Slot::containing(slot.parse().unwrap());
    w.catalog
        .claim(&RecoveryPoint {
            resource: ResourceKey::rds("db"),
            instance_id: "acme".into(),
            slot,
            tiers: TierSet(
                [(Tier::Weekly, now() + TimeDelta::days(20))]
                    .into_iter()
                    .collect(),
            ),
            service_id: Some("snap".into()),
            state: PointState::Available,
            holds: Default::default(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            note: None,
            updated_at: now(),
        })
        .await
        .unwrap();
    slot
}

async fn call(
    w: &World,
    who: &str,
    method: &str,
    path: &str,
    body: Value,
    key: Option<&str>,
) -> (u16, Value) {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let query = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| {
            let (k, v) = q.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let request = ApiRequest {
        method: method.into(),
        path: path.into(),
        query,
        idempotency_key: key.map(str::to_string),
        body: if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        },
        principal: Some(who.to_string()),
    };
    let ApiResponse { status, body, .. } = w.intake.handle(request, now()).await;
    (status, serde_json::from_str(&body).unwrap())
}

fn filing(occurred_at: &str) -> Value {
    json!({
        "instance_id": "acme",
        "description": "A CRM sync deleted 1,200 contacts.",
        "occurred_at": occurred_at,
        "affected": {"objects": ["contacts"], "estimated_records": 1200},
        "cause": "integration_mass_deletion"
    })
}

/// Instance acme's requests, as support lists them.
async fn acme_requests(w: &World) -> Value {
    let path = "/restore-requests?instance_id=acme";
    call(w, SUPPORT, "GET", path, Value::Null, None).await.1
}

async fn file(w: &World, occurred_at: &str) -> String {
    let (status, body) = call(w, SUPPORT, "POST", "/restore-requests", filing(occurred_at), None).await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

fn approve() -> Value {
    json!({"decision": "approve", "reason": "mass deletion by an integration", "mode": "rollback"})
}

#[tokio::test]
async fn filing_answers_triage_and_options_and_holds_snapshot_points() {
    let w = world();
    let (status, body) = call(
        &w,
        SUPPORT,
        "POST",
        "/restore-requests",
        filing("2026-11-28T09:00:00Z"),
        None,
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(body["status"], "submitted");
    assert_eq!(body["triage"]["verdict"], "likely_qualifies");
    assert_eq!(body["recovery_options"][0]["source"]["kind"], "point_in_time");
    assert_eq!(body["submitted_by"], SUPPORT);

    let slot = add_point(&w, "2026-11-21T23:00:00Z").await;
    let id = file(&w, "2026-11-24T08:00:00Z").await;
    let points = w.catalog.points_of(&ResourceKey::rds("db")).await.unwrap();
    let held = points.iter().find(|p| p.slot == slot).unwrap();
    assert!(held.holds.contains(&id), "{held:?}");
}

#[tokio::test]
async fn a_loss_older_than_a_year_is_unrecoverable_and_writes_nothing() {
    let w = world();
    let (status, body) = call(
        &w,
        SUPPORT,
        "POST",
        "/restore-requests",
        filing("2025-11-01T00:00:00Z"),
        None,
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "occurred_at");
    let list = acme_requests(&w).await;
    assert_eq!(list["restore_requests"], json!([]));
}

#[tokio::test]
async fn roles_decide_who_may_do_what() {
    let w = world();
    let id = file(&w, "2026-11-28T09:00:00Z").await;
    let get = format!("/restore-requests/{id}");
    let decide = format!("/restore-requests/{id}/decision");
    assert_eq!(call(&w, STRANGER, "GET", &get, Value::Null, None).await.0, 403);
    assert_eq!(
        call(
            &w,
            STRANGER,
            "POST",
            "/restore-requests",
            filing("2026-11-28T09:00:00Z"),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(
        call(
            &w,
            ENGINEER,
            "POST",
            "/restore-requests",
            filing("2026-11-28T09:00:00Z"),
            None
        )
        .await
        .0,
        403
    );
    assert_eq!(call(&w, SUPPORT_2, "POST", &decide, approve(), None).await.0, 403);
    assert_eq!(call(&w, ENGINEER, "GET", &get, Value::Null, None).await.0, 200);

    // Someone with both roles may file, but not decide what they filed.
    let (_, own) = call(
        &w,
        BOTH,
        "POST",
        "/restore-requests",
        filing("2026-11-28T09:00:00Z"),
        None,
    )
    .await;
    let own_decide = format!("/restore-requests/{}/decision", own["id"].as_str().unwrap());
    let (status, body) = call(&w, BOTH, "POST", &own_decide, approve(), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("filed this request"));
}

/// Makes the request wait for confirmation, as the executor leaves it.
async fn awaiting_confirmation(w: &World, id: &str) {
    let mut waiting = w.intake.requests.get(id).await.unwrap().unwrap();
    waiting.task_token = Some("token-1".into());
    waiting.request.awaiting_confirmation = true;
    w.intake
        .requests
        .replace(&waiting, waiting.version)
        .await
        .unwrap();
}

/// Separation of duties is between people: robin, who can assume both the support and the
/// engineering role, files and may then neither decide nor confirm; erin approves and may
/// not also confirm; a second engineer confirms.
#[tokio::test]
async fn a_person_neither_decides_what_they_filed_nor_confirms_what_they_approved_whatever_the_role() {
    let w = world();
    let robin_support = session(SUPPORT_ROLE, "robin");
    let robin_engineering = session(ENGINEERING_ROLE, "Robin");
    let (status, filed) = call(
        &w,
        &robin_support,
        "POST",
        "/restore-requests",
        filing("2026-11-28T09:00:00Z"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_string();
    let decide = format!("/restore-requests/{id}/decision");
    let confirm = format!("/restore-requests/{id}/confirm");
    let (status, body) = call(&w, &robin_engineering, "POST", &decide, approve(), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("filed this request"),
        "{body}"
    );

    let erin = session(ENGINEERING_ROLE, "erin");
    let (status, body) = call(&w, &erin, "POST", &decide, approve(), None).await;
    assert_eq!(status, 200, "{body}");
    awaiting_confirmation(&w, &id).await;
    for (who, why) in [
        (&erin, "approved this restore"),
        (&robin_engineering, "filed this request"),
    ] {
        let (status, body) = call(&w, who, "POST", &confirm, Value::Null, None).await;
        assert_eq!(status, 403, "{who}: {body}");
        assert!(body["detail"].as_str().unwrap().contains(why), "{body}");
    }
    assert_eq!(
        w.intake
            .requests
            .get(&id)
            .await
            .unwrap()
            .unwrap()
            .task_token
            .as_deref(),
        Some("token-1"),
        "no refused confirmation sent the token"
    );
    let eli = session(ENGINEERING_ROLE, "eli");
    let (status, body) = call(&w, &eli, "POST", &confirm, Value::Null, None).await;
    assert_eq!(status, 200, "{body}");
}

/// An `Idempotency-Key` belongs to the person: a retry from a new session (here under
/// another support role, after the first one's credentials expired) gets the first answer.
#[tokio::test]
async fn a_retry_from_a_refreshed_session_of_the_same_person_files_once() {
    let w = world();
    let first = session(SUPPORT_ROLE, "robin");
    let refreshed = session(SUPPORT_ROLE_2, "robin");
    let body = filing("2026-11-28T09:00:00Z");
    let (status, filed) = call(
        &w,
        &first,
        "POST",
        "/restore-requests",
        body.clone(),
        Some("ticket-4711"),
    )
    .await;
    assert_eq!(status, 201, "{filed}");
    let again = call(
        &w,
        &refreshed,
        "POST",
        "/restore-requests",
        body.clone(),
        Some("ticket-4711"),
    )
    .await;
    assert_eq!(again, (201, filed));
    let list = acme_requests(&w).await;
    assert_eq!(list["restore_requests"].as_array().unwrap().len(), 1);
    // Another person's same key is theirs alone.
    let other = session(SUPPORT_ROLE, "sue");
    let (status, _) = call(&w, &other, "POST", "/restore-requests", body, Some("ticket-4711")).await;
    assert_eq!(status, 201);
}

/// Writes another engineer's approval of the same request just before the first write it
/// sees: that write then loses the race.
struct CompetingApproval {
    inner: Arc<dyn RequestStore>,
    done: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl RequestStore for CompetingApproval {
    async fn create(&self, request: &lifeboat::ports::StoredRequest) -> Result<(), PortError> {
        self.inner.create(request).await
    }

    async fn get(&self, id: &str) -> Result<Option<lifeboat::ports::StoredRequest>, PortError> {
        self.inner.get(id).await
    }

    async fn list(
        &self,
        instance_id: &str,
        status: Option<lifeboat::request::lifecycle::Status>,
    ) -> Result<Vec<lifeboat::request::lifecycle::RestoreRequest>, PortError> {
        self.inner.list(instance_id, status).await
    }

    async fn replace(
        &self,
        request: &lifeboat::ports::StoredRequest,
        expected_version: u64,
    ) -> Result<(), PortError> {
        if !self.done.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let mut winner = request.clone();
            if let Some(d) = winner.request.decision.as_mut() {
                d.by = ENGINEER_2.into();
            }
            self.inner.replace(&winner, expected_version).await?;
        }
        self.inner.replace(request, expected_version).await
    }
}

/// Two engineers approve the same point at once: the loser's clean-up must not release the
/// hold the winner's approval placed under the same request id.
#[tokio::test]
async fn the_losing_one_of_two_concurrent_approvals_keeps_the_holds_the_winner_needs() {
    let w = world();
    let slot = add_point(&w, "2026-11-21T23:00:00Z").await;
    let id = file(&w, "2026-11-28T09:00:00Z").await;
    let requests: Arc<dyn RequestStore> = Arc::new(CompetingApproval {
        inner: w.intake.requests.clone(),
        done: false.into(),
    });
    let w = World {
        intake: Intake { requests, ..w.intake },
        ..w
    };
    let weekly = json!({"decision": "approve", "reason": "the weekly point is before the loss",
        "mode": "rollback", "recovery_points": [{"resource": "rds:db", "kind": "snapshot", "slot": slot.start()}]});
    let (status, body) = call(
        &w,
        ENGINEER,
        "POST",
        &format!("/restore-requests/{id}/decision"),
        weekly,
        None,
    )
    .await;
    assert_eq!(status, 409, "the other engineer won: {body}");
    let stored = w.intake.requests.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.request.decision.unwrap().by, ENGINEER_2);
    let point = w
        .catalog
        .get_points(&[(ResourceKey::rds("db"), slot)])
        .await
        .unwrap()
        .remove(0);
    assert!(
        point.holds.contains(&id),
        "the winner's point is still held: {:?}",
        point.holds
    );
}

#[tokio::test]
async fn approval_starts_one_execution_named_after_the_request() {
    let w = world();
    let id = file(&w, "2026-11-28T09:00:00Z").await;
    let decide = format!("/restore-requests/{id}/decision");
    let (status, body) = call(&w, ENGINEER, "POST", &decide, approve(), Some("k1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    assert_eq!(body["execution"], format!("execution:{id}"));
    // The same call retried gets the same answer; another engineer deciding again gets 409.
    assert_eq!(
        call(&w, ENGINEER, "POST", &decide, approve(), Some("k1")).await,
        (200, body)
    );
    let (status, body) = call(&w, ENGINEER_2, "POST", &decide, approve(), None).await;
    assert_eq!(status, 409, "{body}");
    let executions = w.workflow.executions.lock().unwrap().clone();
    assert_eq!(executions.keys().collect::<Vec<_>>(), vec![&id]);
    assert_eq!(executions[&id], json!({"request_id": id}));
}

#[tokio::test]
async fn an_idempotency_key_reused_with_another_body_is_a_conflict() {
    let w = world();
    let (first, body) = call(
        &w,
        SUPPORT,
        "POST",
        "/restore-requests",
        filing("2026-11-28T09:00:00Z"),
        Some("abc"),
    )
    .await;
    assert_eq!(first, 201);
    let again = call(
        &w,
        SUPPORT,
        "POST",
        "/restore-requests",
        filing("2026-11-28T09:00:00Z"),
        Some("abc"),
    )
    .await;
    assert_eq!(again, (201, body.clone()));
    let (status, problem) = call(
        &w,
        SUPPORT,
        "POST",
        "/restore-requests",
        filing("2026-11-28T08:00:00Z"),
        Some("abc"),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    let list = acme_requests(&w).await;
    assert_eq!(list["restore_requests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn rejection_and_cancellation_release_holds_and_are_final() {
    let w = world();
    let slot = add_point(&w, "2026-11-21T23:00:00Z").await;
    let rejected = file(&w, "2026-11-24T08:00:00Z").await;
    let cancelled = file(&w, "2026-11-24T08:00:00Z").await;
    let reject = json!({"decision": "reject", "reason": "restored through the product's recycle bin"});
    let (status, body) = call(
        &w,
        ENGINEER,
        "POST",
        &format!("/restore-requests/{rejected}/decision"),
        reject,
        None,
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));
    let (status, body) = call(
        &w,
        SUPPORT,
        "POST",
        &format!("/restore-requests/{cancelled}/cancel"),
        Value::Null,
        None,
    )
    .await;
    assert_eq!((status, body["status"].as_str()), (200, Some("cancelled")));
    let points = w.catalog.points_of(&ResourceKey::rds("db")).await.unwrap();
    assert!(points.iter().find(|p| p.slot == slot).unwrap().holds.is_empty());
    let (status, _) = call(
        &w,
        SUPPORT,
        "POST",
        &format!("/restore-requests/{rejected}/cancel"),
        Value::Null,
        None,
    )
    .await;
    assert_eq!(status, 409);
    let history = &body["history"];
    assert_eq!(history[1]["from"], "submitted");
    assert_eq!(history[1]["to"], "cancelled");
    assert_eq!(history[1]["by"], SUPPORT);
}

#[tokio::test]
async fn confirm_is_a_conflict_until_a_restore_waits() {
    let w = world();
    let id = file(&w, "2026-11-28T09:00:00Z").await;
    let (status, body) = call(
        &w,
        ENGINEER,
        "POST",
        &format!("/restore-requests/{id}/confirm"),
        Value::Null,
        None,
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let w = world();
    let cases = [
        (json!({"instance_id": "acme"}), "description"),
        (json!({"nonsense": true}), "instance_id"),
    ];
    for (body, field) in cases {
        let (status, problem) = call(&w, SUPPORT, "POST", "/restore-requests", body, None).await;
        assert_eq!(status, 400);
        assert!(
            problem["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{problem}"
        );
    }
    let (status, problem) = call(
        &w,
        SUPPORT,
        "GET",
        "/restore-requests?status=lost",
        Value::Null,
        None,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(problem["type"], "urn:lifeboat:problem:invalid-input");
    assert_eq!(
        call(&w, SUPPORT, "GET", "/restore-requests/rr-nope", Value::Null, None)
            .await
            .0,
        404
    );
    assert_eq!(
        call(&w, SUPPORT, "DELETE", "/restore-requests", Value::Null, None)
            .await
            .0,
        405
    );
    let list = acme_requests(&w).await;
    assert_eq!(list["restore_requests"], json!([]));
}

/// Stands for the state machine resuming the moment the token is answered: the executor's
/// swap step writes the request (clearing the token) before the intake records anything.
struct ExecutorRacing {
    requests: Arc<dyn RequestStore>,
    id: String,
}

#[async_trait::async_trait]
impl RestoreWorkflow for ExecutorRacing {
    async fn start(&self, name: &str, _input: &Value) -> Result<String, PortError> {
        Ok(name.to_string())
    }

    async fn confirm(&self, _token: &str, _output: &Value) -> Result<(), PortError> {
        let stored = self.requests.get(&self.id).await?.expect("the request exists");
        let mut next = stored.clone();
        next.task_token = None;
        next.request.awaiting_confirmation = false;
        next.request.history.push(AuditEntry {
            at: now(),
            by: "restore-executor".into(),
            from: Some(stored.request.status),
            to: stored.request.status,
            reason: Some("swapping".into()),
        });
        self.requests.replace(&next, stored.version).await
    }
}

#[tokio::test]
async fn a_confirmation_racing_the_executor_is_still_recorded() {
    let w = world();
    let id = file(&w, "2026-11-28T09:00:00Z").await;
    // A restore waiting on its token, as the executor leaves the request.
    let mut waiting = w.intake.requests.get(&id).await.unwrap().unwrap();
    waiting.task_token = Some("token-1".into());
    waiting.request.awaiting_confirmation = true;
    w.intake
        .requests
        .replace(&waiting, waiting.version)
        .await
        .unwrap();
    let racing = Arc::new(ExecutorRacing {
        requests: w.intake.requests.clone(),
        id: id.clone(),
    });
    let w = World {
        intake: Intake {
            workflow: racing,
            ..w.intake
        },
        ..w
    };
    let (status, body) = call(
        &w,
        ENGINEER,
        "POST",
        &format!("/restore-requests/{id}/confirm"),
        json!({"reason": "staging checked"}),
        None,
    )
    .await;
    assert_eq!(status, 200, "the confirmation was sent, so it succeeded: {body}");
    let after = w.intake.requests.get(&id).await.unwrap().unwrap();
    assert_eq!(after.task_token, None);
    let by: Vec<(&str, Option<&str>)> = after
        .request
        .history
        .iter()
        .map(|e| (e.by.as_str(), e.reason.as_deref()))
        .collect();
    assert!(by.contains(&("restore-executor", Some("swapping"))), "{by:?}");
    assert!(by.contains(&(ENGINEER, Some("staging checked"))), "{by:?}");
}

/// Filing finds the instance's resources by a query scoped to its tag, never by listing the
/// fleet: a thousand other customers' resources change nothing in what it asks.
#[tokio::test]
async fn filing_reads_the_instance_not_the_fleet() {
    let w = world();
    for i in 0..1000 {
        w.rds.add_resource(
            &format!("other-{i}"),
            &[(lifeboat::inventory::TAG_INSTANCE, &format!("customer-{i}"))],
            world::PITR_3_DAYS,
        );
    }
    let (status, body) = call(
        &w,
        SUPPORT,
        "POST",
        "/restore-requests",
        filing("2026-11-28T09:00:00Z"),
        None,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["recovery_options"][0]["source"]["kind"], "point_in_time",
        "{body}"
    );
    let calls = w.rds.calls();
    assert!(calls.contains(&"discover_instance acme".to_string()), "{calls:?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("discover *")),
        "the fleet was listed: {calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.contains("other-")),
        "another customer's resource was asked about: {calls:?}"
    );
}

/// Filing, deciding and cancelling are announced once written, each with its request's
/// stable id; a bus that fails changes no answer and is counted.
#[tokio::test]
async fn changes_are_announced_once_written_and_a_failing_bus_changes_no_answer() {
    use lifeboat::status_event::DetailType;
    let w = world();
    let approved = file(&w, "2026-11-28T09:00:00Z").await;
    let decide = format!("/restore-requests/{approved}/decision");
    assert_eq!(call(&w, ENGINEER, "POST", &decide, approve(), None).await.0, 200);
    let cancelled = file(&w, "2026-11-28T09:30:00Z").await;
    let cancel = format!("/restore-requests/{cancelled}/cancel");
    assert_eq!(call(&w, SUPPORT, "POST", &cancel, Value::Null, None).await.0, 200);
    // Refused, nothing written; the cancellation announced again with its own id, as a
    // retry of a cancel that died before announcing needs (consumers de-duplicate).
    let before = w.requests.get(&cancelled).await.unwrap();
    assert_eq!(call(&w, SUPPORT, "POST", &cancel, Value::Null, None).await.0, 409);
    assert_eq!(w.requests.get(&cancelled).await.unwrap(), before);
    let published: Vec<(DetailType, String)> = w
        .events
        .published()
        .iter()
        .map(|e| (e.detail_type, e.event_id().to_string()))
        .collect();
    assert_eq!(
        published,
        [
            (DetailType::RequestFiled, format!("{approved}:filed")),
            (DetailType::RequestDecided, format!("{approved}:decided")),
            (DetailType::RequestFiled, format!("{cancelled}:filed")),
            (DetailType::RequestCancelled, format!("{cancelled}:cancelled")),
            (DetailType::RequestCancelled, format!("{cancelled}:cancelled")),
        ]
    );
    assert!(
        w.workflow.executions.lock().unwrap().contains_key(&approved),
        "the decision is announced, then the restore starts"
    );

    w.events.fail(true);
    let id = file(&w, "2026-11-28T10:00:00Z").await;
    let reject = json!({"decision": "reject", "reason": "re-creatable by the customer"});
    let decide = format!("/restore-requests/{id}/decision");
    let (status, body) = call(&w, ENGINEER, "POST", &decide, reject, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));
    assert_eq!(w.intake.events.failed(), 2);
    assert_eq!(
        w.events.published().len(),
        5,
        "the failing bus published nothing more"
    );
}
