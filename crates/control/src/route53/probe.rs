//! One health check probe: connect where the check says, and for the HTTP types send one
//! `GET` and read the status line (and, for string matching, the start of the body).
//! Every step has a deadline, so a probe ends within [`CONNECT_TIMEOUT`] plus
//! [`RESPONSE_TIMEOUT`] whatever the endpoint does.
//!
//! HTTPS does not verify the endpoint's certificate, as Route 53 does not.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::route53::health_checks::{HealthCheckConfig, Outcome, SEARCH_BYTES};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long a connection (and a name lookup) may take: Route 53's four seconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(4);
/// How long the TLS handshake and the answer may take once connected: Route 53's two
/// seconds.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an answer's head read before giving up on it as garbled.
const MAX_HEAD: usize = 16 * 1024;

/// Probe the endpoint of `config`: what happened, and the local address it came from.
pub async fn probe(
    config: &HealthCheckConfig,
    tls: &Arc<ClientConfig>,
) -> (Outcome, Option<IpAddr>) {
    let addr = match target(config).await {
        Ok(a) => a,
        Err(o) => return (o, None),
    };
    let stream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
        Err(_) => return (Outcome::TimedOut, None),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            return (Outcome::Refused, None)
        }
        Ok(Err(e)) => return (Outcome::Failed(format!("Connection failed: {e}")), None),
        Ok(Ok(s)) => s,
    };
    let source = stream.local_addr().ok().map(|a| a.ip());
    if !config.check_type.http() {
        return (Outcome::Connected, source);
    }
    let exchange = async {
        if config.check_type.tls() {
            let name = server_name(config, addr.ip());
            let connector = tokio_rustls::TlsConnector::from(tls.clone());
            match connector.connect(name, stream).await {
                Ok(s) => http(config, s).await,
                Err(e) => Outcome::Failed(format!("TLS handshake failed: {e}")),
            }
        } else {
            http(config, stream).await
        }
    };
    let outcome = timeout(RESPONSE_TIMEOUT, exchange)
        .await
        .unwrap_or(Outcome::TimedOut);
    (outcome, source)
}

/// Where to connect: the IP address, or the FQDN looked up.
async fn target(config: &HealthCheckConfig) -> Result<SocketAddr, Outcome> {
    let port = config.port.unwrap_or(80);
    if let Some(ip) = config.ip_address {
        return Ok(SocketAddr::new(ip, port));
    }
    let host = config
        .fqdn
        .as_deref()
        .unwrap_or("")
        .trim_end_matches('.')
        .to_string();
    let lookup = timeout(
        CONNECT_TIMEOUT,
        tokio::net::lookup_host((host.as_str(), port)),
    )
    .await;
    match lookup {
        Err(_) => Err(Outcome::TimedOut),
        Ok(Err(e)) => Err(Outcome::Failed(format!("Resolving {host} failed: {e}"))),
        Ok(Ok(mut addrs)) => addrs
            .next()
            .ok_or_else(|| Outcome::Failed(format!("Resolving {host} found no address"))),
    }
}

/// The name the TLS handshake presents: the FQDN when SNI is on and one is given.
fn server_name(config: &HealthCheckConfig, ip: IpAddr) -> ServerName<'static> {
    if config.enable_sni != Some(false) {
        if let Some(f) = &config.fqdn {
            if let Ok(n) = ServerName::try_from(f.trim_end_matches('.').to_string()) {
                return n;
            }
        }
    }
    ServerName::IpAddress(ip.into())
}

/// Send the request and read the answer's status (and the body's start when matching).
async fn http<S: AsyncRead + AsyncWrite + Unpin>(config: &HealthCheckConfig, mut s: S) -> Outcome {
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: Flotilla-Route53-Health-Check\r\n\
         Accept: */*\r\nConnection: close\r\n\r\n",
        config.path(),
        config.host_header()
    );
    if let Err(e) = s.write_all(request.as_bytes()).await {
        return Outcome::Failed(format!("Sending the request failed: {e}"));
    }
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Outcome::Failed("The response's headers are too long".into());
        }
        match s.read(&mut chunk).await {
            Ok(0) if buf.is_empty() => {
                return Outcome::Failed("The connection closed with no response".into())
            }
            Ok(0) => break buf.len(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Outcome::Failed(format!("Reading the response failed: {e}")),
        }
    };
    let Some((code, reason)) = status_line(&buf[..head_end]) else {
        return Outcome::Failed("The response is not HTTP".into());
    };
    let found = match &config.search_string {
        Some(needle) if config.check_type.matches_string() => {
            while buf.len() - head_end < SEARCH_BYTES {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let end = buf.len().min(head_end + SEARCH_BYTES);
            Some(find(&buf[head_end..end], needle.as_bytes()).is_some())
        }
        _ => None,
    };
    Outcome::Http {
        code,
        reason,
        found,
    }
}

/// `HTTP/1.x CODE REASON`.
fn status_line(head: &[u8]) -> Option<(u16, String)> {
    let line_end = find(head, b"\r\n").unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).ok()?;
    let mut parts = line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code: u16 = parts.next()?.parse().ok()?;
    if !(100..=999).contains(&code) {
        return None;
    }
    Some((code, parts.next().unwrap_or("").trim().to_string()))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A TLS client that accepts any certificate (Route 53 does not check them).
pub fn tls_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
        .with_no_client_auth();
    Arc::new(config)
}

#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
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
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_model::route53::health_checks::CheckType;
    use tokio::net::TcpListener;

    #[test]
    fn status_lines_parse_and_garbage_does_not() {
        assert_eq!(
            status_line(b"HTTP/1.1 503 Service Unavailable\r\n"),
            Some((503, "Service Unavailable".into()))
        );
        assert_eq!(status_line(b"HTTP/1.0 200\r\n"), Some((200, String::new())));
        assert_eq!(status_line(b"SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(status_line(b"HTTP/1.1 abc OK\r\n"), None);
    }

    proptest::proptest! {
        /// Whatever a target answers, the probe reads an outcome from it: never a panic,
        /// and a well-formed status line always reads back as sent.
        #[test]
        fn any_answer_gives_an_outcome(
            answer in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            code in 100u16..1000,
            reason in "[ -~]{0,20}",
        ) {
            let _ = status_line(&answer);
            let line = format!("HTTP/1.1 {code} {reason}\r\n");
            proptest::prop_assert_eq!(
                status_line(line.as_bytes()),
                Some((code, reason.trim().to_string()))
            );
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (client, mut server) = tokio::io::duplex(1 << 16);
                let sent = answer.clone();
                let serve = tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let _ = server.write_all(&sent).await;
                    drop(server);
                });
                let mut config = config(CheckType::HttpStrMatch, "127.0.0.1:9".parse().unwrap());
                config.search_string = Some("ok".into());
                let _ = http(&config, client).await;
                let _ = serve.await;
            });
        }
    }

    /// A one-shot server answering `answer` to the first request.
    async fn serve_once(answer: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(answer.as_bytes()).await;
        });
        addr
    }

    fn config(t: CheckType, addr: SocketAddr) -> HealthCheckConfig {
        let mut c = HealthCheckConfig::new(t);
        c.ip_address = Some(addr.ip());
        c.port = Some(addr.port());
        c
    }

    #[tokio::test]
    async fn http_probes_read_the_status_and_match_strings() {
        let tls = tls_config();
        let addr = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        let (o, source) = probe(&config(CheckType::Http, addr), &tls).await;
        assert_eq!(o.status(), "Success: HTTP Status Code 200, OK");
        assert_eq!(source, Some("127.0.0.1".parse().unwrap()));

        let addr = serve_once("HTTP/1.1 500 Internal Server Error\r\n\r\n").await;
        let (o, _) = probe(&config(CheckType::Http, addr), &tls).await;
        assert!(!o.success());

        let addr = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        let mut c = config(CheckType::HttpStrMatch, addr);
        c.search_string = Some("ell".into());
        assert!(probe(&c, &tls).await.0.success());
        let addr = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").await;
        c.port = Some(addr.port());
        c.search_string = Some("bye".into());
        assert!(!probe(&c, &tls).await.0.success());
    }

    #[tokio::test]
    async fn tcp_probes_connect_and_refusals_are_named() {
        let tls = tls_config();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(
            probe(&config(CheckType::Tcp, addr), &tls).await.0,
            Outcome::Connected
        );
        drop(listener);
        let (o, _) = probe(&config(CheckType::Tcp, addr), &tls).await;
        assert_eq!(o, Outcome::Refused);
    }
}
