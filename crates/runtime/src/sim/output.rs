//! Logs and statistics of simulated containers.
//!
//! Logs: the lines a container's script prints at start ([`super::LOG_LINES_ENV`]), each
//! stamped one microsecond after the previous one from the start time, filtered by
//! `since` as Docker filters (an entry at or after it); a follow of a running container
//! then waits for its `die` (or `destroy`) event and ends, as Docker's does.
//!
//! Statistics are synthetic: a running container uses 1% of a core since its start and
//! 4 MiB of memory, so an agent sampling it computes 10.24 CPU units.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::broadcast;

use super::SimRuntime;
use crate::{ContainerEvent, LogEntry, LogSource, Result, RuntimeError, StatsSample};

/// Memory a running simulated container uses.
pub const SIM_MEMORY_BYTES: u64 = 4 << 20;
/// The share of one core a running simulated container uses, in percent.
const SIM_CPU_PERCENT: u64 = 1;

impl SimRuntime {
    pub(super) fn follow_logs(
        &self,
        id: &str,
        since_seconds: i64,
    ) -> Result<BoxStream<'static, Result<LogEntry>>> {
        // Subscribe before looking, so an exit right after the look is not missed.
        let events = self.inner.lock().subscribe();
        let clock = &self.inner.clock;
        let (full_id, out) = self.act(|st, now| {
            let key = Self::key(st, id)?;
            let out = st.output(key, now).ok_or_else(|| gone(id))?;
            Ok::<_, RuntimeError>((super::clock::container_id(key), out))
        })?;
        let since_ns = since_seconds.max(0).saturating_mul(1_000_000_000);
        let start_ns = out.started.map(|at| clock.unix_nanos(at));
        let lines: Vec<Result<LogEntry>> = start_ns
            .map(|start| {
                (0..out.log_lines)
                    .map(|i| LogEntry {
                        source: LogSource::Stdout,
                        timestamp_ns: start + i64::from(i) * 1000,
                        message: Bytes::from(format!("line {i}\n")),
                    })
                    .filter(|e| e.timestamp_ns >= since_ns)
                    .map(Ok)
                    .collect()
            })
            .unwrap_or_default();
        let printed = futures::stream::iter(lines);
        if !out.running {
            return Ok(printed.boxed());
        }
        Ok(printed.chain(until_exit(events, full_id)).boxed())
    }

    pub(super) fn sample(&self, id: &str) -> Result<StatsSample> {
        let clock = &self.inner.clock;
        self.act(|st, now| {
            let key = Self::key(st, id)?;
            let out = st.output(key, now).ok_or_else(|| gone(id))?;
            let started = out
                .started
                .filter(|_| out.running)
                .ok_or_else(|| RuntimeError::NotFound(format!("container {id} is not running")))?;
            let busy_micros = now.saturating_sub(started) * SIM_CPU_PERCENT / 100;
            Ok(StatsSample {
                read_ns: clock.unix_nanos(now),
                cpu_total_ns: busy_micros * 1000,
                memory_used_bytes: SIM_MEMORY_BYTES,
            })
        })
    }
}

fn gone(id: &str) -> RuntimeError {
    RuntimeError::NotFound(format!("No such container: {id}"))
}

/// A stream with no items that ends when container `id` dies or is removed.
fn until_exit(
    events: broadcast::Receiver<ContainerEvent>,
    id: String,
) -> BoxStream<'static, Result<LogEntry>> {
    futures::stream::unfold(Some((events, id)), |state| async move {
        let (mut events, id) = state?;
        loop {
            match events.recv().await {
                Ok(e) if e.id == id && (e.action == "die" || e.action == "destroy") => return None,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let lagged = RuntimeError::Unavailable("simulated log follow lagged".into());
                    return Some((Err(lagged), None));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
    .boxed()
}
