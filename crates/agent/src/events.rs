//! The runtime event pump: one subscription to the runtime's container events, each routed
//! to the one task actor that owns the container ([`Router`]; an agent with hundreds of
//! tasks must not wake every actor for every event). After every (re)subscription, and
//! every `resync` interval, it tells all actors to re-inspect everything, since events may
//! have been missed in between.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flotilla_runtime::{ContainerEvent, Runtime};
use futures::StreamExt;
use tokio::sync::{broadcast, mpsc, watch};

use crate::backoff::Backoff;

/// Where container events go: each container's events to the actor that claimed it, and
/// resyncs to every actor.
pub(crate) struct Router {
    resync: broadcast::Sender<()>,
    /// Container id → the channel of the actor that owns it.
    routes: Mutex<HashMap<String, mpsc::UnboundedSender<String>>>,
}

impl Router {
    pub fn new() -> Arc<Router> {
        Arc::new(Router {
            resync: broadcast::channel(16).0,
            routes: Mutex::default(),
        })
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<String>>> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Resyncs, for one actor.
    pub fn subscribe(&self) -> broadcast::Receiver<()> {
        self.resync.subscribe()
    }

    /// Send the events of container `id` to `to` (the ids of the containers they concern).
    pub fn claim(&self, id: &str, to: &mpsc::UnboundedSender<String>) {
        self.routes().insert(id.to_string(), to.clone());
    }

    /// Stop routing container `id`.
    pub fn release(&self, id: &str) {
        self.routes().remove(id);
    }

    /// Hand an event to the actor that owns its container; events of containers nobody
    /// claimed are dropped (a resync covers any an actor missed before claiming).
    fn event(&self, event: ContainerEvent) {
        let mut routes = self.routes();
        if let Some(to) = routes.get(&event.id) {
            if to.send(event.id.clone()).is_err() {
                routes.remove(&event.id);
            }
        }
    }

    fn resync(&self) {
        let _ = self.resync.send(());
    }
}

/// Forward events until `shutdown` turns true.
pub(crate) async fn pump(
    runtime: Arc<dyn Runtime>,
    router: Arc<Router>,
    resync: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::standard();
    loop {
        match runtime.events().await {
            Ok(mut stream) => {
                backoff.reset();
                router.resync();
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + resync, resync);
                loop {
                    tokio::select! {
                        item = stream.next() => match item {
                            Some(Ok(event)) => router.event(event),
                            Some(Err(e)) => { tracing::warn!(error = %e, "runtime event stream failed"); break; }
                            None => { tracing::warn!("runtime event stream ended"); break; }
                        },
                        _ = tick.tick() => router.resync(),
                        _ = shutdown.wait_for(|s| *s) => return,
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot subscribe to runtime events"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff.next_delay()) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
