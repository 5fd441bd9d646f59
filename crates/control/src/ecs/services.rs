//! ECS services: what the service operations and the service controller share — finding a
//! service and its tasks, starting and rolling back a deployment, and changing the stored
//! record with compare-and-swap.
//!
//! The API owns a service's configuration (CreateService, UpdateService, DeleteService);
//! the controller owns its deployments' progress and its events. Both change the one
//! record through [`update`], which re-reads and re-applies the change when the other
//! wrote in between.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::record::encode;
use flotilla_model::service::{
    new_deployment_id, new_resource_id, Deployment, NewDeployment, ServiceRecord, ServiceRevision,
};
use flotilla_model::task::{HealthStatus, TaskRecord, TaskStatus};
use flotilla_model::{ecs_name, Arn, EcsRef, Scope};
use flotilla_store::view::Entry;

use flotilla_model::tag::Tag;
use flotilla_model::task::overrides::TaskOverride;
use flotilla_scheduler as scheduler;

use crate::ecs::task_definitions;
use crate::placement::{LaunchRequest, LaunchSpec};
use crate::{keys, ControlError, State};

mod operations;
pub mod shift;

pub use operations::{
    active_definition, change, check_placement, create, daemon_strategy, delete, stop_deployment,
    ServiceChange, StopType,
};

/// The service name a `service` parameter (name or ARN) refers to.
pub fn service_name(id: &str, scope: &Scope) -> Result<String, ControlError> {
    Ok(ecs_name(id, EcsRef::Service, scope)?)
}

/// The stored service `id` names in `cluster`, whatever its status.
pub fn find(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
) -> Result<Entry<ServiceRecord>, ControlError> {
    let name = service_name(id, scope)?;
    state
        .services()
        .get(keys::service(&scope.region, cluster, &name).as_bytes())
        .ok_or_else(ControlError::service_not_found)
}

/// The group every task of a service carries.
pub fn group(name: &str) -> String {
    format!("service:{name}")
}

/// The name of the cluster a service is in.
pub fn cluster_of(svc: &ServiceRecord) -> &str {
    svc.cluster_arn.rsplit('/').next().unwrap_or("")
}

/// The service tasks of one cluster by group, from one pass over the tasks view: what
/// describing several services, or reconciling them, reads instead of a pass each.
#[derive(Default)]
pub struct ClusterTasks {
    by_group: HashMap<String, Vec<Arc<TaskRecord>>>,
}

impl ClusterTasks {
    pub fn load(state: &State, region: &str, cluster: &str) -> ClusterTasks {
        let prefix = keys::in_cluster(keys::TASKS, region, cluster);
        let mut by_group: HashMap<String, Vec<Arc<TaskRecord>>> = HashMap::new();
        for (_, e) in state.tasks().range(prefix.as_bytes()) {
            if let Some(g) = e
                .value
                .group
                .as_deref()
                .filter(|g| g.starts_with("service:"))
            {
                by_group.entry(g.to_string()).or_default().push(e.value);
            }
        }
        ClusterTasks { by_group }
    }

    /// The tasks of a service's deployments (live and stopped).
    pub fn of(&self, svc: &ServiceRecord) -> Vec<Arc<TaskRecord>> {
        self.by_group
            .get(&group(&svc.service_name))
            .into_iter()
            .flatten()
            .filter(|t| t.started_by.as_deref().is_some_and(|s| svc.owns(s)))
            .cloned()
            .collect()
    }
}

/// The tasks of one service's deployments (live and stopped), from the tasks view.
pub fn tasks_of(state: &State, region: &str, svc: &ServiceRecord) -> Vec<Arc<TaskRecord>> {
    ClusterTasks::load(state, region, cluster_of(svc)).of(svc)
}

/// The tasks a service's counts are made of: its `tasks`, less those asked to stop on an
/// instance whose agent is disconnected (they were replaced elsewhere and stop when the
/// agent returns; counting them would keep the service from ever looking stable).
pub fn counted_tasks(
    state: &State,
    region: &str,
    svc: &ServiceRecord,
    tasks: Vec<Arc<TaskRecord>>,
) -> Vec<Arc<TaskRecord>> {
    let cluster = cluster_of(svc);
    tasks
        .into_iter()
        .filter(|t| {
            let instance = t.container_instance_arn.as_deref().unwrap_or("");
            let id = instance.rsplit('/').next().unwrap_or("");
            t.desired_status == TaskStatus::Running || state.agent_connected(region, cluster, id)
        })
        .collect()
}

/// Running and pending counts of tasks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub running: i64,
    pub pending: i64,
}

/// Counts of one deployment (or of the whole service), as ECS counts them: a task is
/// running while its last status is RUNNING (also while it is being stopped), pending
/// while it is on its way to RUNNING.
pub fn counts(tasks: &[Arc<TaskRecord>], deployment: Option<&str>) -> Counts {
    tasks
        .iter()
        .filter(|t| deployment.is_none_or(|d| t.started_by.as_deref() == Some(d)))
        .fold(Counts::default(), |mut c, t| {
            if t.last_status == TaskStatus::Running {
                c.running += 1;
            } else if t.last_status < TaskStatus::Running && t.desired_status == TaskStatus::Running
            {
                c.pending += 1;
            }
            c
        })
}

/// Whether a task counts as healthy: RUNNING and, where its containers have health
/// checks, HEALTHY.
pub fn healthy(t: &TaskRecord, has_health_check: bool) -> bool {
    t.desired_status == TaskStatus::Running
        && t.last_status == TaskStatus::Running
        && if has_health_check {
            t.health_status == HealthStatus::Healthy
        } else {
            t.health_status != HealthStatus::Unhealthy
        }
}

/// A new deployment of the service's current configuration, with its revision, as the
/// PRIMARY; `reason` says why it started. The previous primary becomes ACTIVE.
pub fn start_deployment(svc: &mut ServiceRecord, now: DateTime<Utc>, rollback_of: Option<&str>) {
    let arn = Arn::parse(&svc.service_arn);
    let (region, account) = arn
        .as_ref()
        .map(|a| (a.region.clone(), a.account.clone()))
        .unwrap_or_default();
    let scope = Scope::new(region, account);
    let cluster = cluster_of(svc).to_string();
    let path = format!("{cluster}/{}", svc.service_name);
    let revision_arn = scope
        .arn(
            "ecs",
            format!("service-revision/{path}/{}", revision_number()),
        )
        .to_string();
    let sd_arn = scope
        .arn(
            "ecs",
            format!("service-deployment/{path}/{}", new_resource_id()),
        )
        .to_string();
    let shift = shift::new_shift(svc, now);
    let mut sources = Vec::new();
    for d in &mut svc.deployments {
        d.replace(now);
        if !sources.contains(&d.service_revision_arn) {
            sources.push(d.service_revision_arn.clone());
        }
    }
    let id = new_deployment_id();
    let reason = match rollback_of {
        Some(failed) => format!(
            "ECS deployment circuit breaker: rolling back from deploymentId {failed} to \
             deploymentId {id}."
        ),
        None => format!("ECS deployment {id} in progress."),
    };
    if let Some(x) = &mut svc.express {
        x.stamp(&revision_arn);
    }
    svc.revisions.push(ServiceRevision {
        service_revision_arn: revision_arn.clone(),
        task_definition: svc.task_definition.clone(),
        launch_type: svc.launch_type.clone(),
        capacity_provider_strategy: svc.capacity_provider_strategy.clone(),
        load_balancers: svc.load_balancers.clone(),
        service_registries: svc.service_registries.clone(),
        container_images: vec![],
        gateway_connectors: svc.gateway_connectors.clone(),
        created_at: now,
    });
    let new = NewDeployment {
        id,
        task_definition: svc.task_definition.clone(),
        launch_type: svc.launch_type.clone(),
        platform_version: svc
            .platform_version
            .as_deref()
            .map(|v| flotilla_model::service::launch::resolved(v).to_string()),
        capacity_provider_strategy: svc.capacity_provider_strategy.clone(),
        desired_count: svc.desired_count,
        service_deployment_arn: sd_arn,
        service_revision_arn: revision_arn,
        source_revisions: sources,
        deployment_configuration: svc.deployment_configuration.clone(),
        deployment_strategy: svc.deployment_strategy.clone(),
        shift,
        reason,
    };
    svc.deployments.insert(0, Deployment::start(new, now));
    svc.steady = false;
}

/// A service revision number: 19 digits, like a deployment id's.
fn revision_number() -> String {
    new_deployment_id()["ecs-svc/".len()..].to_string()
}

/// How often [`update`] re-reads and re-applies a change that lost a race.
const ATTEMPTS: usize = 16;

/// Change the stored service at `key` with `change` (which may refuse with an error, or
/// decide there is nothing to write by returning `Ok(false)`), compare-and-swap; re-read
/// and re-apply when another writer won. Returns the record as written (or as found).
pub async fn update<F>(
    state: &State,
    key: &str,
    mut change: F,
) -> Result<ServiceRecord, ControlError>
where
    F: FnMut(&mut ServiceRecord) -> Result<bool, ControlError>,
{
    for _ in 0..ATTEMPTS {
        let entry = state
            .services()
            .get(key.as_bytes())
            .ok_or_else(ControlError::service_not_found)?;
        let mut svc = (*entry.value).clone();
        if !change(&mut svc)? {
            return Ok(svc);
        }
        if state
            .put_if_unchanged(key, entry.mod_revision, encode(&svc))
            .await?
        {
            return Ok(svc);
        }
    }
    Err(ControlError::Contended(
        "The service kept changing while it was being updated; retry the request.".into(),
    ))
}

/// Fail the primary deployment and start a new one from the last completed deployment's
/// task definition (circuit breaker rollback, or StopServiceDeployment ROLLBACK); `Err`
/// says why it cannot.
pub fn roll_back(svc: &mut ServiceRecord, now: DateTime<Utc>, reason: &str) -> Result<(), String> {
    if shift::roll_back(svc, now, reason) {
        return Ok(());
    }
    let target = svc
        .last_completed()
        .map(|d| {
            (
                d.task_definition.clone(),
                d.service_revision_arn.clone(),
                d.id.clone(),
            )
        })
        .ok_or_else(|| "There is no earlier completed deployment to roll back to.".to_string())?;
    let (task_definition, revision, target_id) = target;
    let failed = svc
        .primary_mut()
        .ok_or_else(|| "The service has no deployment in progress.".to_string())?;
    failed.fail_and_roll_back(reason, &revision, now);
    let failed_id = failed.id.clone();
    svc.task_definition = task_definition;
    start_deployment(svc, now, Some(&failed_id));
    let name = svc.service_name.clone();
    svc.push_event(
        format!("(service {name}) rolling back to deployment {target_id}."),
        now,
    );
    Ok(())
}

/// The request to start a service's tasks from `task_definition` (of `deployment`), checked
/// as RunTask checks its request.
pub fn launch_of(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    task_definition: &str,
    deployment: &str,
) -> Result<LaunchSpec, ControlError> {
    let tags = match svc.propagate_tags.as_str() {
        "SERVICE" => svc.tags.clone(),
        "TASK_DEFINITION" => task_definitions::resolve(state, scope, task_definition)
            .map(|d| d.value.tags.clone())
            .unwrap_or_default(),
        _ => vec![],
    };
    let request = LaunchRequest {
        cluster: Some(svc.cluster_arn.clone()),
        task_definition: task_definition.to_string(),
        launch_type: svc
            .capacity_provider_strategy
            .is_empty()
            .then(|| svc.launch_type.clone()),
        capacity_provider_strategy: svc.capacity_provider_strategy.clone(),
        overrides: TaskOverride::default(),
        started_by: Some(deployment.to_string()),
        group: Some(group(&svc.service_name)),
        tags,
        placement_constraints: svc.placement_constraints.clone(),
        allow_inactive: true,
        enable_execute_command: svc.enable_execute_command,
        network: svc
            .network_configuration
            .as_ref()
            .and_then(|n| n.awsvpc_configuration.clone()),
    };
    let mut launch = LaunchSpec::check(state, scope, request)?;
    // Managed tags are ECS's own (`aws:` keys a user may not set), so they are added after
    // the check.
    if svc.enable_ecs_managed_tags {
        for (k, v) in [
            ("aws:ecs:serviceName", svc.service_name.as_str()),
            ("aws:ecs:clusterName", cluster_of(svc)),
        ] {
            launch.tags.push(Tag {
                key: Some(k.into()),
                value: Some(v.into()),
            });
        }
    }
    Ok(launch)
}

/// The service's tasks that are wanted running, counted by the capacity provider each was
/// placed with: what a strategy's bases and weights count when the service starts more.
pub fn tasks_by_provider(
    state: &State,
    region: &str,
    svc: &ServiceRecord,
) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for t in tasks_of(state, region, svc) {
        if let (TaskStatus::Running, Some(p)) = (t.desired_status, &t.capacity_provider_name) {
            *out.entry(p.clone()).or_insert(0) += 1;
        }
    }
    out
}

/// The placement strategies of a service, parsed. Without any, the service scheduler
/// spreads tasks across availability zones and then across instances, as ECS's does.
pub fn strategies_of(svc: &ServiceRecord) -> Vec<scheduler::Strategy> {
    let given: Vec<(&str, Option<&str>)> = svc
        .placement_strategy
        .iter()
        .map(|s| (s.kind.as_str(), s.field.as_deref()))
        .collect();
    let spread = [
        ("spread", Some("attribute:ecs.availability-zone")),
        ("spread", Some("instanceId")),
    ];
    let chosen = if given.is_empty() {
        &spread[..]
    } else {
        &given[..]
    };
    chosen
        .iter()
        .filter_map(|(kind, field)| scheduler::parse_strategy(kind, *field).ok())
        .collect()
}

/// An ACTIVE REPLICA service `cluster/name` of `desired` tasks in us-east-1 with its first
/// deployment started, as the tests of the controllers build one.
#[cfg(test)]
pub(crate) fn test_record(
    cluster: &str,
    name: &str,
    desired: i64,
    now: DateTime<Utc>,
) -> ServiceRecord {
    use flotilla_model::service::{DeploymentConfiguration, ServiceStatus, REPLICA};
    let mut s = ServiceRecord {
        service_arn: format!("arn:aws:ecs:us-east-1:000000000000:service/{cluster}/{name}"),
        service_name: name.into(),
        cluster_arn: format!("arn:aws:ecs:us-east-1:000000000000:cluster/{cluster}"),
        status: ServiceStatus::Active,
        desired_count: desired,
        launch_type: "EC2".into(),
        platform_version: None,
        role: None,
        capacity_provider_strategy: vec![],
        task_definition: format!("arn:aws:ecs:us-east-1:000000000000:task-definition/{name}:1"),
        scheduling_strategy: REPLICA.into(),
        deployment_configuration: DeploymentConfiguration::default_for(REPLICA),
        placement_constraints: vec![],
        placement_strategy: vec![],
        load_balancers: vec![],
        service_registries: vec![],
        gateway_connectors: vec![],
        health_check_grace_period_seconds: None,
        network_configuration: None,
        propagate_tags: "NONE".into(),
        enable_ecs_managed_tags: false,
        enable_execute_command: false,
        tags: vec![],
        created_at: now,
        created_by: "me".into(),
        client_token: None,
        deployments: vec![],
        history: vec![],
        revisions: vec![],
        events: vec![],
        steady: false,
        deployment_controller: Default::default(),
        task_sets: vec![],
        deployment_strategy: Default::default(),
        express: None,
    };
    start_deployment(&mut s, now, None);
    s
}
