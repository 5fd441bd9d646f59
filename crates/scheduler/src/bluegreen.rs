//! The stage machine of blue/green, linear and canary deployments, as pure functions: given
//! a deployment's [`Shift`], its strategy and what the controller observed, the next stage
//! and the traffic each side should get; and which tasks the controller may stop while a
//! shift is under way. No I/O: the controller (`controllers/services/bluegreen.rs` in
//! `flotilla-control`) writes the listener rules and the record.
//!
//! ```text
//! RECONCILE_SERVICE → PRE_SCALE_UP → SCALE_UP (green reaches its desired count, healthy)
//!   → POST_SCALE_UP → TEST_TRAFFIC_SHIFT (test rule → green) → POST_TEST_TRAFFIC_SHIFT
//!   → PRODUCTION_TRAFFIC_SHIFT (all at once | linear steps | canary, then the rest)
//!   → POST_PRODUCTION_TRAFFIC_SHIFT → BAKE_TIME → CLEAN_UP (blue's tasks stop)
//! ```
//!
//! A PAUSE hook on a stage holds the deployment at the end of that stage until
//! ContinueServiceDeployment resolves it or it times out.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_model::service::strategy::{HookAction, HookRun, HookStatus, Permille};
use flotilla_model::service::{LifecycleStage, Shift, Strategy, StrategyConfig};

use crate::deployment::{self, Actions, Host, Replica, Why};

/// How long a change of listener weights is given to reach the load balancer before the
/// tasks that lost their traffic may be deregistered (a draining target takes no new
/// request, so a rule still pointing at it would answer 503).
pub const SETTLE: Duration = Duration::from_secs(3);

/// What the controller observed this pass.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Green runs its desired count, every task healthy in its target groups.
    pub green_ready: bool,
    pub now: DateTime<Utc>,
}

/// What one [`advance`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing changed.
    Stay,
    /// The shift changed (a new stage, a new traffic share, a hook reached or resolved).
    Moved,
    /// A hook timed out with ROLLBACK: roll back, saying why.
    RollBack(String),
}

fn elapsed(since: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (now - since).to_std().unwrap_or_default()
}

fn minutes(m: i64) -> Duration {
    Duration::from_secs(m.max(0) as u64 * 60)
}

/// The production share after `current` and how long `current` must bake first; `None`
/// once all traffic is on green.
fn next_share(config: &StrategyConfig, current: Permille) -> Option<(Permille, Duration)> {
    if current >= Permille::ALL {
        return None;
    }
    let all = Permille::ALL;
    Some(match config.strategy {
        Strategy::Linear => {
            let l = config
                .linear
                .unwrap_or(flotilla_model::service::strategy::Linear {
                    step: Permille(100),
                    step_bake_time_in_minutes: 6,
                });
            let bake = if current.0 == 0 {
                Duration::ZERO
            } else {
                minutes(l.step_bake_time_in_minutes)
            };
            (Permille((current.0 + l.step.0).min(all.0)), bake)
        }
        Strategy::Canary => {
            let c = config
                .canary
                .unwrap_or(flotilla_model::service::strategy::Canary {
                    canary: Permille(50),
                    canary_bake_time_in_minutes: 10,
                });
            if current.0 == 0 {
                (c.canary, Duration::ZERO)
            } else {
                (all, minutes(c.canary_bake_time_in_minutes))
            }
        }
        Strategy::BlueGreen | Strategy::Rolling => (all, Duration::ZERO),
    })
}

/// The PAUSE hook on `stage` holds the deployment: reach it (AWAITING_ACTION), time it
/// out, or let it pass once resolved. `None`: go on.
fn hold(
    shift: &mut Shift,
    config: &StrategyConfig,
    stage: LifecycleStage,
    now: DateTime<Utc>,
    new_id: &mut dyn FnMut() -> String,
) -> Option<Step> {
    let hook = config
        .hooks
        .iter()
        .find(|h| h.lifecycle_stages.contains(&stage))?;
    let Some(run) = shift.hooks.iter_mut().find(|h| h.stage == stage) else {
        shift.hooks.push(HookRun {
            hook_id: new_id(),
            stage,
            status: HookStatus::AwaitingAction,
            expires_at: now
                + chrono::Duration::from_std(minutes(hook.timeout_in_minutes)).unwrap_or_default(),
            timeout_action: hook.timeout_action,
        });
        return Some(Step::Moved);
    };
    match run.status {
        HookStatus::AwaitingAction if now >= run.expires_at => {
            run.status = HookStatus::TimedOut;
            Some(match run.timeout_action {
                HookAction::Continue => Step::Moved,
                HookAction::Rollback => Step::RollBack(format!(
                    "The lifecycle hook {} at {} timed out.",
                    run.hook_id,
                    stage.as_str()
                )),
            })
        }
        HookStatus::AwaitingAction => Some(Step::Stay),
        HookStatus::Succeeded | HookStatus::TimedOut | HookStatus::Failed => None,
    }
}

/// Enter `stage`, setting the traffic it begins with.
fn enter(shift: &mut Shift, stage: LifecycleStage, config: &StrategyConfig, now: DateTime<Utc>) {
    shift.stage = stage;
    shift.stage_at = now;
    match stage {
        LifecycleStage::TestTrafficShift => shift.test_on_green = true,
        LifecycleStage::ProductionTrafficShift => {
            if let Some((share, _)) = next_share(config, shift.production) {
                shift.production = share;
                shift.production_at = now;
            }
        }
        _ => {}
    }
}

/// Move `shift` at most one step. Call it after the traffic the shift asks for (see
/// [`Traffic::of`]) has been written to the listener rules; `new_id` names a hook run.
pub fn advance(
    shift: &mut Shift,
    config: &StrategyConfig,
    seen: &Observed,
    new_id: &mut dyn FnMut() -> String,
) -> Step {
    let now = seen.now;
    let stage = shift.stage;
    // The stage's own work first.
    let done = match stage {
        // Traffic of a replaced green has gone back to blue before anything else happens.
        LifecycleStage::ReconcileService => elapsed(shift.stage_at, now) >= SETTLE,
        LifecycleStage::ScaleUp => seen.green_ready,
        LifecycleStage::ProductionTrafficShift => match next_share(config, shift.production) {
            None => true,
            Some((share, bake)) => {
                if elapsed(shift.production_at, now) >= bake {
                    shift.production = share;
                    shift.production_at = now;
                    return Step::Moved;
                }
                false
            }
        },
        LifecycleStage::BakeTime => {
            elapsed(shift.production_at, now) >= minutes(config.bake_minutes()).max(SETTLE)
        }
        // Blue's tasks stop; the deployment completes when they have.
        LifecycleStage::CleanUp => return Step::Stay,
        _ => true,
    };
    if !done {
        return Step::Stay;
    }
    if let Some(step) = hold(shift, config, stage, now, new_id) {
        return step;
    }
    match stage.next() {
        Some(next) => {
            enter(shift, next, config, now);
            Step::Moved
        }
        None => Step::Stay,
    }
}

/// The traffic a shift asks for: green's share of the production rule, and whether the
/// test rule forwards to green.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    pub production: Permille,
    pub test_on_green: bool,
}

impl Traffic {
    pub fn of(shift: &Shift) -> Traffic {
        Traffic {
            production: shift.production,
            test_on_green: shift.test_on_green,
        }
    }

    /// No deployment is shifting: everything on the service's (blue) target groups.
    pub const BLUE: Traffic = Traffic {
        production: Permille(0),
        test_on_green: false,
    };
}

/// Forward weights (blue, green) for a green share: whole percentages as they are, a
/// share with tenths in tenths (ELBv2 weights go up to 999).
pub fn weights(green: Permille) -> (u32, u32) {
    let g = green.0.min(1000);
    if g.is_multiple_of(10) {
        (100 - g / 10, g / 10)
    } else {
        (1000 - g, g)
    }
}

/// Whether blue's tasks may stop: the shift reached CLEAN_UP.
pub fn blue_released(shift: &Shift) -> bool {
    shift.stage >= LifecycleStage::CleanUp
}

/// Start and stop decisions for a REPLICA service while a shift is under way: the rolling
/// planner over every task but those of the `held` deployments (blue until CLEAN_UP, a
/// rolled-back green until its traffic has gone), which are neither counted against
/// `maximumPercent` (green scales up beside blue) nor replaced; a held task that is lost or
/// unhealthy still stops.
pub fn replica(r: &Replica, held: &[String]) -> Actions {
    let is_held = |d: &str| held.iter().any(|h| h == d);
    let (kept, rest): (Vec<_>, Vec<_>) = r
        .tasks
        .iter()
        .cloned()
        .partition(|t| is_held(&t.deployment) && t.deployment != r.primary);
    let mut actions = deployment::replica(&Replica { tasks: &rest, ..*r });
    for t in kept.iter().filter(|t| t.live) {
        if t.host == Host::Lost {
            actions.stop.push((t.id.clone(), Why::Lost));
        } else if t.unhealthy {
            actions.stop.push((t.id.clone(), Why::Unhealthy));
        }
    }
    actions
}

#[cfg(test)]
mod tests;
