//! Listener sockets: on every worker, one task per listener binds `address:port+offset`
//! (with `SO_REUSEPORT`, so each worker has its own socket) and accepts connections until
//! the listener leaves the configuration (or moves, or the plane stops).
//! A listener whose rules change keeps its socket: requests look their rules up in the
//! current table. A bind that fails is reported and retried.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::config::Table;
use crate::workers::Workers;
use crate::Shared;

/// How long a listener that could not bind waits before trying again.
const BIND_RETRY: Duration = Duration::from_secs(2);

/// How long a stopping listener lets requests in progress run.
pub(crate) const DRAIN: Duration = Duration::from_secs(10);

/// How many connections may wait in a listening socket's queue.
const BACKLOG: u32 = 1024;

/// The listeners running, by ARN, and the workers they run on.
pub(crate) struct Listeners {
    workers: Workers,
    running: HashMap<String, Running>,
    /// Listeners told to stop, finishing their requests.
    stopping: JoinSet<()>,
}

struct Running {
    bind: SocketAddr,
    stop: watch::Sender<bool>,
    /// One per worker.
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    pub(crate) fn new(workers: Workers) -> Self {
        Listeners {
            workers,
            running: HashMap::new(),
            stopping: JoinSet::new(),
        }
    }

    /// Run exactly the listeners of `table`, each at its address.
    pub(crate) fn reconcile(&mut self, table: &Table, shared: &Arc<Shared>) {
        let gone: Vec<String> = self
            .running
            .iter()
            .filter(|(arn, r)| table.listeners.get(*arn).map(|route| route.bind) != Some(r.bind))
            .map(|(arn, _)| arn.clone())
            .collect();
        for arn in gone {
            if let Some(r) = self.running.remove(&arn) {
                r.stop.send_replace(true);
                shared.set_bind_error(&arn, None);
                self.stopping.spawn(join_all(r.tasks));
            }
        }
        for (arn, route) in &table.listeners {
            if !self.running.contains_key(arn) {
                let (stop, stopped) = watch::channel(false);
                let tasks = self
                    .workers
                    .spawn_each(|_| run(shared.clone(), arn.clone(), route.bind, stopped.clone()));
                let running = Running {
                    bind: route.bind,
                    stop,
                    tasks,
                };
                self.running.insert(arn.clone(), running);
            }
        }
        while self.stopping.try_join_next().is_some() {}
    }

    /// Stop every listener, wait until their requests have finished, and end the workers.
    pub(crate) async fn shutdown(mut self) {
        for r in self.running.values() {
            r.stop.send_replace(true);
        }
        for (_, r) in self.running.drain() {
            join_all(r.tasks).await;
        }
        while self.stopping.join_next().await.is_some() {}
        self.workers.stop().await;
    }
}

async fn join_all(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

/// A listening socket that shares its address with the other workers' sockets.
fn bind_socket(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// One listener on one worker: bind (retrying), accept until told to stop, then let its
/// connections finish their requests.
async fn run(shared: Arc<Shared>, arn: String, bind: SocketAddr, mut stop: watch::Receiver<bool>) {
    let listener = loop {
        match bind_socket(bind) {
            Ok(listener) => {
                shared.set_bind_error(&arn, None);
                break listener;
            }
            Err(e) => {
                tracing::warn!(listener = %arn, %bind, error = %e, "cannot bind a listener; retrying");
                shared.set_bind_error_unless(&arn, &format!("{bind}: {e}"), &stop);
                tokio::select! {
                    () = tokio::time::sleep(BIND_RETRY) => {}
                    () = crate::until_true(&mut stop) => return,
                }
            }
        }
    };
    tracing::debug!(listener = %arn, %bind, "listening");
    let (close, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = crate::until_true(&mut stop) => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors or the like: back off rather than spin.
                        tracing::debug!(listener = %arn, error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
                    shared.refused();
                    continue;
                };
                let conn = crate::conn::Accepted {
                    shared: shared.clone(),
                    listener: arn.clone(),
                    stream,
                    peer,
                };
                let closing = closing.clone();
                connections.spawn(async move {
                    crate::conn::serve(conn, closing).await;
                    drop(slot);
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    close.send_replace(true);
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN, drained).await.is_err() {
        tracing::warn!(listener = %arn, left = connections.len(), "requests still running on a stopped listener were cut");
        connections.abort_all();
    }
}
