//! The API's base URL (`--endpoint` / `LIFEBOAT_API_URL`) and the URLs of its paths.

use hyper::Uri;

use crate::error::CliError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Without a trailing slash: `https://abc.execute-api.us-east-1.amazonaws.com/prod`.
    base: String,
    host: String,
}

impl Endpoint {
    pub fn parse(text: Option<&str>) -> Result<Endpoint, CliError> {
        let text = text.ok_or_else(|| {
            CliError::Config(
                "no endpoint: pass --endpoint URL or set LIFEBOAT_API_URL (a deployment's \
                 RestoreApiUrl output, or the local stack's API URL)"
                    .into(),
            )
        })?;
        let uri: Uri = text
            .parse()
            .map_err(|e| CliError::Usage(format!("--endpoint {text:?} is not a URL: {e}")))?;
        let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
        let host = uri.host().filter(|h| !h.is_empty());
        match (scheme_ok, host) {
            (true, Some(host)) if uri.query().is_none() => Ok(Endpoint {
                base: text.trim_end_matches('/').to_string(),
                host: host.to_string(),
            }),
            _ => Err(CliError::Usage(format!(
                "--endpoint {text:?} must be an http:// or https:// URL without a query"
            ))),
        }
    }

    /// Whether the API is on this machine (the local stack): the only place a call may go
    /// unsigned, or signed over plain HTTP.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    pub fn is_https(&self) -> bool {
        self.base.starts_with("https://")
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which starts with `/`, its parts already encoded).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The region an API Gateway default host names (`<api>.execute-api.<region>.amazonaws.com`).
    pub fn region(&self) -> Option<String> {
        let mut labels = self.host.split('.');
        let (_api, service, region) = (labels.next()?, labels.next()?, labels.next()?);
        (service == "execute-api" && !region.is_empty()).then(|| region.to_string())
    }
}

/// One path segment (an id), percent-encoded so that no id can change the path.
pub fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A query string (`?a=b&c=d`) of the pairs given.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("?{}", q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_machine_is_loopback() {
        for (url, loopback) in [
            ("http://127.0.0.1:8080", true),
            ("http://localhost:3000/prod", true),
            ("http://[::1]:9000", true),
            ("https://abc.execute-api.us-east-1.amazonaws.com/prod", false),
            ("http://10.0.0.5", false),
        ] {
            assert_eq!(
                Endpoint::parse(Some(url)).unwrap().is_loopback(),
                loopback,
                "{url}"
            );
        }
    }

    #[test]
    fn an_api_gateway_host_names_its_region() {
        let e = Endpoint::parse(Some("https://abc123.execute-api.eu-west-1.amazonaws.com/prod/")).unwrap();
        assert_eq!(e.region().as_deref(), Some("eu-west-1"));
        assert_eq!(
            e.url("/restore-requests"),
            "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/restore-requests"
        );
        let local = Endpoint::parse(Some("http://127.0.0.1:4567")).unwrap();
        assert_eq!(local.region(), None);
    }

    #[test]
    fn no_endpoint_or_a_bad_one_is_explained() {
        let missing = Endpoint::parse(None).unwrap_err();
        assert!(missing.to_string().contains("LIFEBOAT_API_URL"), "{missing}");
        assert_eq!(missing.exit_code(), 5);
        for bad in ["not a url", "ftp://x/y", "http://h/p?x=1"] {
            assert_eq!(Endpoint::parse(Some(bad)).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn ids_cannot_change_the_path() {
        assert_eq!(segment("rr-1a2b"), "rr-1a2b");
        assert_eq!(segment("../x y"), "..%2Fx%20y");
        assert_eq!(
            query(&[("instance_id", "acme co"), ("status", "failed")]),
            "?instance_id=acme+co&status=failed"
        );
    }
}
