//! Container instances: finding the one a parameter names, registering one (a new instance,
//! or an agent registering again after a restart, which keeps its identity and tasks),
//! deregistering, and storing a changed record.

use flotilla_model::container_instance::{self, Capacity, ContainerInstanceRecord, VersionInfo};
use flotilla_model::record::encode;
use flotilla_model::tag::Tag;
use flotilla_model::task_definition::Attribute;
use flotilla_model::{ecs_name, EcsRef, Scope};
use flotilla_store::view::Entry;

use crate::{keys, ControlError, State};

/// The instance id a `containerInstance` parameter (id or ARN) names.
pub fn instance_id(id: &str, scope: &Scope) -> Result<String, ControlError> {
    Ok(ecs_name(id, EcsRef::ContainerInstance, scope)?)
}

/// The ARN of instance `id` of `cluster`.
pub fn instance_arn(scope: &Scope, cluster: &str, id: &str) -> String {
    scope
        .arn("ecs", format!("container-instance/{cluster}/{id}"))
        .to_string()
}

/// The stored instance a parameter names in a cluster, with its key.
pub fn find(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
) -> Result<(String, Entry<ContainerInstanceRecord>), ControlError> {
    let id = instance_id(id, scope)?;
    let key = keys::container_instance(&scope.region, cluster, &id);
    let entry = state.instances().get(key.as_bytes()).ok_or_else(|| {
        ControlError::invalid(format!(
            "The referenced container instance {id} was not found in cluster {cluster}."
        ))
    })?;
    Ok((key, entry))
}

/// Store an instance record if unchanged since `mod_revision`.
pub async fn put(
    state: &State,
    key: &str,
    mod_revision: i64,
    record: &ContainerInstanceRecord,
) -> Result<(), ControlError> {
    if state
        .put_if_unchanged(key, mod_revision, encode(record))
        .await?
    {
        Ok(())
    } else {
        Err(ControlError::changed_meanwhile("container instance"))
    }
}

/// UpdateContainerInstancesState's change of one instance to `status` (ACTIVE or
/// DRAINING; checked by the caller): answers the record as it is now.
pub async fn set_status(
    state: &State,
    key: &str,
    entry: &Entry<ContainerInstanceRecord>,
    status: &str,
) -> Result<ContainerInstanceRecord, ControlError> {
    let mut record = (*entry.value).clone();
    if record.status != status {
        record.status = status.to_string();
        record.version += 1;
        put(state, key, entry.mod_revision, &record).await?;
    }
    Ok(record)
}

/// What a RegisterContainerInstance brings, checked by the caller.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The instance's id when it registers again (from its `containerInstanceArn`).
    pub id: Option<String>,
    /// The instance's `totalResources`; none keeps what the instance registered before.
    pub capacity: Option<Capacity>,
    pub version_info: VersionInfo,
    pub attributes: Vec<Attribute>,
    pub tags: Vec<Tag>,
    /// From the instance identity document, if one was given.
    pub ec2_instance_id: Option<String>,
}

/// Register an instance in `cluster` (ACTIVE): a new one, or the same one again, keeping
/// its identity, registration time, attributes it had (updated by those given) and tags
/// (unless new ones are given).
pub async fn register(
    state: &State,
    scope: &Scope,
    cluster: &str,
    r: Registration,
) -> Result<ContainerInstanceRecord, ControlError> {
    let id =
        r.id.unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let key = keys::container_instance(&scope.region, cluster, &id);
    let existing = state.instances().get(key.as_bytes());
    let capacity = registered_capacity(r.capacity, existing.as_ref().map(|e| &*e.value))?;
    let mut attributes = existing
        .as_ref()
        .map(|e| e.value.attributes.clone())
        .unwrap_or_default();
    for a in r.attributes {
        match attributes.iter_mut().find(|x| x.name == a.name) {
            Some(x) => x.value = a.value,
            None => attributes.push(a),
        }
    }
    let record = ContainerInstanceRecord {
        container_instance_arn: instance_arn(scope, cluster, &id),
        ec2_instance_id: r
            .ec2_instance_id
            .unwrap_or_else(|| format!("i-{}", &id[..17.min(id.len())])),
        status: container_instance::ACTIVE.into(),
        status_reason: None,
        version: existing.as_ref().map(|e| e.value.version + 1).unwrap_or(1),
        version_info: r.version_info,
        registered_resources: capacity.to_resources(),
        attributes,
        registered_at: existing
            .as_ref()
            .map(|e| e.value.registered_at)
            .unwrap_or_else(chrono::Utc::now),
        tags: if r.tags.is_empty() {
            existing
                .as_ref()
                .map(|e| e.value.tags.clone())
                .unwrap_or_default()
        } else {
            r.tags
        },
    };
    let prev = existing.map(|e| e.mod_revision).unwrap_or(0);
    put(state, &key, prev, &record).await?;
    Ok(record)
}

/// The capacity an instance registers with: what it gives, else what it registered before
/// (an instance registering again); a new instance must say how much CPU and memory it has,
/// which the server cannot find out for it.
fn registered_capacity(
    given: Option<Capacity>,
    existing: Option<&ContainerInstanceRecord>,
) -> Result<Capacity, ControlError> {
    let capacity = match (given, existing) {
        (Some(c), _) => c,
        (None, Some(e)) => Capacity::from_resources(&e.registered_resources),
        (None, None) => {
            return Err(ControlError::invalid(
                "totalResources is required to register a new container instance: Flotilla \
                 places tasks by the CPU and memory an instance declares. Send \
                 [{\"name\":\"CPU\",\"type\":\"INTEGER\",\"integerValue\":UNITS}, \
                 {\"name\":\"MEMORY\",\"type\":\"INTEGER\",\"integerValue\":MIB}] \
                 (1024 CPU units per core; `flotilla agent` sends them for its host).",
            ))
        }
    };
    if capacity.cpu <= 0 || capacity.memory <= 0 {
        return Err(ControlError::invalid(
            "totalResources must include positive CPU and MEMORY integers.",
        ));
    }
    Ok(capacity)
}

/// Deregister the instance `id` names: INACTIVE. Refused while tasks that have not stopped
/// are on it, unless `force` (they are then left running, unmanaged).
pub async fn deregister(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
    force: bool,
) -> Result<ContainerInstanceRecord, ControlError> {
    let (key, entry) = find(state, scope, cluster, id)?;
    let busy = state
        .task_index()
        .load(&entry.value.container_instance_arn)
        .tasks
        > 0;
    if busy && !force {
        return Err(ControlError::invalid(
            "The specified container instance has tasks that are not stopped; stop them or \
             deregister with force (the tasks are then left running, unmanaged).",
        ));
    }
    let mut record = (*entry.value).clone();
    record.status = container_instance::INACTIVE.into();
    record.version += 1;
    put(state, &key, entry.mod_revision, &record).await?;
    Ok(record)
}
