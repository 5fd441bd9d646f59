//! ECS managed daemons: CreateDaemon, UpdateDaemon and DeleteDaemon change a daemon's one
//! record (`/ecs/daemons/{region}/{cluster}/{name}`): each adds a deployment (with a new
//! revision, except DeleteDaemon's, which only drains). The daemon controller
//! (`controllers/daemons.rs`) makes the instances of the daemon's capacity providers run
//! the current revision's task. Daemon task definitions are in [`task_definitions`].

pub mod task_definitions;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::capacity_provider as cp;
use flotilla_model::container_instance::{self, ContainerInstanceRecord};
use flotilla_model::daemon::{
    self, ContainerImage, DaemonRecord, DaemonStatus, Deployment, DeploymentConfiguration,
    DeploymentConfigurationInput, Revision,
};
use flotilla_model::record::encode;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::Scope;
use flotilla_store::view::Entry;

use crate::ecs::{capacity_providers, clusters};
use crate::placement::launch::{LaunchRequest, LaunchSpec};
use crate::{keys, ControlError, State};

/// What CreateDaemon and UpdateDaemon set; `None` keeps the daemon's value (or takes the
/// default on create).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub daemon_task_definition: String,
    pub capacity_providers: Vec<String>,
    pub deployment_configuration: Option<DeploymentConfigurationInput>,
    pub propagate_tags: Option<String>,
    pub enable_ecs_managed_tags: Option<bool>,
    pub enable_execute_command: Option<bool>,
    pub critical: Option<bool>,
}

/// The group of a daemon's tasks.
pub fn group(name: &str) -> String {
    format!("daemon:{name}")
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The daemon a daemon ARN names, with its key (DaemonNotFoundException when there is none).
pub fn resolve(
    state: &State,
    scope: &Scope,
    arn: &str,
) -> Result<(String, Entry<DaemonRecord>), ControlError> {
    let (cluster, name, _) = daemon::parse_arn(arn, "daemon", scope)?;
    let key = keys::daemon(&scope.region, &cluster, &name);
    let entry = state
        .daemons()
        .get(key.as_bytes())
        .ok_or_else(ControlError::daemon_not_found)?;
    Ok((key, entry))
}

/// The capacity providers a daemon may run on: ACTIVE custom providers attached to
/// `cluster`, by name (ARNs or names given).
fn providers(
    state: &State,
    scope: &Scope,
    cluster: &flotilla_model::cluster::ClusterRecord,
    given: &[String],
) -> Result<Vec<String>, ControlError> {
    if given.is_empty() {
        return Err(ControlError::invalid(
            "capacityProviderArns must name a capacity provider.",
        ));
    }
    let mut names = Vec::new();
    for id in given {
        let name = capacity_providers::name_of(id).to_string();
        if cp::is_built_in(&name) {
            return Err(ControlError::invalid(format!(
                "Daemons run on the container instances of custom capacity providers; {name} \
                 has none."
            )));
        }
        if !capacity_providers::usable(state, scope, &name) {
            return Err(ControlError::invalid(format!(
                "The capacity provider {id} does not exist."
            )));
        }
        if !cluster.capacity_providers.contains(&name) {
            return Err(ControlError::invalid(format!(
                "The capacity provider {name} is not associated with cluster {}. Add it with \
                 PutClusterCapacityProviders.",
                cluster.cluster_name
            )));
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

fn check_propagate(p: &Option<String>) -> Result<(), ControlError> {
    match p.as_deref() {
        None | Some("DAEMON" | "NONE") => Ok(()),
        Some(other) => Err(ControlError::invalid(format!(
            "propagateTags '{other}' is invalid: use DAEMON or NONE."
        ))),
    }
}

/// A new revision of `base` (a daemon's target, if any) with `settings` over it.
fn revision(
    state: &State,
    scope: &Scope,
    cluster: &flotilla_model::cluster::ClusterRecord,
    base: Option<&Revision>,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Revision, ControlError> {
    check_propagate(&settings.propagate_tags)?;
    let providers = providers(state, scope, cluster, &settings.capacity_providers)?;
    let def = task_definitions::usable(state, scope, &settings.daemon_task_definition)?;
    Ok(Revision {
        id: new_id(),
        daemon_task_definition_arn: def.value.arn().to_string(),
        capacity_providers: providers,
        container_images: (def.value.images().into_iter())
            .map(|(container_name, image)| ContainerImage {
                container_name,
                image,
            })
            .collect(),
        propagate_tags: settings
            .propagate_tags
            .clone()
            .or_else(|| base.and_then(|b| b.propagate_tags.clone())),
        enable_ecs_managed_tags: settings
            .enable_ecs_managed_tags
            .unwrap_or(base.is_some_and(|b| b.enable_ecs_managed_tags)),
        enable_execute_command: settings
            .enable_execute_command
            .unwrap_or(base.is_some_and(|b| b.enable_execute_command)),
        critical: settings.critical.unwrap_or(base.is_none_or(|b| b.critical)),
        created_at: now,
    })
}

/// CreateDaemon. A retry with the same `client_token` answers the daemon it created.
pub async fn create(
    state: &State,
    scope: &Scope,
    cluster: Option<&str>,
    name: &str,
    settings: Settings,
    tags: Vec<Tag>,
    client_token: Option<String>,
) -> Result<DaemonRecord, ControlError> {
    let cluster = clusters::active(state, scope, cluster)?.value;
    daemon::validate_name(name)?;
    validate_tags(&tags)?;
    if let Some(t) = &client_token {
        daemon::validate_client_token(t)?;
    }
    let key = keys::daemon(&scope.region, &cluster.cluster_name, name);
    if let Some(e) = state.daemons().get(key.as_bytes()) {
        if client_token.is_some() && e.value.client_token == client_token {
            return Ok((*e.value).clone());
        }
        return Err(ControlError::invalid(format!(
            "A daemon named {name} already exists in cluster {}.",
            cluster.cluster_name
        )));
    }
    let now = state.clock().now();
    let config = DeploymentConfiguration::default().merged(
        &settings
            .deployment_configuration
            .clone()
            .unwrap_or_default(),
    )?;
    let rev = revision(state, scope, &cluster, None, &settings, now)?;
    let mut record = DaemonRecord {
        daemon_arn: daemon::arn(scope, &cluster.cluster_name, name),
        daemon_name: name.to_string(),
        cluster_arn: cluster.cluster_arn.clone(),
        status: DaemonStatus::Active,
        deployment_configuration: config.clone(),
        tags,
        client_token,
        revisions: vec![],
        deployments: vec![],
        created_at: now,
        updated_at: now,
    };
    let deployment = Deployment::new(new_id(), Some(rev.id.clone()), vec![], config, now);
    record.start(Some(rev), deployment, now);
    if !state.put_if_unchanged(&key, 0, encode(&record)).await? {
        return Err(ControlError::changed_meanwhile("daemon"));
    }
    Ok(record)
}

/// Change the daemon at `key` with `change` (false: nothing to write), compare-and-swap,
/// again on a fresh read when another writer won. Answers the daemon as written (`None`
/// when it is gone).
pub async fn change(
    state: &State,
    key: &str,
    change: impl Fn(&mut DaemonRecord) -> Result<bool, ControlError>,
) -> Result<Option<DaemonRecord>, ControlError> {
    for _ in 0..16 {
        let Some(e) = state.daemons().get(key.as_bytes()) else {
            return Ok(None);
        };
        let mut d = (*e.value).clone();
        if !change(&mut d)? {
            return Ok(Some(d));
        }
        if state
            .put_if_unchanged(key, e.mod_revision, encode(&d))
            .await?
        {
            return Ok(Some(d));
        }
    }
    Err(ControlError::changed_meanwhile("daemon"))
}

/// UpdateDaemon: a new revision and a deployment that rolls it out.
pub async fn update(
    state: &State,
    scope: &Scope,
    arn: &str,
    settings: Settings,
) -> Result<DaemonRecord, ControlError> {
    let (key, entry) = resolve(state, scope, arn)?;
    let cluster = clusters::active(state, scope, Some(&entry.value.cluster_arn))?.value;
    let now = state.clock().now();
    let updated = change(state, &key, |d| {
        if d.status != DaemonStatus::Active {
            return Err(ControlError::daemon_not_active());
        }
        let config = (d.deployment_configuration).merged(
            &settings
                .deployment_configuration
                .clone()
                .unwrap_or_default(),
        )?;
        let rev = revision(state, scope, &cluster, d.target(), &settings, now)?;
        let sources = live_revisions(state, d);
        d.deployment_configuration = config.clone();
        let deployment = Deployment::new(new_id(), Some(rev.id.clone()), sources, config, now);
        d.start(Some(rev), deployment, now);
        Ok(true)
    })
    .await?;
    updated.ok_or_else(ControlError::daemon_not_found)
}

/// DeleteDaemon: DELETE_IN_PROGRESS, with a deployment that drains every daemon task; the
/// controller removes the daemon once none is left.
pub async fn delete(state: &State, scope: &Scope, arn: &str) -> Result<DaemonRecord, ControlError> {
    let (key, _) = resolve(state, scope, arn)?;
    let now = state.clock().now();
    let deleted = change(state, &key, |d| {
        if d.status != DaemonStatus::Active {
            return Err(ControlError::daemon_not_active());
        }
        d.status = DaemonStatus::DeleteInProgress;
        let sources = live_revisions(state, d);
        let config = d.deployment_configuration.clone();
        d.start(
            None,
            Deployment::new(new_id(), None, sources, config, now),
            now,
        );
        Ok(true)
    })
    .await?;
    deleted.ok_or_else(ControlError::daemon_not_found)
}

/// The daemon's tasks (its group in its cluster), newest view.
pub fn tasks_of(state: &State, region: &str, d: &DaemonRecord) -> Vec<Arc<TaskRecord>> {
    let prefix = keys::in_cluster(keys::TASKS, region, d.cluster());
    let g = group(&d.daemon_name);
    state
        .tasks()
        .range(prefix.as_bytes())
        .into_iter()
        .filter(|(_, t)| t.value.group.as_deref() == Some(g.as_str()))
        .map(|(_, t)| t.value)
        .collect()
}

/// The revisions whose tasks have not stopped yet (what a new deployment replaces).
fn live_revisions(state: &State, d: &DaemonRecord) -> Vec<String> {
    let region = flotilla_model::Arn::parse(&d.daemon_arn)
        .map(|a| a.region)
        .unwrap_or_default();
    let mut out: Vec<String> = d.target().map(|r| r.id.clone()).into_iter().collect();
    for t in tasks_of(state, &region, d) {
        let rev = t.started_by.clone().unwrap_or_default();
        if t.last_status < TaskStatus::Stopped && !out.contains(&rev) && d.revision(&rev).is_some()
        {
            out.push(rev);
        }
    }
    out
}

/// The container instances of `provider` in a daemon's cluster.
pub fn provider_instances<'a>(
    instances: &'a [Arc<ContainerInstanceRecord>],
    provider: &'a str,
) -> impl Iterator<Item = &'a Arc<ContainerInstanceRecord>> + 'a {
    instances
        .iter()
        .filter(move |i| i.attribute(cp::ATTRIBUTE) == Some(provider))
}

/// The registered (not INACTIVE) container instances of a cluster.
pub fn instances_of(
    state: &State,
    region: &str,
    cluster: &str,
) -> Vec<Arc<ContainerInstanceRecord>> {
    let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, region, cluster);
    (state.instances().range(prefix.as_bytes()).into_iter())
        .filter(|(_, e)| e.value.status != container_instance::INACTIVE)
        .map(|(_, e)| e.value)
        .collect()
}

/// Per capacity provider of revision `rev`: instances running its task, ACTIVE instances
/// without it, and instances whose task of it is being stopped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub running: i64,
    pub without: i64,
    pub draining: i64,
}

/// [`Counts`] of revision `rev` by provider name.
pub fn counts(
    rev: &Revision,
    instances: &[Arc<ContainerInstanceRecord>],
    tasks: &[Arc<TaskRecord>],
) -> BTreeMap<String, Counts> {
    let mut out = BTreeMap::new();
    for p in &rev.capacity_providers {
        let mut c = Counts::default();
        for i in provider_instances(instances, p) {
            let on: Vec<&Arc<TaskRecord>> = (tasks.iter())
                .filter(|t| t.container_instance_arn.as_deref() == Some(&i.container_instance_arn))
                .filter(|t| t.started_by.as_deref() == Some(&rev.id))
                .collect();
            let running = on.iter().any(|t| {
                t.desired_status == TaskStatus::Running && t.last_status == TaskStatus::Running
            });
            let stopping = on.iter().any(|t| {
                t.desired_status == TaskStatus::Stopped && t.last_status < TaskStatus::Stopped
            });
            if running {
                c.running += 1;
            } else if stopping {
                c.draining += 1;
            } else if i.status == container_instance::ACTIVE {
                c.without += 1;
            }
        }
        out.insert(p.clone(), c);
    }
    out
}

/// The launch of one task of revision `rev` of daemon `d`: an ordinary launch of the
/// daemon task definition, in the daemon's group, started by the revision.
pub fn launch_of(
    state: &State,
    scope: &Scope,
    d: &DaemonRecord,
    rev: &Revision,
) -> Result<LaunchSpec, ControlError> {
    let def = task_definitions::find(
        state,
        scope,
        &task_definitions::parse_ref(&rev.daemon_task_definition_arn, scope)?,
    )
    .ok_or_else(|| {
        ControlError::client(format!(
            "The daemon task definition {} no longer exists.",
            rev.daemon_task_definition_arn
        ))
    })?;
    let tags = match rev.propagate_tags.as_deref() {
        Some("DAEMON") => d.tags.clone(),
        _ => vec![],
    };
    let request = LaunchRequest {
        cluster: Some(d.cluster_arn.clone()),
        task_definition: rev.daemon_task_definition_arn.clone(),
        launch_type: Some("EC2".into()),
        started_by: Some(rev.id.clone()),
        group: Some(group(&d.daemon_name)),
        tags,
        allow_inactive: true,
        enable_execute_command: rev.enable_execute_command,
        ..LaunchRequest::default()
    };
    let definition = Entry {
        mod_revision: def.mod_revision,
        value: Arc::new(TaskDefinitionRecord {
            definition: def.value.definition.clone(),
            tags: vec![],
        }),
    };
    let mut launch = LaunchSpec::check_with(state, scope, request, || Ok(definition))?;
    if rev.enable_ecs_managed_tags {
        for (k, v) in [
            ("aws:ecs:daemonName", d.daemon_name.as_str()),
            ("aws:ecs:clusterName", d.cluster()),
        ] {
            launch.tags.push(Tag {
                key: Some(k.into()),
                value: Some(v.into()),
            });
        }
    }
    Ok(launch)
}

#[cfg(test)]
mod tests;
