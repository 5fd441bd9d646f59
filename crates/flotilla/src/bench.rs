//! `flotilla bench scale`: many simulated agents and many tasks through the real API, to
//! measure what the control plane does at scale (placements per second, API latency,
//! memory, store size, time until every task runs).
//!
//! The server runs as its own process (`flotilla server`, so its memory is its own), the
//! simulated agents as another (`flotilla bench sim-agents`: agents with the `sim`
//! runtime, speaking the real agent protocol over HTTP), and this process drives RunTask
//! calls and watches progress through the API.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use flotilla_aws::client::{ClientConfig, JsonClient};
use serde_json::{json, Value};

const ACCESS_KEY: &str = "AKIAFLOTILLASCALE001";
const SECRET_KEY: &str = "sCaLeBeNcH/SeCrEt+KeY0123456789abcdefghi";
const ECS_PREFIX: &str = "AmazonEC2ContainerServiceV20141113";

/// Options of `flotilla bench scale`.
#[derive(clap::Args, Debug, Clone)]
pub struct ScaleArgs {
    /// Simulated container instances.
    #[arg(long, default_value_t = 100)]
    pub instances: usize,
    /// Tasks to run (RunTask calls of up to 10).
    #[arg(long, default_value_t = 1000)]
    pub tasks: usize,
    /// State store of the server: sqlite, memory or etcd://HOST:PORT (with the `etcd`
    /// feature).
    #[arg(long, default_value = "sqlite")]
    pub store: String,
    /// RunTask calls in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout_seconds: u64,
    /// Keep the data here instead of a temporary directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seconds between the simulated agents' container samples (SubmitStats), as
    /// `flotilla agent --stats-interval-seconds`; 0: none.
    #[arg(long, default_value_t = 5)]
    pub stats_interval_seconds: u64,
}

/// Options of the hidden `flotilla bench sim-agents`.
#[derive(clap::Args, Debug, Clone)]
pub struct SimAgentsArgs {
    #[arg(long)]
    pub server: String,
    #[arg(long, default_value = "default")]
    pub cluster: String,
    #[arg(long)]
    pub count: usize,
    #[arg(long)]
    pub data_dir: PathBuf,
    #[arg(long, default_value_t = 5)]
    pub stats_interval_seconds: u64,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum BenchCommand {
    /// Simulated agents and tasks through the real API at scale.
    Scale(ScaleArgs),
    /// (internal) run simulated agents against a server.
    #[command(hide = true)]
    SimAgents(SimAgentsArgs),
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    crate::server::init_tracing();
    let rt = crate::server::runtime()?;
    match cmd {
        BenchCommand::Scale(args) => rt.block_on(scale(args)),
        BenchCommand::SimAgents(args) => rt.block_on(sim_agents(args)),
    }
}

/// Kills its child process when dropped.
struct ChildGuard(Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], log: &Path) -> anyhow::Result<ChildGuard> {
    let exe = std::env::current_exe()?;
    let log = std::fs::File::create(log)?;
    let child = Command::new(exe)
        .args(args)
        .env("FLOTILLA_ACCESS_KEY_ID", ACCESS_KEY)
        .env("FLOTILLA_SECRET_ACCESS_KEY", SECRET_KEY)
        .env(
            "FLOTILLA_LOG",
            std::env::var("FLOTILLA_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .spawn()?;
    Ok(ChildGuard(child))
}

fn client(endpoint: &str) -> JsonClient {
    JsonClient::new(
        ClientConfig {
            endpoint: endpoint.to_string(),
            region: "us-east-1".into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            session_token: None,
            timeout: Duration::from_secs(120),
            tls: None,
        },
        "ecs",
        ECS_PREFIX,
    )
}

/// CPU time (user + system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line (1-based): 11 and 12 here (0-based,
    // counting from the state, field 3).
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// Peak and current resident memory of a process, in MiB.
fn memory_mib(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn cluster_counts(ecs: &JsonClient) -> anyhow::Result<(i64, i64, i64)> {
    let out: Value = ecs
        .call("DescribeClusters", &json!({"clusters": ["bench"]}))
        .await?;
    let c = &out["clusters"][0];
    Ok((
        c["registeredContainerInstancesCount"].as_i64().unwrap_or(0),
        c["runningTasksCount"].as_i64().unwrap_or(0),
        c["pendingTasksCount"].as_i64().unwrap_or(0),
    ))
}

async fn scale(args: ScaleArgs) -> anyhow::Result<()> {
    let tmp;
    let base = match &args.data_dir {
        Some(d) => d.clone(),
        None => {
            tmp = std::env::temp_dir().join(format!("flotilla-scale-{}", std::process::id()));
            tmp.clone()
        }
    };
    std::fs::create_dir_all(&base)?;
    let server_dir = base.join("server");
    let server = spawn(
        &[
            "server",
            "--data-dir",
            &server_dir.to_string_lossy(),
            "--api-addr",
            "127.0.0.1:0",
            "--registry-addr",
            "127.0.0.1:0",
            "--store",
            &args.store,
            "--agent-ttl-seconds",
            "120",
            // Every simulated agent keeps its long poll open: more than the default cap
            // (4,096) at 5,000 instances. The server lowers it to what its open-file limit
            // allows (run the bench with `ulimit -n` raised for 5,000).
            "--max-connections",
            "65536",
        ],
        &base.join("server.log"),
    )?;
    let server_pid = server.0.id();
    let endpoint_file = server_dir.join("endpoint");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !endpoint_file.exists() {
        if Instant::now() > deadline {
            bail!(
                "the server did not start; see {}",
                base.join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let endpoint = std::fs::read_to_string(&endpoint_file)?.trim().to_string();
    let ecs = client(&endpoint);
    let _: Value = ecs
        .call("CreateCluster", &json!({"clusterName": "bench"}))
        .await?;
    let _: Value = ecs
        .call(
            "RegisterTaskDefinition",
            &json!({"family": "sim", "containerDefinitions": [
                {"name": "app", "image": "sim/app:1", "memory": 6, "cpu": 0, "essential": true}]}),
        )
        .await?;

    let started = Instant::now();
    let agents = spawn(
        &[
            "bench",
            "sim-agents",
            "--server",
            &endpoint,
            "--cluster",
            "bench",
            "--count",
            &args.instances.to_string(),
            "--data-dir",
            &base.join("agents").to_string_lossy(),
            "--stats-interval-seconds",
            &args.stats_interval_seconds.to_string(),
        ],
        &base.join("agents.log"),
    )?;
    let timeout = Duration::from_secs(args.timeout_seconds);
    loop {
        let (registered, _, _) = cluster_counts(&ecs).await?;
        if registered as usize >= args.instances {
            break;
        }
        if started.elapsed() > timeout {
            bail!("only {registered} of {} agents registered", args.instances);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let registration = started.elapsed();
    eprintln!(
        "{} agents registered in {:.1}s",
        args.instances,
        registration.as_secs_f64()
    );

    // RunTask calls of 10, `concurrency` at a time.
    let calls: Vec<usize> = (0..args.tasks.div_ceil(10))
        .map(|i| (args.tasks - i * 10).min(10))
        .collect();
    let queue = Arc::new(std::sync::Mutex::new(calls));
    let ecs = Arc::new(ecs);
    let run_started = Instant::now();
    // A reader beside the writers: DescribeClusters every 200 ms while RunTasks run, for
    // the latency other API callers see during the load.
    let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let probe = {
        let (ecs, probing) = (ecs.clone(), probing.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            while probing.load(std::sync::atomic::Ordering::Relaxed) {
                let t0 = Instant::now();
                let _: Result<Value, _> = ecs
                    .call("DescribeClusters", &json!({"clusters": ["bench"]}))
                    .await;
                latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            latencies
        })
    };
    let mut workers = Vec::new();
    for _ in 0..args.concurrency.max(1) {
        let (queue, ecs) = (queue.clone(), ecs.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut placed, mut failed) = (0usize, 0usize);
            loop {
                let Some(count) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                    break;
                };
                let t0 = Instant::now();
                let out: Result<Value, _> = ecs
                    .call(
                        "RunTask",
                        &json!({"cluster": "bench", "taskDefinition": "sim", "count": count}),
                    )
                    .await;
                latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                match out {
                    Ok(v) => {
                        let n = v["tasks"].as_array().map_or(0, Vec::len);
                        placed += n;
                        failed += count - n;
                    }
                    Err(e) => {
                        eprintln!("RunTask failed: {e}");
                        failed += count;
                    }
                }
            }
            (latencies, placed, failed)
        }));
    }
    let mut peak_during = 0.0f64;
    let mut latencies = Vec::new();
    let (mut placed, mut failed) = (0, 0);
    for w in workers {
        let (l, p, f) = w.await?;
        latencies.extend(l);
        placed += p;
        failed += f;
        peak_during = peak_during.max(memory_mib(server_pid).1);
    }
    let run_phase = run_started.elapsed();
    latencies.sort_by(|a, b| a.total_cmp(b));
    probing.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut reads = probe.await?;
    reads.sort_by(|a, b| a.total_cmp(b));

    // Until every placed task runs.
    loop {
        let (_, running, _) = cluster_counts(&ecs).await?;
        peak_during = peak_during.max(memory_mib(server_pid).1);
        if running as usize >= placed {
            break;
        }
        if run_started.elapsed() > timeout {
            bail!("only {running} of {placed} tasks reached RUNNING in time");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let all_running = run_started.elapsed();
    let (peak, _) = memory_mib(server_pid);
    let store_bytes = dir_size(&server_dir);
    let (server_cpu, agents_cpu) = (cpu_seconds(server_pid), cpu_seconds(agents.0.id()));
    drop(agents);
    drop(server);

    let table = format!(
        "| instances | tasks placed | failed | RunTask phase | placements/s | RunTask p50 / p99 | DescribeClusters p50 / p99 | all RUNNING after | server peak RSS | store size |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {} | {} | {} | {:.1} s | {:.0} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {:.1} s | {:.0} MiB | {:.1} MiB |",
        args.instances,
        placed,
        failed,
        run_phase.as_secs_f64(),
        placed as f64 / run_phase.as_secs_f64().max(1e-9),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&reads, 0.5),
        percentile(&reads, 0.99),
        all_running.as_secs_f64(),
        peak.max(peak_during),
        store_bytes as f64 / (1024.0 * 1024.0),
    );
    println!(
        "store: {}, container stats: {}, agent registration: {:.1} s, CPU time: server {:.0} s, simulated agents {:.0} s",
        args.store,
        match args.stats_interval_seconds {
            0 => "off".to_string(),
            n => format!("every {n} s"),
        },
        registration.as_secs_f64(),
        server_cpu,
        agents_cpu,
    );
    println!("{table}");
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
    Ok(())
}

async fn sim_agents(args: SimAgentsArgs) -> anyhow::Result<()> {
    // Thousands of agents, each with its connections and checkpoint files.
    flotilla_net::raise_fd_limit().context("raising the open-file limit")?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        crate::server::shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut handles = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let dir = args.data_dir.join(format!("agent-{i:05}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut config = flotilla_agent::AgentConfig::new(
            args.server.clone(),
            "us-east-1",
            ACCESS_KEY,
            SECRET_KEY,
            args.cluster.clone(),
            dir,
        );
        config.availability_zone = format!("sim-{}", ["a", "b", "c"][i % 3]);
        config.poll_wait = Duration::from_secs(20);
        config.probe_host_ports = false;
        config.checkpoint_interval = Duration::from_secs(30);
        config.stats_interval = Duration::from_secs(args.stats_interval_seconds);
        // The sim runtime's event stream is an in-process channel that drops nothing; a
        // resync (every actor inspecting its containers) would only load the machine the
        // server shares.
        config.resync_interval = Duration::from_secs(3600);
        let runtime = Arc::new(flotilla_runtime::sim::SimRuntime::new());
        let mut rx = stop_rx.clone();
        handles.push(tokio::spawn(async move {
            let stop = async move {
                let _ = rx.wait_for(|s| *s).await;
            };
            if let Err(e) = flotilla_agent::run(config, runtime, stop).await {
                eprintln!("simulated agent {i} ended: {e}");
            }
        }));
        if i % 100 == 99 {
            tokio::task::yield_now().await;
        }
    }
    for h in handles {
        let _ = h.await;
    }
    Ok(())
}
