//! What an AWS request is: who sent it, to which service, which operation, about what.

use crate::http::Received;

/// The identity of one AWS API call, read from the request alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsCall {
    /// The access key id, which the local stack sets to the function's name.
    pub caller: String,
    /// The SigV4 service name (`rds`, `dynamodb`, `s3`, `tagging`, `lambda`, ...).
    pub service: String,
    pub operation: String,
    /// The resource the call is about, when the request names one (identifier, table, key).
    pub target: String,
}

/// Request parameters that name the resource a call is about, in order of preference.
const TARGET_PARAMS: &[&str] = &[
    "DBSnapshotIdentifier",
    "DBInstanceIdentifier",
    "TableName",
    "BackupArn",
    "BackupName",
    // Restores name their new instance or table so.
    "TargetDBInstanceIdentifier",
    "TargetTableName",
    // Tags and resource policies name their resource by ARN (RDS `ResourceName`, DynamoDB
    // `ResourceArn`).
    "ResourceName",
    "ResourceArn",
];

impl AwsCall {
    /// Only the SigV4 service of a request (its headers, not its body): cheaper than
    /// [`AwsCall::of`] where that is all a decision needs.
    pub fn service_of(req: &Received) -> String {
        credential_scope(req).map_or_else(|| "unknown".into(), |(_, service)| service)
    }

    pub fn of(req: &Received) -> AwsCall {
        let (caller, service) =
            credential_scope(req).unwrap_or_else(|| ("anonymous".into(), "unknown".into()));
        let is_form =
            (req.header("content-type").unwrap_or_default()).starts_with("application/x-www-form-urlencoded");
        let form = if is_form {
            form_params(&req.body)
        } else {
            Vec::new()
        };
        let json: Option<serde_json::Value> = req
            .header("x-amz-target")
            .and_then(|_| serde_json::from_slice(&req.body).ok());
        let operation = if let Some(target) = req.header("x-amz-target") {
            target.rsplit('.').next().unwrap_or(target).to_string()
        } else if let Some((_, action)) = form.iter().find(|(k, _)| k == "Action") {
            action.clone()
        } else {
            rest_operation(&service, req)
        };
        let target = TARGET_PARAMS
            .iter()
            .find_map(|p| {
                form.iter()
                    .find(|(k, _)| k == p)
                    .map(|(_, v)| v.clone())
                    .or_else(|| json.as_ref()?.get(*p)?.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| {
                if service == "s3" {
                    req.path().to_string()
                } else {
                    String::new()
                }
            });
        AwsCall {
            caller,
            service,
            operation,
            target,
        }
    }
}

/// `Credential=AKID/DATE/REGION/SERVICE/aws4_request` → (AKID, SERVICE).
fn credential_scope(req: &Received) -> Option<(String, String)> {
    let auth = req.header("authorization")?;
    let cred = auth.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    let parts: Vec<&str> = cred.split('/').collect();
    (parts.len() >= 5).then(|| (parts[0].to_string(), parts[3].to_string()))
}

/// The operation of a REST-style call (S3, Lambda), from its method and path.
fn rest_operation(service: &str, req: &Received) -> String {
    let path = req.path();
    let segments = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .count();
    let method = req.method.as_str();
    match service {
        "lambda" if path.ends_with("/invocations") => "Invoke".into(),
        "s3" => match (method, segments) {
            ("PUT", 1) => "CreateBucket".into(),
            ("PUT", _) => "PutObject".into(),
            ("GET", 0) => "ListBuckets".into(),
            ("GET", 1) => "ListObjects".into(),
            ("GET", _) => "GetObject".into(),
            ("HEAD", _) => "HeadObject".into(),
            ("DELETE", 1) => "DeleteBucket".into(),
            ("DELETE", _) => "DeleteObject".into(),
            _ => format!("{method} {path}"),
        },
        _ => format!("{method} {path}"),
    }
}

/// Decodes an `application/x-www-form-urlencoded` body.
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3]).map(|h| u8::from_str_radix(h, 16)) {
                    Ok(Ok(b)) => {
                        out.push(b);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        let p = form_params(b"Action=CreateDBSnapshot&DBSnapshotIdentifier=lifeboat-db-20261128t0300z&Tags.member.1.Value=a%3Ab+c");
        assert_eq!(p[0], ("Action".into(), "CreateDBSnapshot".into()));
        assert_eq!(p[2].1, "a:b c");
    }
}
