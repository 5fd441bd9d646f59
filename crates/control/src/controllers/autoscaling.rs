//! The autoscaling controller: on the leader, one reconcile per scalable target (its key
//! is the target's key). It is woken by a change of the target, of its policies or
//! scheduled actions, and of any alarm whose actions name one of its policies; it also
//! requeues itself every [`REQUEUE`]. A reconcile moves one step:
//! 1. a scheduled action that is due sets the target's bounds;
//! 2. a desired count outside the bounds is brought within them;
//! 3. an alarm in ALARM (actions enabled) invokes its policy once per evaluation period
//!    (as CloudWatch re-invokes Auto Scaling actions while an alarm stays in ALARM): the
//!    pure maths (`flotilla_scheduler::scaling::decide`) say what capacity, and
//!    [`scale`] sets it the way UpdateService does and records the activity.
//!
//! The metric value a policy acts on is the newest of the alarm's `recentDatapoints`, as
//! CloudWatch writes them in its StateReasonData (the metric store is a data plane below
//! the control plane, which never reads it). Everything the controller needs to be correct
//! is in the records (cooldown marks, invocation times), so a new leader carries on.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_model::autoscaling::{
    NotScaledReason, PolicyConfig, ScalableTargetRecord, ScalingPolicyRecord, DEFAULT_COOLDOWN,
};
use flotilla_model::cloudwatch::{AlarmRecord, AlarmState};
use flotilla_scheduler::scaling::{self, Decision, Direction, Mark, NotScaled, Rule};
use flotilla_store::view::Changed;
use tokio::sync::{mpsc, watch};

use super::runtime::{self, Action, Reconciler, Wake};
use crate::autoscaling::alarms::{side_of, Side};
use crate::autoscaling::scale::{self, MarkKind, Trigger};
use crate::autoscaling::{self as domain, policies_of, scheduled, scheduled_of, target_entry};
use crate::{cloudwatch, keys, ControlError, State};

/// How often a target is looked at without being woken.
pub const REQUEUE: Duration = Duration::from_secs(2);
/// After an action, look again at once (other policies, the next step).
const AGAIN: Duration = Duration::from_millis(50);

pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let (fed, until) = (state.clone(), shutdown.clone());
    let feed = move |tx| wakes(fed, tx, until);
    runtime::run_fed(Arc::new(Autoscaling { state }), feed, leader, shutdown)
}

/// Map changed keys of the targets, policies, scheduled actions and alarms views to the
/// targets they concern.
async fn wakes(
    state: State,
    tx: mpsc::UnboundedSender<Wake<String>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let views = state.autoscaling();
    let mut targets = views.targets.key_changes();
    let mut policies = views.policies.key_changes();
    let mut scheduled = views.scheduled.key_changes();
    let mut alarms = state.cloudwatch().alarms.key_changes();
    loop {
        let changed = tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            c = targets.next() => c,
            c = policies.next() => c,
            c = scheduled.next() => c,
            c = alarms.next() => c,
        };
        let wakes = match changed {
            None => return,
            Some(Changed::All) => vec![Wake::All],
            Some(Changed::Keys(keys)) => keys
                .iter()
                .filter_map(|k| std::str::from_utf8(k).ok())
                .flat_map(|k| woken(&state, k))
                .map(Wake::Key)
                .collect(),
        };
        for w in wakes {
            if tx.send(w).is_err() {
                return;
            }
        }
    }
}

/// The target keys a changed key concerns.
fn woken(state: &State, key: &str) -> Vec<String> {
    if key.starts_with(keys::AS_TARGETS) {
        return vec![key.to_string()];
    }
    for kind in [keys::AS_POLICIES, keys::AS_SCHEDULED] {
        if let Some(rest) = key.strip_prefix(kind) {
            // region / service / CLUSTER / SERVICE / name
            let parts: Vec<&str> = rest.splitn(5, '/').collect();
            if parts.len() == 5 {
                return vec![keys::as_target(parts[0], &parts[1..4].join("/"))];
            }
            return vec![];
        }
    }
    let Some((region, name)) = key
        .strip_prefix(keys::CW_ALARMS)
        .and_then(|r| r.split_once('/'))
    else {
        return vec![];
    };
    cloudwatch::alarm(state, region, name)
        .map(|a| {
            a.alarm_actions
                .iter()
                .filter_map(|arn| policy_resource(arn))
                .map(|r| keys::as_target(region, r))
                .collect()
        })
        .unwrap_or_default()
}

/// The resource id in a scaling policy ARN (`...:resource/ecs/RESOURCE:policyName/NAME`).
fn policy_resource(arn: &str) -> Option<&str> {
    let rest = &arn[arn.find(":resource/ecs/")? + ":resource/ecs/".len()..];
    Some(&rest[..rest.find(":policyName/")?])
}

struct Autoscaling {
    state: State,
}

impl Reconciler for Autoscaling {
    type Key = String;

    fn name(&self) -> &'static str {
        "autoscaling"
    }

    fn keys(&self) -> Vec<String> {
        self.state
            .autoscaling()
            .targets
            .range(keys::AS_TARGETS.as_bytes())
            .iter()
            .filter_map(|(k, _)| String::from_utf8(k.to_vec()).ok())
            .collect()
    }

    async fn reconcile(&self, key: &String) -> Result<Action, ControlError> {
        let Some((region, resource_id)) = key
            .strip_prefix(keys::AS_TARGETS)
            .and_then(|r| r.split_once('/'))
        else {
            return Ok(Action::AwaitChange);
        };
        let Some(target) = target_entry(&self.state, region, resource_id) else {
            return Ok(Action::AwaitChange);
        };
        let acted = step(&self.state, region, &target.value)
            .await
            .map_err(|e| match e {
                domain::AutoScalingError::Control(c) => c,
                other => ControlError::invalid(other.to_string()),
            })?;
        Ok(Action::Requeue(if acted { AGAIN } else { REQUEUE }))
    }
}

/// One step for one target; whether it acted.
async fn step(state: &State, region: &str, t: &ScalableTargetRecord) -> domain::Result<bool> {
    let now = state.clock().now();
    let rid = t.resource_id.as_str();
    if !t.suspended.scheduled {
        for a in scheduled_of(state, region, Some(rid)) {
            if scheduled::due(&a, now) && scheduled::mark_run(state, region, &a, now).await? {
                let cause = format!("scheduled action name {} was triggered", a.name);
                scale::set_bounds(state, region, rid, a.min_capacity, a.max_capacity, &cause)
                    .await?;
                return Ok(true);
            }
        }
    }
    let Some(current) = scale::desired_count(state, region, rid) else {
        return Ok(false);
    };
    let bounded = current.clamp(t.min_capacity, t.max_capacity.max(t.min_capacity));
    if bounded != current {
        let (kind, cause) = if bounded > current {
            (
                MarkKind::Out,
                format!("minimum capacity was set to {}", t.min_capacity),
            )
        } else {
            (
                MarkKind::In,
                format!("maximum capacity was set to {}", t.max_capacity),
            )
        };
        let trigger = Trigger {
            cause,
            alarm: None,
            mark: Some((kind, current)),
        };
        return scale::set_desired(state, region, rid, bounded, &trigger).await;
    }
    let all_alarms = cloudwatch::alarms(state, region);
    for p in policies_of(state, region, Some(rid)) {
        for alarm in invoking(&p, &all_alarms) {
            if due(t, &alarm, now) && invoke(state, region, t, &p, &alarm, current, now).await? {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The alarms that invoke `p`: the ones target tracking made, or any naming its ARN.
fn invoking(p: &ScalingPolicyRecord, all: &[Arc<AlarmRecord>]) -> Vec<Arc<AlarmRecord>> {
    all.iter()
        .filter(|a| match &p.config {
            PolicyConfig::TargetTracking(_) => p.alarms.iter().any(|r| r.name == a.name),
            PolicyConfig::Step(_) => a.alarm_actions.contains(&p.arn),
        })
        .cloned()
        .collect()
}

/// Whether `alarm` invokes its action now: in ALARM with actions enabled, and not yet
/// invoked since it got there or for a period.
fn due(t: &ScalableTargetRecord, alarm: &AlarmRecord, now: DateTime<Utc>) -> bool {
    if alarm.state != AlarmState::Alarm || !alarm.actions_enabled {
        return false;
    }
    let period = chrono::Duration::seconds(i64::from(alarm.period().max(1)));
    t.invoked
        .get(&alarm.name)
        .is_none_or(|at| at.0 < alarm.state_updated || now - at.0 >= period)
}

/// The alarm's recent datapoints, newest first, from its StateReasonData.
pub fn recent_datapoints(alarm: &AlarmRecord) -> Vec<f64> {
    alarm
        .state_reason_data
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|v| {
            v.get("recentDatapoints")?
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        })
        .unwrap_or_default()
}

/// Invoke `p` from `alarm`; whether it wrote anything.
async fn invoke(
    state: &State,
    region: &str,
    t: &ScalableTargetRecord,
    p: &ScalingPolicyRecord,
    alarm: &AlarmRecord,
    current: i64,
    now: DateTime<Utc>,
) -> domain::Result<bool> {
    let points = recent_datapoints(alarm);
    let Some(&newest) = points.first() else {
        return Ok(false);
    };
    let (rule, value, out_cd, in_cd) = match &p.config {
        PolicyConfig::TargetTracking(tt) => {
            let direction = match side_of(&alarm.name) {
                Side::High => Direction::Out,
                Side::Low if tt.disable_scale_in => return Ok(false),
                Side::Low => Direction::In,
            };
            let rule = Rule::Track {
                target: tt.target_value,
                direction,
            };
            (rule, newest, tt.out_cooldown(), tt.in_cooldown())
        }
        PolicyConfig::Step(s) => {
            let value = aggregate(&points, s.aggregation.as_deref());
            let cd = s.cooldown.unwrap_or(DEFAULT_COOLDOWN);
            (step_rule(s, alarm.threshold), value, cd, cd)
        }
    };
    let mark = |m: Option<flotilla_model::autoscaling::ScaleMark>| {
        m.map(|m| Mark {
            at: m.at,
            from: m.from,
        })
    };
    let input = scaling::Input {
        rule,
        value,
        current,
        min: t.min_capacity,
        max: t.max_capacity,
        now,
        last_out: mark(t.last_scale_out),
        last_in: mark(t.last_scale_in),
        out_cooldown: out_cd,
        in_cooldown: in_cd,
    };
    let mut trigger = Trigger {
        cause: format!(
            "monitor alarm {} in state ALARM triggered policy {}",
            alarm.name, p.name
        ),
        alarm: Some(alarm.name.clone()),
        mark: None,
    };
    match scaling::decide(&input) {
        Decision::Cooldown => Ok(false),
        Decision::Scale(n) => {
            let kind = if n > current {
                MarkKind::Out
            } else {
                MarkKind::In
            };
            let suspended = match kind {
                MarkKind::Out => t.suspended.dynamic_out,
                MarkKind::In => t.suspended.dynamic_in,
            };
            if suspended {
                return Ok(false);
            }
            // A scale-out within the cooldown keeps counting from the capacity before it.
            let from = match (kind, input.last_out) {
                (MarkKind::Out, Some(m)) if now < m.at + chrono::Duration::seconds(out_cd) => {
                    m.from
                }
                _ => current,
            };
            trigger.mark = Some((kind, from));
            scale::set_desired(state, region, &t.resource_id, n, &trigger).await
        }
        Decision::NotScaled(why) => {
            let reason = NotScaledReason {
                code: why.code().into(),
                min: (why == NotScaled::AlreadyAtMinCapacity).then_some(t.min_capacity),
                max: (why == NotScaled::AlreadyAtMaxCapacity).then_some(t.max_capacity),
                current: Some(current),
            };
            scale::not_scaled(state, region, &t.resource_id, reason, &trigger).await?;
            Ok(false)
        }
    }
}

/// A step policy's rule against its alarm's threshold.
fn step_rule(s: &flotilla_model::autoscaling::StepScaling, threshold: f64) -> Rule {
    use scaling::Adjustment::*;
    Rule::Steps {
        threshold,
        kind: match s.adjustment_type.as_str() {
            "PercentChangeInCapacity" => PercentChangeInCapacity,
            "ExactCapacity" => ExactCapacity,
            _ => ChangeInCapacity,
        },
        steps: s
            .steps
            .iter()
            .map(|x| scaling::Step {
                lower: x.lower,
                upper: x.upper,
                adjustment: x.adjustment,
            })
            .collect(),
        min_magnitude: s.min_adjustment_magnitude,
    }
}

/// The datapoints aggregated as MetricAggregationType says (Average by default).
fn aggregate(points: &[f64], how: Option<&str>) -> f64 {
    match how {
        Some("Minimum") => points.iter().copied().fold(f64::INFINITY, f64::min),
        Some("Maximum") => points.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        _ => points.iter().sum::<f64>() / points.len().max(1) as f64,
    }
}

#[cfg(test)]
mod tests;
