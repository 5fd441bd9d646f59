//! Cluster operations: CreateCluster, DescribeClusters, ListClusters, DeleteCluster,
//! UpdateCluster, UpdateClusterSettings (PutClusterCapacityProviders is with the capacity
//! providers).

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_model::cluster::{
    self, to_wire, ClusterCounts, ClusterInclude, ClusterRecord, ClusterSetting,
};
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use super::failure;
use crate::ecs::error::invalid;
use crate::pagination::{page_size, paginate_strings};
use crate::{keys, State};
use flotilla_control::ecs::{capacity_providers, clusters};
use flotilla_model::capacity_provider::parse_strategy;

/// The cluster name a `cluster` parameter (name or ARN) refers to; `default` when absent.
pub fn cluster_name(id: Option<&str>, scope: &Scope) -> Result<String, EcsError> {
    Ok(clusters::name_of(id, scope)?)
}

/// The name of the ACTIVE cluster a request names (`ClusterNotFoundException` otherwise).
pub fn active_cluster_name(
    state: &State,
    scope: &Scope,
    id: Option<&str>,
) -> Result<String, EcsError> {
    Ok(clusters::active(state, scope, id)?
        .value
        .cluster_name
        .clone())
}

/// Counts of the cluster's instances, tasks and services.
fn counts(state: &State, scope: &Scope, name: &str) -> ClusterCounts {
    let (running, pending, _) = state.task_counts(&scope.region, name);
    ClusterCounts {
        registered_container_instances: state.registered_instances(&scope.region, name) as i64,
        running_tasks: running,
        pending_tasks: pending,
        active_services: state.services_in(&scope.region, name).0 as i64,
    }
}

pub(crate) fn wire(state: &State, scope: &Scope, c: &ClusterRecord, inc: ClusterInclude) -> Value {
    to_wire(c, counts(state, scope, &c.cluster_name), inc)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateClusterInput {
    cluster_name: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    settings: Vec<ClusterSetting>,
    configuration: Option<Value>,
    #[serde(default)]
    capacity_providers: Vec<String>,
    #[serde(default)]
    default_capacity_provider_strategy: Vec<Value>,
    service_connect_defaults: Option<Value>,
}

/// CreateCluster is idempotent: creating an ACTIVE cluster's name again returns it as it
/// is; an INACTIVE (deleted) one is created anew.
pub async fn create(
    state: &State,
    ctx: &Context,
    input: CreateClusterInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let name = input.cluster_name.unwrap_or_else(|| "default".into());
    cluster::validate_name(&name)?;
    validate_tags(&input.tags)?;
    cluster::validate_settings(&input.settings)?;
    let strategy = parse_strategy(&input.default_capacity_provider_strategy)?;
    let providers: Vec<String> = (input.capacity_providers.iter())
        .map(|p| capacity_providers::name_of(p).to_string())
        .collect();
    capacity_providers::check_cluster(state, &scope, &providers, &strategy)?;
    let mut record = clusters::new_record(&scope, &name, input.settings);
    record.configuration = input.configuration;
    record.tags = input.tags;
    record.capacity_providers = providers;
    record.default_capacity_provider_strategy = strategy;
    record.service_connect_defaults = input.service_connect_defaults;
    let stored = clusters::create(state, &scope, record).await?;
    Ok(json!({ "cluster": wire(state, &scope, &stored, ClusterInclude::ALL) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeClustersInput {
    #[serde(default)]
    clusters: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
}

pub async fn describe(
    state: &State,
    ctx: &Context,
    input: DescribeClustersInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let inc = ClusterInclude::parse(&input.include)?;
    let ids = if input.clusters.is_empty() {
        vec!["default".to_string()]
    } else {
        input.clusters
    };
    if ids.len() > 100 {
        return Err(invalid(
            "At most 100 clusters can be described in one call.",
        ));
    }
    let mut clusters = Vec::new();
    let mut failures = Vec::new();
    for id in &ids {
        // Another region's or account's cluster is not here: missing, as AWS answers.
        if flotilla_model::Arn::parse(id).is_some_and(|a| a.within(&scope).is_err()) {
            failures.push(failure(id, "MISSING"));
            continue;
        }
        let name = cluster_name(Some(id), &scope)?;
        match state
            .clusters()
            .get(keys::cluster(&scope.region, &name).as_bytes())
        {
            Some(e) => clusters.push(wire(state, &scope, &e.value, inc)),
            None => failures.push(failure(&scope.cluster_arn(&name), "MISSING")),
        }
    }
    Ok(json!({ "clusters": clusters, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListClustersInput {
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListClustersInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let size = page_size(input.max_results, 100)?;
    let arns: Vec<String> = state
        .clusters()
        .range(keys::clusters(&scope.region).as_bytes())
        .into_iter()
        .filter(|(_, e)| e.value.is_active())
        .map(|(_, e)| e.value.cluster_arn.clone())
        .collect();
    let (page, next) = paginate_strings(arns, input.next_token.as_deref(), size)?;
    Ok(json!({ "clusterArns": page, "nextToken": next }))
}

#[derive(Deserialize)]
pub struct DeleteClusterInput {
    cluster: Option<String>,
}

/// DeleteCluster marks the cluster INACTIVE (still describable), refusing while it holds
/// container instances, services or tasks.
pub async fn delete(
    state: &State,
    ctx: &Context,
    input: DeleteClusterInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    if input.cluster.as_deref().unwrap_or("").is_empty() {
        return Err(invalid("cluster is required."));
    }
    let record = clusters::delete(state, &scope, input.cluster.as_deref()).await?;
    Ok(json!({ "cluster": wire(state, &scope, &record, ClusterInclude::ALL) }))
}

/// Apply `change` to an ACTIVE cluster and store it, answering with the new shape.
pub async fn modify(
    state: &State,
    ctx: &Context,
    id: Option<&str>,
    change: impl FnOnce(&mut ClusterRecord) -> Result<(), EcsError>,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let entry = clusters::active(state, &scope, id)?;
    let mut record = (*entry.value).clone();
    change(&mut record)?;
    clusters::replace(state, &scope, entry.mod_revision, &record).await?;
    Ok(json!({ "cluster": wire(state, &scope, &record, ClusterInclude::ALL) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateClusterInput {
    cluster: Option<String>,
    settings: Option<Vec<ClusterSetting>>,
    configuration: Option<Value>,
    service_connect_defaults: Option<Value>,
}

pub async fn update(
    state: &State,
    ctx: &Context,
    input: UpdateClusterInput,
) -> Result<Value, EcsError> {
    if input.cluster.as_deref().unwrap_or("").is_empty() {
        return Err(invalid("cluster is required."));
    }
    if let Some(settings) = &input.settings {
        cluster::validate_settings(settings)?;
    }
    modify(state, ctx, input.cluster.as_deref(), |c| {
        if let Some(settings) = input.settings {
            cluster::merge_settings(&mut c.settings, settings);
        }
        if let Some(cfg) = input.configuration {
            c.configuration = Some(cfg);
        }
        if let Some(sc) = input.service_connect_defaults {
            c.service_connect_defaults = Some(sc);
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
pub struct UpdateClusterSettingsInput {
    cluster: Option<String>,
    settings: Option<Vec<ClusterSetting>>,
}

pub async fn update_settings(
    state: &State,
    ctx: &Context,
    input: UpdateClusterSettingsInput,
) -> Result<Value, EcsError> {
    if input.cluster.as_deref().unwrap_or("").is_empty() {
        return Err(invalid("cluster is required."));
    }
    let settings = input
        .settings
        .ok_or_else(|| invalid("settings is required."))?;
    cluster::validate_settings(&settings)?;
    modify(state, ctx, input.cluster.as_deref(), |c| {
        cluster::merge_settings(&mut c.settings, settings);
        Ok(())
    })
    .await
}
