//! Task scale-in protection (UpdateTaskProtection, GetTaskProtection): a service task can be
//! marked protected for 1 to 2,880 minutes. The mark is a date on the task record
//! (`protected_until`); the service controller reads it every pass and its planner
//! (`flotilla_scheduler::deployment`) neither scales in nor replaces a protected task, so
//! protection ends on its own when the date passes, with no timer to run.

use flotilla_model::record::encode;
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::Scope;

use super::task_id;
use crate::{keys, ControlError, State};

/// Why one task of a batch was not protected or read: ECS's `Failure` of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// As the caller gave it.
    pub arn: String,
    /// `MISSING` or `TASK_NOT_VALID`.
    pub reason: &'static str,
    pub detail: Option<String>,
}

/// One task's answer: the task as protected (or read), or why not.
pub type Outcome = Result<TaskRecord, Failure>;

/// The task a batch entry names in `cluster`, or the failure to answer for it.
fn lookup(
    state: &State,
    scope: &Scope,
    cluster: &str,
    given: &str,
) -> Result<(String, flotilla_store::view::Entry<TaskRecord>), Failure> {
    let missing = || Failure {
        arn: given.to_string(),
        reason: "MISSING",
        detail: None,
    };
    let id = task_id(given, scope).map_err(|_| missing())?;
    let key = keys::task(&scope.region, cluster, &id);
    let entry = state.tasks().get(key.as_bytes()).ok_or_else(missing)?;
    Ok((key, entry))
}

/// Whether a task can carry protection: ECS protects the tasks of services only, and a
/// task told to stop can no longer be protected (`changing`).
fn check_valid(given: &str, task: &TaskRecord, changing: bool) -> Result<(), Failure> {
    let not_valid = |detail: &str| Failure {
        arn: given.to_string(),
        reason: "TASK_NOT_VALID",
        detail: Some(detail.to_string()),
    };
    if !task.group.as_deref().unwrap_or("").starts_with("service:") {
        return Err(not_valid(
            "Task protection is only supported for tasks that belong to a service.",
        ));
    }
    if changing && task.desired_status == TaskStatus::Stopped {
        return Err(not_valid("The task is stopping or stopped."));
    }
    Ok(())
}

/// Protect each named task for `minutes` from now, or clear its protection (`None`).
/// Entries that name no task, or a task that is not a service's, become failures.
pub async fn update(
    state: &State,
    scope: &Scope,
    cluster: &str,
    tasks: &[String],
    minutes: Option<i64>,
) -> Result<Vec<Outcome>, ControlError> {
    let mut out = Vec::with_capacity(tasks.len());
    for given in tasks {
        out.push(update_one(state, scope, cluster, given, minutes).await?);
    }
    Ok(out)
}

async fn update_one(
    state: &State,
    scope: &Scope,
    cluster: &str,
    given: &str,
    minutes: Option<i64>,
) -> Result<Outcome, ControlError> {
    for _ in 0..16 {
        let (key, entry) = match lookup(state, scope, cluster, given) {
            Ok(found) => found,
            Err(f) => return Ok(Err(f)),
        };
        if let Err(f) = check_valid(given, &entry.value, true) {
            return Ok(Err(f));
        }
        let mut task = (*entry.value).clone();
        task.set_protection(minutes, state.clock().now());
        if state
            .put_if_unchanged(&key, entry.mod_revision, encode(&task))
            .await?
        {
            return Ok(Ok(task));
        }
    }
    Err(ControlError::Contended(
        "The task kept changing while its protection was set; retry the request.".into(),
    ))
}

/// The named tasks as they are (GetTaskProtection); with no names, every service task of
/// the cluster that is protected now.
pub fn get(state: &State, scope: &Scope, cluster: &str, tasks: &[String]) -> Vec<Outcome> {
    if tasks.is_empty() {
        let now = state.clock().now();
        let prefix = keys::in_cluster(keys::TASKS, &scope.region, cluster);
        return state
            .tasks()
            .range(prefix.as_bytes())
            .into_iter()
            .filter(|(_, e)| e.value.protection(now).is_some())
            .map(|(_, e)| Ok((*e.value).clone()))
            .collect();
    }
    tasks
        .iter()
        .map(|given| {
            let (_, entry) = lookup(state, scope, cluster, given)?;
            check_valid(given, &entry.value, false)?;
            Ok((*entry.value).clone())
        })
        .collect()
}
