//! Which rule a request meets: ALB's conditions (host, path, header, method, query string,
//! source IP) evaluated over a [`RequestView`], with `*`/`?` wildcards. Pure functions, no
//! I/O; the parsing helpers here (host without port, query parameters, cookies) are the
//! only ones the proxy uses, so routing and forwarding read a request the same way.

use std::net::IpAddr;

use flotilla_model::elbv2::listener::{parse_cidr, Condition, KeyValue};
use flotilla_model::elbv2::plane::RulePlane;
use http::HeaderMap;

/// The parts of a request that rules look at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RequestView<'a> {
    pub method: &'a str,
    /// The Host header (or `:authority`) without its port.
    pub host: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The TCP peer.
    pub peer: IpAddr,
}

/// The first rule whose conditions all match (`rules` is in evaluation order).
pub(crate) fn first_match<'r>(
    rules: &'r [RulePlane],
    req: &RequestView<'_>,
) -> Option<&'r RulePlane> {
    rules
        .iter()
        .find(|r| r.conditions.iter().all(|c| condition_matches(c, req)))
}

/// Whether one condition matches: any of its values does.
pub(crate) fn condition_matches(condition: &Condition, req: &RequestView<'_>) -> bool {
    match condition {
        Condition::HostHeader { values } => values.iter().any(|v| wildcard(v, req.host, true)),
        Condition::PathPattern { values } => values.iter().any(|v| wildcard(v, req.path, false)),
        Condition::HttpHeader { name, values } => {
            let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) else {
                return false;
            };
            req.headers.get_all(name).iter().any(|h| {
                let h = String::from_utf8_lossy(h.as_bytes());
                values.iter().any(|v| wildcard(v, &h, true))
            })
        }
        Condition::HttpRequestMethod { values } => values.iter().any(|v| v == req.method),
        Condition::QueryString { values } => {
            let params = query_params(req.query);
            values.iter().any(|kv| query_matches(kv, &params))
        }
        Condition::SourceIp { values } => values.iter().any(|v| in_cidr(v, req.peer)),
    }
}

fn query_matches(kv: &KeyValue, params: &[(String, String)]) -> bool {
    params.iter().any(|(k, v)| {
        kv.key.as_deref().is_none_or(|key| wildcard(key, k, true)) && wildcard(&kv.value, v, true)
    })
}

/// The query's parameters, URL-decoded (`+` as space).
pub(crate) fn query_params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Whether `peer` lies in the CIDR block `cidr` (an IPv4-mapped IPv6 peer counts as IPv4).
pub(crate) fn in_cidr(cidr: &str, peer: IpAddr) -> bool {
    let Some((net, len)) = parse_cidr(cidr) else {
        return false;
    };
    let peer = match peer {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, IpAddr::V4),
        v4 => v4,
    };
    match (net, peer) {
        (IpAddr::V4(n), IpAddr::V4(p)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(n) & mask == u32::from(p) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(p)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(n) & mask == u128::from(p) & mask
        }
        _ => false,
    }
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters and `?`
/// for exactly one; ASCII letters compare without case when `ignore_case`.
pub(crate) fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    flotilla_model::wildcard::glob(pattern, text, ignore_case)
}

/// A Host header value without its port: `example.com:8080` → `example.com`,
/// `[::1]:80` → `[::1]`.
pub(crate) fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        // Two or more colons without brackets: a bare IPv6 address, no port.
        Some((h, port)) if !h.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The values of the cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookies<'a>(
    headers: &'a HeaderMap,
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

#[cfg(test)]
#[path = "rules/tests.rs"]
mod tests;
