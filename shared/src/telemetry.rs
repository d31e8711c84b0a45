//! Logging, set up once per process.
//!
//! On Lambda, `lambda_runtime`'s subscriber honours `AWS_LAMBDA_LOG_FORMAT=JSON` and
//! `AWS_LAMBDA_LOG_LEVEL`, which the SAM template sets; the local stack sets the same.

/// Installs the process-wide tracing subscriber.
pub fn init() {
    lambda_runtime::tracing::init_default_subscriber();
}
