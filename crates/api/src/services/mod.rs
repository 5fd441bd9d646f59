//! What the service operations and the service controller share: finding a service and its
//! tasks, starting a deployment, and changing the stored record with compare-and-swap.
//!
//! The API owns a service's configuration (CreateService, UpdateService, DeleteService);
//! the controller owns its deployments' progress and its events. Both change the one
//! record through [`update`], which re-reads and re-applies the change when the other
//! wrote in between.

pub mod controller;
pub mod leader;
pub mod plan;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_aws::AwsError;
use flotilla_model::record::encode;
use flotilla_model::service::{
    self, new_deployment_id, new_resource_id, Deployment, ServiceRecord, ServiceRevision,
};
use flotilla_model::task::{HealthStatus, TaskRecord, TaskStatus};
use flotilla_model::{Arn, Scope};
use flotilla_store::view::Entry;

use crate::error::{client, invalid};
use crate::{keys, State};

/// `ServiceNotFoundException`.
pub fn not_found() -> AwsError {
    AwsError::client("ServiceNotFoundException", "Service not found.")
}

/// `ServiceNotActiveException`.
pub fn not_active() -> AwsError {
    AwsError::client("ServiceNotActiveException", "Service was not ACTIVE.")
}

/// The service name a `service` parameter (name or ARN) refers to.
pub fn service_name(id: &str) -> Result<String, AwsError> {
    if id.starts_with("arn:") {
        let arn = Arn::parse(id)
            .filter(|a| a.service == "ecs" && a.resource_parts().0 == "service")
            .ok_or_else(|| invalid(format!("'{id}' is not a service ARN.")))?;
        Ok(arn.resource.rsplit('/').next().unwrap_or("").to_string())
    } else if id.is_empty() || id.contains('/') {
        Err(invalid(format!("'{id}' is not a service name or ARN.")))
    } else {
        Ok(id.to_string())
    }
}

/// The stored service `id` names in `cluster`, whatever its status.
pub fn find(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
) -> Result<Entry<ServiceRecord>, AwsError> {
    let name = service_name(id)?;
    state
        .services()
        .get(keys::service(&scope.region, cluster, &name).as_bytes())
        .ok_or_else(not_found)
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
            .filter(|t| {
                t.started_by
                    .as_deref()
                    .is_some_and(|s| svc.deployments.iter().any(|d| d.id == s))
            })
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
    let mut sources = Vec::new();
    for d in &mut svc.deployments {
        if d.status == service::PRIMARY {
            d.status = service::ACTIVE_DEPLOYMENT.into();
            d.updated_at = now;
            if d.deployment_status == "IN_PROGRESS" || d.deployment_status == "PENDING" {
                d.deployment_status = "STOPPED".into();
                d.status_reason = Some("A new deployment of the service replaced it.".into());
                d.stopped_at = Some(now);
            }
        }
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
    svc.revisions.push(ServiceRevision {
        service_revision_arn: revision_arn.clone(),
        task_definition: svc.task_definition.clone(),
        launch_type: svc.launch_type.clone(),
        load_balancers: svc.load_balancers.clone(),
        service_registries: svc.service_registries.clone(),
        container_images: vec![],
        created_at: now,
    });
    svc.deployments.insert(
        0,
        Deployment {
            id,
            status: service::PRIMARY.into(),
            task_definition: svc.task_definition.clone(),
            launch_type: svc.launch_type.clone(),
            desired_count: svc.desired_count,
            failed_tasks: 0,
            created_at: now,
            updated_at: now,
            rollout_state: service::IN_PROGRESS.into(),
            rollout_state_reason: reason,
            service_deployment_arn: sd_arn,
            service_revision_arn: revision_arn,
            source_revisions: sources,
            deployment_status: "IN_PROGRESS".into(),
            status_reason: None,
            finished_at: None,
            stopped_at: None,
            deployment_configuration: svc.deployment_configuration.clone(),
            rollback: None,
        },
    );
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
pub async fn update<F>(state: &State, key: &str, mut change: F) -> Result<ServiceRecord, AwsError>
where
    F: FnMut(&mut ServiceRecord) -> Result<bool, AwsError>,
{
    for _ in 0..ATTEMPTS {
        let entry = state.services().get(key.as_bytes()).ok_or_else(not_found)?;
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
    Err(client(
        "The service kept changing while it was being updated; retry the request.",
    ))
}

/// Fail the primary deployment and start a new one from the last completed deployment's
/// task definition (circuit breaker rollback, or StopServiceDeployment ROLLBACK); `Err`
/// says why it cannot.
pub fn roll_back(svc: &mut ServiceRecord, now: DateTime<Utc>, reason: &str) -> Result<(), String> {
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
    failed.rollout_state = service::FAILED.into();
    failed.rollout_state_reason = reason.to_string();
    failed.deployment_status = "ROLLBACK_IN_PROGRESS".into();
    failed.status_reason = Some(reason.to_string());
    failed.updated_at = now;
    failed.rollback = Some(service::Rollback {
        reason: reason.to_string(),
        started_at: now,
        service_revision_arn: revision,
    });
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
