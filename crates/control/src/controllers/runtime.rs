//! The one controller runtime every controller runs on.
//!
//! A controller is a [`Reconciler`]: it reconciles one object by key — compares what is
//! desired with what is observed and moves one step — and answers what should happen next
//! ([`Action::Requeue`] after a duration, or [`Action::AwaitChange`]). It never asks why it
//! was woken. The runtime owns the rest:
//! - a per-key work queue fed by [`Wake`]s (keyed change notifications the controller maps
//!   from its views, or [`Wake::All`] when anything may have changed); a key queued twice
//!   runs once;
//! - one object is never reconciled twice at once: a key woken while its reconcile runs is
//!   reconciled again right after;
//! - errors go through [`Reconciler::error_policy`] (by default exponential backoff per key);
//! - time comes from tokio's clock, so a test with `tokio::time::pause` drives requeues and
//!   backoffs without waiting;
//! - it works only while this process leads (every key is queued when leadership starts,
//!   the queue is dropped when it ends), and stops on shutdown after the reconciles in
//!   flight finish.
//!
//! ```text
//!  wakes ──► queue (ready, delayed) ──► at most CONCURRENCY reconciles, one per key
//!              ▲                               │
//!              └── Requeue(after) / error_policy ◄┘
//! ```

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use flotilla_store::view::{Changed, KeyChanges};
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

use crate::ControlError;

/// What should happen next to a reconciled object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Reconcile it again after this long (or sooner, if woken).
    Requeue(Duration),
    /// Reconcile it again only when it is woken.
    AwaitChange,
}

/// Why the runtime should look at objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake<K> {
    /// This object (or something it depends on) changed.
    Key(K),
    /// Anything may have changed: reconcile every object.
    All,
}

/// How many reconciles of different keys run at once.
const CONCURRENCY: usize = 4;
/// The default error policy's first and longest delay.
const ERROR_BACKOFF_BASE: Duration = Duration::from_millis(100);
const ERROR_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A controller: reconciles one object by key.
pub trait Reconciler: Send + Sync + 'static {
    type Key: Clone + Eq + Hash + Ord + Debug + Send + Sync + 'static;

    /// The controller's name, for logs.
    fn name(&self) -> &'static str;

    /// Every object that exists now: queued when leadership starts and on [`Wake::All`].
    fn keys(&self) -> Vec<Self::Key>;

    /// Move the object at `key` one step towards what is desired; idempotent.
    fn reconcile(
        &self,
        key: &Self::Key,
    ) -> impl Future<Output = Result<Action, ControlError>> + Send;

    /// What to do after the `failures`-th consecutive failed reconcile of `key`.
    fn error_policy(&self, key: &Self::Key, error: &ControlError, failures: u32) -> Action {
        tracing::warn!(controller = self.name(), ?key, %error, failures, "reconcile failed");
        Action::Requeue(backoff(failures))
    }
}

/// `ERROR_BACKOFF_BASE` doubling per consecutive failure, up to `ERROR_BACKOFF_MAX`.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (ERROR_BACKOFF_BASE * 2u32.pow(doublings)).min(ERROR_BACKOFF_MAX)
}

/// Run `reconciler` on the keys `wakes` names while `leader` is true, until `shutdown`.
pub fn run<R: Reconciler>(
    reconciler: Arc<R>,
    wakes: mpsc::UnboundedReceiver<Wake<R::Key>>,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(Runner::new(reconciler).run(wakes, leader, shutdown))
}

/// Run `reconciler` woken by the feeder `feed` makes of the wake channel's sender (it
/// runs beside the runtime and is stopped with it).
pub fn run_fed<R: Reconciler, F>(
    reconciler: Arc<R>,
    feed: impl FnOnce(mpsc::UnboundedSender<Wake<R::Key>>) -> F,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let feeder = tokio::spawn(feed(tx));
    let runner = run(reconciler, rx, leader, shutdown);
    tokio::spawn(async move {
        let _ = runner.await;
        feeder.abort();
    })
}

/// A feeder for [`run_fed`]: every change of the `sources` (keyed change notifications,
/// each with a tag) wakes the keys `woken(tag, key)` names, and [`Changed::All`] wakes
/// every key, until `shutdown` or a view goes away.
pub async fn feed<K, T: Copy>(
    mut sources: Vec<(T, KeyChanges)>,
    woken: impl Fn(T, &[u8]) -> Vec<K>,
    tx: mpsc::UnboundedSender<Wake<K>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let next = (sources.iter_mut()).map(|(tag, changes)| {
            let tag = *tag;
            Box::pin(async move { (tag, changes.next().await) })
        });
        let ((tag, changed), _, _) = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            c = futures::future::select_all(next) => c,
        };
        let wakes: Vec<Wake<K>> = match changed {
            None => return,
            Some(Changed::All) => vec![Wake::All],
            Some(Changed::Keys(keys)) => (keys.iter())
                .flat_map(|k| woken(tag, k))
                .map(Wake::Key)
                .collect(),
        };
        for w in wakes {
            if tx.send(w).is_err() {
                return;
            }
        }
    }
}

/// Run a controller that nothing wakes: it reconciles when leadership starts and then
/// requeues itself (the retention and lifecycle controllers).
pub fn run_self_requeuing<R: Reconciler>(
    reconciler: R,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    // The sender is kept until the runner ends, so its wake channel never closes.
    let (wakes, rx) = mpsc::unbounded_channel();
    let runner = run(Arc::new(reconciler), rx, leader, shutdown);
    tokio::spawn(async move {
        let _ = runner.await;
        drop(wakes);
    })
}

/// The work queue and the reconciles in flight; owned by the runner task alone.
struct Runner<R: Reconciler> {
    reconciler: Arc<R>,
    /// Keys to reconcile now, in order; each at most once.
    ready: VecDeque<R::Key>,
    queued: HashSet<R::Key>,
    /// Keys to reconcile at a time, ordered by (time, sequence); `due` holds each key's
    /// earliest time, so a stale entry is skipped.
    delayed: BTreeMap<(Instant, u64), R::Key>,
    due: HashMap<R::Key, Instant>,
    seq: u64,
    /// Keys being reconciled, and those woken meanwhile (reconciled again afterwards).
    running: HashSet<R::Key>,
    dirty: HashSet<R::Key>,
    /// Consecutive failures per key.
    failures: HashMap<R::Key, u32>,
    tasks: JoinSet<(R::Key, Result<Action, ControlError>)>,
}

impl<R: Reconciler> Runner<R> {
    fn new(reconciler: Arc<R>) -> Self {
        Runner {
            reconciler,
            ready: VecDeque::new(),
            queued: HashSet::new(),
            delayed: BTreeMap::new(),
            due: HashMap::new(),
            seq: 0,
            running: HashSet::new(),
            dirty: HashSet::new(),
            failures: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    async fn run(
        mut self,
        mut wakes: mpsc::UnboundedReceiver<Wake<R::Key>>,
        mut leader: watch::Receiver<bool>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut leading = false;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now_leading = *leader.borrow_and_update();
            if now_leading && !leading {
                self.wake(Wake::All);
            } else if !now_leading && leading {
                self.forget_queue();
            }
            leading = now_leading;
            if leading {
                self.start_ready();
            }
            crate::metrics::queue_depth(self.reconciler.name(), self.ready.len(), self.due.len());
            let next_due = self.delayed.keys().next().map(|(at, _)| *at);
            tokio::select! {
                _ = shutdown.wait_for(|s| *s) => break,
                changed = leader.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
                wake = wakes.recv() => match wake {
                    Some(w) if leading => self.wake(w),
                    Some(_) => {}
                    None => break,
                },
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok((key, result)) = done {
                        self.finished(key, result, leading);
                    }
                }
                _ = sleep_until(next_due), if next_due.is_some() => self.promote_due(),
            }
        }
        // Let the reconciles in flight finish: each is one idempotent step.
        while self.tasks.join_next().await.is_some() {}
    }

    /// Queue what `wake` names.
    fn wake(&mut self, wake: Wake<R::Key>) {
        match wake {
            Wake::Key(k) => self.enqueue(k),
            Wake::All => {
                for k in self.reconciler.keys() {
                    self.enqueue(k);
                }
            }
        }
    }

    fn enqueue(&mut self, key: R::Key) {
        if self.running.contains(&key) {
            self.dirty.insert(key);
        } else if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// Queue `key` at `at`, unless it is due earlier already.
    fn enqueue_at(&mut self, key: R::Key, at: Instant) {
        if self.due.get(&key).is_some_and(|d| *d <= at) {
            return;
        }
        self.seq += 1;
        self.delayed.insert((at, self.seq), key.clone());
        self.due.insert(key, at);
    }

    /// Move the delayed keys whose time has come to the ready queue.
    fn promote_due(&mut self) {
        let now = Instant::now();
        while let Some(entry) = self.delayed.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((at, _), key) = entry.remove_entry();
            if self.due.get(&key) == Some(&at) {
                self.due.remove(&key);
                self.enqueue(key);
            }
        }
    }

    /// Start reconciles of ready keys, up to the concurrency limit.
    fn start_ready(&mut self) {
        while self.running.len() < CONCURRENCY {
            let Some(key) = self.ready.pop_front() else {
                return;
            };
            self.queued.remove(&key);
            self.running.insert(key.clone());
            let reconciler = self.reconciler.clone();
            self.tasks.spawn(async move {
                let started = std::time::Instant::now();
                let result = reconciler.reconcile(&key).await;
                crate::metrics::reconciled(reconciler.name(), result.is_ok(), started.elapsed());
                (key, result)
            });
        }
    }

    /// A reconcile of `key` ended: schedule what it (or the error policy) asked for.
    fn finished(&mut self, key: R::Key, result: Result<Action, ControlError>, leading: bool) {
        self.running.remove(&key);
        let action = match result {
            Ok(action) => {
                self.failures.remove(&key);
                action
            }
            Err(e) => {
                let n = self.failures.entry(key.clone()).or_insert(0);
                *n += 1;
                self.reconciler.error_policy(&key, &e, *n)
            }
        };
        if !leading {
            self.dirty.remove(&key);
            return;
        }
        if self.dirty.remove(&key) {
            self.enqueue(key.clone());
        }
        if let Action::Requeue(after) = action {
            self.enqueue_at(key, Instant::now() + after);
        }
    }

    /// Leadership ended: another server reconciles from now on.
    fn forget_queue(&mut self) {
        self.ready.clear();
        self.queued.clear();
        self.delayed.clear();
        self.due.clear();
        self.dirty.clear();
        self.failures.clear();
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
