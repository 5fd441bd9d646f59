//! The ECS operations the ECS agent calls — DiscoverPollEndpoint, SubmitTaskStateChange,
//! SubmitContainerStateChange, SubmitAttachmentStateChanges — served on top of Flotilla's
//! own agent protocol: a state change becomes the same `TaskReport` a Flotilla agent sends
//! (`flotilla_control::agents::submit`), so it moves a task forward under the same rules
//! (statuses only move forward; the report must come for a task of the caller's
//! instance). A root key may speak for any instance; an agent's key for its own only.

use std::sync::Arc;

use flotilla_aws::{AwsError, Context};
use flotilla_control::agents;
use flotilla_control::ecs::tasks::task_id;
use flotilla_model::task::{
    ContainerReport, ContainerStatus, NetworkBinding, TaskRecord, TaskReport, TaskStatus,
};
use flotilla_model::{timestamp, Scope};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use super::container_instances;
use crate::agent::only_own_instance;
use crate::ecs::error::{client, invalid, EcsError};
use crate::{keys, State};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiscoverInput {
    cluster: Option<String>,
    container_instance: Option<String>,
}

/// DiscoverPollEndpoint: agents poll the server they already talk to, so every endpoint is
/// this server's API endpoint.
pub fn discover(state: &State, ctx: &Context, input: DiscoverInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    only_own_instance(state, ctx, &cluster, input.container_instance.as_deref())?;
    if let Some(instance) = &input.container_instance {
        container_instances::find(state, &scope, &cluster, instance)?;
    }
    let endpoint = state.config().api_endpoint.clone().unwrap_or_default();
    Ok(json!({
        "endpoint": endpoint,
        "telemetryEndpoint": endpoint,
        "serviceConnectEndpoint": endpoint,
    }))
}

/// A container's change as ECS's `ContainerStateChange` and SubmitContainerStateChange
/// give it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ContainerChange {
    container_name: Option<String>,
    runtime_id: Option<String>,
    status: Option<String>,
    exit_code: Option<i32>,
    reason: Option<String>,
    #[serde(default)]
    network_bindings: Vec<BindingInput>,
}

/// ECS's `NetworkBinding`, every member optional on input.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct BindingInput {
    #[serde(rename = "bindIP")]
    bind_ip: Option<String>,
    container_port: Option<i32>,
    host_port: Option<i32>,
    protocol: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentChange {
    attachment_arn: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskChangeInput {
    cluster: Option<String>,
    task: Option<String>,
    status: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    containers: Vec<ContainerChange>,
    #[serde(default)]
    attachments: Vec<AttachmentChange>,
    #[serde(default, with = "timestamp::option")]
    pull_started_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, with = "timestamp::option")]
    pull_stopped_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default, with = "timestamp::option")]
    execution_stopped_at: Option<chrono::DateTime<chrono::Utc>>,
}

pub async fn submit_task(
    state: &State,
    ctx: &Context,
    input: TaskChangeInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let task = callers_task(state, ctx, &scope, &cluster, input.task.as_deref())?;
    let mut report = unchanged(&task);
    if let Some(s) = input.status.as_deref() {
        report.status = status::<TaskStatus>("status", s)?;
    }
    if report.status == TaskStatus::Stopped {
        report.stopped_reason = input.reason;
    }
    report.pull_started_at = input.pull_started_at;
    report.pull_stopped_at = input.pull_stopped_at;
    report.execution_stopped_at = input.execution_stopped_at;
    for c in input.containers {
        report.containers.push(container_report(&task, c)?);
    }
    let changes: Vec<(String, String)> = input
        .attachments
        .into_iter()
        .map(attachment_change)
        .collect::<Result<_, _>>()?;
    report.attachments = with_attachment_statuses(&task, &changes);
    apply(state, &scope, &task, report).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerChangeInput {
    cluster: Option<String>,
    task: Option<String>,
    #[serde(flatten)]
    change: ContainerChange,
}

pub async fn submit_container(
    state: &State,
    ctx: &Context,
    input: ContainerChangeInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let task = callers_task(state, ctx, &scope, &cluster, input.task.as_deref())?;
    let mut report = unchanged(&task);
    report
        .containers
        .push(container_report(&task, input.change)?);
    apply(state, &scope, &task, report).await
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentsInput {
    cluster: Option<String>,
    #[serde(default)]
    attachments: Vec<AttachmentChange>,
}

/// SubmitAttachmentStateChanges: the status of task attachments (the `eni` of awsvpc
/// tasks), found by their ARN or id among the cluster's tasks.
pub async fn submit_attachments(
    state: &State,
    ctx: &Context,
    input: AttachmentsInput,
) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    if input.attachments.is_empty() {
        return Err(invalid("attachments is required."));
    }
    let changes: Vec<(String, String)> = input
        .attachments
        .into_iter()
        .map(attachment_change)
        .collect::<Result<_, _>>()?;
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let prefix = keys::in_cluster(keys::TASKS, &scope.region, &cluster);
    let tasks = state.tasks().range(prefix.as_bytes());
    for (id, _) in &changes {
        let found = tasks
            .iter()
            .find(|(_, e)| attachment_ids(&e.value).any(|a| a == id));
        let Some((_, entry)) = found else {
            return Err(invalid(format!(
                "Attachment {id} was not found in cluster {cluster}."
            )));
        };
        let task = entry.value.clone();
        let instance = task.container_instance_arn.as_deref().unwrap_or("");
        only_own_instance(state, ctx, &cluster, Some(instance))?;
        let mut report = unchanged(&task);
        report.attachments = with_attachment_statuses(&task, &changes);
        apply(state, &scope, &task, report).await?;
    }
    Ok(json!({ "acknowledgment": "ACK" }))
}

/// The task a state change names, which must run on an instance the caller speaks for.
fn callers_task(
    state: &State,
    ctx: &Context,
    scope: &Scope,
    cluster: &str,
    task: Option<&str>,
) -> Result<Arc<TaskRecord>, EcsError> {
    let given = task
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("task is required."))?;
    let id = task_id(given, scope)?;
    let entry = state
        .tasks()
        .get(keys::task(&scope.region, cluster, &id).as_bytes())
        .ok_or_else(|| invalid("The referenced task was not found."))?;
    let Some(instance) = entry.value.container_instance_arn.clone() else {
        return Err(client("The task is not placed on a container instance."));
    };
    only_own_instance(state, ctx, cluster, Some(&instance))?;
    Ok(entry.value)
}

/// A report that changes nothing: the task's own status and health, no containers.
fn unchanged(task: &TaskRecord) -> TaskReport {
    TaskReport {
        task_arn: task.task_arn.clone(),
        status: task.last_status,
        containers: vec![],
        health_status: task.health_status,
        pull_started_at: None,
        pull_stopped_at: None,
        started_at: None,
        execution_stopped_at: None,
        stop_code: None,
        stopped_reason: None,
        attachments: vec![],
    }
}

/// A status string of ECS's enum, or the error naming the values.
fn status<T: DeserializeOwned>(field: &str, value: &str) -> Result<T, EcsError> {
    serde_json::from_value(json!(value)).map_err(|_| {
        invalid(format!(
            "{field} '{value}' is invalid: use PROVISIONING, PENDING, ACTIVATING, RUNNING, \
             DEACTIVATING, STOPPING, DEPROVISIONING or STOPPED (containers: PENDING, RUNNING \
             or STOPPED)."
        ))
    })
}

fn container_report(task: &TaskRecord, c: ContainerChange) -> Result<ContainerReport, EcsError> {
    let name = c
        .container_name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("containerName is required."))?;
    let Some(mine) = task.containers.iter().find(|m| m.name == name) else {
        return Err(invalid(format!(
            "containerName '{name}' is not a container of task {}.",
            task.task_arn
        )));
    };
    let status = match c.status.as_deref() {
        Some(s) => status::<ContainerStatus>("status", s)?,
        None => mine.last_status,
    };
    Ok(ContainerReport {
        name,
        runtime_id: c.runtime_id,
        status,
        exit_code: c.exit_code,
        reason: c.reason,
        network_bindings: c
            .network_bindings
            .into_iter()
            .map(|b| NetworkBinding {
                bind_ip: b.bind_ip.unwrap_or_else(|| "0.0.0.0".into()),
                container_port: b.container_port.unwrap_or_default(),
                host_port: b.host_port.unwrap_or_default(),
                protocol: b.protocol.unwrap_or_else(|| "tcp".into()),
            })
            .collect(),
        network_interfaces: vec![],
        health_status: mine.health_status,
    })
}

/// An attachment change as (attachment id, status): the id is the ARN's last part.
fn attachment_change(a: AttachmentChange) -> Result<(String, String), EcsError> {
    let arn = a
        .attachment_arn
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("attachmentArn is required."))?;
    let status = a
        .status
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("status is required."))?;
    let id = arn.rsplit('/').next().unwrap_or(&arn).to_string();
    Ok((id, status))
}

fn attachment_ids(task: &TaskRecord) -> impl Iterator<Item = &str> {
    task.attachments.iter().filter_map(|a| a["id"].as_str())
}

/// The task's attachments with the statuses `changes` give; empty when none of them is
/// the task's (a report with no attachments leaves them as they are).
fn with_attachment_statuses(task: &TaskRecord, changes: &[(String, String)]) -> Vec<Value> {
    let mut touched = false;
    let attachments = task
        .attachments
        .iter()
        .map(|a| {
            let mut a = a.clone();
            let id = a["id"].as_str().unwrap_or_default().to_string();
            if let Some((_, status)) = changes.iter().find(|(i, _)| *i == id) {
                a["status"] = json!(status);
                touched = true;
            }
            a
        })
        .collect();
    if touched {
        attachments
    } else {
        vec![]
    }
}

/// Apply one report as the agent protocol does; a report a retry could cure is a
/// ServerException, so the caller sends it again.
async fn apply(
    state: &State,
    scope: &Scope,
    task: &TaskRecord,
    report: TaskReport,
) -> Result<Value, EcsError> {
    let instance = task.container_instance_arn.as_deref().unwrap_or("");
    let results = agents::submit(state, scope, instance, &[report]).await;
    if let Some(error) = results.into_iter().find_map(|r| r.error) {
        return Err(EcsError::Wire(AwsError::server("ServerException", error)));
    }
    Ok(json!({ "acknowledgment": "ACK" }))
}
