//! IAM principals as API Gateway reports them: which configured role a session belongs to,
//! and which person is behind a principal.
//!
//! The person is the role session name (an IAM user's name), compared without regard to
//! case: `assumed-role/lifeboat-support/robin` and `assumed-role/lifeboat-engineering/robin`
//! are one person. API Gateway's request context does not carry an assumed role's
//! `SourceIdentity`, so the roles' trust policies must pin session names to people.

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
pub fn matches(arn: &str, principal: &str) -> bool {
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
        assert_eq!(person_of("arn:aws:iam::111122223333:user/dana"), "dana");
        assert_eq!(person_of("arn:aws:iam::111122223333:user/team/Dana"), "dana");
        assert_eq!(person_of("someone"), "someone");
        assert!(is_person(support) && is_person("arn:aws:iam::111122223333:user/dana"));
        assert!(
            !is_person("arn:aws:iam::111122223333:role/teams/Support"),
            "a role names no one"
        );
        assert!(!is_person("robin"));
    }
}
