//! Gathering: the managed resources, and for each its catalog records, the points its service
//! holds and its continuous backup window; then each resource audited.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use lifeboat::audit::{audit_resource, Evidence, Finding, FindingKind, ResourceAudit, WindowCheck};
use lifeboat::inventory::{
    managed, unmanaged_of, DiscoveredResource, ManagedResource, Unmanaged, TAG_INSTANCE,
};
use lifeboat::ports::{BackupService, PortError};

use crate::{AuditRun, Auditor};

/// Resources gathered at once.
const CONCURRENCY: usize = 8;

pub(crate) struct Gathered {
    pub managed: Vec<ManagedResource>,
    pub audits: Vec<ResourceAudit>,
    pub unmanaged: Vec<Unmanaged>,
    pub findings: Vec<Finding>,
    /// The services whose discovery failed: no instance's coverage can be proven.
    pub undiscovered: Vec<String>,
}

impl Auditor {
    pub(crate) async fn gather(&self, run: &AuditRun) -> Gathered {
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
        let in_scope = |instance: &str| run.instance.as_deref().is_none_or(|i| i == instance);
        let mut managed_resources = Vec::new();
        // A resource whose tags name an instance but cannot be read is that instance's,
        // never backed up: it counts against the instance instead of vanishing from it.
        let mut misconfigured = Vec::new();
        for found in &discovered {
            match managed(found, &self.policies) {
                Ok(Some(m)) if in_scope(&m.instance_id) => managed_resources.push(m),
                Ok(_) => {}
                Err(e) => match found.tags.get(TAG_INSTANCE).filter(|i| in_scope(i)) {
                    Some(instance) => misconfigured.push(badly_tagged(found, instance, e.to_string())),
                    None => findings.push(Finding::new(
                        FindingKind::BadTags,
                        found.key.to_string(),
                        e.to_string(),
                    )),
                },
            }
        }
        let mut audits = stream::iter(&managed_resources)
            .map(|m| self.audit_one(run, m))
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        audits.extend(misconfigured);
        // Which resources are no longer managed is a question about the fleet; a partial
        // discovery would call every resource of a silent service unmanaged.
        let unmanaged = if run.instance.is_none() && undiscovered.is_empty() {
            match self.catalog.present_counts().await {
                Ok(counts) => unmanaged_of(&counts, &discovered, &self.policies),
                Err(e) => {
                    findings.push(not_checked("catalog".into(), &e));
                    Vec::new()
                }
            }
        } else {
            Vec::new()
        };
        Gathered {
            managed: managed_resources,
            audits,
            unmanaged,
            findings,
            undiscovered,
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
