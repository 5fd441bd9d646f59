//! The runtime event pump: one subscription to the runtime's container events, fanned out
//! to the task actors on a broadcast channel. After every (re)subscription, and every
//! `resync` interval, it tells the actors to re-inspect everything, since events may have
//! been missed in between.

use std::sync::Arc;
use std::time::Duration;

use flotilla_runtime::Runtime;
use futures::StreamExt;
use tokio::sync::{broadcast, watch};

use crate::backoff::Backoff;
use crate::task_actor::Signal;

/// Forward events until `shutdown` turns true.
pub(crate) async fn pump(
    runtime: Arc<dyn Runtime>,
    signals: broadcast::Sender<Signal>,
    resync: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::standard();
    loop {
        match runtime.events().await {
            Ok(mut stream) => {
                backoff.reset();
                let _ = signals.send(Signal::Resync);
                let mut tick =
                    tokio::time::interval_at(tokio::time::Instant::now() + resync, resync);
                loop {
                    tokio::select! {
                        item = stream.next() => match item {
                            Some(Ok(event)) => { let _ = signals.send(Signal::Event(event)); }
                            Some(Err(e)) => { tracing::warn!(error = %e, "runtime event stream failed"); break; }
                            None => { tracing::warn!("runtime event stream ended"); break; }
                        },
                        _ = tick.tick() => { let _ = signals.send(Signal::Resync); }
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
