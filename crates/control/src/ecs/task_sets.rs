//! Task sets of services with the EXTERNAL deployment controller, as CreateTaskSet,
//! UpdateTaskSet, DeleteTaskSet and UpdateServicePrimaryTaskSet change them. A task set
//! lives in its service's record (so one compare-and-swap covers the service and its task
//! sets); the service controller (`controllers/services/task_sets.rs`) runs its tasks.

use chrono::{DateTime, Utc};
use flotilla_model::service::task_set::{NewTaskSet, MAX_TASK_SETS};
use flotilla_model::service::{ServiceRecord, ServiceStatus, TaskSet};
use flotilla_model::{Resource, Scope};

use crate::ecs::services::{cluster_of, launch_of, update, ServiceChange};
use crate::{ControlError, State};

/// The service as the tasks of task set `ts` see it: the task set's task definition,
/// launch type, network configuration, load balancers and service registries in place of
/// the service's. What launching, registering and draining those tasks read.
pub fn view(svc: &ServiceRecord, ts: &TaskSet) -> ServiceRecord {
    let mut v = svc.clone();
    v.task_definition = ts.task_definition.clone();
    v.launch_type = ts.launch_type.clone();
    v.network_configuration = ts.network_configuration.clone();
    v.load_balancers = ts.load_balancers.clone();
    v.service_registries = ts.service_registries.clone();
    v.deployments.clear();
    v.history.clear();
    v.task_sets.clear();
    v
}

/// The task set `id` names in `svc`, or TaskSetNotFoundException.
pub fn find<'a>(svc: &'a ServiceRecord, id: &str) -> Result<&'a TaskSet, ControlError> {
    svc.task_set(id).ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> ControlError {
    ControlError::not_found(
        Resource::TaskSet,
        format!("The specified task set {id} was not found."),
    )
}

/// A task set operation needs an ACTIVE service with the EXTERNAL deployment controller.
pub fn check_external(svc: &ServiceRecord) -> Result<(), ControlError> {
    if svc.status != ServiceStatus::Active {
        return Err(ControlError::service_not_active());
    }
    if !svc.is_external() {
        return Err(ControlError::invalid(
            "Amazon ECS only supports task set management on services configured to use \
             external deployment controllers.",
        ));
    }
    Ok(())
}

/// UpdateService on an EXTERNAL service may change only the desired count, placement,
/// health check grace period, managed tags and tag propagation (and the deployment
/// configuration); what tasks run is each task set's.
pub fn check_change(change: &ServiceChange) -> Result<(), ControlError> {
    let refused = [
        ("taskDefinition", change.task_definition.is_some()),
        ("loadBalancers", change.load_balancers.is_some()),
        ("serviceRegistries", change.service_registries.is_some()),
        (
            "networkConfiguration",
            change.network_configuration.is_some(),
        ),
        ("forceNewDeployment", change.force_new_deployment),
        (
            "enableExecuteCommand",
            change.enable_execute_command.is_some(),
        ),
    ];
    match refused.iter().find(|(_, given)| *given) {
        Some((name, _)) => Err(ControlError::invalid(format!(
            "{name} cannot be updated for a service using the EXTERNAL deployment controller: \
             create a new task set (CreateTaskSet) with it instead."
        ))),
        None => Ok(()),
    }
}

/// What CreateTaskSet asks for, checked on the wire.
pub struct TaskSetRequest {
    pub task_definition: String,
    pub launch_type: Option<String>,
    pub network_configuration: Option<flotilla_model::service::NetworkConfiguration>,
    pub load_balancers: Vec<flotilla_model::service::LoadBalancer>,
    pub service_registries: Vec<flotilla_model::service::ServiceRegistry>,
    pub scale: flotilla_model::service::task_set::Scale,
    pub external_id: Option<String>,
    pub tags: Vec<flotilla_model::tag::Tag>,
    pub client_token: Option<String>,
}

/// CreateTaskSet: a new ACTIVE task set of the service at `key`. A repeated request with
/// the same client token answers with the task set it created.
pub async fn create(
    state: &State,
    scope: &Scope,
    key: &str,
    req: TaskSetRequest,
    now: DateTime<Utc>,
) -> Result<TaskSet, ControlError> {
    let id = flotilla_model::service::task_set::new_task_set_id();
    let mut created = None;
    update(state, key, |svc| {
        check_external(svc)?;
        if let Some(token) = &req.client_token {
            if let Some(t) = svc
                .task_sets
                .iter()
                .find(|t| t.client_token.as_ref() == Some(token))
            {
                created = Some(t.clone());
                return Ok(false);
            }
        }
        if svc.task_sets.len() >= MAX_TASK_SETS {
            return Err(ControlError::invalid(format!(
                "{} task sets exist on the service. Unable to create a new task set since this \
                 exceeds the maximum limit ({MAX_TASK_SETS}); delete one first.",
                svc.task_sets.len()
            )));
        }
        let path = format!("{}/{}/{id}", cluster_of(svc), svc.service_name);
        let ts = TaskSet::create(
            NewTaskSet {
                id: id.clone(),
                task_set_arn: scope.arn("ecs", format!("task-set/{path}")).to_string(),
                task_definition: req.task_definition.clone(),
                launch_type: req
                    .launch_type
                    .clone()
                    .unwrap_or_else(|| svc.launch_type.clone()),
                network_configuration: req
                    .network_configuration
                    .clone()
                    .or_else(|| svc.network_configuration.clone()),
                load_balancers: req.load_balancers.clone(),
                service_registries: req.service_registries.clone(),
                scale: req.scale,
                external_id: req.external_id.clone(),
                tags: req.tags.clone(),
                client_token: req.client_token.clone(),
            },
            now,
        );
        // Everything a task launch checks (launch type, definition, constraints) fails
        // here rather than in the controller.
        launch_of(state, scope, &view(svc, &ts), &ts.task_definition, &ts.id)?;
        svc.task_sets.push(ts.clone());
        svc.steady = false;
        created = Some(ts);
        Ok(true)
    })
    .await?;
    created.ok_or_else(|| not_found(&id))
}

/// Change task set `id` of the service at `key` with `change`; the task set as written.
async fn change_task_set<F>(
    state: &State,
    key: &str,
    id: &str,
    mut change: F,
) -> Result<TaskSet, ControlError>
where
    F: FnMut(&mut ServiceRecord, usize) -> Result<(), ControlError>,
{
    let mut out = None;
    update(state, key, |svc| {
        check_external(svc)?;
        let i = svc
            .task_sets
            .iter()
            .position(|t| t.is(id))
            .ok_or_else(|| not_found(id))?;
        change(svc, i)?;
        out = Some(svc.task_sets[i].clone());
        Ok(true)
    })
    .await?;
    out.ok_or_else(|| not_found(id))
}

fn check_not_draining(ts: &TaskSet) -> Result<(), ControlError> {
    if ts.is_draining() {
        return Err(ControlError::invalid(format!(
            "The task set {} is being deleted (DRAINING) and cannot be changed.",
            ts.id
        )));
    }
    Ok(())
}

/// UpdateTaskSet: a new scale.
pub async fn rescale(
    state: &State,
    key: &str,
    id: &str,
    scale: flotilla_model::service::task_set::Scale,
    now: DateTime<Utc>,
) -> Result<TaskSet, ControlError> {
    change_task_set(state, key, id, |svc, i| {
        check_not_draining(&svc.task_sets[i])?;
        svc.task_sets[i].rescale(scale, now);
        svc.steady = false;
        Ok(())
    })
    .await
}

/// UpdateServicePrimaryTaskSet: task set `id` becomes the PRIMARY, the previous primary
/// ACTIVE; the service shows the primary's task definition, launch type, network
/// configuration, load balancers and service registries.
pub async fn make_primary(
    state: &State,
    key: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<TaskSet, ControlError> {
    change_task_set(state, key, id, |svc, i| {
        check_not_draining(&svc.task_sets[i])?;
        for (j, t) in svc.task_sets.iter_mut().enumerate() {
            if j == i {
                t.promote(now);
            } else {
                t.demote(now);
            }
        }
        let p = svc.task_sets[i].clone();
        svc.task_definition = p.task_definition;
        svc.launch_type = p.launch_type;
        svc.network_configuration = p.network_configuration;
        svc.load_balancers = p.load_balancers;
        svc.service_registries = p.service_registries;
        Ok(())
    })
    .await
}

/// DeleteTaskSet: the task set is DRAINING (its targets are deregistered and its tasks
/// stopped), then gone. One that still wants tasks needs `force`.
pub async fn delete(
    state: &State,
    key: &str,
    id: &str,
    force: bool,
    now: DateTime<Utc>,
) -> Result<TaskSet, ControlError> {
    change_task_set(state, key, id, |svc, i| {
        let wanted = svc.task_sets[i].computed_desired_count(svc.desired_count);
        if wanted > 0 && !force {
            return Err(ControlError::invalid(format!(
                "The task set {} is scaled to {wanted} tasks: scale it to 0 first \
                 (UpdateTaskSet), or delete it with force.",
                svc.task_sets[i].id
            )));
        }
        svc.task_sets[i].drain(now);
        svc.steady = false;
        Ok(())
    })
    .await
}
