//! Pure scaling policy maths: what capacity a policy asks for, given the metric's value,
//! the capacity now and the cooldowns in effect. The autoscaling controller reads the
//! records and the alarm, calls [`decide`], and writes what it answers; nothing here reads
//! a clock or the store.
//!
//! The rules, as Application Auto Scaling applies them:
//! - Target tracking asks for `ceil(capacity × value / target)`. Its high alarm only
//!   scales out and its low alarm only scales in (never when `DisableScaleIn`).
//! - Step scaling picks the step whose interval holds `value − threshold` and applies its
//!   adjustment (a change, a percent change rounded away from nothing and then towards
//!   zero, at least `MinAdjustmentMagnitude`; or an exact capacity).
//! - The result is clamped to the target's MinCapacity and MaxCapacity.
//! - During a scale-out cooldown the capacity the last scale-out added counts as already
//!   there: the policy is worked out from the capacity *before* that scale-out and acts
//!   only if that asks for more than the capacity now (a larger scale-out goes ahead).
//! - A scale-in waits for its scale-in cooldown to end; a scale-out never waits for it.

use chrono::{DateTime, Duration, Utc};

/// Which way an alarm lets a policy move the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
}

/// A scaling activity that set the capacity, remembered for cooldowns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub at: DateTime<Utc>,
    /// The capacity before the activity.
    pub from: i64,
}

/// How a step policy's adjustment is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    ChangeInCapacity,
    PercentChangeInCapacity,
    ExactCapacity,
}

/// One step: applies when `lower <= value - threshold < upper` (a missing bound is
/// infinite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub adjustment: i64,
}

/// What a policy computes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Target tracking towards `target`, in the direction its alarm allows.
    Track { target: f64, direction: Direction },
    /// Step scaling against the alarm's `threshold`.
    Steps {
        threshold: f64,
        kind: Adjustment,
        steps: Vec<Step>,
        min_magnitude: Option<i64>,
    },
}

/// Everything [`decide`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub rule: Rule,
    pub value: f64,
    pub current: i64,
    pub min: i64,
    pub max: i64,
    pub now: DateTime<Utc>,
    pub last_out: Option<Mark>,
    pub last_in: Option<Mark>,
    /// Seconds.
    pub out_cooldown: i64,
    pub in_cooldown: i64,
}

/// Why a policy did not change the capacity, with Application Auto Scaling's codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotScaled {
    AlreadyAtMaxCapacity,
    AlreadyAtMinCapacity,
    AlreadyAtDesiredCapacity,
}

impl NotScaled {
    pub fn code(self) -> &'static str {
        match self {
            NotScaled::AlreadyAtMaxCapacity => "AlreadyAtMaxCapacity",
            NotScaled::AlreadyAtMinCapacity => "AlreadyAtMinCapacity",
            NotScaled::AlreadyAtDesiredCapacity => "AlreadyAtDesiredCapacity",
        }
    }
}

/// What a policy invocation comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Set the capacity to this.
    Scale(i64),
    /// The policy asked for a capacity it cannot have, or already has.
    NotScaled(NotScaled),
    /// A cooldown holds the policy back (no activity is recorded, as AWS records none).
    Cooldown,
}

fn within(mark: Option<Mark>, now: DateTime<Utc>, seconds: i64) -> Option<Mark> {
    mark.filter(|m| now < m.at + Duration::seconds(seconds.max(0)))
}

/// The capacity a target tracking policy asks for at `value` from `capacity`.
pub fn tracked(capacity: i64, value: f64, target: f64) -> i64 {
    if target.is_nan() || target <= 0.0 || !value.is_finite() {
        return capacity;
    }
    let wanted = (capacity as f64 * value / target).ceil();
    wanted.clamp(0.0, i64::MAX as f64 / 2.0) as i64
}

/// The capacity a step policy asks for at `value` (the metric) from `capacity`; None when
/// no step covers `value − threshold`.
pub fn stepped(
    capacity: i64,
    value: f64,
    threshold: f64,
    kind: Adjustment,
    steps: &[Step],
    min_magnitude: Option<i64>,
) -> Option<i64> {
    let diff = value - threshold;
    let step = steps
        .iter()
        .find(|s| s.lower.is_none_or(|l| diff >= l) && s.upper.is_none_or(|u| diff < u))?;
    Some(match kind {
        Adjustment::ChangeInCapacity => capacity.saturating_add(step.adjustment),
        Adjustment::ExactCapacity => step.adjustment,
        Adjustment::PercentChangeInCapacity => {
            let raw = capacity as f64 * step.adjustment as f64 / 100.0;
            // Between -1 and 1 (but not 0) rounds away from zero, beyond that towards it.
            let mut change = if raw > 0.0 && raw < 1.0 {
                1
            } else if raw < 0.0 && raw > -1.0 {
                -1
            } else {
                raw.trunc() as i64
            };
            if let Some(m) = min_magnitude.filter(|m| *m > 0) {
                if change != 0 && change.abs() < m {
                    change = m * change.signum();
                }
            }
            capacity.saturating_add(change)
        }
    })
}

/// What the policy asks for from `capacity`.
fn wanted(rule: &Rule, capacity: i64, value: f64) -> Option<i64> {
    match rule {
        Rule::Track { target, .. } => Some(tracked(capacity, value, *target)),
        Rule::Steps {
            threshold,
            kind,
            steps,
            min_magnitude,
        } => stepped(capacity, value, *threshold, *kind, steps, *min_magnitude),
    }
}

/// Which way the invocation goes: the alarm's for target tracking, the step's sign for
/// step scaling.
fn direction(i: &Input) -> Direction {
    match &i.rule {
        Rule::Track { direction, .. } => *direction,
        Rule::Steps { .. } => match wanted(&i.rule, i.current, i.value) {
            Some(n) if n < i.current => Direction::In,
            _ => Direction::Out,
        },
    }
}

/// Decide one invocation of a policy.
pub fn decide(i: &Input) -> Decision {
    let clamp = |n: i64| n.clamp(i.min, i.max.max(i.min));
    match direction(i) {
        Direction::Out => {
            let cooling = within(i.last_out, i.now, i.out_cooldown);
            let base = cooling.map_or(i.current, |m| m.from);
            let Some(want) = wanted(&i.rule, base, i.value) else {
                return Decision::NotScaled(NotScaled::AlreadyAtDesiredCapacity);
            };
            if want <= i.current {
                return match cooling {
                    Some(_) => Decision::Cooldown,
                    None => Decision::NotScaled(NotScaled::AlreadyAtDesiredCapacity),
                };
            }
            let new = clamp(want);
            if new <= i.current {
                Decision::NotScaled(NotScaled::AlreadyAtMaxCapacity)
            } else {
                Decision::Scale(new)
            }
        }
        Direction::In => {
            if within(i.last_in, i.now, i.in_cooldown).is_some() {
                return Decision::Cooldown;
            }
            let Some(want) = wanted(&i.rule, i.current, i.value) else {
                return Decision::NotScaled(NotScaled::AlreadyAtDesiredCapacity);
            };
            if want >= i.current {
                return Decision::NotScaled(NotScaled::AlreadyAtDesiredCapacity);
            }
            let new = clamp(want);
            if new >= i.current {
                Decision::NotScaled(NotScaled::AlreadyAtMinCapacity)
            } else {
                Decision::Scale(new)
            }
        }
    }
}

#[cfg(test)]
mod tests;
