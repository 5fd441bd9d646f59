//! The container runtime an agent drives: the [`Runtime`] trait and its drivers.
//!
//! The trait speaks in containers, images and networks, not in ECS tasks: the agent's task
//! actors translate a task into [`ContainerSpec`]s and interpret what the runtime reports.
//! Drivers: [`docker`] (Docker Engine through bollard) and [`sim`] (no containers, for
//! scale tests and benchmarks).
#![forbid(unsafe_code)]

pub mod docker;
pub mod sim;

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

/// Errors a runtime call can end with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The image could not be pulled (does not exist, no registry reachable, denied).
    #[error("pull of {image} failed: {message}")]
    Pull { image: String, message: String },
    /// No such container, image or network.
    #[error("not found: {0}")]
    NotFound(String),
    /// The spec was refused by the runtime (bad option, port already allocated, ...).
    #[error("invalid container configuration: {0}")]
    Invalid(String),
    /// The runtime daemon could not be reached or failed; retrying may help.
    #[error("runtime unavailable: {0}")]
    Unavailable(String),
}

impl RuntimeError {
    pub fn is_retriable(&self) -> bool {
        matches!(self, RuntimeError::Unavailable(_))
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Transport protocol of a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A port to publish: `host_port` 0 lets the runtime pick one (bridge mode's dynamic
/// ports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBinding {
    pub container_port: u16,
    pub host_port: u16,
    pub protocol: Protocol,
    /// Host address to bind; empty for all addresses.
    pub host_ip: String,
}

/// How a container is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Docker's default bridge, with published ports.
    Bridge,
    /// The host's network namespace.
    Host,
    /// No network.
    None,
    /// Share the network namespace of another container (awsvpc: every container of a
    /// task joins the task's network holder).
    Container(String),
    /// A named network (awsvpc's Flotilla-managed network), with an optional fixed address.
    Network { name: String, ipv4: Option<String> },
}

/// A Docker health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// `["CMD", ...]`, `["CMD-SHELL", "..."]` or `["NONE"]`, as ECS and Docker spell it.
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

/// A resource limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Where a mount's data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host directory or file (a bind mount); Docker creates a missing directory.
    HostPath(String),
    /// A named volume (see [`Runtime::create_volume`]).
    Volume(String),
}

/// A volume or host path mounted into a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: MountSource,
    /// Absolute path in the container.
    pub target: String,
    pub read_only: bool,
}

/// Mount every volume of another container (`docker run --volumes-from`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumesFrom {
    /// The other container's name or id.
    pub container: String,
    pub read_only: bool,
}

/// A host device exposed to a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub host_path: String,
    pub container_path: String,
    /// cgroup permissions: any of `r`, `w`, `m`.
    pub permissions: String,
}

/// A named volume to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeSpec {
    pub name: String,
    /// Volume driver; `None`: the runtime's default (`local`).
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// A volume as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VolumeInfo {
    pub name: String,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    /// Container name (unique on the host).
    pub name: String,
    pub image: String,
    /// Replaces the image's entrypoint when set.
    pub entrypoint: Option<Vec<String>>,
    /// Replaces the image's command when set.
    pub command: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub ulimits: Vec<Ulimit>,
    /// CPU shares (ECS container `cpu` units; Docker's minimum is 2).
    pub cpu_shares: Option<i64>,
    /// CPU quota in microseconds per 100 ms period (task-level cpu).
    pub cpu_quota: Option<i64>,
    /// Hard memory limit in bytes.
    pub memory_bytes: Option<i64>,
    /// Soft memory limit (reservation) in bytes.
    pub memory_reservation_bytes: Option<i64>,
    pub network: Option<NetworkMode>,
    pub ports: Vec<PortBinding>,
    pub health_check: Option<HealthCheck>,
    /// Seconds between SIGTERM and SIGKILL when the container is stopped.
    pub stop_timeout: Option<Duration>,
    /// Extra `/etc/hosts` entries (`host:ip`).
    pub extra_hosts: Vec<String>,
    pub hostname: Option<String>,
    /// The container's resolvers (IP addresses, port 53) instead of the daemon's; not
    /// allowed with the host network or another container's.
    pub dns: Vec<String>,
    /// Its DNS search domains.
    pub dns_search: Vec<String>,
    pub privileged: bool,
    pub read_only_root: bool,
    pub init: bool,
    /// Keep stdin open (`docker run -i`).
    pub interactive: bool,
    /// Allocate a TTY (`docker run -t`).
    pub tty: bool,
    /// Bind mounts and named volumes.
    pub mounts: Vec<Mount>,
    pub volumes_from: Vec<VolumesFrom>,
    /// Legacy links, `container` or `container:alias` (runtime names).
    pub links: Vec<String>,
    /// Capabilities added to and dropped from the runtime's default set (`NET_ADMIN`, ...).
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub devices: Vec<Device>,
    /// Size of `/dev/shm` in bytes.
    pub shm_size_bytes: Option<i64>,
    /// tmpfs mounts: path → mount options (`size=64m,noexec`).
    pub tmpfs: BTreeMap<String, String>,
    /// Memory plus swap in bytes (Docker's `MemorySwap`); equal to the memory limit: no swap.
    pub memory_swap_bytes: Option<i64>,
    /// 0-100.
    pub memory_swappiness: Option<i64>,
    /// PID namespace, as Docker spells it: `host` or `container:<id>`.
    pub pid_mode: Option<String>,
    /// IPC namespace, as Docker spells it: `host`, `none`, `shareable` or `container:<id>`.
    pub ipc_mode: Option<String>,
    /// Security options as Docker spells them (`no-new-privileges`, `apparmor=...`).
    pub security_opt: Vec<String>,
    /// Namespaced kernel parameters.
    pub sysctls: BTreeMap<String, String>,
}

/// Health as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// No health check configured.
    None,
    Starting,
    Healthy,
    Unhealthy,
}

/// The observed state of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerState {
    pub id: String,
    pub name: String,
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// Created but not yet started, or restarting.
    pub created: bool,
    pub running: bool,
    /// Exited (or dead); `exit_code` is set.
    pub exited: bool,
    pub exit_code: Option<i64>,
    /// The runtime's error message, e.g. an OOM kill or a failed start.
    pub error: Option<String>,
    pub oom_killed: bool,
    pub health: Health,
    /// Ports actually bound on the host (dynamic ones resolved).
    pub ports: Vec<PortBinding>,
    /// The container's IPv4 addresses, by network name.
    pub ip_addresses: BTreeMap<String, String>,
    /// RFC 3339 times as the runtime reports them, when known.
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The process id of its main process on the host, while it runs (what a task's
    /// network namespace is entered by).
    pub pid: Option<u32>,
}

/// Something changed about a container: look at it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub id: String,
    /// The runtime's action name (`start`, `die`, `health_status: healthy`, `oom`, ...).
    pub action: String,
}

/// A user-defined network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSpec {
    pub name: String,
    /// IPv4 subnet in CIDR form, e.g. `172.31.240.0/20`.
    pub subnet: String,
    pub gateway: String,
    pub labels: BTreeMap<String, String>,
    /// The driver's options (`com.docker.network.bridge.name`, ...).
    pub options: BTreeMap<String, String>,
}

/// Which output of a container a log entry was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogSource {
    Stdout,
    Stderr,
}

/// One message of a container's log as the runtime stored it: a line, or a piece of a
/// longer one (Docker cuts lines at 16 KiB; a piece has no trailing newline and the next
/// message of the same source continues it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub source: LogSource,
    /// When the runtime received it, nanoseconds since the epoch.
    pub timestamp_ns: i64,
    /// The bytes written, with the trailing newline when the line ended here.
    pub message: bytes::Bytes,
}

/// One sample of a container's resource use (the runtime's one-shot statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsSample {
    /// When the runtime read the counters, nanoseconds since the epoch.
    pub read_ns: i64,
    /// CPU time the container has used since it started, nanoseconds.
    pub cpu_total_ns: u64,
    /// Memory in use without the page cache, bytes (what `docker stats` shows).
    pub memory_used_bytes: u64,
}

/// A command to run in a running container, attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecSpec {
    /// The argument vector (the image's entrypoint plays no part).
    pub command: Vec<String>,
    /// Give it a terminal, of `size` (columns, rows) when known; without one, its stdout
    /// and stderr stay apart.
    pub tty: bool,
    pub size: Option<(u16, u16)>,
}

/// What a running command writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutput {
    Stdout(bytes::Bytes),
    Stderr(bytes::Bytes),
}

/// A command started by [`Runtime::exec`]: what it writes (the stream ends when it
/// exits), where its input goes (shut it down to close the command's stdin), and its id
/// for [`Runtime::resize_exec`] and [`Runtime::exec_exit_code`].
pub struct ExecSession {
    pub id: String,
    pub output: BoxStream<'static, Result<ExecOutput>>,
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// A user name and password for the registry an image is pulled from.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// `host:port`.
    pub server: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("server", &self.server)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A container runtime. Every method is safe to call concurrently.
#[async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// Whether an image is present locally.
    async fn image_exists(&self, image: &str) -> Result<bool>;

    /// Pull an image, with `auth` for its registry when given; `RuntimeError::Pull` when
    /// it cannot be had.
    async fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()>;

    /// Create a container (not started); returns its id.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String>;

    async fn start_container(&self, id: &str) -> Result<()>;

    /// Stop: SIGTERM, then SIGKILL after `timeout`. A stopped container is not an error.
    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()>;

    /// Remove a container (forcibly if running). A missing container is not an error.
    async fn remove_container(&self, id: &str) -> Result<()>;

    async fn inspect_container(&self, id: &str) -> Result<ContainerState>;

    /// Containers (running or not) carrying every given label (`value` None: any value).
    async fn list_containers(
        &self,
        labels: &[(String, Option<String>)],
    ) -> Result<Vec<ContainerState>>;

    /// Live container events from now on (every container the runtime runs).
    async fn events(&self) -> Result<BoxStream<'static, Result<ContainerEvent>>>;

    /// Create the network if no network of that name exists.
    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()>;

    /// Make sure the image that holds a task's network namespace (awsvpc) exists locally,
    /// building it without a registry if needed; returns its reference.
    async fn ensure_pause_image(&self) -> Result<String>;

    /// Follow a container's stdout and stderr from `since_seconds` (Unix seconds; 0: from
    /// the start): every stored entry whose timestamp is at or after it, in the order the
    /// runtime stored them, then new ones as they come. The stream ends once the container
    /// has stopped and everything it wrote has been delivered.
    async fn logs(
        &self,
        id: &str,
        since_seconds: i64,
    ) -> Result<BoxStream<'static, Result<LogEntry>>>;

    /// The volume `name`, or `None` when there is none.
    async fn inspect_volume(&self, name: &str) -> Result<Option<VolumeInfo>>;

    /// Create a named volume; creating one that exists with the same driver is not an error.
    async fn create_volume(&self, spec: &VolumeSpec) -> Result<()>;

    /// Remove a named volume. A missing volume is not an error; one still in use is.
    async fn remove_volume(&self, name: &str) -> Result<()>;

    /// One sample of a running container's CPU and memory counters, taken now (not
    /// averaged over a second as a streaming read would be). `NotFound` when the container
    /// is gone or not running.
    async fn stats(&self, id: &str) -> Result<StatsSample>;

    /// Whether [`Runtime::exec`] runs commands (simulated hosts have no processes).
    fn runs_commands(&self) -> bool {
        false
    }

    /// Start `spec` in running container `id`, attached.
    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecSession> {
        let _ = spec;
        Err(RuntimeError::Invalid(format!(
            "this runtime runs no commands in containers ({id})"
        )))
    }

    /// Resize the terminal of a command started with a terminal.
    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<()> {
        let _ = (cols, rows);
        Err(RuntimeError::NotFound(exec_id.to_string()))
    }

    /// A command's exit status once it has ended (`None` while it runs).
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        Err(RuntimeError::NotFound(exec_id.to_string()))
    }
}
