//! Machinery the built-in backends share: compare evaluation and the watch stream.
//!
//! A backend keeps a log of past events (the memory store's bounded history, the sqlite
//! `log` table) and broadcasts every committed write as one [`Published`] message. A watch
//! subscribes to the broadcast first, then replays the log from the requested revision,
//! then follows the broadcast, dropping anything at or below the revision it has already
//! covered. A watcher that falls behind the broadcast does not fail: it goes back to
//! replaying the log from where it was, and only a log compacted past that point ends the
//! stream (with [`StoreError::Compacted`]). This module owns no state and does no I/O of
//! its own; the backend's [`LogSource`] does the reading.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::{Compare, CompareOp, Event, ProgressStream, Result, Revision, StoreError, WatchBatch};

/// Whether a compare holds for a key whose current mod-revision is `actual` (0: absent).
pub(crate) fn compare_holds(compare: &Compare, actual: Revision) -> bool {
    match compare.op {
        CompareOp::Equal => actual == compare.mod_revision,
        CompareOp::NotEqual => actual != compare.mod_revision,
        CompareOp::Less => actual < compare.mod_revision,
        CompareOp::Greater => actual > compare.mod_revision,
    }
}

/// One committed group of writes as broadcast to watchers: events of one or more
/// revisions in revision order, and the store revision after them.
#[derive(Debug)]
pub(crate) struct Published {
    pub events: Vec<Event>,
    pub revision: Revision,
}

/// The sender side of a backend's event broadcast.
pub(crate) type Broadcast = broadcast::Sender<Arc<Published>>;

/// A piece of the log read by [`LogSource::read_log`].
#[derive(Debug, Default)]
pub(crate) struct LogChunk {
    /// Events under the prefix, in order, never splitting a revision.
    pub events: Vec<Event>,
    /// Every change under the prefix with a revision <= `through` is in this chunk or
    /// was before `after`.
    pub through: Revision,
    /// True when `through` is the store revision the chunk was read at (nothing newer
    /// is in the log yet).
    pub complete: bool,
}

/// A backend's log of past events, read by watch streams.
#[async_trait]
pub(crate) trait LogSource: Send + Sync + 'static {
    /// Events under `prefix` with a revision > `after`, possibly only the first part of
    /// them, or [`StoreError::Compacted`] when revision `after + 1` is no longer kept.
    async fn read_log(&self, prefix: &[u8], after: Revision) -> Result<LogChunk>;
}

enum Phase {
    Replay,
    Live,
}

struct WatchState {
    source: Arc<dyn LogSource>,
    rx: broadcast::Receiver<Arc<Published>>,
    prefix: Vec<u8>,
    /// Every change under the prefix up to and including `cursor` has been delivered.
    cursor: Revision,
    phase: Phase,
    pending: Option<LogChunk>,
    done: bool,
}

/// Starts a progress watch. `rx` must have been subscribed before `current` (the store
/// revision, used when `from <= 0` means "from now on") was read, so nothing falls in
/// between. Returns `Compacted` right away when `from` is no longer in the log.
pub(crate) async fn watch(
    source: Arc<dyn LogSource>,
    rx: broadcast::Receiver<Arc<Published>>,
    prefix: &[u8],
    from: Revision,
    current: Revision,
) -> Result<ProgressStream> {
    let (cursor, phase, pending) = if from <= 0 {
        (current, Phase::Live, None)
    } else {
        let first = source.read_log(prefix, from - 1).await?;
        (from - 1, Phase::Replay, Some(first))
    };
    let state = WatchState {
        source,
        rx,
        prefix: prefix.to_vec(),
        cursor,
        phase,
        pending,
        done: false,
    };
    Ok(futures::stream::unfold(state, next_item).boxed())
}

/// Turns a progress stream into a plain watch stream (events only).
pub(crate) fn events_only(stream: ProgressStream) -> crate::WatchStream {
    stream
        .filter_map(|item| async move {
            match item {
                Ok(batch) if batch.events.is_empty() => None,
                Ok(batch) => Some(Ok(batch.events)),
                Err(e) => Some(Err(e)),
            }
        })
        .boxed()
}

async fn next_item(mut st: WatchState) -> Option<(Result<WatchBatch>, WatchState)> {
    loop {
        if st.done {
            return None;
        }
        match st.phase {
            Phase::Replay => {
                let chunk = match st.pending.take() {
                    Some(chunk) => chunk,
                    None => match st.source.read_log(&st.prefix, st.cursor).await {
                        Ok(chunk) => chunk,
                        Err(e) => {
                            st.done = true;
                            return Some((Err(e), st));
                        }
                    },
                };
                let events: Vec<Event> = chunk
                    .events
                    .into_iter()
                    .filter(|e| e.kv.mod_revision > st.cursor)
                    .collect();
                let last = events.last().map_or(st.cursor, |e| e.kv.mod_revision);
                st.cursor = st.cursor.max(chunk.through).max(last);
                if chunk.complete {
                    st.phase = Phase::Live;
                }
                if !events.is_empty() || chunk.complete {
                    let batch = WatchBatch {
                        events,
                        progress: st.cursor,
                    };
                    return Some((Ok(batch), st));
                }
            }
            Phase::Live => match st.rx.recv().await {
                Ok(published) => {
                    if published.revision <= st.cursor {
                        continue;
                    }
                    let events = published
                        .events
                        .iter()
                        .filter(|e| {
                            e.kv.mod_revision > st.cursor && e.kv.key.starts_with(&st.prefix)
                        })
                        .cloned()
                        .collect();
                    st.cursor = published.revision;
                    return Some((
                        Ok(WatchBatch {
                            events,
                            progress: st.cursor,
                        }),
                        st,
                    ));
                }
                // Fell behind the broadcast: everything missed is in the log.
                Err(broadcast::error::RecvError::Lagged(_)) => st.phase = Phase::Replay,
                Err(broadcast::error::RecvError::Closed) => {
                    st.done = true;
                    return Some((Err(StoreError::Closed), st));
                }
            },
        }
    }
}
