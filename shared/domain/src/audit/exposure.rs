//! Exposure: a backup that someone outside the account can restore. The policy says backups
//! are "not shared with customers" and "not available in a self-serve format", so any
//! sharing of a managed resource's snapshot (Lifeboat's or anyone's: a restore's safety
//! snapshot, a drill's, an operator's) is revoked when found, and recorded.

use serde::{Deserialize, Serialize};

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

/// One exposure found, and what was done about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// What was exposed: an RDS snapshot identifier or a bucket.
    pub subject: String,
    /// The managed resource it belongs to (for a snapshot) or the bucket.
    pub owner: String,
    /// Who could reach it: `all` or account ids (for a bucket, what its settings allowed).
    pub exposed_to: Vec<String>,
    pub revoked: bool,
    /// Why it could not be revoked, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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
}
