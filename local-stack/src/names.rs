//! The local stack's names: its account and region, the tables, bucket and state machine it
//! makes as the template does, the roles it says are support and engineering, and its
//! functions. In one place so that every part of the stack, its tests and benchmarks agree.

/// The account every ARN of the local stack names (moto's default), as a literal for
/// constants built with `concat!` (`lifeboat_local::account!()`).
#[macro_export]
macro_rules! account {
    () => {
        "123456789012"
    };
}
pub use crate::account;

pub const ACCOUNT: &str = account!();
pub const REGION: &str = "us-east-1";

pub const CATALOG_TABLE: &str = "lifeboat-catalog";
pub const REPORTS_BUCKET: &str = "lifeboat-reports";
pub const REQUESTS_TABLE: &str = "lifeboat-restore-requests";
pub const STATE_MACHINE: &str = "lifeboat-restore";

pub const SUPPORT_ROLE: &str = concat!("arn:aws:iam::", account!(), ":role/lifeboat-support");
pub const ENGINEERING_ROLE: &str = concat!("arn:aws:iam::", account!(), ":role/lifeboat-engineering");

/// The functions the edge serves, by crate name.
pub const FUNCTIONS: [&str; 6] = [
    "snapshot-creator",
    "retention-pruner",
    "restore-intake",
    "restore-executor",
    "recovery-audit",
    "restore-drill",
];
/// The access key id of calls made by tests and the simulation (functions use their names).
pub const TESTER: &str = "tester";

/// The ARN of a resource of the local stack: `arn:aws:<service>:<region>:<account>:<resource>`.
pub fn arn(service: &str, resource: &str) -> String {
    format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}")
}

/// The IAM principal of a support agent's session (what API Gateway would report).
pub fn support(session: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/lifeboat-support/{session}")
}

/// The IAM principal of an engineer's session.
pub fn engineer(session: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT}:assumed-role/lifeboat-engineering/{session}")
}

/// An IAM user of the local stack's account.
pub fn user(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:user/{name}")
}
