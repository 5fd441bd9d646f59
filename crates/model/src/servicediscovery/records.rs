//! The DNS records a Cloud Map service answers with, as the DNS data plane takes them.
//!
//! Each instance of a service with a `DnsConfig` gives one record set per record type at
//! `SERVICE.NAMESPACE.`, told apart by the instance id: MULTIVALUE routing answers up to
//! eight healthy instances, WEIGHTED one at random (every weight is 1). An SRV record's
//! value is `1 1 PORT ID.SERVICE.NAMESPACE.`, and that target name gets the instance's
//! A/AAAA records. An unhealthy instance's sets are marked so; the data plane leaves them
//! out while a healthy one exists.

use std::net::IpAddr;

use super::rules::dns_label;
use super::{
    DiscoveryServiceRecord, HealthStatus, InstanceRecord, RoutingPolicy, ATTR_ALIAS, ATTR_CNAME,
    ATTR_IPV4, ATTR_IPV6, ATTR_PORT,
};
use crate::dns::{RecordPlane, RecordType, Routing};

/// The TTL of an alias to a load balancer (aliases have no TTL of their own).
pub const ALIAS_TTL: u32 = 60;

/// `SERVICE.NAMESPACE.` in lower case, for a namespace origin with its trailing dot.
pub fn service_dns_name(service: &str, origin: &str) -> String {
    format!("{}.{}", service.to_ascii_lowercase(), origin)
}

/// Every record set of `service`'s `instances` in the namespace whose zone origin is
/// `origin` (lower case, trailing dot). `alias` resolves an AWS_ALIAS_DNS_NAME to a load
/// balancer's address (`None`: the instance gives no record).
pub fn service_records(
    service: &DiscoveryServiceRecord,
    origin: &str,
    instances: &[InstanceRecord],
    alias: &dyn Fn(&str) -> Option<IpAddr>,
) -> Vec<RecordPlane> {
    let Some(dns) = &service.dns else {
        return Vec::new();
    };
    let name = service_dns_name(&service.name, origin);
    let mut out = Vec::new();
    for instance in instances {
        let routing = match dns.routing_policy {
            RoutingPolicy::Multivalue => Routing::MultiValue {
                set_identifier: instance.id.clone(),
            },
            RoutingPolicy::Weighted => Routing::Weighted {
                set_identifier: instance.id.clone(),
                weight: 1,
            },
        };
        let healthy = instance.health != HealthStatus::Unhealthy;
        let set = |name: &str, rtype: RecordType, ttl: u32, value: String, routing: &Routing| {
            RecordPlane {
                name: name.to_string(),
                rtype,
                ttl,
                values: vec![value],
                routing: routing.clone(),
                healthy,
            }
        };
        let attr = |k: &str| instance.attributes.get(k).cloned();
        if let Some(target) = attr(ATTR_ALIAS) {
            if let Some(address) = alias(&target) {
                let rtype = match address {
                    IpAddr::V4(_) => RecordType::A,
                    IpAddr::V6(_) => RecordType::Aaaa,
                };
                if dns.has(rtype) {
                    out.push(set(&name, rtype, ALIAS_TTL, address.to_string(), &routing));
                }
            }
            continue;
        }
        let ipv4 = attr(ATTR_IPV4);
        let ipv6 = attr(ATTR_IPV6);
        for spec in &dns.records {
            match spec.rtype {
                RecordType::A => {
                    if let Some(v) = &ipv4 {
                        out.push(set(&name, RecordType::A, spec.ttl, v.clone(), &routing));
                    }
                }
                RecordType::Aaaa => {
                    if let Some(v) = &ipv6 {
                        out.push(set(&name, RecordType::Aaaa, spec.ttl, v.clone(), &routing));
                    }
                }
                RecordType::Cname => {
                    if let Some(v) = attr(ATTR_CNAME) {
                        out.push(set(&name, RecordType::Cname, spec.ttl, v, &routing));
                    }
                }
                RecordType::Srv => {
                    let Some(port) = attr(ATTR_PORT) else {
                        continue;
                    };
                    let host = format!("{}.{name}", dns_label(&instance.id));
                    out.push(set(
                        &name,
                        RecordType::Srv,
                        spec.ttl,
                        format!("1 1 {port} {host}"),
                        &routing,
                    ));
                    // The target's addresses: one name per instance, but two instance ids
                    // may map to one label, so these sets are told apart too.
                    let host_routing = Routing::MultiValue {
                        set_identifier: instance.id.clone(),
                    };
                    if let Some(v) = &ipv4 {
                        let ttl = dns.ttl(RecordType::A).unwrap_or(spec.ttl);
                        out.push(set(&host, RecordType::A, ttl, v.clone(), &host_routing));
                    }
                    if let Some(v) = &ipv6 {
                        let ttl = dns.ttl(RecordType::Aaaa).unwrap_or(spec.ttl);
                        out.push(set(&host, RecordType::Aaaa, ttl, v.clone(), &host_routing));
                    }
                }
                _ => {}
            }
        }
    }
    out
}
