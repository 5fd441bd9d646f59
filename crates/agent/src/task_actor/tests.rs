//! The task actor against the fake runtime and server, in paused time: lifecycle, reports,
//! failures, adoption; `awslogs` containers in `logs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_model::agent_protocol::DesiredTask;
use flotilla_model::task::{ContainerStatus, HealthStatus, StopCode, TaskReport, TaskStatus};
use flotilla_runtime::{Health, NetworkMode};
use serde_json::json;
use tokio::sync::watch;

use super::*;
use crate::api::Identity;
use crate::checkpoint::Checkpoint;
use crate::reporter::ReportQueue;
use crate::testutil::{definition, desired, FakeRuntime, OnStart};

pub(crate) struct Harness {
    pub rt: Arc<FakeRuntime>,
    pub api: Arc<crate::testutil::FakeApi>,
    pub ctx: Arc<ActorContext>,
    history: Mutex<Vec<TaskReport>>,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

pub(crate) async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let rt = Arc::new(FakeRuntime::new());
    let events = crate::events::Router::new();
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(crate::events::pump(
        rt.clone(),
        events.clone(),
        Duration::from_secs(60),
        stop_rx.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1)).await;
    let api = Arc::new(crate::testutil::FakeApi::default());
    let identity = Arc::new(Identity::new(
        "default",
        "arn:aws:ecs:us-east-1:000000000000:container-instance/default/1",
    ));
    let logs = crate::logs::LogShipper::open(
        dir.path(),
        crate::logs::LogSettings {
            region: "us-east-1".into(),
            buffer_bytes: 1 << 20,
            drain_timeout: Duration::from_secs(10),
        },
        rt.clone(),
        api.clone(),
        identity.clone(),
    )
    .unwrap();
    tokio::spawn(logs.clone().run(stop_rx.clone()));
    let credentials = crate::credentials::CredentialsEndpoint::new(
        "169.254.170.2:40000".parse().unwrap(),
        "test-secret",
        api.clone(),
        identity.clone(),
    );
    let ctx = Arc::new(ActorContext {
        runtime: rt.clone(),
        reports: ReportQueue::new(),
        checkpoint: Checkpoint::open(dir.path()).unwrap(),
        identity,
        data_dir_id: "d1".into(),
        cleanup_delay: Duration::from_secs(60),
        host_policy: crate::config::HostPolicy {
            disable_privileged: true,
            ..Default::default()
        },
        awsvpc: NetworkSpec {
            name: "flotilla-awsvpc".into(),
            subnet: "172.31.240.0/20".into(),
            gateway: "172.31.240.1".into(),
            labels: Default::default(),
            options: Default::default(),
        },
        container_dns: Vec::new(),
        events,
        registry: Default::default(),
        logs,
        firewall: Arc::new(crate::firewall::Keeper::new(
            crate::firewall::HostServices::new(vec![]),
        )),
        credentials: Some(credentials),
        api: api.clone(),
    });
    Harness {
        rt,
        api,
        ctx,
        history: Mutex::new(Vec::new()),
        _dir: dir,
        _stop: stop,
    }
}

impl Harness {
    fn spawn(&self, t: DesiredTask) -> TaskHandle {
        TaskActor::spawn(self.ctx.clone(), t, Adopted::default())
    }

    fn drain(&self) {
        let mut h = self.history.lock().unwrap();
        h.extend(self.ctx.reports.take(1000).into_iter().map(|(_, r)| r));
    }

    fn history(&self, arn: &str) -> Vec<TaskReport> {
        self.drain();
        self.history
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.task_arn == arn)
            .cloned()
            .collect()
    }

    /// Wait (in paused time) until the latest report of `arn` satisfies `pred`.
    async fn until(&self, arn: &str, pred: impl Fn(&TaskReport) -> bool) -> TaskReport {
        for _ in 0..500 {
            if let Some(r) = self.history(arn).pop().filter(|r| pred(r)) {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition never met; reports: {:#?}", self.history(arn));
    }
}

const ARN: &str = "arn:aws:ecs:us-east-1:000000000000:task/default/t1";

fn status(s: TaskStatus) -> impl Fn(&TaskReport) -> bool {
    move |r| r.status == s
}

fn container<'a>(r: &'a TaskReport, name: &str) -> &'a flotilla_model::task::ContainerReport {
    r.containers.iter().find(|c| c.name == name).unwrap()
}

fn web() -> TaskDefinition {
    definition(
        json!({"family": "web", "revision": 2, "containerDefinitions": [
        {"name": "app", "image": "httpd", "portMappings": [{"containerPort": 80}]},
        {"name": "side", "image": "busybox", "essential": false}]}),
    )
}

use flotilla_model::task_definition::TaskDefinition;

mod features;
mod logs;

#[tokio::test(start_paused = true)]
async fn a_bridge_task_runs_and_reports_its_bindings() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let _actor = h.spawn(desired(ARN, &web()));
    let r = h.until(ARN, status(TaskStatus::Running)).await;
    let app = container(&r, "app");
    assert_eq!(app.status, ContainerStatus::Running);
    assert!(app.runtime_id.is_some());
    assert_eq!(app.network_bindings.len(), 1);
    let b = &app.network_bindings[0];
    assert_eq!(
        (
            b.bind_ip.as_str(),
            b.container_port,
            b.host_port,
            b.protocol.as_str()
        ),
        ("0.0.0.0", 80, 32768, "tcp")
    );
    assert!(r.started_at.is_some());
    // The image was cached: the image phase is still reported, as ECS does.
    assert!(r.pull_started_at.is_some() && r.pull_stopped_at >= r.pull_started_at);
    assert_eq!(r.stop_code, None);
    let (spec, _) = h.rt.by_name("app").unwrap();
    assert!(spec.name.starts_with("ecs-web-2-app-"));
    assert_eq!(spec.labels["com.amazonaws.ecs.task-arn"], ARN);
    assert_eq!(spec.labels["flotilla.data-dir-id"], "d1");
    let cp = h.ctx.checkpoint.snapshot();
    assert_eq!(cp.tasks[ARN].known_status, TaskStatus::Running);
    assert_eq!(cp.tasks[ARN].host_ports, vec![32768]);
    assert_eq!(
        cp.tasks[ARN].containers["app"],
        app.runtime_id.clone().unwrap()
    );
}

#[tokio::test(start_paused = true)]
async fn containers_of_a_task_with_a_task_role_are_told_where_its_credentials_are() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let mut def = web();
    def.task_role_arn = Some("arn:aws:iam::000000000000:role/app".into());
    let _actor = h.spawn(desired(ARN, &def));
    h.until(ARN, status(TaskStatus::Running)).await;
    let (spec, _) = h.rt.by_name("app").unwrap();
    let var = |k: &str| {
        spec.env
            .iter()
            .find(|(n, _)| n.as_str() == k)
            .map(|(_, v)| v.clone())
    };
    let uri = var("AWS_CONTAINER_CREDENTIALS_FULL_URI").unwrap();
    assert!(
        uri.starts_with("http://169.254.170.2:40000/v2/credentials/"),
        "{uri}"
    );
    let token = var("AWS_CONTAINER_AUTHORIZATION_TOKEN").unwrap();
    let id = uri.rsplit('/').next().unwrap();
    let endpoint = h.ctx.credentials.as_ref().unwrap();
    let creds = endpoint.credentials(id, Some(&token)).await.unwrap();
    assert!(creds.access_key_id.starts_with("ASIA"));

    // A task without a role gets nothing of the kind.
    let other = "arn:aws:ecs:us-east-1:000000000000:task/default/t2";
    let _plain = h.spawn(desired(other, &web()));
    h.until(other, status(TaskStatus::Running)).await;
    let plain =
        h.rt.containers()
            .into_iter()
            .find(|(s, _)| s.labels["com.amazonaws.ecs.task-arn"] == other)
            .unwrap();
    assert!(plain
        .0
        .env
        .iter()
        .all(|(k, _)| !k.starts_with("AWS_CONTAINER")));
}

#[tokio::test(start_paused = true)]
async fn secrets_become_the_containers_environment_or_fail_the_task() {
    use flotilla_model::agent_protocol::{ContainerSecrets, TaskSecrets};
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let def = definition(
        json!({"family": "db", "revision": 1, "containerDefinitions": [
        {"name": "app", "image": "httpd", "secrets": [
            {"name": "DB_PASSWORD", "valueFrom": "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf"}]}]}),
    );
    *h.api.secrets.lock().unwrap() = TaskSecrets {
        containers: vec![ContainerSecrets {
            name: "app".into(),
            environment: vec![("DB_PASSWORD".into(), "s3cr3t".into())],
            registry_auth: None,
        }],
        failure: None,
    };
    let _actor = h.spawn(desired(ARN, &def));
    h.until(ARN, status(TaskStatus::Running)).await;
    let (spec, _) = h.rt.by_name("app").unwrap();
    assert_eq!(
        spec.env.get("DB_PASSWORD").map(String::as_str),
        Some("s3cr3t")
    );
    // The value is in no report and not in the checkpoint.
    assert!(!format!("{:?}", h.history(ARN)).contains("s3cr3t"));
    assert!(!serde_json::to_string(&h.ctx.checkpoint.snapshot())
        .unwrap()
        .contains("s3cr3t"));

    // A secret the server cannot read fails the task before anything is created.
    let other = "arn:aws:ecs:us-east-1:000000000000:task/default/t3";
    h.api.secrets.lock().unwrap().failure = Some(
        "ResourceInitializationError: unable to pull secrets or registry auth: unable to retrieve secret from asm: gone".into(),
    );
    let _failing = h.spawn(desired(other, &def));
    let r = h.until(other, status(TaskStatus::Stopped)).await;
    assert_eq!(
        r.stopped_reason.as_deref(),
        Some("ResourceInitializationError: unable to pull secrets or registry auth: unable to retrieve secret from asm: gone")
    );
    assert!(r.containers.iter().all(|c| c.runtime_id.is_none()));
}

#[tokio::test(start_paused = true)]
async fn a_pull_failure_stops_the_task_with_cannot_pull_container_error() {
    let h = harness().await;
    h.rt.add_image("busybox");
    let _actor = h.spawn(desired(ARN, &web()));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::TaskFailedToStart));
    let reason = r.stopped_reason.clone().unwrap();
    assert!(
        reason.starts_with("CannotPullContainerError: pull access denied for httpd"),
        "{reason}"
    );
    for c in &r.containers {
        assert_eq!(c.status, ContainerStatus::Stopped);
        assert_eq!(c.reason.as_deref(), Some(reason.as_str()));
    }
    assert!(r.pull_started_at.is_some() && r.pull_stopped_at.is_some());
    assert!(h.rt.containers().is_empty(), "nothing was created");
}

#[tokio::test(start_paused = true)]
async fn a_privileged_task_fails_to_start_where_privileged_is_disabled() {
    let h = harness().await;
    h.rt.add_image("httpd");
    let mut def = web();
    def.container_definitions[0].privileged = Some(true);
    let _actor = h.spawn(desired(ARN, &def));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::TaskFailedToStart));
    let reason = r.stopped_reason.clone().unwrap();
    assert!(reason.contains("--disable-privileged"), "{reason}");
    assert!(h.rt.by_name("app").is_none(), "no container was created");
}

#[tokio::test(start_paused = true)]
async fn missing_images_are_pulled_first() {
    let h = harness().await;
    h.rt.add_registry_image("httpd");
    h.rt.add_image("busybox");
    let _actor = h.spawn(desired(ARN, &web()));
    let r = h.until(ARN, status(TaskStatus::Running)).await;
    assert!(r.pull_started_at.is_some() && r.pull_stopped_at.is_some());
    assert_eq!(h.rt.calls()[0], "pull httpd");
}

#[tokio::test(start_paused = true)]
async fn an_essential_exit_stops_the_task_with_its_exit_code() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    h.rt.on_start("httpd", OnStart::Exit(3));
    let _actor = h.spawn(desired(ARN, &web()));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(
        r.stopped_reason.as_deref(),
        Some("Essential container in task exited")
    );
    assert_eq!(container(&r, "app").exit_code, Some(3));
    assert!(r.execution_stopped_at.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_non_essential_exit_keeps_the_task_running() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let actor = h.spawn(desired(ARN, &web()));
    h.until(ARN, status(TaskStatus::Running)).await;
    h.rt.exit("side", 1);
    let r = h
        .until(ARN, |r| {
            container(r, "side").status == ContainerStatus::Stopped
        })
        .await;
    assert_eq!(r.status, TaskStatus::Running);
    assert_eq!(container(&r, "side").exit_code, Some(1));
    assert_eq!(r.stop_code, None);

    // Later the essential one exits too.
    h.rt.exit("app", 0);
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(container(&r, "app").exit_code, Some(0));
    drop(actor);
}

fn with_db(condition: &str) -> TaskDefinition {
    definition(
        json!({"family": "app", "revision": 1, "containerDefinitions": [
        {"name": "app", "image": "httpd", "dependsOn": [{"containerName": "db", "condition": condition}]},
        {"name": "db", "image": "busybox",
         "healthCheck": {"command": ["CMD", "true"]}}]}),
    )
}

#[tokio::test(start_paused = true)]
async fn a_healthy_dependency_holds_the_dependent_container() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let _actor = h.spawn(desired(ARN, &with_db("HEALTHY")));
    h.until(ARN, |r| {
        container(r, "db").status == ContainerStatus::Running
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        h.rt.by_name("app").is_none(),
        "app waits for db to be healthy"
    );
    let r = h.history(ARN).pop().unwrap();
    assert_eq!(r.status, TaskStatus::Pending);
    h.rt.set_health("db", Health::Healthy);
    let r = h.until(ARN, status(TaskStatus::Running)).await;
    assert_eq!(container(&r, "db").health_status, HealthStatus::Healthy);
    assert_eq!(r.health_status, HealthStatus::Healthy);
    let calls = h.rt.calls();
    let pos = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(pos("create db") < pos("create app"));
}

#[tokio::test(start_paused = true)]
async fn an_unmet_success_dependency_fails_the_task() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    h.rt.on_start("busybox", OnStart::Exit(2));
    let mut def = with_db("SUCCESS");
    def.container_definitions[1].essential = Some(false);
    def.container_definitions[1].health_check = None;
    let _actor = h.spawn(desired(ARN, &def));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::TaskFailedToStart));
    let reason = r.stopped_reason.unwrap();
    assert!(
        reason.contains("dependency db exited with code 2 (condition SUCCESS)"),
        "{reason}"
    );
    assert!(h.rt.by_name("app").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_stops_in_reverse_dependency_order() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let actor = h.spawn(desired(ARN, &with_db("START")));
    h.until(ARN, status(TaskStatus::Running)).await;
    actor.desire(TaskStatus::Stopped);
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(
        r.stop_code, None,
        "the server's stop code is kept, the agent sends none"
    );
    assert_eq!(container(&r, "app").exit_code, Some(143));
    assert_eq!(container(&r, "db").exit_code, Some(143));
    let statuses: Vec<TaskStatus> = h.history(ARN).iter().map(|r| r.status).collect();
    assert!(statuses.contains(&TaskStatus::Stopping), "{statuses:?}");
    assert!(
        statuses.windows(2).all(|w| w[0] <= w[1]),
        "forward only: {statuses:?}"
    );
    let app = h.rt.by_name("app").unwrap().1.id;
    let db = h.rt.by_name("db").unwrap().1.id;
    let calls = h.rt.calls();
    let pos = |s: String| calls.iter().position(|c| *c == s).unwrap();
    assert!(pos(format!("stop {app}")) < pos(format!("stop {db}")));

    // A late "RUNNING" does not bring it back; after the cleanup delay it is removed.
    actor.desire(TaskStatus::Running);
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert!(h.rt.containers().is_empty());
    assert!(h.ctx.checkpoint.snapshot().tasks[ARN].cleaned);
    assert!(actor.is_finished());
    assert_eq!(h.history(ARN).last().unwrap().status, TaskStatus::Stopped);
}

#[test]
fn the_lifecycle_only_moves_forward() {
    let mut l = Lifecycle(TaskStatus::Pending);
    assert!(l.advance(TaskStatus::Running));
    assert!(!l.advance(TaskStatus::Pending));
    assert!(l.advance(TaskStatus::Stopped));
    assert!(!l.advance(TaskStatus::Stopping));
    assert_eq!(l.get(), TaskStatus::Stopped);
}

#[tokio::test(start_paused = true)]
async fn adopted_containers_are_not_created_again() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let t = desired(ARN, &web());
    let spec = SpecContext::new(&t.task, &t.definition, "arn:old", "d1", &[]);
    let defs = t.definition.container_definitions.clone();
    let app = h.rt.insert(
        spec.container_spec(&defs[0], "ecs-web-2-app-1".into())
            .unwrap(),
        true,
    );
    let side = h.rt.insert(
        spec.container_spec(&defs[1], "ecs-web-2-side-1".into())
            .unwrap(),
        false,
    );
    let adopted = Adopted {
        containers: [("app", &app), ("side", &side)]
            .into_iter()
            .map(|(n, id)| {
                (
                    n.to_string(),
                    h.rt.containers()
                        .into_iter()
                        .find(|(_, s)| s.id == *id)
                        .unwrap()
                        .1,
                )
            })
            .collect(),
        pause: None,
        checkpoint: None,
    };
    let _actor = TaskActor::spawn(h.ctx.clone(), t, adopted);
    let r = h
        .until(ARN, |r| {
            r.status == TaskStatus::Running
                && container(r, "side").status == ContainerStatus::Running
        })
        .await;
    assert_eq!(
        container(&r, "app").runtime_id.as_deref(),
        Some(app.as_str())
    );
    assert!(
        !h.rt.calls().iter().any(|c| c.starts_with("create")),
        "{:?}",
        h.rt.calls()
    );
    assert_eq!(
        h.rt.calls(),
        vec![format!("start {side}")],
        "the created-only container is started, not recreated"
    );
    assert_eq!(h.rt.containers().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn awsvpc_tasks_get_a_pause_container_and_an_address() {
    let h = harness().await;
    h.rt.add_image("httpd");
    h.rt.add_image("busybox");
    let mut def = web();
    def.network_mode = Some("awsvpc".into());
    let actor = h.spawn(desired(ARN, &def));
    let r = h.until(ARN, status(TaskStatus::Running)).await;
    let (_, pause) = h.rt.by_name(crate::spec::PAUSE_NAME).unwrap();
    let (app, _) = h.rt.by_name("app").unwrap();
    assert_eq!(app.network, Some(NetworkMode::Container(pause.id.clone())));
    assert!(h
        .rt
        .calls()
        .contains(&"network flotilla-awsvpc".to_string()));
    let ni = &container(&r, "app").network_interfaces;
    assert_eq!(ni.len(), 1);
    assert_eq!(ni[0].private_ipv4_address, "172.31.240.2");
    assert!(container(&r, "app").network_bindings.is_empty());
    let att = &r.attachments[0];
    assert_eq!(att["type"], "ElasticNetworkInterface");
    assert_eq!(att["status"], "ATTACHED");
    assert_eq!(att["id"], ni[0].attachment_id.as_str());
    assert!(att["details"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "privateIPv4Address" && d["value"] == "172.31.240.2"));
    actor.desire(TaskStatus::Stopped);
    h.until(ARN, status(TaskStatus::Stopped)).await;
    assert!(h.rt.calls().contains(&format!("stop {}", pause.id)));
}
