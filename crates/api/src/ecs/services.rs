//! Service operations: CreateService, UpdateService, DeleteService, DescribeServices,
//! ListServices.
//!
//! These store what the user asked for; the service controller
//! (`flotilla_control::controllers::services`)
//! makes the tasks follow it.

use std::sync::Arc;

use crate::ecs::error::EcsError;
use flotilla_aws::Context;
use flotilla_control::ecs::capacity_providers::{resolve, Capacity};
use flotilla_control::placement::LAUNCH_TYPES;
use flotilla_model::capacity_provider::{parse_strategy, StrategyItem};
use flotilla_model::gateway::{validate_connectors, GatewayConnector};
use flotilla_model::service::{
    self, launch, validate_load_balancers, validate_service_registries, DeploymentConfiguration,
    DeploymentConfigurationInput, LoadBalancer, NetworkConfiguration, PlacementConstraint,
    PlacementStrategy, ServiceRecord, ServiceRegistry, ServiceStatus,
};
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task::TaskRecord;
use flotilla_model::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use flotilla_control::ecs::services::{
    self, active_definition, check_placement, counted_tasks, counts, find, tasks_of, ClusterTasks,
    ServiceChange,
};

use super::clusters::active_cluster_name;
use super::wants_tags;
use crate::ecs::error::invalid;
use crate::pagination::{page_size, paginate_strings};
use crate::{keys, State};

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    cluster: Option<String>,
    service_name: Option<String>,
    task_definition: Option<String>,
    desired_count: Option<i64>,
    client_token: Option<String>,
    launch_type: Option<String>,
    platform_version: Option<String>,
    role: Option<String>,
    scheduling_strategy: Option<String>,
    deployment_configuration: Option<DeploymentConfigurationInput>,
    #[serde(default)]
    placement_constraints: Vec<PlacementConstraint>,
    #[serde(default)]
    placement_strategy: Vec<PlacementStrategy>,
    #[serde(default)]
    load_balancers: Vec<LoadBalancer>,
    #[serde(default)]
    service_registries: Vec<ServiceRegistry>,
    #[serde(default)]
    gateway_connectors: Vec<GatewayConnector>,
    health_check_grace_period_seconds: Option<i64>,
    network_configuration: Option<NetworkConfiguration>,
    propagate_tags: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
    enable_execute_command: Option<bool>,
    #[serde(default)]
    tags: Vec<Tag>,
    deployment_controller: Option<Value>,
    #[serde(default)]
    capacity_provider_strategy: Vec<Value>,
}

fn check_propagate(p: Option<&str>) -> Result<String, EcsError> {
    match p.unwrap_or("NONE") {
        v @ ("TASK_DEFINITION" | "SERVICE" | "NONE") => Ok(v.to_string()),
        other => Err(invalid(format!(
            "propagateTags '{other}' is invalid: use TASK_DEFINITION, SERVICE or NONE."
        ))),
    }
}

/// `desiredCount` is an Integer of the API model: 0 to 2^31 - 1.
fn check_desired(n: i64) -> Result<i64, EcsError> {
    if !(0..=i64::from(i32::MAX)).contains(&n) {
        return Err(invalid(format!(
            "desiredCount must be between 0 and 2147483647; got {n}."
        )));
    }
    Ok(n)
}

fn check_grace(g: Option<i64>) -> Result<(), EcsError> {
    match g {
        Some(g) if !(0..=i64::from(i32::MAX)).contains(&g) => Err(invalid(format!(
            "healthCheckGracePeriodSeconds must be between 0 and 2147483647; got {g}."
        ))),
        _ => Ok(()),
    }
}

/// The launch type and strategy a new service runs on: the one it gives, or the cluster's
/// default strategy when it gives neither (EC2 without one). A DAEMON service takes no
/// strategy and runs on its launch type.
fn capacity_of(
    state: &State,
    scope: &Scope,
    cluster: &str,
    scheduling: &str,
    input: &CreateInput,
) -> Result<(String, Vec<StrategyItem>), EcsError> {
    let given = parse_strategy(&input.capacity_provider_strategy)?;
    if scheduling == service::DAEMON {
        if !given.is_empty() {
            return Err(services::daemon_strategy().into());
        }
        let l = input.launch_type.clone().unwrap_or_else(|| "EC2".into());
        return Ok((l, vec![]));
    }
    let record = flotilla_control::ecs::clusters::active(state, scope, Some(cluster))?;
    Ok(
        match resolve(&record.value, input.launch_type.as_deref(), &given)? {
            Capacity::LaunchType(l) => (l, vec![]),
            Capacity::Strategy(items) => (String::new(), items),
        },
    )
}

pub async fn create(state: &State, ctx: &Context, input: CreateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let name = input
        .service_name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("serviceName is required."))?;
    service::validate_name(&name)?;
    if let Some(t) = &input.client_token {
        if t.len() > 36 {
            return Err(invalid("clientToken can be at most 36 characters long."));
        }
    }
    let strategy = input
        .scheduling_strategy
        .clone()
        .unwrap_or_else(|| service::REPLICA.into());
    if strategy != service::REPLICA && strategy != service::DAEMON {
        return Err(invalid(format!(
            "schedulingStrategy '{strategy}' is invalid: use REPLICA or DAEMON."
        )));
    }
    let desired = match (strategy.as_str(), input.desired_count) {
        (service::DAEMON, Some(_)) => {
            return Err(invalid(
                "desiredCount is not supported for services with the DAEMON scheduling \
                 strategy: they run one task on each container instance.",
            ))
        }
        (service::DAEMON, None) => 0,
        (_, None) => return Err(invalid("desiredCount is required for a REPLICA service.")),
        (_, Some(n)) => check_desired(n)?,
    };
    let controller = super::task_sets::controller_of(input.deployment_controller.as_ref())?;
    super::task_sets::check_service(controller, &strategy, input.task_definition.as_deref())?;
    let (launch_type, capacity_provider_strategy) =
        capacity_of(state, &scope, &cluster, &strategy, &input)?;
    let dc_input = input.deployment_configuration.clone().unwrap_or_default();
    let deployment_configuration =
        DeploymentConfiguration::default_for(&strategy).merged(&dc_input, &strategy)?;
    let deployment_strategy =
        service::StrategyConfig::default().merged(&dc_input.strategy, &strategy)?;
    check_placement(
        &strategy,
        &input.placement_constraints,
        &input.placement_strategy,
    )?;
    validate_load_balancers(&input.load_balancers)?;
    check_target_groups(state, ctx, &input.load_balancers)?;
    validate_service_registries(&input.service_registries)?;
    check_registries(state, &input.service_registries)?;
    validate_connectors(&input.gateway_connectors)?;
    check_grace(input.health_check_grace_period_seconds)?;
    crate::ecs::check_network(state, ctx, input.network_configuration.as_ref()).await?;
    validate_tags(&input.tags)?;
    let propagate_tags = check_propagate(input.propagate_tags.as_deref())?;
    // Empty when a capacity provider strategy places the tasks.
    if !launch_type.is_empty() && !LAUNCH_TYPES.contains(&launch_type.as_str()) {
        return Err(invalid(format!(
            "launchType '{launch_type}' is invalid: use EC2, FARGATE or EXTERNAL."
        )));
    }
    let platform_version =
        launch::platform_version(&launch_type, input.platform_version.as_deref())?;
    let (task_definition, awsvpc) = if controller.is_ecs() {
        let td = input
            .task_definition
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("taskDefinition is required."))?;
        let definition = active_definition(state, &scope, &td)?;
        let awsvpc = definition.value.definition.network_mode.as_deref() == Some("awsvpc");
        flotilla_control::ecs::gateways::check_ports(
            &definition.value.definition,
            &input.gateway_connectors,
        )?;
        (definition.value.arn().to_string(), awsvpc)
    } else {
        (String::new(), false)
    };
    launch::check_role(
        input.role.as_deref(),
        !input.load_balancers.is_empty(),
        awsvpc,
    )?;
    let now = chrono::Utc::now();
    let svc = ServiceRecord {
        service_arn: scope
            .arn("ecs", format!("service/{cluster}/{name}"))
            .to_string(),
        service_name: name.clone(),
        cluster_arn: scope.cluster_arn(&cluster),
        status: ServiceStatus::Active,
        desired_count: desired,
        launch_type,
        platform_version,
        role: input.role.clone().filter(|r| !r.is_empty()),
        capacity_provider_strategy,
        task_definition,
        scheduling_strategy: strategy,
        deployment_configuration,
        placement_constraints: input.placement_constraints.clone(),
        placement_strategy: input.placement_strategy.clone(),
        load_balancers: input.load_balancers.clone(),
        service_registries: input.service_registries.clone(),
        gateway_connectors: input.gateway_connectors.clone(),
        health_check_grace_period_seconds: input.health_check_grace_period_seconds,
        network_configuration: input.network_configuration.clone(),
        propagate_tags,
        enable_ecs_managed_tags: input.enable_ecs_managed_tags.unwrap_or(false),
        enable_execute_command: input.enable_execute_command.unwrap_or(false),
        tags: input.tags.clone(),
        created_at: now,
        created_by: ctx.principal_arn.clone(),
        client_token: input.client_token.clone(),
        deployments: vec![],
        history: vec![],
        revisions: vec![],
        events: vec![],
        steady: false,
        deployment_controller: controller,
        task_sets: vec![],
        deployment_strategy,
        express: None,
    };
    let svc = services::create(state, &scope, svc, now).await?;
    Ok(json!({ "service": to_wire(state, &scope.region, &svc, true) }))
}

/// The key of the service a request's `cluster` and `service` name.
pub(super) fn located(
    state: &State,
    scope: &Scope,
    cluster: Option<&str>,
    service: Option<&str>,
) -> Result<String, EcsError> {
    let cluster = active_cluster_name(state, scope, cluster)?;
    let id = service.ok_or_else(|| invalid("service is required."))?;
    let entry = find(state, scope, &cluster, id)?;
    Ok(keys::service(
        &scope.region,
        &cluster,
        &entry.value.service_name,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    cluster: Option<String>,
    service: Option<String>,
    desired_count: Option<i64>,
    task_definition: Option<String>,
    deployment_configuration: Option<DeploymentConfigurationInput>,
    placement_constraints: Option<Vec<PlacementConstraint>>,
    placement_strategy: Option<Vec<PlacementStrategy>>,
    #[serde(default)]
    force_new_deployment: bool,
    health_check_grace_period_seconds: Option<i64>,
    load_balancers: Option<Vec<LoadBalancer>>,
    service_registries: Option<Vec<ServiceRegistry>>,
    gateway_connectors: Option<Vec<GatewayConnector>>,
    network_configuration: Option<NetworkConfiguration>,
    propagate_tags: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
    enable_execute_command: Option<bool>,
    #[serde(default)]
    capacity_provider_strategy: Vec<Value>,
    deployment_controller: Option<Value>,
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let key = located(
        state,
        &scope,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    let capacity_provider_strategy = parse_strategy(&input.capacity_provider_strategy)?;
    if input.deployment_controller.is_some() {
        return Err(invalid(
            "deploymentController cannot be changed once a service is created.",
        ));
    }
    if let Some(n) = input.desired_count {
        check_desired(n)?;
    }
    check_grace(input.health_check_grace_period_seconds)?;
    crate::ecs::check_network(state, ctx, input.network_configuration.as_ref()).await?;
    if let Some(l) = &input.load_balancers {
        validate_load_balancers(l)?;
        check_target_groups(state, ctx, l)?;
    }
    if let Some(r) = &input.service_registries {
        validate_service_registries(r)?;
        check_registries(state, r)?;
    }
    if let Some(c) = &input.gateway_connectors {
        validate_connectors(c)?;
    }
    let propagate = match &input.propagate_tags {
        Some(p) => Some(check_propagate(Some(p))?),
        None => None,
    };
    let task_definition = match input.task_definition.as_deref().filter(|t| !t.is_empty()) {
        Some(td) => Some(
            active_definition(state, &scope, td)?
                .value
                .arn()
                .to_string(),
        ),
        None => None,
    };
    let change = ServiceChange {
        desired_count: input.desired_count,
        task_definition,
        deployment_configuration: input.deployment_configuration,
        placement_constraints: input.placement_constraints,
        placement_strategy: input.placement_strategy,
        force_new_deployment: input.force_new_deployment,
        health_check_grace_period_seconds: input.health_check_grace_period_seconds,
        load_balancers: input.load_balancers,
        service_registries: input.service_registries,
        gateway_connectors: input.gateway_connectors,
        network_configuration: input.network_configuration,
        propagate_tags: propagate,
        enable_ecs_managed_tags: input.enable_ecs_managed_tags,
        enable_execute_command: input.enable_execute_command,
        capacity_provider_strategy: (!capacity_provider_strategy.is_empty())
            .then_some(capacity_provider_strategy),
        express: None,
    };
    let svc = services::change(state, &scope, &key, &change, chrono::Utc::now()).await?;
    Ok(json!({ "service": to_wire(state, &scope.region, &svc, true) }))
}

#[derive(Deserialize)]
pub struct DeleteInput {
    cluster: Option<String>,
    service: Option<String>,
    force: Option<bool>,
}

pub async fn delete(state: &State, ctx: &Context, input: DeleteInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let key = located(
        state,
        &scope,
        input.cluster.as_deref(),
        input.service.as_deref(),
    )?;
    let force = input.force.unwrap_or(false);
    let svc = services::delete(state, &key, force, chrono::Utc::now()).await?;
    Ok(json!({ "service": to_wire(state, &scope.region, &svc, true) }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeInput {
    cluster: Option<String>,
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
}

pub fn describe(state: &State, ctx: &Context, input: DescribeInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    if input.services.is_empty() || input.services.len() > 10 {
        return Err(invalid("services must name between 1 and 10 services."));
    }
    let tags = wants_tags(&input.include, &["TAGS"])?;
    let in_cluster = ClusterTasks::load(state, &scope.region, &cluster);
    let (found, failures) = super::describe_each(
        &input.services,
        |id| {
            find(state, &scope, &cluster, id).ok().map(|e| {
                let tasks = in_cluster.of(&e.value);
                to_wire_with(state, &scope.region, &e.value, tags, tasks)
            })
        },
        |id| Some(id.to_string()),
    );
    Ok(json!({ "services": found, "failures": failures }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListInput {
    cluster: Option<String>,
    launch_type: Option<String>,
    scheduling_strategy: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
}

pub fn list(state: &State, ctx: &Context, input: ListInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let size = page_size(input.max_results, 100)?;
    let size = if input.max_results.is_none() {
        10
    } else {
        size
    };
    let prefix = keys::in_cluster(keys::SERVICES, &scope.region, &cluster);
    let mut arns: Vec<String> = state
        .services()
        .range(prefix.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .filter(|s| s.status == ServiceStatus::Active)
        .filter(|s| {
            input
                .launch_type
                .as_ref()
                .is_none_or(|l| *l == s.launch_type)
        })
        .filter(|s| {
            input
                .scheduling_strategy
                .as_ref()
                .is_none_or(|l| *l == s.scheduling_strategy)
        })
        .map(|s| s.service_arn.clone())
        .collect();
    arns.sort();
    let (page, next) = paginate_strings(arns, input.next_token.as_deref(), size)?;
    Ok(json!({ "serviceArns": page, "nextToken": next }))
}

/// Every service registry must be an existing Cloud Map service.
pub(super) fn check_registries(
    state: &State,
    registries: &[service::ServiceRegistry],
) -> Result<(), EcsError> {
    for arn in registries.iter().filter_map(|r| r.registry_arn.as_deref()) {
        if flotilla_control::servicediscovery::service_by_arn(state, arn).is_none() {
            return Err(invalid(format!(
                "serviceRegistries: the Cloud Map service {arn} does not exist."
            )));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ByNamespaceInput {
    namespace: String,
    next_token: Option<String>,
    max_results: Option<i64>,
}

/// ListServicesByNamespace: the active services of every cluster whose service registry
/// is a Cloud Map service in the namespace (named by name or ARN).
pub fn list_by_namespace(
    state: &State,
    ctx: &Context,
    input: ByNamespaceInput,
) -> Result<Value, EcsError> {
    use flotilla_control::servicediscovery as sd;
    let scope = crate::scope(state, ctx);
    let size = match input.max_results {
        None => 10,
        Some(_) => page_size(input.max_results, 100)?,
    };
    let namespace = if input.namespace.starts_with("arn:") {
        sd::namespaces::get(state, &scope.region, &input.namespace)
            .ok()
            .map(|e| e.value)
    } else {
        sd::namespaces::by_name(state, &scope.region, &input.namespace)
    };
    let Some(namespace) = namespace else {
        return Err(EcsError::Wire(flotilla_aws::AwsError::client(
            "NamespaceNotFoundException",
            format!("The namespace {} was not found.", input.namespace),
        )));
    };
    let prefix = format!("{}{}/", keys::SERVICES, scope.region);
    let mut arns: Vec<String> = state
        .services()
        .range(prefix.as_bytes())
        .iter()
        .map(|(_, e)| e.value.clone())
        .filter(|s| s.status == ServiceStatus::Active)
        .filter(|s| {
            s.service_registries.iter().any(|r| {
                r.registry_arn
                    .as_deref()
                    .and_then(|arn| sd::service_by_arn(state, arn))
                    .is_some_and(|d| d.namespace_id == namespace.id)
            })
        })
        .map(|s| s.service_arn.clone())
        .collect();
    arns.sort();
    let (page, next) = paginate_strings(arns, input.next_token.as_deref(), size)?;
    Ok(json!({ "serviceArns": page, "nextToken": next }))
}

/// A `deploymentConfiguration` on the wire: the rolling settings and the strategy's.
pub(super) fn deployment_configuration(
    dc: &DeploymentConfiguration,
    strategy: &service::StrategyConfig,
) -> Value {
    let mut out = serde_json::to_value(dc).unwrap_or_else(|_| json!({}));
    strategy.render(&mut out);
    out
}

/// The ECS `Deployment` shape, with the deployment's task counts.
fn deployment_wire(
    svc: &ServiceRecord,
    d: &service::Deployment,
    tasks: &[Arc<TaskRecord>],
) -> Value {
    let c = counts(tasks, Some(&d.id));
    json!({
        "id": d.id,
        "status": d.status(),
        "taskDefinition": d.task_definition,
        "desiredCount": d.desired_count,
        "pendingCount": c.pending,
        "runningCount": c.running,
        "failedTasks": d.failed_tasks,
        "createdAt": flotilla_model::timestamp::to_epoch_seconds(&d.created_at),
        "updatedAt": flotilla_model::timestamp::to_epoch_seconds(&d.updated_at),
        "launchType": non_empty(&d.launch_type),
        "capacityProviderStrategy": strategy_wire(&d.capacity_provider_strategy),
        "platformVersion": d.platform_version,
        "platformFamily": d.platform_version.as_ref().map(|_| launch::PLATFORM_FAMILY),
        "networkConfiguration": svc.network_configuration,
        "rolloutState": d.rollout_state(),
        "rolloutStateReason": d.rollout_state_reason(),
    })
}

/// A launch type, absent when a strategy is used instead.
pub(crate) fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

/// A capacity provider strategy, absent when there is none.
pub(crate) fn strategy_wire(items: &[StrategyItem]) -> Option<&[StrategyItem]> {
    (!items.is_empty()).then_some(items)
}

/// The ECS `Service` shape, with task counts from the tasks view.
pub fn to_wire(state: &State, region: &str, svc: &ServiceRecord, tags: bool) -> Value {
    to_wire_with(state, region, svc, tags, tasks_of(state, region, svc))
}

/// [`to_wire`] with the service's tasks already read.
fn to_wire_with(
    state: &State,
    region: &str,
    svc: &ServiceRecord,
    tags: bool,
    tasks: Vec<Arc<TaskRecord>>,
) -> Value {
    let tasks = counted_tasks(state, region, svc, tasks);
    let c = counts(&tasks, None);
    let deployments: Vec<Value> = svc
        .deployments
        .iter()
        .map(|d| deployment_wire(svc, d, &tasks))
        .collect();
    let revisions: Vec<Value> = svc
        .deployments
        .iter()
        .map(|d| {
            let c = counts(&tasks, Some(&d.id));
            json!({
                "arn": d.service_revision_arn,
                "requestedTaskCount": d.desired_count,
                "runningTaskCount": c.running,
                "pendingTaskCount": c.pending,
            })
        })
        .collect();
    let mut out = json!({
        "serviceArn": svc.service_arn,
        "serviceName": svc.service_name,
        "clusterArn": svc.cluster_arn,
        "loadBalancers": svc.load_balancers,
        "serviceRegistries": svc.service_registries,
        "status": svc.status,
        "desiredCount": svc.desired_count,
        "runningCount": c.running,
        "pendingCount": c.pending,
        "launchType": non_empty(&svc.launch_type),
        "capacityProviderStrategy": strategy_wire(&svc.capacity_provider_strategy),
        "platformVersion": svc.platform_version,
        "platformFamily": svc.platform_version.as_ref().map(|_| launch::PLATFORM_FAMILY),
        "roleArn": launch::role_arn(
            &flotilla_model::Arn::parse(&svc.service_arn)
                .map(|a| a.account)
                .unwrap_or_default(),
            svc.role.as_deref()
        ),
        // An EXTERNAL service has one once it has a primary task set.
        "taskDefinition": (!svc.task_definition.is_empty()).then_some(&svc.task_definition),
        "deploymentConfiguration": deployment_configuration(
            &svc.deployment_configuration,
            &svc.deployment_strategy,
        ),
        "deployments": deployments,
        "events": svc.events,
        "createdAt": flotilla_model::timestamp::to_epoch_seconds(&svc.created_at),
        "currentServiceDeployment": svc.primary().map(|d| d.service_deployment_arn.clone()),
        "currentServiceRevisions": revisions,
        "placementConstraints": svc.placement_constraints,
        "placementStrategy": svc.placement_strategy,
        "networkConfiguration": svc.network_configuration,
        "healthCheckGracePeriodSeconds": svc.health_check_grace_period_seconds,
        "schedulingStrategy": svc.scheduling_strategy,
        "deploymentController": { "type": svc.deployment_controller },
        "createdBy": svc.created_by,
        "enableECSManagedTags": svc.enable_ecs_managed_tags,
        "propagateTags": svc.propagate_tags,
        "enableExecuteCommand": svc.enable_execute_command,
    });
    if svc.is_external() {
        out["taskSets"] = super::task_sets::all_to_wire(svc, &tasks, false);
    }
    if tags {
        out["tags"] = serde_json::to_value(&svc.tags).unwrap_or_default();
    }
    out
}

/// Every target group a service names exists and is behind a load balancer.
pub(super) fn check_target_groups(
    state: &State,
    ctx: &Context,
    lbs: &[flotilla_model::service::LoadBalancer],
) -> Result<(), EcsError> {
    let scope = crate::scope(state, ctx);
    for arn in lbs.iter().filter_map(|l| l.target_group_arn.as_deref()) {
        flotilla_control::elbv2::target_groups::check_for_service(state, &scope, arn)?;
    }
    Ok(())
}
