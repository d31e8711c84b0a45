//! What an instance's description says of where it stands: settling by itself, renaming,
//! available, or made by a given restore.

use aws_sdk_rds::types::DbInstance;
use lifeboat::inventory::marked_for;
use lifeboat::ports::restorer::Progress;

use super::settings::tags_of;

pub(super) fn status(db: &DbInstance) -> &str {
    db.db_instance_status().unwrap_or("unknown")
}

/// Statuses RDS leaves by itself, after a while: an instance in one of them is not failed,
/// only busy (a backup right after a rename, settings being applied, maintenance).
pub(super) const SETTLING: &[&str] = &[
    "backing-up",
    "configuring-enhanced-monitoring",
    "configuring-iam-database-auth",
    "configuring-log-exports",
    "maintenance",
    "modifying",
    "rebooting",
    "renaming",
    "resetting-master-credentials",
    "starting",
    "storage-optimization",
    "upgrading",
];

/// Whether `db` is busy with something that settles by itself (its status, or changes RDS
/// reports as pending).
pub(super) fn settling(db: &DbInstance) -> bool {
    SETTLING.contains(&status(db)) || has_pending_changes(db)
}

pub(super) fn has_pending_changes(db: &DbInstance) -> bool {
    db.pending_modified_values().is_some_and(|p| {
        p.db_instance_identifier().is_some()
            || p.backup_retention_period().is_some()
            || p.multi_az().is_some()
            || p.storage_type().is_some()
            || p.iops().is_some()
            || p.db_instance_class().is_some()
            || p.allocated_storage().is_some()
    })
}

/// Changing its identifier now, or about to (RDS reports a rename as pending for a while,
/// under the old name, before it happens).
pub(super) fn renaming(db: &DbInstance) -> bool {
    status(db) == "renaming"
        || db
            .pending_modified_values()
            .and_then(|p| p.db_instance_identifier())
            .is_some()
}

/// Available and not about to change its identifier: RDS reports a rename as pending for
/// a while, under the old name, before it happens.
pub(super) fn is_available(db: &DbInstance) -> bool {
    status(db) == "available"
        && db
            .pending_modified_values()
            .and_then(|p| p.db_instance_identifier())
            .is_none()
}

/// Whether `db` carries this request's restore tags (and, if given, this role).
pub(super) fn belongs_to(db: &DbInstance, request_id: &str, role: Option<&str>) -> bool {
    marked_for(&tags_of(db.tag_list()), request_id, role)
}

/// Whether `db` is what this request restored (staging, or production after the swap).
pub(super) fn is_restored(db: &DbInstance, request_id: &str) -> bool {
    belongs_to(db, request_id, None) && !belongs_to(db, request_id, Some("fallback"))
}

pub(super) fn waiting(what: &str, db: &DbInstance) -> Progress {
    Progress::Pending(format!(
        "{what}: rds:{} is {}",
        db.db_instance_identifier().unwrap_or_default(),
        status(db)
    ))
}
