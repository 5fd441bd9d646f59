//! Measurements, ignored by default; run them with
//! `cargo test -p flotilla-telemetry --release --lib bench -- --ignored --nocapture`.
//! They print figures rather than assert them: the machine decides.

use super::super::*;
use super::G;
use crate::logs::insights;
use std::time::{Duration, Instant};

const BASE: i64 = 1_796_278_200_000;

fn batch(stream: usize, round: i64, size: i64) -> Vec<InputEvent> {
    (0..size)
        .map(|i| InputEvent {
            timestamp: BASE + round * 1000 + i % 1000,
            message: format!(
                r#"{{"remote":"10.0.{stream}.{i}","method":"GET","path":"/api/items/{i}","status":{},"latency":{}}}"#,
                if i % 50 == 0 { 500 } else { 200 },
                i % 300
            ),
        })
        .collect()
}

fn percentile(mut samples: Vec<Duration>, p: f64) -> Duration {
    samples.sort();
    samples
        .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// Appends of 1,000-event batches across 100 streams from 8 threads, then reads. The
/// segments are 1 MiB so that most events end up sealed, as in a store that has run for
/// a while.
#[test]
#[ignore]
fn throughput_of_appends_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        segment_bytes: 1 << 20,
        ..Limits::default()
    };
    let store = LogStore::open_with(dir.path(), limits).unwrap();
    let (streams, rounds) = (100usize, 20i64);
    let names: Vec<String> = (0..streams).map(|n| format!("web/{n:03}")).collect();
    for n in &names {
        store.create_stream(G.stream(n), 0).unwrap();
    }
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let (store, names) = (store.clone(), names.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for round in 0..rounds {
                    for n in (t..names.len()).step_by(8) {
                        let events = batch(n, round, 1000);
                        let sent = Instant::now();
                        store
                            .append(G.stream(&names[n]), &events, BASE, None)
                            .unwrap();
                        latencies.push(sent.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let secs = started.elapsed().as_secs_f64();
    let total = (streams as i64 * rounds * 1000) as f64;
    println!(
        "append: {total} events in {secs:.2}s = {:.0} events/s; append p50 {:?} p99 {:?}; {} MB on disk",
        total / secs,
        percentile(latencies.clone(), 0.5),
        percentile(latencies, 0.99),
        store.stored_bytes(G) >> 20
    );
    let pattern = crate::logs::pattern::parse("{ $.status = 500 }").unwrap();
    let started = Instant::now();
    let req = FilterEvents {
        pattern: Some(&pattern),
        ..Default::default()
    };
    let page = store.filter_events(G, &req).unwrap();
    println!(
        "filter: a page of {} matches over {streams} streams in {:?}",
        page.events.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let page = store
        .get_events(G.stream(&names[0]), &GetEvents::default())
        .unwrap();
    println!(
        "get: the last {} events of a stream in {:?}",
        page.events.len(),
        started.elapsed()
    );
    let query =
        insights::parse("filter status >= 500 | stats count(*), avg(latency) by bin(1m)").unwrap();
    let started = Instant::now();
    let result = insights::run_on_store(
        &store,
        &query,
        &[(G, "1:/ecs/web")],
        (BASE, BASE + 3_600_000),
        None,
    )
    .unwrap();
    println!(
        "insights: {} records scanned, {} rows in {:?}",
        result.statistics.records_scanned,
        result.rows.len(),
        started.elapsed()
    );
}

/// The target load, 1,000,000 events a minute over 300 streams, each shipping a batch a
/// second: how long an append takes until its events are durable and readable.
#[test]
#[ignore]
fn latency_at_a_million_events_a_minute() {
    let dir = tempfile::tempdir().unwrap();
    let store = LogStore::open(dir.path()).unwrap();
    let (streams, seconds) = (300usize, 10u64);
    let per_batch = 1_000_000 / 60 / streams as i64;
    let names: Vec<String> = (0..streams).map(|n| format!("task/{n:03}")).collect();
    for n in &names {
        store.create_stream(G.stream(n), 0).unwrap();
    }
    let started = Instant::now();
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let (store, names) = (store.clone(), names.clone());
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                for second in 0..seconds {
                    let due = started + Duration::from_secs(second);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    for n in (t..names.len()).step_by(6) {
                        let events = batch(n, second as i64, per_batch);
                        let sent = Instant::now();
                        store
                            .append(G.stream(&names[n]), &events, BASE, None)
                            .unwrap();
                        latencies.push(sent.elapsed());
                    }
                }
                latencies
            })
        })
        .collect();
    let latencies: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let events = latencies.len() as i64 * per_batch;
    println!(
        "{events} events in {:.1}s across {streams} streams: append p50 {:?} p99 {:?} max {:?}",
        started.elapsed().as_secs_f64(),
        percentile(latencies.clone(), 0.5),
        percentile(latencies.clone(), 0.99),
        percentile(latencies, 1.0)
    );
}
