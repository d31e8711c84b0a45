//! Gathering: the managed resources, and for each its catalog records, the points its service
//! holds and its continuous backup window; then each resource audited.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use lifeboat::audit::{audit_resource, Evidence, Finding, FindingKind, ResourceAudit, WindowCheck};
use lifeboat::inventory::{
    managed, unmanaged_of, DiscoveredResource, ManagedResource, Unmanaged, TAG_INSTANCE,
};
use lifeboat::ports::{BackupService, PortError};

use crate::exposure::{made_of, Made};
use crate::{AuditRun, Auditor};

/// Resources gathered at once.
const CONCURRENCY: usize = 8;

pub(crate) struct Gathered {
    pub managed: Vec<ManagedResource>,
    /// What restores and drills made, among the resources discovered.
    pub made: Vec<Made>,
    pub audits: Vec<ResourceAudit>,
    pub unmanaged: Vec<Unmanaged>,
    pub findings: Vec<Finding>,
    /// The services whose discovery failed: no instance's coverage can be proven.
    pub undiscovered: Vec<String>,
}

/// What discovery found: every resource, what failed, and which services could not be read.
pub(crate) struct Discovery {
    pub discovered: Vec<DiscoveredResource>,
    pub findings: Vec<Finding>,
    pub undiscovered: Vec<String>,
}

/// The resources of the run's scope: managed ones, and those whose tags name an instance
/// but cannot be read (audited as that instance's, never backed up).
pub(crate) struct Classified {
    pub managed: Vec<ManagedResource>,
    pub misconfigured: Vec<ResourceAudit>,
    /// Bad tags on resources no instance claims.
    pub findings: Vec<Finding>,
}

impl Auditor {
    pub(crate) async fn gather(&self, run: &AuditRun) -> Gathered {
        let Discovery {
            discovered,
            mut findings,
            undiscovered,
        } = self.discover(run).await;
        let classified = self.classify(run, &discovered);
        findings.extend(classified.findings);
        let mut audits = self.audit_all(run, &classified.managed).await;
        audits.extend(classified.misconfigured);
        let (unmanaged, unmanaged_findings) = self.unmanaged(run, &discovered, &undiscovered).await;
        findings.extend(unmanaged_findings);
        Gathered {
            managed: classified.managed,
            made: made_of(&discovered),
            audits,
            unmanaged,
            findings,
            undiscovered,
        }
    }

    pub(crate) async fn discover(&self, run: &AuditRun) -> Discovery {
        let mut findings = Vec::new();
        let mut discovered: Vec<DiscoveredResource> = Vec::new();
        let mut undiscovered = Vec::new();
        for service in &self.services {
            let found = match &run.instance {
                Some(instance) => service.discover_instance(instance).await,
                None => service.discover().await,
            };
            match found {
                Ok(found) => discovered.extend(found),
                Err(e) => {
                    undiscovered.push(service.kind().as_str().to_string());
                    findings.push(not_checked(service.kind().as_str().to_string(), &e));
                }
            }
        }
        Discovery {
            discovered,
            findings,
            undiscovered,
        }
    }

    pub(crate) fn classify(&self, run: &AuditRun, discovered: &[DiscoveredResource]) -> Classified {
        let in_scope = |instance: &str| run.instance.as_deref().is_none_or(|i| i == instance);
        let mut classified = Classified {
            managed: Vec::new(),
            misconfigured: Vec::new(),
            findings: Vec::new(),
        };
        for found in discovered {
            match managed(found, &self.policies) {
                Ok(Some(m)) if in_scope(&m.instance_id) => classified.managed.push(m),
                Ok(_) => {}
                // A resource whose tags name an instance but cannot be read is that
                // instance's, never backed up: it counts against the instance instead of
                // vanishing from it.
                Err(e) => match found.tags.get(TAG_INSTANCE).filter(|i| in_scope(i)) {
                    Some(instance) => {
                        classified
                            .misconfigured
                            .push(badly_tagged(found, instance, e.to_string()))
                    }
                    None => classified.findings.push(Finding::new(
                        FindingKind::BadTags,
                        found.key.to_string(),
                        e.to_string(),
                    )),
                },
            }
        }
        classified
    }

    pub(crate) async fn audit_all(
        &self,
        run: &AuditRun,
        resources: &[ManagedResource],
    ) -> Vec<ResourceAudit> {
        stream::iter(resources)
            .map(|m| self.audit_one(run, m))
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await
    }

    /// Which resources are no longer managed is a question about the fleet; a partial
    /// discovery would call every resource of a silent service unmanaged.
    pub(crate) async fn unmanaged(
        &self,
        run: &AuditRun,
        discovered: &[DiscoveredResource],
        undiscovered: &[String],
    ) -> (Vec<Unmanaged>, Vec<Finding>) {
        if run.instance.is_some() || !undiscovered.is_empty() {
            return (Vec::new(), Vec::new());
        }
        match self.catalog.present_counts().await {
            Ok(counts) => (unmanaged_of(&counts, discovered, &self.policies), Vec::new()),
            Err(e) => (Vec::new(), vec![not_checked("catalog".into(), &e)]),
        }
    }

    async fn audit_one(&self, run: &AuditRun, resource: &ManagedResource) -> ResourceAudit {
        let Some(service) = self.service_of(resource) else {
            return unchecked(resource, "no service adapter for this kind of resource".into());
        };
        let gathered = async {
            let records = self.catalog.points_of(&resource.key).await?;
            let held = service.points_of(&resource.key).await?;
            let window = service.restorable_window(&resource.key).await?;
            Ok::<_, PortError>((records, held, window))
        };
        match gathered.await {
            Ok((records, held, window)) => audit_resource(
                &Evidence {
                    resource,
                    records: &records,
                    held: &held,
                    window,
                },
                run.at,
            ),
            Err(e) => {
                tracing::error!(resource = %resource.key, error = %e, "audit: could not gather");
                unchecked(resource, e.to_string())
            }
        }
    }

    fn service_of(&self, resource: &ManagedResource) -> Option<&Arc<dyn BackupService>> {
        self.services.iter().find(|s| s.kind() == resource.key.kind)
    }
}

fn not_checked(subject: String, e: &PortError) -> Finding {
    tracing::error!(subject, error = %e, "audit: could not check");
    Finding::new(FindingKind::NotChecked, subject, e.to_string())
}

/// A resource whose `lifeboat:instance` tag names `instance` but whose other tags cannot be
/// read: the scheduled functions skip it, so it is never backed up.
fn badly_tagged(found: &DiscoveredResource, instance: &str, why: String) -> ResourceAudit {
    ResourceAudit {
        resource: found.key.clone(),
        instance_id: instance.to_string(),
        policy: "?".into(),
        timezone: "?".into(),
        since: None,
        tiers: Vec::new(),
        window: WindowCheck {
            wanted_days: None,
            found: None,
            meets_policy: false,
        },
        points: Vec::new(),
        findings: vec![Finding::new(
            FindingKind::BadTags,
            found.key.to_string(),
            format!("{why}: Lifeboat skips it, so it is not backed up"),
        )],
    }
}

/// A resource that could not be checked: no coverage can be claimed for it, so its
/// instance shows 0 percent until an audit gets through.
fn unchecked(resource: &ManagedResource, why: String) -> ResourceAudit {
    ResourceAudit {
        resource: resource.key.clone(),
        instance_id: resource.instance_id.clone(),
        policy: resource.policy.name.clone(),
        timezone: resource.timezone.name().to_string(),
        since: None,
        tiers: Vec::new(),
        window: WindowCheck {
            wanted_days: resource.policy.point_in_time.map(|p| p.window_days),
            found: None,
            meets_policy: false,
        },
        points: Vec::new(),
        findings: vec![Finding::new(
            FindingKind::NotChecked,
            resource.key.to_string(),
            why,
        )],
    }
}
