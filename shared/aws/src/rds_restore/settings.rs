//! The settings a restored instance does not inherit from the snapshot, and the tags the
//! swap carries over: read from an instance, passed to the restore, applied by the swap and
//! compared by verify.

use std::collections::BTreeMap;

use aws_sdk_rds::types::{DbInstance, Tag};
use lifeboat::inventory::{TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};

/// The settings a restore does not copy, as the restore passes them, the swap carries them
/// over and verify compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Settings {
    pub(super) multi_az: Option<bool>,
    pub(super) publicly_accessible: Option<bool>,
    pub(super) storage_type: Option<String>,
    pub(super) parameter_group: Option<String>,
    pub(super) subnet_group: Option<String>,
    pub(super) security_groups: Vec<String>,
    pub(super) backup_retention: Option<i32>,
    pub(super) deletion_protection: Option<bool>,
    pub(super) tags: BTreeMap<String, String>,
}

impl Settings {
    pub(super) fn of(db: &DbInstance) -> Settings {
        let mut security_groups: Vec<String> = db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect();
        security_groups.sort();
        Settings {
            multi_az: db.multi_az(),
            publicly_accessible: db.publicly_accessible(),
            storage_type: db.storage_type().map(str::to_string),
            parameter_group: db
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name().map(str::to_string)),
            subnet_group: db
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name().map(str::to_string)),
            security_groups,
            backup_retention: db.backup_retention_period(),
            deletion_protection: db.deletion_protection(),
            tags: tags_of(db.tag_list()),
        }
    }

    /// What `ModifyDBInstance` sets.
    pub(super) fn modifiable(&self) -> (&Option<String>, &Vec<String>, Option<i32>, Option<bool>) {
        (
            &self.parameter_group,
            &self.security_groups,
            self.backup_retention,
            self.deletion_protection,
        )
    }

    /// The differences that matter after a swap (`self`) from the instance it replaced
    /// (`other`), by name.
    pub(super) fn differences(&self, other: &Settings) -> Vec<&'static str> {
        let mut out = Vec::new();
        let strip = |t: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            t.iter()
                .filter(|(k, _)| carried_over(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        for (name, same) in [
            ("Multi-AZ", self.multi_az == other.multi_az),
            (
                "public accessibility",
                self.publicly_accessible == other.publicly_accessible,
            ),
            ("storage type", self.storage_type == other.storage_type),
            ("parameter group", self.parameter_group == other.parameter_group),
            ("subnet group", self.subnet_group == other.subnet_group),
            ("security groups", self.security_groups == other.security_groups),
            // At least the fallback's: a longer window is recovery history, kept.
            (
                "backup retention",
                self.backup_retention >= other.backup_retention,
            ),
            (
                "deletion protection",
                self.deletion_protection == other.deletion_protection,
            ),
            ("tags", strip(&self.tags) == strip(&other.tags)),
        ] {
            if !same {
                out.push(name);
            }
        }
        out
    }
}

/// Whether the swap gives a tag of the old production to the restored instance: not the
/// restore's own marks, and not AWS's (`aws:…`, which RDS refuses to set: CloudFormation
/// puts `aws:cloudformation:*` on the instances it makes).
pub(super) fn carried_over(key: &str) -> bool {
    key != TAG_RESTORE_ROLE && key != TAG_RESTORE_REQUEST && !key.starts_with("aws:")
}

pub(super) fn tags_of(list: &[Tag]) -> BTreeMap<String, String> {
    list.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

pub(super) fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}
