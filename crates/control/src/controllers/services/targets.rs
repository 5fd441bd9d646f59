//! The service controller's side of load balancing: each RUNNING task of a service with
//! `loadBalancers` is registered in its target groups; a task counts as healthy only
//! when its targets are; a task is deregistered before it is stopped and held running
//! until the data plane reports its targets drained (or the deregistration delay ends;
//! `settle_stopping` in the controller lets it go). A blue/green deployment's tasks use
//! the target groups its shift chose (`ecs/services/shift.rs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::elbv2::plane::{HealthReport, Observed, TargetKey, UnhealthyReason};
use flotilla_model::elbv2::{TargetGroupRecord, TargetType};
use flotilla_model::service::{Deployment, ServiceRecord};
use flotilla_model::task::{TaskRecord, TaskStatus};
use flotilla_model::Scope;

use crate::ecs::gateways;
use crate::ecs::services::shift;
use crate::elbv2::{target_groups, targets};
use crate::{keys, State};

/// A task's target in one of its service's target groups.
pub(super) struct TaskTarget {
    pub group: Arc<TargetGroupRecord>,
    pub key: TargetKey,
}

/// Where a service's tasks are registered: a target group with the container and port
/// whose binding it takes. Its `loadBalancers` (a blue/green deployment's tasks use the
/// target group its shift chose), then the target groups of its gateway routes
/// (`ecs::gateways`), which take their tasks the same way.
pub(super) fn bindings(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    deployment: Option<&Deployment>,
) -> Vec<(String, String, i64)> {
    let mut out: Vec<(String, String, i64)> = Vec::new();
    for (i, lb) in svc.load_balancers.iter().enumerate() {
        let arn = shift::group_of(svc, deployment, i);
        if let (false, Some(name), Some(port)) = (
            arn.is_empty(),
            lb.container_name.as_deref(),
            lb.container_port,
        ) {
            out.push((arn.to_string(), name.to_string(), port));
        }
    }
    for r in gateways::routes_of_service(state, scope, &svc.service_arn) {
        out.push((
            r.target_group_arn,
            r.container_name,
            i64::from(r.container_port),
        ));
    }
    out
}

/// How many targets a task of the service stands for when all its bindings are made.
pub(super) fn expected(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    task: &TaskRecord,
) -> usize {
    let deployment = task.started_by.as_deref().and_then(|d| svc.deployment(d));
    bindings(state, scope, svc, deployment).len()
}

/// Whether the service's tasks are registered anywhere: `loadBalancers` or a gateway route.
pub(super) fn balanced(state: &State, scope: &Scope, svc: &ServiceRecord) -> bool {
    !svc.load_balancers.is_empty()
        || !gateways::routes_of_service(state, scope, &svc.service_arn).is_empty()
}

/// The targets a task stands for, one per binding ([`bindings`]) whose container has
/// reported the binding it needs (a host port, or an address in awsvpc).
pub(super) fn task_targets(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    task: &TaskRecord,
) -> Vec<TaskTarget> {
    let mut out = Vec::new();
    let deployment = task.started_by.as_deref().and_then(|d| svc.deployment(d));
    for (arn, name, port) in bindings(state, scope, svc, deployment) {
        let (arn, name) = (arn.as_str(), name.as_str());
        let Ok(group) = target_groups::by_arn(state, scope, arn) else {
            continue;
        };
        let Some(container) = task.containers.iter().find(|c| c.name == name) else {
            continue;
        };
        let key = match group.value.target_type {
            TargetType::Instance => {
                let instance = task
                    .container_instance_arn
                    .as_deref()
                    .and_then(|a| a.rsplit('/').next())
                    .and_then(|id| {
                        let cluster = task.cluster_arn.rsplit('/').next().unwrap_or_default();
                        state
                            .instances()
                            .get(keys::container_instance(&scope.region, cluster, id).as_bytes())
                    });
                let binding = container
                    .network_bindings
                    .iter()
                    .find(|b| i64::from(b.container_port) == port);
                match (instance, binding) {
                    (Some(i), Some(b)) if b.host_port > 0 => TargetKey {
                        id: i.value.ec2_instance_id.clone(),
                        port: b.host_port as u16,
                    },
                    _ => continue,
                }
            }
            TargetType::Ip => match container.network_interfaces.first() {
                Some(n) if !n.private_ipv4_address.is_empty() => TargetKey {
                    id: n.private_ipv4_address.clone(),
                    port: port as u16,
                },
                _ => continue,
            },
        };
        out.push(TaskTarget {
            group: group.value,
            key,
        });
    }
    out
}

/// Whether every target of a task is healthy in the data plane (`expected` of them: one
/// per binding; none for a service without load balancers).
pub(super) fn healthy(expected: usize, targets: &[TaskTarget], report: &HealthReport) -> bool {
    targets.len() == expected
        && targets
            .iter()
            .all(|t| report.target(&t.group.arn, &t.key) == Some(&Observed::Healthy))
}

/// The first target of a task its health checks found unhealthy: the event ECS writes.
pub(super) fn unhealthy(
    svc: &ServiceRecord,
    task_id: &str,
    targets: &[TaskTarget],
    report: &HealthReport,
) -> Option<String> {
    targets.iter().find_map(|t| {
        let Some(Observed::Unhealthy(why)) = report.target(&t.group.arn, &t.key) else {
            return None;
        };
        let reason = match why {
            UnhealthyReason::ResponseCodeMismatch(c) => {
                format!("Health checks failed with these codes: [{c}]")
            }
            UnhealthyReason::Timeout => "Request timed out".to_string(),
            UnhealthyReason::FailedHealthChecks => "Health checks failed".to_string(),
        };
        Some(format!(
            "(service {}) (task {task_id}) (port {}) is unhealthy in (target-group {}) due to (reason {reason}).",
            svc.service_name, t.key.port, t.group.arn
        ))
    })
}

/// Whether a target is registered and not draining.
fn registered(state: &State, scope: &Scope, t: &TaskTarget) -> bool {
    state
        .elbv2()
        .targets
        .get(keys::target(&scope.region, &t.group.name, &t.key.id, t.key.port).as_bytes())
        .is_some_and(|e| e.value.deregistered_at.is_none())
}

/// Register the targets of the service's running tasks that are not registered yet.
pub(super) async fn register_running(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    tasks: &[Arc<TaskRecord>],
    events: &mut Vec<String>,
) {
    let mut added: Vec<(String, usize)> = Vec::new();
    for t in tasks {
        // As it is now: this pass may have stopped it.
        let cluster = t.cluster_arn.rsplit('/').next().unwrap_or_default();
        let id = t.task_arn.rsplit('/').next().unwrap_or_default();
        let Some(current) = state
            .tasks()
            .get(keys::task(&scope.region, cluster, id).as_bytes())
        else {
            continue;
        };
        let t = &current.value;
        if t.last_status != TaskStatus::Running || t.desired_status != TaskStatus::Running {
            continue;
        }
        for target in task_targets(state, scope, svc, t) {
            if registered(state, scope, &target) {
                continue;
            }
            let r = targets::TargetRef {
                id: target.key.id.clone(),
                port: Some(target.key.port),
                availability_zone: t.availability_zone.clone(),
            };
            match targets::register(state, scope, &target.group.arn, &[r], Some(&t.task_arn)).await
            {
                Ok(()) => match added.iter_mut().find(|(g, _)| *g == target.group.arn) {
                    Some((_, n)) => *n += 1,
                    None => added.push((target.group.arn.clone(), 1)),
                },
                Err(e) => {
                    tracing::warn!(task = %t.task_arn, error = %e, "registering a target failed")
                }
            }
        }
    }
    for (group, n) in added {
        events.push(format!(
            "(service {}) registered {n} targets in (target-group {group})",
            svc.service_name
        ));
    }
}

/// Deregister a task's registered targets; how many there were.
pub(super) async fn deregister(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    task: &TaskRecord,
    events: &mut Vec<String>,
) -> usize {
    let mut count = 0;
    for target in task_targets(state, scope, svc, task) {
        if !registered(state, scope, &target) {
            continue;
        }
        let r = targets::TargetRef {
            id: target.key.id.clone(),
            port: Some(target.key.port),
            availability_zone: None,
        };
        match targets::deregister(state, scope, &target.group.arn, &[r]).await {
            Ok(()) => {
                count += 1;
                events.push(format!(
                    "(service {}) deregistered 1 targets in (target-group {})",
                    svc.service_name, target.group.arn
                ));
            }
            Err(e) => {
                tracing::warn!(task = %task.task_arn, error = %e, "deregistering a target failed")
            }
        }
    }
    count
}

/// Whether every target of a task has drained: the data plane reports no request in
/// flight on it (or no longer routes to it at all), or its deregistration delay is over.
fn drained(
    state: &State,
    scope: &Scope,
    task: &TaskRecord,
    t: &TaskTarget,
    report: &HealthReport,
    now: DateTime<Utc>,
) -> bool {
    let key = keys::target(&scope.region, &t.group.name, &t.key.id, t.key.port);
    let Some(record) = state.elbv2().targets.get(key.as_bytes()) else {
        return true;
    };
    if record.value.deregistered_at.is_none() {
        // Registered again: by another task on the same address and port, it is not this
        // task's any more; by this one, it has not been deregistered yet.
        return record.value.task_arn.as_deref() != Some(task.task_arn.as_str());
    }
    if targets::drain_deadline(&t.group, &record.value).is_some_and(|d| d <= now) {
        return true;
    }
    match report.target(&t.group.arn, &t.key) {
        Some(Observed::Draining { in_flight }) => *in_flight == 0,
        // Not routed to by any listener (or never reachable): nothing to drain.
        None | Some(Observed::NotInUse) => true,
        // The data plane has not applied the deregistration yet.
        Some(_) => false,
    }
}

/// Whether every target of a task stopping with a drain has drained.
pub(super) fn drained_all(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    task: &TaskRecord,
    report: &HealthReport,
    now: DateTime<Utc>,
) -> bool {
    task_targets(state, scope, svc, task)
        .iter()
        .all(|t| drained(state, scope, task, t, report, now))
}
