//! The service controller's driver of blue/green, linear and canary deployments. Each pass
//! it (1) writes the production and test listener rules for the traffic the primary's
//! shift asks for (through the control plane's ModifyRule), (2) tells the planner which
//! deployments' tasks to leave alone (blue until CLEAN_UP, a rolled-back green until its
//! traffic has gone), and (3) moves the shift one step with the pure stage machine
//! (`flotilla_scheduler::bluegreen`), in the same record write as the pass's other
//! findings. Traffic always changes before the tasks that lose it are deregistered.

use chrono::{DateTime, Utc};
use flotilla_model::elbv2::listener::WeightedGroup;
use flotilla_model::elbv2::Action;
use flotilla_model::service::strategy::Permille;
use flotilla_model::service::{new_resource_id, RolloutState, ServiceRecord};
use flotilla_model::Scope;
use flotilla_scheduler::bluegreen::{self as machine, Observed, Step, Traffic, SETTLE};

use crate::ecs::services::{self as services, shift};
use crate::elbv2::rules;
use crate::State;

/// The traffic the service's deployments ask for on `loadBalancers` entry `i`: the green
/// target group and its shares. A shifting primary asks for its shift's; a failed one
/// (aborted) sends everything back to blue; otherwise all of it goes to the primary's
/// target group.
fn wanted(svc: &ServiceRecord, i: usize) -> (String, Traffic) {
    let all = Traffic {
        production: Permille::ALL,
        test_on_green: true,
    };
    match svc.primary() {
        Some(p) if p.shift.is_some() && p.rollout_state() != RolloutState::Completed => {
            let green = shift::group_of(svc, Some(p), i).to_string();
            let traffic = match (&p.shift, p.in_progress()) {
                (Some(s), true) => Traffic::of(s),
                _ => Traffic::BLUE,
            };
            (green, traffic)
        }
        p => (shift::group_of(svc, p, i).to_string(), all),
    }
}

/// Write the listener rules of every `loadBalancers` entry with an
/// `advancedConfiguration` so that they forward as the deployments ask. Whether every
/// rule now does.
pub(super) async fn apply_traffic(state: &State, scope: &Scope, svc: &ServiceRecord) -> bool {
    let mut ok = true;
    for (i, lb) in svc.load_balancers.iter().enumerate() {
        let Some(a) = &lb.advanced_configuration else {
            continue;
        };
        let (green, traffic) = wanted(svc, i);
        let blue = shift::other_group(lb, &green).to_string();
        let test = if traffic.test_on_green {
            Permille::ALL
        } else {
            Permille(0)
        };
        let rules = [
            (a.production_listener_rule.as_deref(), traffic.production),
            (a.test_listener_rule.as_deref(), test),
        ];
        for (arn, share) in rules {
            let Some(arn) = arn else {
                continue;
            };
            ok &= forward(state, scope, arn, &blue, &green, share).await;
        }
    }
    ok
}

/// Make rule `arn` forward `share` to `green` and the rest to `blue` (keeping its group
/// stickiness). Whether it does.
async fn forward(
    state: &State,
    scope: &Scope,
    arn: &str,
    blue: &str,
    green: &str,
    share: Permille,
) -> bool {
    let rule = match rules::rule_by_arn(state, scope, arn) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(rule = %arn, error = %e, "a deployment's listener rule is gone");
            return false;
        }
    };
    let stickiness_seconds = match &rule.action {
        Action::Forward {
            stickiness_seconds, ..
        } => *stickiness_seconds,
        _ => None,
    };
    let (wb, wg) = machine::weights(share);
    let action = Action::Forward {
        target_groups: vec![
            WeightedGroup {
                arn: blue.to_string(),
                weight: wb,
            },
            WeightedGroup {
                arn: green.to_string(),
                weight: wg,
            },
        ],
        stickiness_seconds,
    };
    if rule.action == action {
        return true;
    }
    match rules::modify_rule(state, scope, arn, None, Some(action)).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(rule = %arn, error = %e, "shifting a listener rule's weights failed");
            false
        }
    }
}

/// The deployments whose tasks the planner leaves alone this pass: blue until the shift
/// reaches CLEAN_UP; every older deployment while a new shift lets a replaced green's
/// traffic return to blue; a rolled-back green until its traffic has gone; and, when the
/// rules could not be written, every deployment but the primary.
pub(super) fn held(svc: &ServiceRecord, traffic_ok: bool, now: DateTime<Utc>) -> Vec<String> {
    let others = svc.deployments.iter().filter(|d| !d.is_primary());
    if !traffic_ok {
        return others.map(|d| d.id.clone()).collect();
    }
    let mut held = Vec::new();
    if let Some(s) = svc
        .primary()
        .filter(|p| p.in_progress())
        .and_then(|p| p.shift.as_ref())
    {
        if !machine::blue_released(s) {
            held.extend(s.blue.clone());
        }
        if s.stage == flotilla_model::service::LifecycleStage::ReconcileService {
            held.extend(others.clone().map(|d| d.id.clone()));
        }
    }
    let settle = chrono::Duration::from_std(SETTLE).unwrap_or_default();
    for d in others {
        if d.rollback().is_some_and(|r| now - r.started_at < settle) {
            held.push(d.id.clone());
        }
    }
    held.sort();
    held.dedup();
    held
}

/// Move the shift of the primary `primary` one step (after its traffic was written);
/// whether the record changed. A hook that timed out with ROLLBACK rolls back here.
pub(super) fn advance(
    s: &mut ServiceRecord,
    primary: &str,
    green_ready: bool,
    now: DateTime<Utc>,
) -> bool {
    let name = s.service_name.clone();
    let Some(p) = s
        .primary_mut()
        .filter(|p| p.id == primary && p.in_progress())
    else {
        return false;
    };
    let config = p.deployment_strategy.clone();
    let id = p.id.clone();
    let Some(sh) = p.shift.as_mut() else {
        return false;
    };
    let before = (sh.stage, sh.production);
    let seen = Observed { green_ready, now };
    match machine::advance(sh, &config, &seen, &mut new_resource_id) {
        Step::Stay => false,
        Step::Moved => {
            let (stage, share) = (sh.stage, sh.production);
            p.updated_at = now;
            if (stage, share) != before {
                s.push_event(
                    format!(
                        "(service {name}) (deployment {id}) entered lifecycle stage {}: {}% of \
                         production traffic on the new revision.",
                        stage.as_str(),
                        share.percent()
                    ),
                    now,
                );
            }
            true
        }
        Step::RollBack(reason) => services::roll_back(s, now, &reason).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ecs::services::shift::fixtures::{blue_green, A, B};
    use crate::ecs::services::start_deployment;
    use flotilla_model::service::LifecycleStage;

    /// A BLUE_GREEN service whose second deployment (green) is shifting from its first.
    fn shifting(now: DateTime<Utc>) -> (ServiceRecord, String, String) {
        let mut s = blue_green(now);
        let blue = s.primary().unwrap().id.clone();
        start_deployment(&mut s, now, None);
        let green = s.primary().unwrap().id.clone();
        (s, blue, green)
    }

    fn stage(s: &mut ServiceRecord, stage: LifecycleStage) {
        s.primary_mut().unwrap().shift.as_mut().unwrap().stage = stage;
    }

    #[test]
    fn blue_is_held_until_clean_up_and_a_rolled_back_green_until_traffic_settled() {
        let now = Utc::now();
        let (mut s, blue, green) = shifting(now);
        // RECONCILE_SERVICE holds every older deployment.
        assert_eq!(held(&s, true, now), vec![blue.clone()]);
        stage(&mut s, LifecycleStage::BakeTime);
        assert_eq!(held(&s, true, now), vec![blue.clone()]);
        assert_eq!(
            held(&s, false, now),
            vec![blue.clone()],
            "rules not written"
        );
        stage(&mut s, LifecycleStage::CleanUp);
        assert!(held(&s, true, now).is_empty());
        // Rolled back: blue is the primary; green is held for SETTLE.
        stage(&mut s, LifecycleStage::ProductionTrafficShift);
        services::roll_back(&mut s, now, "asked").unwrap();
        assert_eq!(held(&s, true, now), vec![green.clone()]);
        let later = now + chrono::Duration::from_std(SETTLE).unwrap();
        assert!(held(&s, true, later).is_empty());
    }

    #[test]
    fn traffic_follows_the_shift_and_returns_to_blue_when_it_fails() {
        let now = Utc::now();
        let (mut s, _, _) = shifting(now);
        let (green, t) = wanted(&s, 0);
        assert_eq!((green.as_str(), t), (B, Traffic::BLUE));
        {
            let sh = s.primary_mut().unwrap().shift.as_mut().unwrap();
            sh.production = Permille(300);
            sh.test_on_green = true;
        }
        assert_eq!(wanted(&s, 0).1.production, Permille(300));
        s.primary_mut().unwrap().fail("aborted", "aborted", now);
        assert_eq!(wanted(&s, 0), (B.to_string(), Traffic::BLUE));
        // A completed service sends everything to its primary's group.
        let (mut s, _, _) = shifting(now);
        services::roll_back(&mut s, now, "asked").unwrap();
        assert_eq!(wanted(&s, 0).0, A);
        assert_eq!(wanted(&s, 0).1.production, Permille::ALL);
    }
}
