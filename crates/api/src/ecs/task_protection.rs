//! UpdateTaskProtection and GetTaskProtection: the wire side of task scale-in protection
//! (`flotilla_control::ecs::tasks::protection`).

use flotilla_aws::Context;
use flotilla_control::ecs::tasks::protection::{self, Outcome};
use flotilla_model::task::{DEFAULT_PROTECTION_MINUTES, MAX_PROTECTION_MINUTES};
use serde::Deserialize;
use serde_json::{json, Value};

use super::clusters::active_cluster_name;
use crate::ecs::error::{invalid, EcsError};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInput {
    cluster: Option<String>,
    #[serde(default)]
    tasks: Vec<String>,
    protection_enabled: Option<bool>,
    expires_in_minutes: Option<i64>,
}

/// How long a protection lasts: `expiresInMinutes` (1 to 2,880) or 120 when enabled;
/// `None` to clear it.
fn protection_minutes(enabled: bool, expires: Option<i64>) -> Result<Option<i64>, EcsError> {
    match (enabled, expires) {
        (false, _) => Ok(None),
        (true, None) => Ok(Some(DEFAULT_PROTECTION_MINUTES)),
        (true, Some(m)) if (1..=MAX_PROTECTION_MINUTES).contains(&m) => Ok(Some(m)),
        (true, Some(m)) => Err(invalid(format!(
            "expiresInMinutes must be between 1 and {MAX_PROTECTION_MINUTES}; got {m}."
        ))),
    }
}

pub async fn update(state: &State, ctx: &Context, input: UpdateInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let enabled = input
        .protection_enabled
        .ok_or_else(|| invalid("protectionEnabled is required."))?;
    let minutes = protection_minutes(enabled, input.expires_in_minutes)?;
    check_count(&input.tasks, 10)?;
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    let outcomes = protection::update(state, &scope, &cluster, &input.tasks, minutes).await?;
    Ok(answer(state, outcomes))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetInput {
    cluster: Option<String>,
    tasks: Option<Vec<String>>,
}

pub fn get(state: &State, ctx: &Context, input: GetInput) -> Result<Value, EcsError> {
    let scope = crate::scope(state, ctx);
    let tasks = input.tasks.unwrap_or_default();
    if tasks.len() > 100 {
        return Err(invalid("tasks can name at most 100 tasks."));
    }
    let cluster = active_cluster_name(state, &scope, input.cluster.as_deref())?;
    Ok(answer(
        state,
        protection::get(state, &scope, &cluster, &tasks),
    ))
}

fn check_count(tasks: &[String], max: usize) -> Result<(), EcsError> {
    if tasks.is_empty() || tasks.len() > max {
        return Err(invalid(format!(
            "tasks must name between 1 and {max} tasks."
        )));
    }
    Ok(())
}

/// `protectedTasks` and `failures` of a batch.
fn answer(state: &State, outcomes: Vec<Outcome>) -> Value {
    let now = state.clock().now();
    let (mut protected, mut failures) = (Vec::new(), Vec::new());
    for outcome in outcomes {
        match outcome {
            Ok(task) => {
                let until = task.protection(now);
                protected.push(json!({
                    "taskArn": task.task_arn,
                    "protectionEnabled": until.is_some(),
                    "expirationDate": until.as_ref().map(flotilla_model::timestamp::to_epoch_seconds),
                }));
            }
            Err(f) => {
                failures.push(json!({ "arn": f.arn, "reason": f.reason, "detail": f.detail }))
            }
        }
    }
    json!({ "protectedTasks": protected, "failures": failures })
}
