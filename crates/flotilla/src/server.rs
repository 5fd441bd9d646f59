//! `flotilla server` and `flotilla up`: turn the arguments into a `flotilla_server::Config`,
//! bind the listener, and run the server (with, for `up`, an agent beside it) until SIGTERM
//! or Ctrl-C.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use flotilla_aws::Credentials;
use flotilla_server::ControlConfig;
use tokio::net::TcpListener;

mod banner;
mod dns;
mod store;

use self::banner::banner;
use self::dns::{container_dns, dns_options};
use self::store::store_id_file;
pub use self::store::StoreArgs;
use crate::{credentials, default_api_addr, default_data_dir, default_registry_addr, env};

/// Options shared by `server` and `up`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Where the store, credentials and endpoint files live.
    #[arg(long, env = "FLOTILLA_DATA_DIR", default_value_os_t = default_data_dir())]
    pub data_dir: PathBuf,
    /// Address of the AWS API listener.
    #[arg(long, env = "FLOTILLA_API_ADDR", default_value_t = default_api_addr())]
    pub api_addr: SocketAddr,
    #[command(flatten)]
    pub storage: StoreArgs,
    /// The 12-digit account id in every ARN.
    #[arg(long, env = "FLOTILLA_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,
    /// The region `flotilla env` points clients at (every region is served).
    #[arg(long, env = "FLOTILLA_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Seconds after an agent's last poll before its instance counts as disconnected
    /// (default 30 for `server`, 10 for `up`).
    #[arg(long, env = "FLOTILLA_AGENT_TTL")]
    pub agent_ttl_seconds: Option<u64>,
    /// Seconds an instance may stay disconnected (after its agent TTL ran out) before the
    /// service controller replaces its service tasks elsewhere.
    #[arg(long, env = "FLOTILLA_SERVICE_DISCONNECT_GRACE", default_value_t = 60)]
    pub service_disconnect_grace_seconds: u64,
    /// First delay, in milliseconds, of the service controller's backoff for tasks that
    /// keep failing to start (it starts after 3 that never reached RUNNING and doubles per
    /// further one, up to 27 minutes).
    #[arg(long, env = "FLOTILLA_SERVICE_BACKOFF_BASE_MS", default_value_t = 1000)]
    pub service_backoff_base_ms: u64,
    /// Seconds a STOPPED task stays describable before it is deleted (ECS: about an hour).
    #[arg(long, env = "FLOTILLA_STOPPED_TASK_RETENTION", default_value_t = 3600)]
    pub stopped_task_retention_seconds: u64,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Request body bytes held at once, all requests together, before signatures are
    /// checked; more waits a moment, then is refused with 503 (SDKs retry).
    #[arg(long, default_value_t = 128 * 1024 * 1024)]
    pub max_buffered_bytes: usize,
    /// TLS certificate chain (PEM) for the listeners; with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The authority that signed --tls-cert (PEM), if clients should be pointed at it:
    /// `flotilla env` exports it as AWS_CA_BUNDLE and join tokens carry its fingerprint.
    #[arg(long, requires = "tls_cert")]
    pub tls_ca: Option<PathBuf>,
    /// Serve TLS with a certificate authority made for this data directory (kept in
    /// DATA_DIR/tls; `flotilla env` points AWS_CA_BUNDLE at it).
    #[arg(long, conflicts_with = "tls_cert")]
    pub tls_self_signed: bool,
    /// Serve plain HTTP on an address other than loopback (credentials and task
    /// definitions then cross the network in the clear).
    #[arg(long)]
    pub insecure_plain_http: bool,
    /// Address of the web console (`off` for none). `up` serves it on 127.0.0.1:4568 by
    /// default; `server` only when given.
    #[arg(long, env = "FLOTILLA_CONSOLE_ADDR")]
    pub console_addr: Option<String>,
    /// Seconds a console session lasts unused (it also ends --console-session-hours after
    /// sign-in).
    #[arg(long, default_value_t = 1800)]
    pub console_session_idle_seconds: u64,
    /// Hours a console session lasts at most, used or not.
    #[arg(long, default_value_t = 12)]
    pub console_session_hours: u64,
    /// Address of the image registry's listener (`/v2/`, for `docker push` and pull).
    #[arg(long, env = "FLOTILLA_REGISTRY_ADDR", default_value_t = default_registry_addr())]
    pub registry_addr: SocketAddr,
    /// The `host:port` clients and agents reach the registry at, which every
    /// `repositoryUri` starts with (default: --registry-addr as bound, which must then be
    /// a specific address, not 0.0.0.0).
    #[arg(long, env = "FLOTILLA_REGISTRY_ADVERTISE")]
    pub registry_advertise: Option<String>,
    /// The registry's blob directory (default DATA_DIR/registry). Servers on one etcd
    /// serve the same images when they share it (one shared filesystem mounted on every
    /// server, docs/high-availability.md): blobs are named by their digest and renamed
    /// into place whole, so servers writing side by side need no coordination.
    #[arg(long, env = "FLOTILLA_REGISTRY_DIR")]
    pub registry_dir: Option<PathBuf>,
    /// The addresses load balancers' listeners bind: a range FIRST-LAST (each load balancer
    /// gets its own address, so two may both listen on port 80, as on AWS) or one address
    /// they all share. Every 127.x.y.z address is loopback on Linux, so the default
    /// needs no setup.
    #[arg(
        long,
        env = "FLOTILLA_LB_BIND",
        default_value = "127.0.1.1-127.0.1.254"
    )]
    pub lb_bind: String,
    /// This server's own addresses for the listeners, when several servers share a store
    /// (each on its host's addresses): the Nth address of --lb-bind (the same on every
    /// server) is bound as the Nth of these here, and a load balancer's DNS name answers
    /// its address on every running server. Default: --lb-bind's.
    #[arg(long, env = "FLOTILLA_LB_NODE_BIND")]
    pub lb_node_bind: Option<String>,
    /// Listeners bind their port plus this offset: for a server that may not bind ports
    /// below 1024 (not root, no CAP_NET_BIND_SERVICE), e.g. 8000 serves port 80 on 8080.
    #[arg(long, env = "FLOTILLA_LB_PORT_OFFSET", default_value_t = 0)]
    pub lb_port_offset: u16,
    /// Threads serving the load balancer's clients (each with its own socket per
    /// listener); 0 for one per core.
    #[arg(long, env = "FLOTILLA_LB_WORKERS", default_value_t = 0)]
    pub lb_workers: usize,
    /// Where the DNS server answers, over UDP and TCP (port 0: a free port, the same for
    /// both; written to DATA_DIR/dns-addr). Default 127.0.0.1:53 as root, 127.0.0.1:8053
    /// otherwise.
    #[arg(long)]
    pub dns_addr: Option<SocketAddr>,
    /// The address containers resolve names through: the DNS server also answers on
    /// port 53 there, and `up`'s agent gives it to containers as their resolver (run other
    /// hosts' agents with `--container-dns` of an address of this server they reach).
    /// `auto`: for `up` as root, the gateway of Docker's bridge network, if it is free;
    /// otherwise none. `none`: containers keep Docker's default resolvers.
    #[arg(long, env = "FLOTILLA_CONTAINER_DNS", default_value = "auto", value_parser = parse_container_dns)]
    pub container_dns: ContainerDns,
    /// At most this many record sets in one Route 53 hosted zone (SOA and apex NS
    /// included): Route 53's default quota, which AWS raises on request; a change batch
    /// that would pass it fails with InvalidChangeBatch.
    #[arg(
        long,
        env = "FLOTILLA_ROUTE53_MAX_RECORD_SETS_PER_ZONE",
        default_value_t = flotilla_model::route53::DEFAULT_MAX_RECORD_SETS
    )]
    pub route53_max_record_sets_per_zone: usize,
    /// Seconds between two evaluations of every CloudWatch alarm (on the leader).
    #[arg(long, env = "FLOTILLA_ALARM_EVALUATION_SECONDS", default_value_t = 10)]
    pub alarm_evaluation_seconds: u64,
    /// Seconds between runs of the registry's garbage collector (it removes blobs no
    /// image refers to, once they are an hour old, and abandoned uploads).
    #[arg(long, default_value_t = 3600)]
    pub registry_gc_interval_seconds: u64,
    /// Seconds between applications of repositories' lifecycle policies (ECR applies
    /// them within 24 hours).
    #[arg(long, default_value_t = 3600)]
    pub registry_lifecycle_interval_seconds: u64,
    /// The block of each region's default VPC (made on first use; its default subnets,
    /// one per availability zone, are its first /20s, and awsvpc tasks that name no
    /// subnet get their addresses there). Choose one that no other network of the hosts
    /// uses.
    #[arg(long, env = "FLOTILLA_DEFAULT_VPC_CIDR", default_value = flotilla_model::ec2::DEFAULT_VPC_CIDR)]
    pub default_vpc_cidr: flotilla_model::ec2::cidr::Cidr,
    /// How long a task role's credentials last (ECS: six hours); agents renew them when a
    /// third of that is left. At least 30.
    #[arg(
        long,
        env = "FLOTILLA_TASK_CREDENTIALS_SECONDS",
        default_value_t = 21_600
    )]
    pub task_credentials_seconds: u32,
    /// Open connections the API listener accepts at once (lowered to fit the open-file
    /// limit); more are closed at once, with a warning in the log.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
    /// A file holding the 32 random bytes that encrypt Secrets Manager's secrets and SSM's
    /// SecureString parameters at rest. Default: DATA_DIR/secrets.key, made (mode 0600) on
    /// the first start. Back it up apart from the store: without it those values cannot be
    /// read (see docs/secrets.md).
    #[arg(long, env = "FLOTILLA_SECRETS_KEY_FILE")]
    pub secrets_key_file: Option<PathBuf>,
}

/// The `--container-dns` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerDns {
    Auto,
    None,
    Address(std::net::IpAddr),
}

fn parse_container_dns(s: &str) -> Result<ContainerDns, String> {
    match s {
        "auto" => Ok(ContainerDns::Auto),
        "none" => Ok(ContainerDns::None),
        ip => ip
            .parse()
            .map(ContainerDns::Address)
            .map_err(|_| format!("'{ip}' is not an IP address, `auto` or `none`")),
    }
}

/// Options of `up`.
#[derive(clap::Args, Debug, Clone)]
pub struct UpArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Seconds a stopped container is kept before the local agent removes it.
    #[arg(long, default_value_t = 60)]
    pub cleanup_delay_seconds: u64,
}

pub(crate) fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOTILLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hickory_proto=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

pub fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    init_tracing();
    runtime()?.block_on(serve(args, None))
}

pub fn run_up(args: UpArgs) -> anyhow::Result<()> {
    init_tracing();
    let cleanup = std::time::Duration::from_secs(args.cleanup_delay_seconds);
    runtime()?.block_on(serve(args.server, Some(cleanup)))
}

/// The API listener's limits: the connection cap lowered to what the open-file limit
/// (raised to its hard limit first) leaves room for.
fn api_limits(max_connections: usize) -> anyhow::Result<flotilla_net::Limits> {
    let fds = flotilla_net::raise_fd_limit().context("raising the open-file limit")?;
    let cap = flotilla_net::connection_cap(max_connections, fds);
    if cap < max_connections {
        tracing::warn!(
            open_file_limit = fds,
            connections = cap,
            "the open-file limit allows fewer connections than --max-connections"
        );
    }
    Ok(flotilla_net::Limits {
        max_connections: cap,
        ..flotilla_net::Limits::default()
    })
}

/// The listeners' TLS from the options, if any: a self-signed authority made for the data
/// directory, or the given certificate. Plain HTTP only on loopback, unless told.
fn server_tls(args: &ServerArgs) -> anyhow::Result<Option<flotilla_server::ServerTls>> {
    let tls = if args.tls_self_signed {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let files = flotilla_net::tls::self_signed(&args.data_dir.join("tls"), host.trim())
            .map_err(anyhow::Error::msg)?;
        Some((files.cert, files.key, Some(files.ca)))
    } else {
        match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some((cert.clone(), key.clone(), args.tls_ca.clone())),
            _ => None,
        }
    };
    let Some((cert, key, ca)) = tls else {
        if !args.api_addr.ip().is_loopback() && !args.insecure_plain_http {
            bail!(
                "{} is not a loopback address: serve TLS (--tls-cert/--tls-key, or \
                 --tls-self-signed), or pass --insecure-plain-http",
                args.api_addr
            );
        }
        return Ok(None);
    };
    let config = flotilla_net::tls::server_config(&cert, &key).map_err(anyhow::Error::msg)?;
    let ca_pem = match &ca {
        Some(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        None => None,
    };
    Ok(Some(flotilla_server::ServerTls { config, ca_pem }))
}

/// Where the console listens: `--console-addr` (`off`: nowhere), else 127.0.0.1:4568 for
/// `up` and nowhere for `server`. Plain HTTP only on loopback, unless told.
fn console_addr(args: &ServerArgs, up: bool) -> anyhow::Result<Option<SocketAddr>> {
    let addr = match args.console_addr.as_deref() {
        Some("off") => return Ok(None),
        Some(a) => a
            .parse::<SocketAddr>()
            .map_err(|_| anyhow::anyhow!("--console-addr {a}: expected IP:PORT or off"))?,
        None if up => SocketAddr::from(([127, 0, 0, 1], 4568)),
        None => return Ok(None),
    };
    let tls = args.tls_cert.is_some() || args.tls_self_signed;
    if !addr.ip().is_loopback() && !tls && !args.insecure_plain_http {
        bail!("--console-addr {addr} is not a loopback address: serve TLS, or pass --insecure-plain-http");
    }
    Ok(Some(addr))
}

/// The `host:port` the registry is reached at: the advertised one, else the bound address
/// (which must then be one a client can dial).
fn registry_host(args: &ServerArgs, bound: SocketAddr) -> anyhow::Result<String> {
    if let Some(host) = &args.registry_advertise {
        return Ok(host.clone());
    }
    if bound.ip().is_unspecified() {
        bail!(
            "the registry listens on {bound}: pass --registry-advertise HOST:PORT, the address \
             clients and agents reach it at (every repositoryUri starts with it)"
        );
    }
    if !bound.ip().is_loopback()
        && args.tls_cert.is_none()
        && !args.tls_self_signed
        && !args.insecure_plain_http
    {
        bail!("{bound} is not a loopback address: serve TLS, or pass --insecure-plain-http");
    }
    Ok(bound.to_string())
}

/// The secrets key: the file the operator named, or the data directory's `secrets.key`
/// (made on the first start, next to the store, not inside it); and how the banner
/// describes where it came from.
fn secrets_key(args: &ServerArgs) -> anyhow::Result<(flotilla_server::SecretsKey, String)> {
    if let Some(path) = &args.secrets_key_file {
        let key = flotilla_server::SecretsKey::load(path)?;
        let source = format!("{} (key id {})", path.display(), key.id());
        return Ok((key, source));
    }
    let path = args.data_dir.join("secrets.key");
    let (key, made) = flotilla_server::SecretsKey::load_or_create(&path)?;
    let source = if made {
        format!(
            "generated and saved to {} (key id {}): back it up (docs/secrets.md)",
            path.display(),
            key.id()
        )
    } else {
        format!("{} (key id {})", path.display(), key.id())
    };
    Ok((key, source))
}

fn validate_account(account: &str) -> anyhow::Result<()> {
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        bail!("--account-id must be 12 digits, got '{account}'");
    }
    Ok(())
}

/// Serve the API; with `local_agent` (the container cleanup delay) also run an agent on
/// this host, as `up` does.
async fn serve(args: ServerArgs, local_agent: Option<std::time::Duration>) -> anyhow::Result<()> {
    let up = local_agent.is_some();
    validate_account(&args.account_id)?;
    private_dir(&args.data_dir)?;
    let _lock = lock_data_dir(&args.data_dir)?;
    let (pair, source) = credentials::load_or_generate(&args.data_dir)?;
    let creds = Credentials::single(
        &args.account_id,
        &pair.access_key_id,
        &pair.secret_access_key,
    )
    .map_err(|e| anyhow::anyhow!("invalid credentials: {e}"))?;

    let tls = server_tls(&args)?;
    let (secrets_key, secrets_source) = secrets_key(&args)?;
    let mut control = ControlConfig::new(args.account_id.clone());
    control.secrets_key = std::sync::Arc::new(secrets_key);
    let ttl = args.agent_ttl_seconds.unwrap_or(if up { 10 } else { 30 });
    control.agent_ttl = std::time::Duration::from_secs(ttl.max(1));
    control.service_disconnect_grace =
        std::time::Duration::from_secs(args.service_disconnect_grace_seconds);
    control.service_backoff_base = std::time::Duration::from_millis(args.service_backoff_base_ms);
    control.stopped_task_retention =
        std::time::Duration::from_secs(args.stopped_task_retention_seconds);
    control.lifecycle_interval =
        std::time::Duration::from_secs(args.registry_lifecycle_interval_seconds.max(1));
    control.lb_addresses = flotilla_server::AddressPool::parse(&args.lb_bind)
        .map_err(|e| anyhow::anyhow!("--lb-bind: {e}"))?;
    control.lb_node_addresses = match &args.lb_node_bind {
        Some(s) => Some(
            flotilla_server::AddressPool::parse(s)
                .map_err(|e| anyhow::anyhow!("--lb-node-bind: {e}"))?,
        ),
        None => None,
    };
    if let Some(node) = &control.lb_node_addresses {
        let pool = &control.lb_addresses;
        if pool.translate(node, pool.last).is_none() {
            bail!(
                "--lb-node-bind {node} has fewer addresses than --lb-bind {pool}: give it as many"
            );
        }
    }
    control.lb_port_offset = args.lb_port_offset;
    control.route53_max_record_sets_per_zone = args.route53_max_record_sets_per_zone;
    if args.default_vpc_cidr.prefix() > flotilla_model::ec2::DEFAULT_SUBNET_PREFIX {
        anyhow::bail!(
            "--default-vpc-cidr {} is too small: it needs room for /{} subnets",
            args.default_vpc_cidr,
            flotilla_model::ec2::DEFAULT_SUBNET_PREFIX
        );
    }
    control.default_vpc_cidr = args.default_vpc_cidr;
    if args.task_credentials_seconds < 30 {
        anyhow::bail!("--task-credentials-seconds must be at least 30");
    }
    control.task_credentials =
        std::time::Duration::from_secs(u64::from(args.task_credentials_seconds));
    let container_dns = container_dns(&args, up).await;
    let mut config = flotilla_server::Config {
        store: args.storage.config(&args.data_dir)?,
        credentials: creds,
        control,
        max_body_bytes: args.max_body_bytes,
        max_buffered_bytes: args.max_buffered_bytes,
        limits: api_limits(args.max_connections)?,
        tls: tls.clone(),
        node_id: node_id(&args.data_dir)?,
        ensure_clusters: if up {
            vec![(args.region.clone(), "default".to_string())]
        } else {
            vec![]
        },
        telemetry_dir: Some(args.data_dir.clone()),
        registry: Some(flotilla_server::RegistryConfig {
            gc_interval: std::time::Duration::from_secs(args.registry_gc_interval_seconds.max(1)),
            ..flotilla_server::RegistryConfig::new(
                args.registry_dir
                    .clone()
                    .unwrap_or_else(|| args.data_dir.join("registry")),
            )
        }),
        load_balancer: Some(flotilla_server::LbOptions {
            port_offset: args.lb_port_offset,
            workers: args.lb_workers,
            ..flotilla_server::LbOptions::default()
        }),
        dns: Some(dns_options(&args, container_dns)),
        metrics: flotilla_server::MetricsConfig {
            alarm_interval: std::time::Duration::from_secs(args.alarm_evaluation_seconds.max(1)),
            dir: (args.storage.store != "memory").then(|| args.data_dir.join("metrics")),
        },
        console: None,
    };

    let listener = TcpListener::bind(args.api_addr)
        .await
        .with_context(|| format!("binding the API listener on {}", args.api_addr))?;
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = format!("{scheme}://{addr}");
    let registry_listener = TcpListener::bind(args.registry_addr)
        .await
        .with_context(|| format!("binding the registry listener on {}", args.registry_addr))?;
    let registry_host = registry_host(&args, registry_listener.local_addr()?)?;
    let console_listener = match console_addr(&args, up)? {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the console's listener on {addr}"))?,
        ),
        None => None,
    };
    let console_url = match &console_listener {
        Some(l) => {
            config.console = Some(flotilla_console::Config {
                region: args.region.clone(),
                lifetimes: flotilla_console::session::Lifetimes {
                    idle: std::time::Duration::from_secs(args.console_session_idle_seconds.max(1)),
                    absolute: std::time::Duration::from_secs(
                        args.console_session_hours.max(1) * 3600,
                    ),
                },
                ..flotilla_console::Config::default()
            });
            Some(format!("{scheme}://{}", l.local_addr()?))
        }
        None => None,
    };
    config.control.registry_endpoint = Some(format!("{scheme}://{registry_host}"));
    config.control.api_endpoint = Some(endpoint.clone());
    // The authority clients should trust, where `flotilla env` and the local agent find it.
    let ca_file = env::ca_file(&args.data_dir);
    match tls.as_ref().and_then(|t| t.ca_pem.as_ref()) {
        Some(pem) => std::fs::write(&ca_file, pem)
            .with_context(|| format!("writing {}", ca_file.display()))?,
        None => {
            let _ = std::fs::remove_file(&ca_file);
        }
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let listeners = flotilla_server::Listeners {
        api: listener,
        registry: Some(registry_listener),
        console: console_listener,
    };
    let server = flotilla_server::Server::start(listeners, config)
        .await
        .context("starting the server")?;
    let container_dns = match container_dns {
        Some(ip) if server.dns_also_addrs().iter().any(|a| a.ip() == ip) => Some(ip),
        Some(ip) if args.container_dns != ContainerDns::Auto => {
            anyhow::bail!("the DNS server cannot listen on {ip}:53 for containers (--container-dns): is the port taken, or the address not this host's?")
        }
        _ => None,
    };
    if args.storage.store == "sqlite" {
        write_atomically(&store_id_file(&args.data_dir), server.store_id())?;
    }
    // The endpoint last: scripts wait for it, then read the others.
    let dns_addr = server.dns_addr();
    match dns_addr {
        Some(addr) => write_atomically(&env::dns_file(&args.data_dir), addr.to_string())?,
        None => {
            let _ = std::fs::remove_file(env::dns_file(&args.data_dir));
        }
    }
    write_atomically(&env::region_file(&args.data_dir), &args.region)?;
    write_atomically(&env::registry_file(&args.data_dir), &registry_host)?;
    match &console_url {
        Some(url) => write_atomically(&env::console_file(&args.data_dir), url)?,
        None => {
            let _ = std::fs::remove_file(env::console_file(&args.data_dir));
        }
    }
    write_atomically(&env::endpoint_file(&args.data_dir), &endpoint)?;
    banner(
        &args,
        (&endpoint, console_url.as_deref()),
        &registry_host,
        (dns_addr, container_dns),
        &pair,
        (&source, &secrets_source),
        up,
    );
    let agent_config = match local_agent {
        None => None,
        Some(cleanup) => {
            let mut config =
                local_agent_config(&args, ttl, &endpoint, cleanup, &pair, &server).await?;
            config.container_dns = container_dns.iter().map(|ip| ip.to_string()).collect();
            Some(config)
        }
    };
    let server = async {
        server
            .serve(stopped(stop_rx.clone()))
            .await
            .context("serving")
    };
    match agent_config {
        None => server.await?,
        Some(config) => {
            tokio::try_join!(
                server,
                crate::agent::serve(config, stopped(stop_rx.clone()))
            )?;
        }
    }
    tracing::info!("shut down");
    Ok(())
}

/// The configuration of `up`'s own agent. It joins with a join token the server makes for
/// it (once: it keeps the key it gets), so the root key never signs its calls; an agent
/// that registered with the root key before join tokens existed keeps that identity.
async fn local_agent_config(
    args: &ServerArgs,
    ttl: u64,
    endpoint: &str,
    cleanup: std::time::Duration,
    pair: &credentials::KeyPair,
    server: &flotilla_server::Server,
) -> anyhow::Result<flotilla_agent::AgentConfig> {
    let agent_args = crate::agent::AgentArgs {
        server: endpoint.to_string(),
        cluster: "default".into(),
        data_dir: args.data_dir.join("agent"),
        region: args.region.clone(),
        availability_zone: "local-1a".into(),
        attributes: vec![],
        capacity_provider: None,
        join_token: None,
        join_token_file: None,
        accept_store: false,
        disable_privileged: false,
        disable_host_network: false,
        disable_host_pid: false,
        allow_host_paths: vec![],
        ca_file: Some(env::ca_file(&args.data_dir)).filter(|f| f.exists()),
        credentials: None,
        cleanup_delay_seconds: cleanup.as_secs(),
        cpu_units: None,
        memory_mib: None,
        poll_wait_seconds: (ttl / 3).clamp(1, 10),
        container_dns: Vec::new(),
        // As a separate agent's default: tasks with a task role get their credentials
        // (when the server runs as root; otherwise the agent warns and serves none).
        credentials_endpoint: crate::agent::EndpointArg(Some(std::net::SocketAddrV4::new(
            flotilla_agent::credentials::DEFAULT_ADDRESS,
            0,
        ))),
        log_buffer_bytes: 256 << 20,
        stats_interval_seconds: 5,
        // The server's listener serves the agent's metrics too (one process).
        metrics_addr: None,
    };
    let dir = &agent_args.data_dir;
    if crate::agent::registered_with_root_key(dir) {
        return Ok(crate::agent::config(&agent_args, Some(pair), None));
    }
    let token = if crate::agent::has_own_key(dir) {
        None
    } else {
        let token = server
            .create_join_token(&args.region, "default", 3600, "flotilla up's own agent")
            .await
            .context("creating a join token for the local agent")?;
        Some(token)
    };
    Ok(crate::agent::config(&agent_args, None, token))
}

/// Create `dir` if needed and make it private to its owner (0700): a data directory holds
/// the store, credentials and checkpoints, with task definitions' environment values.
pub(crate) fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("making data directory {} private", dir.display()))
}

/// Hold an exclusive lock on `DATA_DIR/lock` for as long as the returned file lives, so two
/// servers never share a store.
pub(crate) fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join("lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            bail!(
                "another Flotilla is already using the data directory {}",
                dir.display()
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// This server's id for leader election, kept in the data directory so a restarted server
/// recognises the leadership it held.
fn node_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        if !id.trim().is_empty() {
            return Ok(id.trim().to_string());
        }
    }
    let id = format!("{:032x}", rand::random::<u128>());
    write_atomically(&path, &id)?;
    Ok(id)
}

pub(crate) fn write_atomically(path: &Path, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
    use std::io::Write as _;
    let tmp = path.with_extension("tmp");
    let mut file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents.as_ref())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
