//! Task set operations of services with the EXTERNAL deployment controller: CreateTaskSet,
//! DescribeTaskSets, UpdateTaskSet, DeleteTaskSet, UpdateServicePrimaryTaskSet; and the
//! `deploymentController` checks CreateService makes. The control plane
//! (`flotilla_control::ecs::task_sets`) changes the service record; the service controller
//! runs each task set's tasks.

use std::sync::Arc;

use flotilla_aws::Context;
use flotilla_control::ecs::services::{counted_tasks, counts, tasks_of};
use flotilla_control::ecs::task_sets::{self, TaskSetRequest};
use flotilla_model::service::task_set::{validate_external_id, Scale};
use flotilla_model::service::{
    self, DeploymentController, LoadBalancer, NetworkConfiguration, ServiceRecord, ServiceRegistry,
    TaskSet, DAEMON,
};
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task::TaskRecord;
use flotilla_model::timestamp::to_epoch_seconds;
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, EcsError};
use super::services::{check_registries, check_target_groups, located};
use super::{describe_each, wants_tags};
use crate::State;

/// The controller a CreateService's `deploymentController` names; CODE_DEPLOY is refused
/// (there is no CodeDeploy to drive it).
pub fn controller_of(input: Option<&Value>) -> Result<DeploymentController, EcsError> {
    let Some(dc) = input else {
        return Ok(DeploymentController::Ecs);
    };
    let kind = match dc.get("type") {
        None | Some(Value::Null) => return Ok(DeploymentController::Ecs),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(invalid("deploymentController.type must be a string.")),
    };
    match DeploymentController::parse(kind)? {
        DeploymentController::CodeDeploy => Err(invalid(
            "deploymentController CODE_DEPLOY is not supported: Flotilla has no CodeDeploy. \
             Use ECS (rolling update) or EXTERNAL (task sets: CreateTaskSet, UpdateTaskSet, \
             UpdateServicePrimaryTaskSet).",
        )),
        c => Ok(c),
    }
}

/// What an EXTERNAL service may not be created with: the DAEMON strategy, or a task
/// definition (each task set names its own).
pub fn check_service(
    controller: DeploymentController,
    strategy: &str,
    task_definition: Option<&str>,
) -> Result<(), EcsError> {
    if controller != DeploymentController::External {
        return Ok(());
    }
    if strategy == DAEMON {
        return Err(invalid(
            "The DAEMON scheduling strategy is not supported for services using the EXTERNAL \
             deployment controller.",
        ));
    }
    if task_definition.is_some() {
        return Err(invalid(
            "TaskDefinition must be blank for a service using the EXTERNAL deployment \
             controller: each task set names its own (CreateTaskSet).",
        ));
    }
    Ok(())
}

/// `Scale` as a request gives it.
#[derive(Deserialize, Default)]
struct ScaleInput {
    value: Option<f64>,
    unit: Option<String>,
}

impl ScaleInput {
    fn scale(&self) -> Result<Scale, EcsError> {
        Ok(Scale::new(self.value, self.unit.as_deref())?)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    cluster: Option<String>,
    service: Option<String>,
    external_id: Option<String>,
    task_definition: Option<String>,
    network_configuration: Option<NetworkConfiguration>,
    #[serde(default)]
    load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    service_registries: Vec<ServiceRegistry>,
    launch_type: Option<String>,
    #[serde(default)]
    capacity_provider_strategy: Vec<Value>,
    scale: Option<ScaleInput>,
    client_token: Option<String>,
    #[serde(default)]
    tags: Vec<Tag>,
}

/// The key of the service a request names, and its scope.
fn service_key(
    state: &State,
    ctx: &Context,
    cluster: Option<&str>,
    service: Option<&str>,
) -> Result<(Scope, String), EcsError> {
    let scope = crate::scope(state, ctx);
    let key = located(state, &scope, cluster, service)?;
    Ok((scope, key))
}

/// The answer of an operation on one task set: `{"taskSet": ...}` from the service as
/// stored now.
fn answer(state: &State, scope: &Scope, key: &str, ts: &TaskSet) -> Value {
    let svc = state.services().get(key.as_bytes()).map(|e| e.value);
    let shown = svc
        .as_deref()
        .and_then(|s| s.task_set(&ts.id).map(|t| (s, t.clone())));
    match shown {
        Some((s, t)) => {
            let tasks = counted(state, scope, s);
            json!({ "taskSet": to_wire(s, &t, &tasks, true) })
        }
        // Gone meanwhile (a DRAINING task set whose tasks stopped): as it was.
        None => match svc.as_deref() {
            Some(s) => json!({ "taskSet": to_wire(s, ts, &[], true) }),
            None => json!({}),
        },
    }
}

fn counted(state: &State, scope: &Scope, svc: &ServiceRecord) -> Vec<Arc<TaskRecord>> {
    counted_tasks(
        state,
        &scope.region,
        svc,
        tasks_of(state, &scope.region, svc),
    )
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcsError> {
    let (scope, key) = service_key(
        state,
        ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    if let Some(e) = state.services().get(key.as_bytes()) {
        task_sets::check_external(&e.value)?;
    }
    if !input.capacity_provider_strategy.is_empty() {
        return Err(invalid(
            "capacityProviderStrategy is not supported: Flotilla has no capacity providers; \
             use launchType.",
        ));
    }
    if let Some(t) = &input.client_token {
        if t.len() > 36 {
            return Err(invalid("clientToken can be at most 36 characters long."));
        }
    }
    if let Some(id) = &input.external_id {
        validate_external_id(id)?;
    }
    crate::ecs::check_network(state, ctx, input.network_configuration.as_ref()).await?;
    if input.load_balancers.len() > 1 {
        return Err(invalid(
            "CreateTaskSet cannot have more than 1 load balancer: give one loadBalancers \
             entry.",
        ));
    }
    service::validate_load_balancers(&input.load_balancers)?;
    check_target_groups(state, ctx, &input.load_balancers)?;
    service::validate_service_registries(&input.service_registries)?;
    check_registries(state, &input.service_registries)?;
    validate_tags(&input.tags)?;
    let scale = input.scale.unwrap_or_default().scale()?;
    let td = input
        .task_definition
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("taskDefinition is required."))?;
    let definition = flotilla_control::ecs::services::active_definition(state, &scope, &td)?;
    let request = TaskSetRequest {
        task_definition: definition.value.arn().to_string(),
        launch_type: input.launch_type,
        network_configuration: input.network_configuration,
        load_balancers: input.load_balancers,
        service_registries: input.service_registries,
        scale,
        external_id: input.external_id,
        tags: input.tags,
        client_token: input.client_token,
    };
    let ts = task_sets::create(state, &scope, &key, request, chrono::Utc::now()).await?;
    Ok(answer(state, &scope, &key, &ts))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    cluster: Option<String>,
    service: Option<String>,
    task_sets: Option<Vec<String>>,
    #[serde(default)]
    include: Vec<String>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let (scope, key) = service_key(
        state,
        ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    let tags = wants_tags(&input.include, &["TAGS"])?;
    let Some(entry) = state.services().get(key.as_bytes()) else {
        return Err(flotilla_control::ControlError::service_not_found().into());
    };
    let svc = &entry.value;
    task_sets::check_external(svc)?;
    let tasks = counted(state, &scope, svc);
    let Some(ids) = input.task_sets else {
        return Ok(json!({ "taskSets": all_to_wire(svc, &tasks, tags), "failures": [] }));
    };
    let (found, failures) = describe_each(
        &ids,
        |id| svc.task_set(id).map(|t| to_wire(svc, t, &tasks, tags)),
        |id| Some(id.to_string()),
    );
    Ok(json!({ "taskSets": found, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    cluster: Option<String>,
    service: Option<String>,
    task_set: Option<String>,
    scale: Option<ScaleInput>,
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let (scope, key) = service_key(
        state,
        ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    let id = required(input.task_set.as_deref(), "taskSet")?;
    let scale = input
        .scale
        .ok_or_else(|| invalid("scale is required."))?
        .scale()?;
    let ts = task_sets::rescale(state, &key, id, scale, chrono::Utc::now()).await?;
    Ok(answer(state, &scope, &key, &ts))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteInput {
    cluster: Option<String>,
    service: Option<String>,
    task_set: Option<String>,
    force: Option<bool>,
}

pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcsError> {
    let (scope, key) = service_key(
        state,
        ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    let id = required(input.task_set.as_deref(), "taskSet")?;
    let force = input.force.unwrap_or(false);
    let ts = task_sets::delete(state, &key, id, force, chrono::Utc::now()).await?;
    Ok(answer(state, &scope, &key, &ts))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrimaryInput {
    cluster: Option<String>,
    service: Option<String>,
    primary_task_set: Option<String>,
}

pub async fn update_primary(
    state: &State,
    ctx: &Context,
    input: PrimaryInput,
) -> Result<Value, EcsError> {
    let (scope, key) = service_key(
        state,
        ctx,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    let id = required(input.primary_task_set.as_deref(), "primaryTaskSet")?;
    let ts = task_sets::make_primary(state, &key, id, chrono::Utc::now()).await?;
    Ok(answer(state, &scope, &key, &ts))
}

fn required<'a>(v: Option<&'a str>, name: &str) -> Result<&'a str, EcsError> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| invalid(format!("{name} is required.")))
}

/// Every task set of `svc`, in the `TaskSet` shape.
pub fn all_to_wire(svc: &ServiceRecord, tasks: &[Arc<TaskRecord>], tags: bool) -> Value {
    Value::Array(
        svc.task_sets
            .iter()
            .map(|t| to_wire(svc, t, tasks, tags))
            .collect(),
    )
}

/// The ECS `TaskSet` shape, with counts from the service's (counted) tasks.
fn to_wire(svc: &ServiceRecord, ts: &TaskSet, tasks: &[Arc<TaskRecord>], tags: bool) -> Value {
    let c = counts(tasks, Some(&ts.id));
    let desired = if svc.status == service::ServiceStatus::Active {
        svc.desired_count
    } else {
        0
    };
    let mut out = json!({
        "id": ts.id,
        "taskSetArn": ts.task_set_arn,
        "serviceArn": svc.service_arn,
        "clusterArn": svc.cluster_arn,
        "externalId": ts.external_id,
        "status": ts.status(),
        "taskDefinition": ts.task_definition,
        "computedDesiredCount": ts.computed_desired_count(desired),
        "pendingCount": c.pending,
        "runningCount": c.running,
        "createdAt": to_epoch_seconds(&ts.created_at),
        "updatedAt": to_epoch_seconds(&ts.updated_at()),
        "launchType": ts.launch_type,
        "networkConfiguration": ts.network_configuration,
        "loadBalancers": ts.load_balancers,
        "serviceRegistries": ts.service_registries,
        "scale": ts.scale(),
        "stabilityStatus": ts.stability_status(),
        "stabilityStatusAt": to_epoch_seconds(&ts.stability_status_at()),
    });
    if tags {
        out["tags"] = serde_json::to_value(&ts.tags).unwrap_or_default();
    }
    out
}
