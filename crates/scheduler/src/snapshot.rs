//! The scheduler's input picture of a cluster: every container instance with what it has
//! left, its attributes and how many tasks of each group it runs.
//!
//! A snapshot is plain data the caller builds from the store; the scheduler only reads it.
//! [`Snapshot::apply`] commits a plan to the snapshot in memory (what the plan applier does
//! in the store), so a caller placing many batches can keep one snapshot current between
//! calls without rebuilding it.

use std::collections::{BTreeMap, BTreeSet};

use flotilla_model::cql::Subject;

use crate::plan::Plan;
use crate::request::TaskRequest;

/// The ECS status an instance must have to take tasks.
pub use flotilla_model::container_instance::ACTIVE;

/// The cluster as the scheduler sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The cluster's ARN: the subject of the failure reported when it has no instances.
    pub cluster_arn: String,
    /// The container instances; a [`Placement`](crate::Placement) names one by its index.
    pub instances: Vec<InstanceState>,
}

/// One container instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceState {
    pub arn: String,
    /// The last part of the ARN; what `spread(instanceId)` spreads over.
    pub id: String,
    /// `ACTIVE`, `DRAINING`, `REGISTERING`, `INACTIVE`, ...; only ACTIVE takes tasks.
    pub status: String,
    /// Whether the agent is connected (`agentConnected`).
    pub connected: bool,
    /// Attributes by name; a valueless attribute maps to `None`. Shared, because callers
    /// build a snapshot per request and an instance's attributes rarely change.
    pub attributes: std::sync::Arc<BTreeMap<String, Option<String>>>,
    /// What is free on the instance now (registered minus what its tasks hold).
    pub remaining: Resources,
    /// Task group (`family:web`, `service:api`, ...) to the number of its tasks on this
    /// instance that are not yet stopped.
    pub groups: BTreeMap<String, u32>,
    /// Tasks on the instance that are not yet stopped (`runningTasksCount` in queries).
    pub running_tasks: u32,
    /// When the instance registered (RFC 3339), for `registeredAt` in queries.
    pub registered_at: String,
    pub agent_version: Option<String>,
    pub ec2_instance_id: String,
}

/// Free resources of an instance, or what one task needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU units (1024 per core).
    pub cpu: i64,
    /// Memory in MiB.
    pub memory: i64,
    /// GPUs.
    pub gpus: u32,
    /// TCP host ports already taken.
    pub tcp_ports: BTreeSet<u16>,
    /// UDP host ports already taken.
    pub udp_ports: BTreeSet<u16>,
}

/// Why a plan could not be applied to a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The plan names an instance the snapshot does not have: it was made for another one.
    #[error("the plan places a task on instance {index}, which this snapshot does not have")]
    UnknownInstance { index: usize },
    /// The instance at the index is not the one the plan was made for.
    #[error("instance {index} is {found}, but the plan was made for {expected}")]
    WrongInstance {
        index: usize,
        expected: String,
        found: String,
    },
}

// === impl Snapshot ===

impl Snapshot {
    pub fn new(cluster_arn: impl Into<String>, instances: Vec<InstanceState>) -> Self {
        Snapshot {
            cluster_arn: cluster_arn.into(),
            instances,
        }
    }

    /// Commits `plan` (made by `schedule(self, request)`) to this snapshot: each placement
    /// takes the request's CPU, memory, GPUs and ports from its instance and counts one more
    /// task of the request's group there. Checks every placement before changing anything.
    pub fn apply(&mut self, request: &TaskRequest, plan: &Plan) -> Result<(), ApplyError> {
        for p in &plan.placements {
            let found = self
                .instances
                .get(p.instance)
                .ok_or(ApplyError::UnknownInstance { index: p.instance })?;
            if found.arn != p.instance_arn {
                return Err(ApplyError::WrongInstance {
                    index: p.instance,
                    expected: p.instance_arn.clone(),
                    found: found.arn.clone(),
                });
            }
        }
        for p in &plan.placements {
            if let Some(instance) = self.instances.get_mut(p.instance) {
                instance.take(request);
            }
        }
        Ok(())
    }
}

// === impl InstanceState ===

impl InstanceState {
    /// Takes one task of `request` onto this instance.
    pub fn take(&mut self, request: &TaskRequest) {
        let r = &mut self.remaining;
        r.cpu = r.cpu.saturating_sub(request.cpu.max(0));
        r.memory = r.memory.saturating_sub(request.memory.max(0));
        r.gpus = r.gpus.saturating_sub(request.gpus);
        r.tcp_ports.extend(request.tcp_ports.iter().copied());
        r.udp_ports.extend(request.udp_ports.iter().copied());
        let n = self.groups.entry(request.group.clone()).or_insert(0);
        *n = n.saturating_add(1);
        self.running_tasks = self.running_tasks.saturating_add(1);
    }

    /// Tasks of `group` on this instance.
    pub fn group_count(&self, group: &str) -> u32 {
        self.groups.get(group).copied().unwrap_or(0)
    }
}

/// An instance as the cluster query language sees it during planning: the snapshot's
/// instance plus the `placed` tasks of `group` this plan has already put on it.
pub(crate) struct View<'a> {
    pub instance: &'a InstanceState,
    pub group: &'a str,
    pub placed: u32,
}

impl Subject for View<'_> {
    fn attribute(&self, name: &str) -> Option<String> {
        // A valueless attribute exists with the empty value, as ListContainerInstances shows.
        self.instance
            .attributes
            .get(name)
            .map(|v| v.clone().unwrap_or_default())
    }

    fn builtin(&self, name: &str) -> Option<String> {
        let i = self.instance;
        match name {
            "agentConnected" => Some(i.connected.to_string()),
            "agentVersion" => i.agent_version.clone(),
            "ec2InstanceId" => Some(i.ec2_instance_id.clone()),
            "registeredAt" => Some(i.registered_at.clone()),
            "runningTasksCount" => Some(i.running_tasks.saturating_add(self.placed).to_string()),
            _ => None,
        }
    }

    fn task_groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .instance
            .groups
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(g, _)| g.clone())
            .collect();
        if self.placed > 0 && !groups.iter().any(|g| g == self.group) {
            groups.push(self.group.to_owned());
        }
        groups
    }
}
