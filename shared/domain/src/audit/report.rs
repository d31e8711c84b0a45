//! The day's audit report: each customer instance's resources and coverage, the findings,
//! the notes (what is not wrong but worth knowing: a weekly or monthly point taken late), the
//! exposures found and revoked, and the resources nothing backs up any more.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::coverage::ResourceAudit;
use super::exposure::Exposure;
use super::finding::{Finding, FindingKind};
use crate::drill::records::{DrillOutcome, DrillRecord};
use crate::inventory::Unmanaged;

/// One customer instance: its resources, its coverage, what is wrong with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceAudit {
    pub instance_id: String,
    /// Restorable promised points of all its resources' tiers, as a percentage of those
    /// promised; 100 when nothing is promised yet, 0 for a resource never backed up.
    pub coverage_percent: f64,
    pub promised: usize,
    pub restorable: usize,
    pub resources: Vec<ResourceAudit>,
    /// Its resources' findings and its exposures'.
    pub findings: Vec<Finding>,
    /// Its resources' promised points that are covered, but late.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
    /// Its latest successful restore drill, when one is on record.
    pub latest_drill: Option<DrillRecord>,
    /// Its drills of the last year, failed ones too, oldest first.
    pub drills: Vec<DrillOutcome>,
}

/// Something about a subject that is not wrong but worth knowing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub subject: String,
    pub what: String,
}

impl Note {
    /// The notes of one resource: each promised point taken late, and how late.
    pub fn of(resource: &ResourceAudit) -> Vec<Note> {
        resource
            .tiers
            .iter()
            .flat_map(|t| {
                t.late.iter().map(move |l| Note {
                    subject: resource.resource.to_string(),
                    what: format!(
                        "the {} point of {} was taken late, at {} ({} after its slot): its own could not be taken",
                        t.tier.as_str(),
                        l.slot,
                        l.taken,
                        hours(l.lateness())
                    ),
                })
            })
            .collect()
    }
}

/// `1 hour`, `26 hours`.
fn hours(d: TimeDelta) -> String {
    match d.num_hours() {
        1 => "1 hour".to_string(),
        n => format!("{n} hours"),
    }
}

/// The day's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub generated_at: DateTime<Utc>,
    pub instances: Vec<InstanceAudit>,
    pub exposures: Vec<Exposure>,
    pub unmanaged: Vec<Unmanaged>,
    /// Findings about no one instance (an exposed bucket, unreadable tags, failed checks).
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// Groups resource audits by instance, attaching each exposure's finding to the
    /// instance that owns it (by `owner`, a resource key) or to the report.
    pub fn assemble(
        generated_at: DateTime<Utc>,
        resources: Vec<ResourceAudit>,
        exposures: Vec<Exposure>,
        unmanaged: Vec<Unmanaged>,
        mut findings: Vec<Finding>,
    ) -> AuditReport {
        let mut by_instance: BTreeMap<String, Vec<ResourceAudit>> = BTreeMap::new();
        for r in resources {
            by_instance.entry(r.instance_id.clone()).or_default().push(r);
        }
        let owner_of: BTreeMap<String, String> = by_instance
            .iter()
            .flat_map(|(i, rs)| rs.iter().map(move |r| (r.resource.to_string(), i.clone())))
            .collect();
        let mut instances: Vec<InstanceAudit> = by_instance
            .into_iter()
            .map(|(instance_id, resources)| InstanceAudit::of(instance_id, resources))
            .collect();
        for e in &exposures {
            let finding = Finding::new(FindingKind::Exposed, e.subject.clone(), e.describe());
            // A copy's own instance when its tags or the catalog say, else its owner's.
            let instance = e.instance.as_ref().or_else(|| owner_of.get(&e.owner));
            match instance.and_then(|i| instances.iter_mut().find(|x| &x.instance_id == i)) {
                Some(instance) => instance.findings.insert(0, finding),
                None => findings.push(finding),
            }
        }
        findings.extend(unmanaged.iter().map(|u| {
            Finding::new(
                FindingKind::Unmanaged,
                u.resource.to_string(),
                format!("{} points left, no longer backed up: {}", u.points, u.why),
            )
        }));
        AuditReport {
            generated_at,
            instances,
            exposures,
            unmanaged,
            findings,
        }
    }

    /// Marks every instance's coverage unproven (0) with a finding saying `why`: what a
    /// failed discovery leaves, since an instance's resources of that service are unknown.
    pub fn mark_unproven(&mut self, why: &str) {
        for instance in &mut self.instances {
            instance.coverage_percent = 0.0;
            instance.findings.push(Finding::new(
                FindingKind::NotChecked,
                instance.instance_id.clone(),
                format!("coverage cannot be proven: {why}"),
            ));
        }
    }

    /// Attaches each instance's latest successful drill (`drills`, by instance; `None`: none
    /// on record) and names the instances whose last one is older than `max_age` at `now`.
    pub fn attach_drills(
        &mut self,
        drills: &BTreeMap<String, Option<DrillRecord>>,
        now: DateTime<Utc>,
        max_age: TimeDelta,
    ) {
        for instance in &mut self.instances {
            let record = drills.get(&instance.instance_id).cloned().flatten();
            let overdue = match &record {
                None => Some("no successful restore drill on record".to_string()),
                Some(r) if now - r.started_at > max_age => Some(format!(
                    "its last successful restore drill was {} days ago ({})",
                    (now - r.started_at).num_days(),
                    r.drill_id
                )),
                Some(_) => None,
            };
            if let Some(what) = overdue {
                instance.findings.push(Finding::new(
                    FindingKind::DrillOverdue,
                    instance.instance_id.clone(),
                    what,
                ));
            }
            instance.latest_drill = record;
        }
    }

    /// Days since each instance's last successful drill, the oldest of them (`None`: an
    /// instance has none on record).
    pub fn oldest_drill_days(&self, now: DateTime<Utc>) -> Option<i64> {
        self.instances
            .iter()
            .map(|i| i.latest_drill.as_ref().map(|d| (now - d.started_at).num_days()))
            .collect::<Option<Vec<i64>>>()
            .map(|days| days.into_iter().max().unwrap_or(0))
    }

    /// The lowest coverage of any instance (100 with none): what the coverage alarm reads.
    pub fn lowest_coverage(&self) -> f64 {
        self.instances
            .iter()
            .map(|i| i.coverage_percent)
            .fold(100.0, f64::min)
    }

    /// Every finding, the report's and its instances'.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .chain(self.instances.iter().flat_map(|i| i.findings.iter()))
    }
}

impl InstanceAudit {
    /// An instance that could not be audited at all (its shard failed): 0 percent, never a
    /// coverage nobody proved, and a finding saying why.
    pub fn unchecked(instance_id: String, why: String) -> InstanceAudit {
        InstanceAudit {
            findings: vec![Finding::new(FindingKind::NotChecked, instance_id.clone(), why)],
            notes: Vec::new(),
            instance_id,
            coverage_percent: 0.0,
            promised: 0,
            restorable: 0,
            resources: Vec::new(),
            latest_drill: None,
            drills: Vec::new(),
        }
    }

    fn of(instance_id: String, resources: Vec<ResourceAudit>) -> InstanceAudit {
        let promised: usize = resources.iter().map(ResourceAudit::promised).sum();
        let restorable: usize = resources.iter().map(ResourceAudit::restorable).sum();
        let never_backed_up = resources.iter().any(|r| r.since.is_none());
        // Integer arithmetic first, so that all restorable is exactly 100.
        let coverage_percent = match (never_backed_up, (restorable * 1000).checked_div(promised)) {
            (true, _) => 0.0,
            (false, None) => 100.0,
            (false, Some(permille)) => permille as f64 / 10.0,
        };
        let findings = resources
            .iter()
            .flat_map(|r| r.findings.iter().cloned())
            .collect();
        let notes = resources.iter().flat_map(Note::of).collect();
        InstanceAudit {
            instance_id,
            coverage_percent,
            promised,
            restorable,
            resources,
            findings,
            notes,
            latest_drill: None,
            drills: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::coverage::{TierCoverage, WindowCheck};
    use crate::audit::exposure::ExposureKind;
    use crate::catalog::ResourceKey;
    use crate::policy::Tier;
    use crate::schedule::Slot;

    fn resource(
        instance: &str,
        name: &str,
        promised: usize,
        restorable: usize,
        since: bool,
    ) -> ResourceAudit {
        ResourceAudit {
            resource: ResourceKey::rds(name),
            instance_id: instance.into(),
            policy: "standard".into(),
            timezone: "UTC".into(),
            since: since.then(|| Slot::containing("2026-01-01T00:00:00Z".parse().unwrap())),
            tiers: vec![TierCoverage {
                tier: Tier::Hourly,
                promised,
                restorable,
                missing: vec![],
                late: vec![],
            }],
            window: WindowCheck {
                wanted_days: None,
                found: None,
                meets_policy: true,
            },
            points: vec![],
            findings: vec![],
        }
    }

    fn at() -> DateTime<Utc> {
        "2026-12-03T06:30:00Z".parse().unwrap()
    }

    #[test]
    fn coverage_is_per_instance_over_all_its_resources_and_exactly_100_when_whole() {
        let report = AuditReport::assemble(
            at(),
            vec![
                resource("acme", "acme-db", 70, 70, true),
                resource("acme", "acme-db2", 16, 16, true),
                resource("globex", "globex-db", 70, 63, true),
                resource("initech", "initech-db", 0, 0, false),
                resource("umbrella", "umbrella-db", 0, 0, true),
            ],
            vec![],
            vec![],
            vec![],
        );
        let by: BTreeMap<&str, f64> = report
            .instances
            .iter()
            .map(|i| (i.instance_id.as_str(), i.coverage_percent))
            .collect();
        assert_eq!(by["acme"], 100.0);
        assert_eq!(by["globex"], 90.0);
        assert_eq!(by["initech"], 0.0, "never backed up");
        assert_eq!(by["umbrella"], 100.0, "nothing promised yet");
    }

    #[test]
    fn an_instance_without_a_recent_successful_drill_is_a_finding() {
        let mut report = AuditReport::assemble(
            at(),
            vec![
                resource("acme", "acme-db", 1, 1, true),
                resource("globex", "globex-db", 1, 1, true),
                resource("initech", "initech-db", 1, 1, true),
            ],
            vec![],
            vec![],
            vec![],
        );
        let record = |days: i64| DrillRecord {
            drill_id: format!("drill-{days}"),
            started_at: at() - TimeDelta::days(days),
            restore_seconds: Some(900),
        };
        let drills = BTreeMap::from([
            ("acme".to_string(), Some(record(3))),
            ("globex".to_string(), Some(record(9))),
        ]);
        report.attach_drills(&drills, at(), TimeDelta::days(8));
        let overdue: Vec<&str> = report
            .all_findings()
            .filter(|f| f.kind == FindingKind::DrillOverdue)
            .map(|f| f.subject.as_str())
            .collect();
        assert_eq!(overdue, ["globex", "initech"]);
        assert_eq!(report.oldest_drill_days(at()), None, "initech has none");
        report.instances.pop();
        assert_eq!(report.oldest_drill_days(at()), Some(9));
    }

    #[test]
    fn an_exposure_is_its_instance_s_first_finding_and_an_unowned_one_the_report_s() {
        let exposure = |subject: &str, owner: &str, error: Option<&str>| Exposure {
            revoked: error.is_none(),
            error: error.map(String::from),
            ..Exposure::found(
                ExposureKind::Snapshot,
                subject.into(),
                owner.into(),
                vec!["all".into()],
            )
        };
        let report = AuditReport::assemble(
            at(),
            vec![resource("acme", "acme-db", 1, 1, true)],
            vec![
                exposure("acme-db-manual", "rds:acme-db", None),
                exposure("lifeboat-reports", "lifeboat-reports", Some("AccessDenied")),
            ],
            vec![],
            vec![],
        );
        assert_eq!(report.instances[0].findings[0].kind, FindingKind::Exposed);
        assert!(report.instances[0].findings[0].what.ends_with("revoked"));
        assert_eq!(report.findings[0].subject, "lifeboat-reports");
        assert!(report.findings[0].what.contains("NOT revoked: AccessDenied"));
        assert_eq!(report.all_findings().count(), 2);
    }

    #[test]
    fn a_point_taken_late_is_an_instance_s_note_not_a_finding() {
        let mut late = resource("acme", "acme-db", 4, 4, true);
        late.tiers[0] = TierCoverage {
            tier: Tier::Weekly,
            promised: 4,
            restorable: 4,
            missing: vec![],
            late: vec![crate::audit::coverage::LatePoint {
                slot: Slot::containing("2026-11-28T23:00:00Z".parse().unwrap()),
                taken: Slot::containing("2026-11-30T01:00:00Z".parse().unwrap()),
            }],
        };
        let report = AuditReport::assemble(at(), vec![late], vec![], vec![], vec![]);
        let acme = &report.instances[0];
        assert_eq!(acme.coverage_percent, 100.0);
        assert!(acme.findings.is_empty());
        assert_eq!(
            acme.notes,
            [Note {
                subject: "rds:acme-db".into(),
                what: "the weekly point of 2026-11-28T23:00:00Z was taken late, at \
                       2026-11-30T01:00:00Z (26 hours after its slot): its own could not be taken"
                    .into(),
            }]
        );
    }

    #[test]
    fn a_copy_s_exposure_goes_to_the_instance_its_tags_name_though_no_resource_of_it_made_the_copy() {
        let copy = Exposure {
            instance: Some("acme".into()),
            revoked: true,
            ..Exposure::found(
                ExposureKind::Snapshot,
                "kept-copy".into(),
                "rds:lbf-1b4e28ba-acme-db".into(),
                vec!["all".into()],
            )
        };
        let report = AuditReport::assemble(
            at(),
            vec![resource("acme", "acme-db", 1, 1, true)],
            vec![copy],
            vec![],
            vec![],
        );
        assert_eq!(report.instances[0].findings[0].subject, "kept-copy");
        assert!(report.findings.is_empty());
    }
}
