//! The responses the balancer makes itself: fixed responses, redirects and its own errors,
//! each with `Server: awselb/2.0` as ALB sends them.

use flotilla_model::elbv2::listener::{ListenerProtocol, Redirect};
use http::{header, HeaderValue, Response, StatusCode};

use crate::body::LbBody;

const SERVER: &str = "awselb/2.0";

/// A `fixed-response` action's answer.
pub(crate) fn fixed(
    status: u16,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Response<LbBody> {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let content_type = content_type.unwrap_or("text/plain; charset=utf-8");
    let mut response = Response::new(LbBody::full(body.unwrap_or_default().to_string()));
    *response.status_mut() = status;
    set(&mut response, header::CONTENT_TYPE, content_type);
    set(&mut response, header::SERVER, SERVER);
    response
}

/// An error the balancer itself answers with, with ALB's small HTML page.
pub(crate) fn error(status: StatusCode) -> Response<LbBody> {
    // ALB's own wording where it differs from the standard reason phrase.
    let reason = match status.as_u16() {
        503 => "Service Temporarily Unavailable",
        504 => "Gateway Time-out",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let line = format!("{} {reason}", status.as_str());
    let page = format!(
        "<html>\r\n<head><title>{line}</title></head>\r\n<body>\r\n<center><h1>{line}</h1></center>\r\n</body>\r\n</html>\r\n"
    );
    let mut response = Response::new(LbBody::full(page));
    *response.status_mut() = status;
    set(&mut response, header::CONTENT_TYPE, "text/html");
    set(&mut response, header::SERVER, SERVER);
    response
}

/// What a redirect's templates are filled from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Original<'a> {
    pub protocol: ListenerProtocol,
    /// The host without its port.
    pub host: &'a str,
    /// The listener's port as the user gave it.
    pub port: u16,
    /// The path, starting with `/`.
    pub path: &'a str,
    /// The query without `?`.
    pub query: &'a str,
}

/// A `redirect` action's answer.
pub(crate) fn redirect(r: &Redirect, original: &Original<'_>) -> Response<LbBody> {
    let status = if r.status_code == 301 {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::FOUND
    };
    let mut response = error(status);
    match HeaderValue::from_str(&location(r, original)) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => return error(StatusCode::BAD_REQUEST),
    }
    response
}

/// The `Location` a redirect sends: `protocol://host:port/path?query`, the port left out
/// when it is the scheme's default and `?` when the query is empty.
pub(crate) fn location(r: &Redirect, original: &Original<'_>) -> String {
    let scheme = fill(&r.protocol, original).to_ascii_lowercase();
    let host = fill(&r.host, original);
    let port = fill(&r.port, original);
    let mut path = fill(&r.path, original);
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let query = fill(&r.query, original);
    let default_port = match scheme.as_str() {
        "https" => "443",
        _ => "80",
    };
    let mut out = format!("{scheme}://{host}");
    if port != default_port && !port.is_empty() {
        out.push(':');
        out.push_str(&port);
    }
    out.push_str(&path);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    out
}

/// A template with `#{protocol}`, `#{host}`, `#{port}`, `#{path}` and `#{query}` replaced;
/// `#{path}` is the path without its leading `/` (templates write `/#{path}`).
fn fill(template: &str, o: &Original<'_>) -> String {
    let mut out = String::with_capacity(template.len() + o.path.len());
    let mut rest = template;
    while let Some(start) = rest.find("#{") {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find('}') else {
            out.push_str(tail);
            return out;
        };
        match &tail[2..end] {
            "protocol" => out.push_str(&o.protocol.as_str().to_ascii_lowercase()),
            "host" => out.push_str(o.host),
            "port" => out.push_str(&o.port.to_string()),
            "path" => out.push_str(o.path.strip_prefix('/').unwrap_or(o.path)),
            "query" => out.push_str(o.query),
            _ => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

fn set(response: &mut Response<LbBody>, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
}

#[cfg(test)]
#[path = "actions/tests.rs"]
mod tests;
