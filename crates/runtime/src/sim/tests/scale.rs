//! A measurement, ignored by default: the time and memory 200,000 simulated containers
//! cost.

use std::time::{Duration, Instant};

use futures::StreamExt;

use super::{run, spec};
use crate::sim::SimRuntime;
use crate::{HealthCheck, NetworkMode, Runtime};

/// Resident memory of this process in bytes (Linux), if known.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// `cargo test -p flotilla-runtime --release --lib -- --ignored --nocapture sim_scale`
#[tokio::test]
#[ignore = "measurement: 200,000 containers"]
async fn sim_scale_200k_containers() {
    const N: usize = 200_000;
    let rt = SimRuntime::new();
    let mut events = rt.events().await.unwrap();
    let drain = tokio::spawn(async move { while events.next().await.is_some() {} });
    let before = resident_bytes();
    let t0 = Instant::now();
    for i in 0..N {
        // As the agent labels them: seven labels, one task ARN per four containers.
        let task = format!(
            "arn:aws:ecs:us-east-1:000000000000:task/default/{:032x}",
            i / 4
        );
        let mut s = spec(
            &format!("ecs-web-3-app-{i:016x}"),
            &[
                ("com.amazonaws.ecs.task-arn", &task),
                ("com.amazonaws.ecs.container-name", "app"),
                (
                    "com.amazonaws.ecs.cluster",
                    "arn:aws:ecs:us-east-1:000000000000:cluster/default",
                ),
                ("com.amazonaws.ecs.task-definition-family", "web"),
                ("com.amazonaws.ecs.task-definition-version", "3"),
                (
                    "flotilla.container-instance",
                    "arn:aws:ecs:us-east-1:000000000000:container-instance/default/1",
                ),
                ("flotilla.data-dir-id", "0123456789abcdef"),
            ],
        );
        s.network = Some(NetworkMode::Host);
        s.health_check = (i % 2 == 0).then(|| HealthCheck {
            test: vec!["CMD".into(), "true".into()],
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            retries: 3,
            start_period: Duration::from_secs(3600),
        });
        run(&rt, &s).await;
    }
    let elapsed = t0.elapsed();
    let after = resident_bytes();
    assert_eq!(rt.container_count(), N);
    let per_op = elapsed / u32::try_from(N).unwrap_or(u32::MAX);
    println!("create+start of {N} containers: {elapsed:?} ({per_op:?} per container)");
    if let (Some(before), Some(after)) = (before, after) {
        println!(
            "resident memory grew {} MiB: ~{} bytes per container",
            after.saturating_sub(before) >> 20,
            after.saturating_sub(before) / N as u64
        );
    }
    let t1 = Instant::now();
    let found = rt
        .list_containers(&[(
            "flotilla.data-dir-id".into(),
            Some("0123456789abcdef".into()),
        )])
        .await
        .unwrap();
    assert_eq!(found.len(), N);
    println!("list_containers of {N}: {:?}", t1.elapsed());
    drop(rt);
    drain.await.unwrap();
}
