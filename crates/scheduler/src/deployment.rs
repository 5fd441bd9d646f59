//! The service controller's decisions as pure functions: given a service's tasks and the
//! state of their instances, which tasks to start and which to stop. No I/O, so every
//! rule of rolling deployments, draining and daemons is unit-tested here.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_model::service::{deployment_bounds, DeploymentConfiguration};

/// Where a task's instance stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Host {
    /// ACTIVE and its agent connected (or disconnected for less than the grace period).
    Active,
    /// DRAINING: its service tasks move elsewhere.
    Draining,
    /// Disconnected past the grace period, deregistered, or unknown: its tasks are lost.
    Lost,
}

/// One task of the service, as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskState {
    pub id: String,
    pub deployment: String,
    pub instance: String,
    pub host: Host,
    /// Desired status RUNNING.
    pub live: bool,
    /// Not stopped yet (whatever its desired status).
    pub present: bool,
    pub healthy: bool,
    /// Its container health checks failed and its grace period is over: replace it.
    pub unhealthy: bool,
    /// Scale-in protected (UpdateTaskProtection, not yet expired): neither a scale-down
    /// nor a deployment stops it.
    pub protected: bool,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    /// When it stopped on its own (a failure), if it did.
    pub failed_at: Option<DateTime<Utc>>,
}

/// Why the controller stops a task; each becomes a stopped reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The task belongs to a deployment being replaced.
    Replaced,
    /// Its instance is draining.
    Draining,
    /// Its instance is lost; the task was replaced elsewhere.
    Lost,
    /// More tasks run than desired.
    ScaleDown,
    /// Its container health checks failed.
    Unhealthy,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Actions {
    /// How many tasks of the primary deployment to start (REPLICA).
    pub start: i64,
    /// Instances to start one primary task on each (DAEMON).
    pub start_on: Vec<String>,
    pub stop: Vec<(String, Why)>,
}

/// What a REPLICA service's controller knows this pass.
pub struct Replica<'a> {
    pub desired: i64,
    pub config: &'a DeploymentConfiguration,
    pub primary: &'a str,
    /// False while the launch backoff runs or after the primary failed.
    pub may_start: bool,
    /// False after the primary failed without rollback: the old tasks stay.
    pub may_retire: bool,
    pub tasks: &'a [TaskState],
}

/// Start and stop decisions for a REPLICA service: bring the primary deployment to the
/// desired count within `maximumPercent` of tasks not yet stopped, and stop tasks of older
/// deployments and of draining instances while `minimumHealthyPercent` stays healthy.
pub fn replica(r: &Replica) -> Actions {
    let mut actions = Actions::default();
    let live: Vec<&TaskState> = r.tasks.iter().filter(|t| t.live).collect();
    for t in &live {
        if t.host == Host::Lost {
            actions.stop.push((t.id.clone(), Why::Lost));
        } else if t.unhealthy {
            actions.stop.push((t.id.clone(), Why::Unhealthy));
        }
    }
    let kept: Vec<&TaskState> = live
        .into_iter()
        .filter(|t| t.host != Host::Lost && !t.unhealthy)
        .collect();
    let (mut primary, retiring): (Vec<&TaskState>, Vec<&TaskState>) = kept
        .into_iter()
        .partition(|t| t.deployment == r.primary && t.host == Host::Active);
    let (max_total, min_healthy) = deployment_bounds(r.desired, r.config);
    // As ECS counts them: every task in PENDING or RUNNING state, including those told to
    // stop whose containers still run, on any instance not lost. The tasks this pass stops
    // still count: they make room once they have stopped.
    let holding = (r.tasks.iter())
        .filter(|t| t.present && t.host != Host::Lost)
        .count() as i64;
    if r.may_start {
        actions.start = (r.desired - primary.len() as i64)
            .min(max_total - holding)
            .max(0);
    }
    // Too many of the primary: stop the ones not yet healthy first, then the newest;
    // protected tasks are left running, so fewer may stop than are in excess.
    let excess = primary.len() as i64 - r.desired;
    let mut healthy = primary.iter().filter(|t| t.healthy).count() as i64;
    if excess > 0 {
        primary.retain(|t| !t.protected);
        primary.sort_by(|a, b| {
            a.healthy
                .cmp(&b.healthy)
                .then(b.created_at.cmp(&a.created_at))
        });
        for t in primary.iter().take(excess as usize) {
            healthy -= i64::from(t.healthy);
            actions.stop.push((t.id.clone(), Why::ScaleDown));
        }
    }
    let why = |t: &TaskState| {
        if t.host == Host::Draining {
            Why::Draining
        } else {
            Why::Replaced
        }
    };
    let retiring: Vec<&TaskState> = retiring
        .into_iter()
        .filter(|t| r.may_retire || t.host == Host::Draining)
        .collect();
    healthy += retiring.iter().filter(|t| t.healthy).count() as i64;
    // A protected task the deployment replaces keeps running (and counts as healthy)
    // until its protection ends; one on a draining instance still moves.
    let retiring: Vec<&TaskState> = retiring
        .into_iter()
        .filter(|t| !t.protected || t.host == Host::Draining)
        .collect();
    // Tasks that are not healthy count for nothing: stop them at once.
    for t in retiring.iter().filter(|t| !t.healthy) {
        actions.stop.push((t.id.clone(), why(t)));
    }
    let mut may_stop = (healthy - min_healthy).max(0);
    let mut old: Vec<&&TaskState> = retiring.iter().filter(|t| t.healthy).collect();
    old.sort_by_key(|t| t.created_at);
    for t in old {
        if may_stop == 0 {
            break;
        }
        actions.stop.push((t.id.clone(), why(t)));
        may_stop -= 1;
    }
    actions
}

/// One instance a DAEMON service considers.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonHost {
    pub arn: String,
    pub host: Host,
    /// The service's placement constraints allow it (and it is ACTIVE).
    pub eligible: bool,
}

/// Start and stop decisions for a DAEMON service: one primary task on every eligible
/// ACTIVE instance; on an instance that runs an older deployment's task, that task stops
/// first (as far as `minimumHealthyPercent` allows) and the new one starts after; tasks on
/// draining or ineligible instances stop.
pub fn daemon(
    hosts: &[DaemonHost],
    config: &DeploymentConfiguration,
    primary: &str,
    may_start: bool,
    tasks: &[TaskState],
) -> Actions {
    let mut actions = Actions::default();
    let live: Vec<&TaskState> = tasks.iter().filter(|t| t.live).collect();
    let wanted: Vec<&DaemonHost> = hosts
        .iter()
        .filter(|h| h.eligible && h.host == Host::Active)
        .collect();
    let desired = wanted.len() as i64;
    let (_, min_healthy) = deployment_bounds(desired, config);
    let mut healthy = live.iter().filter(|t| t.healthy).count() as i64;
    for t in &live {
        let keep =
            wanted.iter().any(|h| h.arn == t.instance) || (t.protected && t.host == Host::Active);
        if !keep && t.host != Host::Lost {
            let why = if t.host == Host::Draining {
                Why::Draining
            } else {
                Why::ScaleDown
            };
            actions.stop.push((t.id.clone(), why));
            healthy -= i64::from(t.healthy);
        }
    }
    for h in wanted {
        let on: Vec<&&TaskState> = live.iter().filter(|t| t.instance == h.arn).collect();
        let (mut new, old): (Vec<&&TaskState>, Vec<&&TaskState>) =
            on.into_iter().partition(|t| t.deployment == primary);
        if new.len() > 1 {
            new.sort_by_key(|t| std::cmp::Reverse(t.created_at));
            for t in new[1..].iter().filter(|t| !t.protected) {
                actions.stop.push((t.id.clone(), Why::ScaleDown));
            }
        }
        if !new.is_empty() {
            for t in old.iter().filter(|t| !t.protected) {
                actions.stop.push((t.id.clone(), Why::Replaced));
            }
            continue;
        }
        if old.is_empty() {
            if may_start {
                actions.start_on.push(h.arn.clone());
            }
            continue;
        }
        // A protected old task holds its instance until its protection ends.
        for t in old.into_iter().filter(|t| !t.protected) {
            if t.healthy {
                if healthy <= min_healthy {
                    continue;
                }
                healthy -= 1;
            }
            actions.stop.push((t.id.clone(), Why::Replaced));
        }
    }
    actions
}

/// Consecutive failures after which launches back off.
pub const BACKOFF_AFTER: i64 = 3;

/// The failed tasks of a deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Failures {
    /// Every task that stopped on its own: what the circuit breaker counts.
    pub total: i64,
    /// Tasks that stopped without ever reaching RUNNING since a task of the deployment
    /// last reached RUNNING: what the launch backoff counts (as ECS's throttle, which
    /// ignores tasks that stop after they ran).
    pub consecutive: i64,
    pub last_at: Option<DateTime<Utc>>,
}

impl Failures {
    pub fn of(tasks: &[TaskState], deployment: &str) -> Failures {
        let mine: Vec<&TaskState> = tasks
            .iter()
            .filter(|t| t.deployment == deployment)
            .collect();
        let ran_at = mine.iter().filter_map(|t| t.started_at).max();
        let unstarted: Vec<DateTime<Utc>> = mine
            .iter()
            .filter(|t| t.started_at.is_none())
            .filter_map(|t| t.failed_at)
            .filter(|at| ran_at.is_none_or(|r| *at > r))
            .collect();
        Failures {
            total: mine.iter().filter(|t| t.failed_at.is_some()).count() as i64,
            consecutive: unstarted.len() as i64,
            last_at: unstarted.iter().max().copied(),
        }
    }

    pub fn backing_off(&self) -> bool {
        self.consecutive >= BACKOFF_AFTER
    }

    /// When launches may start again: after [`BACKOFF_AFTER`] consecutive failures the
    /// delay starts at `base` and doubles per further failure, up to `max`.
    pub fn backoff_until(&self, base: Duration, max: Duration) -> Option<DateTime<Utc>> {
        if !self.backing_off() {
            return None;
        }
        let exp = (self.consecutive - BACKOFF_AFTER).min(20) as u32;
        let delay = base.saturating_mul(1u32 << exp).min(max);
        let delay = chrono::Duration::from_std(delay).ok()?;
        self.last_at.map(|at| at + delay)
    }
}

#[cfg(test)]
#[path = "deployment/props.rs"]
mod props;

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_model::service::{CircuitBreaker, DAEMON};

    fn config(min: i64, max: i64) -> DeploymentConfiguration {
        DeploymentConfiguration {
            deployment_circuit_breaker: CircuitBreaker::default(),
            maximum_percent: max,
            minimum_healthy_percent: min,
        }
    }

    fn task(id: &str, deployment: &str, healthy: bool) -> TaskState {
        TaskState {
            id: id.into(),
            deployment: deployment.into(),
            instance: "i-1".into(),
            host: Host::Active,
            live: true,
            healthy,
            present: true,
            unhealthy: false,
            protected: false,
            created_at: Utc::now(),
            started_at: None,
            failed_at: None,
        }
    }

    #[test]
    fn the_breaker_counts_every_failure_the_backoff_only_tasks_that_never_ran() {
        let t0 = Utc::now();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let failed = |id: &str, s: i64| TaskState {
            live: false,
            failed_at: Some(at(s)),
            ..task(id, "new", false)
        };
        let mut up = task("up", "new", true);
        up.started_at = Some(at(5));
        // A task that ran, then died (killed, crashed after starting): a failure for the
        // breaker, not for the backoff, and it resets the backoff's count.
        let mut ran = failed("r", 9);
        ran.started_at = Some(at(8));
        let tasks = [
            failed("a", 1),
            failed("b", 2),
            up,
            failed("c", 6),
            failed("o", 7),
            ran,
            failed("d", 10),
        ];
        let mut tasks = tasks.to_vec();
        tasks[4].deployment = "old".into();
        let f = Failures::of(&tasks, "new");
        assert_eq!((f.total, f.consecutive, f.last_at), (5, 1, Some(at(10))));
        assert!(!f.backing_off());
        assert_eq!(
            f.backoff_until(Duration::from_secs(1), Duration::from_secs(60)),
            None
        );

        let crashing: Vec<TaskState> = (0..5).map(|i| failed(&format!("x{i}"), i)).collect();
        let f = Failures::of(&crashing, "new");
        assert_eq!(f.consecutive, 5);
        // 3 failures: base; each further one doubles: 5 failures wait 4 × base.
        let until = f.backoff_until(Duration::from_secs(1), Duration::from_secs(60));
        assert_eq!(until, Some(at(4) + chrono::Duration::seconds(4)));
        let capped = f.backoff_until(Duration::from_secs(1), Duration::from_secs(2));
        assert_eq!(capped, Some(at(4) + chrono::Duration::seconds(2)));
    }

    fn run(desired: i64, c: &DeploymentConfiguration, tasks: &[TaskState]) -> Actions {
        replica(&Replica {
            desired,
            config: c,
            primary: "new",
            may_start: true,
            may_retire: true,
            tasks,
        })
    }

    fn stopped(a: &Actions) -> Vec<&str> {
        a.stop.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn a_new_service_starts_its_desired_count() {
        let a = run(3, &config(100, 200), &[]);
        assert_eq!(a.start, 3);
        assert!(a.stop.is_empty());
    }

    #[test]
    fn a_dead_task_is_replaced() {
        let mut dead = task("a", "new", false);
        dead.live = false;
        let tasks = [dead, task("b", "new", true), task("c", "new", true)];
        let a = run(3, &config(100, 200), &tasks);
        assert_eq!(a.start, 1);
        assert!(a.stop.is_empty());
    }

    #[test]
    fn rolling_with_min_100_max_200_stops_old_only_when_new_are_healthy() {
        let old = [
            task("o1", "old", true),
            task("o2", "old", true),
            task("o3", "old", true),
        ];
        let a = run(3, &config(100, 200), &old);
        assert_eq!(a.start, 3);
        assert!(a.stop.is_empty());

        let mut tasks = old.to_vec();
        tasks.extend([
            task("n1", "new", true),
            task("n2", "new", false),
            task("n3", "new", false),
        ]);
        let a = run(3, &config(100, 200), &tasks);
        assert_eq!(a.start, 0);
        assert_eq!(
            stopped(&a).len(),
            1,
            "one new is healthy, so one old may stop"
        );
    }

    #[test]
    fn rolling_with_min_50_stops_one_old_at_once() {
        let old = [
            task("o1", "old", true),
            task("o2", "old", true),
            task("o3", "old", true),
        ];
        let a = run(3, &config(50, 200), &old);
        assert_eq!(a.start, 3);
        assert_eq!(stopped(&a).len(), 1, "ceil(1.5) = 2 must stay healthy");
    }

    #[test]
    fn max_100_makes_room_by_stopping_first() {
        let old = [task("o1", "old", true), task("o2", "old", true)];
        let a = run(2, &config(50, 100), &old);
        assert_eq!(a.start, 0, "no room above 100%");
        assert_eq!(stopped(&a).len(), 1);
    }

    #[test]
    fn tasks_still_stopping_hold_their_room() {
        // The old task was told to stop last pass; its containers still run.
        let stopping = TaskState {
            live: false,
            ..task("o1", "old", true)
        };
        let tasks = [stopping, task("o2", "old", true)];
        let a = run(2, &config(50, 100), &tasks);
        assert_eq!(a.start, 0, "2 tasks hold containers: no room below 100%");
        let gone = TaskState {
            present: false,
            ..tasks[0].clone()
        };
        let a = run(2, &config(50, 100), &[gone, tasks[1].clone()]);
        assert_eq!(a.start, 1, "once it has stopped, one new task fits");
    }

    #[test]
    fn unhealthy_old_tasks_stop_at_once() {
        let tasks = [task("o1", "old", false), task("n1", "new", true)];
        let a = run(1, &config(100, 200), &tasks);
        assert_eq!(stopped(&a), vec!["o1"]);
    }

    #[test]
    fn scale_down_stops_pending_before_healthy() {
        let tasks = [
            task("a", "new", true),
            task("b", "new", false),
            task("c", "new", true),
        ];
        let a = run(1, &config(100, 200), &tasks);
        assert_eq!(a.stop.len(), 2);
        assert_eq!(a.stop[0], ("b".to_string(), Why::ScaleDown));
    }

    #[test]
    fn draining_tasks_are_replaced_before_they_stop() {
        let mut d = task("d", "new", true);
        d.host = Host::Draining;
        let tasks = [d, task("b", "new", true)];
        let a = run(2, &config(100, 200), &tasks);
        assert_eq!(a.start, 1);
        assert!(a.stop.is_empty(), "the replacement is not healthy yet");
        let mut tasks = tasks.to_vec();
        tasks.push(task("r", "new", true));
        let a = run(2, &config(100, 200), &tasks);
        assert_eq!(a.stop, vec![("d".to_string(), Why::Draining)]);
    }

    #[test]
    fn lost_tasks_stop_and_are_replaced() {
        let mut l = task("l", "new", true);
        l.host = Host::Lost;
        let a = run(1, &config(100, 200), &[l]);
        assert_eq!(a.start, 1);
        assert_eq!(a.stop, vec![("l".to_string(), Why::Lost)]);
    }

    #[test]
    fn unhealthy_tasks_are_stopped_and_replaced() {
        let mut sick = task("s", "new", false);
        sick.unhealthy = true;
        let a = run(2, &config(100, 200), &[sick, task("b", "new", true)]);
        assert_eq!(a.start, 1);
        assert_eq!(a.stop, vec![("s".to_string(), Why::Unhealthy)]);
    }

    #[test]
    fn failed_without_rollback_leaves_old_tasks_alone() {
        let tasks = [task("o1", "old", true), task("o2", "old", true)];
        let a = replica(&Replica {
            desired: 2,
            config: &config(0, 200),
            primary: "new",
            may_start: false,
            may_retire: false,
            tasks: &tasks,
        });
        assert_eq!(a, Actions::default());
    }

    fn host(arn: &str, host: Host) -> DaemonHost {
        DaemonHost {
            arn: arn.into(),
            host,
            eligible: true,
        }
    }

    #[test]
    fn daemon_runs_one_task_per_active_instance() {
        let c = config(0, 100);
        let hosts = [
            host("i-1", Host::Active),
            host("i-2", Host::Active),
            host("i-3", Host::Draining),
        ];
        let mut on3 = task("t3", "new", true);
        on3.instance = "i-3".into();
        on3.host = Host::Draining;
        let a = daemon(&hosts, &c, "new", true, &[task("t1", "new", true), on3]);
        assert_eq!(a.start_on, vec!["i-2".to_string()]);
        assert_eq!(a.stop, vec![("t3".to_string(), Why::Draining)]);
    }

    #[test]
    fn daemon_replaces_old_tasks_instance_by_instance() {
        let c = DeploymentConfiguration::default_for(DAEMON);
        let hosts = [host("i-1", Host::Active)];
        let a = daemon(&hosts, &c, "new", true, &[task("o", "old", true)]);
        assert_eq!(a.stop, vec![("o".to_string(), Why::Replaced)]);
        assert!(
            a.start_on.is_empty(),
            "the new task starts once the old one stopped"
        );
        let mut gone = task("o", "old", true);
        gone.live = false;
        let a = daemon(&hosts, &c, "new", true, &[gone]);
        assert_eq!(a.start_on, vec!["i-1".to_string()]);
    }

    #[test]
    fn daemon_min_healthy_holds_old_tasks() {
        let c = config(100, 100);
        let hosts = [host("i-1", Host::Active)];
        let a = daemon(&hosts, &c, "new", true, &[task("o", "old", true)]);
        assert!(a.stop.is_empty());
    }

    fn protected(id: &str, deployment: &str) -> TaskState {
        TaskState {
            protected: true,
            ..task(id, deployment, true)
        }
    }

    #[test]
    fn scale_in_leaves_protected_tasks_running() {
        let tasks = [
            protected("a", "new"),
            task("b", "new", true),
            protected("c", "new"),
        ];
        let a = run(1, &config(100, 200), &tasks);
        assert_eq!(a.stop, vec![("b".to_string(), Why::ScaleDown)]);
        let a = run(0, &config(100, 200), &[protected("a", "new")]);
        assert!(
            a.stop.is_empty(),
            "only protected tasks are left: none stops"
        );
    }

    #[test]
    fn a_deployment_waits_for_protected_old_tasks() {
        let tasks = [
            protected("o1", "old"),
            task("o2", "old", true),
            task("n1", "new", true),
            task("n2", "new", true),
        ];
        let a = run(2, &config(100, 200), &tasks);
        assert_eq!(stopped(&a), vec!["o2"]);
        let mut draining = protected("o3", "old");
        draining.host = Host::Draining;
        let a = run(2, &config(0, 200), &[draining]);
        assert_eq!(a.stop, vec![("o3".to_string(), Why::Draining)]);
        let c = DeploymentConfiguration::default_for(DAEMON);
        let a = daemon(
            &[host("i-1", Host::Active)],
            &c,
            "new",
            true,
            &[protected("o", "old")],
        );
        assert!(a.stop.is_empty() && a.start_on.is_empty());
    }

    proptest::proptest! {
        /// Whatever the tasks and bounds, a protected task on an ACTIVE instance is never
        /// stopped for a scale-in or a deployment.
        #[test]
        fn protected_tasks_are_never_scaled_in_or_replaced(
            shape in proptest::collection::vec((0..2u8, proptest::bool::ANY, proptest::bool::ANY, 0..3u8), 0..12),
            desired in 0i64..8,
            min in 0i64..=100,
            max in 100i64..=200,
        ) {
            let tasks: Vec<TaskState> = shape
                .iter()
                .enumerate()
                .map(|(i, (dep, healthy, protected, host))| TaskState {
                    protected: *protected,
                    host: [Host::Active, Host::Draining, Host::Lost][*host as usize],
                    instance: format!("i-{}", i % 3),
                    ..task(&format!("t{i}"), ["old", "new"][*dep as usize], *healthy)
                })
                .collect();
            let hosts: Vec<DaemonHost> = (0..3).map(|i| host(&format!("i-{i}"), Host::Active)).collect();
            let replica_stops = run(desired, &config(min, max), &tasks).stop;
            let daemon_stops = daemon(&hosts, &config(min, 100), "new", true, &tasks).stop;
            for (id, why) in replica_stops.iter().chain(&daemon_stops) {
                let t = tasks.iter().find(|t| t.id == *id).unwrap();
                if t.protected && t.host == Host::Active {
                    proptest::prop_assert!(!matches!(why, Why::ScaleDown | Why::Replaced), "{id} stopped: {why:?}");
                }
            }
        }
    }
}
