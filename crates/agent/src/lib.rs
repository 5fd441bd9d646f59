//! The Flotilla agent: registers a host as an ECS container instance, long-polls the
//! server for the tasks it should run, runs them on a container [`Runtime`] with one actor
//! per task, reports their status in batches, and checkpoints what it knows so a restarted
//! agent adopts its containers instead of duplicating or orphaning them.
//!
//! Map: [`config`] (what the binary sets), `register` and `resources` (the instance),
//! `poll` (the long-poll loop and heartbeat), `manager` and `adopt` (which task gets an
//! actor, with which existing containers), `task_actor` (one task's lifecycle), `spec` and
//! `deps` (ECS definitions → container specs, dependsOn), `reporter` (batched status
//! reports), [`checkpoint`] (the state file), `events` (runtime events to actors),
//! [`logs`] (shipping `awslogs` containers' output), `stats` (CPU and memory samples),
//! `exec` (ExecuteCommand sessions: commands run in containers, streams carried),
//! [`firewall`] (security groups as an nftables table in a task's network namespace, kept
//! in step with each poll answer), [`hostnet`] (each subnet's bridge and the host's rules
//! for them) and [`routes`] (`/32` routes to tasks of those subnets on other hosts).
//! The wire protocol is `flotilla_model::agent_protocol`.
#![forbid(unsafe_code)]

mod adopt;
#[cfg(test)]
mod agent_tests;
pub mod api;
mod backoff;
pub mod checkpoint;
pub mod config;
pub mod credentials;
mod deps;
#[cfg(test)]
mod docker_measure;
mod error;
mod events;
mod exec;
pub mod firewall;
pub mod hostnet;
pub mod logs;
mod manager;
mod metrics;
mod poll;
mod register;
pub mod reporter;
mod resources;
pub mod routes;
mod spec;
mod stats;
mod task_actor;
#[cfg(test)]
mod testutil;
mod tls;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;

pub use api::{AgentApi, HttpApi, Identity};
pub use config::AgentConfig;
pub use error::AgentError;
use flotilla_runtime::{NetworkSpec, Runtime};
use tokio::sync::watch;

use crate::checkpoint::Checkpoint;
use crate::reporter::ReportQueue;
use crate::task_actor::ActorContext;

/// Run the agent against the server at `config.endpoint` until `shutdown` completes;
/// then stop polling, deliver queued reports (bounded by `config.shutdown_flush`) and
/// return, leaving containers running for the next start to adopt.
pub async fn run(
    config: AgentConfig,
    runtime: Arc<dyn Runtime>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), AgentError> {
    let tls = tls::trust(&config).await?;
    let api: Arc<dyn AgentApi> = Arc::new(HttpApi::new(&config, tls));
    run_with_api(config, runtime, api, shutdown).await
}

/// [`run`] with any implementation of the server's calls (tests use a fake).
pub async fn run_with_api(
    config: AgentConfig,
    runtime: Arc<dyn Runtime>,
    api: Arc<dyn AgentApi>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), AgentError> {
    let awsvpc = awsvpc_network(&config)?;
    config
        .host_policy
        .attributes()
        .map_err(AgentError::Config)?;
    let checkpoint = Checkpoint::open(&config.data_dir)?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let stop_all = stop_tx.clone();
    let trigger = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    };
    let agent = async {
        let Some(arn) =
            register::register(api.as_ref(), &config, &checkpoint, false, &mut stop_rx).await?
        else {
            return Ok(());
        };
        tracing::info!(instance = %arn, cluster = %config.cluster, "registered");
        let identity = Arc::new(Identity::new(config.cluster.clone(), arn));
        let reports = ReportQueue::new();
        let events = events::Router::new();
        let writer = tokio::spawn(
            checkpoint
                .clone()
                .run_writer(stop_rx.clone(), config.checkpoint_interval),
        );
        let sender = tokio::spawn(reporter::run_sender(
            reports.clone(),
            api.clone(),
            identity.clone(),
            stop_rx.clone(),
        ));
        let logs = logs::LogShipper::open(
            &config.data_dir,
            logs::LogSettings {
                region: config.region.clone(),
                buffer_bytes: config.log_buffer_bytes,
                drain_timeout: config.log_drain_timeout,
            },
            runtime.clone(),
            api.clone(),
            identity.clone(),
        )?;
        let shipper = tokio::spawn(logs.clone().run(stop_rx.clone()));
        metrics::register(checkpoint.clone(), logs.clone());
        let sampler = (!config.stats_interval.is_zero()).then(|| {
            tokio::spawn(stats::run(
                runtime.clone(),
                api.clone(),
                identity.clone(),
                checkpoint.clone(),
                config.stats_interval,
                stop_rx.clone(),
            ))
        });
        let exec = runtime.runs_commands().then(|| {
            tokio::spawn(exec::run(
                api.clone(),
                runtime.clone(),
                identity.clone(),
                stop_rx.clone(),
            ))
        });
        let pump = tokio::spawn(events::pump(
            runtime.clone(),
            events.clone(),
            config.resync_interval,
            stop_rx.clone(),
        ));
        // In the background: a missing nft only matters to the first awsvpc task.
        tokio::spawn(hostnet::ensure_nft());
        let credentials = credentials::start(
            &config,
            &checkpoint,
            api.clone(),
            identity.clone(),
            stop_rx.clone(),
        )
        .await;
        let ctx = Arc::new(ActorContext {
            runtime: runtime.clone(),
            reports: reports.clone(),
            checkpoint: checkpoint.clone(),
            identity: identity.clone(),
            data_dir_id: checkpoint.snapshot().data_dir_id,
            cleanup_delay: config.container_cleanup_delay,
            awsvpc,
            container_dns: config.container_dns.clone(),
            events,
            host_policy: config.host_policy.clone(),
            registry: Default::default(),
            logs: logs.clone(),
            firewall: Arc::new(firewall::Keeper::new(hostnet::host_services(
                &config.container_dns,
                credentials.as_ref().map(|c| c.address()),
            ))),
            credentials,
            api: api.clone(),
        });
        let mut manager = manager::Manager::new(ctx);
        let poller = poll::Poller {
            api: api.clone(),
            identity: identity.clone(),
            config: &config,
            checkpoint: &checkpoint,
        };
        let result = poller.run(&mut manager, &mut stop_rx).await;
        // Failed (the agent lost its identity) or shut down: stop the other loops either way.
        let _ = stop_all.send(true);
        // Shutting down (or failed): leave the containers, deliver what is queued.
        tracing::info!(
            tasks = manager.live(),
            "agent stopping; containers keep running"
        );
        manager.shutdown().await;
        let _ = sender.await;
        let _ = pump.await;
        let _ = shipper.await;
        if let Some(sampler) = sampler {
            let _ = sampler.await;
        }
        if let Some(exec) = exec {
            let _ = exec.await;
        }
        if !reporter::flush(&reports, api.as_ref(), &identity, config.shutdown_flush).await {
            tracing::warn!(
                left = reports.len(),
                "status reports not delivered before shutdown"
            );
        }
        let _ = writer.await;
        result
    };
    tokio::pin!(agent);
    tokio::select! {
        r = &mut agent => r,
        () = trigger => agent.await,
    }
}

/// The awsvpc network from the configured subnet (gateway: the first address).
fn awsvpc_network(config: &AgentConfig) -> Result<NetworkSpec, AgentError> {
    let bad = || {
        AgentError::Config(format!(
            "awsvpc subnet {:?} is not an IPv4 CIDR",
            config.awsvpc_subnet
        ))
    };
    let (addr, len) = config.awsvpc_subnet.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u32 = len.parse().map_err(|_| bad())?;
    if !(8..=30).contains(&len) {
        return Err(bad());
    }
    let network = u32::from(addr) & (u32::MAX << (32 - len));
    Ok(NetworkSpec {
        name: config.awsvpc_network.clone(),
        subnet: format!("{}/{len}", Ipv4Addr::from(network)),
        gateway: Ipv4Addr::from(network + 1).to_string(),
        labels: BTreeMap::from([("flotilla.managed".to_string(), "true".to_string())]),
        options: Default::default(),
    })
}
