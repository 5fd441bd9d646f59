//! The in-memory backend, for unit tests of everything above the store.
//!
//! All state sits in one mutex: a `BTreeMap` of keys, the global revision, a bounded
//! history of events for watch replay, and the leases. Every write is applied and
//! broadcast under that mutex, so watchers see revisions in order. Lease deadlines use
//! `tokio::time::Instant`, so tests may pause time; expiry is checked lazily on every call
//! and by a background task (spawned on the first lease grant) that sleeps until the next
//! deadline. Nothing is persisted.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;

use crate::shared::{self, Broadcast, LogChunk, LogSource, Published};
use crate::{
    Event, EventKind, KeyValue, LeaseId, Op, ProgressStream, RangePage, RangeRequest, Result,
    Revision, Store, StoreError, Txn, TxnResult, WatchStream,
};

/// Tuning of a [`MemoryStore`].
#[derive(Debug, Clone)]
pub struct MemoryOptions {
    /// How many of the newest revisions the watch history keeps; a watch from an older
    /// revision gets [`StoreError::Compacted`].
    pub history_revisions: usize,
    /// Capacity of the live event broadcast, in revisions; a watcher further behind
    /// falls back to replaying the history.
    pub broadcast_capacity: usize,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        MemoryOptions {
            history_revisions: 10_000,
            broadcast_capacity: 1024,
        }
    }
}

/// A [`Store`] kept entirely in memory; cheap to create, gone when dropped.
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<Mutex<State>>,
    events: Broadcast,
    /// Wakes the lease expiry task when a lease with an earlier deadline appears.
    wake: Arc<Notify>,
}

struct State {
    kvs: BTreeMap<Vec<u8>, KeyValue>,
    revision: Revision,
    /// Events of revisions `oldest..=revision`, in order.
    history: VecDeque<Event>,
    oldest: Revision,
    history_revisions: usize,
    leases: HashMap<LeaseId, Lease>,
    next_lease: LeaseId,
    expiry_task: bool,
}

struct Lease {
    ttl: Duration,
    deadline: Instant,
    keys: BTreeSet<Vec<u8>>,
}

// === impl MemoryStore ===

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store with default options.
    pub fn new() -> Self {
        MemoryStore::with_options(MemoryOptions::default())
    }

    /// An empty store with the given options.
    pub fn with_options(options: MemoryOptions) -> Self {
        let state = State {
            kvs: BTreeMap::new(),
            revision: 0,
            history: VecDeque::new(),
            oldest: 1,
            history_revisions: options.history_revisions.max(1),
            leases: HashMap::new(),
            next_lease: 1,
            expiry_task: false,
        };
        let (events, _) = broadcast::channel(options.broadcast_capacity.max(1));
        let inner = Inner {
            state: Arc::new(Mutex::new(state)),
            events,
            wake: Arc::new(Notify::new()),
        };
        MemoryStore {
            inner: Arc::new(inner),
        }
    }

    /// Discards the watch history before `revision` (clamped to the current revision),
    /// like etcd's compact: a later watch from an older revision gets `Compacted`.
    pub async fn compact(&self, revision: Revision) -> Result<()> {
        let mut st = self.inner.lock();
        let target = revision.min(st.revision.max(1));
        st.trim_history(target);
        Ok(())
    }

    fn ensure_expiry_task(&self, st: &mut State) {
        if st.expiry_task {
            self.inner.wake.notify_one();
            return;
        }
        // Without a runtime, expiry is only checked lazily on each call.
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        st.expiry_task = true;
        handle.spawn(expiry_loop(
            Arc::downgrade(&self.inner),
            self.inner.wake.clone(),
        ));
    }
}

async fn expiry_loop(inner: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(inner) = inner.upgrade() else { return };
            let mut st = inner.lock();
            match st.leases.values().map(|l| l.deadline).min() {
                Some(deadline) => deadline,
                None => {
                    st.expiry_task = false;
                    return;
                }
            }
        };
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = wake.notified() => {}
        }
    }
}

// === impl Inner ===

impl Inner {
    /// Locks the state, first expiring every lease whose deadline has passed.
    fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let mut due: Vec<LeaseId> = st
            .leases
            .iter()
            .filter(|(_, l)| l.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        due.sort_unstable();
        for id in due {
            let events = st.revoke(id);
            self.publish(&st, events);
        }
        st
    }

    /// Sends committed events to watchers; called with the state locked, so in order.
    fn publish(&self, st: &State, events: Vec<Event>) {
        if events.is_empty() {
            return;
        }
        // An error only means nobody is watching.
        let _ = self.events.send(Arc::new(Published {
            events,
            revision: st.revision,
        }));
    }
}

// === impl State ===

impl State {
    /// Applies `ops` as one revision; nothing is written when a lease is unknown.
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<Event>> {
        for op in ops {
            if let Op::Put { lease, .. } = op {
                if *lease != 0 && !self.leases.contains_key(lease) {
                    return Err(StoreError::LeaseNotFound(*lease));
                }
            }
        }
        let rev = self.revision + 1;
        let mut events = Vec::new();
        for op in ops {
            match op {
                Op::Put { key, value, lease } => events.push(self.put(key, value, *lease, rev)),
                Op::Delete { key } => events.extend(self.delete(key, rev)),
            }
        }
        self.record(&events);
        Ok(events)
    }

    fn put(&mut self, key: &[u8], value: &[u8], lease: LeaseId, rev: Revision) -> Event {
        let (create_revision, version, old_lease) = match self.kvs.get(key) {
            Some(kv) => (kv.create_revision, kv.version + 1, kv.lease),
            None => (rev, 1, 0),
        };
        if old_lease != lease {
            if let Some(l) = self.leases.get_mut(&old_lease) {
                l.keys.remove(key);
            }
        }
        if let Some(l) = self.leases.get_mut(&lease) {
            l.keys.insert(key.to_vec());
        }
        let kv = KeyValue {
            key: key.to_vec(),
            value: value.to_vec(),
            create_revision,
            mod_revision: rev,
            version,
            lease,
        };
        self.kvs.insert(key.to_vec(), kv.clone());
        Event {
            kind: EventKind::Put,
            kv,
        }
    }

    fn delete(&mut self, key: &[u8], rev: Revision) -> Option<Event> {
        let old = self.kvs.remove(key)?;
        if let Some(l) = self.leases.get_mut(&old.lease) {
            l.keys.remove(key);
        }
        Some(delete_event(old.key, rev))
    }

    /// Ends a lease, deleting its keys at one new revision; returns the events.
    fn revoke(&mut self, id: LeaseId) -> Vec<Event> {
        let Some(lease) = self.leases.remove(&id) else {
            return Vec::new();
        };
        let rev = self.revision + 1;
        let events: Vec<Event> = lease
            .keys
            .iter()
            .filter_map(|k| self.delete(k, rev))
            .collect();
        self.record(&events);
        events
    }

    /// Bumps the revision when `events` is not empty and remembers them for replay.
    fn record(&mut self, events: &[Event]) {
        let Some(last) = events.last() else { return };
        self.revision = last.kv.mod_revision;
        self.history.extend(events.iter().cloned());
        let keep = i64::try_from(self.history_revisions).unwrap_or(i64::MAX);
        self.trim_history(self.revision.saturating_sub(keep) + 1);
    }

    fn trim_history(&mut self, oldest: Revision) {
        if oldest <= self.oldest {
            return;
        }
        self.oldest = oldest;
        while self
            .history
            .front()
            .is_some_and(|e| e.kv.mod_revision < oldest)
        {
            self.history.pop_front();
        }
    }
}

fn delete_event(key: Vec<u8>, rev: Revision) -> Event {
    let kv = KeyValue {
        key,
        value: Vec::new(),
        create_revision: 0,
        mod_revision: rev,
        version: 0,
        lease: 0,
    };
    Event {
        kind: EventKind::Delete,
        kv,
    }
}

/// The watch history, as read by watch streams.
struct History(Arc<Mutex<State>>);

#[async_trait]
impl LogSource for History {
    async fn read_log(&self, prefix: &[u8], after: Revision) -> Result<LogChunk> {
        let st = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if after + 1 < st.oldest {
            return Err(StoreError::Compacted {
                requested: after + 1,
                oldest: st.oldest,
            });
        }
        let start = st.history.partition_point(|e| e.kv.mod_revision <= after);
        let events = st
            .history
            .range(start..)
            .filter(|e| e.kv.key.starts_with(prefix))
            .cloned()
            .collect();
        Ok(LogChunk {
            events,
            through: st.revision.max(after),
            complete: true,
        })
    }
}

// === impl Store ===

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        Ok(self.inner.lock().kvs.get(key).cloned())
    }

    async fn range(&self, req: RangeRequest) -> Result<RangePage> {
        let st = self.inner.lock();
        let lower = match &req.start_after {
            Some(after) if after.as_slice() >= req.prefix.as_slice() => {
                Bound::Excluded(after.clone())
            }
            _ => Bound::Included(req.prefix.clone()),
        };
        let limit = if req.limit == 0 {
            usize::MAX
        } else {
            req.limit
        };
        let mut kvs: Vec<KeyValue> = st
            .kvs
            .range((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(&req.prefix))
            .take(limit.saturating_add(1))
            .map(|(_, kv)| kv.clone())
            .collect();
        let more = kvs.len() > limit;
        kvs.truncate(limit);
        Ok(RangePage {
            kvs,
            more,
            revision: st.revision,
        })
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResult> {
        let mut st = self.inner.lock();
        let succeeded = txn.compares.iter().all(|c| {
            let actual = st.kvs.get(&c.key).map_or(0, |kv| kv.mod_revision);
            shared::compare_holds(c, actual)
        });
        let ops = if succeeded {
            &txn.success
        } else {
            &txn.failure
        };
        let events = st.apply(ops)?;
        self.inner.publish(&st, events);
        Ok(TxnResult {
            succeeded,
            revision: st.revision,
        })
    }

    async fn watch(&self, prefix: &[u8], from: Revision) -> Result<WatchStream> {
        Ok(shared::events_only(
            self.watch_progress(prefix, from).await?,
        ))
    }

    async fn watch_progress(&self, prefix: &[u8], from: Revision) -> Result<ProgressStream> {
        let (rx, current) = {
            let st = self.inner.lock();
            (self.inner.events.subscribe(), st.revision)
        };
        let source = Arc::new(History(self.inner.state.clone()));
        shared::watch(source, rx, prefix, from, current).await
    }

    async fn revision(&self) -> Result<Revision> {
        Ok(self.inner.lock().revision)
    }

    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        let mut st = self.inner.lock();
        let id = st.next_lease;
        st.next_lease += 1;
        let lease = Lease {
            ttl,
            deadline: Instant::now() + ttl,
            keys: BTreeSet::new(),
        };
        st.leases.insert(id, lease);
        self.ensure_expiry_task(&mut st);
        Ok(id)
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<()> {
        let mut st = self.inner.lock();
        let l = st
            .leases
            .get_mut(&lease)
            .ok_or(StoreError::LeaseNotFound(lease))?;
        l.deadline = Instant::now() + l.ttl;
        Ok(())
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        let mut st = self.inner.lock();
        if !st.leases.contains_key(&lease) {
            return Err(StoreError::LeaseNotFound(lease));
        }
        let events = st.revoke(lease);
        self.inner.publish(&st, events);
        Ok(())
    }
}
