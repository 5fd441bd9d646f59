//! Properties of rolling deployments, checked by running the pure planners the way the
//! service controller runs them: a small simulated world of instances and tasks, one
//! planner pass per round, its stops and starts applied, and started tasks turning healthy
//! after a random number of rounds. Over random desired counts, deployment configurations
//! (ECS rounding included), draining instances and health schedules, a REPLICA rollout from
//! an old deployment to a new primary never has more tasks not yet stopped (stopping tasks
//! take rounds to stop) than `maximumPercent` allows, never fewer healthy ones than `minimumHealthyPercent` requires, and ends in a
//! bounded number of rounds with exactly the desired count of healthy primary tasks and
//! nothing of the old deployment; a DAEMON service ends with one healthy primary task on
//! every eligible ACTIVE instance and none elsewhere, never runs two tasks on one instance
//! and keeps `minimumHealthyPercent` of its instances' tasks healthy while it replaces them.
//!
//! Convergence does not hold for "wedged" bounds, where ECS rounding leaves no room to start
//! a replacement and no task to spare (see [`wedged`] and [`Daemon::wedged`]): those cases
//! are left out of the convergence checks by name, and two ignored tests at the bottom
//! keep the minimal failing cases at hand.

use chrono::TimeDelta;
use flotilla_model::service::{CircuitBreaker, DAEMON, REPLICA};
use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

const OLD: &str = "ecs-svc/0000000000000000001";
const NEW: &str = "ecs-svc/0000000000000000002";

/// The most rounds a started task stays pending before its health checks pass. Every
/// replacement then takes at most `2 × MAX_DELAY + 2` rounds (start, wait, stop the task
/// it replaces, wait for its containers to stop; a stop takes as many rounds at most), which is what the convergence bounds below are made of.
const MAX_DELAY: u32 = 2;

fn config(min: i64, max: i64) -> DeploymentConfiguration {
    DeploymentConfiguration {
        deployment_circuit_breaker: CircuitBreaker::default(),
        maximum_percent: max,
        minimum_healthy_percent: min,
    }
}

/// A task of the simulated world: what the planner sees of it, and for how many more
/// rounds it stays pending.
#[derive(Debug, Clone)]
struct Sim {
    state: TaskState,
    pending_for: u32,
    /// Rounds its containers take to stop once it is told to stop.
    stopping_for: u32,
}

/// The instances and every task the service ever ran on them: stopped tasks stay in the
/// list (as ECS keeps them for a while), so the planner also sees tasks it must ignore.
#[derive(Debug, Clone)]
struct World {
    hosts: Vec<DaemonHost>,
    tasks: Vec<Sim>,
    /// For how many rounds each started task stays pending, in turn (cycled): the
    /// proptest-chosen interleaving of which pending tasks turn healthy when.
    delays: Vec<u32>,
    spawned: usize,
}

impl World {
    fn new(hosts: Vec<DaemonHost>, delays: Vec<u32>) -> World {
        World {
            hosts,
            tasks: Vec::new(),
            delays,
            spawned: 0,
        }
    }

    fn host(&self, arn: &str) -> Host {
        self.hosts
            .iter()
            .find(|h| h.arn == arn)
            .map_or(Host::Lost, |h| h.host)
    }

    /// Add a task of `deployment` on `instance`: healthy already (a steady deployment) or
    /// pending for the next delay of the schedule. Each task is a second newer than the
    /// one before, so the planner's "oldest first" choices are deterministic.
    fn spawn(&mut self, deployment: &str, instance: &str, healthy: bool) {
        let n = self.spawned;
        self.spawned += 1;
        let created_at = DateTime::UNIX_EPOCH + TimeDelta::seconds(n as i64);
        let state = TaskState {
            id: format!("t{n}"),
            deployment: deployment.into(),
            instance: instance.into(),
            host: self.host(instance),
            live: true,
            present: true,
            healthy,
            unhealthy: false,
            protected: false,
            created_at,
            started_at: healthy.then_some(created_at),
            failed_at: None,
        };
        let pending_for = self.delays[n % self.delays.len()];
        let stopping_for = self.delays[(n + 1) % self.delays.len()];
        self.tasks.push(Sim {
            state,
            pending_for,
            stopping_for,
        });
    }

    fn tasks(&self) -> Vec<TaskState> {
        self.tasks.iter().map(|t| t.state.clone()).collect()
    }

    fn live(&self) -> impl Iterator<Item = &TaskState> {
        self.tasks.iter().map(|t| &t.state).filter(|t| t.live)
    }

    fn live_on(&self, arn: &str) -> usize {
        self.live().filter(|t| t.instance == arn).count()
    }

    /// Where the scheduler would put a new REPLICA task: the ACTIVE instance with the
    /// fewest live tasks (the first on a tie, to stay deterministic).
    fn least_loaded(&self) -> String {
        self.hosts
            .iter()
            .filter(|h| h.host == Host::Active)
            .min_by_key(|h| self.live_on(&h.arn))
            .map(|h| h.arn.clone())
            .expect("the first instance never drains")
    }

    /// One planner pass's decisions: a stopped task's desired status is STOPPED at once
    /// (no longer live, still present); started tasks are pending primary tasks.
    fn apply(&mut self, a: &Actions) {
        assert!(a.start >= 0, "the planner starts {} tasks", a.start);
        for (id, _) in &a.stop {
            let t = self
                .tasks
                .iter_mut()
                .find(|t| t.state.id == *id)
                .expect("the planner stops only tasks it was given");
            assert!(t.state.live, "the planner stops {id}, which was not live");
            t.state.live = false;
        }
        for _ in 0..a.start {
            let at = self.least_loaded();
            self.spawn(NEW, &at, false);
        }
        for arn in &a.start_on {
            self.spawn(NEW, arn, false);
        }
    }

    /// The time between two passes: tasks told to stop count down to stopped, and pending
    /// tasks count down to healthy.
    fn tick(&mut self) {
        for t in &mut self.tasks {
            let s = &mut t.state;
            if !s.live {
                if t.stopping_for == 0 {
                    s.present = false;
                } else {
                    t.stopping_for -= 1;
                }
            } else if !s.healthy {
                if t.pending_for == 0 {
                    s.healthy = true;
                    s.started_at = Some(s.created_at);
                } else {
                    t.pending_for -= 1;
                }
            }
        }
    }

    /// An instance turns DRAINING; its tasks see it at once.
    fn drain(&mut self, index: usize) {
        let arn = self.hosts[index].arn.clone();
        self.hosts[index].host = Host::Draining;
        for t in self.tasks.iter_mut().filter(|t| t.state.instance == arn) {
            t.state.host = Host::Draining;
        }
    }
}

fn arn(i: usize) -> String {
    format!("i-{i}")
}

/// maximumPercent in 100..=200 and minimumHealthyPercent in 0..=100 (so min <= max), the
/// edges more often than chance would pick them, plus both AWS defaults; only what ECS
/// accepts for a REPLICA service (not 100/100).
fn arb_replica_config() -> impl Strategy<Value = DeploymentConfiguration> {
    let max = prop_oneof![Just(100i64), Just(200), 100i64..=200];
    let min = prop_oneof![Just(0i64), Just(50), Just(100), 0i64..=100];
    prop_oneof![
        1 => Just(DeploymentConfiguration::default_for(REPLICA)),
        1 => Just(DeploymentConfiguration::default_for(DAEMON)),
        6 => (min, max).prop_map(|(min, max)| config(min, max)),
    ]
    .prop_filter("ECS rejects it", |c| c.validate(REPLICA).is_ok())
}

fn arb_delays() -> impl Strategy<Value = Vec<u32>> {
    vec(0..=MAX_DELAY, 1..12)
}

/// A REPLICA service at a steady old deployment, its primary just replaced.
#[derive(Debug, Clone)]
struct Rollout {
    desired: i64,
    config: DeploymentConfiguration,
    /// The first instance is ACTIVE throughout, so new tasks always have somewhere to go.
    hosts: Vec<Host>,
    /// An instance that turns DRAINING at the start of a round, mid-rollout.
    drain: Option<(usize, u32)>,
    delays: Vec<u32>,
}

fn arb_rollout() -> impl Strategy<Value = Rollout> {
    let host = prop_oneof![3 => Just(Host::Active), 1 => Just(Host::Draining)];
    (
        0i64..=12,
        arb_replica_config(),
        vec(host, 0..4),
        proptest::option::of((1usize..5, 0u32..=8)),
        arb_delays(),
    )
        .prop_map(|(desired, config, more, drain, delays)| {
            let mut hosts = vec![Host::Active];
            hosts.extend(more);
            let drain = drain.filter(|(h, _)| *h < hosts.len());
            Rollout {
                desired,
                config,
                hosts,
                drain,
                delays,
            }
        })
}

impl Rollout {
    /// Every one of the `desired` tasks is replaced at most once after the last drain, each
    /// replacement within `2 × MAX_DELAY + 2` rounds; 20 rounds of slack on top.
    fn rounds(&self) -> u32 {
        let drain = self.drain.map_or(0, |(_, at)| at);
        drain + (2 * MAX_DELAY + 2) * self.desired as u32 + 20
    }

    /// `desired` healthy tasks of the old deployment, spread over every instance (some of
    /// which may be draining already).
    fn world(&self) -> World {
        let hosts = (self.hosts.iter().enumerate())
            .map(|(i, &host)| DaemonHost {
                arn: arn(i),
                host,
                eligible: true,
            })
            .collect();
        let mut world = World::new(hosts, self.delays.clone());
        for i in 0..self.desired as usize {
            world.spawn(OLD, &arn(i % self.hosts.len()), true);
        }
        world
    }
}

/// What ran after one round's decisions were applied (or at the start).
#[derive(Debug, Clone, Copy)]
struct Counts {
    /// Not stopped yet: live, or told to stop with its containers still running.
    present: i64,
    healthy: i64,
}

fn counts(world: &World) -> Counts {
    Counts {
        present: world.tasks.iter().filter(|t| t.state.present).count() as i64,
        healthy: world.live().filter(|t| t.healthy).count() as i64,
    }
}

/// One simulated rollout: the counts at the start and after every round, and the round at
/// which the planner, facing a converged service, had nothing left to do.
#[derive(Debug)]
struct Trace {
    counts: Vec<Counts>,
    settled_at: Option<u32>,
    world: World,
}

/// The rollout's end state: exactly `desired` live tasks, all healthy, all of the primary,
/// all on ACTIVE instances, so nothing of the old deployment runs.
fn replica_converged(world: &World, desired: i64) -> bool {
    world.live().count() as i64 == desired
        && world
            .live()
            .all(|t| t.deployment == NEW && t.healthy && t.host == Host::Active)
}

fn roll_out(r: &Rollout) -> Trace {
    let mut world = r.world();
    let mut trace = vec![counts(&world)];
    for round in 0..r.rounds() {
        if let Some((h, at)) = r.drain {
            if at == round {
                world.drain(h);
            }
        }
        let actions = replica(&Replica {
            desired: r.desired,
            config: &r.config,
            primary: NEW,
            may_start: true,
            may_retire: true,
            tasks: &world.tasks(),
        });
        // Settled: converged, and the planner leaves it alone (no flapping); not before
        // the scheduled drain, which would unsettle it again.
        let drained = r.drain.is_none_or(|(_, at)| round >= at);
        if drained && actions == Actions::default() && replica_converged(&world, r.desired) {
            return Trace {
                counts: trace,
                settled_at: Some(round),
                world,
            };
        }
        world.apply(&actions);
        trace.push(counts(&world));
        world.tick();
    }
    Trace {
        counts: trace,
        settled_at: None,
        world,
    }
}

/// The bounds leave a rollout no move: no room to start a task next to the `desired` old
/// ones (maximumPercent rounds down to `desired`) and none of them to spare
/// (minimumHealthyPercent rounds up to `desired`). For example 1 task at 50%/100% or
/// 50%/150%, or 3 at 67%/133%. See `wedged_rollouts_still_converge` below.
fn wedged(desired: i64, c: &DeploymentConfiguration) -> bool {
    let (max_total, min_healthy) = deployment_bounds(desired, c);
    desired > 0 && max_total <= desired && min_healthy >= desired
}

/// One instance as a DAEMON service finds it: ACTIVE or DRAINING, whether its placement
/// constraints allow it, and what of the service it runs already.
#[derive(Debug, Clone, Copy)]
struct DaemonInstance {
    host: Host,
    eligible: bool,
    runs: Runs,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Runs {
    Nothing,
    OldHealthy,
    OldPending,
    New,
}

#[derive(Debug, Clone)]
struct Daemon {
    config: DeploymentConfiguration,
    instances: Vec<DaemonInstance>,
    delays: Vec<u32>,
}

/// The DAEMON default (0/100), or any minimumHealthyPercent with maximumPercent 100 (all
/// ECS accepts for a DAEMON service).
fn arb_daemon_config() -> impl Strategy<Value = DeploymentConfiguration> {
    let min = prop_oneof![Just(0i64), Just(50), Just(100), 0i64..=100];
    prop_oneof![
        Just(DeploymentConfiguration::default_for(DAEMON)),
        min.prop_map(|min| config(min, 100)),
    ]
    .prop_filter("ECS rejects it", |c| c.validate(DAEMON).is_ok())
}

fn arb_daemon() -> impl Strategy<Value = Daemon> {
    let instance = (
        prop_oneof![3 => Just(Host::Active), 1 => Just(Host::Draining)],
        prop::bool::weighted(0.75),
        prop_oneof![
            1 => Just(Runs::Nothing),
            3 => Just(Runs::OldHealthy),
            1 => Just(Runs::OldPending),
            1 => Just(Runs::New),
        ],
    )
        .prop_map(|(host, eligible, runs)| DaemonInstance {
            host,
            eligible,
            runs,
        });
    (arb_daemon_config(), vec(instance, 0..7), arb_delays()).prop_map(
        |(config, instances, delays)| Daemon {
            config,
            instances,
            delays,
        },
    )
}

impl Daemon {
    fn wanted(&self) -> impl Iterator<Item = (usize, &DaemonInstance)> {
        (self.instances.iter().enumerate()).filter(|(_, i)| i.eligible && i.host == Host::Active)
    }

    /// Each instance is replaced at most once, within `2 × MAX_DELAY + 2` rounds.
    fn rounds(&self) -> u32 {
        (2 * MAX_DELAY + 2) * self.instances.len() as u32 + 20
    }

    fn world(&self) -> World {
        let hosts = (self.instances.iter().enumerate())
            .map(|(n, i)| DaemonHost {
                arn: arn(n),
                host: i.host,
                eligible: i.eligible,
            })
            .collect();
        let mut world = World::new(hosts, self.delays.clone());
        for (n, i) in self.instances.iter().enumerate() {
            match i.runs {
                Runs::Nothing => {}
                Runs::OldHealthy => world.spawn(OLD, &arn(n), true),
                Runs::OldPending => world.spawn(OLD, &arn(n), false),
                Runs::New => world.spawn(NEW, &arn(n), true),
            }
        }
        world
    }

    /// How many of the wanted instances' tasks are healthy.
    fn healthy_wanted(&self, world: &World) -> i64 {
        let wanted: Vec<String> = self.wanted().map(|(n, _)| arn(n)).collect();
        world
            .live()
            .filter(|t| t.healthy && wanted.contains(&t.instance))
            .count() as i64
    }

    /// With every instance's tasks at most as healthy as `minimumHealthyPercent` of the
    /// wanted instances, a wanted instance's healthy old task can never stop (and its
    /// replacement never start): the DAEMON counterpart of [`wedged`], e.g. one instance at
    /// any minimum above 0%, or any number at 100%. See `wedged_daemons_still_converge`.
    fn wedged(&self) -> bool {
        let wanted = self.wanted().count() as i64;
        let (_, min_healthy) = deployment_bounds(wanted, &self.config);
        min_healthy >= wanted && self.wanted().any(|(_, i)| i.runs == Runs::OldHealthy)
    }
}

/// The DAEMON end state: one live, healthy primary task on every wanted instance, and no
/// live task anywhere else.
fn daemon_converged(d: &Daemon, world: &World) -> bool {
    let wanted: Vec<String> = d.wanted().map(|(n, _)| arn(n)).collect();
    let per_instance_ok = wanted.iter().all(|a| {
        let on: Vec<&TaskState> = world.live().filter(|t| t.instance == *a).collect();
        on.len() == 1 && on[0].deployment == NEW && on[0].healthy
    });
    per_instance_ok && world.live().all(|t| wanted.contains(&t.instance))
}

/// One simulated DAEMON deployment, round by round, like [`roll_out`].
#[derive(Debug)]
struct DaemonTrace {
    /// After every round: the most live tasks on one instance, and how many of the wanted
    /// instances' tasks are healthy.
    rounds: Vec<(usize, i64)>,
    settled_at: Option<u32>,
    world: World,
}

fn run_daemon(d: &Daemon) -> DaemonTrace {
    let mut world = d.world();
    let mut rounds = Vec::new();
    for round in 0..d.rounds() {
        let actions = daemon(&world.hosts, &d.config, NEW, true, &world.tasks());
        if actions == Actions::default() && daemon_converged(d, &world) {
            return DaemonTrace {
                rounds,
                settled_at: Some(round),
                world,
            };
        }
        world.apply(&actions);
        let most = (0..d.instances.len())
            .map(|n| world.live_on(&arn(n)))
            .max()
            .unwrap_or(0);
        rounds.push((most, d.healthy_wanted(&world)));
        world.tick();
    }
    DaemonTrace {
        rounds,
        settled_at: None,
        world,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// As ECS counts them, every task not yet stopped holds its containers: tasks told to
    /// stop count until they have stopped (a round later here). The planner counts them
    /// on instances that are not lost (all of them here: the world has none) against
    /// `floor(desired × maximumPercent)` and starts no more than fit, so the bound holds
    /// right after every pass, when the world is fullest.
    #[test]
    fn never_above_maximum_percent(r in arb_rollout()) {
        let (max_total, _) = deployment_bounds(r.desired, &r.config);
        for (round, c) in roll_out(&r).counts.iter().enumerate() {
            prop_assert!(
                c.present <= max_total,
                "after round {round}: {} tasks not stopped, maximumPercent allows {max_total}",
                c.present
            );
        }
    }

    /// Starting from `desired` healthy old tasks, the planner stops a healthy task only
    /// while more than `ceil(desired × minimumHealthyPercent)` are healthy, and nothing
    /// else here makes a task unhealthy (no failed health checks, no lost instances), so
    /// the bound holds after every pass, throughout the rollout and after it, not only
    /// while old tasks remain. Right after a pass is the low point: health only improves
    /// between passes.
    #[test]
    fn never_below_minimum_healthy_percent(r in arb_rollout()) {
        let (_, min_healthy) = deployment_bounds(r.desired, &r.config);
        for (round, c) in roll_out(&r).counts.iter().enumerate() {
            prop_assert!(
                c.healthy >= min_healthy,
                "after round {round}: {} healthy tasks, minimumHealthyPercent needs {min_healthy}",
                c.healthy
            );
        }
    }

    /// The rollout ends, within `2 × MAX_DELAY + 2` rounds per task plus slack, with exactly
    /// the desired count of healthy primary tasks on ACTIVE instances, nothing of the old
    /// deployment live, and a planner with nothing more to do. Wedged bounds never end (a
    /// known gap, kept visible by an ignored test below) and are left out here.
    #[test]
    fn converges_to_the_primary(r in arb_rollout()) {
        prop_assume!(!wedged(r.desired, &r.config));
        let t = roll_out(&r);
        prop_assert!(
            t.settled_at.is_some(),
            "not settled after {} rounds; live: {:?}",
            r.rounds(),
            t.world.live().collect::<Vec<_>>()
        );
    }

    /// A DAEMON deployment ends with one healthy primary task on every eligible ACTIVE
    /// instance and none on draining or ineligible ones; on the way, an instance never runs
    /// two tasks of the service (the old one stops before the new one starts), and the
    /// wanted instances' healthy tasks never drop below `minimumHealthyPercent` of them
    /// (nor below how many were healthy at the start, if fewer).
    #[test]
    fn daemon_runs_one_primary_task_per_eligible_active_instance(d in arb_daemon()) {
        let wanted = d.wanted().count() as i64;
        let (_, min_healthy) = deployment_bounds(wanted, &d.config);
        let floor = min_healthy.min(d.healthy_wanted(&d.world()));
        let t = run_daemon(&d);
        for (round, &(most, healthy)) in t.rounds.iter().enumerate() {
            prop_assert!(most <= 1, "after round {round}: {most} tasks on one instance");
            prop_assert!(
                healthy >= floor,
                "after round {round}: {healthy} healthy tasks, the floor is {floor}"
            );
        }
        // Wedged configurations keep every safety property above but never finish.
        if !d.wedged() {
            prop_assert!(
                t.settled_at.is_some(),
                "not settled after {} rounds; live: {:?}",
                d.rounds(),
                t.world.live().collect::<Vec<_>>()
            );
        }
    }
}

/// The minimal case the convergence property found: one task at 50%/100% (as at any
/// minimumHealthyPercent above 0 and maximumPercent below 200) has no room to start its
/// replacement next to the old task and may not stop the old task first, so the planner
/// does nothing, pass after pass, and the rollout never ends. Ignored until the planner (or
/// the configuration's validation) handles it; run with `--ignored` to see it fail.
#[test]
#[ignore = "known gap: bounds that round to desired/desired wedge a REPLICA rollout"]
fn wedged_rollouts_still_converge() {
    let r = Rollout {
        desired: 1,
        config: config(50, 100),
        hosts: vec![Host::Active],
        drain: None,
        delays: vec![0],
    };
    assert!(wedged(r.desired, &r.config));
    assert!(roll_out(&r).settled_at.is_some(), "the rollout is wedged");
}

/// The minimal DAEMON case: one instance running a healthy old task at minimumHealthyPercent
/// 100 (which validation accepts for a DAEMON service, where maximumPercent is always 100):
/// the old task may not stop and the new one may not start beside it.
#[test]
#[ignore = "known gap: a DAEMON minimumHealthyPercent that rounds up to every instance wedges"]
fn wedged_daemons_still_converge() {
    let d = Daemon {
        config: config(100, 100),
        instances: vec![DaemonInstance {
            host: Host::Active,
            eligible: true,
            runs: Runs::OldHealthy,
        }],
        delays: vec![0],
    };
    assert!(d.config.validate(DAEMON).is_ok() && d.wedged());
    assert!(
        run_daemon(&d).settled_at.is_some(),
        "the deployment is wedged"
    );
}
