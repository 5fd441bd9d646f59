//! The whole agent against the fake server and runtime: registration, the full manifest,
//! reports, shutdown leaving containers, restart with adoption (no duplicates, no orphans).

use std::sync::Arc;
use std::time::Duration;

use flotilla_model::agent_protocol::{DesiredTask, PollResponse};
use flotilla_model::task::TaskStatus;
use serde_json::json;
use tokio::sync::oneshot;

use crate::testutil::{definition, desired, with_status, FakeApi, FakeRuntime};
use crate::{run_with_api, AgentConfig};

fn full(revision: i64, tasks: Vec<DesiredTask>) -> PollResponse {
    PollResponse {
        revision,
        full: true,
        tasks,
        heartbeat_ttl_millis: 3_000,
        instance_status: "ACTIVE".into(),
    }
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

#[tokio::test]
async fn restart_adopts_running_containers_and_removes_orphans() {
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
    config.shutdown_flush = Duration::from_secs(1);
    let rt = Arc::new(FakeRuntime::new());
    rt.add_image("httpd");
    let def = definition(json!({"family": "web", "revision": 1,
        "containerDefinitions": [{"name": "app", "image": "httpd"}]}));
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
