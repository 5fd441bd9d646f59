//! Clusters: finding the ACTIVE cluster a request names, creating one idempotently
//! (CreateCluster, and `flotilla up`'s `default`), changing and deleting one.

use flotilla_model::cluster::{self, ClusterRecord, ClusterSetting};
use flotilla_model::record::encode;
use flotilla_model::{ecs_name, EcsRef, ErrorKind, ModelError, Resource, Scope};
use flotilla_store::view::Entry;
use flotilla_store::{Compare, Op, Txn};

use crate::{keys, ControlError, State};

/// The cluster name a `cluster` parameter (name or ARN) refers to; `default` when absent.
pub fn name_of(id: Option<&str>, scope: &Scope) -> Result<String, ControlError> {
    match id {
        None | Some("") => Ok("default".into()),
        Some(id) => Ok(ecs_name(id, EcsRef::Cluster, scope)?),
    }
}

/// The ACTIVE cluster a request names, or `NotFound(Cluster)`.
pub fn active(
    state: &State,
    scope: &Scope,
    id: Option<&str>,
) -> Result<Entry<ClusterRecord>, ControlError> {
    let name = name_of(id, scope)?;
    match state
        .clusters()
        .get(keys::cluster(&scope.region, &name).as_bytes())
    {
        Some(e) if e.value.is_active() => Ok(e),
        _ => Err(ControlError::cluster_not_found()),
    }
}

/// A new ACTIVE cluster record of `name` with ECS's default settings merged with `settings`;
/// the caller fills in the optional parts it was given.
pub fn new_record(scope: &Scope, name: &str, settings: Vec<ClusterSetting>) -> ClusterRecord {
    let mut merged = vec![ClusterSetting {
        name: Some("containerInsights".into()),
        value: Some("disabled".into()),
    }];
    cluster::merge_settings(&mut merged, settings);
    ClusterRecord {
        cluster_arn: scope.cluster_arn(name),
        cluster_name: name.to_string(),
        status: cluster::ACTIVE.into(),
        settings: merged,
        configuration: None,
        tags: vec![],
        capacity_providers: vec![],
        default_capacity_provider_strategy: vec![],
        service_connect_defaults: None,
        created_at: chrono::Utc::now(),
    }
}

/// Store `record` unless its cluster is ACTIVE already; answers the cluster as stored.
/// Idempotent, as CreateCluster is: a repeat, or a racing create, answers the existing
/// cluster; an INACTIVE (deleted) one is created anew.
pub async fn create(
    state: &State,
    scope: &Scope,
    record: ClusterRecord,
) -> Result<ClusterRecord, ControlError> {
    let key = keys::cluster(&scope.region, &record.cluster_name);
    let existing = state.clusters().get(key.as_bytes());
    if let Some(e) = &existing {
        if e.value.is_active() {
            return Ok((*e.value).clone());
        }
    }
    let prev = existing.map(|e| e.mod_revision).unwrap_or(0);
    if state.put_if_unchanged(&key, prev, encode(&record)).await? {
        return Ok(record);
    }
    // Someone created it at the same moment: answer with theirs, as a repeat would.
    state
        .clusters()
        .get(key.as_bytes())
        .map(|e| (*e.value).clone())
        .ok_or_else(ControlError::cluster_not_found)
}

/// Make sure an ACTIVE cluster `name` exists (as `flotilla up` does for `default`).
pub async fn ensure(state: &State, scope: &Scope, name: &str) -> Result<(), ControlError> {
    cluster::validate_name(name)?;
    create(state, scope, new_record(scope, name, vec![]))
        .await
        .map(|_| ())
}

/// Replace the cluster record if nobody changed it since `mod_revision`.
pub async fn replace(
    state: &State,
    scope: &Scope,
    mod_revision: i64,
    record: &ClusterRecord,
) -> Result<(), ControlError> {
    let key = keys::cluster(&scope.region, &record.cluster_name);
    if state
        .put_if_unchanged(&key, mod_revision, encode(record))
        .await?
    {
        Ok(())
    } else {
        Err(ControlError::changed_meanwhile("cluster"))
    }
}

/// DeleteCluster: the ACTIVE cluster `id` names becomes INACTIVE (still describable),
/// refused while it holds container instances, services or tasks; answers the record as
/// written.
pub async fn delete(
    state: &State,
    scope: &Scope,
    id: Option<&str>,
) -> Result<ClusterRecord, ControlError> {
    let entry = active(state, scope, id)?;
    let name = entry.value.cluster_name.clone();
    // Every batch of placements into the cluster rewrites its placements key: read it now
    // and compare it when writing, so tasks committed after the count below make the
    // delete fail instead of leaving tasks in an INACTIVE cluster.
    let placements = keys::placements(&scope.region, &name);
    let placed_rev = state
        .store()
        .get(placements.as_bytes())
        .await?
        .map_or(0, |kv| kv.mod_revision);
    // Count from views that include every write committed before this request.
    let now = state.store().revision().await?;
    state.caught_up(now).await?;
    let holds = |what: Resource, message: &str| {
        ControlError::from(ModelError::new(ErrorKind::NotEmpty(what), message))
    };
    if state.registered_instances(&scope.region, &name) > 0 {
        return Err(holds(
            Resource::ContainerInstance,
            "The Cluster cannot be deleted while Container Instances are active or draining.",
        ));
    }
    if state.services_in(&scope.region, &name) != (0, 0) {
        return Err(holds(
            Resource::Service,
            "The Cluster cannot be deleted while Services are active.",
        ));
    }
    if state.task_counts(&scope.region, &name).2 > 0 {
        return Err(holds(
            Resource::Task,
            "The Cluster cannot be deleted while Tasks are active.",
        ));
    }
    let mut record = (*entry.value).clone();
    record.status = cluster::INACTIVE.into();
    let key = keys::cluster(&scope.region, &name);
    let txn = Txn {
        compares: vec![
            Compare::unchanged(key.as_str(), entry.mod_revision),
            Compare::unchanged(placements, placed_rev),
        ],
        success: vec![Op::put(key, encode(&record))],
        failure: vec![],
    };
    if !state.commit(txn).await?.succeeded {
        return Err(ControlError::changed_meanwhile("cluster"));
    }
    Ok(record)
}
