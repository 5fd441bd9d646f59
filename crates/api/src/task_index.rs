//! Which tasks each container instance has, and a signal per instance that fires when one
//! of them changes: what lets an agent's long poll answer in time proportional to its own
//! tasks and wake only for its own changes, however many instances share the server.
//!
//! Derived, process-local state: built from the tasks view and kept current by a watch on
//! the task prefix. The task records themselves are read from the tasks view (decoded
//! once, there); this index only maps keys.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use flotilla_model::task::TaskRecord;
use flotilla_store::view::View;
use flotilla_store::{EventKind, Revision, Store};
use futures::StreamExt;
use tokio::sync::watch;

use crate::keys;

#[derive(Default)]
struct Inner {
    /// Task keys by instance ARN.
    by_instance: HashMap<String, BTreeSet<Vec<u8>>>,
    /// Instance ARN by task key (to unindex deleted tasks).
    instance_of: HashMap<Vec<u8>, String>,
    /// The change signal of each instance that has (or had) a poller.
    signals: HashMap<String, watch::Sender<Revision>>,
    /// Every task change up to this revision is indexed.
    applied: Revision,
}

/// Tasks by instance, with change signals. Cheap to clone.
#[derive(Clone, Default)]
pub struct TaskIndex {
    inner: Arc<Mutex<Inner>>,
}

impl TaskIndex {
    /// Build from the tasks view and follow the store from there on, in a background task
    /// that ends when the store's watch ends.
    pub fn start(store: Arc<dyn Store>, tasks: View<TaskRecord>) -> TaskIndex {
        let index = TaskIndex::default();
        let from = tasks.revision();
        for (key, entry) in tasks.range(keys::TASKS.as_bytes()) {
            index.put(key, &entry.value, from);
        }
        index.lock().applied = from;
        let follower = index.clone();
        tokio::spawn(async move { follower.follow(store, tasks, from + 1).await });
        index
    }

    async fn follow(&self, store: Arc<dyn Store>, tasks: View<TaskRecord>, mut from: Revision) {
        loop {
            let mut stream = match store.watch_progress(keys::TASKS.as_bytes(), from).await {
                Ok(s) => s,
                Err(flotilla_store::StoreError::Closed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "task index watch failed; rebuilding");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    from = self.rebuild(&tasks).await + 1;
                    continue;
                }
            };
            while let Some(batch) = stream.next().await {
                let Ok(batch) = batch else { break };
                for event in &batch.events {
                    let rev = event.kv.mod_revision;
                    match event.kind {
                        EventKind::Put => {
                            // The view decodes each record once; read it from there.
                            let _ = tasks.wait_for(rev).await;
                            if let Some(entry) = tasks.get(&event.kv.key) {
                                self.put(event.kv.key.clone(), &entry.value, rev);
                            }
                        }
                        EventKind::Delete => self.remove(&event.kv.key, rev),
                    }
                    from = from.max(rev + 1);
                }
                from = from.max(batch.progress + 1);
                self.lock().applied = from - 1;
            }
            if Arc::strong_count(&self.inner) == 1 {
                return; // nobody uses the index any more
            }
        }
    }

    async fn rebuild(&self, tasks: &View<TaskRecord>) -> Revision {
        let rev = tasks.revision();
        {
            let mut inner = self.lock();
            inner.by_instance.clear();
            inner.instance_of.clear();
        }
        for (key, entry) in tasks.range(keys::TASKS.as_bytes()) {
            self.put(key, &entry.value, rev);
        }
        self.lock().applied = rev;
        rev
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn put(&self, key: Vec<u8>, task: &TaskRecord, rev: Revision) {
        let Some(instance) = task.container_instance_arn.clone() else {
            return;
        };
        let mut inner = self.lock();
        if let Some(old) = inner.instance_of.insert(key.clone(), instance.clone()) {
            if old != instance {
                if let Some(set) = inner.by_instance.get_mut(&old) {
                    set.remove(&key);
                }
            }
        }
        inner
            .by_instance
            .entry(instance.clone())
            .or_default()
            .insert(key);
        if let Some(signal) = inner.signals.get(&instance) {
            signal.send_replace(rev);
        }
    }

    fn remove(&self, key: &[u8], rev: Revision) {
        let mut inner = self.lock();
        let Some(instance) = inner.instance_of.remove(key) else {
            return;
        };
        if let Some(set) = inner.by_instance.get_mut(&instance) {
            set.remove(key);
        }
        if let Some(signal) = inner.signals.get(&instance) {
            signal.send_replace(rev);
        }
    }

    /// Every task change up to this revision is indexed.
    pub fn applied(&self) -> Revision {
        self.lock().applied
    }

    /// The keys of an instance's tasks.
    pub fn tasks_of(&self, instance_arn: &str) -> Vec<Vec<u8>> {
        self.lock()
            .by_instance
            .get(instance_arn)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// A receiver that changes whenever a task of the instance changes.
    pub fn subscribe(&self, instance_arn: &str) -> watch::Receiver<Revision> {
        let mut inner = self.lock();
        inner
            .signals
            .entry(instance_arn.to_string())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }
}
