//! Lineage: whether a copy of data holds a customer's, so that the exposure guard covers it.
//! Lifeboat's scheduled points are not the only copies of a managed instance's data: a
//! restore's safety snapshot, a rollback's kept old production (`lbf-`) and anything
//! snapshotted from it, a drill's sandbox, an operator's snapshot before an upgrade, the final
//! snapshot of a deleted instance.
//!
//! A manual RDS snapshot is guarded when, in this order:
//! - its source instance is managed now ([`Lineage::Managed`]): RDS records the instance a
//!   snapshot was taken of under the name it had then, so a final snapshot keeps a deleted
//!   instance's name and a snapshot taken before a rollback's renames keeps production's;
//! - Lifeboat keeps points of its source instance ([`Lineage::Kept`]): the catalog knows the
//!   name (an offboarded customer's, a deleted managed instance's);
//! - its source instance's name is one Lifeboat gives what it makes ([`Lineage::MadeByLifeboat`]:
//!   `lbs-` staging, `lbf-` a rollback's kept fallback, `lbr-` an undo's retired instance,
//!   `lbd-` a drill's sandbox);
//! - its own identifier is Lifeboat's ([`Lineage::NamedByLifeboat`]: a scheduled point
//!   `lifeboat-<resource>-<slot>`, a restore's `lbsafety-` or `lbpre-` snapshot);
//! - it carries Lifeboat's tags ([`Lineage::Tagged`]: RDS copies an instance's tags to its
//!   snapshots under `CopyTagsToSnapshot`, and a copy may bring them along).
//!
//! The prefixes are Lifeboat's in the account (its roles' grants are written on them), and
//! revoking a share is the one thing done on their strength. A DynamoDB table's resource
//! policy is only ever rewritten on a table that carries Lifeboat's marks
//! ([`policy_is_lifeboat_s`]).
//!
//! Pure: the audit lists the snapshots and tables and asks here.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::catalog::parse_point_name;
use crate::inventory::{TAG_INSTANCE, TAG_MANAGED, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE};

/// The names Lifeboat gives the instances and tables it makes: staging, a rollback's kept
/// fallback, an undo's retired instance, a drill's sandbox (see `execution::names` and
/// `drill::plan::sandbox_name`).
pub const MADE_PREFIXES: [&str; 4] = ["lbs-", "lbf-", "lbr-", "lbd-"];
/// The names of the snapshots a restore takes of production (safety, pre-swap), beside the
/// scheduled points' `lifeboat-`.
pub const SNAPSHOT_PREFIXES: [&str; 2] = ["lbsafety-", "lbpre-"];
/// The tags that mark a copy as Lifeboat's or a customer instance's.
pub const LINEAGE_TAGS: [&str; 4] = [TAG_INSTANCE, TAG_RESTORE_REQUEST, TAG_RESTORE_ROLE, TAG_MANAGED];
/// The tables whose resource policy Lifeboat may rewrite, when they carry its marks: its
/// staging tables, drill sandboxes and kept fallbacks (the prefixes its role's grants name).
pub const REWRITABLE_TABLE_PREFIXES: [&str; 3] = ["lbs-", "lbd-", "lbf-"];

/// A manual RDS snapshot as the service describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualSnapshot {
    pub id: String,
    /// The instance it was taken of, by the name that instance had then.
    pub instance: String,
    pub tags: BTreeMap<String, String>,
}

/// Why a copy is guarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lineage {
    Managed,
    Kept,
    MadeByLifeboat,
    NamedByLifeboat,
    Tagged,
}

impl Lineage {
    /// Whether it is swept on its source instance's turn of the daily rotation: a managed or
    /// kept instance's own snapshots, about 90 each, are the bulk. Copies of what Lifeboat
    /// made or of an instance no longer known have no turn of their own and are few: every
    /// run sweeps them.
    pub fn rotates(self) -> bool {
        matches!(self, Lineage::Managed | Lineage::Kept)
    }

    /// In words, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Lineage::Managed => "a snapshot of a managed instance",
            Lineage::Kept => "a snapshot of an instance whose points Lifeboat keeps",
            Lineage::MadeByLifeboat => {
                "a snapshot of an instance Lifeboat made (staging, fallback, retired or drill sandbox)"
            }
            Lineage::NamedByLifeboat => {
                "a snapshot Lifeboat made (a scheduled point, a safety or pre-swap snapshot)"
            }
            Lineage::Tagged => "a snapshot carrying Lifeboat's tags",
        }
    }
}

/// The source instances whose snapshots are guarded by their name alone being known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KnownSources {
    /// RDS instances managed now.
    pub managed: BTreeSet<String>,
    /// RDS instances whose points the catalog keeps.
    pub kept: BTreeSet<String>,
}

/// Why `snapshot` is guarded; `None` when nothing ties it to a customer's data.
pub fn lineage(snapshot: &ManualSnapshot, known: &KnownSources) -> Option<Lineage> {
    if known.managed.contains(&snapshot.instance) {
        Some(Lineage::Managed)
    } else if known.kept.contains(&snapshot.instance) {
        Some(Lineage::Kept)
    } else if is_made_by_lifeboat(&snapshot.instance) {
        Some(Lineage::MadeByLifeboat)
    } else if is_named_by_lifeboat(&snapshot.id) {
        Some(Lineage::NamedByLifeboat)
    } else if LINEAGE_TAGS.iter().any(|t| snapshot.tags.contains_key(*t)) {
        Some(Lineage::Tagged)
    } else {
        None
    }
}

/// Whether an instance or table name is one Lifeboat gives what it makes.
pub fn is_made_by_lifeboat(name: &str) -> bool {
    MADE_PREFIXES.iter().any(|p| has_prefix(name, p))
}

/// Whether a snapshot identifier is one Lifeboat gives its snapshots.
pub fn is_named_by_lifeboat(id: &str) -> bool {
    parse_point_name(id).is_some() || SNAPSHOT_PREFIXES.iter().any(|p| has_prefix(id, p))
}

/// Whether the resource policy of DynamoDB table `table`, with `tags`, is Lifeboat's to
/// rewrite: one of its staging, sandbox or fallback tables that carries its mark
/// (`lifeboat:restore-role`) and not production's (`lifeboat:instance`). A production
/// table's policy is only ever reported: the customer's application may depend on it.
pub fn policy_is_lifeboat_s(table: &str, tags: &BTreeMap<String, String>) -> bool {
    REWRITABLE_TABLE_PREFIXES.iter().any(|p| table.starts_with(p))
        && tags.contains_key(TAG_RESTORE_ROLE)
        && !tags.contains_key(TAG_INSTANCE)
}

/// RDS stores identifiers in lower case, whatever case they were given in.
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ResourceKey;
    use crate::drill::plan::{drill_id, sandbox_name};
    use crate::execution::names::names;
    use crate::schedule::Slot;

    const REQUEST: &str = "rr-1b4e28ba-2fa1-11d2-883f-0016d3cca427";

    fn snapshot(id: &str, instance: &str, tags: &[(&str, &str)]) -> ManualSnapshot {
        ManualSnapshot {
            id: id.into(),
            instance: instance.into(),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    fn known() -> KnownSources {
        KnownSources {
            managed: BTreeSet::from(["acme-db".to_string()]),
            kept: BTreeSet::from(["initech-db".to_string()]),
        }
    }

    #[test]
    fn a_snapshot_of_a_managed_or_kept_instance_is_guarded_whatever_its_name() {
        let by_hand = snapshot("before-upgrade", "acme-db", &[]);
        assert_eq!(lineage(&by_hand, &known()), Some(Lineage::Managed));
        // A final snapshot keeps the deleted instance's name; the catalog still knows it.
        let last = snapshot("initech-db-final", "initech-db", &[]);
        assert_eq!(lineage(&last, &known()), Some(Lineage::Kept));
        assert!(Lineage::Managed.rotates() && Lineage::Kept.rotates());
    }

    #[test]
    fn a_snapshot_of_anything_a_restore_or_a_drill_made_is_guarded() {
        let made = names(REQUEST, &ResourceKey::rds("acme-db"));
        let sandbox = sandbox_name(
            &drill_id("acme", "2026-12-03T06:00:00Z".parse().unwrap()),
            &ResourceKey::rds("acme-db"),
        );
        for instance in [made.staging, made.fallback, made.retired, sandbox] {
            let copy = snapshot("someones-copy", &instance, &[]);
            assert_eq!(
                lineage(&copy, &KnownSources::default()),
                Some(Lineage::MadeByLifeboat),
                "{instance}"
            );
        }
        assert!(!Lineage::MadeByLifeboat.rotates(), "swept on every run");
    }

    #[test]
    fn a_snapshot_named_as_lifeboat_names_its_own_is_guarded_though_the_catalog_never_named_it() {
        let made = names(REQUEST, &ResourceKey::rds("gone-db"));
        let point =
            ResourceKey::rds("gone-db").point_name(Slot::containing("2026-11-28T23:00:00Z".parse().unwrap()));
        for id in [made.safety, made.pre_swap, point] {
            let s = snapshot(&id, "gone-db", &[]);
            assert_eq!(
                lineage(&s, &KnownSources::default()),
                Some(Lineage::NamedByLifeboat),
                "{id}"
            );
        }
        assert_eq!(
            lineage(
                &snapshot("LBSAFETY-1B4E28BA-DB", "db", &[]),
                &KnownSources::default()
            ),
            Some(Lineage::NamedByLifeboat),
            "RDS lower-cases identifiers; a name given in capitals is the same name"
        );
    }

    #[test]
    fn a_snapshot_carrying_lifeboat_s_tags_is_guarded() {
        for tag in LINEAGE_TAGS {
            let s = snapshot("copy-for-analytics", "analytics-db", &[(tag, "x")]);
            assert_eq!(
                lineage(&s, &KnownSources::default()),
                Some(Lineage::Tagged),
                "{tag}"
            );
        }
    }

    #[test]
    fn an_unrelated_snapshot_is_not_guarded() {
        let s = snapshot("analytics-nightly", "analytics-db", &[("team", "data")]);
        assert_eq!(lineage(&s, &known()), None);
        // Prefixes that merely look alike are not Lifeboat's.
        for instance in ["lb-db", "lbsx-db", "lbfdb", "mylbf-db"] {
            assert_eq!(
                lineage(&snapshot("s", instance, &[]), &known()),
                None,
                "{instance}"
            );
        }
        assert_eq!(lineage(&snapshot("lifeboat-notes", "x", &[]), &known()), None);
    }

    #[test]
    fn only_a_marked_staging_sandbox_or_fallback_table_s_policy_is_lifeboat_s_to_rewrite() {
        let marked = BTreeMap::from([(TAG_RESTORE_ROLE.to_string(), "staging".to_string())]);
        let made = names(REQUEST, &ResourceKey::dynamodb("orders"));
        for table in [&made.staging, &made.fallback, "lbd-1234abcd-orders"] {
            assert!(policy_is_lifeboat_s(table, &marked), "{table}");
            assert!(!policy_is_lifeboat_s(table, &BTreeMap::new()), "{table} unmarked");
        }
        let production = BTreeMap::from([
            (TAG_RESTORE_ROLE.to_string(), "staging".to_string()),
            (TAG_INSTANCE.to_string(), "acme".to_string()),
        ]);
        assert!(!policy_is_lifeboat_s(&made.staging, &production));
        assert!(!policy_is_lifeboat_s("orders", &marked), "a production name");
        assert!(
            !policy_is_lifeboat_s(&made.retired, &marked),
            "no grant reaches lbr- tables"
        );
    }
}
