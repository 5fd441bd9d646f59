//! Group commit: appenders write their records without syncing, then wait here until a
//! sync covers them. Whoever finds no sync running becomes the leader for everything
//! queued so far: it syncs each file once and publishes the streams' durable ordinals,
//! while the appenders that arrive meanwhile queue for the next round. One slow `fsync`
//! thus serves every append that came during the previous one.

use super::stream::Stream;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// An append written but not yet durable.
pub(crate) struct Pending {
    pub stream: Arc<Stream>,
    /// The file its record went to (`None`: nothing was written, only wait).
    pub file: Option<Arc<File>>,
    /// The stream's ordinal after the record: published as durable once synced.
    pub end_ord: u64,
}

#[derive(Default)]
pub(crate) struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    queued: Vec<Pending>,
    /// The round the queued appends will be synced in.
    open_round: u64,
    /// The last round completed.
    finished: u64,
    syncing: bool,
    /// Rounds whose sync failed, most recent last (a few are kept).
    failed: Vec<(u64, io::ErrorKind, String)>,
}

impl GroupCommit {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Returns once `pending` is durable (or its round's sync failed).
    pub(crate) fn commit(&self, pending: Pending) -> io::Result<()> {
        let mut state = self.lock();
        state.open_round = state.open_round.max(state.finished + 1);
        let round = state.open_round;
        state.queued.push(pending);
        loop {
            if state.finished >= round {
                return match state.failed.iter().find(|f| f.0 == round) {
                    Some((_, kind, msg)) => Err(io::Error::new(*kind, msg.clone())),
                    None => Ok(()),
                };
            }
            if state.syncing {
                state = self.done.wait(state).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            state.syncing = true;
            let leading = state.open_round;
            state.open_round += 1;
            let batch = std::mem::take(&mut state.queued);
            drop(state);
            let result = sync(batch);
            state = self.lock();
            state.syncing = false;
            state.finished = leading;
            if let Err(e) = result {
                state.failed.push((leading, e.kind(), e.to_string()));
                let excess = state.failed.len().saturating_sub(16);
                state.failed.drain(..excess);
            }
            self.done.notify_all();
        }
    }
}

/// Syncs each file of the batch once, then publishes what became durable.
fn sync(batch: Vec<Pending>) -> io::Result<()> {
    let mut files: HashMap<*const File, &Arc<File>> = HashMap::new();
    for p in &batch {
        if let Some(f) = &p.file {
            files.insert(Arc::as_ptr(f), f);
        }
    }
    for file in files.values() {
        file.sync_data()?;
    }
    for p in &batch {
        p.stream.publish(p.end_ord);
    }
    Ok(())
}
