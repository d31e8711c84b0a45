//! Reading a JSON body field by field, collecting every problem instead of stopping at the
//! first, and refusing fields nobody asked for (a typo must not be silently ignored).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::problem::{FieldError, Invalid};

/// A JSON object being read; `prefix` is its path in the body (`""` at the top).
pub struct Body<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    known: Vec<&'static str>,
    pub errors: Vec<FieldError>,
}

impl<'a> Body<'a> {
    /// The top-level object of `text`, or why it is not one.
    pub fn parse(text: &[u8]) -> Result<Value, Invalid> {
        let value: Value = serde_json::from_slice(text)
            .map_err(|e| Invalid::one("body", format!("is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Invalid::one("body", "must be a JSON object"));
        }
        Ok(value)
    }

    pub fn new(value: &'a Value, prefix: &str) -> Result<Self, Invalid> {
        let field = if prefix.is_empty() { "body" } else { prefix };
        let object = value
            .as_object()
            .ok_or_else(|| Invalid::one(field, "must be a JSON object"))?;
        Ok(Body {
            object,
            prefix: prefix.to_string(),
            known: Vec::new(),
            errors: Vec::new(),
        })
    }

    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    fn fail(&mut self, name: &str, detail: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(FieldError::new(field, detail));
    }

    /// The raw value of `name`, recording that the field is known; `null` counts as absent.
    pub fn value(&mut self, name: &'static str) -> Option<&'a Value> {
        self.known.push(name);
        self.object.get(name).filter(|v| !v.is_null())
    }

    /// A required field; absent records the problem.
    pub fn required(&mut self, name: &'static str) -> Option<&'a Value> {
        let value = self.value(name);
        if value.is_none() {
            self.fail(name, "is required");
        }
        value
    }

    /// A string of 1 to `max` characters (after trimming the ends).
    pub fn text(&mut self, value: Option<&'a Value>, name: &'static str, max: usize) -> Option<String> {
        let v = value?;
        let Some(s) = v.as_str() else {
            self.fail(name, "must be a string");
            return None;
        };
        let s = s.trim();
        if s.is_empty() {
            self.fail(name, "must not be empty");
            None
        } else if s.chars().count() > max {
            self.fail(name, format!("must be at most {max} characters"));
            None
        } else {
            Some(s.to_string())
        }
    }

    /// An RFC 3339 time, as UTC.
    pub fn time(&mut self, value: Option<&'a Value>, name: &'static str) -> Option<DateTime<Utc>> {
        let v = value?;
        let Some(s) = v.as_str() else {
            self.fail(name, "must be an RFC 3339 time as a string");
            return None;
        };
        match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                self.fail(name, format!("{s:?} is not an RFC 3339 time ({e})"));
                None
            }
        }
    }

    /// A list of at most `max_items` strings of at most `max_len` characters each.
    pub fn texts(
        &mut self,
        value: Option<&'a Value>,
        name: &'static str,
        max_items: usize,
        max_len: usize,
    ) -> Option<Vec<String>> {
        let v = value?;
        let Some(items) = v.as_array() else {
            self.fail(name, "must be an array of strings");
            return None;
        };
        if items.len() > max_items {
            self.fail(name, format!("must have at most {max_items} items"));
            return None;
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.as_str().map(str::trim) {
                Some(s) if !s.is_empty() && s.chars().count() <= max_len => out.push(s.to_string()),
                Some("") => self.fail(&format!("{name}[{i}]"), "must not be empty"),
                Some(_) => self.fail(
                    &format!("{name}[{i}]"),
                    format!("must be at most {max_len} characters"),
                ),
                None => self.fail(&format!("{name}[{i}]"), "must be a string"),
            }
        }
        Some(out)
    }

    /// A whole number from 0 to `max`.
    pub fn count(&mut self, value: Option<&'a Value>, name: &'static str, max: u64) -> Option<u64> {
        let v = value?;
        match v.as_u64() {
            Some(n) if n <= max => Some(n),
            Some(_) => {
                self.fail(name, format!("must be at most {max}"));
                None
            }
            None => {
                self.fail(name, "must be a whole number, 0 or more");
                None
            }
        }
    }

    /// One of `choices`, parsed by `parse`.
    pub fn choice<T>(
        &mut self,
        value: Option<&'a Value>,
        name: &'static str,
        choices: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let v = value?;
        let parsed = v.as_str().and_then(parse);
        if parsed.is_none() {
            self.fail(name, format!("must be one of: {}", choices.join(", ")));
        }
        parsed
    }

    /// Records a problem found by the caller.
    pub fn reject(&mut self, name: &str, detail: impl Into<String>) {
        self.fail(name, detail);
    }

    /// Reads every object of the array `items` (field `name`) with `read`; what `read` returns
    /// is kept only for an item without problems, and every problem lands in `errors`.
    pub fn each_object<T>(
        items: &'a [Value],
        name: &str,
        errors: &mut Vec<FieldError>,
        mut read: impl FnMut(&mut Body<'a>) -> Option<T>,
    ) -> Vec<T> {
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let mut b = match Body::new(item, &format!("{name}[{i}]")) {
                Ok(b) => b,
                Err(e) => {
                    errors.extend(e.0);
                    continue;
                }
            };
            let value = read(&mut b);
            let found = b.finish();
            if found.is_empty() {
                out.extend(value);
            }
            errors.extend(found);
        }
        out
    }

    /// Fields the caller never asked for are rejected, then every problem is returned.
    pub fn finish(mut self) -> Vec<FieldError> {
        let mut unknown: Vec<&String> = self
            .object
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            let field = self.path(key);
            self.errors
                .push(FieldError::new(field, "is not a field of this request"));
        }
        self.errors
    }
}
