//! The gateway: one HTTP handler that authenticates every request, finds the service it
//! addresses and the operation it names, calls the service and writes the answer.
//!
//! Routing: the SigV4 credential scope names the service (`ecs`, `sts`, ...); a JSON
//! service then takes the operation from `X-Amz-Target` (`Prefix.Operation`), a query
//! service from `Action`, and a REST-XML service routes the method and path itself.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::{encoding, metrics, AuthRequest};

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use futures::FutureExt;
use http::request::Parts;
use http::{HeaderMap, Method, StatusCode};

use crate::protocol::{render, render_error, Protocol};
use crate::{sigv4, AwsError, Credentials, Principal};

/// What a service declares about itself for routing.
#[derive(Debug, Clone)]
pub struct AwsServiceSpec {
    /// The SigV4 signing name clients use (`ecs`, `sts`, `route53`, ...).
    pub signing_name: &'static str,
    pub protocol: Protocol,
    /// For JSON services: the `X-Amz-Target` prefix, e.g. `AmazonEC2ContainerServiceV20141113`.
    pub target_prefix: &'static str,
    /// For XML services: the namespace of responses and errors.
    pub xmlns: &'static str,
}

/// Who is calling and where: handed to every operation.
#[derive(Debug, Clone)]
pub struct Context {
    pub region: String,
    pub account: String,
    pub access_key: String,
    /// What kind of key signed the request; [`AwsService::admits`] has allowed it.
    pub principal: Principal,
    /// The ARN of the calling identity (the account root for root keys).
    pub principal_arn: String,
    pub request_id: String,
}

/// A REST-XML request as the service sees it.
#[derive(Debug, Clone)]
pub struct RestRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// An operation's decoded input.
#[derive(Debug, Clone)]
pub enum Input {
    /// The raw JSON body (`{}` when the client sent none); parse it with [`Input::json`].
    Json(Bytes),
    /// The form parameters of a query request, `Action` and `Version` included.
    Query(Vec<(String, String)>),
    Rest(RestRequest),
}

impl Input {
    /// Decode a JSON body into the operation's input type; a malformed body or a member of
    /// the wrong type is a `SerializationException`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, AwsError> {
        match self {
            Input::Json(body) => serde_json::from_slice(body)
                .map_err(|e| AwsError::serialization(format!("Malformed request body: {e}"))),
            _ => Err(AwsError::serialization("Expected a JSON request body.")),
        }
    }

    /// The raw body length, for services with request size limits.
    pub fn body_len(&self) -> usize {
        match self {
            Input::Json(b) => b.len(),
            Input::Query(params) => params.iter().map(|(k, v)| k.len() + v.len() + 2).sum(),
            Input::Rest(r) => r.body.len(),
        }
    }

    /// A query parameter by name.
    pub fn param(&self, name: &str) -> Option<&str> {
        match self {
            Input::Query(params) => params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

/// An operation's answer.
#[derive(Debug)]
pub enum Output {
    /// A JSON body (JSON protocols).
    Json(serde_json::Value),
    /// For query services the contents of `<OperationResult>`; for REST-XML the whole
    /// document.
    Xml(String),
    /// A response the service built itself.
    Http(http::Response<Bytes>),
}

/// An AWS service served by the gateway.
#[async_trait]
pub trait AwsService: Send + Sync + 'static {
    fn spec(&self) -> &AwsServiceSpec;
    /// Whether a caller of this kind may call `operation` at all (checked before the call;
    /// the operation may still refuse a resource that is not the caller's). Only root keys
    /// unless a service says otherwise.
    fn admits(&self, principal: &Principal, operation: &str) -> bool {
        let _ = operation;
        *principal == Principal::Root
    }

    /// Perform `operation` (empty for REST-XML, which routes by [`RestRequest`]).
    async fn call(&self, ctx: &Context, operation: &str, input: Input) -> Result<Output, AwsError>;
}

/// The prefix of a service's actions in IAM policies, from its signing name (they differ
/// for CloudWatch only among the services served).
pub fn iam_prefix(signing_name: &str) -> &str {
    match signing_name {
        "monitoring" => "cloudwatch",
        other => other,
    }
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub credentials: Credentials,
    pub account: String,
    /// Bodies above this size are refused with 413 before anything else is done.
    pub max_body_bytes: usize,
    /// A body not received in full within this long is refused with 408, so a client that
    /// declares a body and trickles or withholds it cannot hold the connection.
    pub body_timeout: std::time::Duration,
    /// Bytes of request bodies held at once, all requests together, before their signatures
    /// are checked (at least `max_body_bytes`). A request that would go over waits a moment
    /// and is then refused with 503, which SDKs retry.
    pub max_buffered_bytes: usize,
}

/// The set of services behind one listener.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<GatewayInner>,
}

struct GatewayInner {
    config: GatewayConfig,
    services: HashMap<&'static str, Arc<dyn AwsService>>,
    /// One permit per byte of `max_buffered_bytes`.
    buffered: Arc<tokio::sync::Semaphore>,
}

impl Gateway {
    /// Services are told apart by their signing names: two with one name is a wiring
    /// mistake (the later would hide the earlier), caught in debug builds.
    pub fn new(config: GatewayConfig, services: Vec<Arc<dyn AwsService>>) -> Self {
        let count = services.len();
        let services: HashMap<_, _> = services
            .into_iter()
            .map(|s| (s.spec().signing_name, s))
            .collect();
        debug_assert_eq!(services.len(), count, "two services share a signing name");
        let budget = config
            .max_buffered_bytes
            .max(config.max_body_bytes)
            .min(tokio::sync::Semaphore::MAX_PERMITS);
        Gateway {
            inner: Arc::new(GatewayInner {
                config,
                services,
                buffered: Arc::new(tokio::sync::Semaphore::new(budget)),
            }),
        }
    }

    /// An axum router answering every AWS request; other routes can be merged in front.
    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(handle)
            .with_state(self.clone())
    }

    /// Answer one request. Never panics and never fails: every outcome is a response.
    pub async fn handle(&self, req: Request) -> Response {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (parts, body) = req.into_parts();
        let guess = Protocol::guess(&parts);
        let limit = self.inner.config.max_body_bytes;
        // A declared length far above the limit is refused before any byte of the body is
        // waited for (a client could declare 100 GB and send two bytes). One just above it
        // is read up to the limit first, so that an ordinary client still sending its body
        // reads the 413 instead of a reset connection.
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > (limit as u64).saturating_mul(DRAIN_FACTOR)) {
            return render_error(guess, "", &too_large(limit), &request_id);
        }
        // Reserve what the body may take before reading it: its declared length, or the
        // limit when it does not say.
        let hint = axum::body::HttpBody::size_hint(&body);
        let reserve = hint.exact().unwrap_or(limit as u64).min(limit as u64);
        let reserve = u32::try_from(reserve).unwrap_or(u32::MAX);
        let permit = self.inner.buffered.clone().acquire_many_owned(reserve);
        let Ok(Ok(_permit)) = tokio::time::timeout(BUFFER_WAIT, permit).await else {
            let err = AwsError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The server is reading too many request bodies at once; retry the request.",
            );
            return render_error(guess, "", &err, &request_id);
        };
        let read = collect_limited(body, limit, (limit as u64).saturating_mul(DRAIN_FACTOR));
        let Ok(read) = tokio::time::timeout(self.inner.config.body_timeout, read).await else {
            let err = AwsError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                format!(
                    "The request body was not received within {} seconds.",
                    self.inner.config.body_timeout.as_secs_f64()
                ),
            );
            return render_error(guess, "", &err, &request_id);
        };
        let body = match read {
            Ok(b) => b,
            Err(is_too_large) => {
                let err = if is_too_large {
                    too_large(limit)
                } else {
                    AwsError::client(
                        "SerializationException",
                        "The request body could not be read.",
                    )
                };
                return render_error(guess, "", &err, &request_id);
            }
        };
        let call = AssertUnwindSafe(self.dispatch(guess, parts, body, &request_id)).catch_unwind();
        match call.await {
            Ok(resp) => resp,
            Err(_) => {
                tracing::error!(request_id, "request handler panicked");
                let err = AwsError::server(
                    "InternalFailure",
                    "The server failed to process the request.",
                );
                render_error(guess, "", &err, &request_id)
            }
        }
    }

    async fn dispatch(
        &self,
        guess: Protocol,
        parts: Parts,
        body: Bytes,
        request_id: &str,
    ) -> Response {
        let verified = match sigv4::verify(&self.inner.config.credentials, &parts, &body).await {
            Ok(v) => v,
            Err(e) => {
                let xmlns = self
                    .service_for_guess(&parts)
                    .map(|s| s.spec().xmlns)
                    .unwrap_or("");
                return render_error(guess, xmlns, &e, request_id);
            }
        };
        let Some(service) = self.inner.services.get(verified.service.as_str()).cloned() else {
            let err = AwsError::client(
                "UnknownServiceException",
                format!(
                    "Flotilla does not serve the AWS service '{}'.",
                    verified.service
                ),
            );
            return render_error(guess, "", &err, request_id);
        };
        let spec = service.spec().clone();
        // Signed as sent; read as meant: SDKs gzip large bodies (PutMetricData).
        let body =
            match encoding::decode_body(&parts.headers, body, self.inner.config.max_body_bytes) {
                Ok(b) => b,
                Err(e) => return render_error(spec.protocol, spec.xmlns, &e, request_id),
            };
        let (operation, input) = match decode(&spec, &parts, body) {
            Ok(x) => x,
            Err(e) => return render_error(spec.protocol, spec.xmlns, &e, request_id),
        };
        if !service.admits(&verified.principal, &operation) {
            let message = match verified.principal {
                // An IAM identity: what its policies allow.
                Principal::User => self
                    .inner
                    .config
                    .credentials
                    .authorize(&AuthRequest {
                        access_key: &verified.access_key,
                        principal_arn: &verified.principal_arn,
                        service: spec.signing_name,
                        operation: &operation,
                        region: &verified.region,
                        input: &input,
                    })
                    .err(),
                _ => Some(format!(
                    "User: {} is not authorized to perform: {}:{operation}",
                    verified.principal_arn,
                    iam_prefix(spec.signing_name)
                )),
            };
            if let Some(message) = message {
                let err = AwsError::new(StatusCode::FORBIDDEN, "AccessDenied", message);
                return render_error(spec.protocol, spec.xmlns, &err, request_id);
            }
        }
        let ctx = Context {
            principal: verified.principal,
            principal_arn: verified.principal_arn,
            region: verified.region,
            account: self.inner.config.account.clone(),
            access_key: verified.access_key,
            request_id: request_id.to_string(),
        };
        let started = std::time::Instant::now();
        let result = service.call(&ctx, &operation, input).await;
        metrics::record(
            spec.signing_name,
            &operation,
            result.as_ref().err().map(|e| e.code.as_str()),
            started.elapsed(),
        );
        tracing::debug!(
            service = spec.signing_name,
            operation,
            request_id,
            ok = result.is_ok(),
            micros = started.elapsed().as_micros() as u64,
            "aws request"
        );
        match result {
            Ok(out) => render(spec.protocol, &operation, spec.xmlns, out, request_id),
            Err(e) => {
                if e.is_server_fault() {
                    tracing::warn!(request_id, operation, error = %e, "operation failed");
                }
                render_error(spec.protocol, spec.xmlns, &e, request_id)
            }
        }
    }

    /// The service an unauthenticated request seems to address, to pick an error namespace.
    fn service_for_guess(&self, parts: &Parts) -> Option<&Arc<dyn AwsService>> {
        let (_, _, service) = sigv4::credential_scope(parts)?;
        self.inner.services.get(service.as_str())
    }
}

async fn handle(State(gw): State<Gateway>, req: Request) -> Response {
    gw.handle(req).await
}

/// The operation name and decoded input of a verified request.
fn decode(spec: &AwsServiceSpec, parts: &Parts, body: Bytes) -> Result<(String, Input), AwsError> {
    match spec.protocol {
        Protocol::Json10 | Protocol::Json11 => {
            let target = parts
                .headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let operation = match target.split_once('.') {
                Some((prefix, op)) if prefix == spec.target_prefix => op.to_string(),
                _ => return Err(AwsError::unknown_operation(target)),
            };
            let body = if body.iter().all(u8::is_ascii_whitespace) {
                Bytes::from_static(b"{}")
            } else {
                body
            };
            Ok((operation, Input::Json(body)))
        }
        Protocol::Query | Protocol::Ec2 => {
            let mut params: Vec<(String, String)> = parts
                .uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default();
            if parts.method == Method::POST {
                params.extend(form_urlencoded::parse(&body).into_owned());
            }
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone());
            match action {
                Some(action) if !action.is_empty() => Ok((action, Input::Query(params))),
                _ => Err(AwsError::client(
                    "MissingAction",
                    "The request must contain the parameter Action.",
                )),
            }
        }
        Protocol::RestXml => {
            let query = parts
                .uri
                .query()
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default();
            Ok((
                String::new(),
                Input::Rest(RestRequest {
                    method: parts.method.clone(),
                    path: parts.uri.path().to_string(),
                    query,
                    headers: parts.headers.clone(),
                    body,
                }),
            ))
        }
    }
}

/// Collect a body with a size limit: `Err(true)` when it is too large, `Err(false)` when
/// it could not be read.
/// A declared body longer than this many times the limit is refused on its header alone.
const DRAIN_FACTOR: u64 = 4;

/// How long a request waits for room in the buffered-bytes budget.
const BUFFER_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// `413 RequestEntityTooLarge`.
fn too_large(limit: usize) -> AwsError {
    AwsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLarge",
        format!("The request body exceeds the maximum of {limit} bytes."),
    )
}

/// Read a body of at most `limit` bytes: `Err(true)` when it is longer, `Err(false)` when
/// it could not be read. A longer body is still read to its end (without keeping it), up
/// to `drain_up_to` bytes, so that a client still sending it reads the 413 rather than a
/// connection reset under its feet.
async fn collect_limited(mut body: Body, limit: usize, drain_up_to: u64) -> Result<Bytes, bool> {
    use http_body_util::BodyExt;
    let mut kept = bytes::BytesMut::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Err(false);
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len() as u64;
        if seen > drain_up_to {
            return Err(true);
        }
        if seen <= limit as u64 {
            kept.extend_from_slice(&data);
        }
    }
    if seen > limit as u64 {
        Err(true)
    } else {
        Ok(kept.freeze())
    }
}

#[cfg(test)]
mod tests;
