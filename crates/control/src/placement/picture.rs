//! The scheduler's picture of each cluster, kept between placements.
//!
//! Building a [`Snapshot`] means visiting every instance of the cluster: its registered
//! capacity and attributes (a [`Templates`] entry), minus the load of its tasks (the task
//! index), minus placements planned but not yet visible (the reservations). Doing that for
//! every RunTask makes each placement O(instances). Instead each cluster keeps one picture;
//! a placement plans against it and applies its plan to it in place
//! ([`Snapshot::apply`]), and the picture is rebuilt only when something it was built
//! from changed in a way a plan does not account for: an instance record or an agent's
//! connection changed, some task released resources, or the plan applier turned a plan
//! down (`invalidate`). A stale picture is never a safety problem: the plan applier checks
//! every placement against the committed loads before it writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use flotilla_model::container_instance::{self, Capacity, ContainerInstanceRecord};
use flotilla_model::Scope;
use flotilla_scheduler::{InstanceState, Resources, Snapshot};
use flotilla_store::Revision;
use tokio::sync::Mutex as AsyncMutex;

use crate::placement::resources::Usage;
use crate::{keys, State};

/// Each instance as the scheduler sees it with nothing running on it (registered capacity,
/// attributes), by instance ARN, built once per revision of its record.
#[derive(Default)]
pub struct Templates {
    cache: Mutex<HashMap<String, (Revision, Arc<InstanceState>)>>,
}

impl Templates {
    /// The template of `record` as of `mod_revision`.
    pub fn get(
        &self,
        record: &ContainerInstanceRecord,
        mod_revision: Revision,
    ) -> Arc<InstanceState> {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let arn = &record.container_instance_arn;
        if let Some((rev, instance)) = cache.get(arn) {
            if *rev == mod_revision {
                return instance.clone();
            }
        }
        let capacity = Capacity::from_resources(&record.registered_resources);
        let instance = Arc::new(InstanceState {
            arn: arn.clone(),
            id: record.id().to_string(),
            status: record.status.clone(),
            connected: false,
            attributes: Arc::new(
                record
                    .attributes
                    .iter()
                    .map(|a| (a.name.clone(), a.value.clone()))
                    .collect(),
            ),
            remaining: Resources {
                cpu: capacity.cpu,
                memory: capacity.memory,
                gpus: 0,
                tcp_ports: capacity.tcp_ports,
                udp_ports: capacity.udp_ports,
            },
            groups: Default::default(),
            running_tasks: 0,
            registered_at: record.registered_at.to_rfc3339(),
            agent_version: record.version_info.agent_version.clone(),
            ec2_instance_id: record.ec2_instance_id.clone(),
        });
        cache.insert(arn.clone(), (mod_revision, instance.clone()));
        instance
    }
}

/// What a picture was built from: counters that move when their source changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    instances: u64,
    agents: u64,
    released: u64,
}

/// One cluster's picture: a snapshot current with every placement planned against it.
#[derive(Default)]
pub struct Picture {
    stamp: Option<Stamp>,
    pub snapshot: Snapshot,
}

/// The pictures of every cluster placed into; each behind its own lock, which is the
/// cluster's placement lock (one plan at a time per cluster, in this process).
#[derive(Default)]
pub struct Pictures {
    clusters: Mutex<HashMap<String, Arc<AsyncMutex<Picture>>>>,
}

impl Pictures {
    /// The picture of the cluster with key `cluster_key`.
    pub fn of(&self, cluster_key: &str) -> Arc<AsyncMutex<Picture>> {
        let mut map = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(cluster_key.to_string()).or_default().clone()
    }
}

impl Picture {
    /// Forget the picture; the next placement rebuilds it.
    pub fn invalidate(&mut self) {
        self.stamp = None;
    }

    /// Rebuild the picture if anything it was built from changed since.
    pub fn refresh(&mut self, state: &State, scope: &Scope, cluster: &str) {
        // Read the counters before building: a change during the build leaves them behind,
        // so the next refresh builds again.
        let stamp = Stamp {
            instances: state.instances().changes(),
            agents: state.agents().changes(),
            released: state.task_index().released(),
        };
        if self.stamp != Some(stamp) {
            self.snapshot = build(state, scope, cluster);
            self.stamp = Some(stamp);
        }
    }
}

/// The scheduler's view of a cluster's registered instances, built from scratch. Placements
/// planned but not yet visible in the task index count as taken.
pub fn build(state: &State, scope: &Scope, cluster: &str) -> Snapshot {
    // Reservations first, then how far the task index got, then its loads: a reservation
    // committed at or before that revision is in the loads and left out; one that becomes
    // visible while the loads are read is counted twice (too little room, never too much).
    let reserved = state
        .reservations()
        .by_instance(state.task_index().applied());
    let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, &scope.region, cluster);
    let instances = state
        .instances()
        .range(prefix.as_bytes())
        .into_iter()
        .filter(|(_, e)| e.value.status != container_instance::INACTIVE)
        .map(|(_, e)| {
            let mut i = (*state.templates().get(&e.value, e.mod_revision)).clone();
            i.connected = state.agent_connected(&scope.region, cluster, e.value.id());
            let arn = e.value.container_instance_arn.as_str();
            state.task_index().with_load(arn, |load| {
                if let Some(load) = load {
                    take(&mut i, &load.usage);
                    i.groups
                        .extend(load.groups.iter().map(|(g, n)| (g.clone(), *n)));
                    i.running_tasks = load.tasks.max(0) as u32;
                }
            });
            for p in reserved.get(arn).map(Vec::as_slice).unwrap_or(&[]) {
                take(&mut i, &p.usage);
                *i.groups.entry(p.group.clone()).or_default() += 1;
                i.running_tasks += 1;
            }
            i
        })
        .collect();
    Snapshot::new(scope.cluster_arn(cluster), instances)
}

/// Subtract what tasks hold from an instance's remaining resources.
fn take(i: &mut InstanceState, u: &Usage) {
    i.remaining.cpu = i.remaining.cpu.saturating_sub(u.cpu);
    i.remaining.memory = i.remaining.memory.saturating_sub(u.memory);
    i.remaining.tcp_ports.extend(u.tcp_ports.iter().copied());
    i.remaining.udp_ports.extend(u.udp_ports.iter().copied());
}
