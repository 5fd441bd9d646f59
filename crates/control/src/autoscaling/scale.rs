//! What the autoscaling controller does when it acts: set an ECS service's desired count
//! through the same operation UpdateService uses (`ecs::services::change`, so the service
//! controller starts or stops tasks and ECS's own events say so), set a target's bounds
//! (scheduled actions), and record each as a scaling activity worded as Application Auto
//! Scaling words it (`Setting desired count to 3.`), with the marks cooldowns read.

use chrono::{DateTime, Utc};
use flotilla_model::autoscaling::{
    parse_resource_id, Activity, ActivityStatus, InvokedAt, NotScaledReason, ScalableTargetRecord,
    ScaleMark,
};
use flotilla_model::service::ServiceStatus;
use flotilla_model::Scope;

use super::{update_target, Result};
use crate::ecs::services::{self, ServiceChange};
use crate::{keys, State};

/// Which cooldown mark a scaling moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Out,
    In,
}

/// Why the controller acts, and what it remembers having done.
#[derive(Debug, Clone)]
pub struct Trigger {
    /// The activity's Cause.
    pub cause: String,
    /// The alarm whose action this is (its invocation time is recorded).
    pub alarm: Option<String>,
    /// The cooldown mark to move, with the capacity it counts from.
    pub mark: Option<(MarkKind, i64)>,
}

fn activity(description: String, cause: String, now: DateTime<Utc>) -> Activity {
    Activity {
        id: uuid::Uuid::new_v4().to_string(),
        description,
        cause,
        start: now,
        end: Some(now),
        status: ActivityStatus::Successful,
        status_message: None,
        not_scaled: vec![],
    }
}

/// The service's desired count now, or None when the service is gone or no longer ACTIVE.
pub fn desired_count(state: &State, region: &str, resource_id: &str) -> Option<i64> {
    let svc = parse_resource_id(resource_id).ok()?;
    state
        .services()
        .get(keys::service(region, &svc.cluster, &svc.service).as_bytes())
        .filter(|e| e.value.status == ServiceStatus::Active && !e.value.is_daemon())
        .map(|e| e.value.desired_count)
}

/// Whether the newest activity already says what `act` says (a failure or a not-scaled
/// invocation is recorded once while nothing changes).
fn repeats(t: &ScalableTargetRecord, act: &Activity) -> bool {
    t.activities.last().is_some_and(|last| {
        last.status == act.status
            && last.description == act.description
            && last.cause == act.cause
            && last.status_message == act.status_message
            && last.not_scaled == act.not_scaled
    })
}

/// Set the desired count of the target's service to `to` and record the activity
/// (Failed, with ECS's message, when the service refused); whether it was set.
pub async fn set_desired(
    state: &State,
    region: &str,
    resource_id: &str,
    to: i64,
    trigger: &Trigger,
) -> Result<bool> {
    let now = state.clock().now();
    let mut act = activity(
        format!("Setting desired count to {to}."),
        trigger.cause.clone(),
        now,
    );
    let outcome = match parse_resource_id(resource_id) {
        Ok(svc) => {
            let scope = Scope::new(region, state.account());
            let key = keys::service(region, &svc.cluster, &svc.service);
            let change = ServiceChange {
                desired_count: Some(to),
                ..Default::default()
            };
            services::change(state, &scope, &key, &change, now)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.0),
    };
    match outcome {
        Ok(()) => {
            act.status_message = Some(format!(
                "Successfully set desired count to {to}. Change successfully fulfilled by ecs."
            ));
        }
        Err(message) => {
            act.status = ActivityStatus::Failed;
            act.status_message = Some(format!("Failed to set desired count to {to}. {message}"));
        }
    }
    let ok = act.status == ActivityStatus::Successful;
    update_target(state, region, resource_id, |t| {
        if ok {
            if let Some((kind, from)) = trigger.mark {
                let mark = Some(ScaleMark { at: now, from });
                match kind {
                    MarkKind::Out => t.last_scale_out = mark,
                    MarkKind::In => t.last_scale_in = mark,
                }
            }
        }
        remember(t, trigger, now);
        if !repeats(t, &act) {
            t.push_activity(act.clone());
        }
        Ok(true)
    })
    .await?;
    Ok(ok)
}

fn remember(t: &mut ScalableTargetRecord, trigger: &Trigger, now: DateTime<Utc>) {
    if let Some(a) = &trigger.alarm {
        t.invoked.insert(a.clone(), InvokedAt(now));
    }
}

/// Record that a policy was invoked and did not scale (`reason`), unless the newest
/// activity already says the same.
pub async fn not_scaled(
    state: &State,
    region: &str,
    resource_id: &str,
    reason: NotScaledReason,
    trigger: &Trigger,
) -> Result<()> {
    let now = state.clock().now();
    let mut act = activity(
        "Attempting to scale due to alarm triggered".into(),
        trigger.cause.clone(),
        now,
    );
    act.status = ActivityStatus::Failed;
    act.status_message = Some(format!(
        "Not scaled: {} (current capacity {}).",
        reason.code,
        reason.current.unwrap_or_default()
    ));
    act.not_scaled = vec![reason];
    update_target(state, region, resource_id, |t| {
        if repeats(t, &act) {
            return Ok(false);
        }
        remember(t, trigger, now);
        t.push_activity(act.clone());
        Ok(true)
    })
    .await?;
    Ok(())
}

/// Set a target's bounds from a scheduled action and record the activity; answers the
/// target as written.
pub async fn set_bounds(
    state: &State,
    region: &str,
    resource_id: &str,
    min: Option<i64>,
    max: Option<i64>,
    cause: &str,
) -> Result<Option<ScalableTargetRecord>> {
    let now = state.clock().now();
    update_target(state, region, resource_id, |t| {
        let new_min = min.unwrap_or(t.min_capacity);
        let new_max = max.unwrap_or(t.max_capacity).max(new_min);
        let description = match (min, max) {
            (Some(_), Some(_)) => {
                format!("Setting min capacity to {new_min} and max capacity to {new_max}")
            }
            (Some(_), None) => format!("Setting min capacity to {new_min}"),
            _ => format!("Setting max capacity to {new_max}"),
        };
        t.min_capacity = new_min;
        t.max_capacity = new_max;
        t.push_activity(activity(description, cause.to_string(), now));
        Ok(true)
    })
    .await
}
