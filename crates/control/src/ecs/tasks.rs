//! Tasks: asking one to stop, and what an earlier RunTask with the same client token
//! answered; their scale-in protection in [`protection`].

use flotilla_model::record::{decode, encode};
use flotilla_model::run_token::RunTokenRecord;
use flotilla_model::task::{StopCause, StopCode, TaskRecord, TaskStatus};
use flotilla_model::{ecs_name, EcsRef, Scope};

use crate::{keys, ControlError, State};

pub mod protection;

/// The task id a `task` parameter (id or ARN) names.
pub fn task_id(id: &str, scope: &Scope) -> Result<String, ControlError> {
    Ok(ecs_name(id, EcsRef::Task, scope)?)
}

/// Why the control plane stops a task: ECS's stop code and reason, and the typed cause.
#[derive(Debug, Clone, Copy)]
pub struct Stop<'a> {
    pub code: StopCode,
    pub cause: StopCause,
    pub reason: &'a str,
    /// Keep the task running on its agent until [`release`] (its load balancer targets
    /// drain first).
    pub drain: bool,
}

/// Ask a task to stop; the agent does the rest. A task with no instance stops at once.
pub async fn stop(
    state: &State,
    scope: &Scope,
    cluster: &str,
    id: &str,
    why: Stop<'_>,
) -> Result<TaskRecord, ControlError> {
    let key = keys::task(&scope.region, cluster, id);
    for _ in 0..16 {
        let entry = state
            .tasks()
            .get(key.as_bytes())
            .ok_or_else(|| ControlError::invalid("The referenced task was not found."))?;
        let mut task = (*entry.value).clone();
        let now = state.clock().now();
        if !task.request_stop(why.code, why.cause, why.reason, now) {
            return Ok(task);
        }
        if task.container_instance_arn.is_none() {
            task.last_status = TaskStatus::Stopped;
            task.stopped_at = Some(now);
        } else {
            task.awaiting_drain = why.drain;
        }
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&task))
            .await?
        {
            return Ok(task);
        }
    }
    Err(ControlError::Contended(
        "The task kept changing while it was being stopped; retry the request.".into(),
    ))
}

/// Let a task held by [`Stop::drain`] stop: its agent is now told it is STOPPED.
pub async fn release(state: &State, key: &str) -> Result<(), ControlError> {
    for _ in 0..16 {
        let Some(entry) = state.tasks().get(key.as_bytes()) else {
            return Ok(());
        };
        if !entry.value.awaiting_drain {
            return Ok(());
        }
        let mut task = (*entry.value).clone();
        task.awaiting_drain = false;
        if state
            .put_if_unchanged(key, entry.mod_revision, encode(&task))
            .await?
        {
            return Ok(());
        }
    }
    Err(ControlError::Contended(
        "The task kept changing while it was being released; retry.".into(),
    ))
}

/// The answer stored by an earlier RunTask in `cluster` with client token `token`.
pub async fn run_token(
    state: &State,
    scope: &Scope,
    cluster: &str,
    token: &str,
) -> Result<Option<RunTokenRecord>, ControlError> {
    let key = keys::run_token(&scope.region, cluster, token);
    let Some(kv) = state.store().get(key.as_bytes()).await? else {
        return Ok(None);
    };
    let record = decode::<RunTokenRecord>(&kv.value)
        .map_err(|e| ControlError::Store(format!("unreadable run token {key}: {e}")))?;
    Ok(Some(record))
}
