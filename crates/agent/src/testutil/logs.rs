//! The log and stats halves of the test doubles: what fake containers print (with the
//! timestamps a test chooses, so equal timestamps and `since` can be exercised), and a
//! fake server that stores numbered lines as the real one must (lines below a stream's
//! `next_sequence` dropped, a gap accepted), can refuse a group or be unreachable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use bytes::Bytes;
use flotilla_aws::client::CallError;
use flotilla_model::agent_protocol::{
    LogStreamResult, PrepareLogStreamsRequest, PrepareLogStreamsResponse, PutLogsRequest,
    PutLogsResponse, SubmitStatsRequest,
};
use flotilla_runtime::{LogEntry, LogSource, Result};
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::watch;

/// One container's printed entries and whether it has exited.
#[derive(Default, Clone)]
struct Printed {
    entries: Vec<LogEntry>,
    ended: bool,
}

/// What fake containers print, by container id.
#[derive(Default)]
pub(crate) struct FakeLogs {
    logs: Mutex<BTreeMap<String, watch::Sender<Printed>>>,
    /// The `since` of every follow, in order.
    pub follows: Mutex<Vec<(String, i64)>>,
}

impl FakeLogs {
    fn log(&self, id: &str) -> watch::Sender<Printed> {
        self.logs
            .lock()
            .unwrap()
            .entry(id.to_string())
            .or_insert_with(|| watch::channel(Printed::default()).0)
            .clone()
    }

    /// Container `id` prints `text` (a newline is added) at `timestamp_ns`.
    pub(crate) fn print(&self, id: &str, timestamp_ns: i64, text: &str) {
        self.print_raw(id, timestamp_ns, format!("{text}\n").as_bytes());
    }

    /// Container `id` writes an entry exactly as given.
    pub(crate) fn print_raw(&self, id: &str, timestamp_ns: i64, bytes: &[u8]) {
        let entry = LogEntry {
            source: LogSource::Stdout,
            timestamp_ns,
            message: Bytes::copy_from_slice(bytes),
        };
        self.log(id).send_modify(|p| p.entries.push(entry));
    }

    /// The container exited: follows end once they have delivered everything.
    pub(crate) fn end(&self, id: &str) {
        self.log(id).send_modify(|p| p.ended = true);
    }

    pub(crate) fn follow(
        &self,
        id: &str,
        since_seconds: i64,
    ) -> BoxStream<'static, Result<LogEntry>> {
        self.follows
            .lock()
            .unwrap()
            .push((id.to_string(), since_seconds));
        let rx = self.log(id).subscribe();
        let since_ns = since_seconds.saturating_mul(1_000_000_000);
        futures::stream::unfold((rx, 0usize), move |(mut rx, mut next)| async move {
            loop {
                let (found, ended) = {
                    let p = rx.borrow_and_update();
                    let found = (next..p.entries.len())
                        .find(|&i| p.entries[i].timestamp_ns >= since_ns)
                        .map(|i| (i, p.entries[i].clone()));
                    if found.is_none() {
                        next = p.entries.len();
                    }
                    (found, p.ended)
                };
                if let Some((i, e)) = found {
                    return Some((Ok(e), (rx, i + 1)));
                }
                if ended || rx.changed().await.is_err() {
                    return None;
                }
            }
        })
        .boxed()
    }
}

/// One stream as the fake server stores it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stored {
    pub next_sequence: u64,
    pub messages: Vec<String>,
    /// Lines it received again below `next_sequence` (and dropped).
    pub duplicates: u64,
}

/// The fake server's log and stats side.
#[derive(Default)]
pub(crate) struct FakeLogServer {
    pub prepares: Mutex<Vec<PrepareLogStreamsRequest>>,
    /// Answer every stream of these groups with this error.
    pub refuse_groups: Mutex<BTreeMap<String, String>>,
    pub puts: Mutex<Vec<PutLogsRequest>>,
    /// When each PutLogs call arrived (ms since the epoch), in order.
    pub put_times: Mutex<Vec<i64>>,
    /// While true, PutLogs fails as an unreachable server does.
    pub unreachable: AtomicBool,
    /// Fail this many PutLogs calls first.
    pub fail_puts: AtomicUsize,
    pub streams: Mutex<BTreeMap<String, Stored>>,
    pub stats: Mutex<Vec<SubmitStatsRequest>>,
}

fn unreachable() -> CallError {
    CallError::Transport {
        endpoint: "fake".into(),
        message: "connection refused".into(),
    }
}

impl FakeLogServer {
    pub(crate) fn prepare(
        &self,
        request: &PrepareLogStreamsRequest,
    ) -> std::result::Result<PrepareLogStreamsResponse, CallError> {
        self.prepares.lock().unwrap().push(request.clone());
        let refuse = self.refuse_groups.lock().unwrap();
        let streams = self.streams.lock().unwrap();
        Ok(PrepareLogStreamsResponse {
            results: request
                .streams
                .iter()
                .map(|s| LogStreamResult {
                    next_sequence: streams
                        .get(&s.stream.log_stream_name)
                        .map_or(0, |st| st.next_sequence),
                    error: refuse.get(&s.stream.log_group_name).cloned(),
                })
                .collect(),
        })
    }

    pub(crate) fn put(
        &self,
        request: &PutLogsRequest,
    ) -> std::result::Result<PutLogsResponse, CallError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(unreachable());
        }
        if self.fail_puts.load(Ordering::SeqCst) > 0 {
            self.fail_puts.fetch_sub(1, Ordering::SeqCst);
            return Err(unreachable());
        }
        self.puts.lock().unwrap().push(request.clone());
        self.put_times
            .lock()
            .unwrap()
            .push(chrono::Utc::now().timestamp_millis());
        let mut streams = self.streams.lock().unwrap();
        let results = request
            .batches
            .iter()
            .map(|b| {
                let st = streams.entry(b.stream.log_stream_name.clone()).or_default();
                for (i, line) in b.events.iter().enumerate() {
                    let seq = b.first_sequence + i as u64;
                    if seq < st.next_sequence {
                        st.duplicates += 1;
                        continue;
                    }
                    st.messages.push(line.message.clone());
                    st.next_sequence = seq + 1;
                }
                LogStreamResult {
                    next_sequence: st.next_sequence,
                    error: None,
                }
            })
            .collect();
        Ok(PutLogsResponse { results })
    }

    pub(crate) fn stats(&self, request: &SubmitStatsRequest) -> std::result::Result<(), CallError> {
        if self.unreachable.load(Ordering::SeqCst) {
            return Err(unreachable());
        }
        self.stats.lock().unwrap().push(request.clone());
        Ok(())
    }

    /// What stream `name` holds.
    pub(crate) fn stored(&self, name: &str) -> Stored {
        self.streams
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default()
    }
}
