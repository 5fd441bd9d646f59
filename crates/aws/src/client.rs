//! A small SigV4-signing client for AWS JSON 1.1 services, used by the agent (to talk to
//! the server) and by Flotilla's own command-line tools. Only what those need: `POST /`
//! with a JSON body and `X-Amz-Target`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::AwsError;

mod duplex;
pub use duplex::{duplex, Duplex};

/// Where and as whom to call.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `http://HOST:PORT` of the server, or of several servers separated by commas: a
    /// call that gets no answer moves the client's next calls to the next one.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// A temporary key's session token, sent (and signed) as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// Bound on one call, including any long-poll wait.
    pub timeout: Duration,
    /// For an `https://` endpoint: whom to trust. `None` trusts no one, so only `http://`
    /// endpoints work.
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// The connections calls travel on; clones (and the clients made with them) share them.
#[derive(Clone)]
pub struct Connections {
    http: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// How often an idle HTTP/2 connection is pinged, and how long the answer may take before
/// the connection (and every call on it) is given up: a server that vanished without a
/// reset is noticed within their sum.
const H2_PING_INTERVAL: Duration = Duration::from_secs(10);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(5);

impl Connections {
    /// HTTP/1.1: one connection per call in flight, kept for the next.
    pub fn http1(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        Connections {
            http: HyperClient::builder(TokioExecutor::new()).build(connector(tls, false)),
        }
    }

    /// HTTP/2 (in the clear on `http://`, by ALPN on `https://`): every call, long polls
    /// included, on one connection per server, pinged so that a server gone silent fails
    /// the calls on it. Needs a Flotilla server; for its agents, whose thousands would
    /// otherwise hold two or three connections each.
    pub fn http2(tls: Option<Arc<rustls::ClientConfig>>) -> Self {
        let http = http2_pinged().build(connector(tls, true));
        Connections { http }
    }
}

/// A client builder for HTTP/2 only, pinging its connections while idle (see
/// [`H2_PING_INTERVAL`]).
fn http2_pinged() -> hyper_util::client::legacy::Builder {
    let mut builder = HyperClient::builder(TokioExecutor::new());
    builder
        .timer(TokioTimer::new())
        .http2_only(true)
        .http2_keep_alive_interval(H2_PING_INTERVAL)
        .http2_keep_alive_timeout(H2_PING_TIMEOUT)
        .http2_keep_alive_while_idle(true);
    builder
}

/// `http://` or `https://` (trusting what `tls` trusts, no one without it), offering
/// HTTP/2 by ALPN when `http2`, else HTTP/1.1.
fn connector(
    tls: Option<Arc<rustls::ClientConfig>>,
    http2: bool,
) -> hyper_rustls::HttpsConnector<HttpConnector> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((*tls.unwrap_or_else(trust_no_one)).clone())
        .https_or_http();
    // No Nagle: an HTTP/2 request goes out as several small frames (HEADERS, then DATA),
    // and waiting for the ACK of the first cost each call ~40 ms (a task's launch went
    // from RunTask to RUNNING ~45 ms slower once agents moved to HTTP/2; BENCHMARKS.md).
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    if http2 {
        builder.enable_http2().wrap_connector(tcp)
    } else {
        builder.enable_http1().wrap_connector(tcp)
    }
}

/// Calls one JSON 1.1 service (`signing_name`, `target_prefix`).
#[derive(Clone)]
pub struct JsonClient {
    config: ClientConfig,
    signing_name: String,
    target_prefix: String,
    http: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// The servers [`ClientConfig::endpoint`] names, and which one calls go to now.
    endpoints: Arc<[String]>,
    current: Arc<AtomicUsize>,
}

/// The URLs a [`ClientConfig::endpoint`] names: one, or several separated by commas.
pub fn endpoints(endpoint: &str) -> Vec<String> {
    endpoint
        .split(',')
        .map(|e| e.trim().trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .collect()
}

/// Why a call failed: the service's error, or no answer at all.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The service answered with an AWS error.
    #[error("{0}")]
    Service(AwsError),
    /// The request did not get an answer (connection refused, reset, timeout).
    #[error("no answer from {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
}

impl CallError {
    /// Whether trying again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            CallError::Service(e) => e.is_server_fault() || e.code == "ThrottlingException",
            CallError::Transport { .. } => true,
        }
    }
}

impl JsonClient {
    /// A client with connections of its own (HTTP/1.1).
    pub fn new(config: ClientConfig, signing_name: &str, target_prefix: &str) -> Self {
        let connections = Connections::http1(config.tls.clone());
        Self::with_connections(config, &connections, signing_name, target_prefix)
    }

    /// A client whose calls travel on `connections` (whose TLS settings, not `config.tls`,
    /// apply).
    pub fn with_connections(
        config: ClientConfig,
        connections: &Connections,
        signing_name: &str,
        target_prefix: &str,
    ) -> Self {
        let http = connections.http.clone();
        let mut urls = endpoints(&config.endpoint);
        if urls.is_empty() {
            urls.push(String::new());
        }
        JsonClient {
            config,
            signing_name: signing_name.into(),
            target_prefix: target_prefix.into(),
            http,
            endpoints: urls.into(),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Whom the client's TLS trusts (for other connections to the same server).
    pub fn tls(&self) -> Option<Arc<rustls::ClientConfig>> {
        self.config.tls.clone()
    }

    /// The server calls go to now.
    pub fn endpoint(&self) -> &str {
        &self.endpoints[self.current.load(Ordering::Relaxed) % self.endpoints.len()]
    }

    /// Call `operation` with `input`; the answer decoded into `O`.
    pub async fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        operation: &str,
        input: &I,
    ) -> Result<O, CallError> {
        let chosen = self.current.load(Ordering::Relaxed);
        let result = self.call_at(chosen, operation, input).await;
        if let Err(e @ CallError::Transport { .. }) = &result {
            if self.endpoints.len() > 1 {
                // Only the first of several calls failing on this server moves on.
                let moved = self
                    .current
                    .compare_exchange(
                        chosen,
                        chosen.wrapping_add(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok();
                if moved {
                    tracing::warn!(error = %e, next = %self.endpoint(), "no answer: trying the next server");
                }
            }
        }
        result
    }

    async fn call_at<I: Serialize, O: DeserializeOwned>(
        &self,
        chosen: usize,
        operation: &str,
        input: &I,
    ) -> Result<O, CallError> {
        let body = serde_json::to_vec(input).map_err(|e| CallError::Transport {
            endpoint: self.endpoint().to_string(),
            message: e.to_string(),
        })?;
        let target = format!("{}.{operation}", self.target_prefix);
        let wire = Wire {
            content_type: "application/x-amz-json-1.1",
            target: Some(&target),
        };
        let (status, bytes) = self.send(chosen, wire, body).await?;
        if status == StatusCode::OK {
            return serde_json::from_slice(&bytes).map_err(|e| {
                CallError::Service(AwsError::serialization(format!("bad answer: {e}")))
            });
        }
        Err(CallError::Service(decode_error(status, &bytes)))
    }

    /// Call `action` of a query-protocol service (ELBv2, EC2, IAM, CloudWatch) at API
    /// `version` with `params` (already flattened: `Names.member.1`, ...); the XML
    /// answer. The client's target prefix plays no part.
    pub async fn query(
        &self,
        action: &str,
        version: &str,
        params: &[(String, String)],
    ) -> Result<String, CallError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action)
            .append_pair("Version", version);
        for (k, v) in params {
            form.append_pair(k, v);
        }
        let wire = Wire {
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            target: None,
        };
        let chosen = self.current.load(Ordering::Relaxed);
        let (status, bytes) = self.send(chosen, wire, form.finish().into_bytes()).await?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if status == StatusCode::OK {
            return Ok(text);
        }
        let element = |name: &str| {
            let open = format!("<{name}>");
            let start = text.find(&open)? + open.len();
            let end = text[start..].find(&format!("</{name}>"))? + start;
            Some(text[start..end].to_string())
        };
        Err(CallError::Service(AwsError::new(
            status,
            element("Code").unwrap_or_else(|| "UnknownError".into()),
            element("Message").unwrap_or_default(),
        )))
    }

    /// Sign and send one `POST /` to the `chosen` server; its status and body.
    async fn send(
        &self,
        chosen: usize,
        wire: Wire<'_>,
        body: Vec<u8>,
    ) -> Result<(StatusCode, Bytes), CallError> {
        let endpoint = &self.endpoints[chosen % self.endpoints.len()];
        let transport = |message: String| CallError::Transport {
            endpoint: endpoint.clone(),
            message,
        };
        let request = self.signed_request(endpoint, wire, body, chrono::Utc::now())?;
        let call = async {
            let resp = self
                .http
                .request(request)
                .await
                .map_err(|e| transport(e.to_string()))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| transport(e.to_string()))?
                .to_bytes();
            Ok::<_, CallError>((status, bytes))
        };
        tokio::time::timeout(self.config.timeout, call)
            .await
            .map_err(|_| transport(format!("timed out after {:?}", self.config.timeout)))?
    }

    fn signed_request(
        &self,
        endpoint: &str,
        wire: Wire<'_>,
        body: Vec<u8>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Request<Full<Bytes>>, CallError> {
        let transport = |message: String| CallError::Transport {
            endpoint: endpoint.to_string(),
            message,
        };
        let uri: http::Uri = format!("{endpoint}/")
            .parse()
            .map_err(|e: http::uri::InvalidUri| transport(format!("bad endpoint: {e}")))?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default();
        let content_type = wire.content_type;
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let token = self.config.session_token.as_deref();
        let mut headers = vec![
            ("content-type", content_type),
            ("host", host.as_str()),
            ("x-amz-date", amz_date.as_str()),
        ];
        headers.extend(token.map(|t| ("x-amz-security-token", t)));
        headers.extend(wire.target.map(|t| ("x-amz-target", t)));
        let authorization = sign(
            &Signing {
                access_key_id: &self.config.access_key_id,
                secret: &self.config.secret_access_key,
                region: &self.config.region,
                service: &self.signing_name,
            },
            &headers,
            &body,
            now,
        );
        let mut req = Request::post(uri)
            .header("content-type", content_type)
            .header("x-amz-date", &amz_date)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| transport(e.to_string()))?;
        if let Some(t) = wire.target {
            let t = HeaderValue::from_str(t).map_err(|e| transport(e.to_string()))?;
            req.headers_mut().insert("x-amz-target", t);
        }
        let auth = HeaderValue::from_str(&authorization).map_err(|e| transport(e.to_string()))?;
        req.headers_mut().insert(http::header::AUTHORIZATION, auth);
        if let Some(t) = token {
            let t = HeaderValue::from_str(t).map_err(|e| transport(e.to_string()))?;
            req.headers_mut().insert("x-amz-security-token", t);
        }
        if let Ok(h) = HeaderValue::from_str(&host) {
            req.headers_mut().insert(http::header::HOST, h);
        }
        Ok(req)
    }
}

/// `GET url` (no signature): the body of a 200 answer. For the few unauthenticated
/// resources Flotilla serves, such as its CA certificate.
pub async fn get(
    url: &str,
    tls: std::sync::Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<Bytes, CallError> {
    let transport = |message: String| CallError::Transport {
        endpoint: url.to_string(),
        message,
    };
    let http = Connections::http1(Some(tls)).http;
    let uri: http::Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| transport(e.to_string()))?;
    let call = async {
        let resp = http.get(uri).await.map_err(|e| transport(e.to_string()))?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| transport(e.to_string()))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(CallError::Service(AwsError::new(
                status,
                "UnexpectedStatus",
                format!("GET {url} answered {status}"),
            )));
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, call)
        .await
        .map_err(|_| transport(format!("timed out after {timeout:?}")))?
}

/// A TLS client configuration with no trusted authority: any `https://` call fails.
fn trust_no_one() -> std::sync::Arc<rustls::ClientConfig> {
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    std::sync::Arc::new(config)
}

/// How a call's body is framed: its content type, and the `X-Amz-Target` naming the
/// operation (JSON protocols only; the query protocol names it in the body).
#[derive(Clone, Copy)]
struct Wire<'a> {
    content_type: &'a str,
    target: Option<&'a str>,
}

/// An AWS error from a JSON error answer (`__type` and `message`), as SDKs read it.
pub fn decode_error(status: StatusCode, bytes: &[u8]) -> AwsError {
    let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
    let code = v["__type"].as_str().unwrap_or("UnknownError");
    let code = code.rsplit('#').next().unwrap_or(code);
    let message = v["message"]
        .as_str()
        .or(v["Message"].as_str())
        .unwrap_or("");
    AwsError::new(status, code, message)
}

/// Who signs for which scope.
struct Signing<'a> {
    access_key_id: &'a str,
    secret: &'a str,
    region: &'a str,
    service: &'a str,
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The `Authorization` header for `POST /` with no query string and the given headers
/// (lower-case names, sorted).
fn sign(
    s: &Signing<'_>,
    headers: &[(&str, &str)],
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    sign_any(s, ("POST", "/", ""), headers, body, now)
}

/// Who signs a request made with [`signed_request`]: a key pair, with its session token
/// when it is a temporary one.
pub struct SigningKey<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// A request to `host` signed with SigV4 by `key` for `service` in `region`: `method` on
/// `path` (already in canonical, URI-encoded form, without a query string) with
/// `headers` (a content type, `X-Amz-Target`) and `body`. What the console sends its
/// callers' requests through the gateway with.
pub fn signed_request(
    key: &SigningKey<'_>,
    (region, service): (&str, &str),
    (method, host, path): (&str, &str, &str),
    headers: &[(&str, &str)],
    body: Bytes,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Request<Full<Bytes>>, http::Error> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let mut signed: Vec<(String, &str)> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), *v))
        .collect();
    signed.push(("host".into(), host));
    signed.push(("x-amz-date".into(), &amz_date));
    if let Some(t) = key.session_token {
        signed.push(("x-amz-security-token".into(), t));
    }
    signed.sort();
    let pairs: Vec<(&str, &str)> = signed.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let authorization = sign_any(
        &Signing {
            access_key_id: key.access_key_id,
            secret: key.secret_access_key,
            region,
            service,
        },
        (method, path, ""),
        &pairs,
        &body,
        now,
    );
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://{host}{path}"));
    for (k, v) in &pairs {
        builder = builder.header(*k, *v);
    }
    builder
        .header(http::header::AUTHORIZATION, authorization)
        .body(Full::new(body))
}

/// The `Authorization` header for `method` on `path` with `query` (both canonical) and
/// the given headers (lower-case names, sorted).
fn sign_any(
    s: &Signing<'_>,
    (method, path, query): (&str, &str, &str),
    headers: &[(&str, &str)],
    body: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = now.format("%Y%m%d").to_string();
    let canonical_headers: String = headers
        .iter()
        .map(|(k, v)| format!("{k}:{}\n", v.trim()))
        .collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| *k)
        .collect::<Vec<_>>()
        .join(";");
    let canonical = format!(
        "{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{}",
        hex::encode(Sha256::digest(body))
    );
    let scope = format!("{date}/{}/{}/aws4_request", s.region, s.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(format!("AWS4{}", s.secret).as_bytes(), &date);
    let key = hmac(&key, s.region);
    let key = hmac(&key, s.service);
    let key = hmac(&key, "aws4_request");
    let signature = hex::encode(hmac(&key, &to_sign));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        s.access_key_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example (IAM ListUsers, GET, in the SigV4 documentation) cannot be
    /// reused for POST; instead check the signer against the verifier this crate serves
    /// with.
    #[tokio::test]
    async fn signatures_verify_with_the_server_side_verifier() {
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let client = JsonClient::new(
            ClientConfig {
                endpoint: "http://127.0.0.1:4566".into(),
                region: "eu-west-1".into(),
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: secret.into(),
                session_token: None,
                timeout: Duration::from_secs(1),
                tls: None,
            },
            "flotilla",
            "FlotillaAgent_v1",
        );
        let json = Wire {
            content_type: "application/x-amz-json-1.1",
            target: Some("FlotillaAgent_v1.Poll"),
        };
        let query = Wire {
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            target: None,
        };
        let creds = crate::Credentials::single("000000000000", "AKIDEXAMPLE", secret).unwrap();
        for (wire, body) in [
            (json, &b"{\"a\":1}"[..]),
            (
                query,
                &b"Action=DescribeTargetHealth&Version=2015-12-01"[..],
            ),
        ] {
            let req = client
                .signed_request(client.endpoint(), wire, body.to_vec(), chrono::Utc::now())
                .unwrap();
            let (parts, body) = req.into_parts();
            assert_eq!(
                parts.headers.contains_key("x-amz-target"),
                wire.target.is_some()
            );
            let body = body.collect().await.unwrap().to_bytes();
            let v = crate::sigv4::verify(&creds, &parts, &body).await.unwrap();
            assert_eq!(
                (v.region.as_str(), v.service.as_str()),
                ("eu-west-1", "flotilla")
            );
        }
        let req = client
            .signed_request(client.endpoint(), json, b"{}".to_vec(), chrono::Utc::now())
            .unwrap();
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();

        // Any method and path, a session token's header signed with the rest.
        let key = SigningKey {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: secret,
            session_token: None,
        };
        let get = signed_request(
            &key,
            ("us-east-1", "route53"),
            ("GET", "127.0.0.1:4566", "/2013-04-01/hostedzone"),
            &[],
            Bytes::new(),
            chrono::Utc::now(),
        )
        .unwrap();
        let (get_parts, _) = get.into_parts();
        let v = crate::sigv4::verify(&creds, &get_parts, &Bytes::new())
            .await
            .unwrap();
        assert_eq!(v.service, "route53");

        let wrong =
            crate::Credentials::single("000000000000", "AKIDEXAMPLE", &secret.replace('w', "x"))
                .unwrap();
        assert!(crate::sigv4::verify(&wrong, &parts, &body).await.is_err());
    }

    /// Several servers: a call that gets no answer moves the next calls to the next one.
    #[tokio::test]
    async fn a_server_that_does_not_answer_sends_calls_to_the_next() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let up = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = s.write_all(answer.as_bytes()).await;
            }
        });
        // Port 1 on loopback: nothing listens, the connection is refused.
        let down = "http://127.0.0.1:1".to_string();
        let client = JsonClient::new(
            ClientConfig {
                endpoint: format!("{down}, {up}/"),
                region: "us-east-1".into(),
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: "secret".into(),
                session_token: None,
                timeout: Duration::from_secs(5),
                tls: None,
            },
            "ecs",
            "AmazonEC2ContainerServiceV20141113",
        );
        assert_eq!(client.endpoint(), down);
        let first: Result<serde_json::Value, _> = client.call("ListClusters", &()).await;
        assert!(
            matches!(&first, Err(CallError::Transport { endpoint, .. }) if *endpoint == down),
            "{first:?}"
        );
        assert_eq!(client.endpoint(), up);
        let second: serde_json::Value = client.call("ListClusters", &()).await.unwrap();
        assert_eq!(second, serde_json::json!({}));
        assert_eq!(client.endpoint(), up);
    }

    #[test]
    fn errors_decode_from_json_answers() {
        let e = decode_error(
            StatusCode::BAD_REQUEST,
            br#"{"__type":"com.amazonaws.ecs#ClusterNotFoundException","message":"Cluster not found."}"#,
        );
        assert_eq!(e.code, "ClusterNotFoundException");
        assert_eq!(e.message, "Cluster not found.");
    }
}
