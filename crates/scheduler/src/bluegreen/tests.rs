//! The stage machine: the order of stages, linear and canary steps with their bakes, the
//! bake before clean-up, pause hooks, and what a shift holds back from the planner.

use super::*;
use flotilla_model::service::strategy::{Canary, Linear, PauseHook};
use flotilla_model::service::{DeploymentConfiguration, REPLICA};

use crate::deployment::TaskState;

fn config(strategy: Strategy) -> StrategyConfig {
    StrategyConfig {
        strategy,
        given: true,
        bake_time_in_minutes: Some(0),
        linear: (strategy == Strategy::Linear).then_some(Linear {
            step: Permille(250),
            step_bake_time_in_minutes: 1,
        }),
        canary: (strategy == Strategy::Canary).then_some(Canary {
            canary: Permille(100),
            canary_bake_time_in_minutes: 2,
        }),
        hooks: vec![],
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

/// Drive a shift from its start with `ready` green, one pass every second for `secs`
/// seconds; the (second, stage, production share) of every change.
fn run(config: &StrategyConfig, secs: i64) -> (Shift, Vec<(i64, LifecycleStage, u32)>) {
    let mut shift = Shift::start(vec!["tg-green".into()], Some("blue".into()), t0());
    let mut seen = vec![];
    let mut n = 0;
    for s in 0..=secs {
        let o = Observed {
            green_ready: s >= 5,
            now: at(s),
        };
        // Several passes may follow each other within a second (a write wakes the next).
        for _ in 0..3 {
            let step = advance(&mut shift, config, &o, &mut || {
                n += 1;
                format!("hook-{n}")
            });
            assert_ne!(step, Step::RollBack(String::new()));
            if step == Step::Moved {
                seen.push((s, shift.stage, shift.production.0));
            }
        }
    }
    (shift, seen)
}

#[test]
fn blue_green_waits_for_a_ready_green_then_shifts_everything_at_once_and_bakes() {
    let (shift, seen) = run(&config(Strategy::BlueGreen), 30);
    let stages: Vec<LifecycleStage> = seen.iter().map(|s| s.1).collect();
    assert_eq!(
        stages,
        flotilla_model::service::strategy::STAGES[1..].to_vec()
    );
    // SCALE_UP is left only once green is ready.
    let post_scale = seen
        .iter()
        .find(|s| s.1 == LifecycleStage::PostScaleUp)
        .unwrap();
    assert!(post_scale.0 >= 5);
    // The test rule went to green before production moved, and production moved at once.
    let test = seen
        .iter()
        .position(|s| s.1 == LifecycleStage::TestTrafficShift)
        .unwrap();
    let prod = seen
        .iter()
        .position(|s| s.1 == LifecycleStage::ProductionTrafficShift)
        .unwrap();
    assert!(test < prod);
    assert_eq!(seen[prod].2, 1000);
    // A zero bake still lets the rule change settle before clean-up.
    let clean = seen.last().unwrap();
    assert_eq!(clean.1, LifecycleStage::CleanUp);
    assert!(clean.0 - seen[prod].0 >= SETTLE.as_secs() as i64);
    assert!(blue_released(&shift));
    assert!(shift.test_on_green);
}

#[test]
fn linear_steps_bake_between_steps_but_not_after_the_last() {
    let (_, seen) = run(&config(Strategy::Linear), 600);
    let shares: Vec<(i64, u32)> = seen
        .iter()
        .filter(|s| s.1 == LifecycleStage::ProductionTrafficShift)
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(
        shares.iter().map(|s| s.1).collect::<Vec<_>>(),
        vec![250, 500, 750, 1000]
    );
    for w in shares.windows(2) {
        assert_eq!(w[1].0 - w[0].0, 60, "one minute per step: {shares:?}");
    }
    let after = seen
        .iter()
        .find(|s| s.1 == LifecycleStage::PostProductionTrafficShift)
        .unwrap();
    assert_eq!(after.0, shares.last().unwrap().0, "no bake after 100%");
}

#[test]
fn canary_shifts_its_share_bakes_then_shifts_the_rest() {
    let (_, seen) = run(&config(Strategy::Canary), 600);
    let shares: Vec<(i64, u32)> = seen
        .iter()
        .filter(|s| s.1 == LifecycleStage::ProductionTrafficShift)
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(shares.len(), 2);
    assert_eq!((shares[0].1, shares[1].1), (100, 1000));
    assert_eq!(shares[1].0 - shares[0].0, 120);
}

#[test]
fn the_bake_time_holds_clean_up() {
    let mut c = config(Strategy::BlueGreen);
    c.bake_time_in_minutes = Some(2);
    let (_, seen) = run(&c, 400);
    let prod = seen
        .iter()
        .find(|s| s.1 == LifecycleStage::ProductionTrafficShift)
        .unwrap();
    let clean = seen
        .iter()
        .find(|s| s.1 == LifecycleStage::CleanUp)
        .unwrap();
    assert_eq!(clean.0 - prod.0, 120);
}

#[test]
fn a_pause_hook_holds_until_resolved_and_a_timeout_rolls_back() {
    let mut c = config(Strategy::BlueGreen);
    c.hooks = vec![PauseHook {
        lifecycle_stages: vec![LifecycleStage::PostTestTrafficShift],
        timeout_in_minutes: 1,
        timeout_action: HookAction::Rollback,
    }];
    let (mut shift, _) = run(&c, 30);
    assert_eq!(shift.stage, LifecycleStage::PostTestTrafficShift);
    let hook = shift.awaiting().unwrap().clone();
    assert_eq!(shift.production, Permille(0), "production stays on blue");
    let mut id = || "x".to_string();
    let o = |s| Observed {
        green_ready: true,
        now: at(s),
    };
    assert_eq!(advance(&mut shift, &c, &o(40), &mut id), Step::Stay);
    // Resolved: it goes on.
    let mut resolved = shift.clone();
    assert!(resolved.resolve(&hook.hook_id, HookStatus::Succeeded));
    assert!(!resolved.resolve(&hook.hook_id, HookStatus::Succeeded));
    assert_eq!(advance(&mut resolved, &c, &o(41), &mut id), Step::Moved);
    assert_eq!(resolved.stage, LifecycleStage::ProductionTrafficShift);
    // Not resolved within its timeout: rolled back.
    let step = advance(&mut shift, &c, &o(200), &mut id);
    assert!(matches!(step, Step::RollBack(_)), "{step:?}");
    assert_eq!(shift.hooks[0].status, HookStatus::TimedOut);
}

#[test]
fn weights_are_whole_percentages_or_tenths() {
    assert_eq!(weights(Permille(0)), (100, 0));
    assert_eq!(weights(Permille(250)), (75, 25));
    assert_eq!(weights(Permille(1000)), (0, 100));
    assert_eq!(weights(Permille(1)), (999, 1));
}

fn task(id: &str, deployment: &str, healthy: bool) -> TaskState {
    TaskState {
        id: id.into(),
        deployment: deployment.into(),
        instance: "i-1".into(),
        host: Host::Active,
        live: true,
        present: true,
        healthy,
        unhealthy: false,
        protected: false,
        created_at: t0(),
        started_at: Some(t0()),
        failed_at: None,
    }
}

#[test]
fn held_blue_tasks_neither_stop_nor_limit_green_but_lost_ones_stop() {
    let dc = DeploymentConfiguration::default_for(REPLICA);
    let mut lost = task("b3", "blue", true);
    lost.host = Host::Lost;
    let tasks = vec![task("b1", "blue", true), task("b2", "blue", true), lost];
    let r = Replica {
        desired: 2,
        config: &dc,
        primary: "green",
        may_start: true,
        may_retire: true,
        tasks: &tasks,
    };
    let held = vec!["blue".to_string()];
    let a = replica(&r, &held);
    assert_eq!(a.start, 2);
    assert_eq!(a.stop, vec![("b3".to_string(), Why::Lost)]);
    // Released (clean-up): the rolling planner retires blue as green is healthy.
    let mut all = tasks.clone();
    all.push(task("g1", "green", true));
    all.push(task("g2", "green", true));
    let r = Replica { tasks: &all, ..r };
    let a = replica(&r, &[]);
    let stopped: Vec<&str> = a.stop.iter().map(|s| s.0.as_str()).collect();
    assert!(stopped.contains(&"b1") && stopped.contains(&"b2"), "{a:?}");
}
