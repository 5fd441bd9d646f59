//! The ECS `Task` shape, built from the stored task: adding a field to the answer is not a
//! storage change, and what the store keeps for Flotilla alone (the stop cause) is never
//! shown.

use chrono::{DateTime, Utc};
use flotilla_model::tag::Tag;
use flotilla_model::task::{Container, HealthStatus, StopCode, TaskRecord, TaskStatus};
use flotilla_model::timestamp;
use serde::Serialize;
use serde_json::{json, Value};

/// ECS `Task`, borrowing from the record.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskOut<'a> {
    task_arn: &'a str,
    cluster_arn: &'a str,
    task_definition_arn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    container_instance_arn: Option<&'a str>,
    last_status: TaskStatus,
    desired_status: TaskStatus,
    launch_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    capacity_provider_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<&'a str>,
    containers: &'a [Container],
    overrides: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    attachments: &'a [Value],
    #[serde(skip_serializing_if = "Option::is_none")]
    availability_zone: Option<&'a str>,
    health_status: HealthStatus,
    #[serde(with = "timestamp")]
    created_at: DateTime<Utc>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    pull_started_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    pull_stopped_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    started_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    stopping_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    stopped_at: Option<DateTime<Utc>>,
    #[serde(with = "timestamp::option", skip_serializing_if = "Option::is_none")]
    execution_stopped_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_code: Option<StopCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped_reason: Option<&'a str>,
    /// Only when the request asked for tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<&'a [Tag]>,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    connectivity: Option<&'a str>,
    enable_execute_command: bool,
}

/// The ECS `Task` shape of `t`, with its tags when `tags`.
pub fn to_wire(t: &TaskRecord, tags: bool) -> Value {
    let out = TaskOut {
        task_arn: &t.task_arn,
        cluster_arn: &t.cluster_arn,
        task_definition_arn: &t.task_definition_arn,
        container_instance_arn: t.container_instance_arn.as_deref(),
        last_status: t.last_status,
        desired_status: t.desired_status,
        launch_type: &t.launch_type,
        capacity_provider_name: t.capacity_provider_name.as_deref(),
        cpu: t.cpu.as_deref(),
        memory: t.memory.as_deref(),
        containers: &t.containers,
        // ECS shows a task started without overrides with every list empty.
        overrides: if t.overrides.is_null() {
            json!({ "containerOverrides": [], "inferenceAcceleratorOverrides": [] })
        } else {
            t.overrides.clone()
        },
        started_by: t.started_by.as_deref(),
        group: t.group.as_deref(),
        attachments: &t.attachments,
        availability_zone: t.availability_zone.as_deref(),
        health_status: t.health_status,
        created_at: t.created_at,
        pull_started_at: t.pull_started_at,
        pull_stopped_at: t.pull_stopped_at,
        started_at: t.started_at,
        stopping_at: t.stopping_at,
        stopped_at: t.stopped_at,
        execution_stopped_at: t.execution_stopped_at,
        stop_code: t.stop_code,
        stopped_reason: t.stopped_reason.as_deref(),
        tags: tags.then_some(t.tags.as_slice()),
        version: t.version,
        connectivity: t.connectivity.as_deref(),
        enable_execute_command: t.enable_execute_command,
    };
    serde_json::to_value(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of a stored task, each set.
    fn full() -> TaskRecord {
        serde_json::from_value(json!({
            "taskArn": "arn:aws:ecs:us-east-1:000000000000:task/c/1",
            "clusterArn": "arn:aws:ecs:us-east-1:000000000000:cluster/c",
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1",
            "containerInstanceArn": "arn:aws:ecs:us-east-1:000000000000:container-instance/c/i",
            "lastStatus": "STOPPED", "desiredStatus": "STOPPED", "launchType": "EC2",
            "capacityProviderName": "pool-a",
            "cpu": "256", "memory": "512",
            "containers": [{
                "containerArn": "arn:c", "taskArn": "arn:t", "name": "web", "image": "img",
                "runtimeId": "r", "lastStatus": "STOPPED", "exitCode": 1, "reason": "x",
                "networkBindings": [], "networkInterfaces": [], "healthStatus": "UNHEALTHY",
                "cpu": "256", "memory": "512", "memoryReservation": "128"
            }],
            "overrides": {"containerOverrides": [{"name": "web", "command": ["a"]}]},
            "startedBy": "me", "group": "service:web", "attachments": [{"id": "a"}],
            "availabilityZone": "z", "healthStatus": "UNHEALTHY",
            "createdAt": 1.5, "pullStartedAt": 2.5, "pullStoppedAt": 3.5, "startedAt": 4.5,
            "stoppingAt": 5.5, "stoppedAt": 6.5, "executionStoppedAt": 7.5,
            "stopCode": "ServiceSchedulerInitiated", "stoppedReason": "why",
            "stopCause": "UNHEALTHY",
            "tags": [{"key": "k", "value": "v"}], "version": 3, "connectivity": "CONNECTED",
            "enableExecuteCommand": true
        }))
        .unwrap()
    }

    #[test]
    fn shows_every_ecs_field_of_the_record_and_nothing_of_flotilla_own() {
        let t = full();
        let mut stored = serde_json::to_value(&t).unwrap();
        let obj = stored.as_object_mut().unwrap();
        assert!(obj.remove("stopCause").is_some());
        assert_eq!(to_wire(&t, true), Value::Object(obj.clone()));
        obj.remove("tags");
        assert_eq!(to_wire(&t, false), Value::Object(obj.clone()));
    }

    #[test]
    fn a_task_without_overrides_shows_empty_lists() {
        let mut t = full();
        t.overrides = Value::Null;
        assert_eq!(
            to_wire(&t, false)["overrides"],
            json!({ "containerOverrides": [], "inferenceAcceleratorOverrides": [] })
        );
    }
}
