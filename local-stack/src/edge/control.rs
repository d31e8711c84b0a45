//! The edge's control API, `/_lifeboat/…`: what tests, the simulation and a person at
//! `lifeboat-local up` ask of the local stack (the call ledger, faults, quotas, restorable
//! windows, function processes). One table of routes, each a method, a path whose `{…}`
//! segments are captured, and a handler.

use hyper::{Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::faults::FaultRule;
use super::rate_limit::Limit;
use super::windows::Window;
use super::Edge;
use crate::http::{self, Body, Received};

/// A handler: the edge, the request, and the path's captured segments in order.
type Handler = fn(&Edge, &Received, &[&str]) -> Response<Body>;

const ROUTES: &[(&str, &str, Handler)] = &[
    ("GET", "calls", |edge, _, _| {
        ok(json!({"calls": edge.ledger.log()}))
    }),
    ("DELETE", "calls", |edge, _, _| {
        edge.ledger.clear();
        ok(json!({}))
    }),
    ("GET", "faults", |edge, _, _| {
        ok(json!({"faults": edge.faults.list()}))
    }),
    ("POST", "faults", |edge, req, _| {
        match body::<FaultRule>(req, "a fault rule") {
            Ok(rule) => {
                edge.faults.add(rule);
                http::json(StatusCode::CREATED, &json!({}))
            }
            Err(e) => bad_request(e),
        }
    }),
    ("DELETE", "faults", |edge, _, _| {
        edge.faults.clear();
        ok(json!({}))
    }),
    ("GET", "rate-limits", |edge, _, _| {
        ok(json!({"limits": edge.rate_limits.list()}))
    }),
    ("PUT", "rate-limits", |edge, req, _| {
        match body::<RateLimitsBody>(
            req,
            "{\"limits\": [{\"service\", \"operations\", \"per_second\", \"burst\"}]}",
        ) {
            Ok(RateLimitsBody { limits }) => match edge.rate_limits.set(limits) {
                Ok(()) => ok(json!({"limits": edge.rate_limits.list()})),
                Err(e) => bad_request(e),
            },
            Err(e) => bad_request(e),
        }
    }),
    (
        "PUT",
        "quotas/rds-manual-snapshots",
        |edge, req, _| match body::<Value>(req, "{\"max\": <number>}").map(|v| v["max"].as_u64()) {
            Ok(Some(max)) => {
                edge.set_rds_snapshot_quota(max);
                ok(json!({"max": max}))
            }
            Ok(None) => bad_request("expected {\"max\": <number>}".into()),
            Err(e) => bad_request(e),
        },
    ),
    (
        "PUT",
        "restorable-windows/{resource}",
        |edge, req, params| match body::<Window>(req, "{\"earliest\": …, \"latest\": …}") {
            Ok(window) => {
                edge.windows.set(params[0], window);
                ok(json!({}))
            }
            Err(e) => bad_request(e),
        },
    ),
    ("DELETE", "restorable-windows", |edge, _, _| {
        edge.windows.clear();
        ok(json!({}))
    }),
    ("POST", "functions/{name}/kill", |edge, _, params| {
        match edge.function(params[0]) {
            Some(host) => {
                host.kill();
                ok(json!({}))
            }
            None => http::json(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("no function {}", params[0])}),
            ),
        }
    }),
];

pub(super) fn answer(edge: &Edge, req: &Received) -> Response<Body> {
    let path = req.path().trim_start_matches("/_lifeboat/").trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').collect();
    for (method, pattern, handler) in ROUTES {
        if *method == req.method.as_str() {
            if let Some(params) = captures(pattern, &segments) {
                return handler(edge, req, &params);
            }
        }
    }
    http::json(
        StatusCode::NOT_FOUND,
        &json!({"error": format!("no control endpoint {} {path}", req.method)}),
    )
}

/// `PUT rate-limits`: the limits that replace the edge's (none switches metering off).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitsBody {
    limits: Vec<Limit>,
}

/// The segments `pattern`'s `{…}` parts capture, if `segments` match it.
fn captures<'a>(pattern: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, segment) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            params.push(*segment);
        } else if part != segment {
            return None;
        }
    }
    Some(params)
}

/// The request's JSON body, or why it is not `expected`.
fn body<T: DeserializeOwned>(req: &Received, expected: &str) -> Result<T, String> {
    serde_json::from_slice(&req.body).map_err(|e| format!("expected {expected}: {e}"))
}

fn ok(value: Value) -> Response<Body> {
    http::json(StatusCode::OK, &value)
}

fn bad_request(error: String) -> Response<Body> {
    http::json(StatusCode::BAD_REQUEST, &json!({"error": error}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_must_match_and_placeholders_capture() {
        assert_eq!(captures("calls", &["calls"]), Some(vec![]));
        assert_eq!(captures("calls", &["faults"]), None);
        assert_eq!(
            captures(
                "functions/{name}/kill",
                &["functions", "restore-executor", "kill"]
            ),
            Some(vec!["restore-executor"])
        );
        assert_eq!(captures("functions/{name}/kill", &["functions", "x"]), None);
        assert_eq!(
            captures("functions/{name}/kill", &["functions", "x", "start"]),
            None
        );
    }

    #[test]
    fn every_route_is_distinct() {
        for (i, (method, pattern, _)) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[..i].iter().any(|(m, p, _)| m == method && p == pattern),
                "{method} {pattern} twice"
            );
        }
    }
}
