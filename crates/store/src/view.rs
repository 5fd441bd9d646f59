//! The per-process in-memory view of one key prefix, which the API's reads and the
//! controllers are served from.
//!
//! A [`View`] lists everything under its prefix, decodes it into `T`, and then follows a
//! progress watch ([`Store::watch_progress`]) in a background task, applying events
//! idempotently: an event no newer than the entry it would change is ignored, so replays
//! and overlapping lists are harmless. When the watch breaks, the task resumes from the
//! last revision it saw, and re-lists only when that revision has been compacted away.
//! A value that fails to decode is logged and left out, never a panic.
//!
//! # Read-your-writes
//!
//! [`View::revision`] is the watch's *progress*: every change under the prefix with a
//! revision up to it has been applied. Progress advances on every store write, including
//! writes to other prefixes (the built-in backends report progress for those too), so
//! [`View::wait_for`] with the revision a `txn` returned finishes promptly even when that
//! write touched nothing under this prefix. With a backend whose `watch_progress` is the
//! trait's default, progress only moves with events under the prefix.
//!
//! The view does no writes; writes go through the [`Store`] with compare-and-swap.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, watch};
use tokio::task::AbortHandle;

use crate::{
    Event, EventKind, ProgressStream, RangePage, Result, Revision, Store, StoreError, StoreExt,
    WatchBatch,
};

/// Decodes a stored key and value into `T`; an error is logged and the key skipped.
pub type Decode<T> = fn(&[u8], &[u8]) -> std::result::Result<T, String>;

/// Keys with their entries, in key order.
pub type Entries<T> = Vec<(Vec<u8>, Entry<T>)>;

/// One decoded key of a view.
#[derive(Debug)]
pub struct Entry<T> {
    /// The revision of the write that produced this value (for compare-and-swap).
    pub mod_revision: Revision,
    pub value: Arc<T>,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Entry {
            mod_revision: self.mod_revision,
            value: self.value.clone(),
        }
    }
}

/// A live, decoded copy of every key under a prefix. Cheap to clone; the background task
/// stops when the last clone is dropped.
pub struct View<T> {
    handle: Arc<Handle<T>>,
}

impl<T> Clone for View<T> {
    fn clone(&self) -> Self {
        View {
            handle: self.handle.clone(),
        }
    }
}

struct Handle<T> {
    inner: Arc<Inner<T>>,
    task: AbortHandle,
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Inner<T> {
    prefix: Vec<u8>,
    decode: Decode<T>,
    entries: RwLock<BTreeMap<Vec<u8>, Entry<T>>>,
    progress: watch::Sender<Progress>,
    /// Bumped whenever an entry is added, replaced or removed.
    changes: AtomicU64,
    /// The keys each applied batch changed, for [`View::key_changes`] subscribers.
    keyed: broadcast::Sender<Changed>,
}

/// What changed in a view, as [`KeyChanges`] reports it.
#[derive(Debug, Clone)]
pub enum Changed {
    /// These keys were added, replaced or removed.
    Keys(Arc<[Vec<u8>]>),
    /// Anything may have changed: the view was re-listed, or the subscriber fell behind.
    All,
}

/// A subscription to the keys a view changes; see [`View::key_changes`].
pub struct KeyChanges {
    rx: broadcast::Receiver<Changed>,
}

impl KeyChanges {
    /// The next change; `None` once the view is gone. A subscriber that fell too far
    /// behind gets [`Changed::All`] instead of the changes it missed.
    pub async fn next(&mut self) -> Option<Changed> {
        match self.rx.recv().await {
            Ok(c) => Some(c),
            Err(broadcast::error::RecvError::Lagged(_)) => Some(Changed::All),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Batches a [`KeyChanges`] subscriber may fall behind by before it gets [`Changed::All`].
const KEYED_BACKLOG: usize = 1024;

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    revision: Revision,
    /// The store closed; the view will not advance any more.
    closed: bool,
}

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

// === impl View ===

impl<T: Send + Sync + 'static> View<T> {
    /// Lists `prefix`, then keeps the view current in a background task. Returns once
    /// the initial list is applied; fails only if that list fails.
    pub async fn start(
        store: Arc<dyn Store>,
        prefix: Vec<u8>,
        decode: Decode<T>,
    ) -> Result<View<T>> {
        let (progress, _) = watch::channel(Progress::default());
        let (keyed, _) = broadcast::channel(KEYED_BACKLOG);
        let inner = Arc::new(Inner {
            prefix,
            decode,
            entries: RwLock::new(BTreeMap::new()),
            progress,
            changes: AtomicU64::new(0),
            keyed,
        });
        let page = store.list_all(&inner.prefix).await?;
        let revision = page.revision;
        inner.replace_all(page);
        let stream = match store.watch_progress(&inner.prefix, revision + 1).await {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::warn!(prefix = %inner.prefix_str(), error = %e, "view watch failed to start");
                None
            }
        };
        let task = tokio::spawn(follow(store, inner.clone(), stream)).abort_handle();
        Ok(View {
            handle: Arc::new(Handle { inner, task }),
        })
    }
}

impl<T> View<T> {
    fn inner(&self) -> &Inner<T> {
        &self.handle.inner
    }

    /// The prefix this view covers.
    pub fn prefix(&self) -> &[u8] {
        &self.inner().prefix
    }

    /// One key, if present.
    pub fn get(&self, key: &[u8]) -> Option<Entry<T>> {
        self.inner().read().get(key).cloned()
    }

    /// Every key starting with `prefix`, in key order.
    pub fn range(&self, prefix: &[u8]) -> Entries<T> {
        self.range_page(prefix, None, 0).0
    }

    /// Keys starting with `prefix`, strictly after `start_after` when given, at most
    /// `limit` (0: no limit), in key order; the flag says whether more keys follow.
    pub fn range_page(
        &self,
        prefix: &[u8],
        start_after: Option<&[u8]>,
        limit: usize,
    ) -> (Entries<T>, bool) {
        let limit = if limit == 0 { usize::MAX } else { limit };
        let entries = self.inner().read();
        let mut out: Entries<T> = entries
            .range::<[u8], _>(lower_bound(prefix, start_after))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit.saturating_add(1))
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        let more = out.len() > limit;
        out.truncate(limit);
        (out, more)
    }

    /// A number that moves whenever an entry of the view is added, replaced or removed:
    /// equal readings mean nothing under the prefix changed in between (cheaper than
    /// comparing contents, for caches derived from the view).
    pub fn changes(&self) -> u64 {
        self.inner().changes.load(Ordering::Acquire)
    }

    /// Keyed change notifications: from now on, the keys every applied batch added,
    /// replaced or removed (what a controller that reconciles one object per key is woken
    /// by). Costs nothing while nobody subscribes.
    pub fn key_changes(&self) -> KeyChanges {
        KeyChanges {
            rx: self.inner().keyed.subscribe(),
        }
    }

    /// How many keys start with `prefix`.
    pub fn count_prefix(&self, prefix: &[u8]) -> usize {
        self.inner()
            .read()
            .range::<[u8], _>(lower_bound(prefix, None))
            .take_while(|(k, _)| k.starts_with(prefix))
            .count()
    }

    /// Every change under the prefix up to this revision has been applied.
    pub fn revision(&self) -> Revision {
        self.inner().progress.borrow().revision
    }

    /// Waits until the view has applied every change up to `rev` (for example the
    /// revision a write returned). Fails with [`StoreError::Closed`] if the store closed
    /// first. Callers wanting a bound wrap it in `tokio::time::timeout`.
    pub async fn wait_for(&self, rev: Revision) -> Result<()> {
        let mut rx = self.inner().progress.subscribe();
        let progress = rx
            .wait_for(|p| p.revision >= rev || p.closed)
            .await
            .map_err(|_| StoreError::Closed)?;
        if progress.revision >= rev {
            Ok(())
        } else {
            Err(StoreError::Closed)
        }
    }
}

fn lower_bound<'a>(
    prefix: &'a [u8],
    start_after: Option<&'a [u8]>,
) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    match start_after {
        Some(after) if after >= prefix => (Bound::Excluded(after), Bound::Unbounded),
        _ => (Bound::Included(prefix), Bound::Unbounded),
    }
}

// === impl Inner ===

impl<T> Inner<T> {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Entry<T>>> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn prefix_str(&self) -> String {
        String::from_utf8_lossy(&self.prefix).into_owned()
    }

    fn decode(&self, key: &[u8], value: &[u8]) -> Option<T> {
        match (self.decode)(key, value) {
            Ok(v) => Some(v),
            Err(error) => {
                let key = String::from_utf8_lossy(key);
                tracing::warn!(%key, %error, "skipping a value the view cannot decode");
                None
            }
        }
    }

    fn advance(&self, revision: Revision) {
        self.progress.send_if_modified(|p| {
            let newer = revision > p.revision;
            p.revision = p.revision.max(revision);
            newer
        });
    }

    fn close(&self) {
        self.progress.send_modify(|p| p.closed = true);
    }

    /// Replaces the whole view with a fresh list, reusing values that did not change.
    fn replace_all(&self, page: RangePage) {
        let fresh: BTreeMap<Vec<u8>, Entry<T>> = {
            let old = self.read();
            page.kvs
                .into_iter()
                .filter_map(|kv| {
                    let value = match old.get(&kv.key) {
                        Some(e) if e.mod_revision == kv.mod_revision => e.value.clone(),
                        _ => Arc::new(self.decode(&kv.key, &kv.value)?),
                    };
                    Some((
                        kv.key,
                        Entry {
                            mod_revision: kv.mod_revision,
                            value,
                        },
                    ))
                })
                .collect()
        };
        *self.entries.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        self.changes.fetch_add(1, Ordering::Release);
        if self.keyed.receiver_count() > 0 {
            let _ = self.keyed.send(Changed::All);
        }
        self.advance(page.revision);
    }

    /// Applies one watch batch; events no newer than the entry they touch are ignored.
    fn apply(&self, batch: WatchBatch) {
        let last = batch.events.last().map_or(0, |e| e.kv.mod_revision);
        if !batch.events.is_empty() {
            // Decode outside the lock, so readers are not held up.
            let decoded: Vec<(Event, Option<T>)> = batch
                .events
                .into_iter()
                .map(|e| {
                    let value = match e.kind {
                        EventKind::Put => self.decode(&e.kv.key, &e.kv.value),
                        EventKind::Delete => None,
                    };
                    (e, value)
                })
                .collect();
            let keyed = self.keyed.receiver_count() > 0;
            let mut changed: Vec<Vec<u8>> = Vec::new();
            let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
            for (event, value) in decoded {
                let rev = event.kv.mod_revision;
                if entries
                    .get(&event.kv.key)
                    .is_some_and(|e| e.mod_revision >= rev)
                {
                    continue;
                }
                self.changes.fetch_add(1, Ordering::Release);
                if keyed {
                    changed.push(event.kv.key.clone());
                }
                match value {
                    // A delete, or a put that did not decode: the old value is stale.
                    None => drop(entries.remove(&event.kv.key)),
                    Some(value) => {
                        let entry = Entry {
                            mod_revision: rev,
                            value: Arc::new(value),
                        };
                        entries.insert(event.kv.key, entry);
                    }
                }
            }
            drop(entries);
            if !changed.is_empty() {
                let _ = self.keyed.send(Changed::Keys(changed.into()));
            }
        }
        self.advance(batch.progress.max(last));
    }
}

/// The background task: follows the watch, resuming or re-listing when it breaks.
async fn follow<T>(
    store: Arc<dyn Store>,
    inner: Arc<Inner<T>>,
    mut stream: Option<ProgressStream>,
) {
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Some(s) = stream.as_mut() {
            match s.next().await {
                Some(Ok(batch)) => {
                    inner.apply(batch);
                    backoff = MIN_BACKOFF;
                    continue;
                }
                Some(Err(StoreError::Closed)) => return inner.close(),
                Some(Err(e)) => {
                    tracing::warn!(prefix = %inner.prefix_str(), error = %e, "view watch broke")
                }
                None => tracing::warn!(prefix = %inner.prefix_str(), "view watch ended"),
            }
            stream = None;
        }
        match resync(store.as_ref(), &inner).await {
            Ok(s) => stream = Some(s),
            Err(StoreError::Closed) => return inner.close(),
            Err(e) => {
                tracing::warn!(prefix = %inner.prefix_str(), error = %e, "view resync failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Resumes watching after the last applied revision, or re-lists when it is compacted.
async fn resync<T>(store: &dyn Store, inner: &Inner<T>) -> Result<ProgressStream> {
    let from = inner.progress.borrow().revision + 1;
    match store.watch_progress(&inner.prefix, from).await {
        Err(StoreError::Compacted { .. }) => {}
        other => return other,
    }
    tracing::info!(prefix = %inner.prefix_str(), "view re-listing after compaction");
    let page = store.list_all(&inner.prefix).await?;
    let revision = page.revision;
    inner.replace_all(page);
    store.watch_progress(&inner.prefix, revision + 1).await
}
