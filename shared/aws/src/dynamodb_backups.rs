//! The on-demand backups a DynamoDB rollback takes of the live table: the safety backup
//! (`lbsafety-…`, before staging), the pre-swap backup (`lbpre-…`, what an undo restores)
//! and the retired backup (`lbr-…`, the live table as a failed copy-back left it, kept).
//!
//! Backup names are not unique and backups carry no tags, so a name proves nothing: a backup
//! by one of these names that someone made before (of production itself) must never be taken
//! for this restore's, or an undo would put production back to that older state. Each backup
//! is recorded in the copy-back's ledger (`copyback#<request>#backup#<name>`): the time it was
//! asked for, written before `CreateBackup` is called, then the ARN `CreateBackup` answered.
//! A backup is this restore's when its ARN is recorded; or, after a crash between the call and
//! the record, when it is of the table, by the name, and created after the recorded ask (less
//! [`CLOCK_MARGIN`], for the function's and the service's clocks). Never otherwise: with no
//! record, nothing was asked for, and a backup by the name is someone else's.

use aws_sdk_dynamodb::types::{AttributeValue, BackupStatus, BackupTypeFilter};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, TimeDelta, Utc};

use super::dynamodb_copy_back::CopyBack;
use super::{port_error, utc};
use lifeboat::ports::{FailureKind, PortError};

/// How far the service's clock may be behind the function's: a backup made by the call that
/// followed the recorded ask is never reported as created earlier than this before it.
pub const CLOCK_MARGIN: TimeDelta = TimeDelta::seconds(5);

/// A backup as this restore recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taken {
    pub arn: String,
    pub status: BackupStatus,
    /// Whether this call asked for it (the answer's status, not yet seen in the service's
    /// own listing).
    pub asked_now: bool,
}

/// A backup found by name in the service's listing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Listed {
    pub arn: String,
    pub status: BackupStatus,
    pub created: Option<DateTime<Utc>>,
}

/// The ledger's record of one backup: when it was asked for, and its ARN once answered.
struct Record {
    asked_at: DateTime<Utc>,
    arn: Option<String>,
}

impl CopyBack<'_> {
    fn backup_record_id(&self, name: &str) -> String {
        format!("copyback#{}#backup#{name}", self.request_id)
    }

    async fn backup_record(&self, name: &str) -> Result<Option<Record>, PortError> {
        let Some(item) = self.get(&self.backup_record_id(name)).await? else {
            return Ok(None);
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let asked_at = text("asked_at").and_then(|t| t.parse().ok()).ok_or_else(|| {
            PortError::new(
                "GetItem",
                self.backup_record_id(name),
                FailureKind::Refused,
                "the backup's record has no asked_at",
            )
        })?;
        Ok(Some(Record {
            asked_at,
            arn: text("arn"),
        }))
    }

    /// The backup of `table` named `name` this restore took, with its status: `None` when it
    /// never asked for one, or asked and the call never made it.
    pub(crate) async fn backup_taken(&self, table: &str, name: &str) -> Result<Option<Taken>, PortError> {
        let Some(record) = self.backup_record(name).await? else {
            return Ok(None);
        };
        self.resolve(table, name, &record).await
    }

    /// The backup of `table` named `name` this restore took, asking for it the first time
    /// (and again only if the recorded ask never made one).
    pub(crate) async fn take_backup(&self, table: &str, name: &str) -> Result<Taken, PortError> {
        let record = match self.backup_record(name).await? {
            Some(record) => record,
            None => {
                let mut item = self.stamped(&self.backup_record_id(name));
                item.insert("asked_at".into(), AttributeValue::S(Utc::now().to_rfc3339()));
                match self.put_new(item).await {
                    Ok(())
                    | Err(PortError {
                        kind: FailureKind::Conflict,
                        ..
                    }) => {}
                    Err(e) => return Err(e),
                }
                self.backup_record(name).await?.ok_or_else(|| {
                    PortError::new(
                        "GetItem",
                        self.backup_record_id(name),
                        FailureKind::Unavailable,
                        "the backup's record was written and is not found",
                    )
                })?
            }
        };
        if let Some(taken) = self.resolve(table, name, &record).await? {
            return Ok(taken);
        }
        let out = self
            .client
            .create_backup()
            .table_name(table)
            .backup_name(name)
            .send()
            .await
            .map_err(|e| port_error("CreateBackup", format!("dynamodb:{table}"), e))?;
        let details = out.backup_details().ok_or_else(|| {
            PortError::new(
                "CreateBackup",
                format!("dynamodb:{table}"),
                FailureKind::Refused,
                "no backup in the answer",
            )
        })?;
        let arn = self.record_arn(name, details.backup_arn()).await?;
        Ok(Taken {
            arn,
            status: details.backup_status().clone(),
            asked_now: true,
        })
    }

    /// What the record says was taken: by its ARN, or after a crash before the ARN was
    /// recorded, the backup by the name made after the ask (then recorded).
    async fn resolve(&self, table: &str, name: &str, record: &Record) -> Result<Option<Taken>, PortError> {
        if let Some(arn) = &record.arn {
            return match self.backup_status(arn).await? {
                Some(status) => Ok(Some(Taken {
                    arn: arn.clone(),
                    status,
                    asked_now: false,
                })),
                None => Err(PortError::new(
                    "DescribeBackup",
                    arn,
                    FailureKind::NotFound,
                    format!("the backup {name} this restore took of dynamodb:{table} is gone"),
                )),
            };
        }
        let since = record.asked_at - CLOCK_MARGIN;
        let Some(found) = made_since(&listed(self, table, name).await?, since) else {
            return Ok(None);
        };
        let arn = self.record_arn(name, &found.arn).await?;
        let status = if arn == found.arn {
            found.status
        } else {
            self.backup_status(&arn).await?.unwrap_or(BackupStatus::Deleted)
        };
        Ok(Some(Taken {
            arn,
            status,
            asked_now: false,
        }))
    }

    /// Records `arn` as the backup `name`'s, unless one is recorded already: the ARN recorded.
    async fn record_arn(&self, name: &str, arn: &str) -> Result<String, PortError> {
        let id = self.backup_record_id(name);
        let set = self
            .client
            .update_item()
            .table_name(self.ledger)
            .key("id", AttributeValue::S(id.clone()))
            .update_expression("SET arn = :arn")
            .condition_expression("attribute_exists(id) AND attribute_not_exists(arn)")
            .expression_attribute_values(":arn", AttributeValue::S(arn.to_string()))
            .send()
            .await
            .map_err(|e| port_error("UpdateItem", &id, e));
        match set {
            Ok(_) => Ok(arn.to_string()),
            Err(e) if e.kind == FailureKind::Conflict => {
                self.backup_record(name).await?.and_then(|r| r.arn).ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    async fn backup_status(&self, arn: &str) -> Result<Option<BackupStatus>, PortError> {
        Ok(described(self.client, arn).await?.map(|(status, _)| status))
    }
}

/// The status of the backup `arn` and the table it is of, if the service still holds it.
pub(crate) async fn described(
    client: &Client,
    arn: &str,
) -> Result<Option<(BackupStatus, String)>, PortError> {
    match client.describe_backup().backup_arn(arn).send().await {
        Ok(out) => Ok(out.backup_description().and_then(|d| {
            let details = d.backup_details()?;
            let table = d.source_table_details().map(|t| t.table_name().to_string())?;
            Some((details.backup_status().clone(), table))
        })),
        Err(e) => {
            let e = port_error("DescribeBackup", arn, e);
            if e.kind == FailureKind::NotFound {
                Ok(None)
            } else {
                Err(e)
            }
        }
    }
}

/// The user backups of `table` named `name`, through every page.
async fn listed(copy_back: &CopyBack<'_>, table: &str, name: &str) -> Result<Vec<Listed>, PortError> {
    let mut found = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let out = copy_back
            .client
            .list_backups()
            .table_name(table)
            .backup_type(BackupTypeFilter::User)
            .set_exclusive_start_backup_arn(start.take())
            .send()
            .await
            .map_err(|e| port_error("ListBackups", format!("dynamodb:{table}"), e))?;
        found.extend(
            (out.backup_summaries().iter())
                .filter(|b| b.backup_name() == Some(name))
                .filter_map(|b| {
                    Some(Listed {
                        arn: b.backup_arn()?.to_string(),
                        status: b.backup_status().cloned().unwrap_or(BackupStatus::Creating),
                        created: b.backup_creation_date_time().and_then(utc),
                    })
                }),
        );
        match out.last_evaluated_backup_arn() {
            Some(arn) if !arn.is_empty() => start = Some(arn.to_string()),
            _ => return Ok(found),
        }
    }
}

/// The earliest of `backups` created at or after `since`: none made before it is taken, nor
/// one the service reports no creation time for.
pub(crate) fn made_since(backups: &[Listed], since: DateTime<Utc>) -> Option<Listed> {
    backups
        .iter()
        .filter(|b| b.created.is_some_and(|c| c >= since))
        .min_by_key(|b| b.created)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(arn: &str, created: Option<&str>) -> Listed {
        Listed {
            arn: arn.into(),
            status: BackupStatus::Available,
            created: created.map(|c| c.parse().unwrap()),
        }
    }

    #[test]
    fn a_backup_made_before_the_ask_is_never_taken() {
        let asked: DateTime<Utc> = "2026-12-03T06:00:00Z".parse().unwrap();
        let since = asked - CLOCK_MARGIN;
        let older = listed("arn:older", Some("2026-12-03T05:00:00Z"));
        let untimed = listed("arn:untimed", None);
        assert_eq!(made_since(&[older.clone(), untimed.clone()], since), None);
        let ours = listed("arn:ours", Some("2026-12-03T06:00:01Z"));
        let later = listed("arn:later", Some("2026-12-03T06:30:00Z"));
        assert_eq!(
            made_since(&[later, older, ours.clone(), untimed], since),
            Some(ours),
            "the first made after the ask"
        );
        let skewed = listed("arn:skewed", Some("2026-12-03T05:59:58Z"));
        assert_eq!(
            made_since(std::slice::from_ref(&skewed), since),
            Some(skewed),
            "within the clocks' margin"
        );
    }
}
