//! Route 53 health checks as stored, with the rules that need no I/O: which types run
//! ([`CheckType`]), the bounds of a configuration ([`HealthCheckConfig::validate`]), what
//! an update may change ([`HealthCheckConfig::same_endpoint`]), the status strings
//! GetHealthCheckStatus shows ([`Outcome::status`]) and how consecutive results turn into
//! a state ([`Tracker`]).
//!
//! Probing is the control plane's (`flotilla_control::route53::checker`); the results are
//! kept in its memory, never here.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names;
use crate::record::Record;

/// At most this many health checks per account (Route 53's default quota).
pub const MAX_HEALTH_CHECKS: usize = 200;
/// How much of a response body a string-matching check searches (Route 53's figure).
pub const SEARCH_BYTES: usize = 5120;
/// The two intervals Route 53 allows, in seconds (30 by default).
pub const INTERVALS: [u32; 2] = [10, 30];
/// The failure threshold when none is given.
pub const DEFAULT_FAILURE_THRESHOLD: u32 = 3;

/// The health check types Flotilla runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckType {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "HTTP_STR_MATCH")]
    HttpStrMatch,
    #[serde(rename = "HTTPS_STR_MATCH")]
    HttpsStrMatch,
    #[serde(rename = "TCP")]
    Tcp,
}

impl CheckType {
    pub const ALL: [CheckType; 5] = [
        CheckType::Http,
        CheckType::Https,
        CheckType::HttpStrMatch,
        CheckType::HttpsStrMatch,
        CheckType::Tcp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckType::Http => "HTTP",
            CheckType::Https => "HTTPS",
            CheckType::HttpStrMatch => "HTTP_STR_MATCH",
            CheckType::HttpsStrMatch => "HTTPS_STR_MATCH",
            CheckType::Tcp => "TCP",
        }
    }

    /// The type named `s`. Err: Route 53's other types (CALCULATED, CLOUDWATCH_METRIC,
    /// RECOVERY_CONTROL) are refused with what is supported, anything else as unknown.
    pub fn parse(s: &str) -> Result<CheckType, String> {
        if let Some(t) = CheckType::ALL.into_iter().find(|t| t.as_str() == s) {
            return Ok(t);
        }
        let supported = "HTTP, HTTPS, HTTP_STR_MATCH, HTTPS_STR_MATCH and TCP";
        match s {
            "CALCULATED" | "CLOUDWATCH_METRIC" | "RECOVERY_CONTROL" => Err(format!(
                "Health checks of type {s} are not supported; Flotilla runs {supported}."
            )),
            _ => Err(format!("Type must be one of {supported}, not {s}.")),
        }
    }

    /// Over TLS.
    pub fn tls(self) -> bool {
        matches!(self, CheckType::Https | CheckType::HttpsStrMatch)
    }

    /// An HTTP request is sent (every type but TCP).
    pub fn http(self) -> bool {
        self != CheckType::Tcp
    }

    /// The response body must hold `SearchString`.
    pub fn matches_string(self) -> bool {
        matches!(self, CheckType::HttpStrMatch | CheckType::HttpsStrMatch)
    }

    fn default_port(self) -> Option<u16> {
        match self {
            CheckType::Http | CheckType::HttpStrMatch => Some(80),
            CheckType::Https | CheckType::HttpsStrMatch => Some(443),
            CheckType::Tcp => None,
        }
    }
}

/// `HealthCheckConfig`, as given (defaults filled in by [`HealthCheckConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckConfig {
    pub check_type: CheckType,
    #[serde(default)]
    pub ip_address: Option<IpAddr>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub resource_path: Option<String>,
    /// As given (Route 53 shows it back unchanged).
    #[serde(default)]
    pub fqdn: Option<String>,
    #[serde(default)]
    pub search_string: Option<String>,
    pub request_interval: u32,
    pub failure_threshold: u32,
    #[serde(default)]
    pub measure_latency: bool,
    #[serde(default)]
    pub inverted: bool,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub enable_sni: Option<bool>,
    /// Regions the user named (shown back; checks run from each server whatever these say).
    #[serde(default)]
    pub regions: Vec<String>,
}

impl HealthCheckConfig {
    /// A configuration of `check_type` with Route 53's defaults and no endpoint.
    pub fn new(check_type: CheckType) -> Self {
        HealthCheckConfig {
            check_type,
            ip_address: None,
            port: None,
            resource_path: None,
            fqdn: None,
            search_string: None,
            request_interval: 30,
            failure_threshold: DEFAULT_FAILURE_THRESHOLD,
            measure_latency: false,
            inverted: false,
            disabled: false,
            enable_sni: None,
            regions: vec![],
        }
    }

    /// Check the configuration against Route 53's bounds and fill in the defaults it
    /// fills in (the port of the type; SNI on for HTTPS types). Err: InvalidInput's
    /// message.
    pub fn validate(&mut self) -> Result<(), String> {
        if self.ip_address.is_none() && self.fqdn.is_none() {
            return Err(format!(
                "A health check of type {} needs an IPAddress or a FullyQualifiedDomainName.",
                self.check_type.as_str()
            ));
        }
        if self.port.is_none() {
            self.port = self.check_type.default_port();
        }
        if self.port.is_none() {
            return Err("A TCP health check needs a Port.".into());
        }
        if self.port == Some(0) {
            return Err("Port must be from 1 to 65535.".into());
        }
        if let Some(path) = &self.resource_path {
            if path.chars().count() > 255 {
                return Err("ResourcePath must be at most 255 characters long.".into());
            }
            if !self.check_type.http() {
                return Err("ResourcePath is only allowed for HTTP and HTTPS checks.".into());
            }
        }
        if let Some(fqdn) = &self.fqdn {
            if fqdn.chars().count() > 255 {
                return Err("FullyQualifiedDomainName must be at most 255 characters long.".into());
            }
            if names::normalize(fqdn).is_err() || fqdn.trim_end_matches('.').is_empty() {
                return Err(format!(
                    "FullyQualifiedDomainName {fqdn} is not a valid domain name."
                ));
            }
        }
        match (&self.search_string, self.check_type.matches_string()) {
            (None, true) => {
                return Err(format!(
                    "A health check of type {} needs a SearchString.",
                    self.check_type.as_str()
                ))
            }
            (Some(s), true) if s.is_empty() || s.chars().count() > 255 => {
                return Err("SearchString must be 1 to 255 characters long.".into())
            }
            (Some(_), false) => {
                return Err(
                    "SearchString is only allowed for HTTP_STR_MATCH and HTTPS_STR_MATCH checks."
                        .into(),
                )
            }
            _ => {}
        }
        if !INTERVALS.contains(&self.request_interval) {
            return Err(format!(
                "RequestInterval must be 10 or 30, not {}.",
                self.request_interval
            ));
        }
        if !(1..=10).contains(&self.failure_threshold) {
            return Err(format!(
                "FailureThreshold must be from 1 to 10, not {}.",
                self.failure_threshold
            ));
        }
        if !self.regions.is_empty() && !(3..=64).contains(&self.regions.len()) {
            return Err("Regions must name at least 3 regions.".into());
        }
        if self.check_type.tls() && self.enable_sni.is_none() {
            self.enable_sni = Some(true);
        }
        Ok(())
    }

    /// The same thing is probed the same way: only FailureThreshold, Inverted and
    /// Disabled (and what plays no part in probing) differ, so results so far still count.
    pub fn same_endpoint(&self, other: &HealthCheckConfig) -> bool {
        (
            self.check_type,
            self.ip_address,
            self.port,
            &self.resource_path,
            &self.fqdn,
            &self.search_string,
            self.request_interval,
            self.enable_sni,
        ) == (
            other.check_type,
            other.ip_address,
            other.port,
            &other.resource_path,
            &other.fqdn,
            &other.search_string,
            other.request_interval,
            other.enable_sni,
        )
    }

    /// The Host header an HTTP check sends: the FQDN if given, else the IP address (with
    /// the port when it is not the scheme's default, as Route 53 does).
    pub fn host_header(&self) -> String {
        let host = match (&self.fqdn, self.ip_address) {
            (Some(f), _) => f.trim_end_matches('.').to_string(),
            (None, Some(IpAddr::V6(ip))) => format!("[{ip}]"),
            (None, Some(ip)) => ip.to_string(),
            (None, None) => String::new(),
        };
        match self.port {
            Some(p) if Some(p) != self.check_type.default_port() => format!("{host}:{p}"),
            _ => host,
        }
    }

    /// The path requested: ResourcePath with a leading `/`, or `/`.
    pub fn path(&self) -> String {
        match self.resource_path.as_deref() {
            None | Some("") => "/".into(),
            Some(p) if p.starts_with('/') => p.to_string(),
            Some(p) => format!("/{p}"),
        }
    }
}

/// A health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckRecord {
    /// A UUID, as Route 53's health check ids are.
    pub id: String,
    pub caller_reference: String,
    pub config: HealthCheckConfig,
    /// Starts at 1; every update adds one (UpdateHealthCheck compares it).
    pub version: u64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
}

impl Record for HealthCheckRecord {
    const KIND: &'static str = "route53-health-check";
    const VERSION: u32 = 1;
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP answer: its status code and reason phrase, and (string matching) whether
    /// the search string was found.
    Http {
        code: u16,
        reason: String,
        found: Option<bool>,
    },
    /// A TCP check's connection was made.
    Connected,
    /// The connection was refused.
    Refused,
    /// No connection, or no answer, in time.
    TimedOut,
    /// Anything else that went wrong (TLS, a garbled answer), described.
    Failed(String),
}

impl Outcome {
    /// Healthy by Route 53's rule: a connection for TCP; a 2xx or 3xx answer for HTTP
    /// (holding the search string for the matching types).
    pub fn success(&self) -> bool {
        match self {
            Outcome::Http { code, found, .. } => (200..400).contains(code) && *found != Some(false),
            Outcome::Connected => true,
            _ => false,
        }
    }

    /// The `StatusReport.Status` text, `Success: ...` or `Failure: ...` as Route 53 words
    /// its observations.
    pub fn status(&self) -> String {
        let verdict = if self.success() { "Success" } else { "Failure" };
        let detail = match self {
            Outcome::Http {
                code,
                reason,
                found,
            } => {
                let mut s = format!("HTTP Status Code {code}, {reason}");
                match found {
                    Some(false) if (200..400).contains(code) => s.push_str(
                        &format!(". Search string not found in the first {SEARCH_BYTES} bytes of the response body"),
                    ),
                    Some(true) => s.push_str(". Search string found"),
                    _ => {}
                }
                s
            }
            Outcome::Connected => "TCP connection established".into(),
            Outcome::Refused => "Connection refused".into(),
            Outcome::TimedOut => "Connection timed out".into(),
            Outcome::Failed(why) => why.clone(),
        };
        format!("{verdict}: {detail}")
    }
}

/// One checker's last probe, as GetHealthCheckStatus shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The address the probe came from.
    pub source: Option<IpAddr>,
    pub checked_at: DateTime<Utc>,
    pub status: String,
}

/// A check's state from consecutive results: unknown (counted healthy) until the first
/// success or until `FailureThreshold` failures in a row; then it flips only after
/// `FailureThreshold` results in a row that disagree with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracker {
    /// What the probes say, before Inverted; `None` while unknown.
    raw: Option<bool>,
    /// Results in a row that disagree with `raw` (failures while unknown).
    streak: u32,
    last: Option<Observation>,
}

impl Tracker {
    /// Take one probe's result.
    pub fn observe(&mut self, success: bool, threshold: u32, observation: Observation) {
        self.last = Some(observation);
        let threshold = threshold.max(1);
        match self.raw {
            None if success => {
                self.raw = Some(true);
                self.streak = 0;
            }
            Some(current) if current == success => self.streak = 0,
            _ => {
                self.streak += 1;
                if self.streak >= threshold {
                    self.raw = Some(success);
                    self.streak = 0;
                }
            }
        }
    }

    /// Whether record sets naming the check are healthy: Disabled is always healthy,
    /// unknown is healthy, otherwise the probes' state turned by Inverted.
    pub fn healthy(&self, config: &HealthCheckConfig) -> bool {
        if config.disabled {
            return true;
        }
        match self.raw {
            None => true,
            Some(raw) => raw != config.inverted,
        }
    }

    pub fn last(&self) -> Option<&Observation> {
        self.last.as_ref()
    }
}

#[cfg(test)]
mod tests;
