//! One actor per task: a tokio task that owns the task's transitions.
//!
//! ```text
//! known status:  PENDING ──► RUNNING ──► STOPPING ──► STOPPED ──(cleanup delay)──► removed
//!                   └──────────(failed to start / stop requested)────────┘
//! ```
//!
//! The actor is the only writer of its task's known status, which only moves forward
//! ([`Lifecycle`]). It receives the server's desired status on a channel and the runtime's
//! container events on a broadcast; after each it re-inspects what changed, decides the
//! next step (pull, network, start what is ready, stop), and publishes a full
//! [`TaskReport`](flotilla_model::task::TaskReport) to the report queue and the checkpoint
//! when anything a user could see changed. When the channel closes (agent shutdown) the
//! actor returns and leaves its containers running, to be adopted by the next agent.
//!
//! Submodules: `start` (pull, network, container start in dependency order), `stop` (stop
//! and cleanup), `observe` (inspect results, health, the report), `logs` (a container's
//! `awslogs` stream: prepared before it starts, followed once it runs, its last lines
//! confirmed before the task is reported STOPPED), `volumes` (the task's Docker volumes),
//! `restart` (`restartPolicy`: exited containers started again in place).

mod logs;
mod observe;
mod restart;
mod secrets;
mod start;
mod stop;
#[cfg(test)]
mod tests;
mod volumes;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_model::agent_protocol::{DesiredTask, RegistryCredentials};
use flotilla_model::task::{
    ContainerStatus, NetworkBinding, StopCode, TaskNetwork, TaskReport, TaskStatus,
};
use flotilla_model::task_definition::ContainerDefinition;
use flotilla_runtime::{ContainerState, Health, NetworkSpec, Runtime};
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use crate::api::Identity;
use crate::checkpoint::{Checkpoint, TaskCheckpoint};
use crate::deps;
use crate::events::Router;
use crate::reporter::ReportQueue;
use crate::spec::{self, NetMode, SpecContext};

/// What every actor shares.
pub(crate) struct ActorContext {
    pub runtime: Arc<dyn Runtime>,
    pub reports: Arc<ReportQueue>,
    pub checkpoint: Arc<Checkpoint>,
    pub identity: Arc<Identity>,
    pub data_dir_id: String,
    pub cleanup_delay: Duration,
    /// The awsvpc network.
    pub awsvpc: NetworkSpec,
    /// The resolvers containers get unless their definition names its own.
    pub container_dns: Vec<String>,
    /// Container events, routed to the actor owning the container.
    pub events: Arc<Router>,
    /// What tasks may reach of this host.
    pub host_policy: crate::config::HostPolicy,
    /// The server's registry and credentials for it, as the last poll gave them.
    pub registry: std::sync::Mutex<Option<RegistryCredentials>>,
    /// Ships `awslogs` containers' output.
    pub logs: Arc<crate::logs::LogShipper>,
    /// Enforces awsvpc tasks' security groups.
    pub firewall: Arc<crate::firewall::Keeper>,
    /// Serves task roles' credentials to containers (absent: the agent serves none).
    pub credentials: Option<Arc<crate::credentials::CredentialsEndpoint>>,
    /// The server, for what a task needs when it starts (its secrets).
    pub api: Arc<dyn crate::api::AgentApi>,
}

impl ActorContext {
    /// Credentials for `image`'s registry, when it is the server's.
    pub fn registry_auth(&self, image: &str) -> Option<flotilla_runtime::RegistryAuth> {
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry
            .as_ref()
            .filter(|r| r.serves(image))
            .map(|r| flotilla_runtime::RegistryAuth {
                server: r.server.clone(),
                username: r.username.clone(),
                password: r.password.clone(),
            })
    }

    /// Keep the registry credentials of a poll's answer.
    pub fn set_registry(&self, credentials: Option<RegistryCredentials>) {
        *self.registry.lock().unwrap_or_else(|e| e.into_inner()) = credentials;
    }
}

/// Existing containers an actor takes over after an agent restart.
#[derive(Debug, Clone, Default)]
pub(crate) struct Adopted {
    /// Container name (from the definition) → its container.
    pub containers: BTreeMap<String, ContainerState>,
    pub pause: Option<ContainerState>,
    pub checkpoint: Option<TaskCheckpoint>,
}

/// The manager's end of an actor.
pub(crate) struct TaskHandle {
    desired: mpsc::UnboundedSender<TaskStatus>,
    join: JoinHandle<()>,
}

impl TaskHandle {
    /// Pass the server's desired status.
    pub(crate) fn desire(&self, status: TaskStatus) {
        let _ = self.desired.send(status);
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.join.is_finished()
    }

    /// Close the channel (the actor returns, leaving containers as they are) and wait.
    pub(crate) async fn detach(self, limit: Duration) {
        let TaskHandle { desired, join } = self;
        drop(desired);
        let abort = join.abort_handle();
        if tokio::time::timeout(limit, join).await.is_err() {
            abort.abort();
        }
    }
}

/// The task's known status: forward only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lifecycle(TaskStatus);

impl Lifecycle {
    fn get(self) -> TaskStatus {
        self.0
    }

    /// Move to `to` if that is forward; whether it moved.
    fn advance(&mut self, to: TaskStatus) -> bool {
        if to > self.0 {
            self.0 = to;
            true
        } else {
            false
        }
    }
}

/// One container of the task, as the actor knows it.
#[derive(Debug, Clone)]
struct ContainerRun {
    def: ContainerDefinition,
    runtime_id: Option<String>,
    status: ContainerStatus,
    started: bool,
    exit_code: Option<i64>,
    reason: Option<String>,
    health: Health,
    bindings: Vec<NetworkBinding>,
    /// When it last started (by this agent, or as the runtime reported for an adopted one).
    last_start: Option<DateTime<Utc>>,
    /// It exited and `restartPolicy` starts it again.
    restart_pending: bool,
    /// How often it was restarted in place.
    restarts: u32,
    /// Since when it waits for its dependencies (for `startTimeout`).
    waiting_since: Option<tokio::time::Instant>,
}

impl ContainerRun {
    fn name(&self) -> &str {
        self.def.name()
    }

    /// Status only moves forward.
    fn advance(&mut self, to: ContainerStatus) {
        self.status = self.status.max(to);
    }

    fn observed(&self) -> deps::Observed {
        deps::Observed {
            started: self.started,
            exited: self.status == ContainerStatus::Stopped && self.started,
            exit_code: self.exit_code,
            health: (self.def.health_check.is_some()).then_some(self.health),
        }
    }
}

/// The awsvpc pause container.
#[derive(Debug, Clone)]
struct Pause {
    id: String,
    ip: Option<String>,
    /// Its process on the host, while it runs (the task's namespace is entered by it).
    pid: Option<u32>,
}

/// The actor's state. Private: only the actor's own methods change it.
pub(crate) struct TaskActor {
    ctx: Arc<ActorContext>,
    task_arn: String,
    spec: SpecContext,
    containers: Vec<ContainerRun>,
    order: Vec<usize>,
    known: Lifecycle,
    desired: TaskStatus,
    /// Whether the containers' secrets were read (or there are none to read).
    secrets_ready: bool,
    /// Whether the task has an execution role (the server checks its image pulls and
    /// logs with it when the task starts).
    execution_role: bool,
    images_ready: bool,
    volumes_ready: bool,
    pause: Option<Pause>,
    /// An awsvpc task's subnet, address and groups, as the control plane chose them
    /// (none for other modes, and for tasks placed before addresses were).
    network: Option<TaskNetwork>,
    /// Whether its security groups are enforced in its namespace.
    firewalled: bool,
    attachment_id: String,
    pull_started_at: Option<DateTime<Utc>>,
    pull_stopped_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    execution_stopped_at: Option<DateTime<Utc>>,
    /// Set when the agent stopped the task on its own.
    own_stop: Option<(StopCode, String)>,
    cleaned: bool,
    last_report: Option<TaskReport>,
    /// Where the event router sends this actor's containers' events.
    events: mpsc::UnboundedSender<String>,
    /// Why this host may not run the task (its host policy), if it may not.
    refused: Option<String>,
}

impl TaskActor {
    /// Start the actor of `desired` (adopting `adopted` containers) and return its handle.
    pub(crate) fn spawn(
        ctx: Arc<ActorContext>,
        desired: DesiredTask,
        adopted: Adopted,
    ) -> TaskHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        let resyncs = ctx.events.subscribe();
        let (events_tx, events) = mpsc::unbounded_channel();
        let actor = TaskActor::new(ctx, desired, adopted, events_tx);
        let join = tokio::spawn(actor.run(rx, events, resyncs));
        TaskHandle { desired: tx, join }
    }

    fn new(
        ctx: Arc<ActorContext>,
        desired: DesiredTask,
        adopted: Adopted,
        events: mpsc::UnboundedSender<String>,
    ) -> TaskActor {
        let DesiredTask { task, definition } = desired;
        // A task already running here (adopted) is left to run; a new one is held to the
        // host policy.
        let refused = if adopted.containers.is_empty() {
            ctx.host_policy.refusal(&definition)
        } else {
            None
        };
        let overrides = spec::overrides(&task);
        let defs = spec::effective_containers(&definition, &overrides);
        let order = deps::start_order(&defs);
        let mut spec = SpecContext::new(
            &task,
            &definition,
            &ctx.identity.instance_arn(),
            &ctx.data_dir_id,
            &ctx.container_dns,
        );
        let task_role = overrides
            .task_role_arn
            .as_deref()
            .or(definition.task_role_arn.as_deref())
            .filter(|r| !r.is_empty());
        if let (Some(_), Some(endpoint)) = (task_role, &ctx.credentials) {
            spec.extra_env = endpoint.env_for(&task.task_arn);
        }
        let cp = adopted.checkpoint.as_ref();
        let report = cp.and_then(|c| c.last_report.as_ref());
        let containers = defs
            .into_iter()
            .map(|def| ContainerRun {
                runtime_id: adopted.containers.get(def.name()).map(|s| s.id.clone()),
                def,
                status: ContainerStatus::Pending,
                started: false,
                exit_code: None,
                reason: None,
                health: Health::None,
                bindings: Vec::new(),
                last_start: None,
                restart_pending: false,
                restarts: 0,
                waiting_since: None,
            })
            .collect();
        let mut actor = TaskActor {
            task_arn: task.task_arn.clone(),
            spec,
            containers,
            order,
            known: Lifecycle(cp.map_or(TaskStatus::Pending, |c| {
                c.known_status.max(TaskStatus::Pending)
            })),
            desired: task.desired_status,
            secrets_ready: false,
            execution_role: overrides
                .execution_role_arn
                .as_deref()
                .or(definition.execution_role_arn.as_deref())
                .is_some_and(|r| !r.is_empty()),
            images_ready: false,
            // Adopted containers already have their volumes.
            volumes_ready: !adopted.containers.is_empty(),
            pause: adopted.pause.as_ref().map(|p| Pause {
                id: p.id.clone(),
                ip: None,
                pid: None,
            }),
            attachment_id: task
                .network
                .as_ref()
                .map(|n| n.attachment_id.clone())
                .or_else(|| cp.and_then(|c| c.attachment_id.clone()))
                .unwrap_or_else(new_attachment_id),
            network: task.network.clone(),
            firewalled: false,
            pull_started_at: report.and_then(|r| r.pull_started_at),
            pull_stopped_at: report.and_then(|r| r.pull_stopped_at),
            started_at: report.and_then(|r| r.started_at),
            execution_stopped_at: None,
            own_stop: None,
            cleaned: false,
            last_report: None,
            events,
            refused,
            ctx,
        };
        for id in actor.owned_ids() {
            actor.ctx.events.claim(&id, &actor.events);
        }
        if let Some(p) = &adopted.pause {
            actor.apply_pause_state(p);
        }
        for (name, state) in &adopted.containers {
            if let Some(i) = actor.containers.iter().position(|c| c.name() == name) {
                actor.apply_state(i, state);
                if state.running || state.exited {
                    actor.follow_logs(i);
                }
            }
        }
        actor
    }

    fn stop_wanted(&self) -> bool {
        self.desired == TaskStatus::Stopped || self.own_stop.is_some()
    }

    /// The runtime ids of the task's containers (and pause container) known so far.
    fn owned_ids(&self) -> Vec<String> {
        self.pause
            .iter()
            .map(|p| p.id.clone())
            .chain(self.containers.iter().filter_map(|c| c.runtime_id.clone()))
            .collect()
    }

    /// Have container `id`'s events routed to this actor.
    fn claim(&self, id: &str) {
        self.ctx.events.claim(id, &self.events);
    }

    fn owns(&self, id: &str) -> bool {
        self.pause.as_ref().is_some_and(|p| p.id == id)
            || self
                .containers
                .iter()
                .any(|c| c.runtime_id.as_deref() == Some(id))
    }

    fn on_desired(&mut self, status: TaskStatus) {
        if status > self.desired {
            self.desired = status;
        }
    }

    /// Stop the task on the agent's own account (the first reason wins).
    fn fail(&mut self, code: StopCode, reason: String) {
        if self.own_stop.is_none()
            && self.desired != TaskStatus::Stopped
            && self.known.get() < TaskStatus::Stopping
        {
            tracing::info!(task = %self.task_arn, %reason, "stopping task");
            self.own_stop = Some((code, reason));
        }
    }

    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<TaskStatus>,
        mut events: mpsc::UnboundedReceiver<String>,
        mut resyncs: broadcast::Receiver<()>,
    ) {
        self.publish();
        loop {
            while let Ok(task) = rx.try_recv() {
                self.on_desired(task);
            }
            if self.known.get() == TaskStatus::Stopped {
                break;
            }
            if self.stop_wanted() {
                self.stop_all().await;
                self.publish();
                continue;
            }
            self.advance().await;
            self.publish();
            if self.stop_wanted() {
                continue;
            }
            let deadline = self.start_deadline();
            tokio::select! {
                () = sleep_until(deadline) => {},
                msg = rx.recv() => match msg {
                    Some(status) => self.on_desired(status),
                    // The agent is shutting down: leave the containers to the next one.
                    None => return,
                },
                Some(id) = events.recv() => if self.owns(&id) {
                    self.observe(&id).await;
                },
                resync = resyncs.recv() => match resync {
                    Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => self.refresh_all().await,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
            self.publish();
        }
        self.cleanup(&mut rx).await;
        for id in self.owned_ids() {
            self.ctx.events.release(&id);
        }
    }
}

/// Sleep until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl TaskActor {
    /// The Docker network an awsvpc task joins: its subnet's, or for a task placed without
    /// an address, the agent's shared network (where Docker picks the address).
    fn task_network_spec(&self) -> NetworkSpec {
        match &self.network {
            Some(n) => crate::hostnet::subnet_network(n),
            None => self.ctx.awsvpc.clone(),
        }
    }
}

/// A random id in the form of a UUID, for the awsvpc attachment.
fn new_attachment_id() -> String {
    let a: u128 = rand::random();
    let h = format!("{a:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Whether the task's network mode is awsvpc.
fn is_awsvpc(spec: &SpecContext) -> bool {
    spec.network == NetMode::Awsvpc
}
