//! `Audit Finding` status events: what an audit found, for whoever follows Lifeboat's
//! events (an account manager's tooling, a ticketing rule). Each finding is one event, with
//! an id stable for the day, its kind and (hashed) subject, so an audit run again the same
//! day announces the same events again, which consumers de-duplicate. The most serious
//! kinds go first, and a run announces at most [`MAX_EVENTS`]: the report has them all. A
//! dry run announces nothing.

use chrono::{DateTime, Utc};
use lifeboat::audit::{AuditReport, Finding, FindingKind};
use lifeboat::status_event::fleet::audit_finding;

use crate::Auditor;

/// The most findings one run announces.
pub const MAX_EVENTS: usize = 100;

/// Most serious first.
const SEVERITY: [FindingKind; 11] = [
    FindingKind::Exposed,
    FindingKind::NotChecked,
    FindingKind::NoPoints,
    FindingKind::MissingPoints,
    FindingKind::WindowShort,
    FindingKind::DrillOverdue,
    FindingKind::CatalogOnly,
    FindingKind::NotAvailable,
    FindingKind::BadTags,
    FindingKind::Unmanaged,
    FindingKind::ServiceOnly,
];

/// The findings of `report`, each with its instance (none: the fleet's), most serious first.
pub fn ranked(report: &AuditReport) -> Vec<(Option<&str>, &Finding)> {
    let mut all: Vec<(Option<&str>, &Finding)> = (report.instances.iter())
        .flat_map(|i| i.findings.iter().map(move |f| (Some(i.instance_id.as_str()), f)))
        .chain(report.findings.iter().map(|f| (None, f)))
        .collect();
    let rank = |kind: FindingKind| SEVERITY.iter().position(|k| *k == kind).unwrap_or(SEVERITY.len());
    all.sort_by_key(|(_, f)| rank(f.kind));
    all
}

impl Auditor {
    pub(crate) async fn announce_findings(&self, report: &AuditReport, dry_run: bool, at: DateTime<Utc>) {
        if dry_run {
            return;
        }
        let ranked = ranked(report);
        for (instance, finding) in ranked.iter().take(MAX_EVENTS) {
            let event = audit_finding(report.generated_at.date_naive(), *instance, finding, at);
            self.events.publish(&event).await;
        }
        if ranked.len() > MAX_EVENTS {
            tracing::warn!(
                findings = ranked.len(),
                announced = MAX_EVENTS,
                "audit: more findings than one run announces; the report has them all"
            );
        }
    }
}
