//! SigV4 for API Gateway's IAM authorization: the service is `execute-api`, the body is
//! signed with the request, and a session's token travels as `X-Amz-Security-Token`.
//!
//! The clock is an argument, so a test can check the credential scope of a known day.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;

use crate::error::CliError;

pub const SERVICE: &str = "execute-api";

/// A request to sign: its method, full URL, the headers to sign with it and its body.
pub struct Unsigned<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers to add to `request` (`authorization`, `x-amz-date`, and
/// `x-amz-security-token` for temporary credentials).
pub fn signature_headers(
    request: &Unsigned<'_>,
    credentials: &Credentials,
    region: &str,
    time: SystemTime,
) -> Result<Vec<(String, String)>, CliError> {
    let failed = |e: &dyn std::fmt::Display| CliError::Config(format!("signing the request: {e}"));
    let identity: Identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let signable = SignableRequest::new(
        request.method,
        request.url,
        request.headers.iter().copied(),
        SignableBody::Bytes(request.body),
    )
    .map_err(|e| failed(&e))?;
    let (instructions, _signature) = sign(signable, &params).map_err(|e| failed(&e))?.into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2026-11-28T09:10:00Z.
    fn fixed_clock() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_857_000)
    }

    fn request<'a>(headers: &'a [(&'a str, &'a str)]) -> Unsigned<'a> {
        Unsigned {
            method: "POST",
            url: "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/restore-requests",
            headers,
            body: br#"{"instance_id":"acme"}"#,
        }
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_signature_is_scoped_to_execute_api_in_the_region_on_the_day() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let headers = [("content-type", "application/json")];
        let signed = signature_headers(&request(&headers), &credentials, "eu-west-1", fixed_clock()).unwrap();
        let authorization = header(&signed, "authorization").expect("an Authorization header");
        assert!(
            authorization.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/eu-west-1/execute-api/aws4_request, "
            ),
            "{authorization}"
        );
        assert!(
            authorization.contains("SignedHeaders=content-type;host;x-amz-date"),
            "{authorization}"
        );
        assert_eq!(header(&signed, "x-amz-date"), Some("20261128T091000Z"));
        assert_eq!(header(&signed, "x-amz-security-token"), None);
    }

    #[test]
    fn a_session_token_is_sent_and_signed() {
        let credentials =
            Credentials::new("ASIAEXAMPLE", "secret", Some("session-token".into()), None, "sso");
        let signed = signature_headers(&request(&[]), &credentials, "us-east-1", fixed_clock()).unwrap();
        assert_eq!(header(&signed, "x-amz-security-token"), Some("session-token"));
        let authorization = header(&signed, "authorization").unwrap();
        assert!(
            authorization.contains("/us-east-1/execute-api/aws4_request"),
            "{authorization}"
        );
        assert!(authorization.contains("x-amz-security-token"), "{authorization}");
    }

    #[test]
    fn another_body_is_another_signature() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
        let sign_body = |body: &'static [u8]| {
            let mut r = request(&[]);
            r.body = body;
            let signed = signature_headers(&r, &credentials, "us-east-1", fixed_clock()).unwrap();
            header(&signed, "authorization").unwrap().to_string()
        };
        assert_ne!(sign_body(b"{}"), sign_body(b"{ }"));
    }
}
