//! AWS's request rate limits, as the edge enforces them: what moto never does.
//!
//! AWS meters API calls per account and region with token buckets: a bucket holds up to its
//! burst, refills at its sustained rate, and a call finding it empty is refused with the
//! service's throttling error (RDS `Throttling`, DynamoDB `ThrottlingException`). The edge
//! serves one account and region, so it holds one bucket per limit, shared by every function
//! (as the account's budget is); the functions' pacing and their SDK's retries then meet
//! real refusals in the end-to-end tests.
//!
//! Only calls of the Lifeboat functions are metered: the harness's own setup and inspection
//! calls (caller [`crate::names::TESTER`]) are how a test looks, not what it tests.

use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::aws_call::AwsCall;
use crate::names::TESTER;

/// One metered budget: calls of `service` (of `operations` only, when given) at `per_second`
/// sustained, with bursts of up to `burst`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub service: String,
    /// The operations sharing this bucket; empty for every operation of the service that
    /// no other limit names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
    pub per_second: f64,
    pub burst: f64,
}

impl Limit {
    fn new(service: &str, operations: &[&str], per_second: f64, burst: f64) -> Limit {
        Limit {
            service: service.into(),
            operations: operations.iter().map(|o| o.to_string()).collect(),
            per_second,
            burst,
        }
    }

    fn is_valid(&self) -> bool {
        self.per_second > 0.0 && self.burst >= 1.0 && self.per_second.is_finite() && self.burst.is_finite()
    }
}

/// AWS's published limits for what Lifeboat calls: RDS's account-wide API budget (12 calls a
/// second sustained, bursts of 300, every operation together) and DynamoDB's control-plane
/// limits on backups (`CreateBackup` 50 a second, `ListBackups` 5 a second; AWS states no
/// burst for them, so a bucket holds one second's worth).
pub fn aws_defaults() -> Vec<Limit> {
    vec![
        Limit::new("rds", &[], 12.0, 300.0),
        Limit::new("dynamodb", &["CreateBackup"], 50.0, 50.0),
        Limit::new("dynamodb", &["ListBackups"], 5.0, 5.0),
    ]
}

struct Bucket {
    limit: Limit,
    tokens: f64,
    refilled: Instant,
}

impl Bucket {
    fn new(limit: Limit, now: Instant) -> Bucket {
        Bucket {
            tokens: limit.burst,
            limit,
            refilled: now,
        }
    }

    /// Whether this bucket meters `call`: an operation it names, or, for a bucket naming
    /// none, any operation of its service that no other bucket names.
    fn meters(&self, call: &AwsCall, named_elsewhere: bool) -> bool {
        self.limit.service == call.service
            && if self.limit.operations.is_empty() {
                !named_elsewhere
            } else {
                self.limit.operations.contains(&call.operation)
            }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.limit.per_second).min(self.limit.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The edge's buckets. Starts with [`aws_defaults`]; tests that need speed more than
/// throttling set none.
pub struct RateLimits {
    buckets: Mutex<Vec<Bucket>>,
}

impl Default for RateLimits {
    fn default() -> Self {
        let limits = RateLimits {
            buckets: Mutex::default(),
        };
        limits.set(aws_defaults()).expect("the defaults are valid");
        limits
    }
}

impl RateLimits {
    /// Replaces the limits (full buckets); an empty list switches metering off.
    pub fn set(&self, limits: Vec<Limit>) -> Result<(), String> {
        if let Some(bad) = limits.iter().find(|l| !l.is_valid()) {
            return Err(format!(
                "a limit needs per_second > 0 and burst >= 1: {} {:?} per_second {} burst {}",
                bad.service, bad.operations, bad.per_second, bad.burst
            ));
        }
        let now = Instant::now();
        *self.buckets.lock().expect("rate limits lock") =
            limits.into_iter().map(|l| Bucket::new(l, now)).collect();
        Ok(())
    }

    pub fn list(&self) -> Vec<Limit> {
        let buckets = self.buckets.lock().expect("rate limits lock");
        buckets.iter().map(|b| b.limit.clone()).collect()
    }

    /// Whether `call` may go through now; takes its token when it may.
    pub fn admit(&self, call: &AwsCall) -> bool {
        self.admit_at(call, Instant::now())
    }

    /// [`RateLimits::admit`] at `now` (the fleet benchmark's simulated clock).
    pub(crate) fn admit_at(&self, call: &AwsCall, now: Instant) -> bool {
        if call.caller == TESTER {
            return true;
        }
        let mut buckets = self.buckets.lock().expect("rate limits lock");
        let named_elsewhere = buckets
            .iter()
            .any(|b| b.limit.service == call.service && b.limit.operations.contains(&call.operation));
        match buckets.iter_mut().find(|b| b.meters(call, named_elsewhere)) {
            Some(bucket) => bucket.take(now),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn call(service: &str, operation: &str) -> AwsCall {
        AwsCall {
            caller: "snapshot-creator".into(),
            service: service.into(),
            operation: operation.into(),
            target: String::new(),
        }
    }

    fn admitted(limits: &RateLimits, c: &AwsCall, n: usize, at: Instant) -> usize {
        (0..n).filter(|_| limits.admit_at(c, at)).count()
    }

    #[test]
    fn a_burst_goes_through_then_the_sustained_rate() {
        let limits = RateLimits::default();
        let start = Instant::now();
        let snapshot = call("rds", "CreateDBSnapshot");
        assert_eq!(admitted(&limits, &snapshot, 400, start), 300, "the burst");
        assert!(!limits.admit_at(&snapshot, start), "an empty bucket refuses");
        let later = start + Duration::from_secs(2);
        assert_eq!(
            admitted(&limits, &snapshot, 100, later),
            24,
            "12 a second refill it"
        );
    }

    #[test]
    fn every_rds_operation_shares_one_budget() {
        let limits = RateLimits::default();
        let at = Instant::now();
        assert_eq!(
            admitted(&limits, &call("rds", "DescribeDBSnapshots"), 300, at),
            300
        );
        assert!(!limits.admit_at(&call("rds", "CreateDBSnapshot"), at));
    }

    #[test]
    fn named_operations_have_their_own_bucket_and_others_are_not_metered() {
        let limits = RateLimits::default();
        let at = Instant::now();
        assert_eq!(admitted(&limits, &call("dynamodb", "ListBackups"), 20, at), 5);
        assert_eq!(admitted(&limits, &call("dynamodb", "CreateBackup"), 60, at), 50);
        assert_eq!(
            admitted(&limits, &call("dynamodb", "PutItem"), 1000, at),
            1000,
            "the data plane is not metered here"
        );
        assert_eq!(admitted(&limits, &call("s3", "PutObject"), 1000, at), 1000);
    }

    #[test]
    fn the_harness_is_not_metered_and_an_empty_list_switches_metering_off() {
        let limits = RateLimits::default();
        let at = Instant::now();
        let mut setup = call("rds", "CreateDBInstance");
        setup.caller = TESTER.into();
        assert_eq!(admitted(&limits, &setup, 1000, at), 1000);
        limits.set(Vec::new()).unwrap();
        assert_eq!(
            admitted(&limits, &call("rds", "CreateDBSnapshot"), 1000, at),
            1000
        );
    }

    #[test]
    fn a_limit_that_could_never_admit_is_refused() {
        let limits = RateLimits::default();
        let bad = Limit::new("rds", &[], 0.0, 300.0);
        assert!(limits.set(vec![bad]).unwrap_err().contains("per_second > 0"));
        assert_eq!(limits.list(), aws_defaults(), "the limits stay as they were");
    }
}
