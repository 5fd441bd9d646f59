//! ECS gateways: a gateway manages ingress for the services of the clusters associated
//! with it, on shared Application Load Balancers (`hostSharedAlb`, the one type the API
//! has). The stored record holds the configuration, the cluster associations, the load
//! balancers the gateway created and its routes (one per service connected through a
//! gateway connector: a target group and a host-header listener rule). Services carry
//! their [`GatewayConnector`]; the gateway controller turns connectors into routes.
//!
//! The rules here are botocore's bounds and the meaning its documentation gives each
//! member; Flotilla's own limits (HTTP listeners only) are said where they apply.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::record::Record;
use crate::tag::Tag;
use crate::timestamp;

/// A cluster is associated with at most this many gateways.
pub const MAX_GATEWAYS_PER_CLUSTER: usize = 5;
/// The default of `maxAlbCount`.
pub const DEFAULT_MAX_ALB_COUNT: u32 = 10;
/// Routes one shared load balancer carries before the gateway takes another (an ALB
/// listener's rule quota is 100).
pub const ROUTES_PER_ALB: usize = 100;

/// `GatewayStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GatewayStatus {
    Active,
    UpdateInProgress,
    UpdateComplete,
    UpdateFailed,
    Deleted,
}

impl GatewayStatus {
    pub const ALL: [&'static str; 5] = [
        "ACTIVE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_FAILED",
        "DELETED",
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize]
    }
}

/// `GatewayClusterAssociationStatus`. An association that is gone is not kept: INACTIVE
/// is only ever an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssociationStatus {
    Active,
    Disassociating,
    Inactive,
}

impl AssociationStatus {
    pub const ALL: [&'static str; 3] = ["ACTIVE", "DISASSOCIATING", "INACTIVE"];

    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize]
    }
}

/// `GatewayRouteStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RouteStatus {
    Active,
    CreateInProgress,
    CreateFailed,
    UpdateInProgress,
    UpdateFailed,
    DeleteInProgress,
    DeleteFailed,
}

impl RouteStatus {
    pub const ALL: [&'static str; 7] = [
        "ACTIVE",
        "CREATE_IN_PROGRESS",
        "CREATE_FAILED",
        "UPDATE_IN_PROGRESS",
        "UPDATE_FAILED",
        "DELETE_IN_PROGRESS",
        "DELETE_FAILED",
    ];

    pub fn as_str(self) -> &'static str {
        Self::ALL[self as usize]
    }
}

/// `GatewayElbNetworkConfiguration` (echoed; Flotilla has no VPC to put it in).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound_security_group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_address_type: Option<String>,
}

/// `GatewayTestTrafficHeader` inside `GatewayAlbTestTrafficRules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestTrafficRules {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<TestTrafficHeader>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestTrafficHeader {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub values: Vec<String>,
}

/// The `hostSharedAlb` configuration with its defaults filled in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSharedAlb {
    pub network_configuration: NetworkConfiguration,
    pub scheme: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "webACLArn")]
    pub web_acl_arn: Option<String>,
    /// `GatewayElbAccessLogConfiguration`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_logs: Option<serde_json::Value>,
    pub port: u16,
    pub protocol: String,
    pub max_alb_count: u32,
    pub http_desync: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_traffic_rules: Option<TestTrafficRules>,
}

/// What a request gives of `hostSharedAlb` (CreateGateway; UpdateGateway gives the mutable
/// part).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSharedAlbInput {
    pub network_configuration: Option<NetworkConfiguration>,
    pub scheme: Option<String>,
    #[serde(rename = "webACLArn")]
    pub web_acl_arn: Option<String>,
    pub access_logs: Option<serde_json::Value>,
    pub port: Option<i64>,
    pub protocol: Option<String>,
    pub max_alb_count: Option<i64>,
    pub http_desync: Option<String>,
    pub test_traffic_rules: Option<TestTrafficRules>,
}

fn one_of(what: &str, value: &str, allowed: &[&str]) -> Result<()> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ModelError::invalid(format!(
        "{what} '{value}' is invalid: use {}.",
        allowed.join(", ")
    )))
}

fn check_max_alb_count(n: i64) -> Result<u32> {
    if !(1..=100).contains(&n) {
        return Err(ModelError::invalid(format!(
            "maxAlbCount must be between 1 and 100; got {n}."
        )));
    }
    Ok(n as u32)
}

fn check_test_traffic(rules: &TestTrafficRules) -> Result<()> {
    if let Some(h) = &rules.header {
        if h.name.is_empty() || h.values.is_empty() {
            return Err(ModelError::invalid(
                "testTrafficRules.header needs a name and at least one value.",
            ));
        }
    }
    Ok(())
}

fn check_access_logs(logs: &serde_json::Value) -> Result<()> {
    let bucket = logs.pointer("/destination/s3/bucket");
    if logs.pointer("/destination/s3").is_some() && !bucket.is_some_and(|b| b.is_string()) {
        return Err(ModelError::invalid(
            "accessLogs.destination.s3.bucket is required.",
        ));
    }
    Ok(())
}

impl HostSharedAlbInput {
    /// The configuration CreateGateway stores: AWS's defaults, checked against the
    /// model's enums. A listener is HTTP: Flotilla cannot issue the ACM certificates an
    /// HTTPS gateway's routes need, so HTTPS (AWS's only protocol) is refused here.
    pub fn resolve(self) -> Result<HostSharedAlb> {
        let network = self.network_configuration.unwrap_or_default();
        if let Some(t) = &network.ip_address_type {
            one_of(
                "ipAddressType",
                t,
                &["ipv4", "dualstack", "dualstack-without-public-ipv4"],
            )?;
        }
        let scheme = self.scheme.unwrap_or_else(|| "internet-facing".into());
        one_of("scheme", &scheme, &["internet-facing", "internal"])?;
        let protocol = self.protocol.unwrap_or_else(|| "HTTPS".into());
        one_of("protocol", &protocol, &["HTTP", "HTTPS"])?;
        if protocol == "HTTPS" {
            return Err(ModelError::invalid(
                "Flotilla gateways listen on HTTP only: it cannot issue the certificates an \
                 HTTPS gateway's routes need. Set configuration.hostSharedAlb.protocol to HTTP.",
            ));
        }
        let port = match self.port {
            None => 80,
            Some(p) if (1..=65535).contains(&p) => p as u16,
            Some(p) => {
                return Err(ModelError::invalid(format!(
                    "port must be between 1 and 65535; got {p}."
                )))
            }
        };
        let max_alb_count = match self.max_alb_count {
            None => DEFAULT_MAX_ALB_COUNT,
            Some(n) => check_max_alb_count(n)?,
        };
        let http_desync = self.http_desync.unwrap_or_else(|| "defensive".into());
        one_of(
            "httpDesync",
            &http_desync,
            &["monitor", "defensive", "strictest"],
        )?;
        if let Some(r) = &self.test_traffic_rules {
            check_test_traffic(r)?;
        }
        if let Some(l) = &self.access_logs {
            check_access_logs(l)?;
        }
        Ok(HostSharedAlb {
            network_configuration: network,
            scheme,
            web_acl_arn: self.web_acl_arn,
            access_logs: self.access_logs,
            port,
            protocol,
            max_alb_count,
            http_desync,
            test_traffic_rules: self.test_traffic_rules,
        })
    }

    /// Apply UpdateGateway's mutable settings; the immutable ones are refused.
    pub fn apply_to(self, config: &mut HostSharedAlb) -> Result<()> {
        let immutable = [
            ("scheme", self.scheme.is_some()),
            ("port", self.port.is_some()),
            ("protocol", self.protocol.is_some()),
        ];
        if let Some((name, _)) = immutable.iter().find(|(_, given)| *given) {
            return Err(ModelError::invalid(format!(
                "{name} cannot be changed once a gateway is created."
            )));
        }
        if let Some(n) = self.network_configuration {
            if !n.subnets.is_empty() || n.ip_address_type.is_some() {
                return Err(ModelError::invalid(
                    "Only networkConfiguration.inboundSecurityGroup can be changed.",
                ));
            }
            config.network_configuration.inbound_security_group = n.inbound_security_group;
        }
        if let Some(n) = self.max_alb_count {
            config.max_alb_count = check_max_alb_count(n)?;
        }
        if let Some(d) = self.http_desync {
            one_of("httpDesync", &d, &["monitor", "defensive", "strictest"])?;
            config.http_desync = d;
        }
        if let Some(r) = self.test_traffic_rules {
            check_test_traffic(&r)?;
            config.test_traffic_rules = Some(r);
        }
        if let Some(l) = self.access_logs {
            check_access_logs(&l)?;
            config.access_logs = Some(l);
        }
        if let Some(w) = self.web_acl_arn {
            config.web_acl_arn = Some(w);
        }
        Ok(())
    }
}

/// The access type a scheme gives a gateway (and its routes).
pub fn access_type(scheme: &str) -> &'static str {
    if scheme == "internal" {
        "PRIVATE"
    } else {
        "PUBLIC"
    }
}

/// A cluster associated with the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Association {
    pub cluster_arn: String,
    pub status: AssociationStatus,
}

/// A shared load balancer the gateway created, with its one listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayAlb {
    pub load_balancer_arn: String,
    pub listener_arn: String,
}

/// A gateway route: a service's connector made real on one of the gateway's load
/// balancers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRoute {
    pub arn: String,
    pub cluster_arn: String,
    pub service_arn: String,
    pub port_name: String,
    /// The container and port `port_name` named in the task definition the route was made
    /// for: what the service controller registers.
    pub container_name: String,
    pub container_port: u16,
    /// The host name its listener rule matches.
    pub host: String,
    pub service_url: String,
    pub status: RouteStatus,
    pub load_balancer_arn: String,
    pub listener_arn: String,
    pub target_group_arn: String,
    pub listener_rule_arn: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
}

/// The stored gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRecord {
    pub arn: String,
    pub name: String,
    pub status: GatewayStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub infrastructure_role_arn: String,
    pub deletion_protection: bool,
    pub host_shared_alb: HostSharedAlb,
    pub propagate_tags: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub associations: Vec<Association>,
    #[serde(default)]
    pub load_balancers: Vec<GatewayAlb>,
    #[serde(default)]
    pub routes: Vec<GatewayRoute>,
}

impl Record for GatewayRecord {
    const KIND: &'static str = "gateway";
    const VERSION: u32 = 1;
}

impl GatewayRecord {
    pub fn access_type(&self) -> &'static str {
        access_type(&self.host_shared_alb.scheme)
    }

    pub fn association(&self, cluster_arn: &str) -> Option<&Association> {
        self.associations
            .iter()
            .find(|a| a.cluster_arn == cluster_arn)
    }
}

/// A gateway name: 1 to 255 letters, numbers, hyphens and underscores (it is part of the
/// gateway's ARN).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(ModelError::invalid(
            "Gateway names must be 1 to 255 letters, numbers, hyphens and underscores.",
        ));
    }
    Ok(())
}

/// `GatewayConnectorHealthCheck`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorHealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_interval_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_threshold_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_threshold_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matcher: Option<ConnectorMatcher>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorMatcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_types: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeregistrationDelay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
}

/// `GatewayConnector`: how a service is reached through the gateways of its cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConnector {
    #[serde(default)]
    pub port_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<ConnectorHealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<ConnectorFilters>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistration_delay: Option<DeregistrationDelay>,
}

fn in_range(what: &str, v: Option<i64>, lo: i64, hi: i64) -> Result<()> {
    match v {
        Some(v) if !(lo..=hi).contains(&v) => Err(ModelError::invalid(format!(
            "{what} must be between {lo} and {hi}; got {v}."
        ))),
        _ => Ok(()),
    }
}

impl GatewayConnector {
    /// Whether the connector applies to a gateway of this access type.
    pub fn applies_to(&self, access_type: &str) -> bool {
        match self.filters.as_ref().and_then(|f| f.access_types.as_ref()) {
            Some(types) if !types.is_empty() => types.iter().any(|t| t == access_type),
            _ => true,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.port_name.is_empty() {
            return Err(ModelError::invalid(
                "gatewayConnectors[].portName is required.",
            ));
        }
        if let Some(h) = &self.health_check {
            if let Some(p) = &h.health_check_protocol {
                one_of("healthCheckProtocol", p, &["HTTP", "HTTPS"])?;
            }
            in_range("healthCheckPort", h.health_check_port, 1, 65535)?;
            in_range(
                "healthCheckTimeoutSeconds",
                h.health_check_timeout_seconds,
                2,
                120,
            )?;
            in_range(
                "healthCheckIntervalSeconds",
                h.health_check_interval_seconds,
                5,
                300,
            )?;
            in_range("healthyThresholdCount", h.healthy_threshold_count, 2, 10)?;
            in_range(
                "unhealthyThresholdCount",
                h.unhealthy_threshold_count,
                2,
                10,
            )?;
            if let Some(p) = &h.health_check_path {
                if !p.starts_with('/') || p.len() > 1024 {
                    return Err(ModelError::invalid(
                        "healthCheckPath must start with '/' and be at most 1024 characters.",
                    ));
                }
            }
            if h.matcher.as_ref().is_some_and(|m| m.grpc_code.is_some()) {
                return Err(ModelError::invalid(
                    "matcher.grpcCode is not supported: gateway routes forward HTTP/1.1.",
                ));
            }
        }
        if let Some(types) = self.filters.as_ref().and_then(|f| f.access_types.as_ref()) {
            if types.len() > 2 {
                return Err(ModelError::invalid(
                    "filters.accessTypes can have at most 2 values.",
                ));
            }
            for t in types {
                one_of("accessTypes", t, &["PUBLIC", "PRIVATE"])?;
            }
        }
        let delay = self.deregistration_delay.as_ref();
        in_range(
            "deregistrationDelay.timeoutSeconds",
            delay.and_then(|d| d.timeout_seconds),
            0,
            3600,
        )
    }
}

/// A service's `gatewayConnectors`: at most one, each valid.
pub fn validate_connectors(connectors: &[GatewayConnector]) -> Result<()> {
    if connectors.len() > 1 {
        return Err(ModelError::invalid(
            "A service can have at most one gateway connector.",
        ));
    }
    connectors.iter().try_for_each(GatewayConnector::validate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        let input = HostSharedAlbInput {
            protocol: Some("HTTP".into()),
            ..Default::default()
        };
        let c = input.resolve().unwrap();
        assert_eq!((c.port, c.max_alb_count), (80, 10));
        assert_eq!(
            (c.scheme.as_str(), c.http_desync.as_str()),
            ("internet-facing", "defensive")
        );
        assert!(
            HostSharedAlbInput::default().resolve().is_err(),
            "HTTPS is refused"
        );
        let bad = HostSharedAlbInput {
            protocol: Some("HTTP".into()),
            max_alb_count: Some(0),
            ..Default::default()
        };
        assert!(bad.resolve().is_err());
    }

    #[test]
    fn connectors() {
        let c = GatewayConnector {
            port_name: "web".into(),
            ..Default::default()
        };
        assert!(validate_connectors(std::slice::from_ref(&c)).is_ok());
        assert!(validate_connectors(&[c.clone(), c.clone()]).is_err());
        assert!(c.applies_to("PRIVATE"));
        let filtered = GatewayConnector {
            filters: Some(ConnectorFilters {
                access_types: Some(vec!["PUBLIC".into()]),
            }),
            ..c
        };
        assert!(filtered.applies_to("PUBLIC") && !filtered.applies_to("PRIVATE"));
        let no_name = GatewayConnector::default();
        assert!(validate_connectors(&[no_name]).is_err());
    }
}
