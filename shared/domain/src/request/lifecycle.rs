//! A request's life: its states, who may do what to it, and the trail of every change.
//!
//! ```text
//! submitted ──approve──▶ approved ──(executor locks it)──▶ executing ──▶ completed | failed
//!     │ └──reject──▶ rejected          │
//!     └──cancel──▶ cancelled ◀─cancel──┘   (until the executor has locked it)
//! ```
//! Every change is a conditional write on the state it starts from, so two engineers
//! deciding at once, or a cancel racing the executor's lock, have exactly one winner.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decision::Decision;
use super::filing::Filing;
use super::options::RecoveryOption;
use super::principal::person_of;
use super::triage::Triage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    Approved,
    Rejected,
    Cancelled,
    Executing,
    Completed,
    Failed,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Submitted,
        Status::Approved,
        Status::Rejected,
        Status::Cancelled,
        Status::Executing,
        Status::Completed,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Cancelled => "cancelled",
            Status::Executing => "executing",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the request is over: its holds are released and nothing moves it again.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Rejected | Status::Cancelled | Status::Completed | Status::Failed
        )
    }
}

/// What a caller is, by deployment configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Support,
    Engineering,
}

/// What a caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    File,
    Read,
    Cancel,
    Decide,
    Confirm,
}

/// A caller: the IAM principal API Gateway authenticated, the person behind it (see
/// [`super::principal::person_of`]), and the roles configuration gives it (possibly both,
/// possibly none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: String,
    pub person: String,
    pub roles: Vec<Role>,
}

/// Why a caller may not do something.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Forbidden {
    #[error("{principal} is neither support nor engineering")]
    NoRole { principal: String },
    #[error("{principal} may not {action}: only {allowed} may")]
    WrongRole {
        principal: String,
        action: &'static str,
        allowed: &'static str,
    },
    #[error("{person} filed this request and may not {action} it, whatever role they call with")]
    OwnRequest { person: String, action: &'static str },
    #[error("{person} approved this restore and may not also confirm it: a second engineer confirms")]
    OwnApproval { person: String },
}

impl Caller {
    /// Support files, reads and cancels; engineering reads, decides, confirms and cancels;
    /// anyone else nothing. Whether this caller filed the request is checked by [`may_decide`].
    pub fn may(&self, action: Action) -> Result<(), Forbidden> {
        if self.roles.is_empty() {
            return Err(Forbidden::NoRole {
                principal: self.principal.clone(),
            });
        }
        let (name, allowed, roles): (&str, &str, &[Role]) = match action {
            Action::File => ("file requests", "support", &[Role::Support]),
            Action::Read => (
                "read requests",
                "support and engineering",
                &[Role::Support, Role::Engineering],
            ),
            Action::Cancel => (
                "cancel requests",
                "support and engineering",
                &[Role::Support, Role::Engineering],
            ),
            Action::Decide => ("decide requests", "engineering", &[Role::Engineering]),
            Action::Confirm => ("confirm restores", "engineering", &[Role::Engineering]),
        };
        if self.roles.iter().any(|r| roles.contains(r)) {
            Ok(())
        } else {
            Err(Forbidden::WrongRole {
                principal: self.principal.clone(),
                action: name,
                allowed,
            })
        }
    }

    /// Engineering may decide a request, but nobody one they filed themselves (under any role).
    pub fn may_decide(&self, request: &RestoreRequest) -> Result<(), Forbidden> {
        self.may(Action::Decide)?;
        self.not_the_filer(request, "decide")
    }

    /// Engineering may confirm a restore, but nobody one they filed or approved: the
    /// confirmation is a second engineer's look at staging before production is touched.
    pub fn may_confirm(&self, request: &RestoreRequest) -> Result<(), Forbidden> {
        self.may(Action::Confirm)?;
        self.not_the_filer(request, "confirm")?;
        if request
            .decision
            .as_ref()
            .is_some_and(|d| person_of(&d.by) == self.person)
        {
            return Err(Forbidden::OwnApproval {
                person: self.person.clone(),
            });
        }
        Ok(())
    }

    fn not_the_filer(&self, request: &RestoreRequest, action: &'static str) -> Result<(), Forbidden> {
        if person_of(&request.submitted_by) == self.person {
            return Err(Forbidden::OwnRequest {
                person: self.person.clone(),
                action,
            });
        }
        Ok(())
    }
}

/// One change of state: who, when, from what to what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Status>,
    pub to: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A restore request as stored and as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreRequest {
    pub id: String,
    pub status: Status,
    pub instance_id: String,
    pub description: String,
    pub occurred_at: DateTime<Utc>,
    pub affected: super::Affected,
    pub business_context: String,
    pub cause: super::Cause,
    pub submitted_by: String,
    pub submitted_at: DateTime<Utc>,
    pub triage: Triage,
    pub recovery_options: Vec<RecoveryOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The restore state machine's execution, once approval started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// Whether the restore waits for an engineer's confirmation (the token itself is never
    /// shown: whoever holds it can resume the state machine).
    #[serde(default)]
    pub awaiting_confirmation: bool,
    /// What the restore did, step by step, once the executor locked the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<crate::execution::run::Run>,
    pub history: Vec<AuditEntry>,
}

impl RestoreRequest {
    /// A new request, as filed.
    pub fn file(
        id: String,
        filing: Filing,
        caller: &Caller,
        now: DateTime<Utc>,
        triage: Triage,
        recovery_options: Vec<RecoveryOption>,
    ) -> RestoreRequest {
        RestoreRequest {
            id,
            status: Status::Submitted,
            instance_id: filing.instance_id,
            description: filing.description,
            occurred_at: filing.occurred_at,
            affected: filing.affected,
            business_context: filing.business_context,
            cause: filing.cause,
            submitted_by: caller.principal.clone(),
            submitted_at: now,
            triage,
            recovery_options,
            decision: None,
            execution: None,
            awaiting_confirmation: false,
            run: None,
            history: vec![AuditEntry {
                at: now,
                by: caller.principal.clone(),
                from: None,
                to: Status::Submitted,
                reason: None,
            }],
        }
    }
}

/// A change asked of a request in the wrong state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request {id} is {status}: it cannot be {wanted}")]
pub struct WrongState {
    pub id: String,
    pub status: &'static str,
    pub wanted: &'static str,
}

/// The states a change may start from.
pub fn allowed_from(to: Status) -> &'static [Status] {
    match to {
        Status::Approved | Status::Rejected => &[Status::Submitted],
        Status::Cancelled => &[Status::Submitted, Status::Approved],
        Status::Executing => &[Status::Approved],
        Status::Completed | Status::Failed => &[Status::Executing],
        Status::Submitted => &[],
    }
}

/// Checks that `request` may move to `to`.
pub fn check_transition(request: &RestoreRequest, to: Status) -> Result<(), WrongState> {
    if allowed_from(to).contains(&request.status) {
        Ok(())
    } else {
        Err(WrongState {
            id: request.id.clone(),
            status: request.status.as_str(),
            wanted: to.as_str(),
        })
    }
}
