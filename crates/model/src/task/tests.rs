use chrono::{SubsecRound, Utc};

use super::*;

fn task() -> TaskRecord {
    TaskRecord {
        task_arn: "arn:aws:ecs:us-east-1:000000000000:task/default/abc".into(),
        cluster_arn: "arn:aws:ecs:us-east-1:000000000000:cluster/default".into(),
        task_definition_arn: "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1".into(),
        container_instance_arn: None,
        last_status: TaskStatus::Provisioning,
        desired_status: TaskStatus::Running,
        launch_type: "EC2".into(),
        capacity_provider_name: None,
        cpu: None,
        memory: None,
        containers: vec![Container {
            container_arn: "arn:c".into(),
            task_arn: "arn:t".into(),
            name: "web".into(),
            image: "busybox".into(),
            runtime_id: None,
            last_status: ContainerStatus::Pending,
            exit_code: None,
            reason: None,
            network_bindings: vec![],
            network_interfaces: vec![],
            health_status: HealthStatus::Unknown,
            cpu: None,
            memory: None,
            memory_reservation: None,
        }],
        overrides: serde_json::Value::Null,
        started_by: None,
        group: None,
        attachments: vec![],
        availability_zone: None,
        health_status: HealthStatus::Unknown,
        created_at: Utc::now().trunc_subsecs(3),
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        stopping_at: None,
        stopped_at: None,
        execution_stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        stop_cause: None,
        tags: vec![],
        version: 1,
        connectivity: None,
        awaiting_drain: false,
        protected_until: None,
        network: None,
        enable_execute_command: false,
    }
}

fn report(status: TaskStatus, container: ContainerStatus) -> TaskReport {
    TaskReport {
        task_arn: "arn:t".into(),
        status,
        containers: vec![ContainerReport {
            name: "web".into(),
            runtime_id: Some("c1".into()),
            status: container,
            exit_code: None,
            reason: None,
            network_bindings: vec![],
            network_interfaces: vec![],
            health_status: HealthStatus::Unknown,
        }],
        health_status: HealthStatus::Unknown,
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        execution_stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        attachments: vec![],
    }
}

#[test]
fn statuses_are_ordered() {
    assert!(TaskStatus::Provisioning < TaskStatus::Pending);
    assert!(TaskStatus::Running < TaskStatus::Stopping);
    assert!(TaskStatus::Deprovisioning < TaskStatus::Stopped);
    assert!(TaskStatus::Stopping.is_stopping_or_stopped());
    assert!(!TaskStatus::Running.is_stopping_or_stopped());
}

#[test]
fn reports_move_forward_only_and_bump_the_version() {
    let mut t = task();
    let now = Utc::now();
    assert!(t.apply_report(&report(TaskStatus::Running, ContainerStatus::Running), now));
    assert_eq!(t.last_status, TaskStatus::Running);
    assert_eq!(t.containers[0].last_status, ContainerStatus::Running);
    assert!(t.started_at.is_some());
    let v = t.version;
    // A stale report (PENDING after RUNNING) changes nothing.
    assert!(!t.apply_report(&report(TaskStatus::Pending, ContainerStatus::Pending), now));
    assert_eq!(t.last_status, TaskStatus::Running);
    assert_eq!(t.version, v);
}

#[test]
fn an_agent_stop_sets_desired_stopped_and_keeps_the_first_reason() {
    let mut t = task();
    let now = Utc::now();
    let mut r = report(TaskStatus::Stopped, ContainerStatus::Stopped);
    r.stop_code = Some(StopCode::EssentialContainerExited);
    r.stopped_reason = Some("Essential container in task exited".into());
    r.containers[0].exit_code = Some(3);
    t.apply_report(&r, now);
    assert_eq!(t.desired_status, TaskStatus::Stopped);
    assert_eq!(t.stop_code, Some(StopCode::EssentialContainerExited));
    assert_eq!(t.containers[0].exit_code, Some(3));
    assert!(t.stopped_at.is_some() && t.stopping_at.is_some());
}

#[test]
fn request_stop_is_idempotent() {
    let mut t = task();
    let now = Utc::now();
    assert!(t.request_stop(StopCode::UserInitiated, StopCause::User, "because", now));
    assert!(!t.request_stop(
        StopCode::ServiceSchedulerInitiated,
        StopCause::Unhealthy,
        "other",
        now
    ));
    assert_eq!(t.stop_code, Some(StopCode::UserInitiated));
    assert_eq!(t.stop_cause, Some(StopCause::User));
    assert_eq!(t.stopped_reason.as_deref(), Some("because"));
}

/// Stored tasks written by the build before `stopCause` existed (format v1).
#[test]
fn v1_tasks_read_with_the_stop_cause_their_reason_meant() {
    use crate::record::{decode, encode};
    let unhealthy: TaskRecord = decode(include_bytes!("fixtures/task-v1-unhealthy.json")).unwrap();
    assert_eq!(unhealthy.stop_cause, Some(StopCause::Unhealthy));
    assert_eq!(unhealthy.version, 6);
    assert_eq!(unhealthy.containers[0].exit_code, Some(137));
    let replaced: TaskRecord = decode(include_bytes!("fixtures/task-v1-replaced.json")).unwrap();
    assert_eq!(replaced.stop_cause, None);
    assert_eq!(
        replaced.stop_code,
        Some(StopCode::ServiceSchedulerInitiated)
    );
    // The next write stores the current version.
    let again = encode(&unhealthy);
    assert!(String::from_utf8_lossy(&again).contains(r#""v":2"#));
    assert_eq!(decode::<TaskRecord>(&again).unwrap(), unhealthy);
}

#[test]
fn records_round_trip_through_json_with_ecs_names() {
    let t = task();
    let v = serde_json::to_value(&t).unwrap();
    assert_eq!(v["lastStatus"], "PROVISIONING");
    assert_eq!(v["desiredStatus"], "RUNNING");
    assert!(v["createdAt"].is_number());
    let back: TaskRecord = serde_json::from_value(v).unwrap();
    assert_eq!(back, t);
}

#[test]
fn absent_overrides_are_held_as_null_and_shown_as_ecs_shows_them() {
    let mut t = task();
    t.overrides = serde_json::Value::Null;
    let shown = serde_json::to_value(&t).unwrap();
    assert_eq!(
        shown["overrides"],
        serde_json::json!({"containerOverrides": [], "inferenceAcceleratorOverrides": []})
    );
    let back: TaskRecord = serde_json::from_value(shown).unwrap();
    assert!(back.overrides.is_null());

    let given = serde_json::json!({"containerOverrides": [{"name": "web", "command": ["sh"]}]});
    t.overrides = given.clone();
    let back: TaskRecord = serde_json::from_value(serde_json::to_value(&t).unwrap()).unwrap();
    assert_eq!(back.overrides, given);
}

#[test]
fn protection_lapses_at_its_date_and_a_new_period_replaces_the_old() {
    let now = chrono::Utc::now();
    let mut t = task();
    assert_eq!(t.protection(now), None);
    t.set_protection(Some(120), now);
    let until = now + chrono::Duration::minutes(120);
    assert_eq!(t.protection(now), Some(until));
    assert_eq!(
        t.protection(until - chrono::Duration::seconds(1)),
        Some(until)
    );
    assert_eq!(t.protection(until), None, "lapsed at its date");
    t.set_protection(Some(1), now);
    assert_eq!(t.protection(now), Some(now + chrono::Duration::minutes(1)));
    t.set_protection(None, now);
    assert_eq!(t.protection(now), None);
}
