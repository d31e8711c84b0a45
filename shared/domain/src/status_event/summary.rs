//! The customer-safe sentence of each event: what an account manager can forward as it is.
//!
//! A summary is built only from [`Facts`], which hold nothing a customer must not read: the
//! instance (the customer's own name for what Lifeboat protects), statuses, times, the
//! restore's mode and a Lifeboat error name. The request's description, affected records,
//! business context, reasons, the people involved and every resource identifier (databases,
//! tables, snapshots, staging) stay out because they never reach this module.

use chrono::{DateTime, Utc};

use super::DetailType;
use crate::request::decision::Mode;
use crate::request::lifecycle::Status;

/// What a summary may say.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub instance: &'a str,
    pub status: Status,
    pub mode: Option<Mode>,
    /// When the change happened.
    pub at: DateTime<Utc>,
    /// The earliest moment the restore brings data back from.
    pub restores_to: Option<DateTime<Utc>>,
    /// What a rollback discards (from, to).
    pub data_loss: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// A Lifeboat error name.
    pub error: Option<&'a str>,
}

/// A time as people read it in a message.
fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The sentence of a `Restore …` event.
pub fn restore(detail_type: DetailType, f: &Facts) -> String {
    let instance = f.instance;
    let point = f.restores_to.map(when);
    let point = point.as_deref().unwrap_or("the chosen recovery point");
    match detail_type {
        // Triage's verdict stays out: it advises the engineer, who has not decided yet.
        DetailType::RequestFiled => format!(
            "A restore request for instance {instance} was filed at {}; an engineer will review it.",
            when(f.at)
        ),
        DetailType::RequestDecided => match (f.status, f.mode) {
            (Status::Approved, Some(Mode::Selective)) => format!(
                "The restore request for instance {instance} was approved: the affected records will be restored as they were at {point}, without changing anything written since."
            ),
            (Status::Approved, _) => format!(
                "The restore request for instance {instance} was approved: a rollback to {point}. Data written after that point, until the rollback, will not be in the restored instance."
            ),
            _ => format!(
                "The restore request for instance {instance} was not approved; nothing will be restored."
            ),
        },
        DetailType::RequestCancelled => format!(
            "The restore request for instance {instance} was withdrawn; nothing was restored."
        ),
        DetailType::StagingReady => format!(
            "The data of instance {instance} as it was at {point} has been restored into a separate copy; production has not been changed."
        ),
        DetailType::AwaitingConfirmation => match f.mode {
            Some(Mode::Selective) => format!(
                "The records to restore for instance {instance} are ready and wait for an engineer's confirmation before they are added back."
            ),
            _ => format!(
                "The restored copy of instance {instance} is ready and waits for an engineer's confirmation before production is changed."
            ),
        },
        DetailType::Completed => match (f.mode, f.data_loss) {
            (Some(Mode::Selective), _) => format!(
                "The affected records of instance {instance} were restored as they were at {point}; nothing written since was changed."
            ),
            (_, Some((from, to))) => format!(
                "Instance {instance} was rolled back to {}; data written between {} and {} is not in the restored instance.",
                when(from),
                when(from),
                when(to)
            ),
            _ => format!("The restore of instance {instance} completed."),
        },
        DetailType::Failed => {
            let error = f
                .error
                .filter(|e| is_lifeboat_error(e))
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let kept = match f.data_loss {
                Some((from, _)) => format!(
                    " Part of the instance had already been rolled back to {} and stays so.",
                    when(from)
                ),
                None => String::new(),
            };
            format!(
                "The restore of instance {instance} did not complete{error}.{kept} Lifeboat's engineers have the details and will follow up."
            )
        }
        DetailType::Progress => progress(f),
        DetailType::DrillCompleted | DetailType::AuditFinding => {
            unreachable!("{detail_type:?} is not a restore request's event")
        }
    }
}

/// The sentence of a `Restore Progress` event (the figures are in the event's `progress`).
pub fn progress(f: &Facts) -> String {
    format!("The restore of instance {} is in progress.", f.instance)
}

/// Only Lifeboat's own error names, a fixed vocabulary, go into a summary: a console
/// `SendTaskFailure` may name an error anything an engineer typed.
fn is_lifeboat_error(name: &str) -> bool {
    name.strip_prefix("Lifeboat.")
        .is_some_and(|rest| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(error: Option<&str>) -> Facts<'_> {
        Facts {
            instance: "acme",
            status: Status::Failed,
            mode: Some(Mode::Rollback),
            at: "2026-11-28T12:00:00Z".parse().unwrap(),
            restores_to: None,
            data_loss: None,
            error,
        }
    }

    #[test]
    fn a_failure_names_lifeboat_errors_only() {
        let named = restore(DetailType::Failed, &facts(Some("Lifeboat.NotRestorable")));
        assert!(named.contains("(Lifeboat.NotRestorable)"), "{named}");
        let typed = restore(
            DetailType::Failed,
            &facts(Some("Lifeboat.Declined: db acme-prod is wrong")),
        );
        assert!(!typed.contains("acme-prod"), "{typed}");
        let other = restore(DetailType::Failed, &facts(Some("Declined")));
        assert!(!other.contains("Declined"), "{other}");
    }

    #[test]
    fn times_read_as_minutes_in_utc() {
        assert_eq!(
            when("2026-11-28T09:05:42Z".parse().unwrap()),
            "2026-11-28 09:05 UTC"
        );
    }
}
