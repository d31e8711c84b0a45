//! Who a caller is: which IAM principals are support and which are engineering (deployment
//! configuration), and the person behind it ([`super::principal`]).
//!
//! Configuration names IAM users and roles by ARN. API Gateway reports a caller that assumed
//! a role as its session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`), so a
//! session matches the role it belongs to (`arn:aws:iam::<account>:role[/<path>]/<role>`).
//!
//! Separation of duties is between people, not principals: one person may hold both the
//! support and the engineering role, and each role's session is another ARN. The person is
//! the role session name (an IAM user's name), compared without regard to case. API
//! Gateway's request context does not carry an assumed role's `SourceIdentity`, so the
//! roles' trust policies must pin session names to people (README, "Who may do what").

use super::lifecycle::{Caller, Role};
use super::principal::{matches, person_of};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    pub support: Vec<String>,
    pub engineering: Vec<String>,
}

impl Roles {
    /// Parses comma-separated ARN lists.
    pub fn from_lists(support: &str, engineering: &str) -> Roles {
        let list = |s: &str| {
            s.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        };
        Roles {
            support: list(support),
            engineering: list(engineering),
        }
    }

    /// The caller `principal` is, with every role configuration gives it.
    pub fn caller(&self, principal: &str) -> Caller {
        let mut roles = Vec::new();
        if self.support.iter().any(|a| matches(a, principal)) {
            roles.push(Role::Support);
        }
        if self.engineering.iter().any(|a| matches(a, principal)) {
            roles.push(Role::Engineering);
        }
        Caller {
            principal: principal.to_string(),
            person: person_of(principal),
            roles,
        }
    }

    /// Whether `principal` is one of the engineering principals (or a session of one).
    pub fn is_engineering(&self, principal: &str) -> bool {
        self.engineering.iter().any(|a| matches(a, principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUPPORT_ROLE: &str = "arn:aws:iam::111122223333:role/teams/Support";
    const ENGINEER: &str = "arn:aws:iam::111122223333:user/dana";

    fn roles() -> Roles {
        Roles::from_lists(&format!(" {SUPPORT_ROLE} ,"), ENGINEER)
    }

    #[test]
    fn a_session_of_a_configured_role_has_the_role() {
        let c = roles().caller("arn:aws:sts::111122223333:assumed-role/Support/alex");
        assert_eq!(c.roles, vec![Role::Support]);
        assert_eq!(c.principal, "arn:aws:sts::111122223333:assumed-role/Support/alex");
    }

    #[test]
    fn users_match_exactly() {
        assert_eq!(roles().caller(ENGINEER).roles, vec![Role::Engineering]);
        assert!(roles()
            .caller("arn:aws:iam::111122223333:user/dan")
            .roles
            .is_empty());
    }

    #[test]
    fn another_account_or_role_name_does_not_match() {
        for p in [
            "arn:aws:sts::999999999999:assumed-role/Support/alex",
            "arn:aws:sts::111122223333:assumed-role/SupportAdmin/alex",
            "arn:aws:sts::111122223333:assumed-role/Support",
        ] {
            assert!(roles().caller(p).roles.is_empty(), "{p}");
        }
    }
}
