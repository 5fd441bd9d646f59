//! The agent's configuration: where the server is, who the agent is, and the knobs of its
//! loops. Plain data; [`AgentConfig::new`] fills in the defaults the binary does not set.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use flotilla_model::agent_identity::JoinToken;
use flotilla_model::host_access::{self, HostAccess};
use flotilla_model::task_definition::TaskDefinition;

/// Everything [`crate::run`] needs besides a runtime and a shutdown signal.
#[derive(Clone)]
pub struct AgentConfig {
    /// `http://HOST:PORT` of the Flotilla server, or of several (comma-separated, tried
    /// in turn: see `flotilla_aws::client::ClientConfig::endpoint`).
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// A join token: on its first start the agent joins with it and from then on signs
    /// with the key the server issued (kept in the checkpoint); the key pair above is then
    /// not used (and may be empty).
    pub join_token: Option<JoinToken>,
    /// Trust the server's store even if it is not the one this agent last saw (another
    /// identity, or older revisions: a store restored from a backup): reconcile with it,
    /// removing the tasks it does not know. Off, such a store only gets to add and stop
    /// the tasks it knows (see docs/security.md).
    pub accept_store: bool,
    /// The authority an `https://` server's certificate must chain to (PEM). Without it,
    /// the one saved in the data directory, or else the one whose fingerprint the join
    /// token carries (fetched from the server and checked).
    pub ca_file: Option<PathBuf>,
    /// What of this host tasks may reach (privileged containers, host network and pid,
    /// bind-mounted host paths).
    pub host_policy: HostPolicy,
    /// Cluster name (or ARN) to join.
    pub cluster: String,
    /// Where the checkpoint (`agent-state.json`) lives; one instance per directory.
    pub data_dir: PathBuf,
    /// Reported as the `ecs.availability-zone` attribute.
    pub availability_zone: String,
    /// Custom attributes, registered next to the standard `ecs.*` ones.
    pub attributes: Vec<(String, String)>,
    /// How long one Poll may be held by the server (clamped below a third of the
    /// heartbeat TTL the server announces).
    pub poll_wait: Duration,
    /// Stopped containers (and a task's pause container) are removed this long after the
    /// task stopped.
    pub container_cleanup_delay: Duration,
    /// Name of the Docker network awsvpc tasks get their address on.
    pub awsvpc_network: String,
    /// Its IPv4 subnet (the gateway is the first address).
    pub awsvpc_subnet: String,
    /// The resolvers (IP addresses, port 53) containers are given when their definition
    /// names none: Flotilla's DNS server, so tasks resolve Cloud Map and Route 53 names.
    /// Empty: Docker's default (the host's resolvers).
    pub container_dns: Vec<String>,
    /// Where the task credentials endpoint listens (its address is put on the host's
    /// loopback interface; port 0: any free one); containers of tasks with a task role are
    /// told where it is. Absent: none, and task roles get no credentials.
    pub credentials_endpoint: Option<std::net::SocketAddrV4>,
    /// TCP ports always reported as taken, besides those listening on the host.
    pub reserved_ports: Vec<u16>,
    /// How long shutdown waits to deliver queued status reports.
    pub shutdown_flush: Duration,
    /// Bound on a call that is not a long poll.
    pub call_timeout: Duration,
    /// CPU units to offer instead of cores × 1024.
    pub cpu_units: Option<i64>,
    /// Memory (MiB) to offer instead of the host's total.
    pub memory_mib: Option<i64>,
    /// Read the ports already in use on the host (`/proc/net`) when registering. Off for
    /// simulated hosts, which hold none (and where thousands of agents on one machine would
    /// each read the whole socket table).
    pub probe_host_ports: bool,
    /// Shortest time between two saves of the checkpoint (changes in between are saved
    /// together). Adoption by container label covers what a crash loses in between.
    pub checkpoint_interval: Duration,
    /// How often every task actor re-inspects its containers, in case the runtime's event
    /// stream missed something.
    pub resync_interval: Duration,
    /// Bound on the log spool (`DATA_DIR/log-spool`): bytes of `awslogs` lines read but
    /// not yet confirmed by the server that the agent keeps on disk, for all containers
    /// together, before each stream's mode applies (blocking: stop reading; non-blocking:
    /// a memory buffer of `max-buffer-size` that drops the oldest lines).
    pub log_buffer_bytes: u64,
    /// How long a task's STOPPED report waits for the server to confirm its containers'
    /// last log lines.
    pub log_drain_timeout: Duration,
    /// How often running containers' CPU and memory are sampled and sent; zero: never
    /// (simulated fleets in benchmarks, whose server need not hear of them).
    pub stats_interval: Duration,
}

impl AgentConfig {
    /// A configuration with the defaults: 10 s poll wait, 60 s cleanup delay,
    /// `flotilla-awsvpc` on 172.31.240.0/20, zone `local-1a`, ECS's reserved ports, a
    /// 256 MiB log spool, 10 s for a stopping task's last log lines, stats every 5 s.
    pub fn new(
        endpoint: impl Into<String>,
        region: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        cluster: impl Into<String>,
        data_dir: impl Into<PathBuf>,
    ) -> Self {
        AgentConfig {
            endpoint: endpoint.into(),
            region: region.into(),
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            join_token: None,
            accept_store: false,
            ca_file: None,
            host_policy: HostPolicy::default(),
            cluster: cluster.into(),
            data_dir: data_dir.into(),
            availability_zone: "local-1a".into(),
            attributes: Vec::new(),
            poll_wait: Duration::from_secs(10),
            container_cleanup_delay: Duration::from_secs(60),
            awsvpc_network: "flotilla-awsvpc".into(),
            awsvpc_subnet: "172.31.240.0/20".into(),
            container_dns: Vec::new(),
            credentials_endpoint: None,
            reserved_ports: vec![22, 2375, 2376, 51678, 51679],
            shutdown_flush: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
            cpu_units: None,
            memory_mib: None,
            probe_host_ports: true,
            checkpoint_interval: Duration::from_millis(100),
            resync_interval: Duration::from_secs(60),
            log_buffer_bytes: 256 << 20,
            log_drain_timeout: Duration::from_secs(10),
            stats_interval: Duration::from_secs(5),
        }
    }
}

impl fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConfig")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("join_token", &self.join_token)
            .field("cluster", &self.cluster)
            .field("data_dir", &self.data_dir)
            .field("availability_zone", &self.availability_zone)
            .field("attributes", &self.attributes)
            .field("poll_wait", &self.poll_wait)
            .field("container_cleanup_delay", &self.container_cleanup_delay)
            .finish_non_exhaustive()
    }
}

/// The operator's say over what tasks may reach of this host, as ECS's agent settings give
/// it (`ECS_DISABLE_PRIVILEGED` and the like). The instance registers what it allows, so
/// that a task needing more is not placed here (`ATTRIBUTE`); a task that gets here anyway
/// (a server that does not know the rule) fails to start with the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    pub disable_privileged: bool,
    pub disable_host_network: bool,
    pub disable_host_pid: bool,
    /// Host path prefixes bind mounts may use; empty: any.
    pub allowed_host_paths: Vec<String>,
}

impl HostPolicy {
    /// The attributes the instance registers for what it allows.
    pub fn attributes(&self) -> Result<Vec<(String, Option<String>)>, String> {
        let mut out = Vec::new();
        for (name, disabled) in [
            (host_access::PRIVILEGED, self.disable_privileged),
            (host_access::HOST_NETWORK, self.disable_host_network),
            (host_access::HOST_PID, self.disable_host_pid),
        ] {
            if !disabled {
                out.push((name.to_string(), None));
            }
        }
        if !self.allowed_host_paths.is_empty() {
            let value = host_access::check_allowed_host_paths(&self.allowed_host_paths)?;
            out.push((host_access::ALLOWED_HOST_PATHS.to_string(), Some(value)));
        }
        Ok(out)
    }

    /// Why a task of `d` may not run here, if it may not.
    pub fn refusal(&self, d: &TaskDefinition) -> Option<String> {
        let access = HostAccess::of(d);
        for (name, disabled, what, flag) in [
            (
                host_access::PRIVILEGED,
                self.disable_privileged,
                "privileged containers",
                "--disable-privileged",
            ),
            (
                host_access::HOST_NETWORK,
                self.disable_host_network,
                "the host network mode",
                "--disable-host-network",
            ),
            (
                host_access::HOST_PID,
                self.disable_host_pid,
                "the host pid mode",
                "--disable-host-pid",
            ),
        ] {
            if disabled && access.attributes.contains(&name) {
                return Some(format!(
                    "this container instance does not allow {what} (its agent runs with {flag})"
                ));
            }
        }
        if self.allowed_host_paths.is_empty() {
            return None;
        }
        let allowed = self.allowed_host_paths.join(",");
        access
            .host_paths
            .iter()
            .find(|p| !host_access::host_path_allowed(p, Some(&allowed)))
            .map(|p| {
                format!(
                    "this container instance does not allow bind-mounting host path {p} \
                     (allowed: {allowed})"
                )
            })
    }
}
