//! The API's error answers (RFC 9457 problem documents) as a person reads them: the title and
//! detail, then each field at fault on its own line, so that the flag to fix is plain.

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    #[serde(default)]
    pub title: String,
    pub status: u16,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub detail: String,
}

impl Problem {
    /// The problem in `body`, if it is one (API Gateway's own refusals are not).
    pub fn parse(body: &[u8]) -> Option<Problem> {
        serde_json::from_slice(body).ok()
    }

    /// `title (status): detail`, then `  field: detail` per field error.
    pub fn render(&self) -> String {
        let mut out = format!("{} ({})", self.title, self.status);
        // The detail often repeats the one field error; say it once.
        let repeated = self.errors.len() == 1 && self.errors[0].detail == self.detail;
        if !self.detail.is_empty() && !repeated {
            out.push_str(&format!(": {}", self.detail));
        }
        for e in &self.errors {
            out.push_str(&format!("\n  {}: {}", e.field, e.detail));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_error_is_on_its_own_line() {
        let body = json!({
            "type": "urn:lifeboat:problem:invalid-input",
            "title": "The request is not valid",
            "status": 400,
            "detail": "2 fields are not valid",
            "errors": [
                {"field": "occurred_at", "detail": "must be an RFC 3339 time"},
                {"field": "affected.records[2]", "detail": "must not be empty"}
            ]
        });
        let problem = Problem::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            problem.render(),
            "The request is not valid (400): 2 fields are not valid\n  \
             occurred_at: must be an RFC 3339 time\n  \
             affected.records[2]: must not be empty"
        );
    }

    #[test]
    fn a_detail_that_is_the_only_field_error_is_said_once() {
        let body = json!({
            "title": "Not found", "status": 404, "detail": "no restore request rr-x",
            "errors": [{"field": "id", "detail": "no restore request rr-x"}]
        });
        let problem = Problem::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(problem.render(), "Not found (404)\n  id: no restore request rr-x");
    }

    #[test]
    fn a_body_that_is_not_a_problem_is_none() {
        assert_eq!(
            Problem::parse(br#"{"message": "Missing Authentication Token"}"#),
            None
        );
        assert_eq!(Problem::parse(b"<html>"), None);
    }
}
