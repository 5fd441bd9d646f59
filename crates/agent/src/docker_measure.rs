//! Measurements against the real Docker Engine, not run by default (`cargo test -p
//! flotilla-agent -- --ignored --nocapture docker_measure`): the cost of sampling a
//! hundred containers' statistics, and the log shipper's throughput and latency on a
//! million lines. They print numbers; they assert only what must hold on any machine.
//!
//! The fake server answers in-process, so the agent's own JSON encoding and HTTP of
//! `PutLogs` are not in the log figures.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_model::agent_protocol::LogStreamRef;
use flotilla_runtime::docker::DockerRuntime;
use flotilla_runtime::{ContainerSpec, Runtime};
use tokio::sync::watch;

use crate::api::Identity;
use crate::logs::{LogSettings, LogShipper, Target};
use crate::stats::{Sampled, Sampler};
use crate::testutil::FakeApi;

fn test_image() -> String {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-image");
    let out = Command::new(&script).output().expect("scripts/test-image");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// User + system CPU seconds of process `pid` ("self" for this one).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command name: state is field 0, utime 11, stime 12 (clock ticks, 100 Hz).
    (ticks(11) + ticks(12)) / 100.0
}

fn dockerd_pid() -> String {
    let out = Command::new("pgrep")
        .arg("-o")
        .arg("dockerd")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Removes every container of the measurement however it ends.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.0)])
            .output()
            .unwrap();
        let ids: Vec<String> = String::from_utf8_lossy(&ids.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rm")
                .arg("-f")
                .args(&ids)
                .output();
        }
    }
}

fn spec(label: &str, name: String, command: &[&str]) -> ContainerSpec {
    ContainerSpec {
        name,
        image: test_image(),
        command: Some(command.iter().map(|s| s.to_string()).collect()),
        labels: [(label.to_string(), "1".to_string())].into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts 100 containers; run by hand"]
async fn sampling_a_hundred_containers() {
    let label = format!("flotilla.measure-{}", std::process::id());
    let _cleanup = Cleanup(label.clone());
    let docker = Arc::new(DockerRuntime::connect().await.unwrap());
    let mut targets = Vec::new();
    for i in 0..100 {
        let s = spec(
            &label,
            format!("flotilla-measure-{}-{i}", std::process::id()),
            &["sleep", "600"],
        );
        let id = docker.create_container(&s).await.unwrap();
        docker.start_container(&id).await.unwrap();
        targets.push(Sampled {
            task_arn: format!("t{i}"),
            container_name: "c".into(),
            container_id: id,
        });
    }
    let mut sampler = Sampler::new(docker.clone());
    sampler.round(targets.clone()).await;
    let dockerd = dockerd_pid();
    let rounds = 5;
    let (cpu0, dcpu0, t0) = (cpu_seconds("self"), cpu_seconds(&dockerd), Instant::now());
    let mut sent = 0;
    for _ in 0..rounds {
        sent += sampler.round(targets.clone()).await.len();
    }
    let wall = t0.elapsed().as_secs_f64() / rounds as f64;
    let agent = (cpu_seconds("self") - cpu0) / rounds as f64;
    let engine = (cpu_seconds(&dockerd) - dcpu0) / rounds as f64;
    eprintln!(
        "100 containers, per round: {wall:.3} s wall, agent {agent:.3} s CPU, dockerd {engine:.3} s CPU; \
         {sent} samples in {rounds} rounds"
    );
    assert_eq!(sent, 100 * rounds);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a million lines; run by hand"]
async fn a_million_lines_through_the_shipper() {
    let label = format!("flotilla.measure-{}", std::process::id());
    let _cleanup = Cleanup(label.clone());
    let docker = Arc::new(DockerRuntime::connect().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let api = Arc::new(FakeApi::default());
    let settings = LogSettings {
        region: "us-east-1".into(),
        buffer_bytes: 256 << 20,
        drain_timeout: Duration::from_secs(10),
    };
    let identity = Arc::new(Identity::new("default", "arn:instance/1"));
    let shipper =
        LogShipper::open(dir.path(), settings, docker.clone(), api.clone(), identity).unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let run = tokio::spawn(shipper.clone().run(stop_rx));
    // 20 bursts of 50,000 lines a second apart: Docker's own rotation (the daemon's
    // log-opts may keep only some tens of MB) must not discard lines before they are read,
    // so the agent has to keep up with about a million lines a minute.
    let n = 1_000_000;
    let script = "i=0; while [ $i -lt 20 ]; do \
                  busybox seq $((i * 50000)) $((i * 50000 + 49999)); \
                  sleep 1; i=$((i+1)); done; sleep 2";
    let s = spec(
        &label,
        format!("flotilla-measure-{}-lines", std::process::id()),
        &["sh", "-c", script],
    );
    let id = docker.create_container(&s).await.unwrap();
    let (cpu0, t0) = (cpu_seconds("self"), Instant::now());
    docker.start_container(&id).await.unwrap();
    shipper.follow(Target {
        container_id: id.clone(),
        task_arn: "arn:aws:ecs:us-east-1:000000000000:task/default/t1".into(),
        stream: LogStreamRef {
            region: "us-east-1".into(),
            log_group_name: "g".into(),
            log_stream_name: "s".into(),
        },
        create_group: false,
        mode: crate::logs::awslogs_blocking(),
    });
    assert!(
        shipper
            .drained(std::slice::from_ref(&id), Duration::from_secs(600))
            .await
    );
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds("self") - cpu0;
    let stored = api.logs.stored("s");
    let numbers: Vec<usize> = stored.messages.iter().map(|m| m.parse().unwrap()).collect();
    let mut seen = std::collections::BTreeSet::new();
    let repeated = numbers.iter().filter(|x| !seen.insert(**x)).count();
    let first_back = numbers.windows(2).position(|w| w[1] <= w[0]);
    eprintln!(
        "stored {}, distinct {}, repeated {repeated}, first step back at {first_back:?} ({:?})",
        numbers.len(),
        seen.len(),
        first_back.map(|i| &numbers[i.saturating_sub(2)..(i + 3).min(numbers.len())])
    );
    assert_eq!(stored.messages.len(), n);
    let mut lags: Vec<i64> = {
        let puts = api.logs.puts.lock().unwrap();
        let times = api.logs.put_times.lock().unwrap();
        puts.iter()
            .zip(times.iter())
            .flat_map(|(p, at)| {
                p.batches
                    .iter()
                    .flat_map(move |b| b.events.iter().map(move |e| at - e.timestamp))
            })
            .collect()
    };
    lags.sort_unstable();
    let pct = |p: f64| lags[((lags.len() as f64 * p) as usize).min(lags.len() - 1)];
    eprintln!(
        "{n} lines in {wall:.1} s ({:.0} lines/min), agent+fake server {cpu:.1} s CPU; \
         Docker-timestamp-to-server: p50 {} ms, p99 {} ms, max {} ms",
        n as f64 / wall * 60.0,
        pct(0.5),
        pct(0.99),
        lags.last().unwrap()
    );
    stop.send(true).unwrap();
    run.await.unwrap();
}
