//! The daemon controller: on the leader, it keeps one task of each daemon's current
//! revision on every container instance of the revision's capacity providers. One daemon
//! per key: a daemon is woken when its record changes, when one of its tasks changes, or
//! when an instance or agent connection of its cluster changes ([`wakes`]), and every
//! second. A reconcile asks the DAEMON planner (`flotilla_scheduler::deployment::daemon`,
//! the one DAEMON services use) what to start and stop, with `drainPercent` of the
//! instances replaced at once; starts tasks through the typed launch on one instance
//! each, as StartTask places; drains the instance of a critical daemon whose task failed;
//! advances the current deployment (IN_PROGRESS, then SUCCESSFUL after the bake time);
//! and removes a deleted daemon once its tasks have stopped.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_model::capacity_provider::{self as cp, StrategyItem};
use flotilla_model::container_instance;
use flotilla_model::daemon::{DaemonRecord, DeploymentStatus, Revision};
use flotilla_model::service::{CircuitBreaker, DeploymentConfiguration};
use flotilla_model::task::{StopCause, StopCode, TaskRecord, TaskStatus};
use flotilla_model::{Arn, Scope};
use flotilla_scheduler::deployment::{self as plan, DaemonHost, Failures, Host, TaskState, Why};
use flotilla_store::{Compare, Op, Txn};
use tokio::sync::{mpsc, watch};

use super::hosts::Hosts;
use super::runtime::{self, Action, Reconciler, Wake};
use super::services::placement_stamp;
use super::services::states::failed_at;
use crate::ecs::daemons::{self, provider_instances};
use crate::ecs::services::healthy;
use crate::ecs::{container_instances, tasks};
use crate::placement::{self, Placement};
use crate::{keys, ControlError, State};

/// Every daemon is reconciled at least this often (launch backoffs, bake times, the
/// disconnect grace are timed).
const RESYNC: Duration = Duration::from_secs(1);

/// Run the daemon controller while `leader` says this process leads, until `shutdown`.
pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (fed, until) = (state.clone(), shutdown.clone());
    let feed = move |tx| wakes(fed, tx, until);
    let controller = Arc::new(DaemonController {
        state,
        hosts: Hosts::default(),
        misses: Mutex::default(),
        drained_for: Mutex::default(),
    });
    runtime::run_fed(controller, feed, leader, shutdown)
}

/// Feed the runtime: a changed daemon wakes itself; a changed task wakes its daemon (by
/// its `daemon:NAME` group); a changed instance or agent connection wakes every daemon of
/// its cluster.
async fn wakes(
    state: State,
    tx: mpsc::UnboundedSender<Wake<String>>,
    shutdown: watch::Receiver<bool>,
) {
    let sources = vec![
        (keys::DAEMONS, state.daemons().key_changes()),
        (keys::TASKS, state.tasks().key_changes()),
        (keys::CONTAINER_INSTANCES, state.instances().key_changes()),
        (keys::AGENTS, state.agents().key_changes()),
    ];
    let woken = |prefix, key: &[u8]| woken(&state, prefix, &String::from_utf8_lossy(key));
    runtime::feed(sources, woken, tx, shutdown).await
}

/// The daemon keys a change of `key` (under `prefix`) wakes.
fn woken(state: &State, prefix: &str, key: &str) -> Vec<String> {
    if prefix == keys::DAEMONS {
        return vec![key.to_string()];
    }
    let Some((region, cluster, _)) = keys::in_cluster_parts(prefix, key) else {
        return vec![];
    };
    if prefix == keys::TASKS {
        let name = state.tasks().get(key.as_bytes()).and_then(|e| {
            let g = e.value.group.as_deref()?.strip_prefix("daemon:")?;
            Some(g.to_string())
        });
        return name
            .map(|n| keys::daemon(region, cluster, &n))
            .into_iter()
            .collect();
    }
    let prefix = keys::in_cluster(keys::DAEMONS, region, cluster);
    (state.daemons().range(prefix.as_bytes()).into_iter())
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect()
}

struct DaemonController {
    state: State,
    hosts: Hosts,
    /// Placements that did not fit, by (daemon, instance), with the placement stamp
    /// then: not retried until an instance, an agent connection or a task's resources
    /// change.
    misses: Mutex<HashMap<(String, String), u64>>,
    /// Failed tasks of critical daemons whose instance was drained already (so an
    /// instance made ACTIVE again is not drained again for the same task).
    drained_for: Mutex<HashSet<String>>,
}

impl Reconciler for DaemonController {
    type Key = String;

    fn name(&self) -> &'static str {
        "daemons"
    }

    fn keys(&self) -> Vec<String> {
        (self
            .state
            .daemons()
            .range(keys::DAEMONS.as_bytes())
            .into_iter())
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect()
    }

    async fn reconcile(&self, key: &String) -> Result<Action, ControlError> {
        let Some(entry) = self.state.daemons().get(key.as_bytes()) else {
            return Ok(Action::AwaitChange);
        };
        let d = &entry.value;
        let arn = Arn::parse(&d.daemon_arn).ok_or_else(|| {
            ControlError::Store(format!("stored daemon ARN {} is malformed", d.daemon_arn))
        })?;
        let scope = Scope::new(arn.region.clone(), arn.account.clone());
        self.reconcile_daemon(&scope, key, entry.mod_revision, d)
            .await?;
        Ok(Action::Requeue(RESYNC))
    }
}

/// The planner's configuration for `wanted` instances: as many may be without a healthy
/// daemon task at once as `drainPercent` allows (at least one).
fn planner_config(d: &DaemonRecord, wanted: i64) -> DeploymentConfiguration {
    let config = d
        .current()
        .map(|c| c.deployment_configuration.clone())
        .unwrap_or_default();
    let min = if wanted == 0 {
        0
    } else {
        (wanted - config.at_once(wanted)) * 100 / wanted
    };
    DeploymentConfiguration {
        deployment_circuit_breaker: CircuitBreaker::default(),
        maximum_percent: 100,
        minimum_healthy_percent: min,
    }
}

impl DaemonController {
    async fn reconcile_daemon(
        &self,
        scope: &Scope,
        key: &str,
        mod_revision: i64,
        d: &DaemonRecord,
    ) -> Result<(), ControlError> {
        let state = &self.state;
        let region = &scope.region;
        let cluster = d.cluster().to_string();
        let by_arn = self.hosts.of(state, region, &cluster);
        let instances = daemons::instances_of(state, region, &cluster);
        let tasks = daemons::tasks_of(state, region, d);
        let states = task_states(state, &tasks, &by_arn);
        let target = d.target();
        let primary = target.map(|r| r.id.clone()).unwrap_or_default();
        let stamp = placement_stamp(state);
        let hosts: Vec<DaemonHost> = match target {
            None => vec![],
            Some(rev) => (rev.capacity_providers.iter())
                .flat_map(|p| provider_instances(&instances, p))
                .map(|i| {
                    let arn = i.container_instance_arn.clone();
                    let missed = (self.misses.lock().unwrap_or_else(PoisonError::into_inner))
                        .get(&(key.to_string(), arn.clone()))
                        .is_some_and(|s| *s == stamp);
                    DaemonHost {
                        host: by_arn.get(&arn).copied().unwrap_or(Host::Lost),
                        arn,
                        eligible: !missed,
                    }
                })
                .collect(),
        };
        let wanted = (hosts.iter()).filter(|h| h.host == Host::Active).count() as i64;
        let now = state.clock().now();
        let failures = Failures::of(&states, &primary);
        let config = state.config();
        let may_start = target.is_some()
            && (failures.backoff_until(config.service_backoff_base, config.service_backoff_max))
                .is_none_or(|t| now >= t);
        let actions = plan::daemon(
            &hosts,
            &planner_config(d, wanted),
            &primary,
            may_start,
            &states,
        );
        self.stop(scope, &cluster, d, &actions.stop).await;
        if let Some(rev) = target {
            let on: Vec<(String, Option<String>)> = (actions.start_on.iter())
                .map(|arn| {
                    let provider = (instances.iter())
                        .find(|i| &i.container_instance_arn == arn)
                        .and_then(|i| i.attribute(cp::ATTRIBUTE).map(str::to_string));
                    (arn.clone(), provider)
                })
                .collect();
            self.start(scope, key, d, rev, &on, stamp).await;
            if rev.critical {
                self.drain_failed(scope, &cluster, &tasks, &instances).await;
            }
        }
        self.advance(key, mod_revision, d, &hosts, &states, now)
            .await
    }

    async fn stop(&self, scope: &Scope, cluster: &str, d: &DaemonRecord, stops: &[(String, Why)]) {
        let deployment = d.current().map(|c| c.id.as_str()).unwrap_or("");
        for (id, why) in stops {
            let (cause, reason) = match why {
                Why::Draining => (
                    StopCause::Draining,
                    "Container instance is draining.".to_string(),
                ),
                Why::Lost => (
                    StopCause::InstanceLost,
                    "Container instance stayed disconnected.".to_string(),
                ),
                Why::Replaced => (
                    StopCause::Replaced,
                    format!("Replaced by (daemon-deployment {deployment})"),
                ),
                Why::ScaleDown | Why::Unhealthy => (
                    StopCause::ScaledDown,
                    format!("Stopped by (daemon-deployment {deployment})"),
                ),
            };
            let stop = tasks::Stop {
                code: StopCode::ServiceSchedulerInitiated,
                cause,
                reason: &reason,
                drain: false,
            };
            if let Err(e) = tasks::stop(&self.state, scope, cluster, id, stop).await {
                tracing::warn!(task = %id, error = %e, "stopping a daemon task failed");
            }
        }
    }

    async fn start(
        &self,
        scope: &Scope,
        key: &str,
        d: &DaemonRecord,
        rev: &Revision,
        on: &[(String, Option<String>)],
        stamp: u64,
    ) {
        if on.is_empty() {
            return;
        }
        let launch = match daemons::launch_of(&self.state, scope, d, rev) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(daemon = %d.daemon_arn, error = %e, "a daemon cannot launch");
                return;
            }
        };
        for (arn, provider) in on {
            // On its instance's provider, so the task names it (and the provider cannot
            // be detached from the cluster while the task runs).
            let mut launch = launch.clone();
            launch.capacity_provider_strategy = (provider.iter())
                .map(|p| StrategyItem {
                    capacity_provider: p.clone(),
                    weight: 1,
                    base: 0,
                })
                .collect();
            let placement = Placement {
                count: 1,
                only: Some(std::slice::from_ref(arn)),
                ..Placement::default()
            };
            let placed = placement::launch(&self.state, scope, &launch, placement).await;
            if !placed.is_ok_and(|l| !l.tasks.is_empty()) {
                (self.misses.lock().unwrap_or_else(PoisonError::into_inner))
                    .insert((key.to_string(), arn.clone()), stamp);
            }
        }
    }

    /// A critical daemon's task stopped on its own: drain its instance, so the other
    /// tasks move away (the instance's latest daemon task, once per task).
    async fn drain_failed(
        &self,
        scope: &Scope,
        cluster: &str,
        tasks: &[Arc<TaskRecord>],
        instances: &[Arc<container_instance::ContainerInstanceRecord>],
    ) {
        for i in instances
            .iter()
            .filter(|i| i.status == container_instance::ACTIVE)
        {
            let latest = (tasks.iter())
                .filter(|t| t.container_instance_arn.as_deref() == Some(&i.container_instance_arn))
                .max_by_key(|t| t.created_at);
            let Some(t) = latest.filter(|t| failed_at(t).is_some()) else {
                continue;
            };
            if !(self
                .drained_for
                .lock()
                .unwrap_or_else(PoisonError::into_inner))
            .insert(t.task_arn.clone())
            {
                continue;
            }
            let drained = match container_instances::find(&self.state, scope, cluster, i.id()) {
                Ok((key, entry)) => {
                    container_instances::set_status(
                        &self.state,
                        &key,
                        &entry,
                        container_instance::DRAINING,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = drained {
                tracing::warn!(instance = %i.container_instance_arn, error = %e,
                    "draining the instance of a failed critical daemon task failed");
            }
        }
    }

    /// Move the current deployment on: IN_PROGRESS once it acts, SUCCESSFUL once every
    /// instance runs the target healthy, nothing else is left and the bake time has
    /// passed; a deleted daemon's record goes once its tasks have stopped.
    async fn advance(
        &self,
        key: &str,
        mod_revision: i64,
        d: &DaemonRecord,
        hosts: &[DaemonHost],
        states: &[TaskState],
        now: DateTime<Utc>,
    ) -> Result<(), ControlError> {
        let Some(current) = d.current() else {
            return Ok(());
        };
        let primary = current.target_revision.clone().unwrap_or_default();
        let others_left =
            (states.iter()).any(|t| t.present && t.host != Host::Lost && t.deployment != primary);
        let placed = hosts.iter().filter(|h| h.host == Host::Active).all(|h| {
            (states.iter())
                .any(|t| t.instance == h.arn && t.deployment == primary && t.live && t.healthy)
        });
        if current.target_revision.is_none() && !others_left {
            // Deleted, and nothing runs any more: the daemon goes.
            let txn = Txn {
                compares: vec![Compare::unchanged(key, mod_revision)],
                success: vec![Op::delete(key)],
                failure: vec![],
            };
            self.state.commit(txn).await?;
            return Ok(());
        }
        if !current.status.live() {
            return Ok(());
        }
        let id = current.id.clone();
        let settled = placed && !others_left;
        daemons::change(&self.state, key, |d| {
            let Some(c) = d.current_mut().filter(|c| c.id == id && c.status.live()) else {
                return Ok(false);
            };
            let mut changed = false;
            if c.status == DeploymentStatus::Pending {
                c.status = DeploymentStatus::InProgress;
                c.started_at = Some(now);
                changed = true;
            }
            if !settled {
                changed |= c.settled_at.take().is_some();
                return Ok(changed);
            }
            let at = *c.settled_at.get_or_insert(now);
            let bake = chrono::Duration::minutes(c.deployment_configuration.bake_time_in_minutes);
            if now - at >= bake {
                c.status = DeploymentStatus::Successful;
                c.status_reason = Some("Every instance runs the daemon revision.".into());
                c.finished_at = Some(now);
            }
            Ok(true)
        })
        .await?;
        Ok(())
    }
}

/// What the planner sees of a daemon's tasks: the revision that started each, its
/// instance, health and failure.
fn task_states(
    state: &State,
    tasks: &[Arc<TaskRecord>],
    by_arn: &HashMap<String, Host>,
) -> Vec<TaskState> {
    let defs = state.definitions();
    tasks
        .iter()
        .map(|t| {
            let checked = defs
                .with(&t.task_definition_arn, |d| {
                    d.container_definitions
                        .iter()
                        .any(|c| c.health_check.is_some())
                })
                .unwrap_or(false);
            TaskState {
                id: t.task_arn.rsplit('/').next().unwrap_or("").to_string(),
                deployment: t.started_by.clone().unwrap_or_default(),
                instance: t.container_instance_arn.clone().unwrap_or_default(),
                host: (t.container_instance_arn.as_ref())
                    .and_then(|a| by_arn.get(a))
                    .copied()
                    .unwrap_or(Host::Lost),
                live: t.desired_status == TaskStatus::Running,
                present: t.last_status < TaskStatus::Stopped,
                healthy: healthy(t, checked),
                unhealthy: false,
                protected: false,
                created_at: t.created_at,
                started_at: t.started_at,
                failed_at: failed_at(t),
            }
        })
        .collect()
}
