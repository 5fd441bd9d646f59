//! The whole agent on the simulated runtime: an `awslogs` job's lines reach the server
//! before its STOPPED report, and a running container's samples arrive every interval.

use flotilla_runtime::sim::{SimRuntime, EXIT_AFTER_ENV, LOG_LINES_ENV};

use super::*;

#[tokio::test]
async fn a_sim_job_ships_its_lines_before_stopped_and_a_service_its_stats() {
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
    config.stats_interval = Duration::from_millis(300);
    let job = definition(
        json!({"family": "job", "revision": 1, "containerDefinitions": [
        {"name": "app", "image": "busybox",
         "environment": [{"name": LOG_LINES_ENV, "value": "3"},
                         {"name": EXIT_AFTER_ENV, "value": "300"}],
         "logConfiguration": {"logDriver": "awslogs", "options": {
             "awslogs-group": "/ecs/job", "awslogs-region": "us-east-1",
             "awslogs-stream-prefix": "job", "awslogs-create-group": "true"}}}]}),
    );
    let service = definition(json!({"family": "web", "revision": 1,
        "containerDefinitions": [{"name": "web", "image": "httpd"}]}));
    let api = Arc::new(FakeApi::default());
    api.polls.lock().unwrap().push_back(full(
        3,
        vec![
            desired("arn:task/default/t1", &job),
            desired("arn:task/default/t2", &service),
        ],
    ));
    let (stop, stopped) = oneshot::channel::<()>();
    let agent = tokio::spawn(run_with_api(
        config,
        Arc::new(SimRuntime::new()),
        api.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    wait_for("the job STOPPED", || {
        api.delivered()
            .iter()
            .any(|r| r.task_arn == "arn:task/default/t1" && r.status == TaskStatus::Stopped)
    })
    .await;
    let stored = api.logs.stored("job/app/t1");
    assert_eq!(stored.messages, ["line 0", "line 1", "line 2"]);
    wait_for("samples of the service", || {
        api.logs.stats.lock().unwrap().iter().any(|s| {
            s.samples
                .iter()
                .any(|c| c.task_arn == "arn:task/default/t2" && c.memory_mib == 4.0)
        })
    })
    .await;
    stop.send(()).unwrap();
    agent.await.unwrap().unwrap();
}
