//! The service controller's pass over a service with the EXTERNAL deployment controller:
//! no deployments of its own, but task sets, each run as its own little service — its
//! computed desired count (its `scale` of the service's desired count; none once
//! DRAINING), its task definition, launch type, load balancers and service registries
//! (`ecs::task_sets::view`). The same planner, launch, registration and draining as a
//! rolling deployment's serve each task set; what a pass found is written by [`record`]:
//! each task set's stability, DRAINING task sets without tasks removed, a deleted service
//! INACTIVE.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use flotilla_model::service::task_set::{self, TaskSet};
use flotilla_model::service::{Deployment, NewDeployment, ServiceRecord, ServiceStatus};
use flotilla_model::task::TaskRecord;
use flotilla_model::{Arn, Scope};
use flotilla_scheduler::deployment::{self as plan, Failures, Host, Replica};

use super::{register, registries, task_states, ServiceController};
use crate::ecs::services::{self, cluster_of, counts};
use crate::ecs::task_sets::view;
use crate::ControlError;

/// What one pass found of one task set.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    /// Running its computed desired count, nothing pending, every task healthy on an
    /// ACTIVE instance, and nothing started or stopped by the pass.
    steady: bool,
    /// Tasks not stopped yet (on instances that are not lost).
    remaining: usize,
    /// Tasks desired RUNNING.
    live: usize,
}

/// What one pass found and did, to be written into the service record.
#[derive(Debug, Default)]
struct Pass {
    events: Vec<String>,
    seen: HashMap<String, Seen>,
}

impl ServiceController {
    /// One pass over an EXTERNAL service: each task set brought to its computed desired
    /// count, its tasks registered and drained, and what was found recorded.
    pub(super) async fn reconcile_task_sets(
        &self,
        key: &str,
        svc: &ServiceRecord,
        tasks: Vec<Arc<TaskRecord>>,
    ) -> Result<(), ControlError> {
        let state = self.state.clone();
        let arn = Arn::parse(&svc.service_arn).ok_or_else(|| {
            ControlError::Store(format!(
                "stored service ARN {} is malformed",
                svc.service_arn
            ))
        })?;
        let scope = Scope::new(arn.region.clone(), arn.account.clone());
        let cluster = cluster_of(svc).to_string();
        let instances = self.instances(&scope.region, &cluster);
        let now = state.clock().now();
        let desired = if svc.status == ServiceStatus::Active {
            svc.desired_count
        } else {
            0
        };
        let config = state.config();
        let mut pass = Pass::default();
        for ts in &svc.task_sets {
            let view = view(svc, ts);
            let mine: Vec<Arc<TaskRecord>> = tasks
                .iter()
                .filter(|t| t.started_by.as_deref() == Some(ts.id.as_str()))
                .cloned()
                .collect();
            let (states, lb_unhealthy) = task_states(&state, &scope, &view, &mine, &instances, now);
            let failures = Failures::of(&states, &ts.id);
            let backoff_until =
                failures.backoff_until(config.service_backoff_base, config.service_backoff_max);
            let may_start = backoff_until.is_none_or(|t| now >= t);
            let computed = ts.computed_desired_count(desired);
            let actions = plan::replica(&Replica {
                desired: computed,
                config: &svc.deployment_configuration,
                primary: &ts.id,
                may_start,
                may_retire: true,
                tasks: &states,
            });
            let registry = registries::Registry::of(&state, &view)
                .map(|r| r.for_task_set(ts.external_id.as_deref()));
            let events = &mut pass.events;
            self.stop(
                &scope,
                &cluster,
                &view,
                &mine,
                &actions,
                &lb_unhealthy,
                registry.as_ref(),
                events,
            )
            .await;
            let deployment = as_deployment(ts, &view, computed, now);
            self.start(&scope, key, &view, &deployment, &actions, events)
                .await;
            register(
                &state,
                &scope,
                &view,
                &mine,
                &states,
                registry.as_ref(),
                events,
            )
            .await?;
            if failures.backing_off() && !may_start {
                events.push(format!(
                    "(service {}) (taskSet {}) is unable to consistently start tasks \
                     successfully.",
                    svc.service_name, ts.id
                ));
            }
            let live: Vec<_> = states.iter().filter(|t| t.live).collect();
            let c = counts(&mine, None);
            let acted =
                !actions.stop.is_empty() || actions.start > 0 || !actions.start_on.is_empty();
            let all_healthy = live.iter().all(|t| t.healthy && t.host == Host::Active);
            pass.seen.insert(
                ts.id.clone(),
                Seen {
                    steady: !acted && task_set::steady(computed, c.running, c.pending, all_healthy),
                    remaining: states
                        .iter()
                        .filter(|t| t.present && t.host != Host::Lost)
                        .count(),
                    live: live.len(),
                },
            );
        }
        services::update(&state, key, |s| Ok(record(s, &pass, now))).await?;
        Ok(())
    }
}

/// The task set as the deployment the controller's launch reads (its id is the
/// `startedBy` of its tasks, its task definition theirs).
fn as_deployment(
    ts: &TaskSet,
    view: &ServiceRecord,
    computed: i64,
    now: DateTime<Utc>,
) -> Deployment {
    Deployment::start(
        NewDeployment {
            id: ts.id.clone(),
            task_definition: ts.task_definition.clone(),
            launch_type: ts.launch_type.clone(),
            platform_version: None,
            capacity_provider_strategy: vec![],
            desired_count: computed,
            service_deployment_arn: String::new(),
            service_revision_arn: String::new(),
            source_revisions: vec![],
            deployment_configuration: view.deployment_configuration.clone(),
            deployment_strategy: Default::default(),
            shift: None,
            reason: String::new(),
        },
        now,
    )
}

/// Write what a pass found into the service record: events, each task set's stability, a
/// DRAINING task set without tasks removed, the service's steady state, a deleted service
/// without live tasks INACTIVE. Whether anything changed.
fn record(s: &mut ServiceRecord, pass: &Pass, now: DateTime<Utc>) -> bool {
    let before = s.clone();
    for e in &pass.events {
        if s.events.first().map(|x| &x.message) != Some(e) {
            s.push_event(e.clone(), now);
        }
    }
    for t in &mut s.task_sets {
        if let Some(seen) = pass.seen.get(&t.id) {
            t.observe(seen.steady, now);
        }
    }
    // A deleted task set leaves once its tasks have stopped.
    s.task_sets
        .retain(|t| !(t.is_draining() && pass.seen.get(&t.id).is_some_and(|x| x.remaining == 0)));
    if s.status == ServiceStatus::Draining {
        if pass.seen.values().all(|x| x.live == 0) {
            s.status = ServiceStatus::Inactive;
            s.task_sets.clear();
        }
        return *s != before;
    }
    let settled = s
        .task_sets
        .iter()
        .all(|t| pass.seen.get(&t.id).is_some_and(|x| x.steady));
    if settled != s.steady {
        s.steady = settled;
        if settled {
            let name = s.service_name.clone();
            s.push_event(format!("(service {name}) has reached a steady state."), now);
        }
    }
    *s != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_model::service::task_set::{NewTaskSet, Scale, StabilityStatus};
    use flotilla_model::service::DeploymentController;

    fn service(sets: &[&str]) -> ServiceRecord {
        let now = Utc::now();
        let mut s = services::test_record("c", "web", 4, now);
        s.deployments.clear();
        s.revisions.clear();
        s.deployment_controller = DeploymentController::External;
        for id in sets {
            s.task_sets.push(TaskSet::create(
                NewTaskSet {
                    id: id.to_string(),
                    task_set_arn: format!("arn:aws:ecs:us-east-1:0:task-set/c/web/{id}"),
                    task_definition: "td".into(),
                    launch_type: "EC2".into(),
                    network_configuration: None,
                    load_balancers: vec![],
                    service_registries: vec![],
                    scale: Scale::default(),
                    external_id: None,
                    tags: vec![],
                    client_token: None,
                },
                now,
            ));
        }
        s
    }

    fn seen(steady: bool, remaining: usize) -> Seen {
        Seen {
            steady,
            remaining,
            live: remaining,
        }
    }

    fn pass(entries: &[(&str, Seen)]) -> Pass {
        Pass {
            events: vec![],
            seen: entries.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    fn steady_events(s: &ServiceRecord) -> usize {
        s.events
            .iter()
            .filter(|e| e.message.contains("steady state"))
            .count()
    }

    #[test]
    fn task_sets_become_steady_and_the_service_says_so_once() {
        let mut s = service(&["a", "b"]);
        let now = Utc::now();
        assert!(record(
            &mut s,
            &pass(&[("a", seen(true, 2)), ("b", seen(false, 1))]),
            now
        ));
        assert_eq!(
            s.task_sets[0].stability_status(),
            StabilityStatus::SteadyState
        );
        assert_eq!(
            s.task_sets[1].stability_status(),
            StabilityStatus::Stabilizing
        );
        assert!(!s.steady);
        let p = pass(&[("a", seen(true, 2)), ("b", seen(true, 2))]);
        assert!(record(&mut s, &p, now));
        assert!(s.steady);
        assert!(!record(&mut s, &p, now));
        assert_eq!(steady_events(&s), 1);
    }

    #[test]
    fn a_draining_task_set_leaves_once_its_tasks_stopped() {
        let mut s = service(&["a", "b"]);
        let now = Utc::now();
        s.task_sets[1].drain(now);
        record(
            &mut s,
            &pass(&[("a", seen(true, 2)), ("b", seen(false, 1))]),
            now,
        );
        assert_eq!(s.task_sets.len(), 2);
        record(
            &mut s,
            &pass(&[("a", seen(true, 2)), ("b", seen(true, 0))]),
            now,
        );
        assert_eq!(s.task_sets.len(), 1);
        assert_eq!(s.task_sets[0].id, "a");
        // A task set the pass did not see (created meanwhile) is left alone.
        let mut s = service(&["a", "new"]);
        s.task_sets[1].drain(now);
        record(&mut s, &pass(&[("a", seen(true, 2))]), now);
        assert_eq!(s.task_sets.len(), 2);
    }

    #[test]
    fn a_deleted_service_is_inactive_once_nothing_runs() {
        let mut s = service(&["a"]);
        let now = Utc::now();
        s.status = ServiceStatus::Draining;
        record(&mut s, &pass(&[("a", seen(false, 1))]), now);
        assert_eq!(s.status, ServiceStatus::Draining);
        record(&mut s, &pass(&[("a", seen(true, 0))]), now);
        assert_eq!(s.status, ServiceStatus::Inactive);
        assert!(s.task_sets.is_empty());
    }

    #[test]
    fn the_computed_count_follows_the_service_and_the_scale() {
        let mut s = service(&["a"]);
        let now = Utc::now();
        s.task_sets[0].rescale(Scale::new(Some(50.0), None).unwrap(), now);
        assert_eq!(s.task_sets[0].computed_desired_count(s.desired_count), 2);
        s.desired_count = 3;
        assert_eq!(s.task_sets[0].computed_desired_count(s.desired_count), 2);
        s.task_sets[0].drain(now);
        assert_eq!(s.task_sets[0].computed_desired_count(s.desired_count), 0);
    }
}
