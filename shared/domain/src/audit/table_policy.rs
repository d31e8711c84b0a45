//! A DynamoDB table's resource policy, read for the statements that let someone outside the
//! account (and the accounts it trusts) at the table: `"Principal": "*"`, `{"AWS": "*"}`,
//! another account's id or ARN, a federated or canonical user, `NotPrincipal` (everyone but
//! a few). A condition does not close such a statement unless it pins `aws:PrincipalAccount`
//! or `aws:SourceAccount` to trusted accounts only: any other condition (a source IP, a VPC
//! endpoint, an organization) still lets some outsider in, and telling which is beyond a
//! reading. Service principals (`{"Service": ...}`) act for the account and are not counted.
//!
//! [`outside_grants`] finds them; [`without`] is the policy with them taken out (`None` when
//! no statement is left), for the tables whose policy Lifeboat may rewrite.
//!
//! Pure: the audit reads the policy through its port and decides here.

use serde_json::{Map, Value};

/// A statement that lets principals outside the account at the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideGrant {
    /// Its position in the policy's statements.
    pub index: usize,
    /// Its `Sid`, or `#<index>` when it has none.
    pub statement: String,
    /// Who it lets in from outside: `*`, account ids, ARNs, `everyone but …`.
    pub principals: Vec<String>,
}

/// A policy that is not the JSON of a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the resource policy cannot be read: {0}")]
pub struct PolicyError(String);

/// The condition keys that, pinned to trusted accounts, keep a statement inside.
const ACCOUNT_KEYS: [&str; 2] = ["aws:principalaccount", "aws:sourceaccount"];
/// The condition operators that pin a key to the values they list.
const PINNING: [&str; 3] = ["stringequals", "stringequalsignorecase", "stringlike"];

/// The statements of `document` that allow principals outside `inside` (the account and
/// the accounts it trusts), in order.
pub fn outside_grants(document: &str, inside: &[&str]) -> Result<Vec<OutsideGrant>, PolicyError> {
    let policy = parse(document)?;
    Ok(statements(&policy)?
        .iter()
        .enumerate()
        .filter_map(|(index, statement)| {
            let principals = outsiders(statement, inside);
            (!principals.is_empty()).then(|| OutsideGrant {
                index,
                statement: statement
                    .get("Sid")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map_or_else(|| format!("#{index}"), str::to_string),
                principals,
            })
        })
        .collect())
}

/// `document` without the statements of `grants`; `None` when none is left (the policy
/// is then deleted rather than written empty, which DynamoDB refuses).
pub fn without(document: &str, grants: &[OutsideGrant]) -> Result<Option<String>, PolicyError> {
    let mut policy = parse(document)?;
    let kept: Vec<Value> = statements(&policy)?
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !grants.iter().any(|g| g.index == *i))
        .map(|(_, s)| s.clone())
        .collect();
    if kept.is_empty() {
        return Ok(None);
    }
    policy.insert("Statement".into(), Value::Array(kept));
    Ok(Some(Value::Object(policy).to_string()))
}

fn parse(document: &str) -> Result<Map<String, Value>, PolicyError> {
    match serde_json::from_str(document) {
        Ok(Value::Object(policy)) => Ok(policy),
        Ok(_) => Err(PolicyError("it is not a JSON object".into())),
        Err(e) => Err(PolicyError(e.to_string())),
    }
}

/// The policy's statements: IAM takes one statement or a list.
fn statements(policy: &Map<String, Value>) -> Result<Vec<&Value>, PolicyError> {
    match policy.get("Statement") {
        Some(Value::Array(all)) => Ok(all.iter().collect()),
        Some(one @ Value::Object(_)) => Ok(vec![one]),
        _ => Err(PolicyError(
            "field `Statement` must be a statement or a list of them".into(),
        )),
    }
}

/// Who `statement` lets in from outside `inside`; empty for a `Deny`, or an `Allow` that
/// stays inside.
fn outsiders(statement: &Value, inside: &[&str]) -> Vec<String> {
    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return Vec::new();
    }
    if pinned_inside(statement.get("Condition"), inside) {
        return Vec::new();
    }
    if let Some(not) = statement.get("NotPrincipal") {
        let but: Vec<String> = principal_values(not).into_iter().map(|(_, v)| v).collect();
        return vec![format!("everyone but {}", but.join(", "))];
    }
    let Some(principal) = statement.get("Principal") else {
        return Vec::new();
    };
    principal_values(principal)
        .into_iter()
        .filter(|(kind, value)| match kind.as_str() {
            "Service" => false,
            "AWS" => account_of(value).is_none_or(|account| !inside.contains(&account)),
            // Federated and canonical users, and any kind IAM may add, are not the account's.
            _ => true,
        })
        .map(|(_, value)| value)
        .collect()
}

/// `Principal`'s values with their kind: `"*"` is everyone (`AWS`).
fn principal_values(principal: &Value) -> Vec<(String, String)> {
    match principal {
        Value::String(s) => vec![("AWS".to_string(), s.clone())],
        Value::Object(kinds) => kinds
            .iter()
            .flat_map(|(kind, values)| strings(values).into_iter().map(move |v| (kind.clone(), v)))
            .collect(),
        other => vec![("AWS".to_string(), other.to_string())],
    }
}

/// The account an `AWS` principal names: a 12-digit id, or an IAM or STS ARN's account.
/// `None` for `*` and what cannot be read (both count as outside).
fn account_of(principal: &str) -> Option<&str> {
    let account = match principal.strip_prefix("arn:") {
        Some(arn) => arn.split(':').nth(3)?,
        None => principal,
    };
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
}

/// Whether `condition` pins an account key to accounts `inside` only, under an operator
/// that matches exactly.
fn pinned_inside(condition: Option<&Value>, inside: &[&str]) -> bool {
    let Some(Value::Object(operators)) = condition else {
        return false;
    };
    operators.iter().any(|(operator, keys)| {
        PINNING.contains(&operator.to_ascii_lowercase().as_str())
            && keys.as_object().is_some_and(|keys| {
                keys.iter().any(|(key, values)| {
                    let values = strings(values);
                    ACCOUNT_KEYS.contains(&key.to_ascii_lowercase().as_str())
                        && !values.is_empty()
                        && values
                            .iter()
                            .all(|v| !v.contains(['*', '?']) && inside.contains(&v.as_str()))
                })
            })
    })
}

/// A value or a list of values, as strings.
fn strings(values: &Value) -> Vec<String> {
    match values {
        Value::Array(all) => all
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        Value::String(s) => vec![s.clone()],
        other => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const OWN: &str = "123456789012";
    const DR: &str = "444455556666";
    const INSIDE: [&str; 2] = [OWN, DR];

    fn grants(policy: Value) -> Vec<(String, Vec<String>)> {
        outside_grants(&policy.to_string(), &INSIDE)
            .unwrap()
            .into_iter()
            .map(|g| (g.statement, g.principals))
            .collect()
    }

    /// As the DynamoDB console writes a policy: an id, a version, a list of statements.
    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Id": "table-policy", "Statement": statements})
    }

    #[test]
    fn everyone_and_other_accounts_are_outside_the_account_and_its_own_principals_are_not() {
        let p = policy(json!([
            {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem",
             "Resource": "arn:aws:dynamodb:eu-west-1:123456789012:table/lbs-1b4e28ba-orders"},
            {"Sid": "AnyAws", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "dynamodb:Scan", "Resource": "*"},
            {"Sid": "Partner", "Effect": "Allow",
             "Principal": {"AWS": ["arn:aws:iam::210987654321:role/reader", "arn:aws:iam::123456789012:role/app", "999988887777"]},
             "Action": ["dynamodb:Query"], "Resource": "*"},
            {"Sid": "OwnApp", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "dynamodb:*", "Resource": "*"},
            {"Sid": "Dr", "Effect": "Allow", "Principal": {"AWS": "arn:aws:sts::444455556666:assumed-role/dr/x"}, "Action": "dynamodb:*", "Resource": "*"},
            {"Sid": "NoPublic", "Effect": "Deny", "Principal": "*", "Action": "dynamodb:*", "Resource": "*"}
        ]));
        assert_eq!(
            grants(p),
            [
                ("Public".to_string(), vec!["*".to_string()]),
                ("AnyAws".to_string(), vec!["*".to_string()]),
                (
                    "Partner".to_string(),
                    vec![
                        "arn:aws:iam::210987654321:role/reader".to_string(),
                        "999988887777".to_string()
                    ]
                ),
            ]
        );
    }

    #[test]
    fn a_condition_closes_a_statement_only_when_it_pins_the_principal_s_account_inside() {
        let open_to_all = |condition: Value| {
            policy(
                json!({"Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": "*", "Condition": condition}),
            )
        };
        for closed in [
            json!({"StringEquals": {"aws:PrincipalAccount": OWN}}),
            json!({"StringEquals": {"aws:SourceAccount": [OWN, DR]}}),
            json!({"StringEqualsIgnoreCase": {"AWS:PRINCIPALACCOUNT": OWN}, "Bool": {"aws:SecureTransport": "true"}}),
        ] {
            assert!(grants(open_to_all(closed.clone())).is_empty(), "{closed}");
        }
        for open in [
            json!({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}),
            json!({"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}),
            json!({"StringEquals": {"aws:PrincipalAccount": [OWN, "210987654321"]}}),
            json!({"StringLike": {"aws:PrincipalAccount": "1234*"}}),
            json!({"StringNotEquals": {"aws:PrincipalAccount": "210987654321"}}),
            json!({"ForAllValues:StringEquals": {"aws:PrincipalAccount": OWN}}),
        ] {
            assert_eq!(
                grants(open_to_all(open.clone())),
                [("#0".to_string(), vec!["*".to_string()])],
                "{open}"
            );
        }
    }

    #[test]
    fn federated_users_and_not_principal_are_outside_and_services_are_not() {
        let p = policy(json!([
            {"Effect": "Allow", "Principal": {"Service": "dynamodb.amazonaws.com"}, "Action": "dynamodb:*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Action": "dynamodb:GetItem", "Resource": "*"},
            {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "dynamodb:GetItem", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "not-an-arn"}, "Action": "dynamodb:GetItem", "Resource": "*"}
        ]));
        assert_eq!(
            grants(p),
            [
                (
                    "#1".to_string(),
                    vec!["cognito-identity.amazonaws.com".to_string()]
                ),
                (
                    "#2".to_string(),
                    vec!["everyone but arn:aws:iam::123456789012:root".to_string()]
                ),
                ("#3".to_string(), vec!["not-an-arn".to_string()]),
            ]
        );
    }

    #[test]
    fn the_outside_statements_are_taken_out_and_the_rest_kept_as_it_was() {
        let p = policy(json!([
            {"Sid": "OwnApp", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"}, "Action": "dynamodb:*", "Resource": "*"},
            {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "dynamodb:GetItem", "Resource": "*"}
        ]))
        .to_string();
        let found = outside_grants(&p, &INSIDE).unwrap();
        let rest: Value = serde_json::from_str(&without(&p, &found).unwrap().unwrap()).unwrap();
        assert_eq!(rest["Id"], "table-policy");
        assert_eq!(rest["Version"], "2012-10-17");
        assert_eq!(rest["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(rest["Statement"][0]["Sid"], "OwnApp");
        assert!(outside_grants(&rest.to_string(), &INSIDE).unwrap().is_empty());
    }

    #[test]
    fn a_policy_whose_every_statement_is_outside_leaves_nothing_to_write() {
        let single =
            policy(json!({"Effect": "Allow", "Principal": "*", "Action": "dynamodb:*", "Resource": "*"}))
                .to_string();
        let found = outside_grants(&single, &INSIDE).unwrap();
        assert_eq!(found[0].statement, "#0");
        assert_eq!(without(&single, &found).unwrap(), None);
    }

    #[test]
    fn a_document_that_is_no_policy_is_an_error_naming_what_is_wrong() {
        assert!(outside_grants("not json", &INSIDE).is_err());
        let e = outside_grants(r#"{"Version": "2012-10-17"}"#, &INSIDE).unwrap_err();
        assert!(e.to_string().contains("Statement"), "{e}");
    }
}
