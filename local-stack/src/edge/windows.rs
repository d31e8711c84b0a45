//! Continuous-backup (point-in-time) windows, which moto does not keep: its RDS instances
//! have no automated backups, and its DynamoDB tables report a window that never moves.
//! Tests set the window a resource should report through the control API
//! (`PUT /_lifeboat/restorable-windows/{rds:<id>|dynamodb:<table>}` with
//! `{"earliest": …, "latest": …}`), and the edge answers with it:
//! - RDS `DescribeDBInstanceAutomatedBackups` for that instance: one active automated backup
//!   with that restore window;
//! - DynamoDB `DescribeContinuousBackups` for that table: moto's answer with the window's
//!   times in place of its own (status and recovery period stay moto's).

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::aws_call::AwsCall;
use super::Edge;
use crate::http::{self, Body, Received};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Window {
    pub earliest: DateTime<Utc>,
    pub latest: DateTime<Utc>,
}

/// Windows by resource key (`rds:<id>`, `dynamodb:<table>`).
#[derive(Debug, Default)]
pub struct Windows(Mutex<BTreeMap<String, Window>>);

impl Windows {
    pub fn set(&self, resource: &str, window: Window) {
        self.0
            .lock()
            .expect("windows lock")
            .insert(resource.to_string(), window);
    }

    pub fn clear(&self) {
        self.0.lock().expect("windows lock").clear();
    }

    fn get(&self, resource: &str) -> Option<Window> {
        self.0.lock().expect("windows lock").get(resource).copied()
    }
}

/// The edge's answer to `call`, when it is about a resource with a set window.
pub async fn answer(edge: &Edge, call: &AwsCall, req: &Received) -> Option<Response<Body>> {
    match (call.service.as_str(), call.operation.as_str()) {
        ("rds", "DescribeDBInstanceAutomatedBackups") => {
            let window = edge.windows.get(&format!("rds:{}", call.target))?;
            Some(rds_automated_backups(&call.target, window))
        }
        ("dynamodb", "DescribeContinuousBackups") => {
            let window = edge.windows.get(&format!("dynamodb:{}", call.target))?;
            let (status, headers, body) = edge.forward(req).await;
            if !status.is_success() {
                return Some(super::rebuild(status, &headers, body));
            }
            Some(super::rebuild(status, &headers, dynamodb_window(&body, window)))
        }
        _ => None,
    }
}

fn rds_automated_backups(instance: &str, w: Window) -> Response<Body> {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let body = format!(
        r#"<DescribeDBInstanceAutomatedBackupsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeDBInstanceAutomatedBackupsResult>
    <DBInstanceAutomatedBackups>
      <DBInstanceAutomatedBackup>
        <DBInstanceIdentifier>{instance}</DBInstanceIdentifier>
        <Status>active</Status>
        <RestoreWindow><EarliestTime>{}</EarliestTime><LatestTime>{}</LatestTime></RestoreWindow>
      </DBInstanceAutomatedBackup>
    </DBInstanceAutomatedBackups>
  </DescribeDBInstanceAutomatedBackupsResult>
  <ResponseMetadata><RequestId>lifeboat-edge</RequestId></ResponseMetadata>
</DescribeDBInstanceAutomatedBackupsResponse>"#,
        time(w.earliest),
        time(w.latest)
    );
    http::respond(StatusCode::OK, "text/xml", body.into_bytes())
}

fn dynamodb_window(body: &[u8], w: Window) -> Bytes {
    let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
        return Bytes::copy_from_slice(body);
    };
    let pitr = &mut doc["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"];
    if pitr["PointInTimeRecoveryStatus"] == "ENABLED" {
        let epoch = |t: DateTime<Utc>| Value::from(t.timestamp_millis() as f64 / 1000.0);
        pitr["EarliestRestorableDateTime"] = epoch(w.earliest);
        pitr["LatestRestorableDateTime"] = epoch(w.latest);
    }
    Bytes::from(doc.to_string())
}
