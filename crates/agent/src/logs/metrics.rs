//! Counters of the log shipper, for the agent to export later (Prometheus counters: they
//! only grow). Relaxed atomics: each is a count on its own, read without a snapshot.

use std::sync::atomic::{AtomicU64, Ordering};

/// What the shipper has done since the agent started.
#[derive(Debug, Default)]
pub struct LogMetrics {
    /// Lines the server confirmed.
    pub lines_shipped: AtomicU64,
    /// Their bytes (messages plus CloudWatch's 26 bytes per event).
    pub bytes_shipped: AtomicU64,
    /// Lines dropped by non-blocking streams whose buffer was full.
    pub lines_dropped: AtomicU64,
    pub bytes_dropped: AtomicU64,
    /// Batches a PUT_LOGS call did not store (transport failure or an error answer).
    pub batches_failed: AtomicU64,
}

/// A plain copy of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounts {
    pub lines_shipped: u64,
    pub bytes_shipped: u64,
    pub lines_dropped: u64,
    pub bytes_dropped: u64,
    pub batches_failed: u64,
}

impl LogMetrics {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn counts(&self) -> LogCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LogCounts {
            lines_shipped: get(&self.lines_shipped),
            bytes_shipped: get(&self.bytes_shipped),
            lines_dropped: get(&self.lines_dropped),
            bytes_dropped: get(&self.bytes_dropped),
            batches_failed: get(&self.batches_failed),
        }
    }
}
