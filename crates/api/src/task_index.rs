//! Which tasks each container instance has, what they take from it, and a signal per
//! instance that fires when one of them changes. This is what lets an agent's long poll
//! answer in time proportional to its own tasks and wake only for its own changes, and what
//! lets placement read an instance's load without scanning the cluster's tasks.
//!
//! Derived, process-local state: built from the tasks view and kept current by a watch on
//! the task prefix. The task records themselves are read from the tasks view (decoded
//! once, there); this index keeps keys and sums.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::Arn;
use flotilla_store::view::View;
use flotilla_store::{EventKind, Revision, Store, StoreError};
use futures::StreamExt;
use tokio::sync::watch;

use crate::keys;
use crate::resources::{holds_resources, task_usage, Usage};

/// What the tasks on one instance take from it.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Sum of cpu and memory; every host port held.
    pub usage: Usage,
    /// Tasks per group (`family:web`, `service:api`, ...).
    pub groups: HashMap<String, u32>,
    pub running: i64,
    pub pending: i64,
    /// Tasks holding resources (not yet STOPPED).
    pub tasks: i64,
}

/// Where a task is indexed: its instance, and the revision of the last change its agent
/// must hear of: the task's creation, a move, or a change of its desired status. A change
/// only of what the agent itself reported (last status, bindings) is not one: the agent
/// knows, and waking its poll to echo the change back would double the traffic.
#[derive(Debug, Clone)]
struct Placed {
    instance: String,
    rev: Revision,
    desired: TaskStatus,
}

/// One task's contribution to its instance's load.
#[derive(Debug, Clone)]
struct Contribution {
    instance: String,
    usage: Usage,
    group: Option<String>,
    status: TaskStatus,
}

impl Load {
    fn add(&mut self, c: &Contribution) {
        self.usage.cpu += c.usage.cpu;
        self.usage.memory += c.usage.memory;
        self.usage.tcp_ports.extend(&c.usage.tcp_ports);
        self.usage.udp_ports.extend(&c.usage.udp_ports);
        self.tasks += 1;
        if let Some(g) = &c.group {
            *self.groups.entry(g.clone()).or_default() += 1;
        }
        match c.status {
            TaskStatus::Running => self.running += 1,
            s if s < TaskStatus::Running => self.pending += 1,
            _ => {}
        }
    }

    fn subtract(&mut self, c: &Contribution) {
        self.usage.cpu -= c.usage.cpu;
        self.usage.memory -= c.usage.memory;
        let remove = |ports: &mut Vec<u16>, gone: &[u16]| {
            for p in gone {
                if let Some(i) = ports.iter().position(|x| x == p) {
                    ports.swap_remove(i);
                }
            }
        };
        remove(&mut self.usage.tcp_ports, &c.usage.tcp_ports);
        remove(&mut self.usage.udp_ports, &c.usage.udp_ports);
        self.tasks -= 1;
        if let Some(g) = &c.group {
            if let Some(n) = self.groups.get_mut(g) {
                *n -= 1;
                if *n == 0 {
                    self.groups.remove(g);
                }
            }
        }
        match c.status {
            TaskStatus::Running => self.running -= 1,
            s if s < TaskStatus::Running => self.pending -= 1,
            _ => {}
        }
    }
}

#[derive(Default)]
struct Inner {
    /// Task keys by instance ARN, in the order of the last change its agent must hear of
    /// (see [`Placed`]), so a poll finds what changed since a revision without visiting
    /// the rest.
    by_instance: HashMap<String, BTreeSet<(Revision, Vec<u8>)>>,
    /// Where each task is indexed, by task key.
    instance_of: HashMap<Vec<u8>, Placed>,
    /// What each task holds on its instance (tasks that hold nothing are absent).
    contributions: HashMap<Vec<u8>, Contribution>,
    /// Sums of the contributions per instance.
    loads: HashMap<String, Load>,
    /// The change signal of each instance that has (or had) a poller.
    signals: HashMap<String, watch::Sender<Revision>>,
    /// Every task change up to this revision is indexed.
    applied: Revision,
    /// Bumped when a task's contribution to a load shrinks, moves or goes (a task stopped,
    /// was deleted or was re-placed); not when a task is added or only its status moves.
    released: u64,
}

/// Tasks by instance, with loads and change signals. Cheap to clone.
#[derive(Clone)]
pub struct TaskIndex {
    inner: Arc<Mutex<Inner>>,
    definitions: View<TaskDefinitionRecord>,
    /// The revision applied so far, for waiters.
    progress: Arc<watch::Sender<Revision>>,
}

/// The stored definition a task names (for its fixed host ports).
fn definition_of(
    view: &View<TaskDefinitionRecord>,
    task: &TaskRecord,
) -> Option<Arc<TaskDefinitionRecord>> {
    let arn = Arn::parse(&task.task_definition_arn)?;
    let (family, revision) = arn.resource_parts().1.rsplit_once(':')?;
    let key = keys::task_definition(&arn.region, family, revision.parse().ok()?);
    view.get(key.as_bytes()).map(|e| e.value)
}

impl TaskIndex {
    /// Build from the tasks view and follow the store from there on, in a background task
    /// that ends when the store closes or nobody holds the index any more.
    pub fn start(
        store: Arc<dyn Store>,
        tasks: View<TaskRecord>,
        definitions: View<TaskDefinitionRecord>,
    ) -> TaskIndex {
        let index = TaskIndex {
            inner: Arc::default(),
            definitions,
            progress: Arc::new(watch::channel(0).0),
        };
        let from = index.load_all(&tasks);
        let follower = index.clone();
        tokio::spawn(async move { follower.follow(store, tasks, from + 1).await });
        index
    }

    /// Index every task of the view; returns the revision indexed.
    fn load_all(&self, tasks: &View<TaskRecord>) -> Revision {
        let rev = tasks.revision();
        {
            let mut inner = self.lock();
            inner.by_instance.clear();
            inner.instance_of.clear();
            inner.contributions.clear();
            inner.loads.clear();
            inner.released += 1;
        }
        for (key, entry) in tasks.range(keys::TASKS.as_bytes()) {
            self.put(key, &entry.value, entry.mod_revision);
        }
        self.set_applied(rev);
        rev
    }

    async fn follow(&self, store: Arc<dyn Store>, tasks: View<TaskRecord>, mut from: Revision) {
        loop {
            let mut stream = match store.watch_progress(keys::TASKS.as_bytes(), from).await {
                Ok(s) => s,
                Err(StoreError::Closed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "task index watch failed; rebuilding");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    from = self.load_all(&tasks) + 1;
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
                self.set_applied(from - 1);
            }
            if Arc::strong_count(&self.inner) == 1 {
                return;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_applied(&self, rev: Revision) {
        self.lock().applied = rev;
        self.progress.send_if_modified(|p| {
            let moved = rev > *p;
            *p = (*p).max(rev);
            moved
        });
    }

    fn put(&self, key: Vec<u8>, task: &TaskRecord, rev: Revision) {
        let Some(instance) = task.container_instance_arn.clone() else {
            return;
        };
        let contribution = holds_resources(task).then(|| {
            let def = definition_of(&self.definitions, task);
            Contribution {
                instance: instance.clone(),
                usage: task_usage(task, def.as_ref().map(|d| &d.definition)),
                group: task.group.clone(),
                status: task.last_status,
            }
        });
        let mut inner = self.lock();
        let unchanged = inner
            .instance_of
            .get(&key)
            .is_some_and(|p| p.instance == instance && p.desired == task.desired_status);
        if !unchanged {
            let placed = Placed {
                instance: instance.clone(),
                rev,
                desired: task.desired_status,
            };
            if let Some(old) = inner.instance_of.insert(key.clone(), placed) {
                if let Some(set) = inner.by_instance.get_mut(&old.instance) {
                    set.remove(&(old.rev, key.clone()));
                }
            }
            inner
                .by_instance
                .entry(instance.clone())
                .or_default()
                .insert((rev, key.clone()));
        }
        set_contribution(&mut inner, key, contribution);
        if !unchanged {
            if let Some(signal) = inner.signals.get(&instance) {
                signal.send_replace(rev);
            }
        }
    }

    fn remove(&self, key: &[u8], rev: Revision) {
        let mut inner = self.lock();
        set_contribution(&mut inner, key.to_vec(), None);
        let Some(Placed {
            instance,
            rev: old_rev,
            ..
        }) = inner.instance_of.remove(key)
        else {
            return;
        };
        if let Some(set) = inner.by_instance.get_mut(&instance) {
            set.remove(&(old_rev, key.to_vec()));
        }
        if let Some(signal) = inner.signals.get(&instance) {
            signal.send_replace(rev);
        }
    }

    /// Every task change up to this revision is indexed.
    pub fn applied(&self) -> Revision {
        self.lock().applied
    }

    /// Wait until every task change up to `rev` is indexed.
    pub async fn wait_applied(&self, rev: Revision) {
        let mut rx = self.progress.subscribe();
        let _ = rx.wait_for(|p| *p >= rev).await;
    }

    /// A number that moves whenever some load shrinks (see `Inner::released`): while it
    /// stays put, loads only grew by the tasks added since.
    pub fn released(&self) -> u64 {
        self.lock().released
    }

    /// The load of an instance.
    pub fn load(&self, instance_arn: &str) -> Load {
        self.lock()
            .loads
            .get(instance_arn)
            .cloned()
            .unwrap_or_default()
    }

    /// Read an instance's load in place (no copy).
    pub fn with_load<R>(&self, instance_arn: &str, f: impl FnOnce(Option<&Load>) -> R) -> R {
        f(self.lock().loads.get(instance_arn))
    }

    /// The keys of an instance's tasks whose agent-relevant state (see [`Placed`]) changed
    /// after revision `since` (all of them for 0), oldest change first.
    pub fn tasks_of(&self, instance_arn: &str, since: Revision) -> Vec<Vec<u8>> {
        let inner = self.lock();
        let Some(set) = inner.by_instance.get(instance_arn) else {
            return Vec::new();
        };
        set.range((since + 1, Vec::new())..)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// A receiver that changes whenever a task of the instance changes.
    pub fn subscribe(&self, instance_arn: &str) -> watch::Receiver<Revision> {
        let mut inner = self.lock();
        let signal = inner.signals.entry(instance_arn.to_string());
        signal.or_insert_with(|| watch::channel(0).0).subscribe()
    }
}

/// Replace a task's contribution to its instance's load.
fn set_contribution(inner: &mut Inner, key: Vec<u8>, new: Option<Contribution>) {
    if let Some(old) = inner.contributions.remove(&key) {
        let same = new.as_ref().is_some_and(|n| {
            n.instance == old.instance && n.group == old.group && n.usage == old.usage
        });
        if !same {
            inner.released += 1;
        }
        if let Some(load) = inner.loads.get_mut(&old.instance) {
            load.subtract(&old);
        }
    }
    if let Some(c) = new {
        inner.loads.entry(c.instance.clone()).or_default().add(&c);
        inner.contributions.insert(key, c);
    }
}
