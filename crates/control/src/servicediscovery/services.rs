//! Services: create (with `CreatorRequestId` idempotency), get, list, update (description,
//! DNS record TTLs, Route 53 health check settings), delete once it has no instances, and
//! service attributes.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_model::record::encode;
use flotilla_model::servicediscovery::{
    arn, id_of, new_service_id, rules, CustomHealth, DiscoveryServiceRecord, DnsRecordSpec,
    HealthCheck, NamespaceType, OperationRecord, OperationType, ServiceDns, ServiceType,
    MAX_ATTRIBUTES,
};
use flotilla_store::{Compare, Op, Txn};

use super::{
    check, check_tags, contended, invalid, namespaces, new_operation, random, Result,
    ServiceDiscoveryError, ATTEMPTS,
};
use crate::{keys, Entry, State};

/// What CreateService is given (already read from the wire, DnsConfig checked by
/// `rules::dns_config`).
#[derive(Debug, Clone)]
pub struct NewService {
    pub name: String,
    pub namespace_id: String,
    pub description: Option<String>,
    pub creator_request_id: Option<String>,
    pub dns: Option<ServiceDns>,
    pub health_check: Option<HealthCheck>,
    /// `HealthCheckCustomConfig`.
    pub custom_health: Option<CustomHealth>,
    /// `Type: HTTP`: discoverable through DiscoverInstances only.
    pub http_only: bool,
    pub tags: Vec<(String, String)>,
}

/// Whether two service names are the same in a namespace of `namespace_type` (DNS names
/// ignore case).
fn same_name(namespace_type: NamespaceType, a: &str, b: &str) -> bool {
    if namespace_type.is_dns() {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// Create a service; a retry with the same `CreatorRequestId` and name answers with the
/// service the first request made.
pub async fn create(
    state: &State,
    region: &str,
    new: NewService,
) -> Result<DiscoveryServiceRecord> {
    check(rules::service_name(&new.name))?;
    if let Some(d) = &new.description {
        check(rules::max_len("Description", d, 1024))?;
    }
    if let Some(c) = &new.creator_request_id {
        check(rules::max_len("CreatorRequestId", c, 64))?;
    }
    check_tags(&new.name, &new.tags)?;
    if new.health_check.is_some() && new.custom_health.is_some() {
        return Err(invalid(
            "Give HealthCheckConfig or HealthCheckCustomConfig, not both.",
        ));
    }
    if new.http_only && new.dns.is_some() {
        return Err(invalid("A service of Type HTTP cannot have a DnsConfig."));
    }
    if let Some(dns) = &new.dns {
        if new.health_check.is_some() && dns.has(flotilla_model::dns::RecordType::Cname) {
            return Err(invalid(
                "A service with a CNAME record cannot have a HealthCheckConfig.",
            ));
        }
    }
    for _ in 0..ATTEMPTS {
        let ns_entry = namespaces::get(state, region, &new.namespace_id)?;
        let ns = &ns_entry.value;
        if new.dns.is_some() && !ns.namespace_type.is_dns() {
            return Err(invalid(format!(
                "Namespace {} is an HTTP namespace: a service in it cannot have a DnsConfig.",
                ns.id
            )));
        }
        if new.health_check.is_some() && ns.namespace_type != NamespaceType::DnsPublic {
            return Err(invalid(
                "HealthCheckConfig is for services in public DNS namespaces; use \
                 HealthCheckCustomConfig in other namespaces.",
            ));
        }
        let existing = super::services_in(state, ns);
        if let Some(s) = existing
            .iter()
            .find(|s| same_name(ns.namespace_type, &s.name, &new.name))
        {
            if new.creator_request_id.is_some() && s.creator_request_id == new.creator_request_id {
                return Ok((**s).clone());
            }
            return Err(ServiceDiscoveryError::ServiceAlreadyExists {
                message: format!(
                    "Service {} already exists in namespace {} with ID {}.",
                    s.name, ns.id, s.id
                ),
                service_id: s.id.clone(),
                service_arn: s.arn.clone(),
                creator_request_id: s.creator_request_id.clone(),
            });
        }
        let id = new_service_id(random());
        let record = DiscoveryServiceRecord {
            arn: arn(region, state.account(), "service", &id),
            id,
            region: region.to_string(),
            name: new.name.clone(),
            namespace_id: ns.id.clone(),
            description: new.description.clone(),
            creator_request_id: new.creator_request_id.clone(),
            service_type: if new.dns.is_some() {
                ServiceType::DnsHttp
            } else {
                ServiceType::Http
            },
            dns: new.dns.clone(),
            health_check: new.health_check.clone(),
            custom_health: new.custom_health,
            attributes: BTreeMap::new(),
            tags: new.tags.clone(),
            created_at: state.clock().now(),
            instances_revision: 1,
        };
        let ns_key = keys::sd_namespace(region, &ns.id);
        let key = keys::sd_service(region, &record.id);
        // Rewriting the namespace serialises creations in it and makes a DeleteNamespace
        // that did not see this service fail its compare.
        let txn = Txn {
            compares: vec![
                Compare::unchanged(ns_key.clone(), ns_entry.mod_revision),
                Compare::absent(key.clone()),
            ],
            success: vec![
                Op::put(ns_key, encode(&**ns)),
                Op::put(key, encode(&record)),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(record);
        }
    }
    Err(contended("namespace"))
}

/// The service an id or ARN names in `region`.
pub fn get(state: &State, region: &str, id_or_arn: &str) -> Result<Entry<DiscoveryServiceRecord>> {
    check(rules::len_between("ServiceId", id_or_arn, 255))?;
    let not_found =
        || ServiceDiscoveryError::ServiceNotFound(format!("No service found with ID {id_or_arn}."));
    let (id, arn_region) = id_of(id_or_arn, "service").ok_or_else(not_found)?;
    if arn_region.is_some_and(|r| r != region) {
        return Err(not_found());
    }
    state
        .servicediscovery()
        .services
        .get(keys::sd_service(region, id).as_bytes())
        .ok_or_else(not_found)
}

/// Every service of a region, by id.
pub fn list(state: &State, region: &str) -> Vec<Arc<DiscoveryServiceRecord>> {
    state
        .servicediscovery()
        .services
        .range(keys::sd_services(region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The service named `name` in a namespace.
pub fn by_name(
    state: &State,
    namespace: &flotilla_model::servicediscovery::NamespaceRecord,
    name: &str,
) -> Option<Arc<DiscoveryServiceRecord>> {
    super::services_in(state, namespace)
        .into_iter()
        .find(|s| same_name(namespace.namespace_type, &s.name, name))
}

/// How many instances a service has.
pub fn instance_count(state: &State, service: &DiscoveryServiceRecord) -> usize {
    state
        .servicediscovery()
        .instances
        .count_prefix(keys::sd_instances_of(&service.region, &service.id).as_bytes())
}

/// What UpdateService changes.
#[derive(Debug, Clone, Default)]
pub struct ServiceChange {
    pub description: Option<String>,
    /// New TTLs for the service's record types (the types themselves cannot change).
    pub dns_records: Option<Vec<DnsRecordSpec>>,
    pub health_check: Option<HealthCheck>,
}

/// Update a service's description, record TTLs or health check settings.
pub async fn update(
    state: &State,
    region: &str,
    id: &str,
    change: ServiceChange,
) -> Result<OperationRecord> {
    if let Some(d) = &change.description {
        check(rules::max_len("Service.Description", d, 1024))?;
    }
    for _ in 0..ATTEMPTS {
        let entry = get(state, region, id)?;
        let mut s = (*entry.value).clone();
        if let Some(d) = &change.description {
            s.description = Some(d.clone());
        }
        if let Some(records) = &change.dns_records {
            let Some(dns) = &s.dns else {
                return Err(invalid(format!(
                    "Service {} has no DnsConfig to change.",
                    s.id
                )));
            };
            let updated = check(rules::dns_config(dns.routing_policy, records))?;
            let mut had: Vec<_> = dns.records.iter().map(|r| r.rtype).collect();
            let mut want: Vec<_> = updated.records.iter().map(|r| r.rtype).collect();
            had.sort();
            want.sort();
            if had != want {
                return Err(invalid(format!(
                    "Service {} has records of types {}; UpdateService may change their TTLs \
                     but not their types.",
                    s.id,
                    had.iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            s.dns = Some(updated);
        }
        if let Some(hc) = &change.health_check {
            if s.custom_health.is_some() {
                return Err(invalid(format!(
                    "Service {} has a custom health check; it cannot get a HealthCheckConfig.",
                    s.id
                )));
            }
            if s.health_check.is_none() {
                return Err(invalid(format!(
                    "Service {} was created without a HealthCheckConfig; one cannot be added.",
                    s.id
                )));
            }
            s.health_check = Some(hc.clone());
        }
        let (op, op_put) = new_operation(
            state,
            region,
            OperationType::UpdateService,
            &[("SERVICE", &s.id)],
            s.dns.is_some(),
        );
        let key = keys::sd_service(region, &s.id);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::put(key, encode(&s)), op_put],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(op);
        }
    }
    Err(contended("service"))
}

/// Delete a service that has no instances.
pub async fn delete(state: &State, region: &str, id: &str) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, region, id)?;
        let s = &entry.value;
        let count = instance_count(state, s);
        if count > 0 {
            return Err(ServiceDiscoveryError::ResourceInUse(format!(
                "Service {} still has {count} registered instance(s); deregister them first.",
                s.id
            )));
        }
        let key = keys::sd_service(region, &s.id);
        // Registering an instance rewrites the service, so one registered meanwhile fails
        // this compare.
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key)],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(contended("service"))
}

/// Add or replace service attributes (at most 30 in all).
pub async fn update_attributes(
    state: &State,
    region: &str,
    id: &str,
    attributes: BTreeMap<String, String>,
) -> Result<()> {
    if attributes.is_empty() {
        return Err(invalid("Attributes must hold at least one attribute."));
    }
    for (k, v) in &attributes {
        check(rules::len_between("A service attribute key", k, 255))?;
        check(rules::max_len(
            &format!("The value of service attribute {k}"),
            v,
            1024,
        ))?;
    }
    change_attributes(state, region, id, |a| {
        a.extend(attributes.clone());
        if a.len() > MAX_ATTRIBUTES {
            return Err(ServiceDiscoveryError::ServiceAttributesLimitExceeded(
                format!(
                    "A service may have at most {MAX_ATTRIBUTES} attributes; this would make {}.",
                    a.len()
                ),
            ));
        }
        Ok(())
    })
    .await
}

/// Remove service attributes by key.
pub async fn delete_attributes(
    state: &State,
    region: &str,
    id: &str,
    names: Vec<String>,
) -> Result<()> {
    if names.is_empty() || names.len() > MAX_ATTRIBUTES {
        return Err(invalid("Attributes must hold 1 to 30 attribute keys."));
    }
    for k in &names {
        check(rules::max_len("A service attribute key", k, 255))?;
    }
    change_attributes(state, region, id, |a| {
        for k in &names {
            a.remove(k);
        }
        Ok(())
    })
    .await
}

async fn change_attributes(
    state: &State,
    region: &str,
    id: &str,
    change: impl Fn(&mut BTreeMap<String, String>) -> Result<()>,
) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, region, id)?;
        let mut s = (*entry.value).clone();
        change(&mut s.attributes)?;
        let key = keys::sd_service(region, &s.id);
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&s))
            .await?
        {
            return Ok(());
        }
    }
    Err(contended("service"))
}
