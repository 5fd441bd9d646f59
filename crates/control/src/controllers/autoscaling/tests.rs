//! The controller with paused time over the memory store: an alarm in ALARM scales the
//! service out through UpdateService's operation, a larger reading during the cooldown
//! scales further, the same reading does not, the low alarm scales in, the maximum is
//! reported as a not-scaled activity once, and a scheduled action raises the minimum and
//! with it the desired count.

use std::time::Duration;

use flotilla_model::autoscaling::ActivityStatus;
use flotilla_model::cloudwatch::AlarmState;

use super::*;
use crate::autoscaling::scheduled::ScheduledInput;
use crate::autoscaling::tests::{cpu, register, with_service, R, WEB};
use crate::autoscaling::{policies, scale::desired_count};

/// Put alarm `name` in `state` with CloudWatch's reason data carrying `points`.
async fn alarm_to(state: &State, name: &str, to: AlarmState, points: &[f64]) {
    let data = serde_json::json!({"version": "1.0", "recentDatapoints": points}).to_string();
    cloudwatch::set_state(state, R, name, to, "test".into(), Some(data))
        .await
        .unwrap();
}

async fn once(state: &State) -> bool {
    let t = target_entry(state, R, WEB).unwrap().value;
    step(state, R, &t).await.unwrap()
}

fn target(state: &State) -> Arc<ScalableTargetRecord> {
    target_entry(state, R, WEB).unwrap().value
}

#[tokio::test(start_paused = true)]
async fn alarms_scale_out_within_cooldowns_and_back_in() {
    let state = with_service(1).await;
    register(&state, 1, 5).await;
    let p = policies::put(&state, R, WEB, "cpu", cpu(50.0, 60))
        .await
        .unwrap();
    let (high, low) = (p.alarms[0].name.clone(), p.alarms[1].name.clone());
    assert!(!once(&state).await, "nothing is in ALARM yet");

    alarm_to(&state, &high, AlarmState::Alarm, &[90.0, 80.0, 70.0]).await;
    assert!(once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(2));
    let a = target(&state).activities.last().cloned().unwrap();
    assert_eq!(a.description, "Setting desired count to 2.");
    assert_eq!(
        a.cause,
        format!("monitor alarm {high} in state ALARM triggered policy cpu")
    );
    assert_eq!(a.status, ActivityStatus::Successful);
    // The same reading again: the cooldown counts the task just added.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(!once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(2));

    // A larger reading within the cooldown goes through, counted from before it.
    alarm_to(&state, &high, AlarmState::Alarm, &[200.0]).await;
    assert!(once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(4));
    // Beyond the maximum: one not-scaled activity, however often it is invoked.
    tokio::time::advance(Duration::from_secs(61)).await;
    alarm_to(&state, &high, AlarmState::Alarm, &[500.0]).await;
    assert!(once(&state).await, "5 is still more than 4");
    assert_eq!(desired_count(&state, R, WEB), Some(5));
    tokio::time::advance(Duration::from_secs(61)).await;
    for _ in 0..3 {
        once(&state).await;
        tokio::time::advance(Duration::from_secs(10)).await;
    }
    let not_scaled: Vec<_> = target(&state)
        .activities
        .iter()
        .filter(|a| !a.not_scaled.is_empty())
        .cloned()
        .collect();
    assert_eq!(not_scaled.len(), 1, "{not_scaled:?}");
    assert_eq!(not_scaled[0].not_scaled[0].code, "AlreadyAtMaxCapacity");

    // The high alarm clears, the low one fires: ceil(5 × 10 / 50) = 1.
    alarm_to(&state, &high, AlarmState::Ok, &[40.0]).await;
    alarm_to(&state, &low, AlarmState::Alarm, &[10.0]).await;
    assert!(once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(1));
    assert_eq!(target(&state).last_scale_in.unwrap().from, 5);
}

#[tokio::test(start_paused = true)]
async fn suspended_scale_in_and_disabled_actions_do_nothing() {
    let state = with_service(3).await;
    register(&state, 1, 5).await;
    let p = policies::put(&state, R, WEB, "cpu", cpu(50.0, 0))
        .await
        .unwrap();
    let r = crate::autoscaling::targets::Registration {
        resource_id: WEB.into(),
        dynamic_in_suspended: Some(true),
        ..Default::default()
    };
    crate::autoscaling::targets::register(&state, R, &r)
        .await
        .unwrap();
    alarm_to(&state, &p.alarms[1].name, AlarmState::Alarm, &[1.0]).await;
    assert!(!once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(3));
    cloudwatch::set_actions_enabled(&state, R, &[p.alarms[0].name.clone()], false)
        .await
        .unwrap();
    alarm_to(&state, &p.alarms[0].name, AlarmState::Alarm, &[100.0]).await;
    assert!(!once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(3));
}

#[tokio::test(start_paused = true)]
async fn a_scheduled_action_raises_the_minimum_and_the_desired_count() {
    let state = with_service(1).await;
    register(&state, 1, 5).await;
    let at = (state.clock().now() + chrono::Duration::seconds(90)).format("%Y-%m-%dT%H:%M:%S");
    let input = ScheduledInput {
        resource_id: WEB.into(),
        name: "morning".into(),
        schedule: Some(format!("at({at})")),
        min_capacity: Some(3),
        ..Default::default()
    };
    crate::autoscaling::scheduled::put(&state, R, &input)
        .await
        .unwrap();
    assert!(!once(&state).await);
    tokio::time::advance(Duration::from_secs(91)).await;
    assert!(once(&state).await);
    assert_eq!(target(&state).min_capacity, 3);
    assert!(once(&state).await);
    assert_eq!(desired_count(&state, R, WEB), Some(3));
    let acts = &target(&state).activities;
    assert_eq!(acts[0].description, "Setting min capacity to 3");
    assert_eq!(acts[0].cause, "scheduled action name morning was triggered");
    assert_eq!(acts[1].description, "Setting desired count to 3.");
    assert!(!once(&state).await, "it ran once");
}
