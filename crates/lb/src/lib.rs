//! The application load balancer's data plane: it serves exactly what the control plane's
//! [`PlaneConfig`] says and answers with [`HealthReport`]s, both on `watch` channels; it
//! never reads the store.
//!
//! Structure (the path of one request, top to bottom):
//! - [`Plane`] (here) runs a supervisor: on every new configuration it compiles a routing
//!   table (`config`), swaps it in whole, and reconciles the listener sockets
//!   (`listeners`), the health-check loops (`health`) and the drain deadlines.
//! - `workers` runs the threads that serve clients, each a single-threaded runtime;
//!   `listeners` binds each listener on every worker at the load balancer's address and
//!   `port + port_offset`, retrying a failed bind; `conn` serves one accepted connection
//!   (TLS with SNI and ALPN from `tls`, HTTP/1.1 or HTTP/2, header and idle timeouts).
//! - `proxy` answers a request: `rules` (pure matching) picks the rule, `actions` makes
//!   fixed responses, redirects and the balancer's own errors; a forward picks a group and
//!   a target (`targets`: stickiness, fail-open, round robin or least outstanding requests,
//!   slow start), rewrites the headers, sends the request on a pooled connection
//!   (`upstream`) and relays the answer in a `body` that counts the request as in flight
//!   on its target until it ends.
//! - `health` checks every target of the groups in use and publishes the report when it
//!   changes (health states, in-flight counts of draining targets, bind errors, and the
//!   traffic totals that `counters` keeps per load balancer and target group).
//!
//! Runtime state that must survive a new configuration (a target's health, its requests in
//! flight, its connection pools) lives in `targets::Runtime`, carried from one table to the
//! next while the target keeps its address.
#![forbid(unsafe_code)]

mod actions;
mod body;
mod config;
mod conn;
mod counters;
mod health;
mod listeners;
mod proxy;
mod rules;
mod targets;
mod tls;
mod upstream;
mod workers;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use flotilla_model::elbv2::plane::{HealthReport, PlaneConfig};
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Table;

/// How the data plane runs on this host.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Added to every listener's port to get the port bound (so that an unprivileged
    /// process can serve port 80 as, say, 8080).
    pub port_offset: u16,
    /// How long connecting to a target may take before the client gets a 504.
    pub connect_timeout: Duration,
    /// Open client connections at most, over all listeners; more are closed at once.
    pub max_connections: usize,
    /// A request's headers (and a TLS handshake) must arrive within this long.
    pub header_timeout: Duration,
    /// Threads serving clients; 0 for one per core.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port_offset: 0,
            connect_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            workers: 0,
        }
    }
}

/// A running data plane.
pub struct Plane {
    health: watch::Receiver<Arc<HealthReport>>,
    task: JoinHandle<()>,
}

impl Plane {
    /// Start serving what `config` says until `shutdown` becomes true (or its sender is
    /// dropped); returns at once. Must be called within a tokio runtime; the clients are
    /// served on threads of the plane's own (an error when they cannot be started).
    pub fn start(
        config: watch::Receiver<Arc<PlaneConfig>>,
        options: Options,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<Plane> {
        let count = match options.workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            n => n,
        };
        let workers = workers::Workers::start(count)?;
        let shared = Arc::new(Shared {
            table: RwLock::new(Arc::new(Table::default())),
            options,
            dirty: Arc::new(Notify::new()),
            bind_errors: Mutex::new(BTreeMap::new()),
            slots: Arc::new(Semaphore::new(options.max_connections.max(1))),
            dialer: Arc::new(upstream::Dialer::new(options.connect_timeout)),
            workers: workers.len(),
            refused: AtomicU64::new(0),
        });
        let (tx, health) = watch::channel(Arc::new(HealthReport::default()));
        let listeners = listeners::Listeners::new(workers);
        let task = tokio::spawn(supervise(shared, config, shutdown, tx, listeners));
        Ok(Plane { health, task })
    }

    /// What the data plane observes, updated on every change.
    pub fn health(&self) -> watch::Receiver<Arc<HealthReport>> {
        self.health.clone()
    }

    /// Wait for every task to end (after shutdown).
    pub async fn join(self) {
        if let Err(e) = self.task.await {
            if e.is_panic() {
                tracing::error!(error = %e, "the load balancer's supervisor panicked");
            }
        }
    }
}

/// What every task of the plane shares.
pub(crate) struct Shared {
    table: RwLock<Arc<Table>>,
    pub options: Options,
    /// Woken whenever the health report may have changed.
    pub dirty: Arc<Notify>,
    bind_errors: Mutex<BTreeMap<String, String>>,
    /// One permit per open client connection.
    pub slots: Arc<Semaphore>,
    /// Opens connections to targets.
    pub dialer: Arc<upstream::Dialer>,
    /// How many workers serve clients (each target has a connection pool per worker).
    pub workers: usize,
    refused: AtomicU64,
}

impl Shared {
    /// The routing table now in force.
    pub(crate) fn table(&self) -> Arc<Table> {
        self.table.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn swap(&self, table: Table) {
        *self.table.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(table);
        self.dirty.notify_one();
    }

    pub(crate) fn bind_errors(&self) -> BTreeMap<String, String> {
        self.bind_errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn set_bind_error(&self, listener: &str, error: Option<&str>) {
        let mut errors = self.bind_errors.lock().unwrap_or_else(|e| e.into_inner());
        let changed = match error {
            Some(e) => {
                errors
                    .insert(listener.to_string(), e.to_string())
                    .as_deref()
                    != Some(e)
            }
            None => errors.remove(listener).is_some(),
        };
        if changed {
            self.dirty.notify_one();
        }
    }

    /// Record a bind error unless the listener has been told to stop (checked under the
    /// lock, so a stopped listener's error cannot outlive its removal).
    pub(crate) fn set_bind_error_unless(
        &self,
        listener: &str,
        error: &str,
        stop: &watch::Receiver<bool>,
    ) {
        let mut errors = self.bind_errors.lock().unwrap_or_else(|e| e.into_inner());
        if !*stop.borrow()
            && errors
                .insert(listener.to_string(), error.to_string())
                .as_deref()
                != Some(error)
        {
            self.dirty.notify_one();
        }
    }

    /// A connection was refused at the cap; logged once per 1024.
    pub(crate) fn refused(&self) {
        let n = self.refused.fetch_add(1, Ordering::Relaxed);
        if n & 0x3ff == 0 {
            tracing::warn!(
                cap = self.options.max_connections,
                refused = n + 1,
                "load balancer connection refused: the connection cap is reached"
            );
        }
    }
}

/// Apply every configuration as it comes, cut drained targets at their deadline, and on
/// shutdown stop listening and let requests in progress finish.
async fn supervise(
    shared: Arc<Shared>,
    mut config: watch::Receiver<Arc<PlaneConfig>>,
    mut shutdown: watch::Receiver<bool>,
    report: watch::Sender<Arc<HealthReport>>,
    mut listeners: listeners::Listeners,
) {
    let (stop_reporter, reporter_stop) = watch::channel(false);
    let reporter = tokio::spawn(health::report_loop(shared.clone(), report, reporter_stop));
    let mut checkers = health::Checkers::default();
    let mut certs = tls::CertCache::default();
    let mut config_open = true;
    let mut changed = true;
    loop {
        if changed {
            let current = config.borrow_and_update().clone();
            let inputs = config::Inputs {
                port_offset: shared.options.port_offset,
                workers: shared.workers,
                dirty: &shared.dirty,
                certs: &mut certs,
            };
            let table = config::compile(&current, &shared.table(), inputs);
            shared.swap(table);
            let table = shared.table();
            listeners.reconcile(&table, &shared);
            checkers.reconcile(&table, &shared);
        }
        let next_cut = cut_due(&shared.table());
        let sleep = async {
            match next_cut {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = config.changed(), if config_open => {
                // A closed configuration channel keeps the last configuration in force.
                config_open = r.is_ok();
                changed = config_open;
            }
            () = until_true(&mut shutdown) => break,
            () = sleep => changed = false,
        }
    }
    drop(checkers);
    listeners.shutdown().await;
    stop_reporter.send_replace(true);
    let _ = reporter.await;
}

/// Resolves once `flag` is true or its sender is gone (holding no borrow of it after).
pub(crate) async fn until_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|v| *v).await;
}

/// Cut the requests of draining targets whose deadline has passed; when the next one is.
fn cut_due(table: &Table) -> Option<Instant> {
    let now = chrono::Utc::now();
    let mut next: Option<Instant> = None;
    for group in table.groups.values() {
        for t in &group.targets {
            let Some(draining) = t.plane.draining else {
                continue;
            };
            if t.rt.is_cut() {
                continue;
            }
            match (draining.deadline - now).to_std() {
                Ok(left) if !left.is_zero() => {
                    let at = Instant::now() + left;
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
                _ => {
                    tracing::info!(target = %t.plane.key, "deregistration delay over: cutting requests in flight");
                    t.rt.cut_now();
                }
            }
        }
    }
    next
}

#[cfg(test)]
mod tests;
