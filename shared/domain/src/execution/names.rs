//! The names of what a restore creates, derived from the request and the production
//! resource, so a retried step finds what an earlier try made and cleanup can only ever
//! match resources of this request.
//!
//! None starts with `lifeboat-`, the prefix of scheduled points, so the pruner never adopts
//! a safety snapshot as a scheduled one.

use crate::catalog::{ResourceKey, ResourceKind};

/// RDS instance identifiers: at most 63 letters, digits and hyphens.
const RDS_MAX: usize = 63;

/// What a restore of one production resource names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreNames {
    /// The snapshot (RDS) or on-demand backup (DynamoDB) of production taken first.
    pub safety: String,
    /// Where the recovery point is restored.
    pub staging: String,
    /// RDS: production renamed aside by the swap. DynamoDB: the table the pre-swap backup
    /// is restored into if a failed swap must be undone.
    pub fallback: String,
    /// DynamoDB: the backup of the live table taken when the swap starts, after the
    /// confirmation (RDS keeps production itself, renamed, as the fallback).
    pub pre_swap: String,
    /// RDS: where an undo puts the restored instance once it has carried production's name
    /// (it holds what production took meanwhile, so it is kept, never deleted). No grant of
    /// the executor's role can delete a `lbr-` instance.
    pub retired: String,
}

/// The short tag of a request in names: the first 8 letters or digits of its id after `rr-`.
pub fn short_id(request_id: &str) -> String {
    request_id
        .trim_start_matches("rr-")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(8)
        .collect::<String>()
        .to_ascii_lowercase()
}

pub fn names(request_id: &str, resource: &ResourceKey) -> RestoreNames {
    let short = short_id(request_id);
    match resource.kind {
        ResourceKind::RdsInstance => RestoreNames {
            safety: format!("lbsafety-{short}-{}", resource.name),
            staging: rds_identifier(&format!("lbs-{short}-{}", resource.name)),
            fallback: rds_identifier(&format!("lbf-{short}-{}", resource.name)),
            pre_swap: format!("lbpre-{short}-{}", resource.name),
            retired: rds_identifier(&format!("lbr-{short}-{}", resource.name)),
        },
        // Prefixed like RDS's, so that IAM can grant deletes on `lbs-*` and `lbf-*` tables
        // only: a production table can never match.
        ResourceKind::DynamoTable => RestoreNames {
            safety: format!("lbsafety-{short}-{}", resource.name),
            staging: table_name(&format!("lbs-{short}-{}", resource.name)),
            fallback: table_name(&format!("lbf-{short}-{}", resource.name)),
            pre_swap: format!("lbpre-{short}-{}", resource.name),
            retired: table_name(&format!("lbr-{short}-{}", resource.name)),
        },
    }
}

/// Truncated to DynamoDB's 255 characters.
pub(crate) fn table_name(name: &str) -> String {
    name.chars().take(255).collect()
}

/// Truncated to RDS's limit, without a trailing or doubled hyphen.
pub(crate) fn rds_identifier(name: &str) -> String {
    let mut out = String::with_capacity(RDS_MAX);
    for c in name.chars().take(RDS_MAX) {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::parse_point_name;

    const ID: &str = "rr-1B4E28BA-2fa1-11d2-883f-0016d3cca427";

    #[test]
    fn rds_names_are_valid_identifiers() {
        let long = ResourceKey::rds("a".repeat(80));
        for key in [ResourceKey::rds("db"), long, ResourceKey::rds("x-")] {
            let n = names(ID, &key);
            for id in [&n.staging, &n.fallback] {
                assert!(
                    id.len() <= RDS_MAX && !id.ends_with('-') && !id.contains("--"),
                    "{id}"
                );
                assert!(id.starts_with(char::is_alphabetic), "{id}");
            }
        }
        let n = names(ID, &ResourceKey::rds("db"));
        assert_eq!(n.staging, "lbs-1b4e28ba-db");
        assert_eq!(n.fallback, "lbf-1b4e28ba-db");
        assert_eq!(n.safety, "lbsafety-1b4e28ba-db");
    }

    #[test]
    fn dynamodb_tables_are_prefixed_like_rds_instances() {
        let n = names(ID, &ResourceKey::dynamodb("orders"));
        assert_eq!(n.staging, "lbs-1b4e28ba-orders");
        assert_eq!(n.fallback, "lbf-1b4e28ba-orders");
        let long = names(ID, &ResourceKey::dynamodb("t".repeat(255)));
        assert_eq!(long.staging.len(), 255);
    }

    #[test]
    fn the_retired_instance_has_a_prefix_of_its_own() {
        let n = names(ID, &ResourceKey::rds("db"));
        assert_eq!(n.retired, "lbr-1b4e28ba-db");
    }

    #[test]
    fn safety_snapshots_are_never_taken_for_scheduled_points() {
        let n = names(ID, &ResourceKey::rds("db"));
        assert_eq!(parse_point_name(&n.safety), None);
        assert_eq!(parse_point_name(&n.pre_swap), None);
    }
}
