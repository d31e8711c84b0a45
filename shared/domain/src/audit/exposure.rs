//! Exposure: a copy of a customer's data that someone outside the account can reach. The
//! policy says backups are "not shared with customers" and "not available in a self-serve
//! format", so any sharing of a guarded snapshot (Lifeboat's or anyone's: a restore's safety
//! snapshot, a drill's, an operator's, one of a rollback's kept instance; see [`super::lineage`])
//! is revoked when found, and recorded; so is an open reports bucket. A DynamoDB table's
//! resource policy that lets outsiders in is removed from Lifeboat's own tables and reported
//! on production's.

use serde::{Deserialize, Serialize};

use super::lineage::Lineage;

/// The `restore` attribute's value that makes a snapshot public.
pub const PUBLIC: &str = "all";

/// The values of a snapshot's `restore` attribute that reach outside `own_account`: `all`,
/// and every other account id.
pub fn exposed_to(restorers: &[String], own_account: &str) -> Vec<String> {
    restorers
        .iter()
        .filter(|v| v.as_str() != own_account)
        .cloned()
        .collect()
}

/// What was found exposed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExposureKind {
    /// An RDS snapshot's `restore` attribute.
    #[default]
    Snapshot,
    /// The reports bucket's public-access blocks.
    Bucket,
    /// A statement of a DynamoDB table's resource policy.
    TablePolicy,
}

/// One exposure found, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    #[serde(default)]
    pub kind: ExposureKind,
    /// What was exposed: an RDS snapshot identifier, a bucket, a table (`dynamodb:<name>`).
    pub subject: String,
    /// The resource it belongs to: for a snapshot, the instance it was taken of (`rds:<name>`);
    /// the table; the bucket.
    pub owner: String,
    /// The customer instance whose data it holds, when its tags or the catalog say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Why a snapshot is guarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lineage: Option<Lineage>,
    /// A table policy's statement: its `Sid`, or `#<index>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
    /// Who could reach it: `all` or account ids (for a bucket, what its settings allowed; for
    /// a table, the statement's principals from outside).
    pub exposed_to: Vec<String>,
    /// Whether it was closed (revoked, blocked, the statement removed).
    pub revoked: bool,
    /// Why it could not be closed, when closing failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why Lifeboat leaves it to the operator rather than closing it (a production table's
    /// policy, which the customer's application may depend on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left: Option<String>,
}

impl Exposure {
    /// An exposure as found, not yet closed.
    pub fn found(kind: ExposureKind, subject: String, owner: String, exposed_to: Vec<String>) -> Exposure {
        Exposure {
            kind,
            subject,
            owner,
            instance: None,
            lineage: None,
            statement: None,
            exposed_to,
            revoked: false,
            error: None,
            left: None,
        }
    }

    /// What was found and what became of it, in words (the finding's text).
    pub fn describe(&self) -> String {
        let to = self.exposed_to.join(", ");
        let (what, closed) = match self.kind {
            ExposureKind::Snapshot | ExposureKind::Bucket => {
                (format!("restorable by {to} outside the account"), "revoked")
            }
            ExposureKind::TablePolicy => (
                format!(
                    "its resource policy's statement {} lets {to} outside the account at it",
                    self.statement.as_deref().unwrap_or("?")
                ),
                "removed",
            ),
        };
        let lineage = self
            .lineage
            .map(|l| format!(" ({})", l.describe()))
            .unwrap_or_default();
        let outcome = match (&self.error, &self.left) {
            (Some(error), _) => format!("NOT {closed}: {error}"),
            (None, Some(why)) => format!("left to the operator: {why}"),
            (None, None) if self.revoked => closed.to_string(),
            (None, None) => format!("not {closed} (dry run)"),
        };
        format!("{what}{lineage}: {outcome}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_other_accounts_are_exposure_and_the_own_account_is_not() {
        let values = ["all", "123456789012", "210987654321"].map(String::from);
        assert_eq!(exposed_to(&values, "123456789012"), ["all", "210987654321"]);
        assert!(exposed_to(&["123456789012".to_string()], "123456789012").is_empty());
        assert!(exposed_to(&[], "123456789012").is_empty());
    }

    #[test]
    fn an_exposure_says_what_was_exposed_why_it_is_guarded_and_what_became_of_it() {
        let snapshot = Exposure {
            lineage: Some(Lineage::MadeByLifeboat),
            revoked: true,
            ..Exposure::found(
                ExposureKind::Snapshot,
                "kept-copy".into(),
                "rds:lbf-1b4e28ba-db".into(),
                vec!["all".into()],
            )
        };
        let text = snapshot.describe();
        assert!(
            text.starts_with(
                "restorable by all outside the account (a snapshot of an instance Lifeboat made"
            ),
            "{text}"
        );
        assert!(text.ends_with(": revoked"), "{text}");
        let left = Exposure {
            statement: Some("Partner".into()),
            left: Some("a production table".into()),
            ..Exposure::found(
                ExposureKind::TablePolicy,
                "dynamodb:orders".into(),
                "dynamodb:orders".into(),
                vec!["210987654321".into()],
            )
        };
        assert_eq!(
            left.describe(),
            "its resource policy's statement Partner lets 210987654321 outside the account at it: left to the operator: a production table"
        );
        let failed = Exposure {
            error: Some("AccessDenied".into()),
            ..left.clone()
        };
        assert!(failed.describe().ends_with("NOT removed: AccessDenied"));
        let dry = Exposure { left: None, ..left };
        assert!(dry.describe().ends_with("not removed (dry run)"));
    }
}
