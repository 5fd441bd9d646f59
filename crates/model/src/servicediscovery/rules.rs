//! Cloud Map's rules that need no I/O: the bounds and patterns of names, ids and
//! attributes (botocore's model of `servicediscovery`), which DNS record types a service
//! may combine with which routing policy, what attributes an instance of a service must
//! carry, its first health, and how DiscoverInstances filters instances.
//!
//! Every check returns a message that names the member and says what to fix; the control
//! plane sends it as `InvalidInput`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    DiscoveryServiceRecord, DnsRecordSpec, HealthCheck, HealthCheckType, HealthStatus,
    InstanceRecord, NamespaceType, RoutingPolicy, ServiceDns, ATTR_ALIAS, ATTR_CNAME,
    ATTR_EC2_INSTANCE_ID, ATTR_INIT_HEALTH, ATTR_IPV4, ATTR_IPV6, ATTR_PORT, MAX_ATTRIBUTES,
};
use crate::dns::RecordType;

/// A string member of at most `max` characters.
pub fn max_len(member: &str, value: &str, max: usize) -> Result<(), String> {
    let n = value.chars().count();
    if n > max {
        return Err(format!(
            "{member} must be at most {max} characters long; it has {n}."
        ));
    }
    Ok(())
}

/// A string member of 1 to `max` characters.
pub fn len_between(member: &str, value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{member} must not be empty."));
    }
    max_len(member, value, max)
}

fn printable(c: char) -> bool {
    ('!'..='~').contains(&c)
}

fn dns_label_ok(label: &str) -> bool {
    let b = label.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// A namespace's name, by its type: HTTP names are 1 to 1024 printable characters, DNS
/// names at most 253 and made of DNS labels (public ones of letters, digits and hyphens
/// only, with at least two labels); none may start with `arn:`.
pub fn namespace_name(namespace_type: NamespaceType, name: &str) -> Result<(), String> {
    let max = match namespace_type {
        NamespaceType::Http => 1024,
        _ => 253,
    };
    len_between("Name", name, max)?;
    if name.starts_with("arn:") || !name.chars().all(printable) {
        return Err(format!(
            "Name '{name}' must be printable ASCII without spaces and must not start with 'arn:'."
        ));
    }
    match namespace_type {
        NamespaceType::Http => Ok(()),
        NamespaceType::DnsPrivate => {
            let trimmed = name.strip_suffix('.').unwrap_or(name);
            let ok = !trimmed.is_empty()
                && trimmed.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
                });
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "Name '{name}' is not a valid domain name: use labels of 1 to 63 letters, \
                     digits, hyphens and underscores separated by dots."
                ))
            }
        }
        NamespaceType::DnsPublic => {
            let labels: Vec<&str> = name.split('.').collect();
            if labels.len() >= 2 && labels.iter().all(|l| dns_label_ok(l)) {
                Ok(())
            } else {
                Err(format!(
                    "Name '{name}' is not a valid public domain name: use at least two labels of \
                     letters, digits and hyphens (not at either end) separated by dots, with no \
                     trailing dot."
                ))
            }
        }
    }
}

/// A service's name: 1 to 127 characters of dot-separated labels, each 1 to 63 letters,
/// digits, hyphens and underscores, not starting or ending with a hyphen.
pub fn service_name(name: &str) -> Result<(), String> {
    if name == "." {
        return Ok(());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        match b.len() {
            0 => false,
            1 => b[0].is_ascii_alphanumeric(),
            n if n <= 63 => {
                b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
                    && b[0] != b'-'
                    && b[n - 1] != b'-'
            }
            _ => false,
        }
    };
    if name.is_empty() || name.len() > 127 || !name.split('.').all(label_ok) {
        return Err(format!(
            "Name '{name}' is not a valid service name: use 1 to 127 characters of \
             dot-separated labels made of letters, digits, '-' and '_' (not starting or \
             ending with '-')."
        ));
    }
    Ok(())
}

/// An instance id: 1 to 64 letters, digits and `_/:.@-`.
pub fn instance_id(id: &str) -> Result<(), String> {
    len_between("InstanceId", id, 64)?;
    if !id
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"_/:.@-".contains(&c))
    {
        return Err(format!(
            "InstanceId '{id}' may hold only letters, digits and the characters _ / : . @ -"
        ));
    }
    Ok(())
}

/// A TTL: 0 to 2147483647 seconds.
pub fn ttl(member: &str, value: i64) -> Result<u32, String> {
    if (0..=2_147_483_647).contains(&value) {
        Ok(value as u32)
    } else {
        Err(format!(
            "{member} must be between 0 and 2147483647 seconds; got {value}."
        ))
    }
}

/// An attribute key: 1 to 255 printable characters.
pub fn attribute_key(key: &str) -> Result<(), String> {
    len_between("An attribute key", key, 255)?;
    if !key.chars().all(printable) {
        return Err(format!(
            "Attribute key '{key}' may hold only printable ASCII characters without spaces."
        ));
    }
    Ok(())
}

/// An attribute value: at most 1024 printable characters; spaces and tabs only inside.
pub fn attribute_value(key: &str, value: &str) -> Result<(), String> {
    max_len(&format!("The value of attribute {key}"), value, 1024)?;
    let inner_ok = value.chars().all(|c| printable(c) || c == ' ' || c == '\t');
    let ends_ok = !value.starts_with([' ', '\t']) && !value.ends_with([' ', '\t']);
    if !(inner_ok && ends_ok) {
        return Err(format!(
            "The value of attribute {key} may hold only printable ASCII characters, with \
             spaces and tabs only between other characters."
        ));
    }
    Ok(())
}

/// A map of attributes (instance attributes, DiscoverInstances' parameters).
pub fn attributes(attrs: &BTreeMap<String, String>) -> Result<(), String> {
    for (k, v) in attrs {
        attribute_key(k)?;
        attribute_value(k, v)?;
    }
    Ok(())
}

/// Tags: keys of 1 to 128 characters, values of at most 256.
pub fn tags(tags: &[(String, String)]) -> Result<(), String> {
    for (k, v) in tags {
        len_between("A tag key", k, 128)?;
        max_len(&format!("The value of tag {k}"), v, 256)?;
    }
    Ok(())
}

/// A service's DNS configuration: at least one record; A, AAAA and SRV may be combined
/// (each type once); CNAME stands alone and only with WEIGHTED routing.
pub fn dns_config(
    routing_policy: RoutingPolicy,
    records: &[DnsRecordSpec],
) -> Result<ServiceDns, String> {
    if records.is_empty() {
        return Err("DnsConfig.DnsRecords must hold at least one record.".into());
    }
    let mut seen = Vec::new();
    for r in records {
        if !matches!(
            r.rtype,
            RecordType::A | RecordType::Aaaa | RecordType::Srv | RecordType::Cname
        ) {
            return Err(format!(
                "DnsRecords Type {} is not supported: use A, AAAA, SRV or CNAME.",
                r.rtype.as_str()
            ));
        }
        if seen.contains(&r.rtype) {
            return Err(format!(
                "DnsRecords holds Type {} more than once.",
                r.rtype.as_str()
            ));
        }
        seen.push(r.rtype);
    }
    if seen.contains(&RecordType::Cname) {
        if seen.len() > 1 {
            return Err(
                "A CNAME record cannot be combined with other record types in DnsRecords.".into(),
            );
        }
        if routing_policy != RoutingPolicy::Weighted {
            return Err("A CNAME record needs RoutingPolicy WEIGHTED.".into());
        }
    }
    Ok(ServiceDns {
        routing_policy,
        records: records.to_vec(),
    })
}

/// A Route 53 health check's settings: a ResourcePath only for HTTP and HTTPS (at most
/// 255 characters), a FailureThreshold of 1 to 10.
pub fn health_check(
    check_type: HealthCheckType,
    resource_path: Option<&str>,
    failure_threshold: Option<i64>,
) -> Result<HealthCheck, String> {
    if let Some(p) = resource_path {
        if check_type == HealthCheckType::Tcp {
            return Err("HealthCheckConfig.ResourcePath must not be given for a TCP check.".into());
        }
        max_len("HealthCheckConfig.ResourcePath", p, 255)?;
    }
    let failure_threshold = failure_threshold
        .map(|t| self::failure_threshold("HealthCheckConfig.FailureThreshold", t))
        .transpose()?;
    Ok(HealthCheck {
        check_type,
        resource_path: resource_path.map(str::to_string),
        failure_threshold,
    })
}

/// A failure threshold: 1 to 10.
pub fn failure_threshold(member: &str, value: i64) -> Result<u32, String> {
    if (1..=10).contains(&value) {
        Ok(value as u32)
    } else {
        Err(format!("{member} must be between 1 and 10; got {value}."))
    }
}

/// Whether `value` is a domain name a CNAME may point at.
fn domain_name(value: &str) -> bool {
    let trimmed = value.strip_suffix('.').unwrap_or(value);
    !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

/// The attributes of an instance of `service` (in a namespace of `namespace_type`): the
/// bounds of every attribute, and what the service's DNS records need (an A record
/// AWS_INSTANCE_IPV4, AAAA AWS_INSTANCE_IPV6, SRV AWS_INSTANCE_PORT and an address, CNAME
/// AWS_INSTANCE_CNAME), or an alias to a load balancer in their stead.
pub fn instance_attributes(
    service: &DiscoveryServiceRecord,
    namespace_type: NamespaceType,
    attrs: &BTreeMap<String, String>,
) -> Result<(), String> {
    if attrs.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "An instance may have at most {MAX_ATTRIBUTES} attributes; got {}.",
            attrs.len()
        ));
    }
    attributes(attrs)?;
    let get = |k: &str| attrs.get(k).map(String::as_str);
    let ipv4 = get(ATTR_IPV4);
    let ipv6 = get(ATTR_IPV6);
    if let Some(v) = ipv4 {
        v.parse::<Ipv4Addr>()
            .map_err(|_| format!("{ATTR_IPV4} '{v}' is not an IPv4 address."))?;
    }
    if let Some(v) = ipv6 {
        v.parse::<Ipv6Addr>()
            .map_err(|_| format!("{ATTR_IPV6} '{v}' is not an IPv6 address."))?;
    }
    if let Some(v) = get(ATTR_PORT) {
        match v.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => {}
            _ => {
                return Err(format!(
                    "{ATTR_PORT} '{v}' is not a port: use a number from 1 to 65535."
                ))
            }
        }
    }
    if let Some(v) = get(ATTR_CNAME) {
        if !domain_name(v) {
            return Err(format!("{ATTR_CNAME} '{v}' is not a domain name."));
        }
    }
    if let Some(v) = get(ATTR_INIT_HEALTH) {
        if HealthStatus::parse(v).is_none() {
            return Err(format!(
                "{ATTR_INIT_HEALTH} '{v}' must be HEALTHY or UNHEALTHY."
            ));
        }
    }
    if attrs.contains_key(ATTR_EC2_INSTANCE_ID) {
        if namespace_type != NamespaceType::Http {
            return Err(format!(
                "{ATTR_EC2_INSTANCE_ID} may be given only for instances in HTTP namespaces."
            ));
        }
        if let Some(other) = attrs
            .keys()
            .find(|k| *k != ATTR_EC2_INSTANCE_ID && *k != ATTR_INIT_HEALTH)
        {
            return Err(format!(
                "With {ATTR_EC2_INSTANCE_ID}, the only other attribute allowed is \
                 {ATTR_INIT_HEALTH}; remove {other}."
            ));
        }
    }
    let Some(dns) = service.dns.as_ref() else {
        return Ok(());
    };
    if let Some(alias) = get(ATTR_ALIAS) {
        if !domain_name(alias) {
            return Err(format!("{ATTR_ALIAS} '{alias}' is not a domain name."));
        }
        if dns.routing_policy != RoutingPolicy::Weighted {
            return Err(format!(
                "{ATTR_ALIAS} needs a service whose RoutingPolicy is WEIGHTED."
            ));
        }
        if !(dns.has(RecordType::A) || dns.has(RecordType::Aaaa)) || dns.has(RecordType::Srv) {
            return Err(format!(
                "{ATTR_ALIAS} needs a service with A or AAAA records (and no SRV record)."
            ));
        }
        if let Some(k) = [ATTR_IPV4, ATTR_IPV6, ATTR_PORT, ATTR_CNAME]
            .into_iter()
            .find(|k| attrs.contains_key(*k))
        {
            return Err(format!(
                "{ATTR_ALIAS} cannot be combined with the AWS_INSTANCE attributes; remove {k}."
            ));
        }
        return Ok(());
    }
    let need = |rtype: RecordType, attr: &str| {
        if dns.has(rtype) && !attrs.contains_key(attr) {
            Err(format!(
                "The service has a {} record, so the instance needs the attribute {attr}.",
                rtype.as_str()
            ))
        } else {
            Ok(())
        }
    };
    need(RecordType::A, ATTR_IPV4)?;
    need(RecordType::Aaaa, ATTR_IPV6)?;
    need(RecordType::Cname, ATTR_CNAME)?;
    need(RecordType::Srv, ATTR_PORT)?;
    if dns.has(RecordType::Srv) && ipv4.is_none() && ipv6.is_none() {
        return Err(format!(
            "The service has an SRV record, so the instance needs {ATTR_IPV4}, {ATTR_IPV6} or \
             both."
        ));
    }
    Ok(())
}

/// An instance's health when it is registered: AWS_INIT_HEALTH_STATUS for a service with
/// a custom health check, HEALTHY otherwise.
pub fn initial_health(
    service: &DiscoveryServiceRecord,
    attrs: &BTreeMap<String, String>,
) -> HealthStatus {
    if service.custom_health.is_some() {
        if let Some(h) = attrs
            .get(ATTR_INIT_HEALTH)
            .and_then(|v| HealthStatus::parse(v))
        {
            return h;
        }
    }
    HealthStatus::Healthy
}

/// An instance id as the first label of an SRV target (`ID.SERVICE.NAMESPACE.`): lower
/// case, characters other than letters, digits, `-` and `_` as `-`, at most 63 characters.
pub fn dns_label(instance_id: &str) -> String {
    instance_id
        .chars()
        .take(63)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// DiscoverInstances' `HealthStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthFilter {
    Healthy,
    Unhealthy,
    All,
    HealthyOrElseAll,
}

impl HealthFilter {
    pub fn parse(s: &str) -> Option<HealthFilter> {
        match s {
            "HEALTHY" => Some(HealthFilter::Healthy),
            "UNHEALTHY" => Some(HealthFilter::Unhealthy),
            "ALL" => Some(HealthFilter::All),
            "HEALTHY_OR_ELSE_ALL" => Some(HealthFilter::HealthyOrElseAll),
            _ => None,
        }
    }
}

/// What DiscoverInstances answers from a service's instances: those whose attributes hold
/// every query parameter; among them, those that also hold every optional parameter if
/// there are any; then the health filter (only for a service with a health check; a
/// service without one answers all). At most `max` instances.
pub fn discover<'a>(
    service: &DiscoveryServiceRecord,
    instances: &'a [InstanceRecord],
    query: &BTreeMap<String, String>,
    optional: &BTreeMap<String, String>,
    health: HealthFilter,
    max: usize,
) -> Vec<&'a InstanceRecord> {
    let holds = |i: &InstanceRecord, params: &BTreeMap<String, String>| {
        params.iter().all(|(k, v)| i.attributes.get(k) == Some(v))
    };
    let mut found: Vec<&InstanceRecord> = instances.iter().filter(|i| holds(i, query)).collect();
    if !optional.is_empty() {
        let preferred: Vec<&InstanceRecord> = found
            .iter()
            .copied()
            .filter(|i| holds(i, optional))
            .collect();
        if !preferred.is_empty() {
            found = preferred;
        }
    }
    if service.has_health_check() {
        let healthy = |i: &&InstanceRecord| i.health == HealthStatus::Healthy;
        found = match health {
            HealthFilter::All => found,
            HealthFilter::Healthy => found.into_iter().filter(healthy).collect(),
            HealthFilter::Unhealthy => found.into_iter().filter(|i| !healthy(i)).collect(),
            HealthFilter::HealthyOrElseAll => {
                if found.iter().any(healthy) {
                    found.into_iter().filter(healthy).collect()
                } else {
                    found
                }
            }
        };
    }
    found.truncate(max);
    found
}
