//! Whether a DynamoDB table by a name Lifeboat gives its own tables (`lbs-` staging, `lbd-`
//! a drill's sandbox, `lbf-` an undo's fallback) is provably this restore's: asked before
//! anything is put on it, read from it, written to it or deleted.
//!
//! A restore takes no tags, so between the restore call and the marking (once the table is
//! ACTIVE) only the service's own record says where a table came from. A table is this
//! restore's when it carries no `lifeboat:instance` and
//! - carries this restore's marks (`lifeboat:restore-request` and `lifeboat:restore-role`),
//!   or
//! - carries no restore's marks, and DynamoDB's description of it says this restore's call
//!   made it: its `RestoreSummary` names the source restored from (the backup's ARN; for a
//!   point-in-time restore, production's ARN, no backup, and the time asked for as its
//!   `RestoreDateTime`) and its `CreationDateTime` is not before a time recorded before the
//!   restore was first asked for.
//!
//! Anything else by the name (a look-alike made before the restore call, a managed table,
//! another restore's or drill's table) is refused with [`FailureKind::NotOurs`], naming the
//! table and why. A name alone never makes a table ours.
//!
//! A table's identity (its `TableId` and `CreationDateTime`) is pinned by the caller
//! ([`lifeboat::execution::identity`]) only when it carries this restore's marks AND
//! DynamoDB's description says this restore's call made it (the second rule above, whatever
//! the marks): marks can be copied onto any table, the service's record of a restore cannot
//! ([`Owned::to_pin`]). Every later use goes through [`pinned`], which requires the marks and
//! that identity: a table put under the name since (even one carrying copied marks) is
//! another table.

use aws_sdk_dynamodb::types::{RestoreSummary, TableStatus};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

use super::{port_error, utc};
use lifeboat::execution::identity::{refusal, Identity, Made};
use lifeboat::inventory::{TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};
use lifeboat::ports::{FailureKind, PortError};

/// What a restore's table was restored from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source<'a> {
    /// An on-demand backup, by its ARN.
    Backup(&'a str),
    /// A point-in-time restore of the production table `table` to the instant `at`.
    PointInTimeOf { table: &'a str, at: DateTime<Utc> },
}

/// What this restore expects of its table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim<'a> {
    pub request_id: &'a str,
    /// `staging` (a drill's sandbox too) or `fallback`.
    pub role: &'a str,
    /// What the restore call restores from and a time recorded before it was first made;
    /// `None` when no restore was asked for yet (only the marks can then prove a table ours).
    pub made_by: Option<(Source<'a>, DateTime<Utc>)>,
}

/// A table proven this restore's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owned {
    pub status: TableStatus,
    pub arn: String,
    /// Whether it carries this restore's marks already.
    pub marked: bool,
    /// Its identity, or why DynamoDB's description of it gives none.
    pub identity: Result<Identity, String>,
    /// Whether DynamoDB's record says the claim's restore call made it, or why not.
    pub made_by_claim: Result<(), String>,
}

impl Owned {
    /// The table proven the claim's (`described`, in `status`); why not otherwise.
    fn of(described: Described, status: TableStatus, claim: &Claim<'_>) -> Result<Owned, String> {
        let marked = judge(&described, claim)?;
        Ok(Owned {
            status,
            identity: described.identity(),
            made_by_claim: made_by(&described, claim),
            arn: described.arn,
            marked,
        })
    }

    /// Its identity, to pin as the claim's `role` table: only once it is marked as such AND
    /// DynamoDB's record says the claim's restore call made it (a table anyone made can carry
    /// copied marks); why not otherwise.
    pub(crate) fn to_pin(&self, role: &str) -> Result<Identity, String> {
        if !self.marked {
            return Err(format!("it does not carry this restore's {role} marks yet"));
        }
        if let Err(why) = &self.made_by_claim {
            return Err(format!(
                "it carries this restore's {role} marks, but DynamoDB's record does not show this restore's call made it: {why}"
            ));
        }
        self.identity.clone()
    }
}

/// What DynamoDB says of a table, as the judgement needs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Described {
    pub arn: String,
    pub table_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub source_backup: Option<String>,
    pub source_table: Option<String>,
    /// The instant the restore that made it restored to (`RestoreSummary.RestoreDateTime`).
    pub restored_to: Option<DateTime<Utc>>,
    pub created: Option<DateTime<Utc>>,
}

impl Described {
    /// Its identity: the `TableId` and the creation time DynamoDB reports for it.
    pub(crate) fn identity(&self) -> Result<Identity, String> {
        match (&self.table_id, self.created) {
            (Some(id), Some(created)) if !id.is_empty() => Ok(Identity {
                id: id.clone(),
                created: Some(created),
            }),
            _ => Err("DynamoDB reports no TableId and creation time for it".into()),
        }
    }
}

/// The table `name` if it is this restore's, `None` if there is none; refused otherwise.
pub(crate) async fn provenance(
    client: &Client,
    name: &str,
    claim: &Claim<'_>,
) -> Result<Option<Owned>, PortError> {
    let table = match client.describe_table().table_name(name).send().await {
        Ok(out) => out.table,
        Err(e) => {
            let e = port_error("DescribeTable", format!("dynamodb:{name}"), e);
            if e.kind == FailureKind::NotFound {
                return Ok(None);
            }
            return Err(e);
        }
    };
    let Some(table) = table else {
        return Ok(None);
    };
    let arn = table.table_arn().unwrap_or_default().to_string();
    let summary = table.restore_summary();
    let described = Described {
        tags: tags(client, &arn).await?,
        source_backup: summary
            .and_then(RestoreSummary::source_backup_arn)
            .map(str::to_string),
        source_table: summary
            .and_then(RestoreSummary::source_table_arn)
            .map(str::to_string),
        restored_to: summary.map(RestoreSummary::restore_date_time).and_then(utc),
        created: table.creation_date_time().and_then(utc),
        table_id: table.table_id().map(str::to_string),
        arn,
    };
    let status = table.table_status().cloned().unwrap_or(TableStatus::Creating);
    let owned = Owned::of(described, status, claim).map_err(|why| {
        PortError::new(
            "ownership check",
            format!("dynamodb:{name}"),
            FailureKind::NotOurs,
            format!("not this restore's {} table, left untouched: {why}", claim.role),
        )
    })?;
    Ok(Some(owned))
}

/// The table `name` if it is still the one pinned for the claim (`pinned`, as `made`): proven
/// the claim's, marked as such, and of the pinned identity; `NotOurs` naming it and why
/// otherwise, `NotFound` when there is none.
pub(crate) async fn pinned(
    client: &Client,
    name: &str,
    claim: &Claim<'_>,
    (made, pinned): (Made, Option<&Identity>),
) -> Result<Owned, PortError> {
    let Some(owned) = provenance(client, name, claim).await? else {
        return Err(PortError::new(
            "DescribeTable",
            format!("dynamodb:{name}"),
            FailureKind::NotFound,
            format!("the {} table is gone", claim.role),
        ));
    };
    let why = match &owned.identity {
        _ if !owned.marked => Some(format!("it does not carry this restore's {} marks", claim.role)),
        Err(why) => Some(why.clone()),
        Ok(found) => refusal(made, pinned, found),
    };
    match why {
        None => Ok(owned),
        Some(why) => Err(PortError::new(
            "ownership check",
            format!("dynamodb:{name}"),
            FailureKind::NotOurs,
            format!("not this restore's {} table, left untouched: {why}", claim.role),
        )),
    }
}

/// Every tag of the table `arn`, through every page.
async fn tags(client: &Client, arn: &str) -> Result<BTreeMap<String, String>, PortError> {
    let mut found = BTreeMap::new();
    let mut next: Option<String> = None;
    loop {
        let out = client
            .list_tags_of_resource()
            .resource_arn(arn)
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| port_error("ListTagsOfResource", arn, e))?;
        found.extend(
            out.tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string())),
        );
        match out.next_token() {
            Some(token) if !token.is_empty() => next = Some(token.to_string()),
            _ => return Ok(found),
        }
    }
}

/// Whether `table` is the claim's: `Ok(true)` marked as it, `Ok(false)` proven by the
/// service's record alone; otherwise why not.
pub(crate) fn judge(table: &Described, claim: &Claim<'_>) -> Result<bool, String> {
    if let Some(instance) = table.tags.get(TAG_INSTANCE) {
        return Err(format!("it carries {TAG_INSTANCE}={instance} (a managed table)"));
    }
    let request = table.tags.get(TAG_RESTORE_REQUEST).map(String::as_str);
    let role = table.tags.get(TAG_RESTORE_ROLE).map(String::as_str);
    match (request, role) {
        (Some(r), Some(role)) if r == claim.request_id && role == claim.role => return Ok(true),
        (Some(r), _) if r != claim.request_id => {
            return Err(format!("it is marked as {r}'s ({TAG_RESTORE_REQUEST})"))
        }
        (Some(_), role) => {
            return Err(format!(
                "it is marked as this restore's {} table, not its {}",
                role.unwrap_or("(no role)"),
                claim.role
            ))
        }
        (None, Some(role)) => return Err(format!("it carries {TAG_RESTORE_ROLE}={role} with no request")),
        (None, None) => {}
    }
    if claim.made_by.is_none() {
        return Err("it carries none of this restore's marks, and no restore was asked for yet".into());
    }
    made_by(table, claim)?;
    Ok(false)
}

/// Whether DynamoDB's description of `table` says the claim's restore call made it: restored
/// from the source asked for (for a point in time, to the instant asked for), and created
/// after the restore was first asked for; why not otherwise. The marks play no part.
fn made_by(table: &Described, claim: &Claim<'_>) -> Result<(), String> {
    let Some((source, asked_after)) = claim.made_by else {
        return Err("no restore was asked for on record, so none can be shown to have made it".into());
    };
    let (backup, from_table) = (table.source_backup.as_deref(), table.source_table.as_deref());
    if backup.is_none() && from_table.is_none() {
        return Err("DynamoDB records no restore that made it".into());
    }
    let restored_from = backup.or(from_table).unwrap_or_default();
    let same = match source {
        Source::Backup(arn) => backup == Some(arn),
        Source::PointInTimeOf {
            table: production, ..
        } => {
            backup.is_none()
                && from_table.is_some()
                && from_table == sibling_arn(&table.arn, production).as_deref()
        }
    };
    if !same {
        let wanted = match source {
            Source::Backup(arn) => arn.to_string(),
            Source::PointInTimeOf {
                table: production, ..
            } => format!("a point in time of {production}"),
        };
        return Err(format!("it was restored from {restored_from}, not from {wanted}"));
    }
    if let Source::PointInTimeOf { at, .. } = source {
        restored_to(table.restored_to, at)?;
    }
    match table.created {
        Some(created) if created >= asked_after => {}
        Some(created) => {
            return Err(format!(
                "it was created at {created}, before this restore was asked for (after {asked_after})"
            ))
        }
        None => return Err("DynamoDB reports no creation time for it".into()),
    }
    Ok(())
}

/// Whether a point-in-time restore reported as restoring to `reported` is the one asked for
/// `at` (asked in whole seconds: the same second).
fn restored_to(reported: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Result<(), String> {
    match reported {
        Some(t) if t.timestamp() == at.timestamp() => Ok(()),
        Some(t) => Err(format!(
            "it was restored to {t}, not to {at}, the point this restore asked for"
        )),
        None => Err("DynamoDB reports no time it was restored to".into()),
    }
}

/// The ARN of table `name` in the account and region of the table `arn`.
fn sibling_arn(arn: &str, name: &str) -> Option<String> {
    arn.split_once(":table/")
        .map(|(prefix, _)| format!("{prefix}:table/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/lbd-1234abcd-orders";
    const BACKUP: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders/backup/01";
    const ORDERS: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";
    /// The point in time a restore asks for in these tests.
    const POINT: &str = "2026-12-03T05:00:00Z";

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn restored(backup: Option<&str>, created: &str) -> Described {
        Described {
            arn: ARN.into(),
            table_id: Some("0f3c9a1e-table".into()),
            tags: BTreeMap::new(),
            source_backup: backup.map(str::to_string),
            source_table: Some(ORDERS.into()),
            restored_to: Some(at(if backup.is_some() { created } else { POINT })),
            created: Some(at(created)),
        }
    }

    fn claim(source: Source<'static>) -> Claim<'static> {
        Claim {
            request_id: "drill-acme",
            role: "staging",
            made_by: Some((source, at("2026-12-03T06:00:00Z"))),
        }
    }

    fn marked(mut table: Described, marks: &[(&str, &str)]) -> Described {
        table
            .tags
            .extend(marks.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        table
    }

    #[test]
    fn a_table_our_restore_call_made_is_ours_marked_or_not() {
        let ours = restored(Some(BACKUP), "2026-12-03T06:00:01Z");
        assert_eq!(judge(&ours, &claim(Source::Backup(BACKUP))), Ok(false));
        let ours = marked(
            ours,
            &[(TAG_RESTORE_REQUEST, "drill-acme"), (TAG_RESTORE_ROLE, "staging")],
        );
        assert_eq!(judge(&ours, &claim(Source::Backup(BACKUP))), Ok(true));
        let pitr = restored(None, "2026-12-03T06:00:01Z");
        let asked = Source::PointInTimeOf {
            table: "orders",
            at: at(POINT),
        };
        assert_eq!(judge(&pitr, &claim(asked)), Ok(false));
    }

    #[test]
    fn a_look_alike_is_refused_whatever_it_carries() {
        let claim = claim(Source::Backup(BACKUP));
        let before = restored(Some(BACKUP), "2026-12-03T05:59:59Z");
        let cases = [
            (
                restored(Some(BACKUP), "2026-12-03T05:59:59Z"),
                "before this restore",
            ),
            (
                Described {
                    arn: ARN.into(),
                    ..Described::default()
                },
                "no restore",
            ),
            (restored(Some("arn:other"), "2026-12-03T06:00:01Z"), "not from"),
            (restored(None, "2026-12-03T06:00:01Z"), "not from"),
            (
                marked(before.clone(), &[(TAG_INSTANCE, "acme")]),
                "lifeboat:instance",
            ),
            (
                marked(
                    restored(Some(BACKUP), "2026-12-03T06:00:01Z"),
                    &[
                        (TAG_INSTANCE, "acme"),
                        (TAG_RESTORE_REQUEST, "drill-acme"),
                        (TAG_RESTORE_ROLE, "staging"),
                    ],
                ),
                "lifeboat:instance",
            ),
            (
                marked(
                    restored(Some(BACKUP), "2026-12-03T06:00:01Z"),
                    &[
                        (TAG_RESTORE_REQUEST, "drill-other"),
                        (TAG_RESTORE_ROLE, "staging"),
                    ],
                ),
                "drill-other",
            ),
            (
                marked(
                    before.clone(),
                    &[
                        (TAG_RESTORE_REQUEST, "drill-acme"),
                        (TAG_RESTORE_ROLE, "fallback"),
                    ],
                ),
                "not its staging",
            ),
            (marked(before, &[(TAG_RESTORE_ROLE, "staging")]), "no request"),
        ];
        for (table, why) in cases {
            let refused = judge(&table, &claim).unwrap_err();
            assert!(refused.contains(why), "{why}: {refused}");
        }
    }

    #[test]
    fn without_a_restore_asked_for_only_the_marks_count() {
        let unasked = Claim {
            made_by: None,
            ..claim(Source::Backup(BACKUP))
        };
        let table = restored(Some(BACKUP), "2026-12-03T06:00:01Z");
        assert!(judge(&table, &unasked).is_err());
        let table = marked(
            table,
            &[(TAG_RESTORE_REQUEST, "drill-acme"), (TAG_RESTORE_ROLE, "staging")],
        );
        assert_eq!(judge(&table, &unasked), Ok(true));
    }

    /// L2: a point-in-time restore of production to another instant (an earlier restore by
    /// someone else, made after the run started) is not this restore's staging.
    #[test]
    fn a_point_in_time_restore_must_be_to_the_instant_asked_for() {
        let asked = claim(Source::PointInTimeOf {
            table: "orders",
            at: at("2026-12-03T05:00:00.700Z"),
        });
        let ours = restored(None, "2026-12-03T06:00:01Z");
        assert_eq!(judge(&ours, &asked), Ok(false), "asked in whole seconds");
        let elsewhen = Described {
            restored_to: Some(at("2026-12-03T04:00:00Z")),
            ..ours.clone()
        };
        let refused = judge(&elsewhen, &asked).unwrap_err();
        assert!(
            refused.contains("restored to 2026-12-03 04:00:00 UTC"),
            "{refused}"
        );
        let untold = Described {
            restored_to: None,
            ..ours
        };
        let refused = judge(&untold, &asked).unwrap_err();
        assert!(refused.contains("no time it was restored to"), "{refused}");
    }

    /// F2: marks can be copied onto any table; only DynamoDB's record of this restore's call
    /// (with the marks) lets a table be pinned.
    #[test]
    fn only_a_marked_table_this_restores_call_made_is_pinned() {
        let marks = [(TAG_RESTORE_REQUEST, "drill-acme"), (TAG_RESTORE_ROLE, "staging")];
        let asked = claim(Source::Backup(BACKUP));
        let owned = |t: Described| Owned::of(t, TableStatus::Active, &asked).unwrap();
        let ours = marked(restored(Some(BACKUP), "2026-12-03T06:00:01Z"), &marks);
        assert_eq!(owned(ours).to_pin("staging").unwrap().id, "0f3c9a1e-table");
        let unmarked = owned(restored(Some(BACKUP), "2026-12-03T06:00:01Z"));
        let why = unmarked.to_pin("staging").unwrap_err();
        assert!(why.contains("marks yet"), "{why}");
        let plain = Described {
            arn: ARN.into(),
            table_id: Some("7d21-plain".into()),
            created: Some(at("2026-12-03T06:00:01Z")),
            ..Described::default()
        };
        let copied = [
            (marked(plain, &marks), "records no restore"),
            (
                marked(restored(Some("arn:other"), "2026-12-03T06:00:01Z"), &marks),
                "not from",
            ),
            (
                marked(restored(Some(BACKUP), "2026-12-03T05:59:59Z"), &marks),
                "before this restore",
            ),
        ];
        for (table, why) in copied {
            let refused = owned(table).to_pin("staging").unwrap_err();
            assert!(
                refused.contains("does not show this restore's call made it"),
                "{refused}"
            );
            assert!(refused.contains(why), "{why}: {refused}");
        }
        let unasked = Claim {
            made_by: None,
            ..asked
        };
        let ours = marked(restored(Some(BACKUP), "2026-12-03T06:00:01Z"), &marks);
        let refused = (Owned::of(ours, TableStatus::Active, &unasked).unwrap())
            .to_pin("staging")
            .unwrap_err();
        assert!(refused.contains("no restore was asked for"), "{refused}");
    }

    #[test]
    fn a_table_without_a_table_id_has_no_identity() {
        let table = restored(Some(BACKUP), "2026-12-03T06:00:01Z");
        let identity = table.identity().unwrap();
        assert_eq!(identity.id, "0f3c9a1e-table");
        assert_eq!(identity.created, Some(at("2026-12-03T06:00:01Z")));
        let untold = Described {
            table_id: None,
            ..table
        };
        assert!(untold.identity().unwrap_err().contains("TableId"));
    }

    #[test]
    fn a_point_in_time_restore_must_be_of_production_itself() {
        let claim = claim(Source::PointInTimeOf {
            table: "customers",
            at: at(POINT),
        });
        let refused = judge(&restored(None, "2026-12-03T06:00:01Z"), &claim).unwrap_err();
        assert!(refused.contains("customers"), "{refused}");
        assert_eq!(
            sibling_arn(ARN, "orders").as_deref(),
            Some(ORDERS),
            "same account and region"
        );
    }
}
