//! Test doubles: an in-memory [`Runtime`] that behaves like Docker as far as the agent can
//! tell (ids, labels, dynamic ports, exits, health, events), a scripted fake server, and
//! builders for tasks and definitions. The fake server is in `api`, the fakes' log and
//! stats parts in `logs`.

mod api;
mod logs;
pub(crate) use api::FakeApi;
pub(crate) use logs::{FakeLogServer, FakeLogs};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_model::agent_protocol::DesiredTask;
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::task_definition::TaskDefinition;
use flotilla_runtime::{
    ContainerEvent, ContainerSpec, ContainerState, Health, NetworkMode, NetworkSpec, PortBinding,
    Result, Runtime, RuntimeError,
};
use futures::stream::BoxStream;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::spec::LABEL_CONTAINER_NAME;

/// What a container does when started.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OnStart {
    Run,
    Exit(i64),
}

#[derive(Default)]
struct FakeState {
    images: BTreeSet<String>,
    registry: BTreeSet<String>,
    on_start: BTreeMap<String, OnStart>,
    containers: BTreeMap<String, (ContainerSpec, ContainerState)>,
    next_id: u64,
    next_port: u16,
    calls: Vec<String>,
    /// Stats answers by container id.
    stats: BTreeMap<String, flotilla_runtime::StatsSample>,
    /// Named volumes.
    volumes: BTreeMap<String, flotilla_runtime::VolumeInfo>,
}

pub(crate) struct FakeRuntime {
    state: Mutex<FakeState>,
    events: broadcast::Sender<ContainerEvent>,
    /// What containers print.
    pub logs: FakeLogs,
}

impl FakeRuntime {
    pub(crate) fn new() -> FakeRuntime {
        FakeRuntime {
            state: Mutex::new(FakeState {
                next_port: 32768,
                ..Default::default()
            }),
            events: broadcast::channel(1024).0,
            logs: FakeLogs::default(),
        }
    }

    /// What `stats` answers for container `name` from now on.
    pub(crate) fn set_stats(&self, name: &str, sample: flotilla_runtime::StatsSample) {
        let id = self.by_name(name).expect("container").1.id;
        self.lock().stats.insert(id, sample);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap()
    }

    pub(crate) fn add_image(&self, image: &str) {
        self.lock().images.insert(image.into());
    }

    pub(crate) fn add_registry_image(&self, image: &str) {
        self.lock().registry.insert(image.into());
    }

    pub(crate) fn on_start(&self, image: &str, what: OnStart) {
        self.lock().on_start.insert(image.into(), what);
    }

    /// Calls made, as `create <name>`, `start <id>`, `stop <id>`, `remove <id>`, `pull <image>`.
    pub(crate) fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Every container, with its spec.
    pub(crate) fn containers(&self) -> Vec<(ContainerSpec, ContainerState)> {
        self.lock().containers.values().cloned().collect()
    }

    /// The container of task container `name` (the label).
    pub(crate) fn by_name(&self, name: &str) -> Option<(ContainerSpec, ContainerState)> {
        self.containers()
            .into_iter()
            .find(|(_, s)| s.labels.get(LABEL_CONTAINER_NAME).map(String::as_str) == Some(name))
    }

    fn emit(&self, id: &str, action: &str) {
        let _ = self.events.send(ContainerEvent {
            id: id.into(),
            action: action.into(),
        });
    }

    /// The process of container `name` exits with `code`.
    pub(crate) fn exit(&self, name: &str, code: i64) {
        let Some((_, s)) = self.by_name(name) else {
            panic!("no container {name}")
        };
        {
            let mut st = self.lock();
            let c = &mut st.containers.get_mut(&s.id).unwrap().1;
            c.running = false;
            c.exited = true;
            c.exit_code = Some(code);
        }
        self.logs.end(&s.id);
        self.emit(&s.id, "die");
    }

    pub(crate) fn set_health(&self, name: &str, health: Health) {
        let Some((_, s)) = self.by_name(name) else {
            panic!("no container {name}")
        };
        self.lock().containers.get_mut(&s.id).unwrap().1.health = health;
        self.emit(&s.id, "health_status: healthy");
    }

    /// Put a container in place as if a previous agent had created it.
    pub(crate) fn insert(&self, spec: ContainerSpec, running: bool) -> String {
        let mut st = self.lock();
        st.next_id += 1;
        let id = format!("c{:04}", st.next_id);
        let state = ContainerState {
            id: id.clone(),
            name: spec.name.clone(),
            image: spec.image.clone(),
            labels: spec.labels.clone(),
            created: !running,
            running,
            exited: false,
            exit_code: None,
            error: None,
            oom_killed: false,
            health: Health::None,
            ports: vec![],
            ip_addresses: BTreeMap::new(),
            started_at: None,
            finished_at: None,
            pid: None,
        };
        st.containers.insert(id.clone(), (spec, state));
        id
    }
}

#[async_trait]
impl Runtime for FakeRuntime {
    async fn image_exists(&self, image: &str) -> Result<bool> {
        Ok(self.lock().images.contains(image))
    }

    async fn pull_image(
        &self,
        image: &str,
        _auth: Option<&flotilla_runtime::RegistryAuth>,
    ) -> Result<()> {
        let mut st = self.lock();
        st.calls.push(format!("pull {image}"));
        if st.registry.contains(image) {
            st.images.insert(image.into());
            Ok(())
        } else {
            Err(RuntimeError::Pull {
                image: image.into(),
                message: format!("pull access denied for {image}, repository does not exist"),
            })
        }
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        if !self.lock().images.contains(&spec.image) {
            return Err(RuntimeError::NotFound(format!("image {}", spec.image)));
        }
        let id = self.insert(spec.clone(), false);
        self.lock().calls.push(format!(
            "create {}",
            spec.labels
                .get(LABEL_CONTAINER_NAME)
                .cloned()
                .unwrap_or_default()
        ));
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let exit = {
            let mut st = self.lock();
            st.calls.push(format!("start {id}"));
            let on_start = {
                let (spec, _) = st
                    .containers
                    .get(id)
                    .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
                st.on_start
                    .get(&spec.image)
                    .copied()
                    .unwrap_or(OnStart::Run)
            };
            let mut port = st.next_port;
            let (spec, c) = st
                .containers
                .get_mut(id)
                .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
            c.created = false;
            c.health = if spec.health_check.is_some() {
                Health::Starting
            } else {
                Health::None
            };
            if spec.network == Some(NetworkMode::Bridge) {
                c.ports = spec
                    .ports
                    .iter()
                    .map(|p| {
                        let host_port = if p.host_port == 0 {
                            port += 1;
                            port - 1
                        } else {
                            p.host_port
                        };
                        PortBinding {
                            host_port,
                            host_ip: "0.0.0.0".into(),
                            ..p.clone()
                        }
                    })
                    .collect();
            }
            if let Some(NetworkMode::Network { name, .. }) = &spec.network {
                c.ip_addresses.insert(name.clone(), "172.31.240.2".into());
            }
            let exit = match on_start {
                OnStart::Run => {
                    c.running = true;
                    false
                }
                OnStart::Exit(code) => {
                    c.exited = true;
                    c.exit_code = Some(code);
                    true
                }
            };
            st.next_port = port;
            exit
        };
        self.emit(id, "start");
        if exit {
            self.logs.end(id);
            self.emit(id, "die");
        }
        Ok(())
    }

    async fn stop_container(&self, id: &str, _timeout: Duration) -> Result<()> {
        // The process takes a moment to go after SIGTERM.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let died = {
            let mut st = self.lock();
            st.calls.push(format!("stop {id}"));
            let (_, c) = st
                .containers
                .get_mut(id)
                .ok_or_else(|| RuntimeError::NotFound(id.into()))?;
            let was_running = c.running;
            if c.running {
                c.running = false;
                c.exited = true;
                c.exit_code = Some(143);
            }
            was_running
        };
        if died {
            self.logs.end(id);
            self.emit(id, "die");
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let mut st = self.lock();
        st.calls.push(format!("remove {id}"));
        st.containers.remove(id);
        drop(st);
        self.logs.end(id);
        Ok(())
    }

    async fn inspect_container(&self, id: &str) -> Result<ContainerState> {
        self.lock()
            .containers
            .get(id)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| RuntimeError::NotFound(id.into()))
    }

    async fn list_containers(
        &self,
        labels: &[(String, Option<String>)],
    ) -> Result<Vec<ContainerState>> {
        Ok(self
            .lock()
            .containers
            .values()
            .filter(|(_, s)| {
                labels.iter().all(|(k, v)| {
                    s.labels
                        .get(k)
                        .is_some_and(|have| v.as_ref().is_none_or(|v| v == have))
                })
            })
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn events(&self) -> Result<BoxStream<'static, Result<ContainerEvent>>> {
        let rx = self.events.subscribe();
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(e) => return Some((Ok(e), rx)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })))
    }

    async fn ensure_network(&self, spec: &NetworkSpec) -> Result<()> {
        self.lock().calls.push(format!("network {}", spec.name));
        Ok(())
    }

    async fn ensure_pause_image(&self) -> Result<String> {
        self.add_image("flotilla/pause:latest");
        Ok("flotilla/pause:latest".into())
    }

    async fn logs(
        &self,
        id: &str,
        since_seconds: i64,
    ) -> Result<BoxStream<'static, Result<flotilla_runtime::LogEntry>>> {
        if !self.lock().containers.contains_key(id) {
            return Err(RuntimeError::NotFound(id.into()));
        }
        Ok(self.logs.follow(id, since_seconds))
    }

    async fn stats(&self, id: &str) -> Result<flotilla_runtime::StatsSample> {
        self.lock()
            .stats
            .get(id)
            .copied()
            .ok_or_else(|| RuntimeError::NotFound(id.into()))
    }

    async fn inspect_volume(&self, name: &str) -> Result<Option<flotilla_runtime::VolumeInfo>> {
        Ok(self.lock().volumes.get(name).cloned())
    }

    async fn create_volume(&self, spec: &flotilla_runtime::VolumeSpec) -> Result<()> {
        let mut st = self.lock();
        st.calls.push(format!("create volume {}", spec.name));
        st.volumes
            .entry(spec.name.clone())
            .or_insert_with(|| flotilla_runtime::VolumeInfo {
                name: spec.name.clone(),
                driver: spec.driver.clone().unwrap_or_else(|| "local".into()),
                driver_opts: spec.driver_opts.clone(),
                labels: spec.labels.clone(),
            });
        Ok(())
    }

    async fn remove_volume(&self, name: &str) -> Result<()> {
        let mut st = self.lock();
        st.calls.push(format!("remove volume {name}"));
        st.volumes.remove(name);
        Ok(())
    }
}

/// A task definition from its JSON (as DescribeTaskDefinition shows it).
pub(crate) fn definition(json: Value) -> TaskDefinition {
    serde_json::from_value(json).unwrap()
}

/// A task of `def`, desired RUNNING, as the server would send it.
pub(crate) fn desired(arn: &str, def: &TaskDefinition) -> DesiredTask {
    let task = serde_json::json!({
        "taskArn": arn,
        "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/default",
        "taskDefinitionArn": def.task_definition_arn.clone().unwrap_or_default(),
        "lastStatus": "PENDING",
        "desiredStatus": "RUNNING",
        "launchType": "EC2",
        "containers": [],
        "healthStatus": "UNKNOWN",
        "createdAt": 1700000000.0,
        "version": 1,
    });
    let task: TaskRecord = serde_json::from_value(task).unwrap();
    DesiredTask {
        task,
        definition: def.clone(),
    }
}

/// A `desired` task with another desired or last status.
pub(crate) fn with_status(
    mut t: DesiredTask,
    desired: TaskStatus,
    last: TaskStatus,
) -> DesiredTask {
    t.task.desired_status = desired;
    t.task.last_status = last;
    t
}
