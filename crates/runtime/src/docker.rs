//! The Docker Engine driver: [`DockerRuntime`] implements [`Runtime`] over bollard.
//!
//! This module owns the connection (local socket, API version negotiated down to what the
//! engine speaks, so Docker 20.10 / API 1.41 works with a newer bollard) and the thin
//! `Runtime` impl; the translations live in parts: `spec` (ContainerSpec → create body),
//! `inspect` (inspect answer → ContainerState), `error` (bollard errors → RuntimeError),
//! `image` (presence and pulls), `network`, `events`, `logs` (following a container's
//! output), `stats` (one-shot CPU and memory samples), `volume` (named volumes) and `pause` (the registry-less
//! network-holder image), `exec` (commands in running containers). It knows nothing about
//! ECS tasks.

mod error;
mod events;
mod exec;
mod image;
mod inspect;
mod logs;
mod network;
mod pause;
mod spec;
mod stats;
mod volume;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use bollard::Docker;
use futures::stream::BoxStream;
use tokio::sync::Mutex;

use crate::{
    ContainerEvent, ContainerSpec, ContainerState, ExecSession, ExecSpec, LogEntry, NetworkSpec,
    RegistryAuth, Result, Runtime, StatsSample, VolumeInfo, VolumeSpec,
};
use error::{from_bollard, is_not_found};
pub use pause::PAUSE_IMAGE;

/// The engine's socket when `DOCKER_HOST` names none.
const DEFAULT_SOCKET: &str = "unix:///var/run/docker.sock";
/// How long one request may wait for the engine's answer (a stop adds its own timeout).
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// Slack added to a stop's own timeout before the HTTP request itself gives up.
const STOP_REQUEST_SLACK: Duration = Duration::from_secs(30);

/// The Docker Engine runtime. Cheap to share behind an `Arc`; every method may be called
/// concurrently.
pub struct DockerRuntime {
    docker: Docker,
    /// Serializes `ensure_network` in this process (Docker itself accepts duplicate names).
    network_lock: Mutex<()>,
    /// Serializes `ensure_pause_image` so concurrent tasks import the image once.
    pause_lock: Mutex<()>,
}

// === impl DockerRuntime ===

impl DockerRuntime {
    /// Connect to the local engine (`DOCKER_HOST` when it names a `unix://` socket, else
    /// `/var/run/docker.sock`) and negotiate the API version; `Unavailable` when the
    /// engine cannot be reached.
    pub async fn connect() -> Result<Self> {
        let socket = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| host.starts_with("unix://"))
            .unwrap_or_else(|| DEFAULT_SOCKET.to_string());
        Self::connect_socket(&socket).await
    }

    /// Connect to the engine listening on the Unix socket `path` (`unix://` optional).
    pub async fn connect_socket(path: &str) -> Result<Self> {
        let docker =
            Docker::connect_with_socket(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
                .map_err(|e| unavailable_engine(path, &e))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| unavailable_engine(path, &e))?;
        tracing::debug!(socket = %path, api = %docker.client_version(), "connected to Docker");
        Ok(DockerRuntime {
            docker,
            network_lock: Mutex::new(()),
            pause_lock: Mutex::new(()),
        })
    }

    /// The Docker API version in use after negotiation, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.docker.client_version().to_string()
    }

    /// The IPv4 gateway of Docker's default `bridge` network (the host's address on
    /// `docker0`, which containers on every bridge network reach), if it has one.
    pub async fn bridge_gateway(&self) -> Result<Option<std::net::Ipv4Addr>> {
        network::gateway(&self.docker, "bridge").await
    }
}

fn unavailable_engine(place: &str, err: &bollard::errors::Error) -> crate::RuntimeError {
    crate::RuntimeError::Unavailable(format!("cannot reach Docker Engine at {place}: {err}"))
}

/// Whole seconds for Docker's stop timeouts, rounding a fraction up.
fn whole_seconds(d: Duration) -> i64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Docker's label filter: `key` or `key=value` for each wanted label.
fn label_filters(labels: &[(String, Option<String>)]) -> HashMap<String, Vec<String>> {
    let wanted = labels
        .iter()
        .map(|(key, value)| match value {
            Some(value) => format!("{key}={value}"),
            None => key.clone(),
        })
        .collect::<Vec<_>>();
    let mut filters = HashMap::new();
    if !wanted.is_empty() {
        filters.insert("label".to_string(), wanted);
    }
    filters
}

#[async_trait]
impl Runtime for DockerRuntime {
    async fn image_exists(&self, image: &str) -> Result<bool> {
        image::exists(&self.docker, image).await
    }

    async fn pull_image(&self, image: &str, auth: Option<&RegistryAuth>) -> Result<()> {
        image::pull(&self.docker, image, auth).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let created = self
            .docker
            .create_container(Some(options), spec::create_body(spec))
            .await
            .map_err(from_bollard)?;
        for warning in created.warnings.iter().filter(|w| !w.is_empty()) {
            tracing::warn!(container = %spec.name, %warning, "Docker warning on create");
        }
        Ok(created.id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        self.docker
            .start_container(id, None)
            .await
            .map_err(from_bollard)
    }

    async fn stop_container(&self, id: &str, timeout: Duration) -> Result<()> {
        let secs = whole_seconds(timeout);
        let options = StopContainerOptionsBuilder::new()
            .t(i32::try_from(secs).unwrap_or(i32::MAX))
            .build();
        // Docker answers only once the container is down, which may take the whole timeout.
        let docker = self
            .docker
            .clone()
            .with_timeout(self.docker.timeout() + timeout + STOP_REQUEST_SLACK);
        // 304 (already stopped) counts as success in bollard.
        docker
            .stop_container(id, Some(options))
            .await
            .map_err(from_bollard)
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) || error::is_removal_in_progress(&e) => Ok(()),
            Err(e) => Err(from_bollard(e)),
        }
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerState> {
        let answer = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(from_bollard)?;
        Ok(inspect::container_state(answer))
    }

    async fn list_containers(
        &self,
        labels: &[(String, Option<String>)],
    ) -> Result<Vec<ContainerState>> {
        let options = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&label_filters(labels))
            .build();
        let summaries = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(from_bollard)?;
        let mut states = Vec::with_capacity(summaries.len());
        for id in summaries.into_iter().filter_map(|s| s.id) {
            match self.inspect_container(&id).await {
                Ok(state) => states.push(state),
                // Removed between the listing and the inspection: no longer there.
                Err(crate::RuntimeError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(states)
    }

    async fn events(&self) -> Result<BoxStream<'static, Result<ContainerEvent>>> {
        Ok(events::container_events(&self.docker))
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        let _serial = self.network_lock.lock().await;
        network::ensure(&self.docker, spec).await
    }

    async fn ensure_pause_image(&self) -> Result<String> {
        let _serial = self.pause_lock.lock().await;
        pause::ensure_image(&self.docker).await
    }

    async fn logs(
        &self,
        id: &str,
        since_seconds: i64,
    ) -> Result<BoxStream<'static, Result<LogEntry>>> {
        Ok(logs::follow(&self.docker, id, since_seconds))
    }

    async fn stats(&self, id: &str) -> Result<StatsSample> {
        stats::sample(&self.docker, id).await
    }

    async fn inspect_volume(&self, name: &str) -> Result<Option<VolumeInfo>> {
        volume::inspect(&self.docker, name).await
    }

    async fn create_volume(&self, spec: &VolumeSpec) -> Result<()> {
        volume::create(&self.docker, spec).await
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        volume::remove(&self.docker, name).await
    }

    fn runs_commands(&self) -> bool {
        true
    }

    async fn exec(&self, id: &str, spec: &ExecSpec) -> Result<ExecSession> {
        exec::start(&self.docker, id, spec).await
    }

    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<()> {
        exec::resize(&self.docker, exec_id, cols, rows).await
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>> {
        exec::exit_code(&self.docker, exec_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unreachable_engine_is_unavailable() {
        let missing = "unix:///nonexistent/flotilla/docker.sock";
        match DockerRuntime::connect_socket(missing).await {
            Err(crate::RuntimeError::Unavailable(message)) => {
                assert!(
                    message.contains("/nonexistent/flotilla/docker.sock"),
                    "{message}"
                )
            }
            Err(other) => panic!("expected Unavailable, got {other:?}"),
            Ok(_) => panic!("connected to a missing socket"),
        }
    }

    #[test]
    fn stop_timeouts_round_up_to_whole_seconds() {
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(whole_seconds(Duration::from_secs(30)), 30);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
    }

    #[test]
    fn label_filters_spell_key_or_key_value() {
        let filters = label_filters(&[
            ("a".to_string(), Some("1".to_string())),
            ("b".to_string(), None),
        ]);
        assert_eq!(filters["label"], vec!["a=1".to_string(), "b".to_string()]);
        assert!(label_filters(&[]).is_empty());
    }
}
