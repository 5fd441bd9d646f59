//! RegisterInstance, DeregisterInstance, GetInstance, ListInstances,
//! GetInstancesHealthStatus, UpdateInstanceCustomHealthStatus, DiscoverInstances and
//! DiscoverInstancesRevision.

use std::collections::BTreeMap;

use flotilla_aws::Context;
use flotilla_control::servicediscovery::{self as sd, instances, namespaces, services};
use flotilla_model::servicediscovery::rules::{self, HealthFilter};
use flotilla_model::servicediscovery::{HealthStatus, InstanceRecord};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, SdWireError};
use super::wire::{self, required};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterInput {
    service_id: Option<String>,
    instance_id: Option<String>,
    creator_request_id: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
}

pub async fn register(
    state: &State,
    ctx: &Context,
    input: RegisterInput,
) -> Result<Value, SdWireError> {
    let service_id = required(&input.service_id, "ServiceId")?;
    let instance_id = required(&input.instance_id, "InstanceId")?;
    let attributes = input
        .attributes
        .ok_or_else(|| invalid("Attributes is required."))?;
    let op = sd::register_instance(
        state,
        &ctx.region,
        service_id,
        instance_id,
        attributes,
        input.creator_request_id,
    )
    .await?;
    Ok(wire::operation_id(&op))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceInput {
    service_id: Option<String>,
    instance_id: Option<String>,
}

pub async fn deregister(
    state: &State,
    ctx: &Context,
    input: InstanceInput,
) -> Result<Value, SdWireError> {
    let service_id = required(&input.service_id, "ServiceId")?;
    let instance_id = required(&input.instance_id, "InstanceId")?;
    match sd::deregister_instance(state, &ctx.region, service_id, instance_id).await? {
        Some(op) => Ok(wire::operation_id(&op)),
        None => Err(sd::ServiceDiscoveryError::InstanceNotFound(format!(
            "No instance {instance_id} is registered with service {service_id}."
        ))
        .into()),
    }
}

pub fn get(state: &State, ctx: &Context, input: InstanceInput) -> Result<Value, SdWireError> {
    let service_id = required(&input.service_id, "ServiceId")?;
    let instance_id = required(&input.instance_id, "InstanceId")?;
    let (_, instance) = instances::get(state, &ctx.region, service_id, instance_id)?;
    let i = &instance.value;
    Ok(json!({
        "ResourceOwner": state.account(),
        "Instance": {
            "Id": i.id,
            "CreatorRequestId": i.creator_request_id,
            "Attributes": i.attributes,
            "CreatedByAccount": state.account(),
        },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    service_id: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, SdWireError> {
    let service_id = required(&input.service_id, "ServiceId")?;
    let service = services::get(state, &ctx.region, service_id)?.value;
    let all = sd::instances_of(state, &service);
    let (page, next) = wire::page(
        all,
        |i| i.id.clone(),
        input.max_results,
        input.next_token.as_deref(),
    )?;
    let items: Vec<Value> = page
        .iter()
        .map(|i| json!({"Id": i.id, "Attributes": i.attributes, "CreatedByAccount": state.account()}))
        .collect();
    Ok(json!({"ResourceOwner": state.account(), "Instances": items, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthInput {
    service_id: Option<String>,
    instances: Option<Vec<String>>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn health(state: &State, ctx: &Context, input: HealthInput) -> Result<Value, SdWireError> {
    let service_id = required(&input.service_id, "ServiceId")?;
    let service = services::get(state, &ctx.region, service_id)?.value;
    let all = sd::instances_of(state, &service);
    let chosen: Vec<_> = match &input.instances {
        None => all,
        Some(ids) if ids.is_empty() => {
            return Err(invalid("Instances, when given, must hold at least one id."))
        }
        Some(ids) => {
            let mut chosen = Vec::new();
            for id in ids {
                let found = all.iter().find(|i| &i.id == id).ok_or_else(|| {
                    sd::ServiceDiscoveryError::InstanceNotFound(format!(
                        "No instance {id} is registered with service {}.",
                        service.id
                    ))
                })?;
                chosen.push(found.clone());
            }
            chosen.sort_by(|a, b| a.id.cmp(&b.id));
            chosen.dedup_by(|a, b| a.id == b.id);
            chosen
        }
    };
    let (page, next) = wire::page(
        chosen,
        |i| i.id.clone(),
        input.max_results,
        input.next_token.as_deref(),
    )?;
    let status: serde_json::Map<String, Value> = page
        .iter()
        .map(|i| (i.id.clone(), Value::from(i.shown_health(&service))))
        .collect();
    Ok(json!({"Status": status, "NextToken": next}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetHealthInput {
    service_id: Option<String>,
    instance_id: Option<String>,
    status: Option<String>,
}

pub async fn set_health(
    state: &State,
    ctx: &Context,
    input: SetHealthInput,
) -> Result<Value, SdWireError> {
    let service_id = required(&input.service_id, "ServiceId")?;
    let instance_id = required(&input.instance_id, "InstanceId")?;
    let status = required(&input.status, "Status")?;
    let health = HealthStatus::parse(status).ok_or_else(|| {
        invalid(format!(
            "Status {status} is not valid: use HEALTHY or UNHEALTHY."
        ))
    })?;
    instances::set_custom_health(state, &ctx.region, service_id, instance_id, health).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiscoverInput {
    namespace_name: Option<String>,
    service_name: Option<String>,
    max_results: Option<i64>,
    query_parameters: Option<BTreeMap<String, String>>,
    optional_parameters: Option<BTreeMap<String, String>>,
    health_status: Option<String>,
    owner_account: Option<String>,
}

/// The service DiscoverInstances and DiscoverInstancesRevision name.
fn discovered(
    state: &State,
    ctx: &Context,
    namespace_name: &Option<String>,
    service_name: &Option<String>,
    owner_account: &Option<String>,
) -> Result<
    (
        std::sync::Arc<flotilla_model::servicediscovery::NamespaceRecord>,
        std::sync::Arc<flotilla_model::servicediscovery::DiscoveryServiceRecord>,
    ),
    SdWireError,
> {
    let namespace_name = required(namespace_name, "NamespaceName")?;
    let service_name = required(service_name, "ServiceName")?;
    rules::len_between("NamespaceName", namespace_name, 1024).map_err(invalid)?;
    rules::service_name(service_name).map_err(invalid)?;
    if let Some(owner) = owner_account {
        if owner.len() != 12 || !owner.bytes().all(|c| c.is_ascii_digit()) {
            return Err(invalid("OwnerAccount must be a 12-digit account id."));
        }
    }
    let ns = namespaces::by_name(state, &ctx.region, namespace_name)
        .filter(|_| {
            owner_account
                .as_deref()
                .is_none_or(|o| o == state.account())
        })
        .ok_or_else(|| {
            sd::ServiceDiscoveryError::NamespaceNotFound(format!(
                "No namespace named {namespace_name} exists in {}.",
                ctx.region
            ))
        })?;
    let service = services::by_name(state, &ns, service_name).ok_or_else(|| {
        sd::ServiceDiscoveryError::ServiceNotFound(format!(
            "No service named {service_name} exists in namespace {namespace_name}."
        ))
    })?;
    Ok((ns, service))
}

pub fn discover(state: &State, ctx: &Context, input: DiscoverInput) -> Result<Value, SdWireError> {
    let (ns, service) = discovered(
        state,
        ctx,
        &input.namespace_name,
        &input.service_name,
        &input.owner_account,
    )?;
    let max = match input.max_results {
        None => 100,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(invalid(format!(
                "MaxResults must be between 1 and 1000; got {n}."
            )))
        }
    };
    let query = wire::attributes(input.query_parameters)?;
    let optional = wire::attributes(input.optional_parameters)?;
    let health = match input.health_status.as_deref() {
        None => HealthFilter::Healthy,
        Some(h) => HealthFilter::parse(h).ok_or_else(|| {
            invalid(format!(
                "HealthStatus {h} is not valid: use HEALTHY, UNHEALTHY, ALL or \
                 HEALTHY_OR_ELSE_ALL."
            ))
        })?,
    };
    let all: Vec<InstanceRecord> = sd::instances_of(state, &service)
        .iter()
        .map(|i| (**i).clone())
        .collect();
    let found = rules::discover(&service, &all, &query, &optional, health, max);
    let items: Vec<Value> = found
        .iter()
        .map(|i| {
            json!({
                "InstanceId": i.id,
                "NamespaceName": ns.name,
                "ServiceName": service.name,
                "HealthStatus": i.shown_health(&service),
                "Attributes": i.attributes,
            })
        })
        .collect();
    Ok(json!({"Instances": items, "InstancesRevision": service.instances_revision}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RevisionInput {
    namespace_name: Option<String>,
    service_name: Option<String>,
    owner_account: Option<String>,
}

pub fn discover_revision(
    state: &State,
    ctx: &Context,
    input: RevisionInput,
) -> Result<Value, SdWireError> {
    let (_, service) = discovered(
        state,
        ctx,
        &input.namespace_name,
        &input.service_name,
        &input.owner_account,
    )?;
    Ok(json!({"InstancesRevision": service.instances_revision}))
}
