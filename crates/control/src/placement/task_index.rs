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

use flotilla_model::daemon::task_definition::DaemonTaskDefinitionRecord;
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_store::view::View;
use flotilla_store::{EventKind, Revision, Store, StoreError};
use futures::StreamExt;
use tokio::sync::watch;

use crate::ecs::task_definitions::Definitions;
use crate::keys;
use crate::placement::resources::{holds_resources, task_usage, Usage};

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
    /// Of those, the tasks with a network interface of their own (awsvpc): while there is
    /// none, the host has no firewall to build.
    pub interfaces: i64,
}

/// Where a task is indexed: its instance, and the revision of the last change its agent
/// must hear of: the task's creation, a move, or a change of its desired status. A change
/// only of what the agent itself reported (last status, bindings) is not one: the agent
/// knows, and waking its poll to echo the change back would double the traffic.
#[derive(Debug, Clone)]
struct Placed {
    instance: Arc<str>,
    rev: Revision,
    desired: TaskStatus,
    /// What the task holds on the instance; `None` once it holds nothing (stopped).
    holds: Option<Contribution>,
}

/// One task's contribution to its instance's load.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Contribution {
    usage: Usage,
    group: Option<Arc<str>>,
    status: TaskStatus,
    interface: bool,
}

impl Load {
    fn add(&mut self, c: &Contribution) {
        // Wrapping, so that subtracting undoes adding exactly whatever the values.
        self.usage.cpu = self.usage.cpu.wrapping_add(c.usage.cpu);
        self.usage.memory = self.usage.memory.wrapping_add(c.usage.memory);
        self.usage.tcp_ports.extend(&c.usage.tcp_ports);
        self.usage.udp_ports.extend(&c.usage.udp_ports);
        self.tasks += 1;
        self.interfaces += i64::from(c.interface);
        if let Some(g) = &c.group {
            match self.groups.get_mut(&**g) {
                Some(n) => *n += 1,
                None => drop(self.groups.insert(g.to_string(), 1)),
            }
        }
        match c.status {
            TaskStatus::Running => self.running += 1,
            s if s < TaskStatus::Running => self.pending += 1,
            _ => {}
        }
    }

    fn subtract(&mut self, c: &Contribution) {
        self.usage.cpu = self.usage.cpu.wrapping_sub(c.usage.cpu);
        self.usage.memory = self.usage.memory.wrapping_sub(c.usage.memory);
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
        self.interfaces -= i64::from(c.interface);
        if let Some(g) = &c.group {
            if let Some(n) = self.groups.get_mut(&**g) {
                *n -= 1;
                if *n == 0 {
                    self.groups.remove(&**g);
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

/// Task keys in the order of their last agent-relevant change.
type ByChange = BTreeSet<(Revision, Arc<[u8]>)>;

#[derive(Default)]
struct Inner {
    /// Task keys by instance ARN, in the order of the last change its agent must hear of
    /// (see [`Placed`]), so a poll finds what changed since a revision without visiting
    /// the rest.
    /// Keys are shared with `placed` (one allocation per task).
    by_instance: HashMap<Arc<str>, ByChange>,
    /// Where each task is indexed and what it holds, by task key.
    placed: HashMap<Arc<[u8]>, Placed>,
    /// Sums of the contributions per instance.
    loads: HashMap<Arc<str>, Load>,
    /// Instance ARNs and group names, one copy each however many tasks name them.
    names: std::collections::HashSet<Arc<str>>,
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
    definitions: Definitions,
    /// The revision applied so far, for waiters.
    progress: Arc<watch::Sender<Revision>>,
}

impl TaskIndex {
    /// Build from the tasks view and follow the store from there on, in a background task
    /// that ends when the store closes or nobody holds the index any more.
    pub fn start(
        store: Arc<dyn Store>,
        tasks: View<TaskRecord>,
        definitions: View<TaskDefinitionRecord>,
        daemon_definitions: View<DaemonTaskDefinitionRecord>,
    ) -> TaskIndex {
        let index = TaskIndex {
            inner: Arc::default(),
            definitions: Definitions {
                tasks: definitions,
                daemons: daemon_definitions,
            },
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
            inner.placed.clear();
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
        let Some(instance) = task.container_instance_arn.as_deref() else {
            return;
        };
        // What the task holds, worked out before taking the lock.
        let usage = holds_resources(task).then(|| {
            (self.definitions)
                .with(&task.task_definition_arn, |d| task_usage(task, Some(d)))
                .unwrap_or_else(|| task_usage(task, None))
        });
        let mut inner = self.lock();
        let instance = inner.name(instance);
        let holds = usage.map(|usage| Contribution {
            usage,
            group: task.group.as_deref().map(|g| inner.name(g)),
            status: task.last_status,
            interface: task.network.is_some(),
        });
        let old = inner.placed.get_key_value(key.as_slice()).map(|(k, p)| {
            let unchanged = p.instance == instance && p.desired == task.desired_for_agent();
            (k.clone(), p.rev, unchanged)
        });
        let (key, rev_kept, unchanged) = match old {
            Some((k, old_rev, true)) => (k, old_rev, true),
            Some((k, old_rev, false)) => {
                let old_instance = inner.placed[&k].instance.clone();
                if let Some(set) = inner.by_instance.get_mut(&old_instance) {
                    set.remove(&(old_rev, k.clone()));
                }
                (k, rev, false)
            }
            None => (Arc::from(key), rev, false),
        };
        if !unchanged {
            inner
                .by_instance
                .entry(instance.clone())
                .or_default()
                .insert((rev_kept, key.clone()));
        }
        let previous = inner.placed.insert(
            key,
            Placed {
                instance: instance.clone(),
                rev: rev_kept,
                desired: task.desired_for_agent(),
                holds: holds.clone(),
            },
        );
        inner.set_contribution(
            previous.and_then(|p| p.holds.map(|h| (p.instance, h))),
            holds.map(|h| (instance.clone(), h)),
        );
        if !unchanged {
            if let Some(signal) = inner.signals.get(&*instance) {
                signal.send_replace(rev);
            }
        }
    }

    fn remove(&self, key: &[u8], rev: Revision) {
        let mut inner = self.lock();
        let Some((key, placed)) = inner.placed.remove_entry(key) else {
            return;
        };
        if let Some(set) = inner.by_instance.get_mut(&placed.instance) {
            set.remove(&(placed.rev, key));
        }
        let instance = placed.instance.clone();
        inner.set_contribution(placed.holds.map(|h| (placed.instance, h)), None);
        if let Some(signal) = inner.signals.get(&*instance) {
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
        let empty: Arc<[u8]> = Arc::from(&[][..]);
        set.range((since + 1, empty)..)
            .map(|(_, key)| key.to_vec())
            .collect()
    }

    /// A receiver that changes whenever a task of the instance changes.
    pub fn subscribe(&self, instance_arn: &str) -> watch::Receiver<Revision> {
        let mut inner = self.lock();
        let signal = inner.signals.entry(instance_arn.to_string());
        signal.or_insert_with(|| watch::channel(0).0).subscribe()
    }
}

impl Inner {
    /// The one shared copy of an instance ARN or group name.
    fn name(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.names.insert(n.clone());
        n
    }

    /// Replace a task's contribution (on an instance) to that instance's load.
    fn set_contribution(
        &mut self,
        old: Option<(Arc<str>, Contribution)>,
        new: Option<(Arc<str>, Contribution)>,
    ) {
        let same = match (&old, &new) {
            (Some((i, a)), Some((j, b))) => i == j && a.usage == b.usage && a.group == b.group,
            _ => false,
        };
        if old.is_some() && !same {
            self.released += 1;
        }
        if let Some((instance, c)) = &old {
            if let Some(load) = self.loads.get_mut(instance) {
                load.subtract(c);
            }
        }
        if let Some((instance, c)) = &new {
            self.loads.entry(instance.clone()).or_default().add(c);
        }
    }
}
