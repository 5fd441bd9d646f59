//! Namespaces: create (HTTP, private DNS, public DNS) with `CreatorRequestId`
//! idempotency, get, list, update (description, SOA TTL) and delete once empty.
//!
//! Names are unique within a region whatever the type (DiscoverInstances finds a
//! namespace by name), compared without case and trailing dot.

use std::sync::Arc;

use flotilla_model::record::encode;
use flotilla_model::route53::new_id;
use flotilla_model::servicediscovery::{
    arn, id_of, new_namespace_id, rules, NamespaceRecord, NamespaceType, OperationRecord,
    OperationType, DEFAULT_SOA_TTL,
};
use flotilla_store::{Compare, Op, Txn};

use super::{
    check, check_tags, contended, invalid, new_operation, operation_record, random, Result,
    ServiceDiscoveryError, ATTEMPTS,
};
use crate::{keys, Entry, State};

/// At most this many namespaces per region (Cloud Map's default quota).
pub const MAX_NAMESPACES: usize = 50;

/// What CreateHttpNamespace, CreatePrivateDnsNamespace and CreatePublicDnsNamespace are
/// given.
#[derive(Debug, Clone)]
pub struct NewNamespace {
    pub name: String,
    pub namespace_type: NamespaceType,
    pub description: Option<String>,
    pub creator_request_id: Option<String>,
    /// Private DNS namespaces: required.
    pub vpc: Option<String>,
    /// DNS namespaces: the SOA TTL (15 seconds when not given).
    pub soa_ttl: Option<u32>,
    pub tags: Vec<(String, String)>,
}

/// How two namespace names compare.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.')
        .eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// Create a namespace; a retry with the same `CreatorRequestId` answers with the first
/// request's operation.
pub async fn create(state: &State, region: &str, new: NewNamespace) -> Result<OperationRecord> {
    check(rules::namespace_name(new.namespace_type, &new.name))?;
    if let Some(d) = &new.description {
        check(rules::max_len("Description", d, 1024))?;
    }
    if let Some(c) = &new.creator_request_id {
        check(rules::max_len("CreatorRequestId", c, 64))?;
    }
    match (&new.vpc, new.namespace_type) {
        (None, NamespaceType::DnsPrivate) => {
            return Err(invalid("Vpc is required for a private DNS namespace."))
        }
        (Some(v), NamespaceType::DnsPrivate) => check(rules::len_between("Vpc", v, 64))?,
        (Some(_), _) => return Err(invalid("Vpc may be given for private DNS namespaces only.")),
        (None, _) => {}
    }
    if new.soa_ttl.is_some() && !new.namespace_type.is_dns() {
        return Err(invalid("An HTTP namespace has no SOA record."));
    }
    check_tags(&new.name, &new.tags)?;
    let views = state.servicediscovery();
    for _ in 0..ATTEMPTS {
        let existing = views
            .namespaces
            .range(keys::sd_namespaces(region).as_bytes());
        if let Some(c) = &new.creator_request_id {
            if let Some((_, e)) = existing
                .iter()
                .find(|(_, e)| e.value.creator_request_id.as_ref() == Some(c))
            {
                let ns = &e.value;
                let same = ns.name == new.name && ns.namespace_type == new.namespace_type;
                match (same, operation_record(state, region, &ns.operation_id)) {
                    (true, Some(op)) => return Ok(op),
                    _ => {
                        return Err(ServiceDiscoveryError::DuplicateRequest {
                            message: format!(
                                "CreatorRequestId {c} was already used to create namespace {} \
                                 ({}); use another CreatorRequestId for another request.",
                                ns.name, ns.id
                            ),
                            operation_id: ns.operation_id.clone(),
                        })
                    }
                }
            }
        }
        if let Some((_, e)) = existing
            .iter()
            .find(|(_, e)| same_name(&e.value.name, &new.name))
        {
            return Err(ServiceDiscoveryError::NamespaceAlreadyExists {
                message: format!(
                    "Namespace {} already exists in {region} with ID {}.",
                    e.value.name, e.value.id
                ),
                namespace_id: e.value.id.clone(),
                creator_request_id: e.value.creator_request_id.clone(),
            });
        }
        if existing.len() >= MAX_NAMESPACES {
            return Err(ServiceDiscoveryError::ResourceLimitExceeded(format!(
                "This account has {MAX_NAMESPACES} namespaces in {region}, the most it may have."
            )));
        }
        let id = new_namespace_id(random());
        let dns = new.namespace_type.is_dns();
        let (op, op_put) = new_operation(
            state,
            region,
            OperationType::CreateNamespace,
            &[("NAMESPACE", &id)],
            dns,
        );
        let record = NamespaceRecord {
            arn: arn(region, state.account(), "namespace", &id),
            id,
            region: region.to_string(),
            name: new.name.clone(),
            namespace_type: new.namespace_type,
            description: new.description.clone(),
            creator_request_id: new.creator_request_id.clone(),
            vpc: new.vpc.clone(),
            hosted_zone_id: dns.then(|| new_id('Z', random())),
            soa_ttl: dns.then(|| new.soa_ttl.unwrap_or(DEFAULT_SOA_TTL)),
            tags: new.tags.clone(),
            created_at: op.created_at,
            operation_id: op.id.clone(),
        };
        let key = keys::sd_namespace(region, &record.id);
        let mut compares = vec![Compare::absent(key.clone())];
        // Names and request ids are unique: a namespace made meanwhile fails the compare.
        compares.extend(
            existing
                .iter()
                .map(|(k, e)| Compare::unchanged(k.to_vec(), e.mod_revision)),
        );
        let txn = Txn {
            compares,
            success: vec![Op::put(key, encode(&record)), op_put],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(op);
        }
    }
    Err(contended("namespaces"))
}

/// The namespace an id or ARN names in `region`.
pub fn get(state: &State, region: &str, id_or_arn: &str) -> Result<Entry<NamespaceRecord>> {
    check(rules::len_between("Id", id_or_arn, 255))?;
    let not_found = || {
        ServiceDiscoveryError::NamespaceNotFound(format!("No namespace found with ID {id_or_arn}."))
    };
    let (id, arn_region) = id_of(id_or_arn, "namespace").ok_or_else(not_found)?;
    if arn_region.is_some_and(|r| r != region) {
        return Err(not_found());
    }
    state
        .servicediscovery()
        .namespaces
        .get(keys::sd_namespace(region, id).as_bytes())
        .ok_or_else(not_found)
}

/// Every namespace of a region, by id.
pub fn list(state: &State, region: &str) -> Vec<Arc<NamespaceRecord>> {
    state
        .servicediscovery()
        .namespaces
        .range(keys::sd_namespaces(region).as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .collect()
}

/// The namespace named `name` in a region (DiscoverInstances' `NamespaceName`).
pub fn by_name(state: &State, region: &str, name: &str) -> Option<Arc<NamespaceRecord>> {
    list(state, region)
        .into_iter()
        .find(|n| same_name(&n.name, name))
}

/// How many services a namespace has.
pub fn service_count(state: &State, namespace: &NamespaceRecord) -> usize {
    super::services_in(state, namespace).len()
}

/// What an UpdateXxxNamespace changes.
#[derive(Debug, Clone, Default)]
pub struct NamespaceChange {
    pub description: Option<String>,
    pub soa_ttl: Option<u32>,
}

/// Update a namespace of type `expected` (the operation's name says which).
pub async fn update(
    state: &State,
    region: &str,
    id: &str,
    expected: NamespaceType,
    change: NamespaceChange,
    updater_request_id: Option<&str>,
) -> Result<OperationRecord> {
    if let Some(d) = &change.description {
        check(rules::max_len("Namespace.Description", d, 1024))?;
    }
    if let Some(u) = updater_request_id {
        check(rules::max_len("UpdaterRequestId", u, 64))?;
    }
    for _ in 0..ATTEMPTS {
        let entry = get(state, region, id)?;
        let mut ns = (*entry.value).clone();
        if ns.namespace_type != expected {
            return Err(invalid(format!(
                "Namespace {} is of type {}, not {}: use the update operation of its type.",
                ns.id,
                ns.namespace_type.as_str(),
                expected.as_str()
            )));
        }
        if let Some(d) = &change.description {
            ns.description = Some(d.clone());
        }
        if let Some(ttl) = change.soa_ttl {
            ns.soa_ttl = Some(ttl);
        }
        let (op, op_put) = new_operation(
            state,
            region,
            OperationType::UpdateNamespace,
            &[("NAMESPACE", &ns.id)],
            ns.namespace_type.is_dns(),
        );
        let key = keys::sd_namespace(region, &ns.id);
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::put(key, encode(&ns)), op_put],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(op);
        }
    }
    Err(contended("namespace"))
}

/// Delete a namespace that has no services.
pub async fn delete(state: &State, region: &str, id: &str) -> Result<OperationRecord> {
    for _ in 0..ATTEMPTS {
        let entry = get(state, region, id)?;
        let ns = &entry.value;
        let services = super::services_in(state, ns);
        if !services.is_empty() {
            return Err(ServiceDiscoveryError::ResourceInUse(format!(
                "Namespace {} still has {} service(s) ({}); delete them first.",
                ns.id,
                services.len(),
                services
                    .iter()
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let (op, op_put) = new_operation(
            state,
            region,
            OperationType::DeleteNamespace,
            &[("NAMESPACE", &ns.id)],
            ns.namespace_type.is_dns(),
        );
        let key = keys::sd_namespace(region, &ns.id);
        // Creating a service rewrites its namespace, so one made meanwhile fails this.
        let txn = Txn {
            compares: vec![Compare::unchanged(key.clone(), entry.mod_revision)],
            success: vec![Op::delete(key), op_put],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(op);
        }
    }
    Err(contended("namespace"))
}
