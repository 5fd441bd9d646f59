//! The Docker driver's logs and statistics against the real engine, with the local test
//! image (busybox). Names, cleanup and bounded waits as in `docker.rs`.

#[allow(dead_code)]
mod support;

use std::time::Duration;

use flotilla_runtime::{LogSource, Runtime, RuntimeError};
use futures::StreamExt;
use support::{bounded, Fixture};

const LIMIT: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_reads_stdout_and_stderr_with_timestamps_until_exit() {
    let fx = Fixture::new("logs").await;
    bounded(LIMIT, async {
        let script = "echo one; echo two >&2; sleep 1; echo three; \
                      s=x; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do s=$s$s; done; \
                      echo $s; echo -n last";
        let id = fx.run(&fx.spec("out", &["sh", "-c", script])).await;
        let entries: Vec<_> = fx
            .runtime
            .logs(&id, 0)
            .await
            .expect("follow")
            .map(|e| e.expect("entry"))
            .collect()
            .await;
        let text = |e: &flotilla_runtime::LogEntry| String::from_utf8_lossy(&e.message).to_string();
        // stdout and stderr are copied apart: their order between them is not fixed.
        let one = entries
            .iter()
            .find(|e| text(e) == "one\n")
            .expect("stdout line");
        assert_eq!(one.source, LogSource::Stdout);
        let two = entries
            .iter()
            .find(|e| text(e) == "two\n")
            .expect("stderr line");
        assert_eq!(two.source, LogSource::Stderr);
        // The 32 KiB line comes in pieces of Docker's 16 KiB, only the last with a newline.
        let long: Vec<_> = entries
            .iter()
            .filter(|e| e.message.first() == Some(&b'x'))
            .collect();
        assert!(long.len() >= 2, "{} pieces", long.len());
        let x_bytes = long
            .iter()
            .map(|e| e.message.iter().filter(|b| **b == b'x').count());
        assert_eq!(x_bytes.sum::<usize>(), 32 * 1024);
        // The engine may end a follow at exit before the last piece without a newline is
        // stored; read again once the container is gone, and it is there.
        fx.wait_for(&id, "exited", |s| s.exited).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again: Vec<_> = fx.runtime.logs(&id, 0).await.unwrap().collect().await;
        let last = again.last().unwrap().as_ref().unwrap();
        assert_eq!(text(last), "last");
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i64;
        assert!(entries
            .iter()
            .all(|e| e.timestamp_ns > now_ns - 120_000_000_000 && e.timestamp_ns <= now_ns));
        // `since` in seconds: from the second of "three" on, "one" is gone.
        let three = entries.iter().find(|e| text(e) == "three\n").unwrap();
        let since = three.timestamp_ns / 1_000_000_000;
        let later: Vec<_> = fx.runtime.logs(&id, since).await.unwrap().collect().await;
        assert!(!later.is_empty() && later.len() < entries.len());
        assert!(later
            .iter()
            .all(|e| e.as_ref().unwrap().timestamp_ns >= since * 1_000_000_000));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_reads_cpu_and_memory_of_a_running_container() {
    let fx = Fixture::new("stats").await;
    bounded(LIMIT, async {
        let busy = "while true; do :; done";
        let id = fx.run(&fx.spec("busy", &["sh", "-c", busy])).await;
        fx.wait_for(&id, "running", |s| s.running).await;
        let a = fx.runtime.stats(&id).await.expect("first sample");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let b = fx.runtime.stats(&id).await.expect("second sample");
        assert!(b.read_ns > a.read_ns);
        let cores = (b.cpu_total_ns - a.cpu_total_ns) as f64 / (b.read_ns - a.read_ns) as f64;
        assert!(
            cores > 0.3 && cores < 1.5,
            "a busy loop uses about a core: {cores}"
        );
        assert!(
            b.memory_used_bytes > 0 && b.memory_used_bytes < 64 << 20,
            "{b:?}"
        );
        fx.runtime
            .stop_container(&id, Duration::from_secs(1))
            .await
            .unwrap();
        assert!(matches!(
            fx.runtime.stats(&id).await,
            Err(RuntimeError::NotFound(_))
        ));
    })
    .await;
}

/// A one-shot read waits at most for the engine's next collection tick (Docker collects
/// every second; without one-shot a read takes two ticks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_shot_sample_waits_at_most_one_tick() {
    let fx = Fixture::new("stats-fast").await;
    bounded(LIMIT, async {
        let id = fx.run(&fx.spec("idle", &["sleep", "60"])).await;
        fx.wait_for(&id, "running", |s| s.running).await;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            fx.runtime.stats(&id).await.expect("sample");
            let took = t.elapsed();
            assert!(took < Duration::from_millis(1600), "one-shot took {took:?}");
        }
    })
    .await;
}
