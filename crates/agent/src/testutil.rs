//! Test doubles: an in-memory [`Runtime`] that behaves like Docker as far as the agent can
//! tell (ids, labels, dynamic ports, exits, health, events), a scripted fake server, and
//! builders for tasks and definitions.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use flotilla_aws::client::CallError;
use flotilla_model::agent_protocol::{
    DesiredTask, PollRequest, PollResponse, SubmitRequest, SubmitResponse, SubmitResult,
};
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::task_definition::TaskDefinition;
use flotilla_runtime::{
    ContainerEvent, ContainerSpec, ContainerState, Health, NetworkMode, NetworkSpec, PortBinding,
    Result, Runtime, RuntimeError,
};
use futures::stream::BoxStream;
use serde_json::Value;
use tokio::sync::broadcast;

use crate::api::AgentApi;
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
}

pub(crate) struct FakeRuntime {
    state: Mutex<FakeState>,
    events: broadcast::Sender<ContainerEvent>,
}

impl FakeRuntime {
    pub(crate) fn new() -> FakeRuntime {
        FakeRuntime {
            state: Mutex::new(FakeState {
                next_port: 32768,
                ..Default::default()
            }),
            events: broadcast::channel(1024).0,
        }
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
            self.emit(id, "die");
        }
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let mut st = self.lock();
        st.calls.push(format!("remove {id}"));
        st.containers.remove(id);
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
}

/// A scripted server.
#[derive(Default)]
pub(crate) struct FakeApi {
    pub registrations: Mutex<Vec<Value>>,
    pub polls: Mutex<VecDeque<PollResponse>>,
    pub poll_requests: Mutex<Vec<PollRequest>>,
    pub submits: Mutex<Vec<SubmitRequest>>,
    /// Fail this many submit calls with a transport error first.
    pub fail_submits: AtomicUsize,
    /// Answer reports of these tasks as not accepted.
    pub reject: Mutex<BTreeSet<String>>,
    /// Refuse the next registrations with this error code (as a revoked key is).
    pub refuse_register: Mutex<Option<String>>,
    /// The join requests, and the access key ids the agent switched to.
    pub joins: Mutex<Vec<Value>>,
    pub keys_used: Mutex<Vec<String>>,
}

impl FakeApi {
    /// Every report delivered (accepted), in order.
    pub(crate) fn delivered(&self) -> Vec<flotilla_model::task::TaskReport> {
        let reject = self.reject.lock().unwrap().clone();
        self.submits
            .lock()
            .unwrap()
            .iter()
            .flat_map(|s| s.reports.clone())
            .filter(|r| !reject.contains(&r.task_arn))
            .collect()
    }
}

#[async_trait]
impl AgentApi for FakeApi {
    async fn register(&self, request: &Value) -> std::result::Result<String, CallError> {
        if let Some(code) = self.refuse_register.lock().unwrap().clone() {
            return Err(CallError::Service(flotilla_aws::AwsError::client(
                code, "refused",
            )));
        }
        let mut regs = self.registrations.lock().unwrap();
        regs.push(request.clone());
        Ok(request["containerInstanceArn"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "arn:aws:ecs:us-east-1:000000000000:container-instance/default/{}",
                    regs.len()
                )
            }))
    }

    async fn join(
        &self,
        token: &flotilla_model::agent_identity::JoinToken,
        request: &Value,
    ) -> std::result::Result<flotilla_model::agent_protocol::Joined, CallError> {
        let mut joins = self.joins.lock().unwrap();
        joins.push(request.clone());
        let n = joins.len();
        Ok(flotilla_model::agent_protocol::Joined {
            container_instance_arn: format!(
                "arn:aws:ecs:us-east-1:000000000000:container-instance/default/joined-{n}"
            ),
            access_key_id: format!("FAK{n}-{}", token.token_id),
            secret_access_key: "s".repeat(40),
        })
    }

    fn use_key(&self, key: &crate::checkpoint::AgentKey) {
        self.keys_used
            .lock()
            .unwrap()
            .push(key.access_key_id.clone());
    }

    async fn poll(&self, request: &PollRequest) -> std::result::Result<PollResponse, CallError> {
        self.poll_requests.lock().unwrap().push(request.clone());
        let next = self.polls.lock().unwrap().pop_front();
        match next {
            Some(answer) => Ok(answer),
            None => {
                tokio::time::sleep(Duration::from_millis(request.wait_millis)).await;
                Ok(PollResponse {
                    revision: request.since,
                    full: false,
                    tasks: vec![],
                    heartbeat_ttl_millis: 30_000,
                    instance_status: "ACTIVE".into(),
                    store_id: String::new(),
                    registry: None,
                })
            }
        }
    }

    async fn submit(
        &self,
        request: &SubmitRequest,
    ) -> std::result::Result<SubmitResponse, CallError> {
        if self.fail_submits.load(Ordering::SeqCst) > 0 {
            self.fail_submits.fetch_sub(1, Ordering::SeqCst);
            return Err(CallError::Transport {
                endpoint: "fake".into(),
                message: "connection refused".into(),
            });
        }
        self.submits.lock().unwrap().push(request.clone());
        let reject = self.reject.lock().unwrap();
        Ok(SubmitResponse {
            results: request
                .reports
                .iter()
                .map(|r| SubmitResult {
                    task_arn: r.task_arn.clone(),
                    accepted: !reject.contains(&r.task_arn),
                    error: reject.contains(&r.task_arn).then(|| "conflict".into()),
                })
                .collect(),
        })
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
