//! The extract's encoding: JSON lines of DynamoDB JSON, every attribute type, a lossless
//! round trip.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::base64;
use serde_json::{Map, Value};

use crate::dynamodb_items::Item;
use lifeboat::ports::{FailureKind, PortError};

/// Items as JSON lines of DynamoDB JSON. Fails only on an attribute type this SDK cannot
/// name (a type DynamoDB added later), which could not be written back.
pub fn encode_items(items: &[Item]) -> Result<Vec<u8>, PortError> {
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut line = Map::new();
        for (name, value) in item {
            let json = dynamo_json(value).map_err(|why| {
                PortError::new(
                    "EncodeItems",
                    "extract",
                    FailureKind::Refused,
                    format!("item {i}, attribute {name}: {why}"),
                )
            })?;
            line.insert(name.clone(), json);
        }
        serde_json::to_writer(&mut out, &Value::Object(line))
            .map_err(|e| PortError::new("EncodeItems", "extract", FailureKind::Refused, e.to_string()))?;
        out.push(b'\n');
    }
    Ok(out)
}

/// Items from [`encode_items`]' lines (blank lines are skipped).
pub fn decode_items(bytes: &[u8]) -> Result<Vec<Item>, PortError> {
    let refused = |line: usize, why: String| {
        PortError::new(
            "DecodeItems",
            "extract",
            FailureKind::Refused,
            format!("line {line}: {why}"),
        )
    };
    let mut items = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| refused(i + 1, e.to_string()))?;
        let Value::Object(attributes) = value else {
            return Err(refused(i + 1, "not a JSON object".into()));
        };
        let item = attributes
            .iter()
            .map(|(name, v)| {
                attribute_value(v)
                    .map(|a| (name.clone(), a))
                    .map_err(|why| refused(i + 1, format!("attribute {name}: {why}")))
            })
            .collect::<Result<Item, _>>()?;
        items.push(item);
    }
    Ok(items)
}

/// An attribute value in DynamoDB JSON.
pub(super) fn dynamo_json(value: &AttributeValue) -> Result<Value, String> {
    let one = |t: &str, v: Value| Value::Object(Map::from_iter([(t.to_string(), v)]));
    Ok(match value {
        AttributeValue::S(s) => one("S", Value::String(s.clone())),
        AttributeValue::N(n) => one("N", Value::String(n.clone())),
        AttributeValue::B(b) => one("B", Value::String(base64::encode(b.as_ref()))),
        AttributeValue::Ss(v) => one("SS", Value::from(v.clone())),
        AttributeValue::Ns(v) => one("NS", Value::from(v.clone())),
        AttributeValue::Bs(v) => one(
            "BS",
            Value::from(v.iter().map(|b| base64::encode(b.as_ref())).collect::<Vec<_>>()),
        ),
        AttributeValue::M(m) => one(
            "M",
            Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), dynamo_json(v)?)))
                    .collect::<Result<Map<_, _>, String>>()?,
            ),
        ),
        AttributeValue::L(l) => one(
            "L",
            Value::Array(l.iter().map(dynamo_json).collect::<Result<_, _>>()?),
        ),
        AttributeValue::Null(b) => one("NULL", Value::Bool(*b)),
        AttributeValue::Bool(b) => one("BOOL", Value::Bool(*b)),
        other => return Err(format!("a type this SDK cannot name: {other:?}")),
    })
}

/// An attribute value from DynamoDB JSON.
pub(super) fn attribute_value(value: &Value) -> Result<AttributeValue, String> {
    let Some((kind, inner)) = value
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(format!("{value} is not an object with one type key"));
    };
    let strings = |v: &Value| -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    let binary = |s: &str| {
        base64::decode(s)
            .map(Blob::new)
            .map_err(|e| format!("bad base64: {e}"))
    };
    let wrong = || format!("{kind} of the wrong shape: {inner}");
    match (kind.as_str(), inner) {
        ("S", Value::String(s)) => Ok(AttributeValue::S(s.clone())),
        ("N", Value::String(n)) if is_number(n) => Ok(AttributeValue::N(n.clone())),
        ("B", Value::String(s)) => binary(s).map(AttributeValue::B),
        ("SS", v) => strings(v).map(AttributeValue::Ss).ok_or_else(wrong),
        ("NS", v) => match strings(v) {
            Some(ns) if ns.iter().all(|n| is_number(n)) => Ok(AttributeValue::Ns(ns)),
            _ => Err(wrong()),
        },
        ("BS", v) => strings(v)
            .ok_or_else(wrong)?
            .iter()
            .map(|s| binary(s))
            .collect::<Result<_, _>>()
            .map(AttributeValue::Bs),
        ("M", Value::Object(m)) => m
            .iter()
            .map(|(k, v)| Ok((k.clone(), attribute_value(v)?)))
            .collect::<Result<_, String>>()
            .map(AttributeValue::M),
        ("L", Value::Array(l)) => l
            .iter()
            .map(attribute_value)
            .collect::<Result<_, _>>()
            .map(AttributeValue::L),
        ("NULL", Value::Bool(b)) => Ok(AttributeValue::Null(*b)),
        ("BOOL", Value::Bool(b)) => Ok(AttributeValue::Bool(*b)),
        ("S" | "N" | "B" | "M" | "L" | "NULL" | "BOOL", _) => Err(wrong()),
        _ => Err(format!("unknown type {kind}")),
    }
}

/// Whether `s` is a number as DynamoDB writes them: `-12`, `3.5`, `.5`, `1E+10`.
pub(super) fn is_number(s: &str) -> bool {
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => {
            (whole.is_empty() || digits(whole))
                && (fraction.is_empty() || digits(fraction))
                && !(whole.is_empty() && fraction.is_empty())
        }
        None => digits(mantissa),
    };
    mantissa_ok && exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)))
}
