//! Translating an ECS task into runtime [`ContainerSpec`]s: overrides applied to the
//! container definitions, names and labels as ECS gives them, limits, health checks and
//! networking per network mode. Pure functions: no runtime calls.
//!
//! Limits: container `cpu` → CPU shares (at least 2, Docker's minimum); container `memory`
//! → hard limit and `memoryReservation` → soft limit, in MiB. Task-level `cpu` becomes a
//! CFS quota of `cpu / 1024 × 100 000 µs` per 100 ms period on *each* container (Docker
//! offers no per-task cgroup here, so a task's containers together may use up to that many
//! times the task's CPU); task-level `memory` is the hard limit of every container that
//! sets none of its own (the same per-container approximation).
//!
//! awsvpc: the pause container is the only one on the network; the task's containers share
//! its network namespace, so ports are not published, and hostnames and extra hosts (which
//! Docker refuses on a shared namespace) go on the pause container.
//!
//! The pause container also holds the task's PID and IPC namespaces when `pidMode` or
//! `ipcMode` is `task` (in any network mode; outside awsvpc it has no network). Volumes and
//! mounts are in `volumes`, the Linux and Docker-level options in `linux`. Links and
//! `volumesFrom` name other containers of the task by their runtime ids.

mod linux;
pub(crate) mod volumes;

use std::collections::BTreeMap;
use std::time::Duration;

use flotilla_model::task::overrides::TaskOverride;
use flotilla_model::task::TaskRecord;
use flotilla_model::task_definition::{
    parse_cpu, parse_memory, ContainerDefinition, TaskDefinition,
};
use flotilla_runtime::{
    ContainerSpec, HealthCheck, NetworkMode, PortBinding, Protocol, Ulimit, VolumesFrom,
};
use volumes::TaskVolume;

pub(crate) const LABEL_TASK_ARN: &str = "com.amazonaws.ecs.task-arn";
pub(crate) const LABEL_CONTAINER_NAME: &str = "com.amazonaws.ecs.container-name";
pub(crate) const LABEL_CLUSTER: &str = "com.amazonaws.ecs.cluster";
pub(crate) const LABEL_FAMILY: &str = "com.amazonaws.ecs.task-definition-family";
pub(crate) const LABEL_VERSION: &str = "com.amazonaws.ecs.task-definition-version";
pub(crate) const LABEL_INSTANCE: &str = "flotilla.container-instance";
pub(crate) const LABEL_DATA_DIR: &str = "flotilla.data-dir-id";
/// The container name label of a task's pause container (as ECS names it).
pub(crate) const PAUSE_NAME: &str = "~internal~ecs~pause";
/// ECS's default stop timeout.
pub(crate) const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A task definition's network mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetMode {
    Bridge,
    Host,
    None,
    Awsvpc,
}

impl NetMode {
    /// `bridge`, `host`, `none`, `awsvpc`; anything else (Windows' `default`) is bridge.
    pub(crate) fn of(def: &TaskDefinition) -> NetMode {
        match def.effective_network_mode() {
            "host" => NetMode::Host,
            "none" => NetMode::None,
            "awsvpc" => NetMode::Awsvpc,
            _ => NetMode::Bridge,
        }
    }
}

/// The task's overrides; anything unreadable counts as none.
pub(crate) fn overrides(task: &TaskRecord) -> TaskOverride {
    if task.overrides.is_null() {
        return TaskOverride::default();
    }
    serde_json::from_value(task.overrides.clone()).unwrap_or_else(|e| {
        tracing::warn!(task = %task.task_arn, error = %e, "ignoring unreadable overrides");
        TaskOverride::default()
    })
}

/// The task's containers with the container overrides applied.
pub(crate) fn effective_containers(
    def: &TaskDefinition,
    o: &TaskOverride,
) -> Vec<ContainerDefinition> {
    def.container_definitions
        .iter()
        .map(|c| {
            let mut c = c.clone();
            let name = c.name().to_string();
            for co in o.of_container(&name) {
                if let Some(cmd) = &co.command {
                    c.command.clone_from(cmd);
                }
                for kv in &co.environment {
                    c.environment.retain(|e| e.name != kv.name);
                    c.environment.push(kv.clone());
                }
                c.cpu = co.cpu.or(c.cpu);
                c.memory = co.memory.or(c.memory);
                c.memory_reservation = co.memory_reservation.or(c.memory_reservation);
            }
            c
        })
        .collect()
}

/// Task-level CPU units and memory MiB: the task's (as the server placed it), else the
/// overrides', else the definition's.
pub(crate) fn task_limits(
    task: &TaskRecord,
    def: &TaskDefinition,
    o: &TaskOverride,
) -> (Option<i64>, Option<i64>) {
    let cpu = task
        .cpu
        .as_ref()
        .or(o.cpu.as_ref())
        .or(def.cpu.as_ref())
        .and_then(|s| parse_cpu(s));
    let memory = task
        .memory
        .as_ref()
        .or(o.memory.as_ref())
        .or(def.memory.as_ref())
        .and_then(|s| parse_memory(s));
    (cpu.map(i64::from), memory.map(i64::from))
}

/// Who and where a task's containers belong, for names, labels and networking.
#[derive(Debug, Clone)]
pub(crate) struct SpecContext {
    pub task_arn: String,
    pub cluster_arn: String,
    pub instance_arn: String,
    pub data_dir_id: String,
    pub family: String,
    pub revision: i32,
    pub network: NetMode,
    /// awsvpc: the pause container whose namespace the containers join.
    pub pause_id: Option<String>,
    pub task_cpu: Option<i64>,
    pub task_memory: Option<i64>,
    /// The agent's resolvers for containers whose definition names none.
    pub container_dns: Vec<String>,
    /// The task's volumes, by name.
    pub volumes: BTreeMap<String, TaskVolume>,
    /// The task's `pidMode` and `ipcMode`.
    pub pid_mode: Option<String>,
    pub ipc_mode: Option<String>,
    /// Runtime ids of the task's containers created so far, by container name (for links
    /// and `volumesFrom`).
    pub peers: BTreeMap<String, String>,
    /// Variables every container gets after its own (the task role's credentials
    /// endpoint).
    pub extra_env: Vec<(String, String)>,
    /// The values of each container's `secrets`, by container name (read from the server
    /// when the task starts; never saved).
    pub secret_env: BTreeMap<String, Vec<(String, String)>>,
    /// Private registries' logins from containers' `repositoryCredentials`, by container
    /// name: (user name, password).
    pub registry_auth: BTreeMap<String, (String, String)>,
}

impl SpecContext {
    pub(crate) fn new(
        task: &TaskRecord,
        def: &TaskDefinition,
        instance_arn: &str,
        data_dir_id: &str,
        container_dns: &[String],
    ) -> Self {
        let (task_cpu, task_memory) = task_limits(task, def, &overrides(task));
        SpecContext {
            task_arn: task.task_arn.clone(),
            cluster_arn: task.cluster_arn.clone(),
            instance_arn: instance_arn.to_string(),
            data_dir_id: data_dir_id.to_string(),
            family: def.family.clone().unwrap_or_default(),
            revision: def.revision,
            network: NetMode::of(def),
            pause_id: None,
            task_cpu,
            task_memory,
            container_dns: container_dns.to_vec(),
            volumes: volumes::task_volumes(def, &task.task_arn),
            pid_mode: def.pid_mode.clone(),
            ipc_mode: def.ipc_mode.clone(),
            peers: BTreeMap::new(),
            extra_env: Vec::new(),
            secret_env: BTreeMap::new(),
            registry_auth: BTreeMap::new(),
        }
    }

    /// Whether the task needs a pause container: awsvpc's network, or a `task` PID or IPC
    /// namespace.
    pub(crate) fn needs_pause(&self) -> bool {
        self.network == NetMode::Awsvpc
            || self.pid_mode.as_deref() == Some("task")
            || self.ipc_mode.as_deref() == Some("task")
    }

    /// `ecs-<family>-<revision>-<container>-<random>`, as ECS names containers (characters
    /// Docker refuses become `-`).
    pub(crate) fn container_name(&self, container: &str) -> String {
        let raw = format!(
            "ecs-{}-{}-{}-{:016x}",
            self.family,
            self.revision,
            container,
            rand::random::<u64>()
        );
        raw.chars()
            .map(|ch| {
                if ch.is_ascii_alphanumeric() || "_.-".contains(ch) {
                    ch
                } else {
                    '-'
                }
            })
            .collect()
    }

    /// The labels every container of the task carries.
    pub(crate) fn labels(&self, container: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (LABEL_TASK_ARN.into(), self.task_arn.clone()),
            (LABEL_CONTAINER_NAME.into(), container.to_string()),
            (LABEL_CLUSTER.into(), self.cluster_arn.clone()),
            (LABEL_FAMILY.into(), self.family.clone()),
            (LABEL_VERSION.into(), self.revision.to_string()),
            (LABEL_INSTANCE.into(), self.instance_arn.clone()),
            (LABEL_DATA_DIR.into(), self.data_dir_id.clone()),
        ])
    }

    /// The spec of one container (overrides already applied); `Err` when a mount point,
    /// link or `volumesFrom` cannot be honoured here.
    pub(crate) fn container_spec(
        &self,
        c: &ContainerDefinition,
        name: String,
    ) -> Result<ContainerSpec, String> {
        let mut labels = c.docker_labels.clone().unwrap_or_default();
        labels.extend(self.labels(c.name()));
        let env = c
            .environment
            .iter()
            .filter_map(|kv| Some((kv.name.clone()?, kv.value.clone().unwrap_or_default())))
            .chain(self.extra_env.iter().cloned())
            .chain(self.secret_env.get(c.name()).into_iter().flatten().cloned())
            .collect();
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        let mib = |m: i32| i64::from(m) * 1024 * 1024;
        let shared_namespace = self.network == NetMode::Awsvpc;
        let network = if c.disable_networking == Some(true) {
            NetworkMode::None
        } else {
            match (self.network, &self.pause_id) {
                (NetMode::Bridge, _) => NetworkMode::Bridge,
                (NetMode::Host, _) => NetworkMode::Host,
                (NetMode::None, _) => NetworkMode::None,
                (NetMode::Awsvpc, Some(p)) => NetworkMode::Container(p.clone()),
                (NetMode::Awsvpc, None) => NetworkMode::None,
            }
        };
        let own_bridge = network == NetworkMode::Bridge;
        let ports = if own_bridge {
            c.port_mappings
                .iter()
                .filter_map(|p| {
                    Some(PortBinding {
                        container_port: u16::try_from(p.container_port?).ok()?,
                        host_port: p.host_port.and_then(|h| u16::try_from(h).ok()).unwrap_or(0),
                        protocol: protocol(p.protocol.as_deref()),
                        host_ip: String::new(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let (pid_mode, ipc_mode) = linux::namespaces(
            self.pid_mode.as_deref(),
            self.ipc_mode.as_deref(),
            self.pause_id.as_deref(),
        );
        let mut spec = ContainerSpec {
            name,
            image: c.image.clone().unwrap_or_default(),
            entrypoint: non_empty(&c.entry_point),
            command: non_empty(&c.command),
            env,
            working_dir: c.working_directory.clone(),
            user: c.user.clone(),
            labels,
            ulimits: c
                .ulimits
                .iter()
                .map(|u| Ulimit {
                    name: u.name.clone(),
                    soft: i64::from(u.soft_limit),
                    hard: i64::from(u.hard_limit),
                })
                .collect(),
            cpu_shares: c.cpu.map(|cpu| i64::from(cpu).max(2)),
            cpu_quota: self.task_cpu.map(|units| units * 100_000 / 1024),
            memory_bytes: c
                .memory
                .map(mib)
                .or(self.task_memory.map(|m| m * 1024 * 1024)),
            memory_reservation_bytes: c.memory_reservation.map(mib),
            network: Some(network),
            ports,
            health_check: c
                .health_check
                .as_ref()
                .filter(|h| !h.command.is_empty())
                .map(|h| HealthCheck {
                    test: h.command.clone(),
                    interval: secs(h.interval, 30),
                    timeout: secs(h.timeout, 5),
                    retries: h.retries.and_then(|r| u32::try_from(r).ok()).unwrap_or(3),
                    start_period: secs(h.start_period, 0),
                }),
            stop_timeout: Some(stop_timeout(c)),
            extra_hosts: if shared_namespace {
                Vec::new()
            } else {
                extra_hosts(c)
            },
            hostname: if shared_namespace {
                None
            } else {
                c.hostname.clone()
            },
            // Docker takes resolvers only for a container with a network of its own; an
            // awsvpc task's go on its pause container.
            dns: if own_bridge {
                self.resolvers(c)
            } else {
                Vec::new()
            },
            dns_search: if own_bridge {
                c.dns_search_domains.clone()
            } else {
                Vec::new()
            },
            privileged: c.privileged.unwrap_or(false),
            read_only_root: c.readonly_root_filesystem.unwrap_or(false),
            interactive: c.interactive.unwrap_or(false),
            tty: c.pseudo_terminal.unwrap_or(false),
            mounts: volumes::mounts(c, &self.volumes)?,
            volumes_from: c
                .volumes_from
                .iter()
                .map(|v| {
                    let source = v.source_container.as_deref().unwrap_or("");
                    Ok(VolumesFrom {
                        container: self.peer(source)?,
                        read_only: v.read_only.unwrap_or(false),
                    })
                })
                .collect::<Result<_, String>>()?,
            links: c
                .links
                .iter()
                .map(|l| {
                    let (target, alias) = l.split_once(':').unwrap_or((l, l));
                    Ok(format!("{}:{alias}", self.peer(target)?))
                })
                .collect::<Result<_, String>>()?,
            pid_mode,
            ipc_mode,
            ..Default::default()
        };
        linux::apply(c, &mut spec);
        Ok(spec)
    }

    /// The runtime id of the task's container `name`, created before this one.
    fn peer(&self, name: &str) -> Result<String, String> {
        self.peers
            .get(name)
            .cloned()
            .ok_or_else(|| format!("container {name} of the task has not been created"))
    }

    /// A bridge container's resolvers: its definition's `dnsServers`, else the agent's.
    fn resolvers(&self, c: &ContainerDefinition) -> Vec<String> {
        if c.dns_servers.is_empty() {
            self.container_dns.clone()
        } else {
            c.dns_servers.clone()
        }
    }

    /// The pause container: awsvpc's on its subnet's network (at `ipv4`, the address the
    /// control plane gave the task), holding the task's network namespace; otherwise without a network. Its IPC namespace is shareable when the
    /// task's `ipcMode` is `task`.
    pub(crate) fn pause_spec(
        &self,
        containers: &[ContainerDefinition],
        image: &str,
        network: &str,
        ipv4: Option<String>,
    ) -> ContainerSpec {
        ContainerSpec {
            name: self.container_name("internalecspause"),
            image: image.to_string(),
            labels: self.labels(PAUSE_NAME),
            stop_timeout: Some(Duration::from_secs(2)),
            ipc_mode: (self.ipc_mode.as_deref() == Some("task")).then(|| "shareable".into()),
            ..self.pause_network(containers, network, ipv4)
        }
    }

    /// The pause container's networking: awsvpc's network, names and resolvers, or none.
    fn pause_network(
        &self,
        containers: &[ContainerDefinition],
        network: &str,
        ipv4: Option<String>,
    ) -> ContainerSpec {
        if self.network != NetMode::Awsvpc {
            return ContainerSpec {
                network: Some(NetworkMode::None),
                ..Default::default()
            };
        }
        ContainerSpec {
            network: Some(NetworkMode::Network {
                name: network.to_string(),
                ipv4,
            }),
            extra_hosts: containers.iter().flat_map(extra_hosts).collect(),
            hostname: containers.iter().find_map(|c| c.hostname.clone()),
            dns: self.container_dns.clone(),
            ..Default::default()
        }
    }
}

/// A container's stop timeout (ECS default 30 s).
pub(crate) fn stop_timeout(c: &ContainerDefinition) -> Duration {
    c.stop_timeout
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_STOP_TIMEOUT, Duration::from_secs)
}

fn protocol(p: Option<&str>) -> Protocol {
    match p {
        Some(p) if p.eq_ignore_ascii_case("udp") => Protocol::Udp,
        _ => Protocol::Tcp,
    }
}

fn extra_hosts(c: &ContainerDefinition) -> Vec<String> {
    c.extra_hosts
        .iter()
        .map(|h| format!("{}:{}", h.hostname, h.ip_address))
        .collect()
}

fn secs(v: Option<i32>, default: u64) -> Duration {
    Duration::from_secs(v.and_then(|s| u64::try_from(s).ok()).unwrap_or(default))
}

#[cfg(test)]
mod tests;
