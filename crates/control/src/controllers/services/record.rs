//! What a service controller reconcile writes into the service record, as a pure function
//! of what it found: events, the failed count, the DAEMON desired count, deployments
//! without tasks retired, a finished deployment COMPLETED, the steady state, a drained
//! service INACTIVE.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use flotilla_model::service::{ServiceRecord, ServiceStatus};

/// What one pass of the controller found and did, to be written into the service record.
pub(super) struct Pass {
    /// The primary deployment the pass acted for.
    pub primary: String,
    /// Failed tasks of the primary deployment.
    pub failed: i64,
    /// A DAEMON service's desired count: its eligible ACTIVE instances.
    pub daemon_desired: Option<i64>,
    pub events: Vec<String>,
    /// Tasks desired RUNNING.
    pub live: usize,
    /// Tasks not stopped yet per deployment id (on instances that are not lost).
    pub remaining: HashMap<String, usize>,
    /// Whether the pass started or stopped anything.
    pub acted: bool,
    /// Whether the primary runs exactly its desired count, all healthy.
    pub primary_ok: bool,
}

/// Write what a pass found into the service record: events, the failed count, the
/// DAEMON desired count, deployments without tasks retired, a finished deployment
/// COMPLETED, the steady state, a drained service INACTIVE. Whether anything changed.
pub(super) fn record(s: &mut ServiceRecord, pass: &Pass, now: DateTime<Utc>) -> bool {
    let before = s.clone();
    match s.primary_mut() {
        // A new deployment started since the pass read the service: the next pass
        // decides for it.
        Some(p) if p.id == pass.primary => p.failed_tasks = p.failed_tasks.max(pass.failed),
        _ => return false,
    }
    if let Some(n) = pass.daemon_desired {
        if s.status == ServiceStatus::Active && s.desired_count != n {
            s.desired_count = n;
            if let Some(p) = s.primary_mut() {
                p.desired_count = n;
            }
        }
    }
    for e in &pass.events {
        if s.events.first().map(|x| &x.message) != Some(e) {
            s.push_event(e.clone(), now);
        }
    }
    // An old deployment leaves once its tasks have stopped (ECS keeps showing it, and
    // counting its running tasks, until then).
    let remaining = |id: &str| pass.remaining.get(id).copied().unwrap_or(0);
    let idle: Vec<String> = s
        .deployments
        .iter()
        .filter(|d| !d.is_primary() && remaining(&d.id) == 0)
        .map(|d| d.id.clone())
        .collect();
    for id in idle {
        s.retire(&id, now);
    }
    // A deleted service is INACTIVE once all its tasks are stopping or stopped.
    if s.status == ServiceStatus::Draining {
        if pass.live == 0 {
            s.status = ServiceStatus::Inactive;
            let ids: Vec<String> = s.deployments.iter().map(|d| d.id.clone()).collect();
            for id in ids {
                s.retire(&id, now);
            }
        }
        return *s != before;
    }
    let settled = !pass.acted && pass.primary_ok && s.deployments.len() == 1;
    if settled {
        complete(s, now);
    }
    if settled != s.steady {
        s.steady = settled;
        if settled {
            let name = s.service_name.clone();
            s.push_event(format!("(service {name}) has reached a steady state."), now);
        }
    }
    *s != before
}

/// Mark the primary deployment COMPLETED (once), and a deployment it rolled back from
/// as rolled back.
fn complete(s: &mut ServiceRecord, now: DateTime<Utc>) {
    let name = s.service_name.clone();
    // Also when the primary had completed before: a blue/green rollback returns to a
    // deployment that completed long ago.
    for d in s.history.iter_mut() {
        d.rollback_succeeded(now);
    }
    let Some(p) = s.primary_mut() else {
        return;
    };
    if !p.complete(now) {
        return;
    }
    let id = p.id.clone();
    s.push_event(
        format!("(service {name}) (deployment {id}) deployment completed."),
        now,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::services;
    use flotilla_model::service::{DeploymentStatus, RolloutState, ServiceDeploymentStatus};

    fn service() -> ServiceRecord {
        services::test_record("c", "web", 2, Utc::now())
    }

    fn pass(s: &ServiceRecord, live: &[(&str, usize)], acted: bool, ok: bool) -> Pass {
        Pass {
            primary: s.primary().unwrap().id.clone(),
            failed: 0,
            daemon_desired: None,
            events: vec![],
            live: live.iter().map(|(_, v)| v).sum(),
            remaining: live.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            acted,
            primary_ok: ok,
        }
    }

    /// Record a pass for the current primary.
    fn apply(s: &mut ServiceRecord, live: &[(&str, usize)], acted: bool, ok: bool) -> bool {
        let p = pass(s, live, acted, ok);
        record(s, &p, Utc::now())
    }

    fn messages(s: &ServiceRecord) -> Vec<&str> {
        s.events.iter().map(|e| e.message.as_str()).collect()
    }

    #[test]
    fn a_settled_deployment_completes_once_and_says_steady_once() {
        let mut s = service();
        let id = s.primary().unwrap().id.clone();
        assert!(!apply(&mut s, &[(&id, 1)], true, false));
        let p = pass(&s, &[(&id, 2)], false, true);
        assert!(record(&mut s, &p, Utc::now()));
        let d = s.primary().unwrap();
        assert_eq!(
            (d.rollout_state().as_str(), d.deployment_status().as_str()),
            ("COMPLETED", "SUCCESSFUL")
        );
        assert_eq!(
            messages(&s),
            vec![
                "(service web) has reached a steady state.".to_string(),
                format!("(service web) (deployment {id}) deployment completed."),
            ]
        );
        assert!(!record(&mut s, &p, Utc::now()), "nothing new to write");
        // A task dies: no longer steady (silently); steady again says so again.
        assert!(apply(&mut s, &[(&id, 1)], true, false));
        assert!(record(&mut s, &p, Utc::now()));
        assert_eq!(
            messages(&s).iter().filter(|m| m.contains("steady")).count(),
            2
        );
    }

    #[test]
    fn old_deployments_without_tasks_retire_and_a_rollback_is_marked_successful() {
        let mut s = service();
        let old = s.primary().unwrap().id.clone();
        apply(&mut s, &[(&old, 2)], false, true);
        services::start_deployment(&mut s, Utc::now(), None);
        let new = s.primary().unwrap().id.clone();
        services::roll_back(&mut s, Utc::now(), "breaker").unwrap();
        let back = s.primary().unwrap().id.clone();
        assert_eq!(s.deployments.len(), 3);
        assert_eq!(
            s.deployment(&new).unwrap().rollout_state(),
            RolloutState::Failed
        );
        // The old deployment still runs its tasks; the failed one has none left.
        apply(&mut s, &[(&old, 2), (&back, 2)], true, false);
        assert_eq!(s.deployments.len(), 2);
        assert_eq!(s.history[0].id, new);
        apply(&mut s, &[(&back, 2)], false, true);
        assert_eq!(s.deployments.len(), 1);
        assert_eq!(
            s.primary().unwrap().rollout_state(),
            RolloutState::Completed
        );
        let failed = s.deployment(&new).unwrap();
        assert_eq!(
            failed.deployment_status(),
            ServiceDeploymentStatus::RollbackSuccessful
        );
    }

    #[test]
    fn a_draining_service_turns_inactive_when_no_task_is_left() {
        let mut s = service();
        let id = s.primary().unwrap().id.clone();
        s.status = ServiceStatus::Draining;
        assert!(!apply(&mut s, &[(&id, 1)], true, false));
        assert!(apply(&mut s, &[], false, true));
        assert_eq!(s.status, ServiceStatus::Inactive);
        assert!(s.deployments.is_empty());
        assert_eq!(s.history[0].status(), DeploymentStatus::Inactive);
    }

    #[test]
    fn a_pass_for_a_replaced_primary_writes_nothing() {
        let mut s = service();
        let p = pass(&s, &[], false, true);
        services::start_deployment(&mut s, Utc::now(), None);
        let before = s.clone();
        assert!(!record(&mut s, &p, Utc::now()));
        assert_eq!(s, before);
    }
}
