//! What the planner sees of a service's tasks: each task's deployment, host, health and
//! failure, read from its record, its load balancer targets and its health checks.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::service::ServiceRecord;
use flotilla_model::task::{HealthStatus, StopCause, StopCode, TaskRecord, TaskStatus};
use flotilla_model::Scope;
use flotilla_scheduler::deployment::{Host, TaskState};

use super::{targets, Instances};
use crate::ecs::services::healthy;
use crate::ecs::task_definitions;
use crate::State;

/// The planner's picture of a service's tasks (`svc` as its tasks see it), and the event
/// ECS writes for each task whose load balancer targets failed their health checks.
pub(super) fn task_states(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    tasks: &[Arc<TaskRecord>],
    instances: &Instances,
    now: DateTime<Utc>,
) -> (Vec<TaskState>, HashMap<String, String>) {
    let mut checks: HashMap<String, bool> = HashMap::new();
    let mut has_check = |td: &str| {
        *checks
            .entry(td.to_string())
            .or_insert_with(|| task_definitions::has_health_check(state, scope, td))
    };
    let grace = svc.health_check_grace_period_seconds.unwrap_or(0);
    let report = state.elbv2().health();
    let balanced = targets::balanced(state, scope, svc);
    // Tasks whose load balancer targets failed their health checks, with ECS's event.
    let mut lb_unhealthy: HashMap<String, String> = HashMap::new();
    let states: Vec<TaskState> = tasks
        .iter()
        .map(|t| {
            let id = t.task_arn.rsplit('/').next().unwrap_or("").to_string();
            let (lb_ok, lb_bad) = if balanced {
                let ts = targets::task_targets(state, scope, svc, t);
                let bad = targets::unhealthy(svc, &id, &ts, &report)
                    .filter(|_| past_grace(t, grace, now));
                let expected = targets::expected(state, scope, svc, t);
                (targets::healthy(expected, &ts, &report), bad)
            } else {
                (true, None)
            };
            if let Some(event) = lb_bad.clone() {
                lb_unhealthy.insert(id.clone(), event);
            }
            (t, id, lb_ok, lb_bad.is_some())
        })
        .map(|(t, id, lb_ok, lb_bad)| TaskState {
            id,
            deployment: t.started_by.clone().unwrap_or_default(),
            instance: t.container_instance_arn.clone().unwrap_or_default(),
            host: t
                .container_instance_arn
                .as_ref()
                .and_then(|a| instances.by_arn.get(a))
                .copied()
                .unwrap_or(Host::Lost),
            live: t.desired_status == TaskStatus::Running,
            present: t.last_status < TaskStatus::Stopped,
            healthy: healthy(t, has_check(&t.task_definition_arn)) && lb_ok,
            unhealthy: unhealthy(t, grace, now)
                || (lb_bad && t.desired_status == TaskStatus::Running),
            protected: t.protection(now).is_some(),
            created_at: t.created_at,
            started_at: t.started_at,
            failed_at: failed_at(t),
        })
        .collect();
    (states, lb_unhealthy)
}

/// Whether a task has run longer than the service's health check grace period.
fn past_grace(t: &TaskRecord, grace_seconds: i64, now: DateTime<Utc>) -> bool {
    t.started_at
        .is_none_or(|s| now - s >= chrono::Duration::seconds(grace_seconds))
}

/// Whether a running task's health checks failed after its grace period.
fn unhealthy(t: &TaskRecord, grace_seconds: i64, now: DateTime<Utc>) -> bool {
    t.desired_status == TaskStatus::Running
        && t.health_status == HealthStatus::Unhealthy
        && past_grace(t, grace_seconds, now)
}

/// When a task failed: it stopped on its own (its agent gave the stop code), or the
/// control plane stopped it because its health checks failed; not when a user or the
/// scheduler stopped it on purpose. What the circuit breaker and the backoff count.
pub(crate) fn failed_at(t: &TaskRecord) -> Option<DateTime<Utc>> {
    let own = match (t.stop_cause, t.stop_code) {
        (Some(cause), _) => cause == StopCause::Unhealthy,
        (None, Some(StopCode::UserInitiated | StopCode::ServiceSchedulerInitiated)) => false,
        (None, _) => true,
    };
    (t.last_status == TaskStatus::Stopped && own)
        .then(|| t.stopped_at.or(t.stopping_at).unwrap_or(t.created_at))
}
