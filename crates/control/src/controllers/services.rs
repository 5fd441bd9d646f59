//! The service controller: on the leader, it reconciles each service with its tasks and
//! acts — starts the tasks a deployment lacks (through the scheduler and the plan
//! applier, as RunTask does), stops what a deployment, a scale-down or a draining instance
//! no longer needs, trips the circuit breaker, finishes deployments and writes the
//! service's events. It runs on the controller runtime (`runtime.rs`), one service per
//! key: a service is woken when its record changes, when one of its tasks changes, or
//! when an instance or agent connection of its cluster changes ([`wakes`]), and at least
//! once a second (backoffs and grace periods are timed). Each reconcile reads only the
//! views, so it is idempotent: one that fails half-way is simply done again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use flotilla_model::service::{
    self, circuit_breaker_threshold, RolloutState, ServiceRecord, ServiceStatus,
};
use flotilla_model::task::{StopCause, StopCode, TaskRecord, TaskStatus};
use flotilla_model::{Arn, Scope};
use tokio::sync::{mpsc, watch};

use flotilla_scheduler::deployment::{
    self as plan, Actions, DaemonHost, Failures, Host, Replica, TaskState, Why,
};

use super::hosts::Hosts;
use super::runtime::{self, Action, Reconciler, Wake};
use crate::ecs::services::{
    self as services, cluster_of, launch_of, shift, strategies_of, tasks_by_provider, ClusterTasks,
};
use crate::ecs::{express, tasks};
use crate::placement::{self, Placement};
use crate::{keys, ControlError, State};

mod bluegreen;
mod record;
mod registries;
pub(crate) mod states;
mod targets;
mod task_sets;

use states::task_states;

use record::{record, Pass};

/// Every service is reconciled at least this often: launch backoffs, health check grace
/// periods and the disconnect grace are timed.
const RESYNC: Duration = Duration::from_secs(1);

/// Run the service controller while `leader` says this process leads, until `shutdown`.
pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (fed, until) = (state.clone(), shutdown.clone());
    let feed = move |tx| wakes(fed, tx, until);
    let controller = Arc::new(ServiceController::new(state));
    runtime::run_fed(controller, feed, leader, shutdown)
}

/// Feed the runtime: a changed service wakes itself; a changed task wakes its service
/// (by its `service:NAME` group); a changed instance or agent connection wakes every
/// service of its cluster.
async fn wakes(
    state: State,
    tx: mpsc::UnboundedSender<Wake<String>>,
    shutdown: watch::Receiver<bool>,
) {
    let sources = vec![
        (Kind::Service, state.services().key_changes()),
        (Kind::Task, state.tasks().key_changes()),
        (Kind::Cluster, state.instances().key_changes()),
        (Kind::Cluster, state.agents().key_changes()),
    ];
    let woken = |kind, key: &[u8]| services_woken(&state, kind, key);
    runtime::feed(sources, woken, tx, shutdown).await
}

/// What kind of key a change names.
#[derive(Clone, Copy)]
enum Kind {
    Service,
    Task,
    /// A key of an instance or agent: it concerns its whole cluster.
    Cluster,
}

/// The service keys a change of `key` wakes.
fn services_woken(state: &State, kind: Kind, key: &[u8]) -> Vec<String> {
    let key = String::from_utf8_lossy(key);
    match kind {
        Kind::Service => vec![key.into_owned()],
        Kind::Task => {
            let Some((region, cluster, _)) = keys::in_cluster_parts(keys::TASKS, &key) else {
                return vec![];
            };
            let group = state.tasks().get(key.as_bytes()).and_then(|e| {
                e.value
                    .group
                    .as_deref()
                    .and_then(|g| g.strip_prefix("service:"))
                    .map(String::from)
            });
            group
                .map(|name| keys::service(region, cluster, &name))
                .into_iter()
                .collect()
        }
        Kind::Cluster => {
            let parts = keys::in_cluster_parts(keys::CONTAINER_INSTANCES, &key)
                .or_else(|| keys::in_cluster_parts(keys::AGENTS, &key));
            let Some((region, cluster, _)) = parts else {
                return vec![];
            };
            let prefix = keys::in_cluster(keys::SERVICES, region, cluster);
            state
                .services()
                .range(prefix.as_bytes())
                .into_iter()
                .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
                .collect()
        }
    }
}

/// The service controller's reconciler. It keeps only what it cannot read back from the
/// store (when it first saw an agent disconnected, and which DAEMON placements did not
/// fit), so a new leader carries on where the old one stopped.
struct ServiceController {
    state: State,
    /// Where instances stand (when each agent was first seen disconnected).
    hosts: Hosts,
    /// DAEMON placements that did not fit, by (service, instance), with the
    /// [`placement_stamp`] then: not retried until an instance, an agent connection or
    /// a task's resources change.
    daemon_misses: Mutex<HashMap<(String, String), u64>>,
    /// Each cluster's service tasks as last read, with the tasks view's change counter
    /// then: the services of one cluster, each requeued every second, share one read
    /// until a task changes.
    cluster_tasks: Mutex<HashMap<String, (u64, Arc<ClusterTasks>)>>,
}

impl Reconciler for ServiceController {
    type Key = String;

    fn name(&self) -> &'static str {
        "services"
    }

    fn keys(&self) -> Vec<String> {
        self.state
            .services()
            .range(keys::SERVICES.as_bytes())
            .into_iter()
            .filter(|(_, e)| {
                e.value.status != ServiceStatus::Inactive || express::needs_removal(&e.value)
            })
            .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
            .collect()
    }

    async fn reconcile(&self, key: &String) -> Result<Action, ControlError> {
        let Some(entry) = self.state.services().get(key.as_bytes()) else {
            return Ok(Action::AwaitChange);
        };
        let svc = &entry.value;
        if svc.status == ServiceStatus::Inactive {
            // An express service's load balancer outlives its tasks, not its service.
            express::remove_infrastructure(&self.state, key, svc).await?;
            return Ok(Action::AwaitChange);
        }
        let region = Arn::parse(&svc.service_arn)
            .map(|a| a.region)
            .unwrap_or_default();
        let tasks = self.cluster_tasks(&region, cluster_of(svc)).of(svc);
        if svc.is_external() {
            self.reconcile_task_sets(key, svc, tasks).await?;
            return Ok(Action::Requeue(RESYNC));
        }
        self.reconcile_service(key, svc, tasks).await?;
        Ok(Action::Requeue(RESYNC))
    }
}

/// What a pass learned about one task's instance.
struct Instances {
    by_arn: HashMap<String, Host>,
}

impl ServiceController {
    fn new(state: State) -> Self {
        ServiceController {
            state,
            hosts: Hosts::default(),
            daemon_misses: Mutex::default(),
            cluster_tasks: Mutex::default(),
        }
    }

    /// The service tasks of a cluster, read again only when some task changed.
    fn cluster_tasks(&self, region: &str, cluster: &str) -> Arc<ClusterTasks> {
        // Read the counter first: a change after it makes the next call read again.
        let stamp = self.state.tasks().changes();
        let key = format!("{region}/{cluster}");
        let mut cache = self
            .cluster_tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((at, tasks)) = cache.get(&key) {
            if *at == stamp {
                return tasks.clone();
            }
        }
        let tasks = Arc::new(ClusterTasks::load(&self.state, region, cluster));
        cache.insert(key, (stamp, tasks.clone()));
        tasks
    }

    /// Where the instances of a cluster stand, noting agents that disconnected.
    fn instances(&self, region: &str, cluster: &str) -> Instances {
        Instances {
            by_arn: self.hosts.of(&self.state, region, cluster),
        }
    }

    async fn reconcile_service(
        &self,
        key: &str,
        svc: &ServiceRecord,
        tasks: Vec<std::sync::Arc<TaskRecord>>,
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
        let Some(primary) = svc.primary().cloned() else {
            return Ok(());
        };
        let instances = self.instances(&scope.region, &cluster);
        let now = state.clock().now();
        let (states, lb_unhealthy) = task_states(&state, &scope, svc, &tasks, &instances, now);
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
            && primary.in_progress()
            && failed_total >= circuit_breaker_threshold(desired)
        {
            return self
                .trip(key, svc, &primary, breaker.rollback, failed_total)
                .await;
        }
        let failed = primary.rollout_state() == RolloutState::Failed;
        let config = state.config();
        let backoff_until =
            failures.backoff_until(config.service_backoff_base, config.service_backoff_max);
        let may_start = !failed && backoff_until.is_none_or(|t| now >= t);
        let shifting = shift::shifts(svc);
        let traffic_ok = !shifting || bluegreen::apply_traffic(&state, &scope, svc).await;
        let held = if shifting {
            bluegreen::held(svc, traffic_ok, now)
        } else {
            vec![]
        };
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
            let replica = Replica {
                desired,
                config: &primary.deployment_configuration,
                primary: &primary.id,
                may_start,
                may_retire: !failed,
                tasks: &states,
            };
            if held.is_empty() {
                plan::replica(&replica)
            } else {
                flotilla_scheduler::bluegreen::replica(&replica, &held)
            }
        };
        let mut events = Vec::new();
        let registry = registries::Registry::of(&state, svc);
        self.stop(
            &scope,
            &cluster,
            svc,
            &tasks,
            &actions,
            &lb_unhealthy,
            registry.as_ref(),
            &mut events,
        )
        .await;
        self.start(&scope, key, svc, &primary, &actions, &mut events)
            .await;
        register(
            &state,
            &scope,
            svc,
            &tasks,
            &states,
            registry.as_ref(),
            &mut events,
        )
        .await?;
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
        services::update(&state, key, |s| {
            let moved = traffic_ok && bluegreen::advance(s, &pass.primary, pass.primary_ok, now);
            let recorded = record(s, &pass, now);
            Ok(moved | recorded | shift::swap_when_complete(s))
        })
        .await?;
        Ok(())
    }

    /// The instances a DAEMON service wants a task on, skipping those where placement
    /// failed until an instance changes.
    fn daemon_hosts(
        &self,
        key: &str,
        svc: &ServiceRecord,
        instances: &Instances,
        changes: u64,
    ) -> Vec<DaemonHost> {
        let misses = self
            .daemon_misses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        instances
            .by_arn
            .iter()
            .map(|(arn, host)| {
                let missed = misses
                    .get(&(key.to_string(), arn.clone()))
                    .is_some_and(|c| *c == changes);
                DaemonHost {
                    arn: arn.clone(),
                    host: *host,
                    eligible: svc.status == ServiceStatus::Active && !missed,
                }
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    async fn stop(
        &self,
        scope: &Scope,
        cluster: &str,
        svc: &ServiceRecord,
        tasks: &[Arc<TaskRecord>],
        actions: &Actions,
        lb_unhealthy: &HashMap<String, String>,
        registry: Option<&registries::Registry<'_>>,
        events: &mut Vec<String>,
    ) {
        let mut stopped = Vec::new();
        for (id, why) in &actions.stop {
            // Deregister first: the task keeps running until its targets have drained
            // and its DNS records have expired from every cache.
            let mut drain = false;
            if let Some(t) = tasks
                .iter()
                .find(|t| t.task_arn.ends_with(&format!("/{id}")))
            {
                drain = targets::deregister(&self.state, scope, svc, t, events).await > 0;
                if let Some(r) = registry {
                    drain |= r.deregister(&self.state, svc, t, events).await;
                }
            }
            let lb_event = lb_unhealthy.get(id);
            if let (Why::Unhealthy, Some(event)) = (why, lb_event) {
                events.push(event.clone());
            }
            let (cause, reason) = match why {
                Why::Replaced => (
                    StopCause::Replaced,
                    format!(
                        "Scaling activity initiated by (deployment {})",
                        svc.primary().map(|d| d.id.as_str()).unwrap_or("")
                    ),
                ),
                Why::ScaleDown => (
                    StopCause::ScaledDown,
                    "Service scaled down: more tasks ran than desired.".into(),
                ),
                Why::Draining => (
                    StopCause::Draining,
                    "Container instance is draining; the task was replaced.".into(),
                ),
                Why::Unhealthy => (
                    StopCause::Unhealthy,
                    match lb_event.and_then(|_| svc.load_balancers.first()) {
                        Some(lb) => format!(
                            "Task failed ELB health checks in (target-group {})",
                            lb.target_group_arn.as_deref().unwrap_or_default()
                        ),
                        None => "Task failed container health checks.".into(),
                    },
                ),
                Why::Lost => (
                    StopCause::InstanceLost,
                    "Container instance stayed disconnected; the task was replaced elsewhere."
                        .into(),
                ),
            };
            let stop = tasks::Stop {
                code: StopCode::ServiceSchedulerInitiated,
                cause,
                reason: &reason,
                drain,
            };
            match tasks::stop(&self.state, scope, cluster, id, stop).await {
                Ok(_) => stopped.push(id.clone()),
                Err(e) => {
                    tracing::warn!(task = %id, error = %e, "stopping a service task failed")
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
        &self,
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
                events.push(format!("(service {name}) failed to launch a task: {e}"));
                return;
            }
        };
        let mut started: Vec<String> = Vec::new();
        let mut reasons: Vec<String> = Vec::new();
        let strategies = strategies_of(svc);
        let by_provider = tasks_by_provider(&self.state, &scope.region, svc);
        let mut attempts: Vec<(usize, Option<String>)> = Vec::new();
        if actions.start > 0 {
            attempts.push((actions.start as usize, None));
        }
        attempts.extend(actions.start_on.iter().map(|a| (1, Some(a.clone()))));
        for (count, only) in attempts {
            let placement = Placement {
                count,
                strategies: &strategies,
                only: only.as_ref().map(std::slice::from_ref),
                client_token: None,
                provider_tasks: Some(&by_provider),
            };
            match placement::launch(&self.state, scope, &launch, placement).await {
                Ok(placement::Launched { tasks, failures }) => {
                    started.extend(
                        tasks
                            .iter()
                            .map(|t| t.task_arn.rsplit('/').next().unwrap_or("").to_string()),
                    );
                    if tasks.len() < count {
                        if let Some(arn) = &only {
                            let changes = placement_stamp(&self.state);
                            self.daemon_misses
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .insert((key.to_string(), arn.clone()), changes);
                        }
                        reasons.extend(failures.into_iter().map(|f| f.reason));
                    }
                }
                Err(e) => reasons.push(e.to_string()),
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
    ) -> Result<(), ControlError> {
        let now = self.state.clock().now();
        let name = svc.service_name.clone();
        let id = primary.id.clone();
        services::update(&self.state, key, |s| {
            let Some(p) = s.primary_mut() else {
                return Ok(false);
            };
            if p.id != id || !p.in_progress() {
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
            if rollback && services::roll_back(s, now, reason).is_ok() {
                return Ok(true);
            }
            if let Some(p) = s.primary_mut() {
                p.fail(reason, reason, now);
            }
            Ok(true)
        })
        .await?;
        Ok(())
    }
}

/// Register a service's RUNNING tasks with its load balancers and its healthy ones with
/// Cloud Map, and settle the tasks that are stopping ([`settle_stopping`]).
async fn register(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    tasks: &[Arc<TaskRecord>],
    states: &[TaskState],
    registry: Option<&registries::Registry<'_>>,
    events: &mut Vec<String>,
) -> Result<(), ControlError> {
    let balanced = targets::balanced(state, scope, svc);
    if balanced {
        targets::register_running(state, scope, svc, tasks, events).await;
    }
    if let Some(r) = registry {
        let healthy: HashSet<String> = states
            .iter()
            .filter(|t| t.live && t.healthy)
            .map(|t| t.id.clone())
            .collect();
        r.register_healthy(state, scope, svc, tasks, &healthy, events)
            .await;
    }
    if balanced || registry.is_some() {
        settle_stopping(state, scope, svc, tasks, registry, events).await?;
    }
    Ok(())
}

/// A number that changes whenever an instance record or an agent connection changes or a
/// task releases resources: what decides whether a placement that did not fit may fit now.
/// Deregister the tasks that are stopping without having been (a user stopped them, they
/// exited) from their load balancers and Cloud Map, and let the tasks held for draining
/// stop once their targets have drained and their DNS records have expired.
async fn settle_stopping(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
    tasks: &[Arc<TaskRecord>],
    registry: Option<&registries::Registry<'_>>,
    events: &mut Vec<String>,
) -> Result<(), ControlError> {
    let report = state.elbv2().health();
    let now = state.clock().now();
    for t in tasks {
        if t.desired_status != TaskStatus::Stopped {
            continue;
        }
        if !t.awaiting_drain {
            targets::deregister(state, scope, svc, t, events).await;
            if let Some(r) = registry {
                r.deregister(state, svc, t, events).await;
            }
            continue;
        }
        if let Some(r) = registry {
            // Held but still registered (its deregistration failed): now.
            r.deregister(state, svc, t, events).await;
        }
        let drained = targets::drained_all(state, scope, svc, t, &report, now);
        if drained && registry.is_none_or(|r| r.expired(state, t, now)) {
            let cluster = t.cluster_arn.rsplit('/').next().unwrap_or_default();
            let id = t.task_arn.rsplit('/').next().unwrap_or_default();
            tasks::release(state, &keys::task(&scope.region, cluster, id)).await?;
        }
    }
    Ok(())
}

pub(crate) fn placement_stamp(state: &State) -> u64 {
    state.instances().changes() + state.agents().changes() + state.task_index().released()
}

fn task_list(ids: &[String]) -> String {
    ids.iter()
        .map(|id| format!("(task {id})"))
        .collect::<Vec<_>>()
        .join(" ")
}
