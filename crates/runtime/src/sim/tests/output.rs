//! Logs and statistics of simulated containers through the `Runtime` trait.

use super::*;

#[tokio::test]
async fn scripted_lines_are_followed_until_the_container_stops() {
    let rt = SimRuntime::new();
    let s = with_env(spec("printer", &[]), &[(LOG_LINES_ENV, "3")]);
    let id = run(&rt, &s).await;
    let mut logs = rt.logs(&id, 0).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(logs.next().await.unwrap().unwrap());
    }
    let text: Vec<_> = got.iter().map(|e| e.message.clone()).collect();
    assert_eq!(text, ["line 0\n", "line 1\n", "line 2\n"]);
    assert!(got
        .windows(2)
        .all(|w| w[1].timestamp_ns > w[0].timestamp_ns));
    assert!(got.iter().all(|e| e.source == crate::LogSource::Stdout));
    rt.stop_container(&id, Duration::from_secs(1))
        .await
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), logs.next()).await;
    assert!(matches!(end, Ok(None)), "the follow ends at exit");
}

#[tokio::test]
async fn since_filters_and_a_stopped_container_ends_at_once() {
    let rt = SimRuntime::new();
    let s = with_env(spec("quiet", &[]), &[(LOG_LINES_ENV, "2")]);
    let id = run(&rt, &s).await;
    rt.kill(&id, 1);
    let all: Vec<_> = rt.logs(&id, 0).await.unwrap().collect().await;
    assert_eq!(all.len(), 2);
    let later = i64::MAX / 2_000_000_000;
    let none: Vec<_> = rt.logs(&id, later).await.unwrap().collect().await;
    assert!(none.is_empty());
    let silent = run(&rt, &spec("silent", &[])).await;
    rt.kill(&silent, 0);
    assert!(rt.logs(&silent, 0).await.unwrap().next().await.is_none());
}

#[tokio::test]
async fn statistics_are_synthetic_and_only_for_running_containers() {
    let rt = SimRuntime::new();
    let id = run(&rt, &spec("busy", &[])).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let a = rt.stats(&id).await.unwrap();
    assert_eq!(a.memory_used_bytes, SIM_MEMORY_BYTES);
    assert!(a.read_ns > 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let b = rt.stats(&id).await.unwrap();
    assert!(b.cpu_total_ns > a.cpu_total_ns && b.read_ns > a.read_ns);
    rt.kill(&id, 137);
    assert!(matches!(rt.stats(&id).await, Err(E::NotFound(_))));
    assert!(matches!(rt.stats("nope").await, Err(E::NotFound(_))));
}
