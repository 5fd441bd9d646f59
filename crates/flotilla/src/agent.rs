//! `flotilla agent`: run the agent on this host against a server, with Docker Engine as
//! the runtime. Also what `flotilla up` starts next to its server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use flotilla_agent::AgentConfig;
use flotilla_model::agent_identity::JoinToken;
use flotilla_runtime::docker::DockerRuntime;

use crate::credentials::{self, KeyPair};

/// Options of `flotilla agent`.
#[derive(clap::Args, Debug, Clone)]
pub struct AgentArgs {
    /// URL of the Flotilla server, e.g. http://127.0.0.1:4566; or the URLs of several
    /// servers on one store, separated by commas: when one does not answer, the agent
    /// carries on with the next (same instance, same tasks).
    #[arg(long, env = "FLOTILLA_SERVER")]
    pub server: String,
    /// Cluster to join.
    #[arg(long, default_value = "default")]
    pub cluster: String,
    /// Where the agent keeps its checkpoint; one container instance per directory.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Region to sign requests for.
    #[arg(long, env = "FLOTILLA_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Reported as the ecs.availability-zone attribute.
    #[arg(long, default_value = "local-1a")]
    pub availability_zone: String,
    /// A custom attribute NAME=VALUE (repeatable).
    #[arg(long = "attribute", value_parser = parse_attribute)]
    pub attributes: Vec<(String, String)>,
    /// The custom capacity provider (made with `aws ecs create-capacity-provider`) this
    /// instance belongs to: tasks a strategy gives that provider are placed here, and
    /// FARGATE / FARGATE_SPOT tasks are not. Registered as the
    /// `flotilla.capacity-provider` attribute.
    #[arg(long)]
    pub capacity_provider: Option<String>,
    /// A join token from `flotilla token create --cluster C`: on its first start the agent
    /// joins with it and gets a key of its own, kept in its data directory. The way to
    /// start an agent on a worker host: it never needs the root key.
    #[arg(
        long,
        env = "FLOTILLA_JOIN_TOKEN",
        hide_env_values = true,
        conflicts_with = "join_token_file"
    )]
    pub join_token: Option<String>,
    /// A file holding the join token (safer than the command line).
    #[arg(long)]
    pub join_token_file: Option<PathBuf>,
    /// Instead of a join token, an AWS shared-credentials file with the account's root key
    /// pair (its [default] profile); otherwise FLOTILLA_ACCESS_KEY_ID /
    /// FLOTILLA_SECRET_ACCESS_KEY, then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long)]
    pub credentials: Option<PathBuf>,
    /// Seconds a stopped container is kept before it is removed.
    #[arg(long, default_value_t = 60)]
    pub cleanup_delay_seconds: u64,
    /// CPU units to offer (default: cores × 1024).
    #[arg(long)]
    pub cpu_units: Option<i64>,
    /// Memory in MiB to offer (default: all of the host's).
    #[arg(long)]
    pub memory_mib: Option<i64>,
    /// Reconcile with the server's store even if it is not the one this agent last saw
    /// (an empty store, or one restored from an older backup): tasks it does not list are
    /// stopped and their containers removed. Without it such a store only adds and stops
    /// the tasks it knows (see docs/security.md).
    #[arg(long)]
    pub accept_store: bool,
    /// Do not run privileged containers here (ECS's ECS_DISABLE_PRIVILEGED): tasks that
    /// have one are not placed on this instance.
    #[arg(long)]
    pub disable_privileged: bool,
    /// Do not run tasks in the host network mode here.
    #[arg(long)]
    pub disable_host_network: bool,
    /// Do not run tasks with pidMode host here.
    #[arg(long)]
    pub disable_host_pid: bool,
    /// A host path prefix bind mounts may use (repeatable); when given, tasks that
    /// bind-mount any other host path are not placed here.
    #[arg(long = "allow-host-path")]
    pub allow_host_paths: Vec<String>,
    /// The authority the server's TLS certificate must chain to (PEM), for an https://
    /// server. Without it, the agent trusts the authority whose fingerprint its join token
    /// carries.
    #[arg(long, env = "FLOTILLA_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// The resolver containers are given when their definition names none (repeatable):
    /// an address of the server's DNS server on port 53 that containers reach (the
    /// server's `--container-dns`), so tasks resolve Cloud Map and Route 53 names.
    /// Without it containers keep Docker's resolvers.
    #[arg(long = "container-dns", value_delimiter = ',')]
    pub container_dns: Vec<std::net::IpAddr>,
    /// Where to serve task roles' credentials to containers (`ADDRESS:PORT`, port 0 for
    /// any free one), or `off`. The address is added to the host's loopback interface;
    /// containers of a task with a task role are told the URL and their task's token.
    #[arg(
        long,
        env = "FLOTILLA_CREDENTIALS_ENDPOINT",
        default_value = "169.254.170.2:0"
    )]
    pub credentials_endpoint: EndpointArg,
    /// Seconds one long poll may wait.
    #[arg(long, default_value_t = 10)]
    pub poll_wait_seconds: u64,
    /// Bytes of awslogs lines kept on disk while the server cannot be reached; when full,
    /// `blocking` containers' logs wait in Docker and `non-blocking` ones drop lines.
    #[arg(long, default_value_t = 256 << 20)]
    pub log_buffer_bytes: u64,
    /// Seconds between samples of running containers' CPU and memory (0: none).
    #[arg(long, default_value_t = 5)]
    pub stats_interval_seconds: u64,
    /// Serve Prometheus metrics at `http://ADDR/metrics`.
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not NAME=VALUE")),
    }
}

/// The root key pair, if one is configured.
fn key_pair(args: &AgentArgs) -> anyhow::Result<Option<KeyPair>> {
    if let Some(path) = &args.credentials {
        return credentials::read(path).map(Some);
    }
    for (id, secret) in [
        ("FLOTILLA_ACCESS_KEY_ID", "FLOTILLA_SECRET_ACCESS_KEY"),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ] {
        if let (Ok(access_key_id), Ok(secret_access_key)) =
            (std::env::var(id), std::env::var(secret))
        {
            return Ok(Some(KeyPair {
                access_key_id,
                secret_access_key,
            }));
        }
    }
    Ok(None)
}

/// The join token given on the command line, in the environment or in a file.
fn join_token(args: &AgentArgs) -> anyhow::Result<Option<JoinToken>> {
    let text = match (&args.join_token, &args.join_token_file) {
        (Some(t), _) => t.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the join token from {}", path.display()))?,
        (None, None) => return Ok(None),
    };
    text.parse::<JoinToken>().map(Some).map_err(Into::into)
}

/// `--credentials-endpoint`: an IPv4 `ADDRESS:PORT`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointArg(pub Option<std::net::SocketAddrV4>);

impl std::str::FromStr for EndpointArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "off" {
            return Ok(EndpointArg(None));
        }
        s.parse()
            .map(|a| EndpointArg(Some(a)))
            .map_err(|_| format!("expected an IPv4 ADDRESS:PORT or off, not {s:?}"))
    }
}

/// Whether the agent of `data_dir` already holds a key of its own from joining.
pub fn has_own_key(data_dir: &Path) -> bool {
    flotilla_agent::checkpoint::Checkpoint::open(data_dir)
        .map(|c| c.snapshot().agent_key.is_some())
        .unwrap_or(false)
}

/// Whether the agent of `data_dir` registered before it had join tokens (with a root key):
/// it keeps that identity rather than join as a new instance.
pub fn registered_with_root_key(data_dir: &Path) -> bool {
    flotilla_agent::checkpoint::Checkpoint::open(data_dir)
        .map(|c| {
            let s = c.snapshot();
            s.container_instance_arn.is_some() && s.agent_key.is_none()
        })
        .unwrap_or(false)
}

/// The agent configuration for these options: a join token, or a root key pair.
pub fn config(args: &AgentArgs, pair: Option<&KeyPair>, token: Option<JoinToken>) -> AgentConfig {
    let (id, secret) = pair.map_or((String::new(), String::new()), |p| {
        (p.access_key_id.clone(), p.secret_access_key.clone())
    });
    let mut c = AgentConfig::new(
        args.server.clone(),
        args.region.clone(),
        id,
        secret,
        args.cluster.clone(),
        args.data_dir.clone(),
    );
    c.join_token = token;
    c.accept_store = args.accept_store;
    c.ca_file = args.ca_file.clone();
    c.host_policy = flotilla_agent::config::HostPolicy {
        disable_privileged: args.disable_privileged,
        disable_host_network: args.disable_host_network,
        disable_host_pid: args.disable_host_pid,
        allowed_host_paths: args.allow_host_paths.clone(),
    };
    c.availability_zone = args.availability_zone.clone();
    c.attributes = args.attributes.clone();
    if let Some(p) = &args.capacity_provider {
        c.attributes.push((
            flotilla_model::capacity_provider::ATTRIBUTE.to_string(),
            p.clone(),
        ));
    }
    c.container_cleanup_delay = Duration::from_secs(args.cleanup_delay_seconds);
    c.poll_wait = Duration::from_secs(args.poll_wait_seconds.max(1));
    c.container_dns = args.container_dns.iter().map(|ip| ip.to_string()).collect();
    c.credentials_endpoint = args.credentials_endpoint.0;
    c.cpu_units = args.cpu_units.filter(|v| *v > 0);
    c.memory_mib = args.memory_mib.filter(|v| *v > 0);
    c.log_buffer_bytes = args.log_buffer_bytes;
    c.stats_interval = Duration::from_secs(args.stats_interval_seconds);
    c
}

/// Run an agent until `shutdown` resolves.
pub async fn serve(
    config: AgentConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    crate::server::private_dir(&config.data_dir)?;
    // One agent per data directory: two would act as the same container instance.
    let _lock = crate::server::lock_data_dir(&config.data_dir)?;
    let runtime = DockerRuntime::connect()
        .await
        .context("connecting to Docker Engine")?;
    flotilla_agent::run(config, Arc::new(runtime), shutdown)
        .await
        .context("agent failed")
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    crate::server::init_tracing();
    let token = join_token(&args)?;
    let pair = key_pair(&args)?;
    if token.is_none() && pair.is_none() && !has_own_key(&args.data_dir) {
        bail!(
            "no identity: pass --join-token (create one with `flotilla token create --cluster \
             {}` where the server runs)",
            args.cluster
        );
    }
    let config = config(&args, pair.as_ref(), token);
    crate::server::runtime()?.block_on(async {
        if let Some(addr) = args.metrics_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding --metrics-addr {addr}"))?;
            tokio::spawn(flotilla_net::serve(
                listener,
                flotilla_server::metrics_router(),
                flotilla_net::Limits::default(),
                None,
                "metrics",
                std::future::pending(),
            ));
        }
        serve(config, crate::server::shutdown_signal()).await
    })
}
