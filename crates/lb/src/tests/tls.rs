//! HTTPS listeners: certificates by SNI, h2 by ALPN; and h2c on plain listeners.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use flotilla_model::elbv2::listener::ListenerProtocol;
use flotilla_model::elbv2::plane::{CertificatePem, PlaneConfig};
use http::{header, Request};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;

use super::harness::*;

/// Accepts any certificate and remembers the leaf it was shown.
#[derive(Debug)]
struct Recorder {
    seen: Mutex<Option<Vec<u8>>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        *self.seen.lock().unwrap() = Some(end_entity.to_vec());
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
            &self.provider.signature_verification_algorithms,
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
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

struct Handshake {
    leaf: Vec<u8>,
    alpn: Option<Vec<u8>>,
    stream: tokio_rustls::client::TlsStream<TcpStream>,
}

async fn handshake(port: u16, sni: &str) -> Handshake {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let recorder = Arc::new(Recorder {
        seen: Mutex::new(None),
        provider: provider.clone(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(recorder.clone())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let stream = connector.connect(name, tcp).await.unwrap();
    let alpn = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let leaf = recorder.seen.lock().unwrap().clone().unwrap();
    Handshake { leaf, alpn, stream }
}

fn certificate(arn: &str, names: &[&str]) -> (Arc<CertificatePem>, Vec<u8>) {
    let generated =
        rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    let pem = CertificatePem {
        arn: arn.into(),
        chain_pem: generated.cert.pem(),
        private_key_pem: generated.key_pair.serialize_pem(),
        names: names.iter().map(|s| s.to_string()).collect(),
    };
    (Arc::new(pem), generated.cert.der().to_vec())
}

fn tls_config(
    http2: bool,
    port: u16,
    plain_port: u16,
    a: &Backend,
    certs: &[Arc<CertificatePem>],
) -> PlaneConfig {
    let mut https = listener("l/https", port, vec![], forward("tg/a"));
    https.protocol = ListenerProtocol::Https;
    https.certificates = certs.iter().map(|c| c.arn.clone()).collect();
    let plain = listener("l/http", plain_port, vec![], forward("tg/a"));
    let mut lb = load_balancer(vec![https, plain]);
    lb.http2 = http2;
    let mut config = plane_config(lb, vec![group("tg/a", &[a])]);
    config.certificates = certs.iter().map(|c| (c.arn.clone(), c.clone())).collect();
    config
}

#[tokio::test]
async fn https_listeners_pick_certificates_by_sni_and_speak_h2() {
    let a = Backend::start("a").await;
    let (default, default_der) = certificate("cert/default", &["default.example.com"]);
    let (wild, wild_der) = certificate("cert/wild", &["*.b.example.com"]);
    let (port, plain_port) = (free_port(), free_port());
    let certs = [default, wild];
    let mut h = Harness::start(tls_config(true, port, plain_port, &a, &certs));
    h.wait_healthy("tg/a", &[&a]).await;
    wait_listening(port).await;

    let other = handshake(port, "other.example.org").await;
    assert_eq!(
        other.leaf, default_der,
        "no name matches: the default certificate"
    );
    let deep = handshake(port, "x.y.b.example.com").await;
    assert_eq!(deep.leaf, default_der, "a wildcard covers one label only");

    let tls = handshake(port, "shop.b.example.com").await;
    assert_eq!(tls.leaf, wild_der);
    assert_eq!(tls.alpn.as_deref(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls.stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get("https://shop.b.example.com/over-h2")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"a");
    let seen = a.last_seen();
    assert_eq!(seen["x-forwarded-proto"], "https");
    assert_eq!(
        seen[header::HOST],
        "shop.b.example.com",
        "the h2 :authority becomes Host"
    );

    // h2c with prior knowledge on the plain listener.
    wait_listening(plain_port).await;
    let tcp = TcpStream::connect(("127.0.0.1", plain_port)).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = Request::get(format!("http://127.0.0.1:{plain_port}/h2c"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    assert_eq!(
        sender
            .send_request(request)
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(a.last_seen()["x-forwarded-proto"], "http");

    // HTTP/2 turned off: ALPN offers http/1.1 only, on the same socket.
    h.set(tls_config(false, port, plain_port, &a, &certs));
    let mut alpn = None;
    for _ in 0..100 {
        alpn = handshake(port, "shop.b.example.com").await.alpn;
        if alpn.as_deref() == Some(&b"http/1.1"[..]) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(alpn.as_deref(), Some(&b"http/1.1"[..]));
    h.stop().await;
}
