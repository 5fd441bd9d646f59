//! `awslogs` containers through the task actor: the stream is prepared before the
//! container starts (a refusal fails the task as ECS fails it), and the task is reported
//! STOPPED only once its last lines are confirmed, or after the drain timeout.

use std::sync::atomic::Ordering;

use super::*;

const GROUP: &str = "/ecs/web";
const T0: i64 = 1_700_000_000 * 1_000_000_000;

fn logged(prefix: Option<&str>) -> TaskDefinition {
    let mut options = json!({"awslogs-group": GROUP, "awslogs-region": "us-east-1",
        "awslogs-create-group": "true"});
    if let Some(p) = prefix {
        options["awslogs-stream-prefix"] = json!(p);
    }
    definition(
        json!({"family": "web", "revision": 1, "containerDefinitions": [
        {"name": "app", "image": "httpd",
         "logConfiguration": {"logDriver": "awslogs", "options": options}}]}),
    )
}

fn last_status(h: &Harness) -> Option<TaskStatus> {
    h.history(ARN).last().map(|r| r.status)
}

#[tokio::test(start_paused = true)]
async fn the_stream_is_prepared_before_the_container_starts() {
    let h = harness().await;
    h.rt.add_image("httpd");
    let _actor = h.spawn(desired(ARN, &logged(Some("svc"))));
    h.until(ARN, status(TaskStatus::Running)).await;
    let prepares = h.api.logs.prepares.lock().unwrap().clone();
    assert_eq!(prepares.len(), 1);
    let s = &prepares[0].streams[0];
    assert_eq!(s.stream.log_stream_name, "svc/app/t1");
    assert_eq!(s.stream.log_group_name, GROUP);
    assert!(s.create_group);
    assert_eq!(prepares[0].cluster, "default");
}

#[tokio::test(start_paused = true)]
async fn without_a_prefix_the_stream_is_named_after_the_container_id() {
    let h = harness().await;
    h.rt.add_image("httpd");
    let _actor = h.spawn(desired(ARN, &logged(None)));
    h.until(ARN, status(TaskStatus::Running)).await;
    let id = h.rt.by_name("app").unwrap().1.id;
    let prepares = h.api.logs.prepares.lock().unwrap().clone();
    assert_eq!(prepares[0].streams[0].stream.log_stream_name, id);
}

#[tokio::test(start_paused = true)]
async fn a_refused_stream_stops_the_task_before_the_container_starts() {
    let h = harness().await;
    h.rt.add_image("httpd");
    let why = "ResourceNotFoundException: The specified log group does not exist.";
    h.api
        .logs
        .refuse_groups
        .lock()
        .unwrap()
        .insert(GROUP.into(), why.into());
    let _actor = h.spawn(desired(ARN, &logged(Some("svc"))));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::TaskFailedToStart));
    let expected = format!(
        "ResourceInitializationError: failed to validate logger args: failed to create \
         Cloudwatch log stream: {why}"
    );
    assert_eq!(r.stopped_reason.as_deref(), Some(expected.as_str()));
    let app = container(&r, "app");
    assert_eq!(app.status, ContainerStatus::Stopped);
    assert_eq!(app.reason.as_deref(), Some(expected.as_str()));
    assert!(
        !h.rt.calls().iter().any(|c| c.starts_with("start ")),
        "never started: {:?}",
        h.rt.calls()
    );
}

#[tokio::test(start_paused = true)]
async fn the_task_is_stopped_only_after_its_last_lines_are_confirmed() {
    let h = harness().await;
    h.rt.add_image("httpd");
    let _actor = h.spawn(desired(ARN, &logged(Some("svc"))));
    h.until(ARN, status(TaskStatus::Running)).await;
    let id = h.rt.by_name("app").unwrap().1.id;
    for i in 0..5 {
        h.rt.logs.print(&id, T0 + i, &format!("last words {i}"));
    }
    h.api.logs.unreachable.store(true, Ordering::SeqCst);
    h.rt.exit("app", 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_ne!(last_status(&h), Some(TaskStatus::Stopped));
    h.api.logs.unreachable.store(false, Ordering::SeqCst);
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(h.api.logs.stored("svc/app/t1").messages.len(), 5);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_server_delays_stopped_by_the_drain_timeout_only() {
    let h = harness().await;
    h.rt.add_image("httpd");
    let _actor = h.spawn(desired(ARN, &logged(Some("svc"))));
    h.until(ARN, status(TaskStatus::Running)).await;
    let id = h.rt.by_name("app").unwrap().1.id;
    h.rt.logs.print(&id, T0, "never shipped");
    h.api.logs.unreachable.store(true, Ordering::SeqCst);
    let exited = tokio::time::Instant::now();
    h.rt.exit("app", 0);
    while last_status(&h) != Some(TaskStatus::Stopped) {
        assert!(exited.elapsed() < Duration::from_secs(30), "never stopped");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waited = exited.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(12),
        "{waited:?}"
    );
}
