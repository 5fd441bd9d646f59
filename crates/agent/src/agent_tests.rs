//! The whole agent against the fake server and runtime: registration, the full manifest,
//! reports, shutdown leaving containers, restart with adoption (no duplicates, no orphans);
//! logs and stats on the simulated runtime in `logs`.

use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::{DesiredTask, PollResponse};
use flotilla_model::task::TaskStatus;
use serde_json::json;
use tokio::sync::oneshot;

use crate::testutil::{definition, desired, with_status, FakeApi, FakeRuntime};
use crate::{run_with_api, AgentConfig};

mod logs;

fn full(revision: i64, tasks: Vec<DesiredTask>) -> PollResponse {
    PollResponse {
        revision,
        full: true,
        tasks,
        heartbeat_ttl_millis: 3_000,
        instance_status: "ACTIVE".into(),
        store_id: String::new(),
        registry: None,
        firewall: Default::default(),
    }
}

fn from_store(store: &str, mut answer: PollResponse) -> PollResponse {
    answer.store_id = store.into();
    answer
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..300 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

/// An agent configuration with short waits, a runtime with the `httpd` image, and a
/// one-container task definition using it.
fn setup(
    dir: &std::path::Path,
) -> (
    AgentConfig,
    Arc<FakeRuntime>,
    flotilla_model::task_definition::TaskDefinition,
) {
    let mut config = AgentConfig::new("http://unused", "us-east-1", "AK", "SK", "default", dir);
    config.poll_wait = Duration::from_millis(50);
    config.shutdown_flush = Duration::from_secs(1);
    let rt = Arc::new(FakeRuntime::new());
    rt.add_image("httpd");
    let def = definition(json!({"family": "web", "revision": 1,
        "containerDefinitions": [{"name": "app", "image": "httpd"}]}));
    (config, rt, def)
}

#[tokio::test]
async fn restart_adopts_running_containers_and_removes_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let (config, rt, def) = setup(dir.path());
    let (t1, t2) = ("arn:task/t1", "arn:task/t2");

    // First run: two tasks.
    let api = Arc::new(FakeApi::default());
    api.polls
        .lock()
        .unwrap()
        .push_back(full(5, vec![desired(t1, &def), desired(t2, &def)]));
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_with_api(
        config.clone(),
        rt.clone(),
        api.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    wait_for("both tasks RUNNING", || {
        let d = api.delivered();
        [t1, t2].iter().all(|t| {
            d.iter()
                .any(|r| r.task_arn == *t && r.status == TaskStatus::Running)
        })
    })
    .await;
    let reqs = api.poll_requests.lock().unwrap().clone();
    assert_eq!(reqs[0].since, 0);
    assert!(
        reqs.iter().skip(1).all(|r| r.since == 5),
        "then polls since the returned revision"
    );
    assert!(reqs[0].wait_millis <= 50);
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    assert_eq!(
        rt.containers().len(),
        2,
        "shutdown leaves containers running"
    );
    assert!(rt.containers().iter().all(|(_, s)| s.running));
    let first_arn = api.registrations.lock().unwrap()[0].clone();
    assert!(first_arn.get("containerInstanceArn").is_none());

    // Second run (as after kill -9): the server only wants t1 now.
    let api2 = Arc::new(FakeApi::default());
    let running = |t| with_status(desired(t, &def), TaskStatus::Running, TaskStatus::Running);
    api2.polls
        .lock()
        .unwrap()
        .push_back(full(9, vec![running(t1)]));
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_with_api(
        config.clone(),
        rt.clone(),
        api2.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    wait_for("t1 reported RUNNING again", || {
        api2.delivered()
            .iter()
            .any(|r| r.task_arn == t1 && r.status == TaskStatus::Running)
    })
    .await;
    wait_for("t2's container removed", || rt.containers().len() == 1).await;
    let reg = api2.registrations.lock().unwrap()[0].clone();
    assert_eq!(
        reg["containerInstanceArn"],
        "arn:aws:ecs:us-east-1:000000000000:container-instance/default/1"
    );
    let creates = rt
        .calls()
        .iter()
        .filter(|c| c.starts_with("create"))
        .count();
    assert_eq!(creates, 2, "no container was created again");
    let (_, left) = &rt.containers()[0];
    assert_eq!(left.labels["com.amazonaws.ecs.task-arn"], t1);
    assert!(left.running);
    assert!(
        api2.delivered()
            .iter()
            .all(|r| r.status == TaskStatus::Running),
        "t1 never left RUNNING"
    );
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
    let state = crate::checkpoint::load(dir.path()).unwrap().unwrap();
    assert!(state.tasks.contains_key(t1) && !state.tasks.contains_key(t2));
}

#[tokio::test]
async fn a_stopped_task_is_reported_before_shutdown_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AgentConfig::new(
        "http://unused",
        "us-east-1",
        "AK",
        "SK",
        "default",
        dir.path(),
    );
    config.poll_wait = Duration::from_millis(50);
    let rt = Arc::new(FakeRuntime::new());
    rt.add_image("httpd");
    let def = definition(json!({"family": "web", "revision": 1,
        "containerDefinitions": [{"name": "app", "image": "httpd"}]}));
    let api = Arc::new(FakeApi::default());
    api.fail_submits
        .store(2, std::sync::atomic::Ordering::SeqCst);
    api.polls
        .lock()
        .unwrap()
        .push_back(full(1, vec![desired("t", &def)]));
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_with_api(config, rt.clone(), api.clone(), async {
        let _ = stopped.await;
    }));
    wait_for("RUNNING delivered", || {
        api.delivered()
            .iter()
            .any(|r| r.status == TaskStatus::Running)
    })
    .await;
    let mut change = full(
        2,
        vec![with_status(
            desired("t", &def),
            TaskStatus::Stopped,
            TaskStatus::Running,
        )],
    );
    change.full = false;
    api.polls.lock().unwrap().push_back(change);
    wait_for("STOPPED delivered", || {
        api.delivered()
            .iter()
            .any(|r| r.status == TaskStatus::Stopped)
    })
    .await;
    let stopped_report = api
        .delivered()
        .into_iter()
        .find(|r| r.status == TaskStatus::Stopped)
        .unwrap();
    assert_eq!(stopped_report.containers[0].exit_code, Some(143));
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
}

/// One agent run against scripted answers until `until` holds; the runtime is kept.
async fn run_once(
    config: &AgentConfig,
    rt: &Arc<FakeRuntime>,
    answers: Vec<PollResponse>,
    what: &str,
    until: impl FnMut(&FakeApi, &FakeRuntime) -> bool,
) {
    let mut until = until;
    let api = Arc::new(FakeApi::default());
    api.polls.lock().unwrap().extend(answers);
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_with_api(
        config.clone(),
        rt.clone(),
        api.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    wait_for(what, || until(&api, rt)).await;
    // Let the answers after the condition be applied too.
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_store_that_forgot_the_tasks_removes_nothing_until_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut config, rt, def) = setup(dir.path());
    let t1 = "arn:task/t1";
    let running = |api: &FakeApi, _: &FakeRuntime| {
        api.delivered()
            .iter()
            .any(|r| r.task_arn == t1 && r.status == TaskStatus::Running)
    };
    run_once(
        &config,
        &rt,
        vec![from_store("A", full(50, vec![desired(t1, &def)]))],
        "t1 RUNNING",
        running,
    )
    .await;
    assert_eq!(rt.containers().len(), 1);

    // An empty store (another identity), then store A restored from an older backup: both
    // list nothing, and the task keeps its container.
    for answer in [
        from_store("B", full(3, vec![])),
        from_store("A", full(20, vec![])),
    ] {
        run_once(&config, &rt, vec![answer], "a poll", |api, _| {
            api.poll_requests.lock().unwrap().len() > 1
        })
        .await;
        assert_eq!(
            rt.containers().len(),
            1,
            "a container was removed because the store forgot it"
        );
        assert!(rt.containers().iter().all(|(_, s)| s.running));
    }

    // The operator accepts the store: now it is reconciled with.
    config.accept_store = true;
    run_once(
        &config,
        &rt,
        vec![from_store("B", full(3, vec![]))],
        "t1's container removed",
        |_, rt| rt.containers().is_empty(),
    )
    .await;
}
