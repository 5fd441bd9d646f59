//! Container statistics: every `stats_interval` the agent samples each running task
//! container's counters through the runtime (one-shot reads, at most [`CONCURRENCY`] at a
//! time: Docker answers each at its collector's next one-second tick, so reads in a row
//! would take a second each while reads side by side share the tick and cost the agent
//! nothing but an open request), turns two consecutive samples into CPU units used over
//! the interval and memory in use, and sends them all in one `SUBMIT_STATS` call. A call that
//! fails is dropped, not retried: a late metric is worth less than the next one.
//!
//! CPU units: CPU time used between the samples over the wall time between them, × 1,024
//! per core (ECS's unit), so a container keeping one core busy shows 1,024. A container's
//! first sample only sets the baseline.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::{ContainerStats, SubmitStatsRequest};
use flotilla_runtime::{Runtime, StatsSample};
use futures::StreamExt;
use tokio::sync::watch;

use crate::api::{AgentApi, Identity};
use crate::checkpoint::Checkpoint;

/// Samples taken at once (open requests to the engine).
pub(crate) const CONCURRENCY: usize = 128;

/// A running task container to sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sampled {
    pub task_arn: String,
    pub container_name: String,
    pub container_id: String,
}

/// The sampler: the previous sample of each container.
pub(crate) struct Sampler {
    runtime: Arc<dyn Runtime>,
    previous: HashMap<String, StatsSample>,
}

impl Sampler {
    pub(crate) fn new(runtime: Arc<dyn Runtime>) -> Self {
        Sampler {
            runtime,
            previous: HashMap::new(),
        }
    }

    /// Sample `targets` and return what can be computed (containers seen before).
    pub(crate) async fn round(&mut self, targets: Vec<Sampled>) -> Vec<ContainerStats> {
        let runtime = self.runtime.clone();
        let samples: Vec<(Sampled, Option<StatsSample>)> = futures::stream::iter(targets)
            .map(|t| {
                let runtime = runtime.clone();
                async move {
                    let sample = runtime.stats(&t.container_id).await.ok();
                    (t, sample)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut next = HashMap::with_capacity(samples.len());
        let mut out = Vec::with_capacity(samples.len());
        for (t, sample) in samples {
            let Some(sample) = sample else { continue };
            if let Some(stats) = self
                .previous
                .get(&t.container_id)
                .and_then(|prev| usage(&t, prev, &sample))
            {
                out.push(stats);
            }
            next.insert(t.container_id, sample);
        }
        self.previous = next;
        out
    }
}

/// What a container used between two samples; `None` when they do not make an interval.
pub(crate) fn usage(t: &Sampled, prev: &StatsSample, now: &StatsSample) -> Option<ContainerStats> {
    let wall = now.read_ns.checked_sub(prev.read_ns).filter(|w| *w > 0)?;
    let cpu = now.cpu_total_ns.checked_sub(prev.cpu_total_ns)?;
    Some(ContainerStats {
        task_arn: t.task_arn.clone(),
        container_name: t.container_name.clone(),
        timestamp: now.read_ns.div_euclid(1_000_000),
        cpu_units: cpu as f64 / wall as f64 * 1024.0,
        memory_mib: now.memory_used_bytes as f64 / (1024.0 * 1024.0),
    })
}

/// Sample and send every `interval` until `shutdown`.
pub(crate) async fn run(
    runtime: Arc<dyn Runtime>,
    api: Arc<dyn AgentApi>,
    identity: Arc<Identity>,
    checkpoint: Arc<Checkpoint>,
    interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sampler = Sampler::new(runtime);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        let samples = sampler.round(checkpoint.running_containers()).await;
        if samples.is_empty() {
            continue;
        }
        let request = SubmitStatsRequest {
            cluster: identity.cluster().to_string(),
            container_instance_arn: identity.instance_arn(),
            samples,
        };
        if let Err(e) = api.submit_stats(&request).await {
            tracing::debug!(error = %e, samples = request.samples.len(), "SubmitStats failed; samples dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> Sampled {
        Sampled {
            task_arn: "t".into(),
            container_name: "web".into(),
            container_id: "c1".into(),
        }
    }

    fn sample(read_s: f64, cpu_s: f64, mib: u64) -> StatsSample {
        StatsSample {
            read_ns: (read_s * 1e9) as i64,
            cpu_total_ns: (cpu_s * 1e9) as u64,
            memory_used_bytes: mib << 20,
        }
    }

    #[test]
    fn cpu_units_are_cpu_time_over_wall_time_times_1024() {
        let s = usage(&target(), &sample(100.0, 10.0, 1), &sample(105.0, 12.5, 64)).unwrap();
        assert!((s.cpu_units - 512.0).abs() < 1e-6, "{}", s.cpu_units);
        assert_eq!(s.memory_mib, 64.0);
        assert_eq!(s.timestamp, 105_000);
        // Two cores busy.
        let s = usage(&target(), &sample(0.0, 0.0, 1), &sample(1.0, 2.0, 1)).unwrap();
        assert!((s.cpu_units - 2048.0).abs() < 1e-6);
    }

    /// A running task's container, sampled every second by the loop: the first round
    /// sets the baseline, every later one sends a sample; an unreachable server loses
    /// its round and nothing else.
    #[tokio::test(start_paused = true)]
    async fn the_loop_samples_running_tasks_and_sends_one_batch_per_interval() {
        use std::collections::BTreeMap;
        use std::sync::atomic::Ordering;

        use flotilla_model::task::TaskStatus;

        use crate::checkpoint::TaskCheckpoint;
        use crate::testutil::{FakeApi, FakeRuntime};

        let dir = tempfile::tempdir().unwrap();
        let rt = Arc::new(FakeRuntime::new());
        let spec = flotilla_runtime::ContainerSpec {
            labels: BTreeMap::from([(crate::spec::LABEL_CONTAINER_NAME.into(), "web".into())]),
            ..Default::default()
        };
        let id = rt.insert(spec, true);
        rt.set_stats("web", sample(100.0, 1.0, 32));
        let checkpoint = Checkpoint::open(dir.path()).unwrap();
        checkpoint.put_task(TaskCheckpoint {
            task_arn: "t1".into(),
            known_status: TaskStatus::Running,
            containers: BTreeMap::from([("web".to_string(), id)]),
            pause_id: None,
            attachment_id: None,
            host_ports: vec![],
            cleaned: false,
            last_report: None,
        });
        let api = Arc::new(FakeApi::default());
        let (stop, stop_rx) = watch::channel(false);
        let identity = Arc::new(Identity::new("default", "arn:instance/1"));
        let run = tokio::spawn(run(
            rt.clone(),
            api.clone(),
            identity,
            checkpoint,
            Duration::from_secs(1),
            stop_rx,
        ));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(api.logs.stats.lock().unwrap().is_empty(), "a baseline only");
        rt.set_stats("web", sample(101.0, 1.25, 32));
        tokio::time::sleep(Duration::from_secs(1)).await;
        api.logs.unreachable.store(true, Ordering::SeqCst);
        rt.set_stats("web", sample(102.0, 1.5, 32));
        tokio::time::sleep(Duration::from_secs(1)).await;
        api.logs.unreachable.store(false, Ordering::SeqCst);
        rt.set_stats("web", sample(103.0, 2.5, 48));
        tokio::time::sleep(Duration::from_secs(1)).await;
        stop.send(true).unwrap();
        run.await.unwrap();
        let sent = api.logs.stats.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "{sent:?}");
        let first = &sent[0].samples[0];
        assert_eq!(
            (first.task_arn.as_str(), first.container_name.as_str()),
            ("t1", "web")
        );
        assert!((first.cpu_units - 256.0).abs() < 1e-6);
        assert!((sent[1].samples[0].cpu_units - 1024.0).abs() < 1e-6);
        assert_eq!(sent[1].samples[0].memory_mib, 48.0);
    }

    #[test]
    fn samples_that_make_no_interval_give_nothing() {
        assert!(usage(&target(), &sample(5.0, 1.0, 1), &sample(5.0, 2.0, 1)).is_none());
        // A restarted container's counter went back.
        assert!(usage(&target(), &sample(5.0, 3.0, 1), &sample(6.0, 1.0, 1)).is_none());
    }
}
