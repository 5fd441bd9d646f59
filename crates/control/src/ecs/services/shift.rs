//! The record side of blue/green, linear and canary deployments: which target groups a
//! new (green) deployment's tasks use and which deployment is blue, the target group of a
//! task, the rollback that moves traffic back to blue at once, the swap of the primary and
//! alternate target groups when green completes, ContinueServiceDeployment, and the checks
//! of a service's `advancedConfiguration` against the load balancer.
//!
//! The stage machine is `flotilla_scheduler::bluegreen`; the controller's driver is
//! `controllers/services/bluegreen.rs`.

use chrono::{DateTime, Utc};
use flotilla_model::elbv2::Action;
use flotilla_model::service::strategy::{HookAction, HookStatus, Permille};
use flotilla_model::service::{
    strategy::validate_advanced, Deployment, LifecycleStage, LoadBalancer, ServiceRecord, Shift,
};
use flotilla_model::{ErrorKind, ModelError, Resource, Scope};

use super::update;
use crate::elbv2::{rules, target_groups};
use crate::{ControlError, State};

/// Whether a service's deployments shift traffic: a BLUE_GREEN, LINEAR or CANARY strategy
/// with an `advancedConfiguration` on every load balancer.
pub fn shifts(svc: &ServiceRecord) -> bool {
    svc.deployment_strategy.strategy.shifts_traffic()
        && !svc.load_balancers.is_empty()
        && svc
            .load_balancers
            .iter()
            .all(|l| l.advanced_configuration.is_some())
}

/// The alternate target group of a `loadBalancers` entry.
fn alternate(lb: &LoadBalancer) -> &str {
    lb.advanced_configuration
        .as_ref()
        .and_then(|a| a.alternate_target_group_arn.as_deref())
        .unwrap_or_default()
}

/// The other target group of an entry than `tg`.
pub fn other_group<'a>(lb: &'a LoadBalancer, tg: &str) -> &'a str {
    let primary = lb.target_group_arn.as_deref().unwrap_or_default();
    if tg == primary {
        alternate(lb)
    } else {
        primary
    }
}

/// The target group the tasks of deployment `d` use for `loadBalancers` entry `i`: the
/// one its shift chose, or the entry's own.
pub fn group_of<'a>(svc: &'a ServiceRecord, d: Option<&'a Deployment>, i: usize) -> &'a str {
    d.and_then(|d| d.shift.as_ref())
        .and_then(|s| s.target_groups.get(i))
        .map(String::as_str)
        .or(svc
            .load_balancers
            .get(i)
            .and_then(|l| l.target_group_arn.as_deref()))
        .unwrap_or_default()
}

/// The shift a new deployment of `svc` starts with: none for a rolling service or for its
/// first deployment (nothing to shift from). Blue is the deployment that takes production
/// traffic now (the blue of a green still shifting, or the last primary); green's tasks go
/// to the other target group of each entry.
pub fn new_shift(svc: &ServiceRecord, now: DateTime<Utc>) -> Option<Shift> {
    if !shifts(svc) {
        return None;
    }
    let last = svc.primary()?;
    let blue_id = match &last.shift {
        Some(s) if last.in_progress() && s.production < Permille::ALL => {
            s.blue.clone().unwrap_or_else(|| last.id.clone())
        }
        _ => last.id.clone(),
    };
    let blue = svc.deployments.iter().find(|d| d.id == blue_id);
    let groups = svc
        .load_balancers
        .iter()
        .enumerate()
        .map(|(i, lb)| other_group(lb, group_of(svc, blue, i)).to_string())
        .collect();
    Some(Shift::start(groups, Some(blue_id), now))
}

/// Roll a shifting primary back to its blue, which still runs: blue is the PRIMARY again
/// (so traffic returns to it at once), green is FAILED with ROLLBACK_IN_PROGRESS and its
/// tasks stop once the rules have settled. False when the primary is not shifting or its
/// blue is gone or stopping (CLEAN_UP): then a rollback starts a new deployment, which
/// shifts back from green as any other would.
pub fn roll_back(svc: &mut ServiceRecord, now: DateTime<Utc>, reason: &str) -> bool {
    let Some(green) = svc.primary() else {
        return false;
    };
    let Some(blue_id) = green
        .shift
        .as_ref()
        .filter(|s| s.stage < LifecycleStage::CleanUp)
        .and_then(|s| s.blue.clone())
    else {
        return false;
    };
    let green_id = green.id.clone();
    let Some(bi) = svc.deployments.iter().position(|d| d.id == blue_id) else {
        return false;
    };
    let blue = &svc.deployments[bi];
    let (revision, task_definition) = (
        blue.service_revision_arn.clone(),
        blue.task_definition.clone(),
    );
    if let Some(g) = svc.deployments.iter_mut().find(|d| d.id == green_id) {
        g.fail_and_roll_back(reason, &revision, now);
        g.replace(now);
    }
    let mut b = svc.deployments.remove(bi);
    b.restore(now);
    b.desired_count = svc.desired_count;
    svc.deployments.insert(0, b);
    svc.task_definition = task_definition;
    svc.steady = false;
    let name = svc.service_name.clone();
    svc.push_event(
        format!(
            "(service {name}) (deployment {green_id}) rolling back: production traffic returns \
             to deployment {blue_id}."
        ),
        now,
    );
    true
}

/// Once a shifted deployment has completed, its target groups are the service's: swap
/// each entry's `targetGroupArn` and `alternateTargetGroupArn` where they differ, as ECS
/// does. Whether anything changed.
pub fn swap_when_complete(svc: &mut ServiceRecord) -> bool {
    let Some(p) = svc.primary() else {
        return false;
    };
    let Some(shift) = p.shift.as_ref().filter(|_| !p.in_progress()) else {
        return false;
    };
    if svc.deployments.len() != 1 {
        return false;
    }
    let groups = shift.target_groups.clone();
    let mut changed = false;
    for (lb, green) in svc.load_balancers.iter_mut().zip(groups) {
        let primary = lb.target_group_arn.clone().unwrap_or_default();
        if primary == green {
            continue;
        }
        if let Some(a) = lb.advanced_configuration.as_mut() {
            a.alternate_target_group_arn = Some(primary);
            lb.target_group_arn = Some(green);
            changed = true;
        }
    }
    changed
}

fn deployment_not_found() -> ControlError {
    ControlError::not_found(
        Resource::ServiceDeployment,
        "The service deployment does not exist.",
    )
}

/// ContinueServiceDeployment: resolve the PAUSE hook `hook_id` the deployment `arn` waits
/// at, going on (CONTINUE) or rolling back (ROLLBACK).
pub async fn continue_deployment(
    state: &State,
    key: &str,
    arn: &str,
    hook_id: &str,
    action: HookAction,
    now: DateTime<Utc>,
) -> Result<(), ControlError> {
    update(state, key, |s| {
        let d = s
            .deployments
            .iter_mut()
            .find(|d| d.service_deployment_arn == arn)
            .ok_or_else(deployment_not_found)?;
        let waiting = d.is_primary() && d.in_progress();
        let Some(shift) = d.shift.as_mut().filter(|_| waiting) else {
            return Err(ControlError::client(
                "The service deployment is not paused at a lifecycle hook.",
            ));
        };
        let status = match action {
            HookAction::Continue => HookStatus::Succeeded,
            HookAction::Rollback => HookStatus::Failed,
        };
        if !shift.resolve(hook_id, status) {
            return Err(ModelError::new(
                ErrorKind::InvalidParameter,
                format!("The service deployment is not waiting at the lifecycle hook '{hook_id}'."),
            )
            .into());
        }
        if action == HookAction::Rollback {
            super::roll_back(
                s,
                now,
                "Rollback requested at a lifecycle hook (ContinueServiceDeployment).",
            )
            .map_err(ControlError::client)?;
        }
        Ok(true)
    })
    .await
    .map(|_| ())
}

/// Check a service's `advancedConfiguration` against the load balancer: the alternate
/// target group exists beside the primary, and each listener rule forwards to one of the
/// two.
pub fn check_advanced(
    state: &State,
    scope: &Scope,
    svc: &ServiceRecord,
) -> Result<(), ControlError> {
    validate_advanced(svc.deployment_strategy.strategy, &svc.load_balancers)?;
    if !shifts(svc) {
        return Ok(());
    }
    for lb in &svc.load_balancers {
        let primary = lb.target_group_arn.as_deref().unwrap_or_default();
        let alt = alternate(lb);
        target_groups::check_for_service(state, scope, alt)?;
        let a = lb.advanced_configuration.clone().unwrap_or_default();
        for rule in [a.production_listener_rule, a.test_listener_rule]
            .into_iter()
            .flatten()
        {
            let r = rules::rule_by_arn(state, scope, &rule)?;
            let ok = matches!(&r.action, Action::Forward { target_groups, .. }
                if target_groups.iter().all(|g| g.arn == primary || g.arn == alt));
            if !ok {
                return Err(ControlError::invalid(format!(
                    "advancedConfiguration: the listener rule {rule} must forward to the \
                     target group {primary} (or its alternate {alt}) only."
                )));
            }
        }
    }
    Ok(())
}

/// The blue/green service the shift's and the controller's tests start from.
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Utc};
    use flotilla_model::service::strategy::Strategy;
    use flotilla_model::service::{AdvancedConfiguration, LoadBalancer, ServiceRecord};

    use crate::ecs::services::{start_deployment, test_record};

    pub const A: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/a/1";
    pub const B: &str = "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/b/2";

    /// A BLUE_GREEN service of two tasks on target group A (alternate B) whose first
    /// deployment completed.
    pub fn blue_green(now: DateTime<Utc>) -> ServiceRecord {
        let mut s = test_record("c", "web", 2, now);
        s.deployment_strategy.strategy = Strategy::BlueGreen;
        s.load_balancers = vec![LoadBalancer {
            target_group_arn: Some(A.into()),
            load_balancer_name: None,
            container_name: Some("app".into()),
            container_port: Some(80),
            advanced_configuration: Some(AdvancedConfiguration {
                alternate_target_group_arn: Some(B.into()),
                production_listener_rule: Some("arn:rule/prod".into()),
                test_listener_rule: None,
                role_arn: Some("arn:role".into()),
            }),
        }];
        s.deployments.clear();
        start_deployment(&mut s, now, None);
        assert!(
            s.primary().unwrap().shift.is_none(),
            "nothing to shift from"
        );
        s.primary_mut().unwrap().complete(now);
        s
    }
}

#[cfg(test)]
mod tests;
