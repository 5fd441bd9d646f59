//! One shipped stream's state, shared by its reader and the sender: the queue ([`Spool`]),
//! the batch awaiting the server's answer, and whether the container's log has ended.
//!
//! A stream has at most one batch out at a time, so its lines reach the server in order;
//! a batch stays until the server answers for it (sent again after a failure, with the
//! same numbers), and the answer's `next_sequence` is the stream's new checkpoint.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use flotilla_model::agent_protocol::{LogBatch, LogLine, LogStreamRef};
use tokio::sync::watch;
use tokio::time::Instant;

use super::awslogs::Mode;
use super::checkpoint::StreamPosition;
use super::spool::{Budget, Line, Push, Spool};

/// Send a stream's lines once this many wait...
pub(crate) const BATCH_LINES: usize = 1_000;
/// ...or this many bytes...
pub(crate) const BATCH_BYTES: usize = 256 * 1024;
/// ...or the oldest has waited this long.
pub(crate) const BATCH_DELAY: Duration = Duration::from_millis(200);

/// Which container a stream reads, and where its lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub container_id: String,
    pub task_arn: String,
    pub stream: LogStreamRef,
    pub create_group: bool,
    pub mode: Mode,
}

pub(crate) struct Stream {
    pub target: Target,
    inner: Mutex<Inner>,
    drained: watch::Sender<bool>,
    /// The container was removed: forget the stream once its lines are confirmed.
    pub forgotten: std::sync::atomic::AtomicBool,
}

struct Inner {
    spool: Spool,
    /// The batch out (or to send again), oldest line first.
    pending: Option<Vec<Line>>,
    /// The pending batch is in a call right now.
    sending: bool,
    retry_at: Option<Instant>,
    /// Failed answers in a row, for the retry delay.
    failures: u32,
    /// When the oldest line not in a batch arrived.
    waiting_since: Option<Instant>,
    /// The reader has read everything the container wrote.
    ended: bool,
}

/// What the sender may do with a stream now.
pub(crate) enum Due {
    /// Send this batch.
    Send(LogBatch),
    /// Nothing before this time (or before something changes).
    At(Option<Instant>),
}

impl Stream {
    pub(crate) fn new(target: Target, spool: Spool) -> Self {
        Stream {
            target,
            inner: Mutex::new(Inner {
                spool,
                pending: None,
                sending: false,
                retry_at: None,
                failures: 0,
                waiting_since: None,
                ended: false,
            }),
            drained: watch::channel(false).0,
            forgotten: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queue a line read from the container.
    pub(crate) fn push(&self, line: Line, budget: &Budget, now: Instant) -> Push {
        let mut st = self.lock();
        let pushed = st.spool.push(line, self.target.mode, budget);
        if !matches!(pushed, Push::Full(_)) && st.waiting_since.is_none() {
            st.waiting_since = Some(now);
        }
        pushed
    }

    /// The reader is done: the container's log has ended.
    pub(crate) fn end(&self, budget: &Budget) {
        self.lock().ended = true;
        self.check_drained(budget);
    }

    /// Whether the container's log ended and every line of it is confirmed.
    pub(crate) fn drained(&self) -> watch::Receiver<bool> {
        self.drained.subscribe()
    }

    /// Take a batch if one is due at `now`.
    pub(crate) fn due(&self, now: Instant, budget: &Budget) -> Due {
        let mut st = self.lock();
        if st.sending {
            return Due::At(None);
        }
        if st.pending.is_none() {
            let (lines, bytes) = st.spool.ready();
            if lines == 0 {
                return Due::At(None);
            }
            let deadline = st.waiting_since.map(|t| t + BATCH_DELAY);
            let full = lines >= BATCH_LINES || bytes >= BATCH_BYTES || st.spool.backlog();
            if !full && !st.ended && deadline.is_some_and(|d| now < d) {
                return Due::At(deadline);
            }
            let batch = st.spool.take(BATCH_LINES, BATCH_BYTES, budget);
            if st.spool.ready().0 == 0 && !st.spool.backlog() {
                st.waiting_since = None;
            }
            st.pending = Some(batch);
        } else if let Some(at) = st.retry_at.filter(|at| now < *at) {
            return Due::At(Some(at));
        }
        st.sending = true;
        let lines = st.pending.as_deref().unwrap_or_default();
        Due::Send(LogBatch {
            stream: self.target.stream.clone(),
            create_group: self.target.create_group,
            first_sequence: lines.first().map_or(0, |l| l.seq),
            events: lines
                .iter()
                .map(|l| LogLine {
                    timestamp: l.timestamp_ms,
                    message: l.message.clone(),
                })
                .collect(),
        })
    }

    /// The server stored every line below `next_sequence`: drop those from the batch and
    /// return (lines, bytes) confirmed and the new position, if any line was.
    pub(crate) fn confirmed(&self, next_sequence: u64) -> (u64, u64, Option<StreamPosition>) {
        let mut st = self.lock();
        st.sending = false;
        let batch = st.pending.take().unwrap_or_default();
        let (done, rest): (Vec<Line>, Vec<Line>) =
            batch.into_iter().partition(|l| l.seq < next_sequence);
        let bytes = done.iter().map(|l| l.size() as u64).sum();
        let position = done.last().map(|l| StreamPosition {
            task_arn: self.target.task_arn.clone(),
            log_group_name: self.target.stream.log_group_name.clone(),
            log_stream_name: self.target.stream.log_stream_name.clone(),
            next_sequence: l.seq + 1,
            resume: l.resume,
            timestamp_ns: l.key_ns,
            finished: false,
        });
        if done.is_empty() {
            // Nothing below the answer was in the batch: the server is missing lines
            // before it (it must accept gaps; see docs/agents.md). Try again later.
            st.failures += 1;
            st.retry_at = Some(Instant::now() + retry_delay(st.failures));
        } else {
            st.failures = 0;
            st.retry_at = None;
        }
        if !rest.is_empty() {
            st.pending = Some(rest);
        }
        drop(st);
        (done.len() as u64, bytes, position)
    }

    /// The batch was not stored: send it again after a delay.
    pub(crate) fn failed(&self, now: Instant) {
        let mut st = self.lock();
        st.sending = false;
        st.failures += 1;
        st.retry_at = Some(now + retry_delay(st.failures));
    }

    /// Tell waiters when the log ended and nothing is left; whether it is so.
    pub(crate) fn check_drained(&self, budget: &Budget) -> bool {
        let mut st = self.lock();
        let done = st.ended && st.pending.is_none() && st.spool.is_empty();
        if done {
            st.spool.close(budget);
            drop(st);
            self.drained.send_replace(true);
        }
        done
    }
}

/// 0.2 s doubling to 10 s.
fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis(200)
        .saturating_mul(1 << failures.min(6).saturating_sub(1))
        .min(Duration::from_secs(10))
}
