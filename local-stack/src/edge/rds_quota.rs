//! The RDS `ManualSnapshots` quota: its use counted from moto's own manual snapshots, its
//! maximum settable through the control API (RDS's default is 100). The edge answers
//! `DescribeAccountAttributes`, which moto does not implement, and refuses a snapshot over
//! the quota with RDS's `SnapshotQuotaExceeded` (moto's own limit is lifted, so that this
//! quota is the one that counts).

use bytes::Bytes;
use hyper::{Response, StatusCode};

use super::Edge;
use crate::http::{self, Body, Received};

pub async fn answer(edge: &Edge, req: &Received) -> Response<Body> {
    let used = match used(edge, req).await {
        Ok(n) => n,
        Err(e) => return http::text(StatusCode::BAD_GATEWAY, &e),
    };
    let max = *edge.rds_snapshot_quota.lock().expect("quota lock");
    let body = format!(
        r#"<DescribeAccountAttributesResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <DescribeAccountAttributesResult>
    <AccountQuotas>
      <AccountQuota><AccountQuotaName>ManualSnapshots</AccountQuotaName><Used>{used}</Used><Max>{max}</Max></AccountQuota>
    </AccountQuotas>
  </DescribeAccountAttributesResult>
  <ResponseMetadata><RequestId>lifeboat-edge</RequestId></ResponseMetadata>
</DescribeAccountAttributesResponse>"#
    );
    http::respond(StatusCode::OK, "text/xml", body.into_bytes())
}

/// RDS's refusal of a `CreateDBSnapshot` or `CopyDBSnapshot` once the quota is used up;
/// `None` lets the call through (also when the use cannot be counted: moto then answers).
pub async fn refusal(edge: &Edge, req: &Received) -> Option<Response<Body>> {
    let used = used(edge, req).await.ok()?;
    let max = *edge.rds_snapshot_quota.lock().expect("quota lock");
    (used >= max).then(|| {
        let (content_type, body) = super::faults::error_body(
            "rds",
            "SnapshotQuotaExceeded",
            "The request cannot be processed because it would exceed the maximum number of snapshots.",
        );
        http::respond(StatusCode::BAD_REQUEST, content_type, body)
    })
}

/// The manual snapshots in use: counted once from moto, then tracked call by call.
async fn used(edge: &Edge, req: &Received) -> Result<u64, String> {
    let known = *edge.rds_manual_snapshots.lock().expect("count lock");
    if let Some(n) = known {
        return Ok(n);
    }
    let n = manual_snapshots(edge, req).await?;
    *edge.rds_manual_snapshots.lock().expect("count lock") = Some(n);
    Ok(n)
}

/// Counts moto's manual DB snapshots, page by page.
async fn manual_snapshots(edge: &Edge, original: &Received) -> Result<u64, String> {
    let mut count = 0;
    let mut marker: Option<String> = None;
    loop {
        let mut form =
            String::from("Action=DescribeDBSnapshots&Version=2014-10-31&SnapshotType=manual&MaxRecords=100");
        if let Some(m) = &marker {
            form.push_str("&Marker=");
            form.push_str(
                &m.replace('%', "%25")
                    .replace('&', "%26")
                    .replace('=', "%3D")
                    .replace('+', "%2B"),
            );
        }
        let req = Received {
            method: hyper::Method::POST,
            uri: "/".parse().expect("static URI"),
            headers: original.headers.clone(),
            body: Bytes::from(form),
        };
        let (status, _, body) = edge.forward(&req).await;
        let text = String::from_utf8_lossy(&body);
        if !status.is_success() {
            return Err(format!("counting snapshots in moto failed ({status}): {text}"));
        }
        count += text.matches("<DBSnapshot>").count() as u64;
        marker = between(&text, "<Marker>", "</Marker>").filter(|m| !m.is_empty());
        if marker.is_none() {
            return Ok(count);
        }
    }
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].to_string())
}
