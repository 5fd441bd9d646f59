//! Tags of the ECS resources that can carry them (clusters, task definitions, services and
//! task sets, capacity providers, daemons and daemon task definitions), found from their
//! ARN.

use flotilla_model::capacity_provider::{self, CapacityProviderRecord};
use flotilla_model::daemon::task_definition::DaemonTaskDefinitionRecord;
use flotilla_model::daemon::DaemonRecord;
use flotilla_model::record::encode;
use flotilla_model::service::ServiceStatus;
use flotilla_model::tag::{validate_tags, Tag};
use flotilla_model::{Arn, Resource, Scope};
use flotilla_store::view::Entry;

use crate::ecs::task_definitions::parse_revision_ref;
use crate::{keys, ControlError, State};

/// A taggable resource named by an ARN: its store key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tagged {
    Cluster(String),
    TaskDefinition(String),
    Service(String),
    /// A task set: its service's key and its id.
    TaskSet(String, String),
    /// A custom capacity provider (the built-in ones carry no tags).
    CapacityProvider(String),
    /// A daemon, and a daemon task definition revision.
    Daemon(String),
    DaemonTaskDefinition(String),
}

/// The resource an ARN names, if it is one that can carry tags.
pub fn resolve(scope: &Scope, arn: &str) -> Result<Tagged, ControlError> {
    let parsed = Arn::parse(arn)
        .filter(|a| a.service == "ecs")
        .ok_or_else(|| {
            ControlError::invalid(format!("The ARN '{arn}' is not a valid ECS resource ARN."))
        })?;
    parsed.within(scope)?;
    let (kind, rest) = parsed.resource_parts();
    match kind {
        "cluster" => Ok(Tagged::Cluster(keys::cluster(&scope.region, rest))),
        "task-definition" => {
            let (family, revision) = parse_revision_ref(rest)?;
            Ok(Tagged::TaskDefinition(keys::task_definition(
                &scope.region,
                &family,
                revision,
            )))
        }
        "daemon-task-definition" => {
            let (family, revision) = parse_revision_ref(rest)?;
            Ok(Tagged::DaemonTaskDefinition(keys::daemon_task_definition(
                &scope.region,
                &family,
                revision,
            )))
        }
        "daemon" => {
            let (cluster, name, _) = flotilla_model::daemon::parse_arn(arn, "daemon", scope)?;
            Ok(Tagged::Daemon(keys::daemon(&scope.region, &cluster, &name)))
        }
        "service" => match rest.split_once('/') {
            Some((cluster, name)) => {
                Ok(Tagged::Service(keys::service(&scope.region, cluster, name)))
            }
            None => Err(ControlError::invalid(format!(
                "The ARN '{arn}' uses the old service ARN format without a cluster; use the \
                 long format service/CLUSTER/NAME."
            ))),
        },
        // task-set/CLUSTER/SERVICE/ecs-svc/NNNN
        "task-set" => match rest.splitn(3, '/').collect::<Vec<_>>()[..] {
            [cluster, name, id] => Ok(Tagged::TaskSet(
                keys::service(&scope.region, cluster, name),
                id.to_string(),
            )),
            _ => Err(ControlError::invalid(format!(
                "The ARN '{arn}' is not a task set ARN (task-set/CLUSTER/SERVICE/ID)."
            ))),
        },
        "capacity-provider" if capacity_provider::is_built_in(rest) => Err(ControlError::invalid(
            format!("The {rest} capacity provider is reserved and cannot be tagged."),
        )),
        "capacity-provider" => Ok(Tagged::CapacityProvider(keys::capacity_provider(
            &scope.region,
            rest,
        ))),
        _ => Err(ControlError::invalid(format!(
            "Tagging resources of type '{kind}' is not supported; tag a cluster, a task \
             definition, a service, a task set, a capacity provider, a daemon or a daemon \
             task definition."
        ))),
    }
}

/// The ACTIVE capacity provider stored at `key`.
fn active_provider(
    state: &State,
    key: &str,
) -> Result<Entry<CapacityProviderRecord>, ControlError> {
    state
        .capacity_providers()
        .get(key.as_bytes())
        .filter(|e| e.value.is_active())
        .ok_or_else(not_found)
}

/// The daemon stored at `key`.
fn daemon(state: &State, key: &str) -> Result<Entry<DaemonRecord>, ControlError> {
    (state.daemons().get(key.as_bytes())).ok_or_else(ControlError::daemon_not_found)
}

/// The daemon task definition revision stored at `key`.
fn daemon_definition(
    state: &State,
    key: &str,
) -> Result<Entry<DaemonTaskDefinitionRecord>, ControlError> {
    (state.daemon_task_definitions().get(key.as_bytes())).ok_or_else(not_found)
}

fn not_found() -> ControlError {
    ControlError::not_found(Resource::Other, "The specified resource is not found.")
}

/// The tags of `resource`.
pub fn tags_of(state: &State, resource: &Tagged) -> Result<Vec<Tag>, ControlError> {
    Ok(match resource {
        Tagged::Cluster(key) => state
            .clusters()
            .get(key.as_bytes())
            .filter(|e| e.value.is_active())
            .ok_or_else(ControlError::cluster_not_found)?
            .value
            .tags
            .clone(),
        Tagged::TaskDefinition(key) => state
            .task_definitions()
            .get(key.as_bytes())
            .ok_or_else(not_found)?
            .value
            .tags
            .clone(),
        Tagged::Service(key) => state
            .services()
            .get(key.as_bytes())
            .ok_or_else(ControlError::service_not_found)?
            .value
            .tags
            .clone(),
        Tagged::TaskSet(key, id) => {
            let svc = state
                .services()
                .get(key.as_bytes())
                .ok_or_else(ControlError::service_not_found)?;
            crate::ecs::task_sets::find(&svc.value, id)?.tags.clone()
        }
        Tagged::CapacityProvider(key) => active_provider(state, key)?.value.tags.clone(),
        Tagged::Daemon(key) => daemon(state, key)?.value.tags.clone(),
        Tagged::DaemonTaskDefinition(key) => daemon_definition(state, key)?.value.tags.clone(),
    })
}

/// How often [`retag`] re-reads and re-applies a change that lost a race (a controller
/// writing the same service, say).
const ATTEMPTS: usize = 16;

/// Change the tags of `resource` with `change`, compare-and-swap on its key, again on a
/// fresh read when another writer won; the result must still be valid tags.
pub async fn retag(
    state: &State,
    resource: &Tagged,
    change: impl Fn(&mut Vec<Tag>),
) -> Result<(), ControlError> {
    for _ in 0..ATTEMPTS {
        if retag_once(state, resource, &change).await? {
            return Ok(());
        }
    }
    Err(ControlError::changed_meanwhile("resource"))
}

/// One [`retag`] attempt: whether its compare-and-swap won.
async fn retag_once(
    state: &State,
    resource: &Tagged,
    change: &impl Fn(&mut Vec<Tag>),
) -> Result<bool, ControlError> {
    let changed = |tags: &mut Vec<Tag>| -> Result<(), ControlError> {
        change(tags);
        Ok(validate_tags(tags)?)
    };
    let (key, value, mod_revision) = match resource {
        Tagged::Cluster(key) => {
            let e = state
                .clusters()
                .get(key.as_bytes())
                .filter(|e| e.value.is_active())
                .ok_or_else(ControlError::cluster_not_found)?;
            let mut c = (*e.value).clone();
            changed(&mut c.tags)?;
            (key, encode(&c), e.mod_revision)
        }
        Tagged::TaskDefinition(key) => {
            let e = state
                .task_definitions()
                .get(key.as_bytes())
                .ok_or_else(not_found)?;
            let mut t = (*e.value).clone();
            changed(&mut t.tags)?;
            (key, encode(&t), e.mod_revision)
        }
        Tagged::Service(key) => {
            let e = state
                .services()
                .get(key.as_bytes())
                .filter(|e| e.value.status != ServiceStatus::Inactive)
                .ok_or_else(ControlError::service_not_found)?;
            let mut s = (*e.value).clone();
            changed(&mut s.tags)?;
            (key, encode(&s), e.mod_revision)
        }
        Tagged::TaskSet(key, id) => {
            let e = state
                .services()
                .get(key.as_bytes())
                .filter(|e| e.value.status != ServiceStatus::Inactive)
                .ok_or_else(ControlError::service_not_found)?;
            let mut s = (*e.value).clone();
            crate::ecs::task_sets::find(&s, id)?;
            if let Some(t) = s.task_sets.iter_mut().find(|t| t.is(id)) {
                changed(&mut t.tags)?;
            }
            (key, encode(&s), e.mod_revision)
        }
        Tagged::CapacityProvider(key) => {
            let e = active_provider(state, key)?;
            let mut p = (*e.value).clone();
            changed(&mut p.tags)?;
            (key, encode(&p), e.mod_revision)
        }
        Tagged::Daemon(key) => {
            let e = daemon(state, key)?;
            let mut d = (*e.value).clone();
            changed(&mut d.tags)?;
            (key, encode(&d), e.mod_revision)
        }
        Tagged::DaemonTaskDefinition(key) => {
            let e = daemon_definition(state, key)?;
            let mut d = (*e.value).clone();
            changed(&mut d.tags)?;
            (key, encode(&d), e.mod_revision)
        }
    };
    state.put_if_unchanged(key, mod_revision, value).await
}
