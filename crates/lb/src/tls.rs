//! TLS on both sides. HTTPS listeners pick their certificate by SNI among the listener's
//! certificates (exact name, then a `*.example.com` wildcard covering one label, then the
//! default, which is the first) and offer h2 by ALPN when the load balancer allows HTTP/2.
//! Connections to HTTPS targets are encrypted but, as on ALB, the target's certificate is
//! not verified.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_model::elbv2::plane::{CertificatePem, PlaneConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Why a listener's TLS settings could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// The listener names no certificate.
    #[error("the HTTPS listener has no certificate")]
    NoCertificate,
    /// A certificate the listener names is not in the configuration.
    #[error("certificate {0} is not known")]
    Unknown(String),
    /// The PEM of a certificate or its key could not be read.
    #[error("certificate {arn}: {detail}")]
    Pem { arn: String, detail: String },
    /// rustls refused the settings.
    #[error("TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Certificates parsed once and kept while the configuration names them unchanged.
#[derive(Default)]
pub(crate) struct CertCache {
    parsed: BTreeMap<String, (Arc<CertificatePem>, Arc<CertifiedKey>)>,
}

impl CertCache {
    /// The TLS settings of a listener serving `arns` (the default first).
    pub(crate) fn server_config(
        &mut self,
        config: &PlaneConfig,
        arns: &[String],
        http2: bool,
    ) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        if arns.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let mut certs = Vec::with_capacity(arns.len());
        for arn in arns {
            let pem = config
                .certificates
                .get(arn)
                .ok_or_else(|| TlsError::Unknown(arn.clone()))?;
            certs.push((pem.names.clone(), self.key(pem)?));
        }
        let mut server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SniResolver { certs }));
        server.alpn_protocols = if http2 {
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        Ok(Arc::new(server))
    }

    fn key(&mut self, pem: &Arc<CertificatePem>) -> Result<Arc<CertifiedKey>, TlsError> {
        if let Some((cached, key)) = self.parsed.get(&pem.arn) {
            if cached == pem {
                return Ok(key.clone());
            }
        }
        let bad = |detail: String| TlsError::Pem {
            arn: pem.arn.clone(),
            detail,
        };
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(pem.chain_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| bad(e.to_string()))?;
        if chain.is_empty() {
            return Err(bad("no certificate in the chain".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(pem.private_key_pem.as_bytes())
            .map_err(|e| bad(e.to_string()))?;
        let signer = provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| bad(e.to_string()))?;
        let certified = Arc::new(CertifiedKey::new(chain, signer));
        self.parsed
            .insert(pem.arn.clone(), (pem.clone(), certified.clone()));
        Ok(certified)
    }

    /// Forget certificates the configuration no longer has.
    pub(crate) fn retain_used(&mut self, config: &PlaneConfig) {
        self.parsed
            .retain(|arn, _| config.certificates.contains_key(arn));
    }
}

/// Picks a listener's certificate by the name the client asked for.
#[derive(Debug)]
struct SniResolver {
    /// Names served and the key, the default first.
    certs: Vec<(Vec<String>, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let index = hello
            .server_name()
            .map(|name| pick(self.certs.iter().map(|(names, _)| names.as_slice()), name))
            .unwrap_or(0);
        self.certs.get(index).map(|(_, key)| key.clone())
    }
}

/// Which of the certificates (given by their names, the default first) serves `sni`: one
/// naming it exactly, else one whose wildcard covers it, else the default.
pub(crate) fn pick<'a>(certs: impl Iterator<Item = &'a [String]> + Clone, sni: &str) -> usize {
    let sni = sni.trim_end_matches('.').to_ascii_lowercase();
    let exact = certs
        .clone()
        .position(|names| names.iter().any(|n| n.eq_ignore_ascii_case(&sni)));
    let wildcard = || {
        certs
            .clone()
            .position(|names| names.iter().any(|n| wildcard_covers(n, &sni)))
    };
    exact.or_else(wildcard).unwrap_or(0)
}

/// `*.example.com` covers `a.example.com`, not `example.com` nor `a.b.example.com`.
fn wildcard_covers(name: &str, sni: &str) -> bool {
    let Some(suffix) = name.strip_prefix("*.") else {
        return false;
    };
    match sni.split_once('.') {
        Some((label, rest)) => !label.is_empty() && rest.eq_ignore_ascii_case(suffix),
        None => false,
    }
}

/// Client settings for HTTPS targets: encrypted, the certificate not verified (ALB does
/// not verify targets' certificates either).
pub(crate) fn target_client_config() -> rustls::ClientConfig {
    let provider = provider();
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    // Requests go to targets over HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

/// Accepts any certificate, still checking that the handshake is signed by its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sni_prefers_exact_then_wildcard_then_default() {
        let certs = [
            names(&["default.example.com"]),
            names(&["*.example.com"]),
            names(&["api.example.com", "www.example.org"]),
        ];
        let it = || certs.iter().map(|c| c.as_slice());
        assert_eq!(pick(it(), "api.example.com"), 2);
        assert_eq!(pick(it(), "API.Example.com."), 2);
        assert_eq!(pick(it(), "shop.example.com"), 1);
        assert_eq!(pick(it(), "a.b.example.com"), 0);
        assert_eq!(pick(it(), "example.com"), 0);
        assert_eq!(pick(it(), "www.example.org"), 2);
        assert_eq!(pick(it(), "other.net"), 0);
        assert_eq!(pick(it(), ""), 0);
    }
}
