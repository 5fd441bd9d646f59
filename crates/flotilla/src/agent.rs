//! `flotilla agent`: run the agent on this host against a server, with Docker Engine as
//! the runtime. Also what `flotilla up` starts next to its server.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use flotilla_agent::AgentConfig;
use flotilla_runtime::docker::DockerRuntime;

use crate::credentials::{self, KeyPair};

/// Options of `flotilla agent`.
#[derive(clap::Args, Debug, Clone)]
pub struct AgentArgs {
    /// URL of the Flotilla server, e.g. http://127.0.0.1:4566.
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
    /// An AWS shared-credentials file to read the key pair from (its [default] profile);
    /// otherwise FLOTILLA_ACCESS_KEY_ID / FLOTILLA_SECRET_ACCESS_KEY, then AWS_ACCESS_KEY_ID
    /// / AWS_SECRET_ACCESS_KEY.
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
    /// Seconds one long poll may wait.
    #[arg(long, default_value_t = 10)]
    pub poll_wait_seconds: u64,
}

fn parse_attribute(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not NAME=VALUE")),
    }
}

fn key_pair(args: &AgentArgs) -> anyhow::Result<KeyPair> {
    if let Some(path) = &args.credentials {
        return credentials::read(path);
    }
    for (id, secret) in [
        ("FLOTILLA_ACCESS_KEY_ID", "FLOTILLA_SECRET_ACCESS_KEY"),
        ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
    ] {
        if let (Ok(access_key_id), Ok(secret_access_key)) =
            (std::env::var(id), std::env::var(secret))
        {
            return Ok(KeyPair {
                access_key_id,
                secret_access_key,
            });
        }
    }
    bail!("no credentials: pass --credentials FILE or set FLOTILLA_ACCESS_KEY_ID and FLOTILLA_SECRET_ACCESS_KEY")
}

/// The agent configuration for these options and credentials.
pub fn config(args: &AgentArgs, pair: &KeyPair) -> AgentConfig {
    let mut c = AgentConfig::new(
        args.server.clone(),
        args.region.clone(),
        pair.access_key_id.clone(),
        pair.secret_access_key.clone(),
        args.cluster.clone(),
        args.data_dir.clone(),
    );
    c.availability_zone = args.availability_zone.clone();
    c.attributes = args.attributes.clone();
    c.container_cleanup_delay = Duration::from_secs(args.cleanup_delay_seconds);
    c.poll_wait = Duration::from_secs(args.poll_wait_seconds.max(1));
    c.cpu_units = args.cpu_units.filter(|v| *v > 0);
    c.memory_mib = args.memory_mib.filter(|v| *v > 0);
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
    let pair = key_pair(&args)?;
    let config = config(&args, &pair);
    crate::server::runtime()?.block_on(serve(config, crate::server::shutdown_signal()))
}
