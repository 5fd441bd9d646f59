//! One request from arrival to answer: find the listener's first matching rule, carry out
//! its action, and for a forward pick the group and the target, rewrite the headers as
//! ALB does and relay the target's answer, turning the target's failures into ALB's errors
//! (502 when it fails or answers garbage, 504 when it is slow, 503 when a group has no
//! target).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::elbv2::listener::{Action, ListenerProtocol};
use flotilla_model::elbv2::plane::{LbPlane, XffMode};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri, Version};
use hyper::body::Incoming;
use rand::Rng;
use tokio::time::Instant;

use crate::actions::{self, Original};
use crate::body::{out_body, LbBody};
use crate::config::Route;
use crate::rules::{self, RequestView};
use crate::targets::{choose_group, group_token, InFlight};
use crate::upstream::Failure;
use crate::Shared;

/// The connection a request came on.
pub(crate) struct Conn {
    pub listener: String,
    pub peer: SocketAddr,
    pub shared: Arc<Shared>,
    /// The peer's address as `X-Forwarded-For` names it (IPv4 for an IPv4-mapped one).
    forwarded_for: HeaderValue,
}

impl Conn {
    pub(crate) fn new(listener: String, peer: SocketAddr, shared: Arc<Shared>) -> Self {
        let ip = match peer.ip() {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        let forwarded_for =
            HeaderValue::from_str(&ip.to_string()).expect("an IP address is a valid header value");
        Conn {
            listener,
            peer,
            shared,
            forwarded_for,
        }
    }
}

/// The two cookies of stickiness: to a target (lb_cookie) and to a group (forward action).
const TARGET_COOKIE: &str = "AWSALB";
const GROUP_COOKIE: &str = "AWSALBTG";

/// Who made an answer (the balancer's own answers and its targets' count apart).
enum Answer {
    Target(Response<LbBody>),
    Balancer(Response<LbBody>),
}

/// Answer one request, counted on its load balancer (with the status when the balancer
/// answers itself).
pub(crate) async fn handle(req: Request<Incoming>, conn: &Conn) -> Response<LbBody> {
    let table = conn.shared.table();
    let Some(route) = table.listeners.get(&conn.listener).cloned() else {
        return actions::error(StatusCode::SERVICE_UNAVAILABLE);
    };
    route.traffic.request();
    match answer(req, conn, &route, &table).await {
        Answer::Target(response) => response,
        Answer::Balancer(response) => {
            route.traffic.balancer_answer(response.status());
            response
        }
    }
}

/// Carry out the action of the listener's first matching rule.
async fn answer(
    req: Request<Incoming>,
    conn: &Conn,
    route: &Route,
    table: &crate::config::Table,
) -> Answer {
    let (parts, body) = req.into_parts();
    let authority = parts.uri.authority().map(|a| a.as_str().to_string());
    let host_header = authority.or_else(|| {
        parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    let host = rules::host_without_port(host_header.as_deref().unwrap_or(""));
    let view = RequestView {
        method: parts.method.as_str(),
        host,
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        peer: conn.peer.ip(),
    };
    let Some(rule) = rules::first_match(&route.plane.rules, &view) else {
        return Answer::Balancer(actions::error(StatusCode::INTERNAL_SERVER_ERROR));
    };
    match &rule.action {
        Action::FixedResponse {
            status_code,
            content_type,
            message_body,
        } => Answer::Balancer(actions::fixed(
            *status_code,
            content_type.as_deref(),
            message_body.as_deref(),
        )),
        Action::Redirect(r) => {
            let original = Original {
                protocol: route.plane.protocol,
                host,
                port: route.plane.port,
                path: view.path,
                query: view.query,
            };
            Answer::Balancer(actions::redirect(r, &original))
        }
        Action::Forward {
            target_groups,
            stickiness_seconds,
        } => {
            let group_cookie =
                stickiness_seconds.map(|_| rules::cookies(&parts.headers, GROUP_COOKIE));
            let Some(chosen) = choose_group(target_groups, group_cookie.into_iter().flatten())
            else {
                return Answer::Balancer(actions::error(StatusCode::SERVICE_UNAVAILABLE));
            };
            let forward = Forward {
                route,
                conn,
                group_arn: &chosen.arn,
                group_stickiness: stickiness_seconds.map(|s| Duration::from_secs(u64::from(s))),
                host_header: host_header.clone(),
            };
            forward.run(parts, body, table).await
        }
    }
}

/// A forward action for one request.
struct Forward<'a> {
    route: &'a Route,
    conn: &'a Conn,
    group_arn: &'a str,
    group_stickiness: Option<Duration>,
    /// The client's Host (or `:authority`), with its port.
    host_header: Option<String>,
}

impl Forward<'_> {
    async fn run(
        self,
        parts: http::request::Parts,
        body: Incoming,
        table: &crate::config::Table,
    ) -> Answer {
        let balancer = |status| Answer::Balancer(actions::error(status));
        let Some(group) = table.groups.get(self.group_arn) else {
            return balancer(StatusCode::INTERNAL_SERVER_ERROR);
        };
        let traffic = self.route.group_traffic(self.group_arn);
        if let Some(traffic) = traffic {
            traffic.request();
        }
        let sticky = rules::cookies(&parts.headers, TARGET_COOKIE);
        // Also when the request leaves, for the target's response time.
        let start = Instant::now();
        let Some(target) = group.choose(sticky, start) else {
            return balancer(StatusCode::SERVICE_UNAVAILABLE);
        };
        // Targets get the origin form (`/path?query`) whatever form the client used.
        let uri = match parts.uri.path_and_query() {
            Some(pq) if parts.uri.scheme().is_none() && pq.as_str().starts_with('/') => parts.uri,
            Some(pq) if pq.as_str().starts_with('/') => Uri::from(pq.clone()),
            _ => Uri::from_static("/"),
        };
        let mut headers = parts.headers;
        self.rewrite_headers(&mut headers, target.rt.addr);
        let mut request = Request::new(out_body(body));
        *request.method_mut() = parts.method;
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        *request.headers_mut() = headers;

        let in_flight = InFlight::new(target.rt.clone());
        let mut cut = target.rt.cut_signal();
        let idle = self.route.lb.idle_timeout;
        let pool = target.rt.pool();
        let sent = pool.send(
            &self.conn.shared.dialer,
            target.rt.addr,
            group.plane.protocol,
            request,
        );
        let answer = tokio::select! {
            answer = tokio::time::timeout(idle, sent) => answer,
            () = &mut cut => return balancer(StatusCode::BAD_GATEWAY),
        };
        let (response, connection) = match answer {
            Err(_) => return balancer(StatusCode::GATEWAY_TIMEOUT),
            Ok(Err(e)) => {
                tracing::debug!(target = %target.rt.addr, error = %e, "request to target failed");
                return balancer(failure_status(&e));
            }
            Ok(Ok(answer)) => answer,
        };
        if let Some(traffic) = traffic {
            traffic.target_answer(response.status(), start.elapsed());
        }
        let (mut parts, body) = response.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        if let Some(duration) = group.plane.stickiness {
            self.set_cookie(&mut parts.headers, TARGET_COOKIE, &target.sticky, duration);
        }
        if let Some(duration) = self.group_stickiness {
            self.set_cookie(
                &mut parts.headers,
                GROUP_COOKIE,
                &group_token(self.group_arn),
                duration,
            );
        }
        let body = LbBody::upstream(body, in_flight, cut, connection);
        Answer::Target(Response::from_parts(parts, body))
    }

    /// The headers ALB adds and removes on the way to a target (at `target`).
    fn rewrite_headers(&self, headers: &mut HeaderMap, target: SocketAddr) {
        strip_hop_by_hop(headers);
        let lb: &LbPlane = &self.route.lb;
        // ALB sends the client's Host to targets whether or not preserve_host is on (the
        // attribute only decides whether the port the client gave is kept), so the Host
        // header is left as the client sent it. An HTTP/2 client sends `:authority`
        // instead, which becomes the Host of the HTTP/1.1 request to the target; a client
        // that sent neither (HTTP/1.0) has the target's address as Host.
        if !headers.contains_key(header::HOST) {
            let host = match self.host_header.as_deref() {
                Some(h) => HeaderValue::from_str(h).ok(),
                None => HeaderValue::from_str(&target.to_string()).ok(),
            };
            if let Some(v) = host {
                headers.insert(header::HOST, v);
            }
        }
        let peer = &self.conn.forwarded_for;
        let xff = HeaderName::from_static("x-forwarded-for");
        match lb.xff {
            XffMode::Append if !headers.contains_key(&xff) => {
                headers.insert(xff, peer.clone());
            }
            XffMode::Append => {
                let mut value: Vec<u8> = Vec::new();
                for existing in headers.get_all(&xff) {
                    value.extend_from_slice(existing.as_bytes());
                    value.extend_from_slice(b", ");
                }
                value.extend_from_slice(peer.as_bytes());
                if let Ok(v) = HeaderValue::from_bytes(&value) {
                    headers.insert(xff, v);
                }
            }
            XffMode::Preserve => {}
            XffMode::Remove => {
                headers.remove(xff);
            }
        }
        let proto = match self.route.plane.protocol {
            ListenerProtocol::Http => "http",
            ListenerProtocol::Https => "https",
        };
        headers.insert(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static(proto),
        );
        headers.insert(
            HeaderName::from_static("x-forwarded-port"),
            HeaderValue::from(self.route.plane.port),
        );
        let trace = HeaderName::from_static("x-amzn-trace-id");
        let has_root = headers
            .get(&trace)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .any(|part| part.trim_start().starts_with("Root="))
            });
        if !has_root {
            let value = match headers.get(&trace).and_then(|v| v.to_str().ok()) {
                Some(theirs) if !theirs.trim().is_empty() => format!("{};{theirs}", trace_root()),
                _ => trace_root(),
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(trace, v);
            }
        }
    }

    fn set_cookie(&self, headers: &mut HeaderMap, name: &str, value: &str, duration: Duration) {
        let expires = chrono::Utc::now()
            + chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::days(7));
        let expires = expires.format("%a, %d %b %Y %H:%M:%S GMT");
        let cookie = format!("{name}={value}; Expires={expires}; Path=/");
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            headers.append(header::SET_COOKIE, v);
        }
        if self.route.plane.protocol == ListenerProtocol::Https {
            let cors =
                format!("{name}CORS={value}; Expires={expires}; Path=/; SameSite=None; Secure");
            if let Ok(v) = HeaderValue::from_str(&cors) {
                headers.append(header::SET_COOKIE, v);
            }
        }
    }
}

/// `Root=1-<epoch seconds, 8 hex>-<24 hex random>`.
fn trace_root() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let random: u128 = rand::rng().random();
    format!("Root=1-{:08x}-{:024x}", secs as u32, random >> 32)
}

/// The status for a failed request to a target: 504 when connecting took too long, 502
/// for anything else (refused, reset, closed early, not HTTP).
fn failure_status(e: &Failure) -> StatusCode {
    match e {
        Failure::ConnectTimeout => StatusCode::GATEWAY_TIMEOUT,
        Failure::Connect(_) | Failure::Http(_) => StatusCode::BAD_GATEWAY,
    }
}

/// The headers that concern one connection only, besides those `Connection` names.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Remove the headers that concern one connection only, and those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, X-Secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-kept"));
    }

    #[test]
    fn trace_ids_have_albs_shape() {
        let root = trace_root();
        let parts: Vec<&str> = root.trim_start_matches("Root=").split('-').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "1");
        assert_eq!(parts[1].len(), 8);
        assert_eq!(parts[2].len(), 24);
        assert!(parts[1..]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit())));
    }
}
