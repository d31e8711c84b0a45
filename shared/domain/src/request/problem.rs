//! What is wrong with a bad input: every problem names the field it is about.
//!
//! The intake turns an [`Invalid`] into one RFC 9457 problem document; the domain only says
//! which field and what, so every rejection, whatever found it, reads the same.

use std::fmt;

use serde::Serialize;

/// One problem with one field. `field` is a dotted path into the body (`affected.records[2]`)
/// or, for what is not in the body, a name the caller knows (`Idempotency-Key`, `id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// An input that cannot be accepted, with everything found wrong with it (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Invalid(vec![FieldError::new(field, detail)])
    }

    /// The fields named, for tests and logs.
    pub fn fields(&self) -> Vec<&str> {
        self.0.iter().map(|e| e.field.as_str()).collect()
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{}: {}", e.field, e.detail))
            .collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Invalid {}
