//! The simulated driver: [`SimRuntime`] implements [`Runtime`] with no containers and no
//! Docker, for scale tests and benchmarks that run thousands of agents in one process.
//!
//! A container is a few hundred bytes of state (strings such as label keys, ARNs and
//! images are interned per runtime) and costs no thread, task or timer: what happens to it
//! over time (a scripted exit, a health check leaving its start period) is computed from
//! its start time whenever it is looked at. One ticker task per runtime, started when the
//! first deadline is set, walks a deadline heap to send the `die` and `health_status`
//! events those changes owe. Times follow tokio's clock, so a paused test clock drives
//! simulated containers too.
//!
//! Behaviour, as close to Docker's as the agent can tell:
//! - every image exists except references containing `missing` or `does-not-exist`
//!   (pulling them fails like Docker's "pull access denied", creating from them is
//!   `NotFound`);
//! - names are unique; ids are 64 hex digits; a container is found by id, by an id prefix
//!   of 16 digits or more, or by name;
//! - start binds ports (host port 0: an ephemeral port, 32768–60999, from a per-runtime
//!   counter skipping ports in use; a taken fixed port fails the start) and takes an
//!   address of its network (`bridge` is 172.17.0.0/16, named networks come from
//!   [`Runtime::ensure_network`]); `Container(..)` mode needs its holder running and
//!   reports the holder's addresses; ports and addresses are given back at exit;
//! - health, when a check is configured, is `Starting` for the start period, then
//!   `Healthy`; stop is SIGTERM honoured at once (exit 143); remove kills (137) first;
//! - events: `start`, `die`, `health_status: healthy|unhealthy`, `destroy`, to every
//!   subscriber from the moment it subscribed; a subscriber that lags more than 1024
//!   events gets an `Unavailable` error and its stream ends (resubscribe and re-inspect).
//!
//! Failure knobs are environment variables of the container, see [`EXIT_CODE_ENV`],
//! [`EXIT_AFTER_ENV`], [`HEALTH_ENV`], [`IGNORE_SIGTERM_ENV`]; the command `["false"]`
//! exits 1 at once. [`LOG_LINES_ENV`] makes a container print lines; its statistics are
//! synthetic (see `output`). Named volumes are
//! only remembered. Tests act on containers with [`SimRuntime::kill`].

mod clock;
mod intern;
mod net;
mod output;
mod script;
mod state;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use tokio::sync::{broadcast, Notify};
use tokio::task::JoinHandle;

use crate::{
    ContainerEvent, ContainerSpec, ContainerState, LogEntry, NetworkSpec, RegistryAuth, Result,
    Runtime, RuntimeError, StatsSample, VolumeInfo, VolumeSpec,
};
use clock::{container_id, Clock, Stamp};
pub use output::SIM_MEMORY_BYTES;
pub use script::{EXIT_AFTER_ENV, EXIT_CODE_ENV, HEALTH_ENV, IGNORE_SIGTERM_ENV, LOG_LINES_ENV};
use state::{image_missing, State, Stop};

/// The pause image the simulated runtime hands out.
pub const PAUSE_IMAGE: &str = "flotilla/pause:sim";

/// A simulated container runtime. Share it behind an `Arc`; every method may be called
/// concurrently. Dropping it ends its ticker task.
pub struct SimRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    clock: Clock,
    state: Mutex<State>,
    /// Tells the ticker that an earlier deadline was set.
    wake: Arc<Notify>,
    ticker: Mutex<Option<JoinHandle<()>>>,
    /// Named volumes: kept as created, never mounted anywhere.
    volumes: Mutex<std::collections::BTreeMap<String, VolumeInfo>>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for SimRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for SimRuntime {
    fn drop(&mut self) {
        let ticker = self
            .inner
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(ticker) = ticker.as_ref() {
            ticker.abort();
        }
    }
}

impl SimRuntime {
    /// An empty runtime: no containers, the `bridge` network, every image but missing ones.
    pub fn new() -> Self {
        SimRuntime {
            inner: Arc::new(Inner {
                clock: Clock::new(),
                state: Mutex::new(State::new()),
                wake: Arc::new(Notify::new()),
                ticker: Mutex::new(None),
                volumes: Mutex::default(),
            }),
        }
    }

    fn volumes(&self) -> MutexGuard<'_, std::collections::BTreeMap<String, VolumeInfo>> {
        self.inner
            .volumes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Simulate the container's process dying with `exit_code` (an OOM kill is 137, a
    /// crash anything else): a running container exits and a `die` event is sent. A
    /// container that is not running, or unknown, is left alone.
    pub fn kill(&self, id: &str, exit_code: i64) {
        self.act(|st, now| {
            if let Some(key) = st.lookup(id) {
                st.kill(key, None, exit_code, now);
            }
        });
    }

    /// How many containers exist (created, running or exited; not removed).
    pub fn container_count(&self) -> usize {
        self.inner.lock().len()
    }

    /// Run `f` on the state at the current time, then make sure the ticker knows about
    /// new deadlines.
    fn act<T>(&self, f: impl FnOnce(&mut State, Stamp) -> T) -> T {
        let mut st = self.inner.lock();
        let out = f(&mut st, self.inner.clock.now());
        let wake = std::mem::take(&mut st.wake_ticker);
        let pending = st.next_deadline().is_some();
        drop(st);
        if pending {
            self.ensure_ticker();
        }
        if wake {
            self.inner.wake.notify_one();
        }
        out
    }

    /// Spawn the ticker unless it runs (it may have died with an earlier tokio runtime).
    fn ensure_ticker(&self) {
        let mut ticker = self
            .inner
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if ticker.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let inner = Arc::downgrade(&self.inner);
                let wake = self.inner.wake.clone();
                *ticker = Some(handle.spawn(tick(inner, wake)));
            }
            Err(_) => tracing::debug!("no tokio runtime: simulated deadlines send no events"),
        }
    }

    fn key(st: &State, id: &str) -> Result<u64> {
        st.lookup(id)
            .ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))
    }
}

/// The ticker: fire due deadlines, sleep until the next one (or a wake-up), until the
/// runtime is gone.
async fn tick(inner: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let next = {
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let mut st = inner.lock();
            st.fire_due(inner.clock.now());
            st.wake_ticker = false;
            st.next_deadline().map(|at| inner.clock.instant(at))
        };
        match next {
            Some(at) => {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

/// `pull access denied`, as Docker words a missing repository.
fn pull_denied(image: &str) -> RuntimeError {
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    let repository = match image.split_once('@') {
        Some((repository, _)) => repository,
        None => match image[name_start..].rfind(':') {
            Some(i) => &image[..name_start + i],
            None => image,
        },
    };
    RuntimeError::Pull {
        image: image.to_string(),
        message: format!(
            "pull access denied for {repository}, repository does not exist or may require \
             'docker login': denied: requested access to the resource is denied"
        ),
    }
}

#[async_trait]
impl Runtime for SimRuntime {
    async fn image_exists(&self, image: &str) -> Result<bool> {
        Ok(!image_missing(image))
    }

    async fn pull_image(&self, image: &str, _auth: Option<&RegistryAuth>) -> Result<()> {
        if image_missing(image) {
            return Err(pull_denied(image));
        }
        Ok(())
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        self.act(|st, _| st.create(spec)).map(container_id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.act(|st, now| st.start(Self::key(st, id)?, now))
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let (key, stop) = self.act(|st, now| {
            let key = Self::key(st, id)?;
            Ok::<_, RuntimeError>((key, st.stop(key, now)?))
        })?;
        if let Stop::Ignored(run) = stop {
            tokio::time::sleep(timeout).await;
            self.act(|st, now| st.kill(key, Some(run), 137, now));
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        self.act(|st, now| {
            if let Some(key) = st.lookup(id) {
                st.remove(key, now);
            }
        });
        Ok(())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerState> {
        let clock = &self.inner.clock;
        self.act(|st, _| {
            let key = Self::key(st, id)?;
            st.inspect(key, clock)
                .ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))
        })
    }

    async fn list_containers(
        &self,
        labels: &[(String, Option<String>)],
    ) -> Result<Vec<ContainerState>> {
        let clock = &self.inner.clock;
        Ok(self.act(|st, _| st.list(labels, clock)))
    }

    async fn events(&self) -> Result<BoxStream<'static, Result<ContainerEvent>>> {
        let rx = self.inner.lock().subscribe();
        let stream = futures::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Ok(event) => Some((Ok(event), Some(rx))),
                Err(broadcast::error::RecvError::Lagged(missed)) => Some((
                    Err(RuntimeError::Unavailable(format!(
                        "simulated event stream lagged: {missed} events missed"
                    ))),
                    None,
                )),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        Ok(Box::pin(stream))
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.act(|st, _| st.ensure_network(spec))
    }

    async fn ensure_pause_image(&self) -> Result<String> {
        Ok(PAUSE_IMAGE.to_string())
    }

    async fn logs(
        &self,
        id: &str,
        since_seconds: i64,
    ) -> Result<BoxStream<'static, Result<LogEntry>>> {
        self.follow_logs(id, since_seconds)
    }

    async fn stats(&self, id: &str) -> Result<StatsSample> {
        self.sample(id)
    }

    async fn inspect_volume(&self, name: &str) -> Result<Option<VolumeInfo>> {
        Ok(self.volumes().get(name).cloned())
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<()> {
        self.volumes()
            .entry(spec.name.clone())
            .or_insert_with(|| VolumeInfo {
                name: spec.name.clone(),
                driver: spec.driver.clone().unwrap_or_else(|| "local".into()),
                driver_opts: spec.driver_opts.clone(),
                labels: spec.labels.clone(),
            });
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        self.volumes().remove(name);
        Ok(())
    }
}
