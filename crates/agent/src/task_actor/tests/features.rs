//! Task definition features the actor applies: volumes made before the first container
//! and task-scoped ones removed with the task, a missing shared volume failing the task,
//! `startTimeout`, and the pause container holding `task` PID/IPC namespaces.

use super::*;

fn with_volumes(shared_autoprovision: bool) -> TaskDefinition {
    definition(json!({"family": "data", "revision": 1, "pidMode": "task",
        "volumes": [
            {"name": "scratch", "host": {}},
            {"name": "db", "dockerVolumeConfiguration": {"scope": "shared", "autoprovision": shared_autoprovision}}],
        "containerDefinitions": [{"name": "app", "image": "busybox", "stopTimeout": 1,
            "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/s"},
                            {"sourceVolume": "db", "containerPath": "/db", "readOnly": true}]}]}))
}

#[tokio::test(start_paused = true)]
async fn volumes_come_before_containers_and_task_ones_go_with_the_task() {
    let h = harness().await;
    h.rt.add_image("busybox");
    let actor = h.spawn(desired(ARN, &with_volumes(true)));
    h.until(ARN, status(TaskStatus::Running)).await;
    let calls = h.rt.calls();
    let pos = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(pos("create volume ecs-data-1-scratch-t1") < pos("create app"));
    assert!(pos("create volume db") < pos("create app"));
    let (spec, _) = h.rt.by_name("app").unwrap();
    let pause = spec.pid_mode.clone().expect("pid mode");
    assert!(pause.starts_with("container:"), "{pause}");
    assert_eq!(spec.mounts.len(), 2);
    assert!(spec.mounts[1].read_only);

    actor.desire(TaskStatus::Stopped);
    h.until(ARN, status(TaskStatus::Stopped)).await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    let calls = h.rt.calls();
    assert!(calls.contains(&"remove volume ecs-data-1-scratch-t1".to_string()));
    assert!(
        !calls.contains(&"remove volume db".to_string()),
        "a shared volume is kept"
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_shared_volume_without_autoprovision_fails_the_task() {
    let h = harness().await;
    h.rt.add_image("busybox");
    let _actor = h.spawn(desired(ARN, &with_volumes(false)));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::TaskFailedToStart));
    let reason = r.stopped_reason.unwrap_or_default();
    assert!(
        reason.contains("shared volume db does not exist"),
        "{reason}"
    );
    assert!(!h.rt.calls().iter().any(|c| c == "create app"));
}

#[tokio::test(start_paused = true)]
async fn a_dependency_not_met_within_start_timeout_fails_the_task() {
    let h = harness().await;
    h.rt.add_image("busybox");
    let def = definition(
        json!({"family": "t", "revision": 1, "containerDefinitions": [
        {"name": "slow", "image": "busybox", "essential": false},
        {"name": "app", "image": "busybox", "startTimeout": 2,
         "dependsOn": [{"containerName": "slow", "condition": "COMPLETE"}]}]}),
    );
    let _actor = h.spawn(desired(ARN, &def));
    let r = h.until(ARN, status(TaskStatus::Stopped)).await;
    assert_eq!(r.stop_code, Some(StopCode::TaskFailedToStart));
    assert!(r
        .stopped_reason
        .unwrap_or_default()
        .contains("startTimeout of 2 s"));
    assert!(!h.rt.calls().iter().any(|c| c == "create app"));
}
