//! What an instance's description says of where it stands: settling by itself, renaming,
//! available, made by a given restore, or the very instance a restore pinned (the one it
//! restored, or production's original).

use aws_sdk_rds::types::DbInstance;
use lifeboat::execution::identity::{refusal, Identity, Made};
use lifeboat::inventory::marked_for;
use lifeboat::ports::restorer::{Progress, Target};
use lifeboat::ports::{FailureKind, PortError};

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

/// The instance's identity: its `DbiResourceId`, which RDS keeps through renames and never
/// gives another instance.
pub(super) fn identity_of(db: &DbInstance) -> Option<Identity> {
    db.dbi_resource_id()
        .filter(|id| !id.is_empty())
        .map(|id| Identity {
            id: id.to_string(),
            created: None,
        })
}

/// Why `db` may not be used as the instance this request restored (staging, or production
/// after the swap), if it may not: it must carry the request's marks (not as its fallback)
/// and be the instance pinned when staging was proven ready.
pub(super) fn not_the_restored(db: &DbInstance, target: &Target<'_>) -> Option<String> {
    if !is_restored(db, target.request_id) {
        return Some(format!(
            "it is not marked as {}'s restored instance",
            target.request_id
        ));
    }
    match identity_of(db) {
        None => Some("RDS reports no DbiResourceId for it".into()),
        Some(found) => refusal(Made::Staging, target.staging_identity, &found),
    }
}

/// `NotOurs` unless `db` (by the name `name`) is the instance this request restored and
/// pinned: asked immediately before anything renames or changes it.
pub(super) fn require_restored(
    operation: &'static str,
    db: &DbInstance,
    name: &str,
    target: &Target<'_>,
) -> Result<(), PortError> {
    match not_the_restored(db, target) {
        None => Ok(()),
        Some(why) => Err(PortError::new(
            operation,
            format!("rds:{name}"),
            FailureKind::NotOurs,
            format!("not the instance this restore restored and proved ready, left untouched: {why}"),
        )),
    }
}

/// Whether `db` is marked as `target`'s fallback (the original, set aside by the swap).
pub(super) fn is_fallback_of(db: &DbInstance, target: &Target<'_>) -> bool {
    belongs_to(db, target.request_id, Some("fallback"))
}

/// Why `db` may not be taken for production's original, if it may not: it must be the
/// instance pinned as production's own before the swap (`target.fallback_identity`, its
/// `DbiResourceId`, which renames keep). Marks can be copied onto any instance, so a run
/// readied without that pin cannot tell the original from a look-alike at all.
pub(super) fn not_the_original(db: &DbInstance, target: &Target<'_>) -> Option<String> {
    let Some(pinned) = target.fallback_identity else {
        return Some(
            "no identity of production's original was pinned before the swap, so the original cannot be told from a look-alike".into(),
        );
    };
    match identity_of(db) {
        None => Some("RDS reports no DbiResourceId for it".into()),
        Some(found) if found == *pinned => None,
        Some(found) => Some(format!(
            "it is {found}, not {pinned}, production's original pinned before the swap"
        )),
    }
}

/// `NotOurs` unless `db` (by the name `name`) is production's original: the instance pinned
/// before the swap, and, once the swap set it aside (`set_aside`), marked as the fallback.
/// Asked immediately before it is renamed, or its settings are copied.
pub(super) fn require_original(
    operation: &'static str,
    db: &DbInstance,
    name: &str,
    target: &Target<'_>,
    set_aside: bool,
) -> Result<(), PortError> {
    let why = if set_aside && !is_fallback_of(db, target) {
        Some(format!("it is not marked as {}'s fallback", target.request_id))
    } else {
        not_the_original(db, target)
    };
    match why {
        None => Ok(()),
        Some(why) => Err(PortError::new(
            operation,
            format!("rds:{name}"),
            FailureKind::NotOurs,
            format!("not production's original, left untouched: {why}"),
        )),
    }
}

/// Whether `db` is the restored instance an undo may move aside: the one pinned, or, for a
/// run recorded before staging was pinned, the one marked as this request's.
pub(super) fn undo_may_move(db: &DbInstance, target: &Target<'_>) -> bool {
    is_restored(db, target.request_id)
        && target
            .staging_identity
            .is_none_or(|pinned| identity_of(db).as_ref() == Some(pinned))
}

pub(super) fn waiting(what: &str, db: &DbInstance) -> Progress {
    Progress::Pending(format!(
        "{what}: rds:{} is {}",
        db.db_instance_identifier().unwrap_or_default(),
        status(db)
    ))
}
