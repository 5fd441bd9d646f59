//! Bringing a task up: pull missing images, create the task's volumes, set up the pause
//! container (awsvpc's network, `task` PID and IPC namespaces), restart containers their
//! `restartPolicy` restarts, then create and start each container whose dependencies are met, in
//! dependency order. Called after every change; each step is skipped once done, so
//! calling it again only does what became possible (a dependency turned healthy, an init
//! container exited 0).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use flotilla_model::task::{ContainerStatus, StopCode, TaskStatus};
use flotilla_runtime::{RegistryAuth, RuntimeError};

use super::{is_awsvpc, Pause, TaskActor};
use crate::deps::{self, Readiness};

impl TaskActor {
    /// Do whatever can be done now to bring the task up.
    pub(super) async fn advance(&mut self) {
        if self.known.get() >= TaskStatus::Stopping {
            return;
        }
        if let Some(why) = self.refused.take() {
            for c in self
                .containers
                .iter_mut()
                .filter(|c| c.runtime_id.is_none())
            {
                c.reason = Some(why.clone());
                c.advance(ContainerStatus::Stopped);
            }
            self.fail(StopCode::TaskFailedToStart, why);
            return;
        }
        if !self.secrets_ready && !self.read_secrets().await {
            return;
        }
        if !self.images_ready && !self.pull_images().await {
            return;
        }
        if !self.volumes_ready {
            if !self.ensure_volumes().await {
                return;
            }
            self.volumes_ready = true;
        }
        if self.spec.needs_pause() && self.pause.is_none() && !self.start_pause().await {
            return;
        }
        if !self.firewalled && self.network.is_some() && !self.enforce_firewall().await {
            return;
        }
        self.restart_exited().await;
        self.start_ready().await;
        let essentials_running = self
            .containers
            .iter()
            .filter(|c| c.def.is_essential())
            .all(|c| c.status == ContainerStatus::Running);
        if essentials_running && self.own_stop.is_none() && self.known.advance(TaskStatus::Running)
        {
            self.started_at.get_or_insert_with(chrono::Utc::now);
        }
    }

    /// Pull the images of containers not created yet; false (and the task failing) when a
    /// pull fails.
    async fn pull_images(&mut self) -> bool {
        let images: BTreeSet<String> = self
            .containers
            .iter()
            .filter(|c| c.runtime_id.is_none())
            .filter_map(|c| c.def.image.clone())
            .collect();
        // Private registries' logins from `repositoryCredentials`, by image.
        let logins: BTreeMap<String, RegistryAuth> = self
            .containers
            .iter()
            .filter_map(|c| {
                let image = c.def.image.clone()?;
                let (username, password) = self.spec.registry_auth.get(c.name())?.clone();
                let server = image.split('/').next().unwrap_or_default().to_string();
                Some((
                    image,
                    RegistryAuth {
                        server,
                        username,
                        password,
                    },
                ))
            })
            .collect();
        let runtime = self.ctx.runtime.clone();
        // ECS reports the image phase even when every image is cached (a pull that finds
        // the image present is immediate), so the times are set either way.
        if !images.is_empty() {
            self.pull_started_at.get_or_insert_with(chrono::Utc::now);
        }
        for image in images {
            let present = match runtime.image_exists(&image).await {
                Ok(present) => present,
                Err(e) => return self.pull_failed(&e),
            };
            // An image of the server's registry is pulled even when present, as ECS's
            // default pull behaviour does, so a moved tag is followed; a cached copy
            // stands in when that pull fails.
            let auth = logins
                .get(&image)
                .cloned()
                .or_else(|| self.ctx.registry_auth(&image));
            if present && auth.is_none() {
                continue;
            }
            self.publish();
            match runtime.pull_image(&image, auth.as_ref()).await {
                Ok(()) => {}
                Err(e) if present => {
                    tracing::warn!(%image, error = %e, "pull failed; using the cached image");
                }
                Err(e) => {
                    self.pull_stopped_at = Some(chrono::Utc::now());
                    return self.pull_failed(&e);
                }
            }
        }
        if self.pull_started_at.is_some() && self.pull_stopped_at.is_none() {
            self.pull_stopped_at = Some(chrono::Utc::now());
        }
        self.images_ready = true;
        true
    }

    fn pull_failed(&mut self, e: &RuntimeError) -> bool {
        let message = match e {
            RuntimeError::Pull { message, .. } => message.clone(),
            other => other.to_string(),
        };
        self.fail_to_start(format!("CannotPullContainerError: {message}"));
        false
    }

    /// The task cannot start: its containers not created yet stop with `reason`, and so
    /// does the task (`TaskFailedToStart`).
    pub(super) fn fail_to_start(&mut self, reason: String) {
        for c in self
            .containers
            .iter_mut()
            .filter(|c| c.runtime_id.is_none())
        {
            c.reason = Some(reason.clone());
            c.advance(ContainerStatus::Stopped);
        }
        self.fail(StopCode::TaskFailedToStart, reason);
    }

    /// Start the pause container (awsvpc: on its network, which is made sure to exist).
    async fn start_pause(&mut self) -> bool {
        let runtime = self.ctx.runtime.clone();
        let defs: Vec<_> = self.containers.iter().map(|c| c.def.clone()).collect();
        let awsvpc = is_awsvpc(&self.spec);
        let network = self.task_network_spec();
        let ipv4 = self.network.as_ref().map(|n| n.address.to_string());
        let result = async {
            if awsvpc {
                if self.network.is_some() {
                    crate::hostnet::ensure_host_rules().await;
                }
                runtime.ensure_network(&network).await?;
            }
            let image = runtime.ensure_pause_image().await?;
            let spec = self.spec.pause_spec(&defs, &image, &network.name, ipv4);
            let id = runtime.create_container(&spec).await?;
            // Record it before starting, so a failed start still gets cleaned up.
            self.pause = Some(Pause {
                id: id.clone(),
                ip: None,
                pid: None,
            });
            self.claim(&id);
            runtime.start_container(&id).await?;
            runtime.inspect_container(&id).await
        }
        .await;
        match result {
            Ok(state) => {
                self.spec.pause_id = Some(state.id.clone());
                self.apply_pause_state(&state);
                true
            }
            Err(e) => {
                let what = if awsvpc {
                    "the task network"
                } else {
                    "the task's PID/IPC namespaces"
                };
                let reason = format!("ResourceInitializationError: failed to set up {what}: {e}");
                self.fail(StopCode::TaskFailedToStart, reason);
                false
            }
        }
    }

    /// Enforce the task's security groups in its namespace before any of its containers
    /// starts (and again, for an adopted task, after an agent restart: a no-op when the
    /// namespace holds the same rules). A new task whose rules cannot be enforced fails
    /// rather than run unprotected; an adopted one keeps the rules its namespace holds.
    async fn enforce_firewall(&mut self) -> bool {
        let (Some(n), Some(pid)) = (&self.network, self.pause.as_ref().and_then(|p| p.pid)) else {
            let reason = "ResourceInitializationError: the task's network namespace is gone";
            self.fail(StopCode::TaskFailedToStart, reason.into());
            return false;
        };
        let address = n.address;
        let keeper = self.ctx.firewall.clone();
        match keeper.enforce(&self.task_arn, pid, address).await {
            Ok(()) => {
                self.firewalled = true;
                true
            }
            Err(e) if self.containers.iter().any(|c| c.started) => {
                tracing::warn!(task = %self.task_arn, error = %e, "could not check the task's security groups");
                self.firewalled = true;
                true
            }
            Err(e) => {
                let reason =
                    format!("ResourceInitializationError: failed to enforce security groups: {e}");
                self.fail(StopCode::TaskFailedToStart, reason);
                false
            }
        }
    }

    /// Create and start every container whose dependencies are met, in start order.
    async fn start_ready(&mut self) {
        if let Some(p) = &self.pause {
            self.spec.pause_id = Some(p.id.clone());
        }
        let order = self.order.clone();
        for i in order {
            if self.own_stop.is_some() {
                return;
            }
            let c = &self.containers[i];
            if c.started || c.status == ContainerStatus::Stopped {
                continue;
            }
            let observed = |name: &str| {
                self.containers
                    .iter()
                    .find(|o| o.name() == name)
                    .map(|o| o.observed())
            };
            match deps::readiness(&c.def, observed) {
                Readiness::Waiting => {
                    let since = *self.containers[i]
                        .waiting_since
                        .get_or_insert_with(tokio::time::Instant::now);
                    let Some(timeout) = start_timeout(&self.containers[i].def) else {
                        continue;
                    };
                    if since.elapsed() < timeout {
                        continue;
                    }
                    let reason = format!(
                        "DependencyConditionNotMet: the dependencies of container {} were not                          met within its startTimeout of {} s",
                        self.containers[i].name(),
                        timeout.as_secs()
                    );
                    self.containers[i].reason = Some(reason.clone());
                    self.containers[i].advance(ContainerStatus::Stopped);
                    self.fail(StopCode::TaskFailedToStart, reason);
                    return;
                }
                Readiness::Never(why) => {
                    let reason = format!("DependencyConditionNotMet: {why}");
                    self.containers[i].reason = Some(reason.clone());
                    self.containers[i].advance(ContainerStatus::Stopped);
                    self.fail(StopCode::TaskFailedToStart, reason);
                    return;
                }
                Readiness::Met => {}
            }
            if let Err(reason) = self.start_container(i).await {
                self.containers[i].reason = Some(reason.clone());
                self.containers[i].advance(ContainerStatus::Stopped);
                self.fail(StopCode::TaskFailedToStart, reason);
                return;
            }
        }
    }

    /// Create (unless it exists: never a second container for one container), prepare its
    /// log stream, start container `i` and follow its log, then look at it.
    async fn start_container(&mut self, i: usize) -> Result<(), String> {
        let runtime = self.ctx.runtime.clone();
        let id = match self.containers[i].runtime_id.clone() {
            Some(id) => id,
            None => {
                self.spec.peers = self
                    .containers
                    .iter()
                    .filter_map(|c| Some((c.name().to_string(), c.runtime_id.clone()?)))
                    .collect();
                let def = &self.containers[i].def;
                let spec = self
                    .spec
                    .container_spec(def, self.spec.container_name(def.name()))
                    .map_err(|e| format!("CannotCreateContainerError: {e}"))?;
                let id = runtime
                    .create_container(&spec)
                    .await
                    .map_err(|e| format!("CannotCreateContainerError: {e}"))?;
                self.containers[i].runtime_id = Some(id.clone());
                self.claim(&id);
                self.save();
                id
            }
        };
        self.prepare_logs(i, &id).await?;
        runtime
            .start_container(&id)
            .await
            .map_err(|e| format!("CannotStartContainerError: {e}"))?;
        self.containers[i].started = true;
        self.containers[i].last_start = Some(chrono::Utc::now());
        self.follow_logs(i);
        self.observe(&id).await;
        Ok(())
    }
}

impl TaskActor {
    /// When the earliest `startTimeout` of a container waiting for its dependencies runs
    /// out.
    pub(super) fn start_deadline(&self) -> Option<tokio::time::Instant> {
        self.containers
            .iter()
            .filter(|c| !c.started && c.status != ContainerStatus::Stopped)
            .filter_map(|c| Some(c.waiting_since? + start_timeout(&c.def)?))
            .min()
    }
}

/// A container's `startTimeout`, when set.
fn start_timeout(c: &flotilla_model::task_definition::ContainerDefinition) -> Option<Duration> {
    c.start_timeout
        .and_then(|s| u64::try_from(s).ok())
        .map(Duration::from_secs)
}
