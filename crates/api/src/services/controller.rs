//! The service controller: on the leader, it compares every service with its tasks and
//! acts — starts the tasks a deployment lacks (through the scheduler and the plan
//! applier, as RunTask does), stops what a deployment, a scale-down or a draining instance
//! no longer needs, trips the circuit breaker, finishes deployments and writes the
//! service's events. Each pass reads only the views, so it is idempotent: a pass that
//! fails half-way is simply done again by the next one.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flotilla_aws::AwsError;
use flotilla_model::container_instance;
use flotilla_model::service::{self, circuit_breaker_threshold, ServiceRecord};
use flotilla_model::task::{HealthStatus, StopCode, TaskRecord, TaskStatus};
use flotilla_model::{Arn, Scope};
use tokio::sync::watch;

use super::plan::{self, Actions, DaemonHost, Failures, Host, Replica, TaskState, Why};
use super::{cluster_of, healthy, ClusterTasks};
use crate::ecs::services::{launch_of, strategies_of};
use crate::ecs::task_definitions;
use crate::ecs::tasks::launch::launch_tasks;
use crate::ecs::tasks::stop_task;
use crate::{keys, State};

/// How often the controller looks for changes; a pass runs when any view moved, and at
/// least once a second (backoffs and grace periods are timed).
const TICK: Duration = Duration::from_millis(50);
const FULL_PASS: Duration = Duration::from_secs(1);

/// Run the service controller while `leader` says this process leads.
pub fn start(state: State, leader: watch::Receiver<bool>) {
    tokio::spawn(async move {
        let mut c = Controller {
            state,
            unseen_since: HashMap::new(),
            daemon_misses: HashMap::new(),
        };
        let mut last = (0, Instant::now() - FULL_PASS);
        loop {
            tokio::time::sleep(TICK).await;
            if !*leader.borrow() {
                continue;
            }
            let rev = c.revision();
            if rev == last.0 && last.1.elapsed() < FULL_PASS {
                continue;
            }
            last = (rev, Instant::now());
            c.pass().await;
        }
    });
}

struct Controller {
    state: State,
    /// When each instance's agent was first seen disconnected.
    unseen_since: HashMap<String, Instant>,
    /// DAEMON placements that did not fit, by (service, instance), with the
    /// [`placement_stamp`] then: not retried until an instance, an agent connection or
    /// a task's resources change.
    daemon_misses: HashMap<(String, String), u64>,
}

/// What a pass learned about one task's instance.
struct Instances {
    by_arn: HashMap<String, Host>,
}

impl Controller {
    fn revision(&self) -> i64 {
        let s = &self.state;
        s.services().revision()
            + s.tasks().revision()
            + s.instances().revision()
            + s.agents().revision()
    }

    async fn pass(&mut self) {
        let services = self.state.services().range(keys::SERVICES.as_bytes());
        // One read of each cluster's service tasks per pass, shared by its services
        // (each service's reconcile changes only its own tasks).
        let mut clusters: HashMap<String, ClusterTasks> = HashMap::new();
        for (key, entry) in services {
            if entry.value.status == service::INACTIVE {
                continue;
            }
            let key = String::from_utf8_lossy(&key).to_string();
            let region = Arn::parse(&entry.value.service_arn)
                .map(|a| a.region)
                .unwrap_or_default();
            let tasks = clusters
                .entry(entry.value.cluster_arn.clone())
                .or_insert_with(|| {
                    ClusterTasks::load(&self.state, &region, cluster_of(&entry.value))
                })
                .of(&entry.value);
            if let Err(e) = self.reconcile(&key, &entry.value, tasks).await {
                tracing::warn!(service = %entry.value.service_arn, error = %e.message, "service reconcile failed");
            }
        }
    }

    /// Where the instances of a cluster stand, noting agents that disconnected.
    fn instances(&mut self, region: &str, cluster: &str) -> Instances {
        let prefix = keys::in_cluster(keys::CONTAINER_INSTANCES, region, cluster);
        let grace = self.state.config().service_disconnect_grace;
        let mut by_arn = HashMap::new();
        for (_, e) in self.state.instances().range(prefix.as_bytes()) {
            let i = &e.value;
            let arn = i.container_instance_arn.clone();
            let id = arn.rsplit('/').next().unwrap_or("").to_string();
            let lost = if self.state.agent_connected(region, cluster, &id) {
                self.unseen_since.remove(&arn);
                false
            } else {
                let since = self
                    .unseen_since
                    .entry(arn.clone())
                    .or_insert_with(Instant::now);
                since.elapsed() > grace
            };
            let host = match i.status.as_str() {
                _ if lost => Host::Lost,
                container_instance::ACTIVE => Host::Active,
                container_instance::DRAINING => Host::Draining,
                _ => Host::Lost,
            };
            by_arn.insert(arn, host);
        }
        Instances { by_arn }
    }

    async fn reconcile(
        &mut self,
        key: &str,
        svc: &ServiceRecord,
        tasks: Vec<std::sync::Arc<TaskRecord>>,
    ) -> Result<(), AwsError> {
        let state = self.state.clone();
        let arn = Arn::parse(&svc.service_arn)
            .ok_or_else(|| AwsError::server("ServerException", "bad service ARN"))?;
        let scope = Scope::new(arn.region.clone(), arn.account.clone());
        let cluster = cluster_of(svc).to_string();
        let Some(primary) = svc.primary().cloned() else {
            return Ok(());
        };
        let instances = self.instances(&scope.region, &cluster);
        let mut checks: HashMap<String, bool> = HashMap::new();
        let mut has_check = |td: &str| {
            *checks.entry(td.to_string()).or_insert_with(|| {
                task_definitions::resolve(&state, &scope, td)
                    .map(|d| {
                        d.value
                            .definition
                            .container_definitions
                            .iter()
                            .any(|c| c.health_check.is_some())
                    })
                    .unwrap_or(false)
            })
        };
        let now = Utc::now();
        let grace = svc.health_check_grace_period_seconds.unwrap_or(0);
        let states: Vec<TaskState> = tasks
            .iter()
            .map(|t| TaskState {
                id: t.task_arn.rsplit('/').next().unwrap_or("").to_string(),
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
                healthy: healthy(t, has_check(&t.task_definition_arn)),
                unhealthy: unhealthy(t, grace, now),
                created_at: t.created_at,
                started_at: t.started_at,
                failed_at: failed_at(t),
            })
            .collect();
        let failures = Failures::of(&states, &primary.id);
        let breaker = primary.deployment_configuration.deployment_circuit_breaker;
        let desired = if svc.is_daemon() {
            primary.desired_count
        } else {
            svc.desired_count
        };
        // The stored count too: stopped tasks are deleted after the retention period.
        let failed_total = failures.total.max(primary.failed_tasks);
        if breaker.enable
            && primary.rollout_state == service::IN_PROGRESS
            && failed_total >= circuit_breaker_threshold(desired)
        {
            return self
                .trip(key, svc, &primary, breaker.rollback, failed_total)
                .await;
        }
        let failed = primary.rollout_state == service::FAILED;
        let config = state.config();
        let backoff_until =
            failures.backoff_until(config.service_backoff_base, config.service_backoff_max);
        let may_start = !failed && backoff_until.is_none_or(|t| now >= t);
        let mut hosts = Vec::new();
        let actions = if svc.is_daemon() {
            let changes = placement_stamp(&state);
            hosts = self.daemon_hosts(key, svc, &instances, changes);
            plan::daemon(
                &hosts,
                &primary.deployment_configuration,
                &primary.id,
                may_start,
                &states,
            )
        } else {
            plan::replica(&Replica {
                desired,
                config: &primary.deployment_configuration,
                primary: &primary.id,
                may_start,
                may_retire: !failed,
                tasks: &states,
            })
        };
        let mut events = Vec::new();
        self.stop(&scope, &cluster, svc, &actions, &mut events)
            .await;
        self.start(&scope, key, svc, &primary, &actions, &mut events)
            .await;
        if failures.backing_off() && !may_start && !failed {
            events.push(format!(
                "(service {}) is unable to consistently start tasks successfully.",
                svc.service_name
            ));
        }
        let want = if svc.is_daemon() {
            hosts
                .iter()
                .filter(|h| h.eligible && h.host == Host::Active)
                .count() as i64
        } else {
            desired
        };
        let mine: Vec<&TaskState> = states
            .iter()
            .filter(|t| t.live && t.deployment == primary.id)
            .collect();
        let pass = Pass {
            primary: primary.id.clone(),
            failed: failures.total,
            daemon_desired: svc.is_daemon().then_some(want),
            events,
            live: states.iter().filter(|t| t.live).count(),
            remaining: states
                .iter()
                .filter(|t| t.present && t.host != Host::Lost)
                .fold(HashMap::new(), |mut m, t| {
                    *m.entry(t.deployment.clone()).or_insert(0) += 1;
                    m
                }),
            acted: !actions.stop.is_empty() || actions.start > 0 || !actions.start_on.is_empty(),
            primary_ok: mine.len() as i64 == want
                && mine.iter().all(|t| t.healthy && t.host == Host::Active),
        };
        super::update(&state, key, |s| Ok(record(s, &pass, now))).await?;
        Ok(())
    }

    /// The instances a DAEMON service wants a task on, skipping those where placement
    /// failed until an instance changes.
    fn daemon_hosts(
        &mut self,
        key: &str,
        svc: &ServiceRecord,
        instances: &Instances,
        changes: u64,
    ) -> Vec<DaemonHost> {
        instances
            .by_arn
            .iter()
            .map(|(arn, host)| {
                let missed = self
                    .daemon_misses
                    .get(&(key.to_string(), arn.clone()))
                    .is_some_and(|c| *c == changes);
                DaemonHost {
                    arn: arn.clone(),
                    host: *host,
                    eligible: svc.status == service::ACTIVE && !missed,
                }
            })
            .collect()
    }

    async fn stop(
        &self,
        scope: &Scope,
        cluster: &str,
        svc: &ServiceRecord,
        actions: &Actions,
        events: &mut Vec<String>,
    ) {
        let mut stopped = Vec::new();
        for (id, why) in &actions.stop {
            let reason = match why {
                Why::Replaced => format!(
                    "Scaling activity initiated by (deployment {})",
                    svc.primary().map(|d| d.id.as_str()).unwrap_or("")
                ),
                Why::ScaleDown => "Service scaled down: more tasks ran than desired.".into(),
                Why::Draining => "Container instance is draining; the task was replaced.".into(),
                Why::Unhealthy => UNHEALTHY_REASON.into(),
                Why::Lost => {
                    "Container instance stayed disconnected; the task was replaced elsewhere."
                        .into()
                }
            };
            match stop_task(
                &self.state,
                scope,
                cluster,
                id,
                StopCode::ServiceSchedulerInitiated,
                &reason,
            )
            .await
            {
                Ok(_) => stopped.push(id.clone()),
                Err(e) => {
                    tracing::warn!(task = %id, error = %e.message, "stopping a service task failed")
                }
            }
        }
        if !stopped.is_empty() {
            events.push(format!(
                "(service {}) has stopped {} running tasks: {}.",
                svc.service_name,
                stopped.len(),
                task_list(&stopped)
            ));
        }
    }

    async fn start(
        &mut self,
        scope: &Scope,
        key: &str,
        svc: &ServiceRecord,
        primary: &service::Deployment,
        actions: &Actions,
        events: &mut Vec<String>,
    ) {
        if actions.start == 0 && actions.start_on.is_empty() {
            return;
        }
        let name = &svc.service_name;
        let launch = match launch_of(
            &self.state,
            scope,
            svc,
            &primary.task_definition,
            &primary.id,
        ) {
            Ok(l) => l,
            Err(e) => {
                events.push(format!(
                    "(service {name}) failed to launch a task: {}",
                    e.message
                ));
                return;
            }
        };
        let mut started: Vec<String> = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        let strategies = strategies_of(svc);
        let mut attempts: Vec<(usize, Option<String>)> = Vec::new();
        if actions.start > 0 {
            attempts.push((actions.start as usize, None));
        }
        attempts.extend(actions.start_on.iter().map(|a| (1, Some(a.clone()))));
        for (count, only) in attempts {
            let only_slice = only.as_ref().map(std::slice::from_ref);
            match launch_tasks(
                &self.state,
                scope,
                &launch,
                count,
                &strategies,
                only_slice,
                None,
            )
            .await
            {
                Ok((tasks, failures)) => {
                    started.extend(
                        tasks
                            .iter()
                            .map(|t| t.task_arn.rsplit('/').next().unwrap_or("").to_string()),
                    );
                    if tasks.len() < count {
                        if let Some(arn) = &only {
                            let changes = placement_stamp(&self.state);
                            self.daemon_misses
                                .insert((key.to_string(), arn.clone()), changes);
                        }
                        reasons.extend(
                            failures
                                .iter()
                                .filter_map(|f| f["reason"].as_str().map(String::from)),
                        );
                    }
                }
                Err(e) => reasons.push(e.message.clone()),
            }
        }
        if !started.is_empty() {
            events.push(format!(
                "(service {name}) has started {} tasks: {}.",
                started.len(),
                task_list(&started)
            ));
        }
        reasons.sort();
        reasons.dedup();
        if !reasons.is_empty() {
            events.push(format!(
                "(service {name}) was unable to place a task because no container instance met \
                 all of its requirements. Reason: {}",
                reasons.join(" ")
            ));
        }
    }

    /// The circuit breaker tripped: fail the deployment and, with rollback, return to the
    /// last completed one.
    async fn trip(
        &self,
        key: &str,
        svc: &ServiceRecord,
        primary: &service::Deployment,
        rollback: bool,
        failed: i64,
    ) -> Result<(), AwsError> {
        let now = Utc::now();
        let name = svc.service_name.clone();
        let id = primary.id.clone();
        super::update(&self.state, key, |s| {
            let Some(p) = s.primary_mut() else {
                return Ok(false);
            };
            if p.id != id || p.rollout_state != service::IN_PROGRESS {
                return Ok(false);
            }
            p.failed_tasks = p.failed_tasks.max(failed);
            s.push_event(
                format!(
                    "(service {name}) (deployment {id}) deployment failed: tasks failed to start."
                ),
                now,
            );
            let reason = "ECS deployment circuit breaker: tasks failed to start.";
            if rollback && super::roll_back(s, now, reason).is_ok() {
                return Ok(true);
            }
            let p = s.primary_mut().expect("primary checked above");
            p.rollout_state = service::FAILED.into();
            p.rollout_state_reason = reason.into();
            p.deployment_status = "STOPPED".into();
            p.status_reason = Some(reason.into());
            p.stopped_at = Some(now);
            p.updated_at = now;
            Ok(true)
        })
        .await?;
        Ok(())
    }
}

/// What one pass of the controller found and did, to be written into the service record.
struct Pass {
    /// The primary deployment the pass acted for.
    primary: String,
    /// Failed tasks of the primary deployment.
    failed: i64,
    /// A DAEMON service's desired count: its eligible ACTIVE instances.
    daemon_desired: Option<i64>,
    events: Vec<String>,
    /// Tasks desired RUNNING.
    live: usize,
    /// Tasks not stopped yet per deployment id (on instances that are not lost).
    remaining: HashMap<String, usize>,
    /// Whether the pass started or stopped anything.
    acted: bool,
    /// Whether the primary runs exactly its desired count, all healthy.
    primary_ok: bool,
}

/// Write what a pass found into the service record: events, the failed count, the
/// DAEMON desired count, deployments without tasks retired, a finished deployment
/// COMPLETED, the steady state, a drained service INACTIVE. Whether anything changed.
fn record(s: &mut ServiceRecord, pass: &Pass, now: DateTime<Utc>) -> bool {
    let before = s.clone();
    match s.primary_mut() {
        // A new deployment started since the pass read the service: the next pass
        // decides for it.
        Some(p) if p.id == pass.primary => p.failed_tasks = p.failed_tasks.max(pass.failed),
        _ => return false,
    }
    if let Some(n) = pass.daemon_desired {
        if s.status == service::ACTIVE && s.desired_count != n {
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
        .filter(|d| d.status != service::PRIMARY && remaining(&d.id) == 0)
        .map(|d| d.id.clone())
        .collect();
    for id in idle {
        s.retire(&id, now);
    }
    // A deleted service is INACTIVE once all its tasks are stopping or stopped.
    if s.status == service::DRAINING {
        if pass.live == 0 {
            s.status = service::INACTIVE.into();
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

/// A number that changes whenever an instance record or an agent connection changes or a
/// task releases resources: what decides whether a placement that did not fit may fit now.
fn placement_stamp(state: &State) -> u64 {
    state.instances().changes() + state.agents().changes() + state.task_index().released()
}

/// Mark the primary deployment COMPLETED (once), and a deployment it rolled back from
/// as rolled back.
fn complete(s: &mut ServiceRecord, now: DateTime<Utc>) {
    let name = s.service_name.clone();
    let Some(p) = s.primary_mut() else {
        return;
    };
    if p.rollout_state != service::IN_PROGRESS {
        return;
    }
    p.rollout_state = service::COMPLETED.into();
    p.rollout_state_reason = format!("ECS deployment {} completed.", p.id);
    p.deployment_status = "SUCCESSFUL".into();
    p.finished_at = Some(now);
    p.updated_at = now;
    let id = p.id.clone();
    for d in s.history.iter_mut() {
        if d.deployment_status == "ROLLBACK_IN_PROGRESS" {
            d.deployment_status = "ROLLBACK_SUCCESSFUL".into();
            d.finished_at = Some(now);
        }
    }
    s.push_event(
        format!("(service {name}) (deployment {id}) deployment completed."),
        now,
    );
}

fn task_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("(task {id})"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stopped reason of a task the controller replaced because its health checks failed.
const UNHEALTHY_REASON: &str = "Task failed container health checks.";

/// Whether a running task's health checks failed after its grace period.
fn unhealthy(t: &TaskRecord, grace_seconds: i64, now: DateTime<Utc>) -> bool {
    t.desired_status == TaskStatus::Running
        && t.health_status == HealthStatus::Unhealthy
        && t.started_at
            .is_none_or(|s| now - s >= chrono::Duration::seconds(grace_seconds))
}

/// When a task stopped on its own (not stopped by a user or by the scheduler, other than
/// for failed health checks): a failure for the circuit breaker and the backoff.
fn failed_at(t: &TaskRecord) -> Option<DateTime<Utc>> {
    let own = match t.stop_code {
        Some(StopCode::UserInitiated) => false,
        Some(StopCode::ServiceSchedulerInitiated) => {
            t.stopped_reason.as_deref() == Some(UNHEALTHY_REASON)
        }
        _ => true,
    };
    (t.last_status == TaskStatus::Stopped && own)
        .then(|| t.stopped_at.or(t.stopping_at).unwrap_or(t.created_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_model::service::{DeploymentConfiguration, REPLICA};

    fn service() -> ServiceRecord {
        let now = Utc::now();
        let mut s = ServiceRecord {
            service_arn: "arn:aws:ecs:us-east-1:000000000000:service/c/web".into(),
            service_name: "web".into(),
            cluster_arn: "arn:aws:ecs:us-east-1:000000000000:cluster/c".into(),
            status: service::ACTIVE.into(),
            desired_count: 2,
            launch_type: "EC2".into(),
            task_definition: "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1".into(),
            scheduling_strategy: REPLICA.into(),
            deployment_configuration: DeploymentConfiguration::default_for(REPLICA),
            placement_constraints: vec![],
            placement_strategy: vec![],
            load_balancers: vec![],
            service_registries: vec![],
            health_check_grace_period_seconds: None,
            network_configuration: None,
            propagate_tags: "NONE".into(),
            enable_ecs_managed_tags: false,
            enable_execute_command: false,
            tags: vec![],
            created_at: now,
            created_by: "me".into(),
            client_token: None,
            deployments: vec![],
            history: vec![],
            revisions: vec![],
            events: vec![],
            steady: false,
        };
        super::super::start_deployment(&mut s, now, None);
        s
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
            (d.rollout_state.as_str(), d.deployment_status.as_str()),
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
        super::super::start_deployment(&mut s, Utc::now(), None);
        let new = s.primary().unwrap().id.clone();
        super::super::roll_back(&mut s, Utc::now(), "breaker").unwrap();
        let back = s.primary().unwrap().id.clone();
        assert_eq!(s.deployments.len(), 3);
        assert_eq!(s.deployment(&new).unwrap().rollout_state, "FAILED");
        // The old deployment still runs its tasks; the failed one has none left.
        apply(&mut s, &[(&old, 2), (&back, 2)], true, false);
        assert_eq!(s.deployments.len(), 2);
        assert_eq!(s.history[0].id, new);
        apply(&mut s, &[(&back, 2)], false, true);
        assert_eq!(s.deployments.len(), 1);
        assert_eq!(s.primary().unwrap().rollout_state, "COMPLETED");
        let failed = s.deployment(&new).unwrap();
        assert_eq!(failed.deployment_status, "ROLLBACK_SUCCESSFUL");
    }

    #[test]
    fn a_draining_service_turns_inactive_when_no_task_is_left() {
        let mut s = service();
        let id = s.primary().unwrap().id.clone();
        s.status = service::DRAINING.into();
        assert!(!apply(&mut s, &[(&id, 1)], true, false));
        assert!(apply(&mut s, &[], false, true));
        assert_eq!(s.status, service::INACTIVE);
        assert!(s.deployments.is_empty());
        assert_eq!(s.history[0].status, "INACTIVE");
    }

    #[test]
    fn a_pass_for_a_replaced_primary_writes_nothing() {
        let mut s = service();
        let p = pass(&s, &[], false, true);
        super::super::start_deployment(&mut s, Utc::now(), None);
        let before = s.clone();
        assert!(!record(&mut s, &p, Utc::now()));
        assert_eq!(s, before);
    }
}
