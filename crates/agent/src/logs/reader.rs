//! One task per followed container: read its log from the runtime from a position, turn
//! entries into numbered lines, and queue them on the stream, waiting when a blocking
//! stream is full. A follow that fails (or that the engine ends while the container still
//! runs) is opened again from the position after the last line queued; once the container
//! has stopped the log is read one last time from there (the engine may end a follow at
//! the exit before storing the last output), and then the stream ends.

use std::sync::Arc;
use std::time::Duration;

use flotilla_runtime::RuntimeError;
use futures::StreamExt;
use tokio::time::Instant;

use super::lines::{RawLine, Splitter};
use super::metrics::LogMetrics;
use super::position::{Cursor, Resume};
use super::spool::{Line, Push};
use super::stream::Stream;
use super::Shared;
use crate::backoff::Backoff;

/// Where a read starts: the next line's number and where it is in Docker's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Start {
    pub next_sequence: u64,
    pub resume: Resume,
}

/// How often a non-blocking stream that drops lines says so.
const DROP_WARNING_EVERY: Duration = Duration::from_secs(5);

/// Follow `stream`'s container from `at` until its log ends.
pub(crate) async fn read(sh: Arc<Shared>, stream: Arc<Stream>, mut at: Start) {
    let id = stream.target.container_id.clone();
    let mut backoff = Backoff::standard();
    let mut stopped = false;
    loop {
        let before = at;
        let outcome = match read_once(&sh, &stream, &mut at, stopped).await {
            Ok(outcome) => outcome,
            Err(RuntimeError::NotFound(_)) => Outcome::Done,
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "reading the container's log failed; reading again");
                Outcome::Reconnect
            }
        };
        match outcome {
            Outcome::Done => break,
            Outcome::Stopped => {
                // The engine can end a follow at the exit before it has stored the
                // container's last output: read once more, after a moment, to the end.
                stopped = true;
                tokio::time::sleep(FINAL_READ_DELAY).await;
            }
            Outcome::Reconnect => {
                // A follow that got somewhere was a good one (Docker ends follows at
                // some log rotations): wait the least before the next.
                if at != before {
                    backoff.reset();
                }
                tokio::time::sleep(backoff.next_delay()).await;
            }
        }
    }
    stream.end(&sh.budget);
    sh.settle(&stream);
    sh.wake.notify_one();
}

/// How a follow ended.
enum Outcome {
    /// Early, the container still running: follow again from where it got.
    Reconnect,
    /// The container has stopped: read once more to catch what was stored late.
    Stopped,
    /// The container's whole log was read.
    Done,
}

/// Wait before the last read of a stopped container.
const FINAL_READ_DELAY: Duration = Duration::from_millis(200);

async fn still_running(sh: &Shared, id: &str) -> bool {
    sh.runtime
        .inspect_container(id)
        .await
        .is_ok_and(|s| s.running)
}

/// One follow, from `at`. `last`: the container has stopped, so this read ends the log
/// (what was written without a final newline becomes a line of its own).
async fn read_once(
    sh: &Shared,
    stream: &Stream,
    at: &mut Start,
    last: bool,
) -> Result<Outcome, RuntimeError> {
    let id = &stream.target.container_id;
    let mut entries = sh.runtime.logs(id, at.resume.since_seconds).await?;
    let mut splitter = Splitter::default();
    let mut read = Reading::new(at);
    let mut fresh = Fresh::default();
    while let Some(entry) = entries.next().await {
        let entry = entry?;
        if !fresh.admit(&entry) {
            continue;
        }
        for raw in splitter.push(entry) {
            read.deliver(sh, stream, raw).await;
        }
    }
    if fresh.repeated > 0 {
        tracing::debug!(container = %id, entries = fresh.repeated, "the engine sent log entries again; skipped");
    }
    if !last {
        return Ok(if still_running(sh, id).await {
            Outcome::Reconnect
        } else {
            Outcome::Stopped
        });
    }
    for raw in splitter.finish() {
        read.deliver(sh, stream, raw).await;
    }
    Ok(Outcome::Done)
}

/// Entries the engine sends twice within one follow: Docker 20.10 re-sends part of a
/// rotated json-file log (daemon `log-opts` `max-size`/`max-file`). Each source's entries
/// are stamped in order as Docker receives them (the pieces of one long line share a
/// stamp), so an entry older than the newest one of its source starts a replay; during a
/// replay, as many entries with the newest stamp as were seen are repeats too.
#[derive(Default)]
struct Fresh {
    sources: std::collections::HashMap<flotilla_runtime::LogSource, Newest>,
    repeated: u64,
}

/// The newest stamp of a source, how many entries had it, and a replay's progress.
#[derive(Clone, Copy)]
struct Newest {
    at: i64,
    seen: u64,
    replay: Option<u64>,
}

impl Fresh {
    fn admit(&mut self, entry: &flotilla_runtime::LogEntry) -> bool {
        let ts = entry.timestamp_ns;
        let n = self.sources.entry(entry.source).or_insert(Newest {
            at: i64::MIN,
            seen: 0,
            replay: None,
        });
        let fresh = if ts > n.at {
            *n = Newest {
                at: ts,
                seen: 1,
                replay: None,
            };
            true
        } else if ts < n.at {
            n.replay = Some(0);
            false
        } else {
            match n.replay.as_mut() {
                Some(again) if *again < n.seen => {
                    *again += 1;
                    false
                }
                _ => {
                    n.seen += 1;
                    true
                }
            }
        };
        if !fresh {
            self.repeated += 1;
        }
        fresh
    }
}

/// Numbering and skipping within one follow.
struct Reading<'a> {
    at: &'a mut Start,
    cursor: Cursor,
    skip: u64,
    dropped: (u64, Option<Instant>),
}

impl<'a> Reading<'a> {
    fn new(at: &'a mut Start) -> Self {
        Reading {
            cursor: Cursor::new(at.resume.since_seconds),
            skip: at.resume.skip,
            at,
            dropped: (0, None),
        }
    }

    /// Number `raw` (or skip it: already shipped) and queue it.
    async fn deliver(&mut self, sh: &Shared, stream: &Stream, raw: RawLine) {
        let resume = self.cursor.after(raw.key_ns);
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        let mut line = Line {
            seq: self.at.next_sequence,
            timestamp_ms: raw.timestamp_ms,
            key_ns: raw.key_ns,
            message: raw.message,
            resume,
        };
        self.at.next_sequence += 1;
        self.at.resume = resume;
        loop {
            let room = sh.room.notified();
            match stream.push(line, &sh.budget, Instant::now()) {
                Push::Queued => break,
                Push::Dropped(lines, bytes) => {
                    LogMetrics::add(&sh.metrics.lines_dropped, lines);
                    LogMetrics::add(&sh.metrics.bytes_dropped, bytes);
                    self.warn_dropped(stream, lines);
                    break;
                }
                Push::Full(back) => {
                    line = *back;
                    tokio::select! {
                        _ = room => {}
                        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
                    }
                }
            }
        }
        sh.wake.notify_one();
    }

    fn warn_dropped(&mut self, stream: &Stream, lines: u64) {
        self.dropped.0 += lines;
        let now = Instant::now();
        if self.dropped.1.is_some_and(|t| now < t + DROP_WARNING_EVERY) {
            return;
        }
        tracing::warn!(
            container = %stream.target.container_id,
            stream = %stream.target.stream.log_stream_name,
            dropped = self.dropped.0,
            "non-blocking log buffer full: oldest lines dropped"
        );
        self.dropped = (0, Some(now));
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use flotilla_runtime::{LogEntry, LogSource};

    use super::Fresh;

    fn entry(source: LogSource, ns: i64) -> LogEntry {
        LogEntry {
            source,
            timestamp_ns: ns,
            message: Bytes::from_static(b"x\n"),
        }
    }

    #[test]
    fn entries_sent_again_are_skipped_per_source() {
        let mut f = Fresh::default();
        assert!(f.admit(&entry(LogSource::Stdout, 10)));
        assert!(f.admit(&entry(LogSource::Stdout, 20)));
        // stderr is stamped apart: older than stdout's newest is fine.
        assert!(f.admit(&entry(LogSource::Stderr, 15)));
        // The engine starts over from an earlier entry after a rotation.
        assert!(!f.admit(&entry(LogSource::Stdout, 10)));
        assert!(!f.admit(&entry(LogSource::Stdout, 20)));
        assert!(f.admit(&entry(LogSource::Stdout, 21)));
        assert_eq!(f.repeated, 2);
    }

    #[test]
    fn entries_with_one_stamp_are_counted_not_dropped() {
        let mut f = Fresh::default();
        // Three entries stamped alike (pieces of one long line, or a test's clock).
        for _ in 0..3 {
            assert!(f.admit(&entry(LogSource::Stdout, 7)));
        }
        // A replay from before them repeats all three, then a fourth one is new.
        assert!(!f.admit(&entry(LogSource::Stdout, 5)));
        for _ in 0..3 {
            assert!(!f.admit(&entry(LogSource::Stdout, 7)));
        }
        assert!(f.admit(&entry(LogSource::Stdout, 7)));
        assert!(f.admit(&entry(LogSource::Stdout, 8)));
        assert_eq!(f.repeated, 4);
    }
}
