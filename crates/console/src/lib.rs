//! Flotilla's web console: a page (HTML, script and style embedded in the binary; nothing
//! is fetched from anywhere else) and the few endpoints behind it.
//!
//! - `POST /console/session` signs in with an access key and secret: the key is checked
//!   by a GetCallerIdentity call through the gateway, and the answer sets an `HttpOnly`,
//!   `SameSite=Strict` session cookie (`Secure` over TLS) that expires.
//! - `POST /console/api/{service}/{operation}` is every call the page makes: signed with
//!   the session's key and sent through the API gateway (`proxy`), so it is authorised
//!   and validated exactly as the same call from the AWS CLI. It must carry the session's
//!   CSRF token in `X-Flotilla-Csrf`, and an `Origin`, when the browser sends one, must be
//!   this console's.
//! - `GET /console/session` says who is signed in (and hands the page its CSRF token);
//!   `DELETE` signs out.
//!
//! Nothing but the static page is readable without a session. Failed sign-ins are
//! limited (a window of attempts for the whole console), before any key is checked.
#![forbid(unsafe_code)]

pub mod assets;
mod proxy;
pub mod session;
mod xml;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use chrono::Utc;
use flotilla_aws::client::SigningKey;
use http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use serde_json::{json, Value};

use session::{Lifetimes, Missing, Session, Sessions};

/// The cookie that names a session.
pub const COOKIE: &str = "flotilla_console";
/// The header the page returns its CSRF token in.
pub const CSRF_HEADER: &str = "x-flotilla-csrf";

/// How the console runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region the page's calls are signed for.
    pub region: String,
    pub lifetimes: Lifetimes,
    /// Sessions held at once.
    pub max_sessions: usize,
    /// Whether the console is served over TLS (the cookie is then `Secure`).
    pub tls: bool,
    /// Failed sign-ins allowed per [`SIGN_IN_WINDOW`], for the whole console.
    pub sign_in_failures: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            region: "us-east-1".into(),
            lifetimes: Lifetimes {
                idle: Duration::from_secs(30 * 60),
                absolute: Duration::from_secs(12 * 3600),
            },
            max_sessions: 10_000,
            tls: false,
            sign_in_failures: 20,
        }
    }
}

/// The window failed sign-ins are counted in.
pub const SIGN_IN_WINDOW: Duration = Duration::from_secs(10);

/// Largest request body the console reads (a call's input).
const MAX_BODY: usize = 1 << 20;

struct Console {
    config: Config,
    sessions: Sessions,
    /// The API gateway's router: where the page's calls go.
    api: axum::Router,
    /// Failed sign-ins in the current window, and when it began.
    failures: Mutex<(Instant, u32)>,
}

/// The console's routes, sending its calls to `api` (the gateway's router).
pub fn router(config: Config, api: axum::Router) -> axum::Router {
    let console = Arc::new(Console {
        sessions: Sessions::new(config.lifetimes, config.max_sessions),
        config,
        api,
        failures: Mutex::new((Instant::now(), 0)),
    });
    axum::Router::new()
        .route("/", get(|| async { assets::page("index.html") }))
        .route(
            "/assets/{file}",
            get(|Path(f): Path<String>| async move { assets::page(&f) }),
        )
        .route(
            "/console/session",
            get(whoami).post(sign_in).delete(sign_out),
        )
        .route("/console/api/{service}/{operation}", post(call))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(console)
}

/// A JSON answer that no cache keeps.
fn answer(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    assets::protect(h);
    r
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    answer(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

/// Why a request gets no further: its status, code and message.
struct Refusal(StatusCode, &'static str, &'static str);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        refuse(self.0, self.1, self.2)
    }
}

const NOT_SIGNED_IN: Refusal = Refusal(
    StatusCode::UNAUTHORIZED,
    "NotSignedIn",
    "Sign in with an access key first.",
);
const CROSS_ORIGIN: Refusal = Refusal(
    StatusCode::FORBIDDEN,
    "CrossOrigin",
    "Requests from other sites are refused.",
);

/// The session cookie's value in a request.
fn cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// A request from another site: an `Origin` that is not the host the request was sent to
/// (its `Host` header, or over HTTP/2 the `:authority` in its URI).
fn foreign(headers: &HeaderMap, uri: &Uri) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| uri.authority().map(|a| a.as_str()))
        .unwrap_or_default();
    let bare = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .unwrap_or("");
    bare != host
}

impl Console {
    /// The caller's session, or the answer that says why there is none.
    fn session(&self, headers: &HeaderMap) -> Result<(String, Session), Refusal> {
        let id = cookie(headers).ok_or(NOT_SIGNED_IN)?;
        match self.sessions.get(&id, Utc::now()) {
            Ok(s) => Ok((id, s)),
            Err(Missing::Expired) => Err(Refusal(
                StatusCode::UNAUTHORIZED,
                "SessionExpired",
                "Your session has expired: sign in again.",
            )),
            Err(Missing::Unknown) => Err(NOT_SIGNED_IN),
        }
    }

    /// The caller's session, for a call that acts: it must carry the session's CSRF token
    /// and come from this console's own page.
    fn acting(&self, headers: &HeaderMap, uri: &Uri) -> Result<Session, Refusal> {
        if foreign(headers, uri) {
            return Err(CROSS_ORIGIN);
        }
        let (_, session) = self.session(headers)?;
        let token = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !flotilla_model::token::same(token, &session.csrf) {
            return Err(Refusal(
                StatusCode::FORBIDDEN,
                "InvalidCsrfToken",
                "The request did not carry this session's token: reload the page.",
            ));
        }
        Ok(session)
    }

    /// Count a failed sign-in in the current window.
    fn failed(&self) {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        f.1 += 1;
    }

    /// Whether the current window has no room for another failed sign-in.
    fn throttled(&self) -> bool {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if f.0.elapsed() >= SIGN_IN_WINDOW {
            *f = (Instant::now(), 0);
        }
        f.1 >= self.config.sign_in_failures
    }

    fn cookie_header(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.config.tls { "; Secure" } else { "" };
        let cookie = format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn described(s: &Session, expires: Option<chrono::DateTime<Utc>>) -> Value {
    json!({
        "arn": s.arn, "accessKeyId": s.access_key_id, "csrf": s.csrf,
        "expiresAt": expires.map(|e| e.to_rfc3339()),
    })
}

async fn whoami(State(c): State<Arc<Console>>, headers: HeaderMap) -> Response {
    match c.session(&headers) {
        Ok((id, s)) => answer(StatusCode::OK, &described(&s, c.sessions.expiry(&id))),
        Err(r) => r.into_response(),
    }
}

async fn sign_in(
    State(c): State<Arc<Console>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if foreign(&headers, &uri) {
        return CROSS_ORIGIN.into_response();
    }
    if c.throttled() {
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManySignIns",
            "Too many failed sign-ins: wait a few seconds and try again.",
        );
    }
    let input: Value = serde_json::from_slice(&body).unwrap_or_default();
    let field = |k: &str| input[k].as_str().unwrap_or_default().trim().to_string();
    let (id, secret) = (field("accessKeyId"), field("secretAccessKey"));
    let shaped = (16..=128).contains(&id.len())
        && id.chars().all(|ch| ch.is_ascii_alphanumeric())
        && (1..=128).contains(&secret.len());
    if !shaped {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidInput",
            "Give an access key ID (16 to 128 letters and digits) and its secret access key.",
        );
    }
    let key = SigningKey {
        access_key_id: &id,
        secret_access_key: &secret,
        session_token: None,
    };
    let who = proxy::call(
        &c.api,
        &key,
        &c.config.region,
        ("sts", "GetCallerIdentity"),
        &json!({}),
    )
    .await;
    let arn = match who {
        Ok(v) => v["Arn"].as_str().unwrap_or_default().to_string(),
        Err(f) if f.status.is_client_error() => {
            c.failed();
            tracing::info!(access_key_id = %id, code = %f.code, "console sign-in refused");
            return refuse(
                StatusCode::UNAUTHORIZED,
                "SignInFailed",
                "The access key ID or the secret access key is wrong.",
            );
        }
        Err(f) => return answer(f.status, &f.json()),
    };
    let (sid, session) = c.sessions.create(id, secret, arn, Utc::now());
    let mut r = answer(
        StatusCode::OK,
        &described(&session, c.sessions.expiry(&sid)),
    );
    let max_age = c.config.lifetimes.absolute.as_secs();
    r.headers_mut()
        .insert(header::SET_COOKIE, c.cookie_header(&sid, max_age));
    r
}

async fn sign_out(State(c): State<Arc<Console>>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = c.acting(&headers, &uri) {
        return r.into_response();
    }
    if let Some(id) = cookie(&headers) {
        c.sessions.remove(&id);
    }
    let mut r = answer(StatusCode::OK, &json!({}));
    r.headers_mut()
        .insert(header::SET_COOKIE, c.cookie_header("", 0));
    r
}

async fn call(
    State(c): State<Arc<Console>>,
    Path((service, operation)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let session = match c.acting(&headers, &uri) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let input: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return refuse(
                    StatusCode::BAD_REQUEST,
                    "InvalidInput",
                    "The input must be a JSON object.",
                )
            }
        }
    };
    let key = SigningKey {
        access_key_id: &session.access_key_id,
        secret_access_key: &session.secret_access_key,
        session_token: None,
    };
    match proxy::call(
        &c.api,
        &key,
        &c.config.region,
        (&service, &operation),
        &input,
    )
    .await
    {
        Ok(v) => answer(StatusCode::OK, &v),
        Err(f) => answer(f.status, &f.json()),
    }
}

#[cfg(test)]
mod tests;
