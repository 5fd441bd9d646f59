//! The threads that serve clients. Each runs its own single-threaded runtime and accepts on
//! its own socket for every listener (`SO_REUSEPORT`: the kernel spreads new connections
//! over the sockets), so a connection, its requests and the target connections carrying
//! them stay on one thread, as in nginx's worker processes: no task moves between threads
//! and no wake-up crosses one.

use std::cell::Cell;
use std::future::Future;
use std::thread;

use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

thread_local! {
    static INDEX: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker running the caller (0 off the workers' threads).
pub(crate) fn current() -> usize {
    INDEX.with(Cell::get)
}

/// The running worker threads.
pub(crate) struct Workers {
    handles: Vec<Handle>,
    /// Dropping one ends its worker (and every task left on it).
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl Workers {
    /// Start `count` workers (at least one).
    pub(crate) fn start(count: usize) -> std::io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for index in 0..count.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            let thread = thread::Builder::new()
                .name(format!("flotilla-lb-{index}"))
                .spawn(move || {
                    INDEX.with(|i| i.set(index));
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            workers.stops.push(stop);
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// How many workers run.
    pub(crate) fn len(&self) -> usize {
        self.handles.len()
    }

    /// Run `task(index)` on every worker.
    pub(crate) fn spawn_each<F, T>(&self, mut task: impl FnMut(usize) -> F) -> Vec<JoinHandle<T>>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        self.handles
            .iter()
            .enumerate()
            .map(|(index, handle)| handle.spawn(task(index)))
            .collect()
    }

    /// End every worker and wait for its thread.
    pub(crate) async fn stop(mut self) {
        self.stops.clear();
        let threads = std::mem::take(&mut self.threads);
        let _ = tokio::task::spawn_blocking(move || {
            for thread in threads {
                if thread.join().is_err() {
                    tracing::error!("a load balancer worker thread panicked");
                }
            }
        })
        .await;
    }
}
