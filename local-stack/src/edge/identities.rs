//! What moto reports unfaithfully of which resource a resource is and where it came from,
//! made faithful on moto's answers as they pass through the edge:
//! - RDS `DbiResourceId`: moto gives every instance (and snapshot) the same one. The edge
//!   reports one per instance made, derived from its creation time (to the microsecond, kept
//!   through renames), as RDS keeps an instance's id through renames and never gives it to
//!   another: an instance deleted and made again under its name has another id; a snapshot
//!   reports its instance's.
//! - DynamoDB `TableId`: moto reports none. The edge reports one per table made, derived from
//!   its ARN and creation time: a table deleted and made again under its name has another.
//! - DynamoDB `RestoreSummary.RestoreDateTime` of a point-in-time restore: moto reports the
//!   table's creation time. The edge reports the instant the `RestoreTableToPointInTime`
//!   call asked for (`RestoreDateTime`), remembered per table it made; a restore to the
//!   latest restorable time keeps moto's (its creation, about the latest restorable time).
//!
//! An answer the edge changes loses moto's `x-amz-crc32` (a checksum of moto's body).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use bytes::Bytes;
use serde_json::Value;

use super::aws_call::AwsCall;
use crate::http::Received;

/// The instants point-in-time restores asked for, by the table they made.
#[derive(Debug, Default)]
pub struct Restores(Mutex<BTreeMap<String, Value>>);

impl Restores {
    fn remember(&self, table: String, asked: Value) {
        self.0.lock().expect("restores lock").insert(table, asked);
    }

    fn asked(&self, table: &str) -> Option<Value> {
        self.0.lock().expect("restores lock").get(table).cloned()
    }
}

/// Moto's answer `body` to `call` (`req`), with the identities and restore times as the
/// services report them; `None` when nothing needed changing.
pub fn faithful(restores: &Restores, call: &AwsCall, req: &Received, body: &[u8]) -> Option<Bytes> {
    match call.service.as_str() {
        "rds" => {
            let text = std::str::from_utf8(body).ok()?;
            text.contains("<DbiResourceId>")
                .then(|| Bytes::from(rds_resource_ids(text)))
        }
        "dynamodb" => {
            let mut doc: Value = serde_json::from_slice(body).ok()?;
            let table = ["Table", "TableDescription"]
                .into_iter()
                .find(|k| doc.get(*k).is_some_and(Value::is_object))?;
            let table = &mut doc[table];
            if call.operation == "RestoreTableToPointInTime" {
                let asked: Option<Value> = serde_json::from_slice::<Value>(&req.body)
                    .ok()
                    .and_then(|r| r.get("RestoreDateTime").cloned());
                if let (Some(asked), Some(key)) = (asked, made_key(table)) {
                    restores.remember(key, asked);
                }
            }
            dynamodb_table(restores, table);
            Some(Bytes::from(doc.to_string()))
        }
        _ => None,
    }
}

/// A table made, by its ARN and creation time (as moto writes it, to the millisecond).
fn made_key(table: &Value) -> Option<String> {
    let arn = table.get("TableArn")?.as_str()?;
    let created = table.get("CreationDateTime")?.as_f64()?;
    Some(format!("{arn}@{created:.3}"))
}

fn dynamodb_table(restores: &Restores, table: &mut Value) {
    let Some(key) = made_key(table) else { return };
    if table.get("TableId").is_none() {
        table["TableId"] = Value::from(uuid::Uuid::from_u64_pair(hash(&key, 1), hash(&key, 2)).to_string());
    }
    let point_in_time = table
        .get("RestoreSummary")
        .is_some_and(|s| s.get("SourceBackupArn").is_none());
    if point_in_time {
        if let Some(asked) = restores.asked(&key) {
            table["RestoreSummary"]["RestoreDateTime"] = asked;
        }
    }
}

/// Each `<DBInstance>` and `<DBSnapshot>` of an RDS answer with the `DbiResourceId` of the
/// instance it is (or is of), from that instance's creation time.
fn rds_resource_ids(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    loop {
        let next = ["<DBInstance>", "<DBSnapshot>"]
            .into_iter()
            .filter_map(|tag| rest.find(tag).map(|at| (at, tag)))
            .min();
        let Some((start, tag)) = next else { break };
        let close = tag.replace('<', "</");
        let Some(length) = rest[start..].find(&close) else {
            break;
        };
        let end = start + length + close.len();
        out.push_str(&rest[..start]);
        out.push_str(&with_resource_id(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn with_resource_id(element: &str) -> String {
    let Some(created) = text_of(element, "InstanceCreateTime") else {
        return element.to_string();
    };
    let id = format!("db-{:016X}{:010X}", hash(created, 1), hash(created, 2) >> 24);
    let (open, close) = ("<DbiResourceId>", "</DbiResourceId>");
    match (element.find(open), element.find(close)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{open}{id}{}", &element[..start], &element[end..])
        }
        _ => element.to_string(),
    }
}

fn text_of<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = element.find(&open)? + open.len();
    let end = start + element[start..].find(&format!("</{name}>"))?;
    Some(&element[start..end])
}

fn hash(value: &str, salt: u8) -> u64 {
    let mut hasher = DefaultHasher::new();
    (salt, value).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, created: &str) -> String {
        format!(
            "<DBInstance><DBInstanceIdentifier>{id}</DBInstanceIdentifier><InstanceCreateTime>{created}</InstanceCreateTime><DbiResourceId>db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U</DbiResourceId></DBInstance>"
        )
    }

    fn resource_ids(body: &str) -> Vec<String> {
        body.split("<DbiResourceId>")
            .skip(1)
            .map(|s| s[..s.find('<').unwrap()].to_string())
            .collect()
    }

    #[test]
    fn each_instance_made_has_its_own_id_kept_through_a_rename_and_given_to_its_snapshots() {
        let body = format!(
            "<R><DBInstances>{}{}{}</DBInstances></R>",
            instance("db", "2026-12-08T02:06:58.830149Z"),
            instance("lbs-1-db", "2026-12-08T02:07:01.136876Z"),
            instance("renamed", "2026-12-08T02:06:58.830149Z"),
        );
        let ids = resource_ids(&rds_resource_ids(&body));
        assert_eq!(ids.len(), 3);
        assert_ne!(ids[0], ids[1], "two instances, two ids");
        assert_eq!(ids[0], ids[2], "the same instance renamed");
        assert!(ids[0].starts_with("db-") && ids[0].len() == 29, "{}", ids[0]);
        let snapshot = "<DBSnapshot><InstanceCreateTime>2026-12-08T02:06:58.830149Z</InstanceCreateTime><DbiResourceId>db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U</DbiResourceId></DBSnapshot>";
        assert_eq!(resource_ids(&rds_resource_ids(snapshot)), [ids[0].clone()]);
    }

    #[test]
    fn a_table_made_again_under_its_name_has_another_id_and_a_restore_its_asked_time() {
        let restores = Restores::default();
        let arn = "arn:aws:dynamodb:us-east-1:123456789012:table/lbs-1-orders";
        let mut first = serde_json::json!({"TableArn": arn, "CreationDateTime": 1796697899.337,
            "RestoreSummary": {"SourceTableArn": "x", "RestoreDateTime": 1796697899.337}});
        let mut again = serde_json::json!({"TableArn": arn, "CreationDateTime": 1796697999.001});
        restores.remember(made_key(&first).unwrap(), Value::from(1796690000));
        dynamodb_table(&restores, &mut first);
        dynamodb_table(&restores, &mut again);
        assert_ne!(first["TableId"], again["TableId"]);
        assert_eq!(first["RestoreSummary"]["RestoreDateTime"], 1796690000);
        let mut described_again = serde_json::json!({"TableArn": arn, "CreationDateTime": 1796697899.337});
        dynamodb_table(&restores, &mut described_again);
        assert_eq!(described_again["TableId"], first["TableId"], "stable");
    }
}
