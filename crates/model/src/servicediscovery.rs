//! AWS Cloud Map as stored: namespaces, services, instances and the operations that
//! changed them, with Cloud Map's rules that need no I/O: names, ids and bounds
//! ([`rules`]) and the DNS records a service's instances answer with ([`records`]).
//!
//! Every record is regional (its key carries the region). Counts (a namespace's services,
//! a service's instances) are never stored: they come from the views.

pub mod records;
pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dns::RecordType;
use crate::record::Record;

/// The SOA TTL (negative caching) a DNS namespace gets when it is created without one.
pub const DEFAULT_SOA_TTL: u32 = 15;
/// At most this many tags per namespace or service.
pub const MAX_TAGS: usize = 50;
/// At most this many attributes per instance, and per service.
pub const MAX_ATTRIBUTES: usize = 30;

/// The reserved instance attributes.
pub const ATTR_IPV4: &str = "AWS_INSTANCE_IPV4";
pub const ATTR_IPV6: &str = "AWS_INSTANCE_IPV6";
pub const ATTR_PORT: &str = "AWS_INSTANCE_PORT";
pub const ATTR_CNAME: &str = "AWS_INSTANCE_CNAME";
pub const ATTR_ALIAS: &str = "AWS_ALIAS_DNS_NAME";
pub const ATTR_INIT_HEALTH: &str = "AWS_INIT_HEALTH_STATUS";
pub const ATTR_EC2_INSTANCE_ID: &str = "AWS_EC2_INSTANCE_ID";

/// `Namespace.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespaceType {
    #[serde(rename = "DNS_PUBLIC")]
    DnsPublic,
    #[serde(rename = "DNS_PRIVATE")]
    DnsPrivate,
    #[serde(rename = "HTTP")]
    Http,
}

impl NamespaceType {
    pub const ALL: [NamespaceType; 3] = [
        NamespaceType::DnsPublic,
        NamespaceType::DnsPrivate,
        NamespaceType::Http,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceType::DnsPublic => "DNS_PUBLIC",
            NamespaceType::DnsPrivate => "DNS_PRIVATE",
            NamespaceType::Http => "HTTP",
        }
    }

    pub fn parse(s: &str) -> Option<NamespaceType> {
        NamespaceType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether the namespace is served as a DNS zone.
    pub fn is_dns(self) -> bool {
        self != NamespaceType::Http
    }
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceRecord {
    /// `ns-` and 16 lower-case letters and digits.
    pub id: String,
    pub arn: String,
    pub region: String,
    /// As given (a DNS namespace's name without a trailing dot).
    pub name: String,
    pub namespace_type: NamespaceType,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub creator_request_id: Option<String>,
    /// A private DNS namespace's VPC, as given.
    #[serde(default)]
    pub vpc: Option<String>,
    /// DNS namespaces: the id shown as `DnsProperties.HostedZoneId` (no Route 53 hosted
    /// zone is made; the namespace itself is served as a zone).
    #[serde(default)]
    pub hosted_zone_id: Option<String>,
    /// DNS namespaces: the SOA record's TTL.
    #[serde(default)]
    pub soa_ttl: Option<u32>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
    /// The operation that created it (what a retried create with the same
    /// `CreatorRequestId` answers with).
    pub operation_id: String,
}

impl Record for NamespaceRecord {
    const KIND: &'static str = "servicediscovery-namespace";
    const VERSION: u32 = 1;
}

impl NamespaceRecord {
    /// The zone origin of a DNS namespace: lower case, trailing dot.
    pub fn origin(&self) -> String {
        format!("{}.", self.name.trim_end_matches('.').to_ascii_lowercase())
    }
}

/// `DnsConfig.RoutingPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoutingPolicy {
    #[serde(rename = "MULTIVALUE")]
    Multivalue,
    #[serde(rename = "WEIGHTED")]
    Weighted,
}

impl RoutingPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingPolicy::Multivalue => "MULTIVALUE",
            RoutingPolicy::Weighted => "WEIGHTED",
        }
    }

    pub fn parse(s: &str) -> Option<RoutingPolicy> {
        match s {
            "MULTIVALUE" => Some(RoutingPolicy::Multivalue),
            "WEIGHTED" => Some(RoutingPolicy::Weighted),
            _ => None,
        }
    }
}

/// One `DnsRecord`: a type (A, AAAA, SRV or CNAME) and its TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecordSpec {
    pub rtype: RecordType,
    pub ttl: u32,
}

/// A service's `DnsConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceDns {
    pub routing_policy: RoutingPolicy,
    pub records: Vec<DnsRecordSpec>,
}

impl ServiceDns {
    /// The TTL of the record of type `rtype`, if the service has one.
    pub fn ttl(&self, rtype: RecordType) -> Option<u32> {
        self.records
            .iter()
            .find(|r| r.rtype == rtype)
            .map(|r| r.ttl)
    }

    pub fn has(&self, rtype: RecordType) -> bool {
        self.ttl(rtype).is_some()
    }
}

/// `HealthCheckConfig.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthCheckType {
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
    #[serde(rename = "TCP")]
    Tcp,
}

impl HealthCheckType {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheckType::Http => "HTTP",
            HealthCheckType::Https => "HTTPS",
            HealthCheckType::Tcp => "TCP",
        }
    }

    pub fn parse(s: &str) -> Option<HealthCheckType> {
        match s {
            "HTTP" => Some(HealthCheckType::Http),
            "HTTPS" => Some(HealthCheckType::Https),
            "TCP" => Some(HealthCheckType::Tcp),
            _ => None,
        }
    }
}

/// A Route 53 health check's settings (`HealthCheckConfig`): stored and shown, not run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub check_type: HealthCheckType,
    #[serde(default)]
    pub resource_path: Option<String>,
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

/// A custom health check (`HealthCheckCustomConfig`): health comes from
/// UpdateInstanceCustomHealthStatus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomHealth {
    /// Deprecated by AWS; stored and shown.
    #[serde(default)]
    pub failure_threshold: Option<u32>,
}

/// `Service.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    /// Discoverable through DiscoverInstances only.
    #[serde(rename = "HTTP")]
    Http,
    /// Discoverable through DNS and DiscoverInstances.
    #[serde(rename = "DNS_HTTP")]
    DnsHttp,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Http => "HTTP",
            ServiceType::DnsHttp => "DNS_HTTP",
        }
    }
}

/// A Cloud Map service (named so as not to be taken for ECS's `ServiceRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryServiceRecord {
    /// `srv-` and 16 lower-case letters and digits.
    pub id: String,
    pub arn: String,
    pub region: String,
    pub name: String,
    pub namespace_id: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub creator_request_id: Option<String>,
    pub service_type: ServiceType,
    #[serde(default)]
    pub dns: Option<ServiceDns>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    /// `HealthCheckCustomConfig`: present when instances' health is set through
    /// UpdateInstanceCustomHealthStatus.
    #[serde(default)]
    pub custom_health: Option<CustomHealth>,
    /// Service attributes (UpdateServiceAttributes).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_at: DateTime<Utc>,
    /// Grows whenever an instance is registered, deregistered or changes health: what
    /// DiscoverInstancesRevision answers.
    #[serde(default)]
    pub instances_revision: i64,
}

impl Record for DiscoveryServiceRecord {
    const KIND: &'static str = "servicediscovery-service";
    const VERSION: u32 = 1;
}

impl DiscoveryServiceRecord {
    /// The longest TTL of the service's DNS records: how long a resolver may still answer
    /// with an instance after it is deregistered. `None` for a service without DNS.
    pub fn max_ttl(&self) -> Option<u32> {
        self.dns
            .as_ref()
            .and_then(|d| d.records.iter().map(|r| r.ttl).max())
    }

    /// Whether the service has a health check of either kind (DiscoverInstances' health
    /// filter applies only then).
    pub fn has_health_check(&self) -> bool {
        self.health_check.is_some() || self.custom_health.is_some()
    }
}

/// An instance's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HealthStatus {
    #[serde(rename = "HEALTHY")]
    Healthy,
    #[serde(rename = "UNHEALTHY")]
    Unhealthy,
}

impl HealthStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "HEALTHY",
            HealthStatus::Unhealthy => "UNHEALTHY",
        }
    }

    pub fn parse(s: &str) -> Option<HealthStatus> {
        match s {
            "HEALTHY" => Some(HealthStatus::Healthy),
            "UNHEALTHY" => Some(HealthStatus::Unhealthy),
            _ => None,
        }
    }
}

/// A registered instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub id: String,
    pub service_id: String,
    #[serde(default)]
    pub creator_request_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub health: HealthStatus,
    pub created_at: DateTime<Utc>,
    /// The RegisterInstance operation that wrote it.
    pub operation_id: String,
}

impl Record for InstanceRecord {
    const KIND: &'static str = "servicediscovery-instance";
    const VERSION: u32 = 1;
}

impl InstanceRecord {
    /// The health shown for an instance of `service`: UNKNOWN when the service has no
    /// health check.
    pub fn shown_health(&self, service: &DiscoveryServiceRecord) -> &'static str {
        if service.has_health_check() {
            self.health.as_str()
        } else {
            "UNKNOWN"
        }
    }
}

/// `Operation.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OperationType {
    #[serde(rename = "CREATE_NAMESPACE")]
    CreateNamespace,
    #[serde(rename = "DELETE_NAMESPACE")]
    DeleteNamespace,
    #[serde(rename = "UPDATE_NAMESPACE")]
    UpdateNamespace,
    #[serde(rename = "UPDATE_SERVICE")]
    UpdateService,
    #[serde(rename = "REGISTER_INSTANCE")]
    RegisterInstance,
    #[serde(rename = "DEREGISTER_INSTANCE")]
    DeregisterInstance,
}

impl OperationType {
    pub const ALL: [OperationType; 6] = [
        OperationType::CreateNamespace,
        OperationType::DeleteNamespace,
        OperationType::UpdateNamespace,
        OperationType::UpdateService,
        OperationType::RegisterInstance,
        OperationType::DeregisterInstance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationType::CreateNamespace => "CREATE_NAMESPACE",
            OperationType::DeleteNamespace => "DELETE_NAMESPACE",
            OperationType::UpdateNamespace => "UPDATE_NAMESPACE",
            OperationType::UpdateService => "UPDATE_SERVICE",
            OperationType::RegisterInstance => "REGISTER_INSTANCE",
            OperationType::DeregisterInstance => "DEREGISTER_INSTANCE",
        }
    }

    pub fn parse(s: &str) -> Option<OperationType> {
        OperationType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// `Operation.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    Submitted,
    Pending,
    Success,
    Fail,
}

impl OperationStatus {
    pub const ALL: [OperationStatus; 4] = [
        OperationStatus::Submitted,
        OperationStatus::Pending,
        OperationStatus::Success,
        OperationStatus::Fail,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OperationStatus::Submitted => "SUBMITTED",
            OperationStatus::Pending => "PENDING",
            OperationStatus::Success => "SUCCESS",
            OperationStatus::Fail => "FAIL",
        }
    }

    pub fn parse(s: &str) -> Option<OperationStatus> {
        OperationStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An operation, kept so GetOperation can answer for it. Its status is not stored: it is
/// SUCCESS once what it changed is served (see `flotilla_control::servicediscovery`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationRecord {
    pub id: String,
    pub operation_type: OperationType,
    /// `NAMESPACE`, `SERVICE`, `INSTANCE` → id.
    pub targets: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    /// Whether what it changed is served by the DNS server (an operation on an HTTP
    /// namespace or service is done when it is committed).
    pub dns: bool,
}

impl Record for OperationRecord {
    const KIND: &'static str = "servicediscovery-operation";
    const VERSION: u32 = 1;
}

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `len` lower-case letters and digits from `random` (taken as raw bits, 5 at a time).
fn lower_alnum(random: u128, len: usize) -> String {
    let mut r = random;
    (0..len)
        .map(|_| {
            let c = LOWER_ALNUM[(r % 32) as usize];
            r /= 32;
            char::from(c)
        })
        .collect()
}

/// A new namespace id: `ns-` and 16 lower-case letters and digits.
pub fn new_namespace_id(random: u128) -> String {
    format!("ns-{}", lower_alnum(random, 16))
}

/// A new service id: `srv-` and 16 lower-case letters and digits.
pub fn new_service_id(random: u128) -> String {
    format!("srv-{}", lower_alnum(random, 16))
}

/// A new operation id in Cloud Map's shape: 32 lower-case letters and digits, `-`, 8 more.
pub fn new_operation_id(a: u128, b: u128) -> String {
    format!(
        "{}-{}",
        lower_alnum(a, 25) + &lower_alnum(b, 7),
        lower_alnum(b >> 40, 8)
    )
}

/// The ARN of a namespace or service: `arn:aws:servicediscovery:REGION:ACCOUNT:KIND/ID`.
pub fn arn(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:servicediscovery:{region}:{account}:{kind}/{id}")
}

/// The id in an id-or-ARN member (`ns-...` or `arn:...:namespace/ns-...`), with the region
/// the ARN names, if it is one. `kind` is `namespace` or `service`.
pub fn id_of<'a>(id_or_arn: &'a str, kind: &str) -> Option<(&'a str, Option<&'a str>)> {
    if !id_or_arn.starts_with("arn:") {
        return Some((id_or_arn, None));
    }
    let mut parts = id_or_arn.splitn(6, ':');
    let (_, partition, service, region, _account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if partition.is_empty() || service != "servicediscovery" {
        return None;
    }
    let id = resource.strip_prefix(kind)?.strip_prefix('/')?;
    Some((id, Some(region)))
}
