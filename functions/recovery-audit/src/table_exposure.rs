//! DynamoDB tables' resource policies: each statement that lets someone outside the account
//! and the accounts it trusts at a managed table or at one Lifeboat made (staging, drill
//! sandbox, kept fallback) is an exposure ([`lifeboat::audit::table_policy`]).
//!
//! What is done about it depends on whose table it is. Lifeboat's own table, provably so (its
//! name and its marks: [`policy_is_lifeboat_s`]), loses the statements: the policy is written
//! back with the others, or deleted when none is left, at the revision read, so that a change
//! made meanwhile is never overwritten (the next run looks again). A managed production
//! table's policy is only reported: the customer's application may depend on the grant, and
//! the operator decides. A dry run changes nothing. Every table in scope is read on every run
//! (one `GetResourcePolicy` each, no RDS budget spent).

use futures::stream::{self, StreamExt};
use lifeboat::audit::lineage::{is_made_by_lifeboat, policy_is_lifeboat_s};
use lifeboat::audit::table_policy::{outside_grants, without, OutsideGrant};
use lifeboat::audit::{Exposure, ExposureKind, Finding, FindingKind};
use lifeboat::catalog::{ResourceKey, ResourceKind};
use lifeboat::ports::{PortError, TablePolicy};

use crate::exposure::{record, Made, SweepScope};
use crate::{AuditRun, Auditor};

/// Tables read at once.
const CONCURRENCY: usize = 4;

/// Why a production table's grant is left to the operator.
const PRODUCTION: &str =
    "a managed production table: the customer's application may depend on the grant, so the operator decides";
/// Why a Lifeboat-named table's grant is left when it does not carry Lifeboat's marks.
const UNMARKED: &str =
    "named like Lifeboat's tables but not carrying its marks (lifeboat:restore-role without lifeboat:instance), so not provably Lifeboat's to rewrite";

/// A table to read: its key, the customer instance it belongs to, whether it is production.
struct Table {
    key: ResourceKey,
    instance: Option<String>,
    production: bool,
}

impl Auditor {
    /// The tables Lifeboat made, found by name: a restored table takes none of production's
    /// tags, so only the account's list of tables shows them.
    pub(crate) async fn made_tables(&self) -> Result<Vec<Made>, Finding> {
        let names = self.tables.tables().await.map_err(|e| {
            not_checked(
                &ResourceKey::dynamodb("*"),
                format!("the tables could not be listed, so the resource policies of those Lifeboat made are unchecked: {e}"),
            )
        })?;
        Ok(names
            .into_iter()
            .filter(|name| is_made_by_lifeboat(name))
            .map(|name| Made {
                key: ResourceKey::dynamodb(name),
                instance: None,
            })
            .collect())
    }

    pub(crate) async fn sweep_tables(
        &self,
        run: &AuditRun,
        scope: &SweepScope<'_>,
    ) -> (Vec<Exposure>, Vec<Finding>) {
        let production = (scope.managed.iter())
            .filter(|m| m.key.kind == ResourceKind::DynamoTable)
            .map(|m| Table {
                key: m.key.clone(),
                instance: Some(m.instance_id.clone()),
                production: true,
            });
        let made = (scope.made.iter())
            .filter(|m| m.key.kind == ResourceKind::DynamoTable)
            .filter(|m| !scope.managed.iter().any(|p| p.key == m.key))
            .map(|m| Table {
                key: m.key.clone(),
                instance: m.instance.clone(),
                production: false,
            });
        let read: Vec<_> = stream::iter(production.chain(made))
            .map(|table| async move { (self.tables.policy(&table.key.name).await, table) })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let (mut found, mut findings) = (Vec::new(), Vec::new());
        for (policy, table) in read {
            match policy {
                Ok(None) => {}
                Ok(Some(policy)) => match outside_grants(&policy.document, &self.inside()) {
                    Ok(grants) if grants.is_empty() => {}
                    Ok(grants) => found.extend(self.close_grants(run, &table, &policy, grants).await),
                    Err(e) => findings.push(not_checked(&table.key, e.to_string())),
                },
                Err(e) => findings.push(not_checked(
                    &table.key,
                    format!("its resource policy could not be read: {e}"),
                )),
            }
        }
        (found, findings)
    }

    /// Removes `grants` from `table`'s policy when it is Lifeboat's to rewrite; one exposure
    /// per statement, each saying what became of it.
    async fn close_grants(
        &self,
        run: &AuditRun,
        table: &Table,
        policy: &TablePolicy,
        grants: Vec<OutsideGrant>,
    ) -> Vec<Exposure> {
        let (left, outcome) = if table.production {
            (Some(PRODUCTION.to_string()), None)
        } else if run.dry_run {
            (None, None)
        } else {
            match self.tables.tags(&table.key.name).await {
                Ok(tags) if policy_is_lifeboat_s(&table.key.name, &tags) => {
                    (None, Some(self.rewrite(&table.key, policy, &grants).await))
                }
                Ok(_) => (Some(UNMARKED.to_string()), None),
                Err(e) => (None, Some(Err(e))),
            }
        };
        grants
            .into_iter()
            .map(|grant| {
                let exposure = Exposure {
                    instance: table.instance.clone(),
                    statement: Some(grant.statement),
                    left: left.clone(),
                    ..Exposure::found(
                        ExposureKind::TablePolicy,
                        table.key.to_string(),
                        table.key.to_string(),
                        grant.principals,
                    )
                };
                record(exposure, outcome.clone())
            })
            .collect()
    }

    /// The policy without `grants`, written at the revision read (deleted when nothing is left).
    async fn rewrite(
        &self,
        table: &ResourceKey,
        policy: &TablePolicy,
        grants: &[OutsideGrant],
    ) -> Result<(), PortError> {
        let rest = without(&policy.document, grants).map_err(|e| {
            PortError::new(
                "PutResourcePolicy",
                table,
                lifeboat::ports::FailureKind::Refused,
                e.to_string(),
            )
        })?;
        tracing::warn!(table = %table, revision = %policy.revision, statements = grants.len(), "removing statements that let outsiders at a table Lifeboat made");
        match rest {
            Some(document) => {
                (self.tables)
                    .replace_policy(&table.name, &document, &policy.revision)
                    .await
            }
            None => self.tables.delete_policy(&table.name, &policy.revision).await,
        }
    }
}

fn not_checked(table: &ResourceKey, what: String) -> Finding {
    tracing::error!(table = %table, what, "audit: could not check a table's resource policy");
    Finding::new(FindingKind::NotChecked, table.to_string(), what)
}
