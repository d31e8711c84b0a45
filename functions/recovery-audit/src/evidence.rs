//! Gathering: the managed resources, and for each its catalog records, the points its service
//! holds and its continuous backup window; then each resource audited.

use std::sync::Arc;

use futures::stream::{self, StreamExt};
use lifeboat::audit::{audit_resource, Evidence, Finding, FindingKind, ResourceAudit, WindowCheck};
use lifeboat::inventory::{managed, unmanaged_of, DiscoveredResource, ManagedResource, Unmanaged};
use lifeboat::ports::{BackupService, PortError};

use crate::{AuditRun, Auditor};

/// Resources gathered at once.
const CONCURRENCY: usize = 8;

pub(crate) struct Gathered {
    pub managed: Vec<ManagedResource>,
    pub audits: Vec<ResourceAudit>,
    pub unmanaged: Vec<Unmanaged>,
    pub findings: Vec<Finding>,
}

impl Auditor {
    pub(crate) async fn gather(&self, run: &AuditRun) -> Gathered {
        let mut findings = Vec::new();
        let mut discovered: Vec<DiscoveredResource> = Vec::new();
        let mut every_service_answered = true;
        for service in &self.services {
            let found = match &run.instance {
                Some(instance) => service.discover_instance(instance).await,
                None => service.discover().await,
            };
            match found {
                Ok(found) => discovered.extend(found),
                Err(e) => {
                    every_service_answered = false;
                    findings.push(not_checked(service.kind().as_str().to_string(), &e));
                }
            }
        }
        let mut managed_resources = Vec::new();
        for found in &discovered {
            match managed(found, &self.policies) {
                Ok(Some(m)) if run.instance.as_ref().is_none_or(|i| *i == m.instance_id) => {
                    managed_resources.push(m)
                }
                Ok(_) => {}
                Err(e) => findings.push(Finding::new(
                    FindingKind::BadTags,
                    found.key.to_string(),
                    e.to_string(),
                )),
            }
        }
        let audits = stream::iter(&managed_resources)
            .map(|m| self.audit_one(run, m))
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        // Which resources are no longer managed is a question about the fleet; a partial
        // discovery would call every resource of a silent service unmanaged.
        let unmanaged = if run.instance.is_none() && every_service_answered {
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
