//! ExecuteCommand: opens a session on this server for a command in a running task's
//! container (see `flotilla_control::exec`). The answer is ECS's, with a `session` whose
//! `streamUrl` is a path on this server and whose `tokenValue` is the client's end's
//! token; `flotilla exec` attaches to it (the AWS CLI's `execute-command` would hand it to
//! SSM's session-manager-plugin, which does not speak Flotilla's stream).

use flotilla_aws::{AwsError, Context};
use flotilla_control::ecs::tasks::task_id;
use flotilla_control::exec::{Command, OpenError};
use flotilla_model::exec::{split_command, MAX_COMMAND, STREAM_PATH};
use flotilla_model::task::{ContainerStatus, TaskStatus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use crate::ecs::error::{invalid, EcsError};
use crate::{keys, State};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteInput {
    cluster: Option<String>,
    container: Option<String>,
    command: Option<String>,
    interactive: Option<bool>,
    task: Option<String>,
}

pub fn execute(state: &State, ctx: &Context, input: ExecuteInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let command = input
        .command
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("command is required."))?;
    if command.len() > MAX_COMMAND {
        return Err(invalid(format!(
            "command can be at most {MAX_COMMAND} characters long."
        )));
    }
    split_command(&command).map_err(|e| {
        invalid(format!(
            "command cannot be run: {e}. It is split into words as a shell splits them; \
             for pipes or variables, run sh -c '...'."
        ))
    })?;
    match input.interactive {
        None => return Err(invalid("interactive is required.")),
        Some(false) => {
            return Err(invalid(
                "Interactive is the only mode supported currently: pass --interactive.",
            ))
        }
        Some(true) => {}
    }
    let task = input
        .task
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("task is required."))?;
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let id = task_id(&task, &scope)?;
    let record = state
        .tasks()
        .get(keys::task(&scope.region, &cluster, &id).as_bytes())
        .ok_or_else(|| invalid("The referenced task was not found."))?;
    let task = &record.value;
    if !task.enable_execute_command {
        return Err(invalid(
            "The execute command failed because execute command was not enabled when the task \
             was run. Run a new task with --enable-execute-command (or update the service with \
             --enable-execute-command --force-new-deployment) and try again.",
        ));
    }
    if task.last_status != TaskStatus::Running || task.desired_status != TaskStatus::Running {
        return Err(invalid(format!(
            "The execute command failed because the task is {} (desired {}): only a RUNNING \
             task runs commands.",
            task.last_status.as_str(),
            task.desired_status.as_str()
        )));
    }
    let container = match input.container.as_deref() {
        Some(name) => task
            .containers
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = task.containers.iter().map(|c| c.name.as_str()).collect();
                invalid(format!(
                    "The task has no container named '{name}': it has {}.",
                    names.join(", ")
                ))
            })?,
        None => match task.containers.as_slice() {
            [only] => only,
            _ => {
                return Err(invalid(
                    "The task has more than one container: name one with --container.",
                ))
            }
        },
    };
    let runtime_id = container
        .runtime_id
        .clone()
        .filter(|_| container.last_status == ContainerStatus::Running)
        .ok_or_else(|| {
            invalid(format!(
                "The execute command failed because container '{}' is not running.",
                container.name
            ))
        })?;
    let instance_arn = task.container_instance_arn.clone().unwrap_or_default();
    let opened = state
        .exec()
        .open(Command {
            instance_arn: instance_arn.clone(),
            task_arn: task.task_arn.clone(),
            container_name: container.name.clone(),
            runtime_id,
            command,
        })
        .map_err(|e| match e {
            OpenError::NotConnected => AwsError::client(
                "TargetNotConnectedException",
                format!(
                    "The execute command failed because the agent of container instance \
                     {instance_arn} is not connected to this server. Sessions are carried \
                     by the server the task's agent polls: call that server (see \
                     docs/tasks.md, \"A command in a task\")."
                ),
            ),
            OpenError::Closed => AwsError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "ServerException",
                format!("{e}: try again in a moment (another server, or this one restarted)."),
            ),
            OpenError::TooMany => AwsError::client(
                "ClientException",
                format!("{e}: wait for some to start or end and try again."),
            ),
        })?;
    Ok(json!({
        "clusterArn": task.cluster_arn,
        "containerArn": container.container_arn,
        "containerName": container.name,
        "interactive": true,
        "taskArn": task.task_arn,
        "session": {
            "sessionId": opened.session_id,
            "streamUrl": format!("{STREAM_PATH}{}/client", opened.session_id),
            "tokenValue": opened.token,
        },
    }))
}
