//! Listeners and their rules: conditions that pick a request and the action taken on it,
//! with ELBv2's validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ListenerProtocol {
    Http,
    Https,
}

impl ListenerProtocol {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "HTTP" => Some(Self::Http),
            "HTTPS" => Some(Self::Https),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "HTTP",
            Self::Https => "HTTPS",
        }
    }
}

/// A listener of a load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListenerRecord {
    pub arn: String,
    pub load_balancer_arn: String,
    pub port: u16,
    pub protocol: ListenerProtocol,
    /// HTTPS: the default certificate (first) and the ones added for SNI.
    #[serde(default)]
    pub certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
    #[serde(default)]
    pub alpn_policy: Vec<String>,
    pub default_action: Action,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub created_at: DateTime<Utc>,
}

impl Record for ListenerRecord {
    const KIND: &'static str = "elbv2-listener";
    const VERSION: u32 = 1;
}

/// A non-default rule of a listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleRecord {
    pub arn: String,
    pub listener_arn: String,
    pub priority: u32,
    pub conditions: Vec<Condition>,
    pub action: Action,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

impl Record for RuleRecord {
    const KIND: &'static str = "elbv2-rule";
    const VERSION: u32 = 1;
}

/// A rule condition. Values of one condition are ORed, conditions of a rule ANDed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
pub enum Condition {
    /// Case-insensitive, `*` and `?` wildcards.
    HostHeader { values: Vec<String> },
    /// Case-sensitive, on the path only, `*` and `?` wildcards.
    PathPattern { values: Vec<String> },
    /// A header's value, case-insensitive, wildcards.
    HttpHeader { name: String, values: Vec<String> },
    /// Exact, case-sensitive method names.
    HttpRequestMethod { values: Vec<String> },
    /// Query parameters (key optional), case-insensitive, wildcards.
    QueryString { values: Vec<KeyValue> },
    /// CIDR blocks matched against the TCP peer.
    SourceIp { values: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub value: String,
}

impl Condition {
    /// The `Field` name ELBv2 uses.
    pub fn field(&self) -> &'static str {
        match self {
            Condition::HostHeader { .. } => "host-header",
            Condition::PathPattern { .. } => "path-pattern",
            Condition::HttpHeader { .. } => "http-header",
            Condition::HttpRequestMethod { .. } => "http-request-method",
            Condition::QueryString { .. } => "query-string",
            Condition::SourceIp { .. } => "source-ip",
        }
    }

    fn value_count(&self) -> usize {
        match self {
            Condition::HostHeader { values }
            | Condition::PathPattern { values }
            | Condition::HttpHeader { values, .. }
            | Condition::HttpRequestMethod { values }
            | Condition::SourceIp { values } => values.len(),
            Condition::QueryString { values } => values.len(),
        }
    }

    fn wildcards(&self) -> usize {
        let count = |s: &str| usize::from(s.contains(['*', '?']));
        match self {
            Condition::HostHeader { values }
            | Condition::PathPattern { values }
            | Condition::HttpHeader { values, .. } => values.iter().map(|v| count(v)).sum(),
            Condition::QueryString { values } => values
                .iter()
                .map(|kv| count(&kv.value) + kv.key.as_deref().map_or(0, count))
                .sum(),
            _ => 0,
        }
    }
}

/// Check a rule's conditions as ELBv2 does: at least one; host-header, path-pattern,
/// http-request-method and source-ip at most once each; at most five values in all and
/// five wildcards; each value within its field's syntax.
pub fn validate_conditions(conditions: &[Condition]) -> Result<()> {
    if conditions.is_empty() {
        return Err(ModelError::invalid(
            "A rule must have at least one condition",
        ));
    }
    for once in [
        "host-header",
        "path-pattern",
        "http-request-method",
        "source-ip",
    ] {
        if conditions.iter().filter(|c| c.field() == once).count() > 1 {
            return Err(ModelError::invalid(format!(
                "A rule can only have one '{once}' condition"
            )));
        }
    }
    let values: usize = conditions.iter().map(Condition::value_count).sum();
    if values > 5 {
        return Err(ModelError::invalid(format!(
            "A rule can only have '5' condition values, not '{values}'"
        )));
    }
    let wildcards: usize = conditions.iter().map(Condition::wildcards).sum();
    if wildcards > 5 {
        return Err(ModelError::invalid(format!(
            "A rule can only have '5' wildcards, not '{wildcards}'"
        )));
    }
    for c in conditions {
        if c.value_count() == 0 {
            return Err(ModelError::invalid(format!(
                "A '{}' condition must have at least one value",
                c.field()
            )));
        }
        match c {
            Condition::HostHeader { values } => {
                for v in values {
                    let ok = !v.is_empty()
                        && v.len() <= 128
                        && v.chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || "-.*?_:".contains(ch));
                    if !ok {
                        return Err(ModelError::invalid(format!(
                            "Condition value '{v}' of 'host-header' must be 1-128 characters of a-z, A-Z, 0-9, - . * ?"
                        )));
                    }
                }
            }
            Condition::PathPattern { values } => {
                for v in values {
                    let ok = !v.is_empty()
                        && v.len() <= 128
                        && v.chars().all(|ch| {
                            ch.is_ascii_alphanumeric() || "_-.$/~\"'@:+&*?%=".contains(ch)
                        });
                    if !ok {
                        return Err(ModelError::invalid(format!(
                            "Condition value '{v}' of 'path-pattern' must be 1-128 characters of a-z, A-Z, 0-9, _ - . $ / ~ \" ' @ : + & * ? % ="
                        )));
                    }
                }
            }
            Condition::HttpHeader { name, values } => {
                let name_ok = !name.is_empty()
                    && name.len() <= 40
                    && name
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || "-_".contains(ch));
                if !name_ok {
                    return Err(ModelError::invalid(format!(
                        "HTTP header name '{name}' must be 1-40 characters of a-z, A-Z, 0-9, - _"
                    )));
                }
                if name.eq_ignore_ascii_case("host") {
                    return Err(ModelError::invalid(
                        "Use a 'host-header' condition to match the Host header",
                    ));
                }
                check_lengths("http-header", values, 128)?;
            }
            Condition::HttpRequestMethod { values } => {
                for v in values {
                    let ok = !v.is_empty()
                        && v.len() <= 40
                        && v.chars()
                            .all(|ch| ch.is_ascii_uppercase() || ch == '_' || ch == '-');
                    if !ok {
                        return Err(ModelError::invalid(format!(
                            "Condition value '{v}' of 'http-request-method' must be 1-40 characters of A-Z, - _"
                        )));
                    }
                }
            }
            Condition::QueryString { values } => {
                for kv in values {
                    if kv.value.is_empty() || kv.value.len() > 128 {
                        return Err(ModelError::invalid(
                            "Each 'query-string' condition needs a value of 1-128 characters",
                        ));
                    }
                    if kv
                        .key
                        .as_deref()
                        .is_some_and(|k| k.is_empty() || k.len() > 128)
                    {
                        return Err(ModelError::invalid(
                            "A 'query-string' condition key must be 1-128 characters",
                        ));
                    }
                }
            }
            Condition::SourceIp { values } => {
                for v in values {
                    if parse_cidr(v).is_none() {
                        return Err(ModelError::invalid(format!(
                            "Condition value '{v}' of 'source-ip' must be a CIDR block such as 192.0.2.0/24"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn check_lengths(field: &str, values: &[String], max: usize) -> Result<()> {
    for v in values {
        if v.is_empty() || v.len() > max {
            return Err(ModelError::invalid(format!(
                "Condition value '{v}' of '{field}' must be 1-{max} characters"
            )));
        }
    }
    Ok(())
}

/// An IPv4 or IPv6 CIDR block, as an address and prefix length.
pub fn parse_cidr(s: &str) -> Option<(std::net::IpAddr, u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// What a rule (or a listener's default) does with a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Action {
    Forward {
        target_groups: Vec<WeightedGroup>,
        /// Group stickiness: how long a client stays with the group first chosen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stickiness_seconds: Option<u32>,
    },
    Redirect(Redirect),
    FixedResponse {
        status_code: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_body: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeightedGroup {
    pub arn: String,
    pub weight: u32,
}

/// A redirect's target, each part a template that may use `#{protocol}`, `#{host}`,
/// `#{port}`, `#{path}` and `#{query}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirect {
    pub protocol: String,
    pub host: String,
    pub port: String,
    pub path: String,
    pub query: String,
    /// 301 or 302.
    pub status_code: u16,
}

impl Action {
    /// The target groups this action forwards to.
    pub fn target_groups(&self) -> Vec<&str> {
        match self {
            Action::Forward { target_groups, .. } => {
                target_groups.iter().map(|g| g.arn.as_str()).collect()
            }
            _ => vec![],
        }
    }

    /// Check an action's own fields as ELBv2 does (the target groups it names are checked
    /// against the store by the control plane).
    pub fn validate(&self) -> Result<()> {
        match self {
            Action::Forward {
                target_groups,
                stickiness_seconds,
            } => {
                if target_groups.is_empty() || target_groups.len() > 5 {
                    return Err(ModelError::invalid(
                        "A forward action must name between 1 and 5 target groups",
                    ));
                }
                if target_groups.iter().any(|g| g.weight > 999) {
                    return Err(ModelError::invalid(
                        "Target group weights must be between 0 and 999",
                    ));
                }
                let mut arns: Vec<&str> = target_groups.iter().map(|g| g.arn.as_str()).collect();
                arns.sort();
                arns.dedup();
                if arns.len() != target_groups.len() {
                    return Err(ModelError::invalid(
                        "A forward action cannot name the same target group twice",
                    ));
                }
                if let Some(s) = stickiness_seconds {
                    if !(1..=604_800).contains(s) {
                        return Err(ModelError::invalid(
                            "Target group stickiness duration must be between 1 and 604800 seconds",
                        ));
                    }
                }
                Ok(())
            }
            Action::Redirect(r) => {
                if ![301, 302].contains(&r.status_code) {
                    return Err(ModelError::invalid(
                        "Redirect status code must be 'HTTP_301' or 'HTTP_302'",
                    ));
                }
                let proto_ok = ["HTTP", "HTTPS", "#{protocol}"].contains(&r.protocol.as_str());
                if !proto_ok {
                    return Err(ModelError::invalid(format!(
                        "Redirect protocol '{}' must be HTTP, HTTPS or #{{protocol}}",
                        r.protocol
                    )));
                }
                if r.port != "#{port}" && r.port.parse::<u16>().map_or(true, |p| p == 0) {
                    return Err(ModelError::invalid(format!(
                        "Redirect port '{}' must be between 1 and 65535 or #{{port}}",
                        r.port
                    )));
                }
                if !r.path.starts_with('/') {
                    return Err(ModelError::invalid(format!(
                        "Redirect path '{}' must start with a '/'",
                        r.path
                    )));
                }
                if r.host.is_empty() || r.host.len() > 128 || r.query.len() > 128 {
                    return Err(ModelError::invalid(
                        "Redirect host must be 1-128 characters and its query at most 128",
                    ));
                }
                let p = &r;
                let unchanged = p.protocol == "#{protocol}"
                    && p.host == "#{host}"
                    && p.port == "#{port}"
                    && p.path == "/#{path}"
                    && p.query == "#{query}";
                if unchanged {
                    return Err(ModelError::invalid(
                        "A redirect must change at least one of the protocol, host, port, path or query, or it would loop",
                    ));
                }
                Ok(())
            }
            Action::FixedResponse {
                status_code,
                content_type,
                message_body,
            } => {
                if !matches!(status_code / 100, 2 | 4 | 5) || *status_code > 599 {
                    return Err(ModelError::invalid(format!(
                        "Fixed response status code '{status_code}' must be 2XX, 4XX or 5XX"
                    )));
                }
                let types = [
                    "text/plain",
                    "text/css",
                    "text/html",
                    "application/javascript",
                    "application/json",
                ];
                if let Some(t) = content_type {
                    if !types.contains(&t.as_str()) {
                        return Err(ModelError::invalid(format!(
                            "Fixed response content type '{t}' must be one of {}",
                            types.join(", ")
                        )));
                    }
                }
                if message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                    return Err(ModelError::invalid(
                        "Fixed response message body must be at most 1024 characters",
                    ));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(values: &[&str]) -> Condition {
        Condition::PathPattern {
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn conditions_are_limited_as_elbv2_limits_them() {
        assert!(validate_conditions(&[]).is_err());
        assert!(validate_conditions(&[path(&["/api/*"])]).is_ok());
        assert!(validate_conditions(&[path(&["/a"]), path(&["/b"])]).is_err());
        assert!(validate_conditions(&[path(&["/1", "/2", "/3", "/4", "/5", "/6"])]).is_err());
        assert!(validate_conditions(&[path(&["/a b"])]).is_err());
        let ip = Condition::SourceIp {
            values: vec!["10.0.0.0/33".into()],
        };
        assert!(validate_conditions(&[ip]).is_err());
        let host = Condition::HttpHeader {
            name: "Host".into(),
            values: vec!["x".into()],
        };
        assert!(validate_conditions(&[host]).is_err());
    }

    #[test]
    fn actions_are_checked() {
        let fwd = |w: u32| Action::Forward {
            target_groups: vec![WeightedGroup {
                arn: "a".into(),
                weight: w,
            }],
            stickiness_seconds: None,
        };
        assert!(fwd(1).validate().is_ok());
        assert!(fwd(1000).validate().is_err());
        let fixed = |s: u16| Action::FixedResponse {
            status_code: s,
            content_type: None,
            message_body: None,
        };
        assert!(fixed(404).validate().is_ok());
        assert!(fixed(302).validate().is_err());
        let loop_ = Action::Redirect(Redirect {
            protocol: "#{protocol}".into(),
            host: "#{host}".into(),
            port: "#{port}".into(),
            path: "/#{path}".into(),
            query: "#{query}".into(),
            status_code: 301,
        });
        assert!(loop_.validate().is_err());
    }
}
