//! The agent's Prometheus metrics (see `flotilla-prom`), read at scrape time from what
//! the agent already keeps: its tasks by the status it last saw and their containers
//! (from the checkpoint), and the log shipper's counters. Served at `/metrics` by the
//! process the agent runs in (`flotilla agent --metrics-addr`, or the server's listener in
//! `flotilla up`).

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_prom::{global, Sample};

use crate::checkpoint::Checkpoint;
use crate::logs::{LogCounts, LogShipper};

/// A counter's name, help and how to read it from the shipper's counts.
type Counter = (&'static str, &'static str, fn(&LogCounts) -> u64);

/// Register the agent's collectors (a second agent in the same process replaces them).
pub(crate) fn register(checkpoint: Arc<Checkpoint>, logs: Arc<LogShipper>) {
    global().collect(
        "flotilla_agent_tasks",
        "Tasks on this agent's host by the status the agent last saw.",
        Box::new(move |out| {
            let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
            let mut containers = 0u64;
            for t in checkpoint.snapshot().tasks.values().filter(|t| !t.cleaned) {
                *by_status.entry(t.known_status.as_str()).or_default() += 1;
                containers += t.containers.len() as u64;
            }
            for (status, n) in by_status {
                out.push(Sample::new(vec![("status", status.to_string())], n as f64));
            }
            out.push(Sample::new(
                vec![("status", "containers".to_string())],
                containers as f64,
            ));
        }),
    );
    let counters: [Counter; 5] = [
        ("flotilla_agent_log_lines_shipped_total", "awslogs lines the server confirmed.", |c| c.lines_shipped),
        ("flotilla_agent_log_bytes_shipped_total", "Bytes of awslogs lines the server confirmed (26 per line counted, as CloudWatch does).", |c| c.bytes_shipped),
        ("flotilla_agent_log_lines_dropped_total", "awslogs lines dropped by non-blocking streams whose buffer was full.", |c| c.lines_dropped),
        ("flotilla_agent_log_bytes_dropped_total", "Bytes of the dropped lines.", |c| c.bytes_dropped),
        ("flotilla_agent_log_batches_failed_total", "Log batches the server did not store (sent again later).", |c| c.batches_failed),
    ];
    for (name, help, read) in counters {
        let logs = logs.clone();
        global().collect_counter(
            name,
            help,
            Box::new(move |out| out.push(Sample::new(vec![], read(&logs.counts()) as f64))),
        );
    }
}
