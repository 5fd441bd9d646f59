//! ExecuteCommand: answered, never served. ECS runs the command through SSM Session
//! Manager, which Flotilla does not have; the answer says how to get the same shell on
//! the task's host instead (`docker exec`, see docs/tasks.md), naming the container's
//! Docker id when the agent has reported it.

use flotilla_aws::{AwsError, Context};
use flotilla_control::ecs::tasks::task_id;
use flotilla_model::task::TaskRecord;
use serde::Deserialize;
use serde_json::Value;

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

/// The longest `command` ECS takes.
const MAX_COMMAND: usize = 10_240;

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
    if input.interactive.is_none() {
        return Err(invalid("interactive is required."));
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
    Err(not_served(&record.value, input.container.as_deref(), &command).into())
}

/// The `TargetNotConnectedException` that tells the caller what to run instead.
fn not_served(task: &TaskRecord, container: Option<&str>, command: &str) -> AwsError {
    let chosen = match container {
        Some(name) => task.containers.iter().find(|c| c.name == name),
        None => task.containers.first(),
    };
    let docker_id = chosen
        .and_then(|c| c.runtime_id.as_deref())
        .map(|id| id.chars().take(12).collect::<String>())
        .unwrap_or_else(|| "CONTAINER".into());
    let host = task
        .container_instance_arn
        .as_deref()
        .unwrap_or("the task's container instance");
    AwsError::client(
        "TargetNotConnectedException",
        format!(
            "Flotilla does not serve ExecuteCommand (it has no SSM Session Manager; \
             enableExecuteCommand is stored but has no effect). Open a shell on the task's \
             host ({host}) and run: docker exec -it {docker_id} {command}   \
             (see docs/tasks.md, \"A shell in a task\")."
        ),
    )
}
