//! Which certificate authorities the SDK clients trust.
//!
//! Lifeboat only talks to AWS service endpoints, and every one of them presents a certificate
//! that chains to an Amazon Trust Services root. Trusting exactly those five roots, compiled
//! in, narrows what the functions trust and skips reading and parsing the system's whole
//! certificate store when the clients are built: on Debian that was about 8 ms of a 14 ms
//! cold start (see BENCHMARKS.md). [`TlsTrust::System`] restores the SDK's default client,
//! for a deployment behind a TLS-inspecting proxy or with a private endpoint of its own CA.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The Amazon Trust Services roots (Amazon Root CA 1-4, Starfield Services Root G2).
pub const AMAZON_ROOTS_PEM: &str = include_str!("tls/amazon-roots.pem");

/// The trust store the SDK clients use (`LIFEBOAT_TLS_TRUST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsTrust {
    /// Only the Amazon Trust Services roots (`amazon`, the default).
    #[default]
    Amazon,
    /// The SDK's default client: the system's store and the proxy settings of the environment
    /// (`system`).
    System,
}

impl TlsTrust {
    pub fn parse(value: &str) -> Option<TlsTrust> {
        match value {
            "amazon" => Some(TlsTrust::Amazon),
            "system" => Some(TlsTrust::System),
            _ => None,
        }
    }
}

/// The HTTPS client for `trust`; `None` leaves the SDK's default in place.
pub fn https_client(trust: TlsTrust) -> Option<SharedHttpClient> {
    match trust {
        TlsTrust::System => None,
        TlsTrust::Amazon => {
            let store = TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(AMAZON_ROOTS_PEM.as_bytes());
            let context = TlsContext::builder()
                .with_trust_store(store)
                .build()
                .expect("a trust store with only PEM certificates is a valid TLS context");
            Some(
                aws_smithy_http_client::Builder::new()
                    .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
                    .tls_context(context)
                    .build_https(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    // The client parses the PEM only when it first connects, and panics on a bad one: make
    // sure the compiled-in roots are all certificates.
    #[test]
    fn the_amazon_roots_are_five_certificates() {
        let certs = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("valid PEM");
        assert_eq!(certs.len(), 5);
    }

    #[test]
    fn trust_is_named_in_lower_case() {
        assert_eq!(TlsTrust::parse("amazon"), Some(TlsTrust::Amazon));
        assert_eq!(TlsTrust::parse("system"), Some(TlsTrust::System));
        assert_eq!(TlsTrust::parse("System"), None);
    }
}
