//! One resource's coverage: for each tier, the slots the policy promises and which of them
//! hold a restorable point; its continuous backup window against the policy; and where the
//! catalog and the service disagree.
//!
//! A point is restorable when the catalog has it present (a restore request can only name
//! what the catalog offers) and the service holds it available. Under `hourly.source:
//! point_in_time` an RDS instance's hourly slots are restorable when its window covers them.
//! A weekly or monthly slot whose own point could not be taken is covered by a restorable
//! point taken later in the tier's period carrying the tier (see `schedule::late`): counted
//! restorable, and listed as late with the point that serves it.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::finding::{Finding, FindingKind};
use super::promised::{promised_slots, GRACE};
use crate::catalog::{PointState, RecoveryPoint, ResourceKey};
use crate::inventory::ManagedResource;
use crate::policy::Tier;
use crate::ports::ServicePoint;
use crate::request::options::RestorableWindow;
use crate::schedule::late::{served_slot, LONG};
use crate::schedule::Slot;

/// What the audit gathered about one managed resource.
#[derive(Debug, Clone)]
pub struct Evidence<'a> {
    pub resource: &'a ManagedResource,
    /// Every catalog record of the resource, in any state (deleted ones say since when it is
    /// backed up).
    pub records: &'a [RecoveryPoint],
    /// The Lifeboat-named points its service holds.
    pub held: &'a [ServicePoint],
    /// Its continuous backup window as the service reports it.
    pub window: Option<RestorableWindow>,
}

/// One tier of one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCoverage {
    pub tier: Tier,
    pub promised: usize,
    pub restorable: usize,
    /// The promised slots without a restorable point, oldest first.
    pub missing: Vec<Slot>,
    /// The promised slots served by a point taken after them (their own could not be
    /// taken), oldest first: restorable, and counted so.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub late: Vec<LatePoint>,
}

/// A weekly or monthly slot whose point was taken late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatePoint {
    /// The promised slot.
    pub slot: Slot,
    /// The slot of the point that serves it (the time its data holds).
    pub taken: Slot,
}

impl LatePoint {
    /// How long after the promised slot the point was taken.
    pub fn lateness(&self) -> TimeDelta {
        self.taken.start() - self.slot.start()
    }
}

/// The continuous backup window against the policy's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowCheck {
    /// The policy's window in days (`None`: the policy asks for none).
    pub wanted_days: Option<u8>,
    pub found: Option<RestorableWindow>,
    pub meets_policy: bool,
}

/// A recovery point on the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointMark {
    pub slot: Slot,
    pub tiers: Vec<Tier>,
    pub restorable: bool,
    /// The tiers it serves late, each with the slot it stands for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub late: BTreeMap<Tier, Slot>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceAudit {
    pub resource: ResourceKey,
    pub instance_id: String,
    pub policy: String,
    pub timezone: String,
    /// The slot of its first catalogued point: nothing is promised before it.
    pub since: Option<Slot>,
    pub tiers: Vec<TierCoverage>,
    pub window: WindowCheck,
    /// Its present points, for the timeline.
    pub points: Vec<PointMark>,
    pub findings: Vec<Finding>,
}

impl ResourceAudit {
    /// The promised points of every tier, and the continuous backup window as one more
    /// promise when the policy asks for one: a window that is off or short cannot read 100.
    pub fn promised(&self) -> usize {
        self.tiers.iter().map(|t| t.promised).sum::<usize>() + usize::from(self.window.wanted_days.is_some())
    }

    pub fn restorable(&self) -> usize {
        self.tiers.iter().map(|t| t.restorable).sum::<usize>()
            + usize::from(self.window.wanted_days.is_some() && self.window.meets_policy)
    }
}

/// How long the service may lag in reporting its latest restorable time (RDS: about five
/// minutes) before the window counts as stopped.
const WINDOW_LAG: TimeDelta = TimeDelta::hours(1);

/// Audits one resource at `now`.
pub fn audit_resource(evidence: &Evidence<'_>, now: DateTime<Utc>) -> ResourceAudit {
    let resource = evidence.resource;
    let key = &resource.key;
    // The earlier of the catalog's first record and the service's first point: a catalog
    // that lost a resource's records must not make it look young (and promise less).
    let since = (evidence.records.iter().map(|r| r.slot))
        .chain(evidence.held.iter().map(|p| p.slot))
        .min();
    let catalog: BTreeMap<Slot, &RecoveryPoint> = evidence
        .records
        .iter()
        .filter(|r| r.state.is_present())
        .map(|r| (r.slot, r))
        .collect();
    let held: BTreeMap<Slot, &ServicePoint> = evidence.held.iter().map(|p| (p.slot, p)).collect();
    let restorable = |slot: &Slot| {
        catalog.contains_key(slot) && held.get(slot).is_some_and(|p| p.state == PointState::Available)
    };
    // What each present point serves late: a weekly or monthly tier at a slot not its own.
    let serves_late = |r: &RecoveryPoint| -> BTreeMap<Tier, Slot> {
        LONG.into_iter()
            .filter(|t| r.tiers.contains(*t))
            .filter_map(|t| Some((t, served_slot(&resource.policy, resource.timezone, t, r.slot)?)))
            .filter(|(_, served)| *served != r.slot)
            .collect()
    };
    // The first restorable point taken late for each (tier, promised slot).
    let mut taken_late: BTreeMap<(Tier, Slot), Slot> = BTreeMap::new();
    for r in catalog.values().filter(|r| restorable(&r.slot)) {
        for (tier, served) in serves_late(r) {
            taken_late.entry((tier, served)).or_insert(r.slot);
        }
    }
    let from_window = resource.hourly_from_window();
    let covered_by_window = |slot: &Slot| {
        evidence
            .window
            .is_some_and(|w| w.earliest <= slot.start() && slot.start() <= w.latest)
    };

    let mut findings = Vec::new();
    let tiers: Vec<TierCoverage> = [Tier::Hourly, Tier::Weekly, Tier::Monthly]
        .into_iter()
        .filter(|tier| resource.policy.retention(*tier).is_some())
        .map(|tier| {
            let promised = since.map_or_else(Vec::new, |s| {
                promised_slots(&resource.policy, resource.timezone, tier, s, now)
            });
            let by_window = tier == Tier::Hourly && from_window;
            let on_time = |s: &Slot| {
                if by_window {
                    covered_by_window(s)
                } else {
                    restorable(s)
                }
            };
            let late: Vec<LatePoint> = promised
                .iter()
                .filter(|s| !on_time(s))
                .filter_map(|s| {
                    let taken = *taken_late.get(&(tier, *s))?;
                    Some(LatePoint { slot: *s, taken })
                })
                .collect();
            let missing: Vec<Slot> = promised
                .iter()
                .filter(|s| !on_time(s) && !late.iter().any(|l| l.slot == **s))
                .copied()
                .collect();
            if !missing.is_empty() {
                findings.push(Finding::new(
                    FindingKind::MissingPoints,
                    key.to_string(),
                    format!(
                        "{} of {} promised {} points are not restorable{} (oldest {}, newest {})",
                        missing.len(),
                        promised.len(),
                        tier.as_str(),
                        if by_window {
                            " from the continuous backup window"
                        } else {
                            ""
                        },
                        missing[0],
                        missing[missing.len() - 1],
                    ),
                ));
            }
            TierCoverage {
                tier,
                promised: promised.len(),
                restorable: promised.len() - missing.len(),
                missing,
                late,
            }
        })
        .collect();

    if since.is_none() {
        findings.push(Finding::new(
            FindingKind::NoPoints,
            key.to_string(),
            "managed, but the catalog holds no recovery point of it: it has never been backed up".into(),
        ));
    }
    findings.extend(disagreements(&catalog, &held, now, key));
    let window = check_window(evidence, since, now);
    if !window.meets_policy {
        findings.push(Finding::new(
            FindingKind::WindowShort,
            key.to_string(),
            match (window.wanted_days, window.found) {
                (Some(days), None) => format!(
                    "the policy wants a {days}-day continuous backup window; the service reports none"
                ),
                (Some(days), Some(w)) => format!(
                    "the policy wants a {days}-day continuous backup window; the service's covers {} to {}",
                    w.earliest.to_rfc3339(),
                    w.latest.to_rfc3339()
                ),
                (None, _) => "the continuous backup window does not meet the policy".into(),
            },
        ));
    }

    ResourceAudit {
        resource: key.clone(),
        instance_id: resource.instance_id.clone(),
        policy: resource.policy.name.clone(),
        timezone: resource.timezone.name().to_string(),
        since,
        tiers,
        window,
        points: catalog
            .values()
            .map(|r| PointMark {
                slot: r.slot,
                tiers: r.tiers.0.keys().copied().collect(),
                restorable: restorable(&r.slot),
                late: serves_late(r),
            })
            .collect(),
        findings,
    }
}

/// Points the catalog offers that the service does not hold (or not yet, past the grace),
/// and Lifeboat points the service holds that the catalog does not offer.
fn disagreements(
    catalog: &BTreeMap<Slot, &RecoveryPoint>,
    held: &BTreeMap<Slot, &ServicePoint>,
    now: DateTime<Utc>,
    key: &ResourceKey,
) -> Vec<Finding> {
    let settled = |slot: &Slot| slot.start() <= now - GRACE;
    let mut findings = Vec::new();
    for (slot, record) in catalog.iter().filter(|(s, _)| settled(s)) {
        match held.get(slot) {
            None => findings.push(Finding::new(
                FindingKind::CatalogOnly,
                key.to_string(),
                format!(
                    "the catalog offers the point of {slot} ({:?}) but the service does not hold it",
                    record.state
                ),
            )),
            Some(p) if p.state != PointState::Available => findings.push(Finding::new(
                FindingKind::NotAvailable,
                key.to_string(),
                format!(
                    "the point of {slot} ({}) is still not available at the service",
                    p.service_id
                ),
            )),
            Some(_) => {}
        }
    }
    for (slot, point) in held
        .iter()
        .filter(|(s, _)| settled(s) && !catalog.contains_key(s))
    {
        findings.push(Finding::new(
            FindingKind::ServiceOnly,
            key.to_string(),
            format!(
                "the service holds {} (slot {slot}) but the catalog does not offer it: no restore can name it until the pruner adopts it",
                point.service_id
            ),
        ));
    }
    findings
}

/// The window meets the policy when it reaches back the policy's days (or to the first
/// point, for a resource backed up for less long) and forward to about now.
fn check_window(evidence: &Evidence<'_>, since: Option<Slot>, now: DateTime<Utc>) -> WindowCheck {
    let wanted_days = evidence.resource.policy.point_in_time.map(|p| p.window_days);
    let meets_policy = match (wanted_days, evidence.window) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(days), Some(w)) => {
            let reach = now - TimeDelta::days(i64::from(days)) + WINDOW_LAG;
            let reach = since.map_or(reach, |s| reach.max(s.start()));
            w.earliest <= reach && w.latest >= now - WINDOW_LAG
        }
    };
    WindowCheck {
        wanted_days,
        found: evidence.window,
        meets_policy,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::inventory::PitrStatus;
    use crate::policy::{HourlySource, Policy};
    use crate::schedule::tiers_of;
    use crate::zone::Zone;

    fn at(t: &str) -> DateTime<Utc> {
        t.parse().unwrap()
    }

    fn resource(policy: Policy) -> ManagedResource {
        ManagedResource {
            key: ResourceKey::rds("acme-db"),
            instance_id: "acme".into(),
            timezone: Zone::utc(),
            policy,
            pitr: Some(PitrStatus {
                enabled: true,
                window_days: Some(3),
            }),
        }
    }

    /// A point at every slot the policy keeps at `now`, from `since`, recorded and held.
    fn everything(
        r: &ManagedResource,
        since: &str,
        now: DateTime<Utc>,
    ) -> (Vec<RecoveryPoint>, Vec<ServicePoint>) {
        let mut slot = Slot::containing(at(since));
        let (mut records, mut held) = (Vec::new(), Vec::new());
        while slot.start() <= now {
            let tiers = tiers_of(&r.policy, r.timezone, slot);
            if tiers.live_at(now).next().is_some() {
                records.push(RecoveryPoint {
                    resource: r.key.clone(),
                    instance_id: r.instance_id.clone(),
                    slot,
                    tiers,
                    service_id: Some(r.key.point_name(slot)),
                    state: PointState::Available,
                    holds: BTreeSet::new(),
                    policy: r.policy.name.clone(),
                    timezone: "UTC".into(),
                    note: None,
                    updated_at: slot.start(),
                });
                held.push(ServicePoint {
                    resource: r.key.clone(),
                    slot,
                    service_id: r.key.point_name(slot),
                    state: PointState::Available,
                    tags: BTreeMap::new(),
                });
            }
            slot = slot.next();
        }
        (records, held)
    }

    fn window(now: DateTime<Utc>, days: i64) -> Option<RestorableWindow> {
        Some(RestorableWindow {
            earliest: now - TimeDelta::days(days),
            latest: now - TimeDelta::minutes(5),
        })
    }

    fn kinds(audit: &ResourceAudit) -> Vec<FindingKind> {
        audit.findings.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn a_resource_with_every_point_and_its_window_is_fully_covered() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, held) = everything(&r, "2025-06-01T00:00:00Z", now);
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        assert_eq!(audit.promised(), 70 + 4 + 12 + 1, "and the window");
        assert_eq!(audit.restorable(), audit.promised());
        assert!(audit.findings.is_empty(), "{:?}", audit.findings);
        assert!(audit.window.meets_policy);
    }

    #[test]
    fn a_point_the_service_lost_is_missing_and_named_where_catalog_and_service_disagree() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, mut held) = everything(&r, "2025-06-01T00:00:00Z", now);
        let lost = Slot::containing(at("2026-11-28T23:00:00Z"));
        held.retain(|p| p.slot != lost);
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        let weekly = audit.tiers.iter().find(|t| t.tier == Tier::Weekly).unwrap();
        assert_eq!(
            (weekly.promised, weekly.restorable, weekly.missing.clone()),
            (4, 3, vec![lost])
        );
        assert_eq!(
            kinds(&audit),
            [FindingKind::MissingPoints, FindingKind::CatalogOnly]
        );
        assert!(!audit.points.iter().find(|p| p.slot == lost).unwrap().restorable);
    }

    #[test]
    fn a_point_only_the_service_holds_is_not_restorable_and_is_named() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (mut records, held) = everything(&r, "2025-06-01T00:00:00Z", now);
        let forgotten = Slot::containing(at("2026-12-02T10:00:00Z"));
        records
            .iter_mut()
            .filter(|p| p.slot == forgotten)
            .for_each(|p| p.state = PointState::Deleted);
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        assert_eq!(audit.promised() - audit.restorable(), 1);
        assert_eq!(
            kinds(&audit),
            [FindingKind::MissingPoints, FindingKind::ServiceOnly]
        );
    }

    #[test]
    fn the_last_two_hours_are_not_expected_yet_and_a_point_in_the_making_there_is_no_finding() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, mut held) = everything(&r, "2025-06-01T00:00:00Z", now);
        for p in held.iter_mut().filter(|p| p.slot.start() > now - GRACE) {
            p.state = PointState::Creating;
        }
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    }

    #[test]
    fn a_point_still_creating_past_the_grace_is_not_restorable() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, mut held) = everything(&r, "2025-06-01T00:00:00Z", now);
        let stuck = Slot::containing(at("2026-12-03T01:00:00Z"));
        held.iter_mut()
            .filter(|p| p.slot == stuck)
            .for_each(|p| p.state = PointState::Creating);
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        assert_eq!(
            kinds(&audit),
            [FindingKind::MissingPoints, FindingKind::NotAvailable]
        );
    }

    #[test]
    fn a_catalog_that_lost_its_records_does_not_make_a_resource_look_young() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (mut records, held) = everything(&r, "2025-06-01T00:00:00Z", now);
        records.retain(|p| p.slot.start() > now - TimeDelta::days(2));
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        assert_eq!(audit.since, held.iter().map(|p| p.slot).min());
        let monthly = audit.tiers.iter().find(|t| t.tier == Tier::Monthly).unwrap();
        assert_eq!(
            (monthly.promised, monthly.restorable),
            (12, 0),
            "held, but no restore can name them"
        );
    }

    #[test]
    fn a_resource_never_backed_up_is_a_finding_and_promises_nothing_to_count() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &[],
                held: &[],
                window: window(now, 3),
            },
            now,
        );
        assert_eq!(audit.since, None);
        assert_eq!(kinds(&audit), [FindingKind::NoPoints]);
    }

    #[test]
    fn a_window_off_or_short_of_the_policy_is_a_finding() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, held) = everything(&r, "2025-06-01T00:00:00Z", now);
        for (w, ok) in [
            (None, false),
            (window(now, 2), false),
            (window(now, 3), true),
            (window(now, 7), true),
        ] {
            let audit = audit_resource(
                &Evidence {
                    resource: &r,
                    records: &records,
                    held: &held,
                    window: w,
                },
                now,
            );
            assert_eq!(audit.window.meets_policy, ok, "{w:?}");
            assert_eq!(
                audit.promised() - audit.restorable(),
                usize::from(!ok),
                "the window is a promise"
            );
            assert_eq!(kinds(&audit).contains(&FindingKind::WindowShort), !ok);
        }
        let stopped = Some(RestorableWindow {
            earliest: now - TimeDelta::days(4),
            latest: now - TimeDelta::hours(3),
        });
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: stopped,
            },
            now,
        );
        assert!(!audit.window.meets_policy, "a window that stopped hours ago");
    }

    #[test]
    fn a_young_resource_s_window_need_reach_back_only_to_its_first_point() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, held) = everything(&r, "2026-12-02T12:00:00Z", now);
        let young = Some(RestorableWindow {
            earliest: at("2026-12-02T11:50:00Z"),
            latest: now,
        });
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: young,
            },
            now,
        );
        assert!(audit.window.meets_policy);
        assert!(audit.findings.is_empty(), "{:?}", audit.findings);
    }

    #[test]
    fn hourly_points_served_by_the_window_count_where_the_window_covers_them() {
        let now = at("2026-12-03T06:30:00Z");
        let mut policy = Policy::standard();
        policy.hourly.as_mut().unwrap().source = HourlySource::PointInTime;
        let r = resource(policy);
        assert!(r.hourly_from_window());
        let (mut records, mut held) = everything(&r, "2025-06-01T00:00:00Z", now);
        let hourly_only = |p: &Slot| tiers_of(&r.policy, r.timezone, *p).0.len() == 1;
        records.retain(|p| !hourly_only(&p.slot));
        held.retain(|p| !hourly_only(&p.slot));
        let full = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: window(now, 3),
            },
            now,
        );
        assert!(full.findings.is_empty(), "{:?}", full.findings);
        assert_eq!(full.tiers[0].restorable, 70);
        let short = Some(RestorableWindow {
            earliest: now - TimeDelta::hours(24),
            latest: now,
        });
        let audit = audit_resource(
            &Evidence {
                resource: &r,
                records: &records,
                held: &held,
                window: short,
            },
            now,
        );
        let hourly = &audit.tiers[0];
        assert_eq!(
            (hourly.promised, hourly.restorable),
            (70, 22),
            "07:00 yesterday to 04:00 today"
        );
        assert_eq!(
            kinds(&audit),
            [FindingKind::MissingPoints, FindingKind::WindowShort]
        );
    }

    fn with_full_window(
        r: &ManagedResource,
        records: &[RecoveryPoint],
        held: &[ServicePoint],
        now: DateTime<Utc>,
    ) -> ResourceAudit {
        let window = window(now, 3);
        audit_resource(
            &Evidence {
                resource: r,
                records,
                held,
                window,
            },
            now,
        )
    }

    /// The records and held points of `everything` with the point of `missed` never taken,
    /// and (`taken`) the point of a later slot carrying its tier instead.
    fn taken_late(
        r: &ManagedResource,
        now: DateTime<Utc>,
        missed: &str,
        taken: Option<&str>,
    ) -> (Vec<RecoveryPoint>, Vec<ServicePoint>) {
        let (mut records, mut held) = everything(r, "2025-06-01T00:00:00Z", now);
        let missed = Slot::containing(at(missed));
        // Its claim stays, marked missing by the pruner.
        for p in records.iter_mut().filter(|p| p.slot == missed) {
            p.state = PointState::Missing;
        }
        held.retain(|p| p.slot != missed);
        if let Some(taken) = taken {
            let taken = Slot::containing(at(taken));
            let until = r.policy.retention(Tier::Weekly).unwrap().expiry(taken.start());
            let late = crate::schedule::TierSet([(Tier::Weekly, until)].into());
            // Its hourly tier has expired by now: the late weekly one keeps it.
            let template = records.last().expect("records").clone();
            records.push(RecoveryPoint {
                slot: taken,
                tiers: late,
                service_id: Some(r.key.point_name(taken)),
                ..template
            });
            held.push(ServicePoint {
                resource: r.key.clone(),
                slot: taken,
                service_id: r.key.point_name(taken),
                state: PointState::Available,
                tags: BTreeMap::new(),
            });
        }
        (records, held)
    }

    #[test]
    fn a_weekly_point_taken_late_covers_its_slot_and_is_listed_late() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, held) = taken_late(&r, now, "2026-11-28T23:00:00Z", Some("2026-11-29T02:00:00Z"));
        let audit = with_full_window(&r, &records, &held, now);
        let weekly = audit.tiers.iter().find(|t| t.tier == Tier::Weekly).unwrap();
        assert_eq!((weekly.promised, weekly.restorable), (4, 4));
        assert!(weekly.missing.is_empty());
        assert_eq!(
            weekly.late,
            [LatePoint {
                slot: Slot::containing(at("2026-11-28T23:00:00Z")),
                taken: Slot::containing(at("2026-11-29T02:00:00Z")),
            }]
        );
        assert_eq!(weekly.late[0].lateness(), TimeDelta::hours(3));
        assert!(audit.findings.is_empty(), "covered: {:?}", audit.findings);
        assert_eq!(audit.restorable(), audit.promised());
        let mark = audit
            .points
            .iter()
            .find(|p| p.slot == Slot::containing(at("2026-11-29T02:00:00Z")))
            .unwrap();
        assert_eq!(
            mark.late,
            BTreeMap::from([(Tier::Weekly, Slot::containing(at("2026-11-28T23:00:00Z")))])
        );
        assert!(audit.points.iter().filter(|p| !p.late.is_empty()).count() == 1);
    }

    #[test]
    fn a_weekly_slot_not_taken_within_its_period_stays_missing() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, held) = taken_late(&r, now, "2026-11-21T23:00:00Z", None);
        let audit = with_full_window(&r, &records, &held, now);
        let weekly = audit.tiers.iter().find(|t| t.tier == Tier::Weekly).unwrap();
        assert_eq!(
            (weekly.restorable, weekly.missing.clone()),
            (3, vec![Slot::containing(at("2026-11-21T23:00:00Z"))])
        );
        assert!(weekly.late.is_empty());
        assert_eq!(kinds(&audit), [FindingKind::MissingPoints]);
    }

    #[test]
    fn a_late_point_that_is_not_restorable_covers_nothing() {
        let now = at("2026-12-03T06:30:00Z");
        let r = resource(Policy::standard());
        let (records, mut held) = taken_late(&r, now, "2026-11-28T23:00:00Z", Some("2026-11-29T02:00:00Z"));
        held.retain(|p| p.slot != Slot::containing(at("2026-11-29T02:00:00Z")));
        let audit = with_full_window(&r, &records, &held, now);
        let weekly = audit.tiers.iter().find(|t| t.tier == Tier::Weekly).unwrap();
        assert_eq!(weekly.missing, [Slot::containing(at("2026-11-28T23:00:00Z"))]);
        assert!(weekly.late.is_empty());
    }
}
