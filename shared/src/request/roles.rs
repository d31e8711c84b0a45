//! Who a caller is: which IAM principals are support and which are engineering (deployment
//! configuration), and which person is behind a principal.
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

/// The person behind `principal`: a role session's name or an IAM user's name, in lower
/// case; anything else is its own person.
pub fn person_of(principal: &str) -> String {
    let name = assumed_role(principal)
        .map(|(_, _, session)| session)
        .or_else(|| iam_name(principal, "user").map(|(_, name)| name))
        .unwrap_or(principal);
    name.to_lowercase()
}

/// Whether `principal` names a person: a role's session or an IAM user (a role's own ARN,
/// say, names no one).
pub fn is_person(principal: &str) -> bool {
    assumed_role(principal).is_some() || iam_name(principal, "user").is_some()
}

/// Whether principals `a` and `b` are the same person.
pub fn same_person(a: &str, b: &str) -> bool {
    person_of(a) == person_of(b)
}

/// Whether `principal` is the configured `arn`, or a session of the configured role.
fn matches(arn: &str, principal: &str) -> bool {
    if arn == principal {
        return true;
    }
    let (Some(role), Some((account, session_role, _))) = (iam_name(arn, "role"), assumed_role(principal))
    else {
        return false;
    };
    role.0 == account && role.1 == session_role
}

/// The account and resource of an ARN of `service` (`arn:<partition>:<service>::<account>:<resource>`).
fn arn_parts<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str)> {
    let (_partition, rest) = arn.strip_prefix("arn:")?.split_once(':')?;
    let rest = rest.strip_prefix(service)?.strip_prefix("::")?;
    rest.split_once(':')
}

/// `arn:aws:iam::<account>:<kind>[/<path>]/<name>` → (account, name), for `kind` `role` or `user`.
fn iam_name<'a>(arn: &'a str, kind: &str) -> Option<(&'a str, &'a str)> {
    let (account, resource) = arn_parts(arn, "iam")?;
    let path = resource.strip_prefix(kind)?.strip_prefix('/')?;
    Some((account, path.rsplit('/').next()?))
}

/// `arn:aws:sts::<account>:assumed-role/<name>/<session>` → (account, name, session).
fn assumed_role(arn: &str) -> Option<(&str, &str, &str)> {
    let (account, resource) = arn_parts(arn, "sts")?;
    let (name, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (!session.is_empty()).then_some((account, name, session))
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
    fn the_person_is_the_session_name_whatever_the_role() {
        let support = "arn:aws:sts::111122223333:assumed-role/lifeboat-support/Robin";
        let engineering = "arn:aws:sts::111122223333:assumed-role/lifeboat-engineering/robin";
        assert_eq!(person_of(support), "robin");
        assert!(same_person(support, engineering));
        assert!(!same_person(
            support,
            "arn:aws:sts::111122223333:assumed-role/lifeboat-engineering/alex"
        ));
        assert_eq!(person_of(ENGINEER), "dana");
        assert_eq!(person_of("arn:aws:iam::111122223333:user/team/Dana"), "dana");
        assert_eq!(person_of("someone"), "someone");
        assert_eq!(roles().caller(support).person, "robin");
        assert!(is_person(support) && is_person(ENGINEER));
        assert!(!is_person(SUPPORT_ROLE), "a role names no one");
        assert!(!is_person("robin"));
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
