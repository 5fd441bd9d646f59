//! Target groups: where a listener's forward action sends requests, with the health check
//! and attributes ELBv2 gives them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;

/// The protocol of a target group (and of its health check). Application load balancers
/// use HTTP and HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetGroupProtocol {
    Http,
    Https,
}

impl TargetGroupProtocol {
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

/// `TargetType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetType {
    Instance,
    Ip,
}

impl TargetType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "instance" => Some(Self::Instance),
            "ip" => Some(Self::Ip),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Instance => "instance",
            Self::Ip => "ip",
        }
    }
}

/// `load_balancing.algorithm.type`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Algorithm {
    #[default]
    RoundRobin,
    LeastOutstandingRequests,
}

/// A target group's health check, with the API model's defaults for HTTP and HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    pub enabled: bool,
    pub protocol: TargetGroupProtocol,
    /// `None`: `traffic-port`, the port each target receives traffic on.
    pub port: Option<u16>,
    pub path: String,
    pub interval_seconds: u32,
    pub timeout_seconds: u32,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    /// `Matcher.HttpCode`: codes and ranges, e.g. `200`, `200,202`, `200-299`.
    pub matcher: String,
}

impl HealthCheck {
    pub fn default_for(protocol: TargetGroupProtocol) -> Self {
        HealthCheck {
            enabled: true,
            protocol,
            port: None,
            path: "/".into(),
            interval_seconds: 30,
            timeout_seconds: 5,
            healthy_threshold: 5,
            unhealthy_threshold: 2,
            matcher: "200".into(),
        }
    }

    /// AWS's bounds: interval 5–300, timeout 2–120 and shorter than the interval,
    /// thresholds 2–10, a path starting with `/` of at most 1024 characters, a matcher
    /// of codes 200–499.
    pub fn validate(&self) -> Result<()> {
        check_range("HealthCheckIntervalSeconds", self.interval_seconds, 5, 300)?;
        check_range("HealthCheckTimeoutSeconds", self.timeout_seconds, 2, 120)?;
        check_range("HealthyThresholdCount", self.healthy_threshold, 2, 10)?;
        check_range("UnhealthyThresholdCount", self.unhealthy_threshold, 2, 10)?;
        if self.timeout_seconds >= self.interval_seconds {
            return Err(ModelError::invalid(format!(
                "Health check timeout '{}' must be smaller than the interval '{}'",
                self.timeout_seconds, self.interval_seconds
            )));
        }
        if !self.path.starts_with('/') || self.path.len() > 1024 {
            return Err(ModelError::invalid(
                "Health check path must begin with a '/' character and be at most 1024 characters long",
            ));
        }
        if let Some(0) = self.port {
            return Err(ModelError::invalid(
                "Health check port must be 'traffic-port' or a number between 1 and 65535",
            ));
        }
        codes(&self.matcher)?;
        Ok(())
    }

    /// Whether `status` is one the matcher accepts.
    pub fn accepts(&self, status: u16) -> bool {
        codes(&self.matcher)
            .map(|ranges| ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&status)))
            .unwrap_or(status == 200)
    }
}

fn check_range(name: &str, v: u32, lo: u32, hi: u32) -> Result<()> {
    if (lo..=hi).contains(&v) {
        Ok(())
    } else {
        Err(ModelError::invalid(format!(
            "{name} must be between {lo} and {hi}, not {v}"
        )))
    }
}

/// The ranges of an HTTP code matcher (`200`, `200,202`, `200-299`), each within 200–499.
pub fn codes(matcher: &str) -> Result<Vec<(u16, u16)>> {
    let bad = || {
        ModelError::invalid(format!(
            "Health check matcher HTTP code '{matcher}' must be codes or ranges between 200 and 499, such as '200', '200,202' or '200-299'"
        ))
    };
    let mut out = Vec::new();
    for part in matcher.split(',') {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part.trim(), part.trim()),
        };
        let lo: u16 = lo.parse().map_err(|_| bad())?;
        let hi: u16 = hi.parse().map_err(|_| bad())?;
        if !(200..=499).contains(&lo) || !(200..=499).contains(&hi) || lo > hi {
            return Err(bad());
        }
        out.push((lo, hi));
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

/// A target group, by region and name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetGroupRecord {
    pub arn: String,
    pub name: String,
    pub protocol: TargetGroupProtocol,
    /// `HTTP1` (the default), `HTTP2` or `GRPC`, as given.
    pub protocol_version: String,
    pub port: u16,
    pub vpc_id: Option<String>,
    pub target_type: TargetType,
    pub health_check: HealthCheck,
    pub ip_address_type: String,
    /// Only the attributes set away from their defaults; [`attributes`] fills the rest.
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub created_at: DateTime<Utc>,
}

impl Record for TargetGroupRecord {
    const KIND: &'static str = "elbv2-target-group";
    const VERSION: u32 = 1;
}

/// The attributes DescribeTargetGroupAttributes lists for an instance or ip target group
/// of an application load balancer, with their defaults.
pub const ATTRIBUTE_DEFAULTS: &[(&str, &str)] = &[
    ("deregistration_delay.timeout_seconds", "300"),
    ("stickiness.enabled", "false"),
    ("stickiness.type", "lb_cookie"),
    ("stickiness.lb_cookie.duration_seconds", "86400"),
    ("stickiness.app_cookie.cookie_name", ""),
    ("stickiness.app_cookie.duration_seconds", "86400"),
    ("slow_start.duration_seconds", "0"),
    ("load_balancing.algorithm.type", "round_robin"),
    ("load_balancing.algorithm.anomaly_mitigation", "off"),
    (
        "load_balancing.cross_zone.enabled",
        "use_load_balancer_configuration",
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.count",
        "1",
    ),
    (
        "target_group_health.dns_failover.minimum_healthy_targets.percentage",
        "off",
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count",
        "1",
    ),
    (
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage",
        "off",
    ),
];

impl TargetGroupRecord {
    /// Every attribute with its effective value.
    pub fn attributes(&self) -> Vec<(String, String)> {
        super::attribute_values(&self.attributes, ATTRIBUTE_DEFAULTS)
    }

    fn attribute(&self, key: &str) -> String {
        super::attribute_value(&self.attributes, ATTRIBUTE_DEFAULTS, key)
    }

    pub fn deregistration_delay_seconds(&self) -> u64 {
        self.attribute("deregistration_delay.timeout_seconds")
            .parse()
            .unwrap_or(300)
    }

    pub fn slow_start_seconds(&self) -> u64 {
        self.attribute("slow_start.duration_seconds")
            .parse()
            .unwrap_or(0)
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.attribute("load_balancing.algorithm.type").as_str() {
            "least_outstanding_requests" => Algorithm::LeastOutstandingRequests,
            _ => Algorithm::RoundRobin,
        }
    }

    /// The lb_cookie stickiness duration, when stickiness is on.
    pub fn stickiness_seconds(&self) -> Option<u64> {
        (self.attribute("stickiness.enabled") == "true"
            && self.attribute("stickiness.type") == "lb_cookie")
            .then(|| {
                self.attribute("stickiness.lb_cookie.duration_seconds")
                    .parse()
                    .unwrap_or(86400)
            })
    }
}

/// Check one target group attribute against AWS's rules.
pub fn validate_attribute(key: &str, value: &str) -> Result<()> {
    let int = |lo: u64, hi: u64| -> Result<()> {
        match value.parse::<u64>() {
            Ok(n) if (lo..=hi).contains(&n) => Ok(()),
            _ => Err(ModelError::invalid(format!(
                "The value of '{key}' must be an integer between {lo} and {hi}, not '{value}'"
            ))),
        }
    };
    let one_of = |allowed: &[&str]| -> Result<()> {
        if allowed.contains(&value) {
            Ok(())
        } else {
            Err(ModelError::invalid(format!(
                "The value of '{key}' must be one of {}, not '{value}'",
                allowed.join(", ")
            )))
        }
    };
    match key {
        "deregistration_delay.timeout_seconds" => int(0, 3600),
        "stickiness.enabled" => one_of(&["true", "false"]),
        "stickiness.type" => one_of(&["lb_cookie", "app_cookie"]),
        "stickiness.lb_cookie.duration_seconds" | "stickiness.app_cookie.duration_seconds" => {
            int(1, 604_800)
        }
        "stickiness.app_cookie.cookie_name" => {
            if value.len() > 255 || value.starts_with("AWSALB") || value.starts_with("AWSELB") {
                Err(ModelError::invalid(format!(
                    "The value of '{key}' must be at most 255 characters and not start with AWSALB or AWSELB"
                )))
            } else {
                Ok(())
            }
        }
        "slow_start.duration_seconds" => {
            if value == "0" {
                Ok(())
            } else {
                int(30, 900).map_err(|_| {
                    ModelError::invalid(format!(
                        "The value of '{key}' must be 0 (off) or between 30 and 900, not '{value}'"
                    ))
                })
            }
        }
        "load_balancing.algorithm.type" => one_of(&[
            "round_robin",
            "least_outstanding_requests",
            "weighted_random",
        ]),
        "load_balancing.algorithm.anomaly_mitigation" => one_of(&["on", "off"]),
        "load_balancing.cross_zone.enabled" => {
            one_of(&["true", "false", "use_load_balancer_configuration"])
        }
        k if ATTRIBUTE_DEFAULTS.iter().any(|(d, _)| *d == k) => Ok(()),
        _ => Err(ModelError::invalid(format!(
            "Target group attribute key '{key}' is not recognized"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matcher_accepts_codes_lists_and_ranges() {
        let mut hc = HealthCheck::default_for(TargetGroupProtocol::Http);
        assert!(hc.accepts(200) && !hc.accepts(204));
        hc.matcher = "200-299,302".into();
        assert!(hc.accepts(204) && hc.accepts(302) && !hc.accepts(301));
        for bad in ["", "abc", "199", "500", "300-200", "200-"] {
            assert!(codes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn health_check_bounds_are_aws_bounds() {
        let mut hc = HealthCheck::default_for(TargetGroupProtocol::Http);
        assert!(hc.validate().is_ok());
        hc.timeout_seconds = 30;
        assert!(hc.validate().is_err());
        hc = HealthCheck::default_for(TargetGroupProtocol::Http);
        hc.healthy_threshold = 11;
        assert!(hc.validate().is_err());
        hc = HealthCheck::default_for(TargetGroupProtocol::Http);
        hc.path = "health".into();
        assert!(hc.validate().is_err());
    }

    #[test]
    fn attributes_are_checked_against_their_ranges() {
        assert!(validate_attribute("deregistration_delay.timeout_seconds", "0").is_ok());
        assert!(validate_attribute("deregistration_delay.timeout_seconds", "3601").is_err());
        assert!(validate_attribute("slow_start.duration_seconds", "10").is_err());
        assert!(validate_attribute("slow_start.duration_seconds", "30").is_ok());
        assert!(validate_attribute("no.such.key", "1").is_err());
    }
}
