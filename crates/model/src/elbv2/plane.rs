//! The contract between the control plane and the load balancer's data plane.
//!
//! The control plane fills a [`PlaneConfig`] from its views and publishes it on a `watch`
//! channel; the data plane binds, routes and health-checks exactly what it says and never
//! reads the store. The data plane answers with [`HealthReport`]s: what its health checks
//! observed, how many requests each draining target still has in flight, and running
//! totals of the traffic of each load balancer and target group. Both are
//! plain values, so each side is tested without the other.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::listener::{Action, Condition, ListenerProtocol};
use super::target_group::{Algorithm, HealthCheck, TargetGroupProtocol};

/// Everything the data plane serves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaneConfig {
    pub load_balancers: Vec<LbPlane>,
    /// Target groups by ARN: only those some listener of a load balancer above uses are
    /// health-checked and routed to.
    pub target_groups: BTreeMap<String, TgPlane>,
    /// Certificates by ARN (ACM), for HTTPS listeners.
    pub certificates: BTreeMap<String, Arc<CertificatePem>>,
}

/// One load balancer: the address its listeners bind and how it treats requests.
#[derive(Debug, Clone, PartialEq)]
pub struct LbPlane {
    pub arn: String,
    pub name: String,
    /// The address every listener of this load balancer binds (its own loopback address
    /// on one host).
    pub address: IpAddr,
    /// `idle_timeout.timeout_seconds`: how long a client connection may be idle, and how
    /// long a target may take to answer.
    pub idle_timeout: Duration,
    /// `routing.http2.enabled`: offer h2 over ALPN on HTTPS listeners.
    pub http2: bool,
    pub xff: XffMode,
    /// `routing.http.preserve_host_header.enabled`. The data plane forwards the client's
    /// Host header either way (as ALB does for HTTP/1.1 clients); kept for completeness.
    pub preserve_host: bool,
    pub listeners: Vec<ListenerPlane>,
}

/// `routing.http.xff_header_processing.mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum XffMode {
    #[default]
    Append,
    Preserve,
    Remove,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListenerPlane {
    pub arn: String,
    /// The port as the user gave it; the data plane binds `port + port_offset`.
    pub port: u16,
    pub protocol: ListenerProtocol,
    /// HTTPS: the default certificate's ARN first, then the others (chosen by SNI).
    pub certificates: Vec<String>,
    /// Rules in evaluation order: ascending priority, the default rule last.
    pub rules: Vec<RulePlane>,
    /// The client addresses the load balancer's security groups admit on this port;
    /// `None`: anyone.
    pub admits: Option<Vec<crate::ec2::cidr::Cidr>>,
}

impl ListenerPlane {
    /// Whether a client at `peer` may connect (its security groups' ingress rules).
    pub fn admits(&self, peer: std::net::IpAddr) -> bool {
        let Some(sources) = &self.admits else {
            return true;
        };
        let v4 = match peer {
            std::net::IpAddr::V4(a) => a,
            std::net::IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(a) => a,
                None => return false,
            },
        };
        sources.iter().any(|c| c.contains_addr(v4))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RulePlane {
    pub arn: String,
    /// `None` for the default rule.
    pub priority: Option<u32>,
    /// ANDed; each condition's values are ORed. Empty for the default rule.
    pub conditions: Vec<Condition>,
    /// The rule's single terminal action (forward, redirect or fixed-response).
    pub action: Action,
}

/// A target group as the data plane routes to and health-checks it.
#[derive(Debug, Clone, PartialEq)]
pub struct TgPlane {
    pub arn: String,
    pub protocol: TargetGroupProtocol,
    /// The target group's own port (the default port of a target registered without one).
    pub port: u16,
    pub health_check: HealthCheck,
    pub algorithm: Algorithm,
    /// `slow_start.duration_seconds` (zero: off).
    pub slow_start: Duration,
    /// `stickiness.enabled` with `stickiness.type` lb_cookie: the AWSALB cookie's life.
    pub stickiness: Option<Duration>,
    /// `deregistration_delay.timeout_seconds`.
    pub deregistration_delay: Duration,
    pub targets: Vec<TargetPlane>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPlane {
    /// How DescribeTargetHealth names it: `id:port`.
    pub key: TargetKey,
    /// Where requests and health checks go.
    pub addr: SocketAddr,
    pub registered_at: DateTime<Utc>,
    /// Set once the target is deregistered: it gets no new requests; in-flight ones may
    /// run until `drain_deadline`, then are cut.
    pub draining: Option<Draining>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draining {
    pub since: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
}

/// A target as ELBv2 names it: an instance id or IP address, and a port.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TargetKey {
    pub id: String,
    pub port: u16,
}

impl std::fmt::Display for TargetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.id, self.port)
    }
}

/// A certificate and its key as PEM, with the names it serves (for SNI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificatePem {
    pub arn: String,
    /// The leaf certificate followed by its chain.
    pub chain_pem: String,
    pub private_key_pem: String,
    /// The subject's common name and subject alternative names, lower-cased; wildcards
    /// as `*.example.com`.
    pub names: Vec<String>,
}

/// What the data plane observed, published after every change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthReport {
    /// By target group ARN, then target.
    pub groups: BTreeMap<String, BTreeMap<TargetKey, Observed>>,
    /// Listeners that cannot serve (their port could not be bound, their certificate
    /// could not be loaded), with the error, by listener ARN.
    pub bind_errors: BTreeMap<String, String>,
    /// Each load balancer's traffic since the data plane took it on, by load balancer
    /// ARN: CloudWatch's `AWS/ApplicationELB` metrics per `LoadBalancer` are made of these.
    pub traffic: BTreeMap<String, LbTraffic>,
    /// The traffic each load balancer forwarded to each target group, by (load balancer
    /// ARN, target group ARN): one entry for every group a listener of the load balancer
    /// forwards to, with or without traffic (the `TargetGroup` metrics' pairs).
    pub group_traffic: BTreeMap<(String, String), GroupTraffic>,
}

/// One load balancer's running totals (they only grow while the data plane runs; lower
/// totals mean it started again).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LbTraffic {
    /// Requests received on its listeners, answered by a target or by the balancer.
    pub requests: u64,
    /// Answers the balancer made itself (its errors, redirects and fixed responses) with a
    /// 3xx, 4xx or 5xx status (502 when a target failed, 503 with no target, 504 on a
    /// timeout).
    pub elb_3xx: u64,
    pub elb_4xx: u64,
    pub elb_5xx: u64,
    /// Client connections accepted, and those of them closed since.
    pub connections_opened: u64,
    pub connections_closed: u64,
}

/// What one load balancer forwarded to one target group, as running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupTraffic {
    /// Requests routed to the group (whether or not a target could take them).
    pub requests: u64,
    /// The targets' answers by status class (1xx counted with 2xx).
    pub target_2xx: u64,
    pub target_3xx: u64,
    pub target_4xx: u64,
    pub target_5xx: u64,
    /// The sum over those answers of the time from sending the request to the target to
    /// receiving its response headers, in microseconds.
    pub response_time_us: u64,
}

impl GroupTraffic {
    /// How many answers targets gave (`response_time_us` is the sum over these).
    pub fn responses(&self) -> u64 {
        self.target_2xx + self.target_3xx + self.target_4xx + self.target_5xx
    }
}

impl HealthReport {
    pub fn target(&self, group: &str, key: &TargetKey) -> Option<&Observed> {
        self.groups.get(group)?.get(key)
    }
}

/// One target's state in the data plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Registered, no health check has finished yet.
    Initial,
    Healthy,
    Unhealthy(UnhealthyReason),
    /// Deregistered: `in_flight` requests still running on it.
    Draining {
        in_flight: u64,
    },
    /// Registered in a group no listener uses: not checked.
    NotInUse,
}

/// Why a health check failed, as ALB's reason codes say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnhealthyReason {
    /// `Target.ResponseCodeMismatch`, with the code received.
    ResponseCodeMismatch(u16),
    /// `Target.Timeout`.
    Timeout,
    /// `Target.FailedHealthChecks`: the connection failed or the answer was not HTTP.
    FailedHealthChecks,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listener_admits_its_sources_only() {
        let mut l = ListenerPlane {
            arn: "l".into(),
            port: 80,
            protocol: ListenerProtocol::Http,
            certificates: vec![],
            rules: vec![],
            admits: None,
        };
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(l.admits(ip("203.0.113.9")));
        l.admits = Some(vec!["10.0.0.0/8".parse().unwrap()]);
        assert!(l.admits(ip("10.1.2.3")));
        assert!(l.admits(ip("::ffff:10.1.2.3")));
        assert!(!l.admits(ip("11.0.0.1")));
        assert!(!l.admits(ip("2001:db8::1")));
        l.admits = Some(vec![]);
        assert!(!l.admits(ip("10.1.2.3")));
    }
}
