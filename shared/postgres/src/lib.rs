//! The PostgreSQL merge engine of selective restores.
//!
//! A selective restore reads the selected rows out of staging (a restored copy of the
//! instance at the recovery point) and inserts them into production without overwriting
//! anything there:
//! - [`schema`] reads both databases' catalogs; every identifier used comes from there.
//! - [`select`] works out, inside staging, which rows to restore: by keys, by a filter whose
//!   values are bound parameters, or every row production lacks; with the rows that depend on
//!   them, and the parents they need that production lacks.
//! - [`extract`] streams them out with `COPY` into compressed, checksummed batches in the
//!   extract store, and measures the plan against production (read only).
//! - [`merge`] copies one batch into production in one transaction: `COPY` into a temporary
//!   table, `INSERT … ON CONFLICT DO NOTHING`, and a ledger row (`lifeboat.merged_batches`)
//!   that makes the batch happen exactly once, however often it is retried.
//! - [`drill_inspection`] reads what a restore drill checks, read-only.
//! - [`connect`] opens connections: locally a URL, in AWS the instance's endpoint with TLS
//!   and credentials from Secrets Manager.

pub mod connect;
pub mod drill_inspection;
pub mod extract;
pub mod ident;
pub mod merge;
pub mod merger;
pub mod schema;
pub mod select;
pub mod staging_access;

use std::fmt;

use lifeboat::ports::{FailureKind, PortError};

pub use connect::Connector;
pub use merger::PgMerger;

/// What went wrong, before the caller names the operation and the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgError {
    pub kind: FailureKind,
    pub message: String,
}

impl PgError {
    /// A failed statement: retryable when the connection or the transaction's luck failed
    /// (lost connection, serialization failure, deadlock), not when the SQL was refused.
    pub fn query(what: &str, e: tokio_postgres::Error) -> PgError {
        // No SQLSTATE: the connection failed (an I/O error) or the client refused the
        // statement itself (a parameter of the wrong type), which no retry mends.
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        let transient = e.is_closed()
            || (e.code().is_none() && io)
            || e.code().is_some_and(|c| {
                c.code().starts_with("08") // connection exceptions
                    || c.code().starts_with("53") // insufficient resources
                    || c.code().starts_with("57P") // operator intervention (shutdown)
                    || *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                    || *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                    // A lock or statement timeout: someone else held the rows a while.
                    || *c == tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE
                    || *c == tokio_postgres::error::SqlState::QUERY_CANCELED
            });
        let detail = match e.as_db_error() {
            Some(db) => format!(
                "{}{}",
                db.message(),
                db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
            ),
            None => e.to_string(),
        };
        PgError {
            kind: if transient {
                FailureKind::Unavailable
            } else {
                FailureKind::Refused
            },
            message: format!("{what}: {detail}"),
        }
    }

    /// The request asked for something the database cannot give (an unknown table or
    /// column, a malformed key).
    pub fn refused(message: impl Into<String>) -> PgError {
        PgError {
            kind: FailureKind::Refused,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> PgError {
        PgError {
            kind: FailureKind::Unavailable,
            message: message.into(),
        }
    }

    pub fn at(self, operation: &'static str, resource: impl fmt::Display) -> PortError {
        PortError::new(operation, resource, self.kind, self.message)
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
