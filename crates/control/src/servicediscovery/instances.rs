//! Instances: register (a new instance, or new attributes for one already registered),
//! deregister, and custom health. Each is one transaction that also rewrites the service
//! (its `instances_revision` bumped), so DiscoverInstancesRevision moves and a concurrent
//! DeleteService fails its compare.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_model::record::encode;
use flotilla_model::servicediscovery::{
    rules, DiscoveryServiceRecord, HealthStatus, InstanceRecord, OperationRecord, OperationType,
};
use flotilla_store::{Compare, Op, Txn};

use super::{
    check, contended, new_operation, operation_record, services, Result, ServiceDiscoveryError,
    ATTEMPTS,
};
use crate::{keys, Entry, State};

/// At most this many instances per service (Cloud Map's default quota).
pub const MAX_INSTANCES: usize = 1000;

fn namespace_type(
    state: &State,
    service: &DiscoveryServiceRecord,
) -> Result<flotilla_model::servicediscovery::NamespaceType> {
    super::namespace_of(state, service)
        .map(|n| n.namespace_type)
        .ok_or_else(|| {
            ServiceDiscoveryError::ServiceNotFound(format!(
                "The namespace of service {} no longer exists.",
                service.id
            ))
        })
}

/// Register an instance of a service (RegisterInstance; the ECS service controller calls
/// it for each task of a service with service registries). Registering an instance id
/// again replaces its attributes and resets its health; a retry with the same
/// `CreatorRequestId` and attributes answers with the first request's operation.
pub async fn register_instance(
    state: &State,
    region: &str,
    service_id: &str,
    instance_id: &str,
    attributes: BTreeMap<String, String>,
    creator_request_id: Option<String>,
) -> Result<OperationRecord> {
    check(rules::instance_id(instance_id))?;
    if let Some(c) = &creator_request_id {
        check(rules::max_len("CreatorRequestId", c, 64))?;
    }
    for _ in 0..ATTEMPTS {
        let entry = services::get(state, region, service_id)?;
        let service = &entry.value;
        check(rules::instance_attributes(
            service,
            namespace_type(state, service)?,
            &attributes,
        ))?;
        let key = keys::sd_instance(region, &service.id, instance_id);
        let current = state.servicediscovery().instances.get(key.as_bytes());
        if let (Some(c), Some(cur)) = (&creator_request_id, &current) {
            if cur.value.creator_request_id.as_ref() == Some(c) {
                if cur.value.attributes == attributes {
                    if let Some(op) = operation_record(state, region, &cur.value.operation_id) {
                        return Ok(op);
                    }
                } else {
                    return Err(ServiceDiscoveryError::DuplicateRequest {
                        message: format!(
                            "CreatorRequestId {c} was already used to register instance \
                             {instance_id} with other attributes; use another \
                             CreatorRequestId."
                        ),
                        operation_id: cur.value.operation_id.clone(),
                    });
                }
            }
        }
        if current.is_none() && services::instance_count(state, service) >= MAX_INSTANCES {
            return Err(ServiceDiscoveryError::ResourceLimitExceeded(format!(
                "Service {} has {MAX_INSTANCES} instances, the most it may have.",
                service.id
            )));
        }
        let (op, op_put) = new_operation(
            state,
            region,
            OperationType::RegisterInstance,
            &[("SERVICE", &service.id), ("INSTANCE", instance_id)],
            service.dns.is_some(),
        );
        let instance = InstanceRecord {
            id: instance_id.to_string(),
            service_id: service.id.clone(),
            creator_request_id: creator_request_id.clone(),
            health: rules::initial_health(service, &attributes),
            attributes: attributes.clone(),
            created_at: op.created_at,
            operation_id: op.id.clone(),
        };
        let mut bumped = (**service).clone();
        bumped.instances_revision += 1;
        let service_key = keys::sd_service(region, &service.id);
        let txn = Txn {
            compares: vec![
                Compare::unchanged(service_key.clone(), entry.mod_revision),
                Compare::unchanged(key.clone(), current.map_or(0, |c| c.mod_revision)),
            ],
            success: vec![
                Op::put(service_key, encode(&bumped)),
                Op::put(key, encode(&instance)),
                op_put,
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(op);
        }
    }
    Err(contended("service"))
}

/// Deregister an instance (DeregisterInstance; the ECS service controller calls it before
/// it stops a task). `Ok(None)` when the instance is not registered, so a controller may
/// call it again safely; the API answers InstanceNotFound then.
pub async fn deregister_instance(
    state: &State,
    region: &str,
    service_id: &str,
    instance_id: &str,
) -> Result<Option<OperationRecord>> {
    check(rules::len_between("InstanceId", instance_id, 64))?;
    for _ in 0..ATTEMPTS {
        let entry = services::get(state, region, service_id)?;
        let service = &entry.value;
        let key = keys::sd_instance(region, &service.id, instance_id);
        let Some(current) = state.servicediscovery().instances.get(key.as_bytes()) else {
            return Ok(None);
        };
        let (op, op_put) = new_operation(
            state,
            region,
            OperationType::DeregisterInstance,
            &[("SERVICE", &service.id), ("INSTANCE", instance_id)],
            service.dns.is_some(),
        );
        let mut bumped = (**service).clone();
        bumped.instances_revision += 1;
        let service_key = keys::sd_service(region, &service.id);
        let txn = Txn {
            compares: vec![
                Compare::unchanged(service_key.clone(), entry.mod_revision),
                Compare::unchanged(key.clone(), current.mod_revision),
            ],
            success: vec![
                Op::put(service_key, encode(&bumped)),
                Op::delete(key),
                op_put,
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(Some(op));
        }
    }
    Err(contended("service"))
}

/// One instance of a service.
pub fn get(
    state: &State,
    region: &str,
    service_id: &str,
    instance_id: &str,
) -> Result<(Arc<DiscoveryServiceRecord>, Entry<InstanceRecord>)> {
    check(rules::len_between("InstanceId", instance_id, 64))?;
    let service = services::get(state, region, service_id)?.value;
    let instance = state
        .servicediscovery()
        .instances
        .get(keys::sd_instance(region, &service.id, instance_id).as_bytes())
        .ok_or_else(|| {
            ServiceDiscoveryError::InstanceNotFound(format!(
                "No instance {instance_id} is registered with service {}.",
                service.id
            ))
        })?;
    Ok((service, instance))
}

/// Set an instance's health (UpdateInstanceCustomHealthStatus): only for a service with
/// a custom health check. The change is served at once (Cloud Map waits 30 seconds
/// before it stops routing to an instance reported unhealthy).
pub async fn set_custom_health(
    state: &State,
    region: &str,
    service_id: &str,
    instance_id: &str,
    health: HealthStatus,
) -> Result<()> {
    for _ in 0..ATTEMPTS {
        let service_entry = services::get(state, region, service_id)?;
        let service = &service_entry.value;
        let (_, instance) = get(state, region, service_id, instance_id)?;
        if service.custom_health.is_none() {
            return Err(ServiceDiscoveryError::CustomHealthNotFound(format!(
                "Service {} has no HealthCheckCustomConfig, so its instances' health cannot be \
                 set.",
                service.id
            )));
        }
        if instance.value.health == health {
            return Ok(());
        }
        let mut updated = (*instance.value).clone();
        updated.health = health;
        let mut bumped = (**service).clone();
        bumped.instances_revision += 1;
        let service_key = keys::sd_service(region, &service.id);
        let key = keys::sd_instance(region, &service.id, instance_id);
        let txn = Txn {
            compares: vec![
                Compare::unchanged(service_key.clone(), service_entry.mod_revision),
                Compare::unchanged(key.clone(), instance.mod_revision),
            ],
            success: vec![
                Op::put(service_key, encode(&bumped)),
                Op::put(key, encode(&updated)),
            ],
            failure: vec![],
        };
        if state.commit(txn).await?.succeeded {
            return Ok(());
        }
    }
    Err(contended("service"))
}
