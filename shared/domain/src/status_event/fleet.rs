//! The events of the work Lifeboat does for the whole fleet: a restore drill that ended
//! (`Drill Completed`) and a finding of the daily audit (`Audit Finding`). Their functions
//! build them from their reports with [`drill_completed`] and [`audit_finding`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::{event_id, Detail, DetailType, StatusEvent};
use crate::audit::finding::{Finding, FindingKind};
use crate::drill::report::DrillReport;
use crate::rotation::fnv1a;

/// The detail of `Drill Completed` (`infra/events/drill-completed.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillDetail {
    /// `<drill>:drill-completed`: one per drill.
    pub event_id: String,
    pub drill_id: String,
    pub instance_id: String,
    pub passed: bool,
    /// The slowest resource's restore, in seconds (the instance's recovery time), when
    /// every resource restored.
    pub restore_seconds: Option<i64>,
    pub at: DateTime<Utc>,
    /// Customer-safe: the instance, the outcome and the time it took.
    pub summary: String,
}

/// The detail of `Audit Finding` (`infra/events/audit-finding.schema.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditFindingDetail {
    /// `audit-<date>:audit-finding:<hash of kind and subject>`: one per finding per day.
    pub event_id: String,
    /// The audit's day (UTC), `YYYY-MM-DD`.
    pub audit_date: String,
    /// The instance the finding is about; none for the account's own (a bucket's exposure).
    pub instance_id: Option<String>,
    /// What is wrong: `missing_points`, `window_short`, `exposed`, ...
    pub finding: String,
    pub at: DateTime<Utc>,
    /// Customer-safe: the instance and the kind of finding, never the resource.
    pub summary: String,
}

/// The event of a drill that ended.
pub fn drill_completed(report: &DrillReport) -> StatusEvent {
    let passed = report.succeeded();
    let restore_seconds = report.restore_seconds();
    let instance = &report.instance_id;
    let summary = match (passed, restore_seconds) {
        (true, Some(s)) => format!(
            "A restore drill of instance {instance} passed: its data was restored and checked in {} minutes.",
            (s + 59) / 60
        ),
        (true, None) => format!("A restore drill of instance {instance} passed."),
        (false, _) => format!(
            "A restore drill of instance {instance} did not pass; Lifeboat's engineers are looking into it."
        ),
    };
    StatusEvent {
        detail_type: DetailType::DrillCompleted,
        detail: Detail::Drill(DrillDetail {
            event_id: event_id(&report.drill_id, DetailType::DrillCompleted, None),
            drill_id: report.drill_id.clone(),
            instance_id: instance.clone(),
            passed,
            restore_seconds,
            at: report.finished_at,
            summary,
        }),
    }
}

/// The event of one finding of the audit of `day`, about `instance` (if it is an
/// instance's), generated at `at`.
pub fn audit_finding(
    day: NaiveDate,
    instance: Option<&str>,
    finding: &Finding,
    at: DateTime<Utc>,
) -> StatusEvent {
    let kind = kind_name(finding.kind);
    let audit = format!("audit-{day}");
    // The subject names a resource: hashed into the id, never shown.
    let occurrence = fnv1a(&format!("{kind}/{}", finding.subject));
    let about = instance
        .map(|i| format!("instance {i}"))
        .unwrap_or_else(|| "the backup account".to_string());
    StatusEvent {
        detail_type: DetailType::AuditFinding,
        detail: Detail::Audit(AuditFindingDetail {
            event_id: event_id(&audit, DetailType::AuditFinding, Some(occurrence)),
            audit_date: day.to_string(),
            instance_id: instance.map(str::to_string),
            finding: kind.to_string(),
            at,
            summary: format!(
                "The daily backup audit of {day} found a problem with {about}: {}. Lifeboat's engineers are looking into it.",
                plain_words(finding.kind)
            ),
        }),
    }
}

fn kind_name(kind: FindingKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{kind:?}"))
}

fn plain_words(kind: FindingKind) -> &'static str {
    match kind {
        // Whether revoking succeeded is the report's to say: never a reassurance here.
        FindingKind::Exposed => "a backup was found shared outside the company's account",
        FindingKind::MissingPoints => "some promised recovery points are missing",
        FindingKind::NoPoints => "a part of the instance has no backups yet",
        FindingKind::WindowShort => "the continuous backup window is shorter than promised",
        FindingKind::CatalogOnly | FindingKind::ServiceOnly => {
            "the record of recovery points disagrees with the backups held"
        }
        FindingKind::NotAvailable => "a recovery point is not available yet",
        FindingKind::Unmanaged => "backups are held for something no longer protected",
        FindingKind::BadTags => "a part of the instance is not configured correctly",
        FindingKind::DrillOverdue => "no recent successful restore drill",
        FindingKind::NotChecked => "part of the audit could not be completed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finding_is_one_event_a_day_whose_summary_hides_the_resource() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        let at: DateTime<Utc> = "2026-11-28T04:00:00Z".parse().unwrap();
        let finding = Finding::new(
            FindingKind::MissingPoints,
            "rds:acme-db".into(),
            "2 hourly points missing".into(),
        );
        let first = audit_finding(day, Some("acme"), &finding, at);
        let again = audit_finding(day, Some("acme"), &finding, at);
        assert_eq!(first, again);
        assert!(first.event_id().starts_with("audit-2026-11-28:audit-finding:"));
        assert!(!first.summary().contains("acme-db"), "{}", first.summary());
        let Detail::Audit(detail) = &first.detail else {
            panic!("an audit detail")
        };
        assert_eq!(detail.finding, "missing_points");
        let other = Finding::new(
            FindingKind::MissingPoints,
            "dynamodb:orders".into(),
            String::new(),
        );
        assert_ne!(
            audit_finding(day, Some("acme"), &other, at).event_id(),
            first.event_id()
        );
    }
}
