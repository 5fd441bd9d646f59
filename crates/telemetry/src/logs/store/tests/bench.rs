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

/// How a load is shipped: streams, rounds, events a batch, threads, and whether each
/// round starts a second after the previous one (else as soon as it can).
struct Load {
    names: Vec<String>,
    rounds: i64,
    per_batch: i64,
    threads: usize,
    paced: bool,
}

impl Load {
    fn new(prefix: &str, streams: usize, rounds: i64, per_batch: i64, threads: usize) -> Load {
        let names = (0..streams).map(|n| format!("{prefix}/{n:03}")).collect();
        Load {
            names,
            rounds,
            per_batch,
            threads,
            paced: false,
        }
    }

    /// Creates the streams and ships the load; the latency of every append.
    fn ship(&self, store: &LogStore) -> Vec<Duration> {
        for n in &self.names {
            store.create_stream(G.stream(n), 0).unwrap();
        }
        let started = Instant::now();
        let threads: Vec<_> = (0..self.threads)
            .map(|t| {
                let store = store.clone();
                let (names, rounds, per_batch, threads, paced) = (
                    self.names.clone(),
                    self.rounds,
                    self.per_batch,
                    self.threads,
                    self.paced,
                );
                std::thread::spawn(move || {
                    let mut latencies = Vec::new();
                    for round in 0..rounds {
                        if paced {
                            let due = started + Duration::from_secs(round as u64);
                            std::thread::sleep(due.saturating_duration_since(Instant::now()));
                        }
                        for n in (t..names.len()).step_by(threads) {
                            let events = batch(n, round, per_batch);
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
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    }
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
    let load = Load::new("web", streams, rounds, 1000, 8);
    let started = Instant::now();
    let latencies = load.ship(&store);
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
        .get_events(G.stream(&load.names[0]), &GetEvents::default())
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
    let (streams, seconds) = (300usize, 10i64);
    let per_batch = 1_000_000 / 60 / streams as i64;
    let mut load = Load::new("task", streams, seconds, per_batch, 6);
    load.paced = true;
    let started = Instant::now();
    let latencies = load.ship(&store);
    let events = latencies.len() as i64 * per_batch;
    println!(
        "{events} events in {:.1}s across {streams} streams: append p50 {:?} p99 {:?} max {:?}",
        started.elapsed().as_secs_f64(),
        percentile(latencies.clone(), 0.5),
        percentile(latencies.clone(), 0.99),
        percentile(latencies, 1.0)
    );
}
