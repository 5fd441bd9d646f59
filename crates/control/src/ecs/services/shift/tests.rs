//! Which target groups green uses, the rollback to a running blue, the swap on completion.

use super::*;
use crate::ecs::services::start_deployment;
use flotilla_model::service::{DeploymentStatus, RolloutState, ServiceDeploymentStatus};

use super::fixtures::{blue_green, A, B};

/// A BLUE_GREEN service of two tasks on target group A (alternate B) whose first
/// deployment completed.
fn service() -> ServiceRecord {
    blue_green(Utc::now())
}

#[test]
fn green_takes_the_group_blue_does_not_use_and_the_groups_swap_when_it_completes() {
    let mut s = service();
    let blue = s.primary().unwrap().id.clone();
    start_deployment(&mut s, Utc::now(), None);
    let green = s.primary().unwrap().clone();
    let shift = green.shift.clone().unwrap();
    assert_eq!(shift.target_groups, vec![B.to_string()]);
    assert_eq!(shift.blue.as_deref(), Some(blue.as_str()));
    assert_eq!(group_of(&s, s.deployment(&blue), 0), A);
    assert_eq!(group_of(&s, Some(&green), 0), B);
    // Not while blue is still there, nor while green shifts.
    assert!(!swap_when_complete(&mut s));
    s.retire(&blue, Utc::now());
    assert!(!swap_when_complete(&mut s));
    s.primary_mut().unwrap().complete(Utc::now());
    assert!(swap_when_complete(&mut s));
    let lb = &s.load_balancers[0];
    assert_eq!(lb.target_group_arn.as_deref(), Some(B));
    let alt = lb.advanced_configuration.as_ref().unwrap();
    assert_eq!(alt.alternate_target_group_arn.as_deref(), Some(A));
    assert!(!swap_when_complete(&mut s), "once");
    // The next green goes back to A.
    start_deployment(&mut s, Utc::now(), None);
    let next = s.primary().unwrap().shift.clone().unwrap();
    assert_eq!(next.target_groups, vec![A.to_string()]);
    assert_eq!(next.blue.as_deref(), Some(green.id.as_str()));
}

#[test]
fn a_rollback_makes_the_running_blue_primary_again() {
    let mut s = service();
    let blue = s.primary().unwrap().clone();
    s.task_definition = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2".into();
    start_deployment(&mut s, Utc::now(), None);
    let green = s.primary().unwrap().id.clone();
    assert!(roll_back(&mut s, Utc::now(), "asked"));
    let p = s.primary().unwrap();
    assert_eq!(p.id, blue.id);
    assert_eq!(p.rollout_state(), RolloutState::Completed);
    assert_eq!(s.deployments[0].id, blue.id, "the PRIMARY first");
    assert_eq!(s.task_definition, blue.task_definition);
    let g = s.deployment(&green).unwrap();
    assert_eq!(g.status(), DeploymentStatus::Active);
    assert_eq!(g.rollout_state(), RolloutState::Failed);
    assert_eq!(
        g.deployment_status(),
        ServiceDeploymentStatus::RollbackInProgress
    );
    assert_eq!(
        g.rollback().unwrap().service_revision_arn,
        blue.service_revision_arn
    );
    // Blue is not shifting: nothing more to roll back this way.
    assert!(!roll_back(&mut s, Utc::now(), "again"));
}

#[test]
fn once_blue_is_stopping_a_rollback_is_a_new_shift_back_from_green() {
    let mut s = service();
    start_deployment(&mut s, Utc::now(), None);
    let green = s.primary().unwrap().id.clone();
    s.primary_mut().unwrap().shift.as_mut().unwrap().stage = LifecycleStage::CleanUp;
    assert!(!roll_back(&mut s, Utc::now(), "late"));
    crate::ecs::services::roll_back(&mut s, Utc::now(), "late").unwrap();
    let back = s.primary().unwrap().shift.clone().unwrap();
    assert_eq!(back.blue.as_deref(), Some(green.as_str()));
    assert_eq!(back.target_groups, vec![A.to_string()]);
}
