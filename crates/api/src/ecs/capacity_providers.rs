//! Capacity provider operations: CreateCapacityProvider, UpdateCapacityProvider,
//! DeleteCapacityProvider, DescribeCapacityProviders, and PutClusterCapacityProviders,
//! which attaches providers to a cluster with its default strategy.

use flotilla_aws::Context;
use flotilla_control::ecs::capacity_providers::{self as control, name_of};
use flotilla_model::capacity_provider::{
    self as cp, parse_strategy, AutoScalingGroupProvider, CapacityProviderRecord,
};
use flotilla_model::cluster::ClusterInclude;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::wire as cluster_wire;
use super::{describe_each, wants_tags};
use crate::ecs::error::{invalid, EcsError};
use crate::pagination::{page_size, paginate_strings};
use crate::State;

/// The name a required `name` / `capacityProvider` member gives.
fn required(value: Option<String>, member: &str) -> Result<String, EcsError> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| name_of(&v).to_string())
        .ok_or_else(|| invalid(format!("{member} is required.")))
}

/// Managed Instances providers are not part of Flotilla.
fn no_managed_instances(given: &Option<Value>) -> Result<(), EcsError> {
    match given {
        Some(_) => Err(invalid(
            "managedInstancesProvider is not supported: Flotilla's custom capacity providers \
             are Auto Scaling group providers whose instances are the agents that register \
             with the provider's name.",
        )),
        None => Ok(()),
    }
}

fn wire(p: &CapacityProviderRecord) -> Value {
    json!({ "capacityProvider": cp::to_wire(p, true) })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    name: Option<String>,
    cluster: Option<String>,
    auto_scaling_group_provider: Option<AutoScalingGroupProvider>,
    managed_instances_provider: Option<Value>,
    #[serde(default)]
    tags: Vec<Tag>,
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let name = input
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("name is required."))?;
    no_managed_instances(&input.managed_instances_provider)?;
    if input.cluster.is_some() {
        return Err(invalid(
            "cluster is only used with managedInstancesProvider, which Flotilla does not \
             support.",
        ));
    }
    let group = input.auto_scaling_group_provider.ok_or_else(|| {
        invalid("autoScalingGroupProvider is required for an Auto Scaling group capacity provider.")
    })?;
    validate_tags(&input.tags)?;
    let record = control::create(state, &scope, &name, group, input.tags).await?;
    Ok(wire(&record))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    name: Option<String>,
    cluster: Option<String>,
    auto_scaling_group_provider: Option<AutoScalingGroupProvider>,
    managed_instances_provider: Option<Value>,
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let name = required(input.name, "name")?;
    no_managed_instances(&input.managed_instances_provider)?;
    let _ = input.cluster;
    let change = input
        .auto_scaling_group_provider
        .ok_or_else(|| invalid("autoScalingGroupProvider is required."))?;
    let record = control::update(state, &scope, &name, &change).await?;
    Ok(wire(&record))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    capacity_provider: Option<String>,
    cluster: Option<String>,
}

pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let name = required(input.capacity_provider, "capacityProvider")?;
    let _ = input.cluster;
    let record = control::delete(state, &scope, &name).await?;
    Ok(wire(&record))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    #[serde(default)]
    capacity_providers: Vec<String>,
    cluster: Option<String>,
    #[serde(default)]
    include: Vec<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The `CapacityProvider` shape of `name` (built-in, or stored ACTIVE or INACTIVE).
fn described(state: &State, scope: &Scope, name: &str, tags: bool) -> Option<Value> {
    if cp::is_built_in(name) {
        return Some(cp::built_in_wire(scope, name, tags));
    }
    control::find(state, scope, name).map(|e| cp::to_wire(&e.value, tags))
}

/// DescribeCapacityProviders: the named providers (MISSING failures for unknown ones),
/// or, with none named, FARGATE, FARGATE_SPOT and every ACTIVE custom provider, by page.
pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let tags = wants_tags(&input.include, &["TAGS"])?;
    let _ = input.cluster;
    if !input.capacity_providers.is_empty() {
        if input.max_results.is_some() || input.next_token.is_some() {
            return Err(invalid(
                "maxResults and nextToken cannot be used when capacityProviders are named.",
            ));
        }
        if input.capacity_providers.len() > 100 {
            return Err(invalid(
                "At most 100 capacity providers can be described in one call.",
            ));
        }
        let (found, failures) = describe_each(
            &input.capacity_providers,
            |id| described(state, &scope, name_of(id), tags),
            |id| Some(cp::arn(&scope, name_of(id))),
        );
        return Ok(json!({ "capacityProviders": found, "failures": failures }));
    }
    let size = page_size(input.max_results, 10)?;
    let mut names: Vec<String> = cp::BUILT_IN.iter().map(|n| n.to_string()).collect();
    names.extend(control::list(state, &scope).into_iter().map(|p| p.name));
    names.sort();
    let (page, next) = paginate_strings(names, input.next_token.as_deref(), size)?;
    let found: Vec<Value> = page
        .iter()
        .filter_map(|n| described(state, &scope, n, tags))
        .collect();
    Ok(json!({ "capacityProviders": found, "failures": [], "nextToken": next }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutClusterInput {
    cluster: Option<String>,
    capacity_providers: Option<Vec<String>>,
    default_capacity_provider_strategy: Option<Vec<Value>>,
}

/// PutClusterCapacityProviders: the cluster's providers and default strategy, replaced.
pub async fn put_cluster(
    state: &State,
    ctx: &Context,
    input: PutClusterInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    if input.cluster.as_deref().unwrap_or("").is_empty() {
        return Err(invalid("cluster is required."));
    }
    let providers = input
        .capacity_providers
        .ok_or_else(|| invalid("capacityProviders is required."))?;
    let strategy = input
        .default_capacity_provider_strategy
        .ok_or_else(|| invalid("defaultCapacityProviderStrategy is required (it may be empty)."))?;
    let strategy = parse_strategy(&strategy)?;
    let providers = providers.iter().map(|p| name_of(p).to_string()).collect();
    let record =
        control::put_cluster(state, &scope, input.cluster.as_deref(), providers, strategy).await?;
    Ok(json!({ "cluster": cluster_wire(state, &scope, &record, ClusterInclude::ALL) }))
}
