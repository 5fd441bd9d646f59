//! Application Auto Scaling's operations over the memory store: registering needs the
//! service and updates what is given; target tracking puts its alarms through CloudWatch
//! (named, acted on and measured as AWS's) and removes them with the policy; deregistering
//! takes everything that hangs off the target.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use flotilla_model::autoscaling::{
    Customized, PolicyConfig, Predefined, TargetTracking, TrackedMetric,
};
use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{Comparison, Statistic};
use flotilla_store::MemoryStore;

use super::scheduled::ScheduledInput;
use super::targets::Registration;
use super::*;
use crate::{cloudwatch, ControlConfig};

pub(crate) const R: &str = "us-east-1";
pub(crate) const WEB: &str = "service/c/web";

/// A state over the memory store with an ACTIVE service `c/web` at `desired` tasks.
pub(crate) async fn with_service(desired: i64) -> State {
    let state = State::new(
        Arc::new(MemoryStore::new()),
        ControlConfig::new("000000000000"),
    )
    .await
    .unwrap();
    let s = crate::ecs::services::test_record("c", "web", desired, Utc::now());
    let key = keys::service(R, "c", "web");
    assert!(state
        .put_if_unchanged(&key, 0, flotilla_model::record::encode(&s))
        .await
        .unwrap());
    state
}

pub(crate) async fn register(state: &State, min: i64, max: i64) -> ScalableTargetRecord {
    let r = Registration {
        resource_id: WEB.into(),
        min_capacity: Some(min),
        max_capacity: Some(max),
        ..Default::default()
    };
    targets::register(state, R, &r).await.unwrap()
}

pub(crate) fn cpu(target: f64, cooldown: i64) -> PolicyConfig {
    PolicyConfig::TargetTracking(TargetTracking {
        target_value: target,
        metric: TrackedMetric::Predefined {
            kind: Predefined::EcsServiceAverageCpuUtilization,
            label: None,
        },
        scale_out_cooldown: Some(cooldown),
        scale_in_cooldown: Some(cooldown),
        disable_scale_in: false,
    })
}

#[tokio::test]
async fn registering_needs_the_service_and_updates_what_is_given() {
    let state = with_service(1).await;
    let missing = Registration {
        resource_id: "service/c/nope".into(),
        min_capacity: Some(1),
        max_capacity: Some(2),
        ..Default::default()
    };
    let e = targets::register(&state, R, &missing).await.unwrap_err();
    assert!(
        matches!(&e, AutoScalingError::Validation(m) if m == "ECS service doesn't exist: service/c/nope"),
        "{e}"
    );
    let t = register(&state, 1, 4).await;
    assert!(t.arn.contains(":scalable-target/"));
    assert!(t
        .role_arn
        .ends_with("AWSServiceRoleForApplicationAutoScaling_ECSService"));
    let update = Registration {
        resource_id: WEB.into(),
        max_capacity: Some(8),
        dynamic_in_suspended: Some(true),
        ..Default::default()
    };
    let t2 = targets::register(&state, R, &update).await.unwrap();
    assert_eq!(
        (t2.min_capacity, t2.max_capacity, t2.arn.clone()),
        (1, 8, t.arn)
    );
    assert!(t2.suspended.dynamic_in && !t2.suspended.dynamic_out);
    let bad = Registration {
        resource_id: WEB.into(),
        min_capacity: Some(9),
        ..Default::default()
    };
    assert!(matches!(
        targets::register(&state, R, &bad).await,
        Err(AutoScalingError::Validation(_))
    ));
    let tags = BTreeMap::from([("team".to_string(), "web".to_string())]);
    targets::tag(&state, R, &t2.arn, &tags).await.unwrap();
    assert_eq!(targets::by_arn(&state, R, &t2.arn).unwrap().tags, tags);
    assert!(matches!(
        targets::tag(
            &state,
            R,
            "arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/x",
            &tags
        )
        .await,
        Err(AutoScalingError::ResourceNotFound { .. })
    ));
}

#[tokio::test]
async fn target_tracking_owns_its_alarms() {
    let state = with_service(1).await;
    let e = policies::put(&state, R, WEB, "cpu", cpu(50.0, 60))
        .await
        .unwrap_err();
    assert!(matches!(e, AutoScalingError::ObjectNotFound(_)), "{e}");
    register(&state, 1, 4).await;
    let p = policies::put(&state, R, WEB, "cpu", cpu(50.0, 60))
        .await
        .unwrap();
    assert!(p
        .arn
        .starts_with("arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:"));
    assert!(p
        .arn
        .ends_with(":resource/ecs/service/c/web:policyName/cpu"));
    assert_eq!(p.alarms.len(), 2);
    let high = cloudwatch::alarm(&state, R, &p.alarms[0].name).unwrap();
    assert!(high
        .name
        .starts_with("TargetTracking-service/c/web-AlarmHigh-"));
    assert_eq!(high.alarm_actions, vec![p.arn.clone()]);
    assert_eq!(
        (high.comparison, high.threshold),
        (Comparison::GreaterThanThreshold, 50.0)
    );
    assert_eq!((high.evaluation_periods, high.period()), (3, 10));
    let AlarmMetric::Single(stat) = &high.metric else {
        panic!("single metric")
    };
    assert_eq!(
        (
            stat.metric.namespace.as_str(),
            stat.metric.metric_name.as_str()
        ),
        ("AWS/ECS", "CPUUtilization")
    );
    assert_eq!(stat.metric.dimensions.len(), 2);
    assert_eq!(stat.stat, Statistic::Average);
    let low = cloudwatch::alarm(&state, R, &p.alarms[1].name).unwrap();
    assert!(low.name.contains("-AlarmLow-"));
    assert_eq!(
        (low.comparison, low.threshold, low.evaluation_periods),
        (Comparison::LessThanThreshold, 45.0, 15)
    );

    // An update keeps the alarms' names; DisableScaleIn drops the low alarm.
    let PolicyConfig::TargetTracking(mut tt) = cpu(70.0, 60) else {
        unreachable!()
    };
    tt.disable_scale_in = true;
    let p2 = policies::put(&state, R, WEB, "cpu", PolicyConfig::TargetTracking(tt))
        .await
        .unwrap();
    assert_eq!((p2.arn.clone(), p2.alarms.len()), (p.arn.clone(), 1));
    assert_eq!(p2.alarms[0].name, p.alarms[0].name);
    assert!(cloudwatch::alarm(&state, R, &p.alarms[1].name).is_none());
    assert_eq!(
        cloudwatch::alarm(&state, R, &p.alarms[0].name)
            .unwrap()
            .threshold,
        70.0
    );

    policies::delete(&state, R, WEB, "cpu").await.unwrap();
    assert!(cloudwatch::alarms(&state, R).is_empty());
    assert!(matches!(
        policies::delete(&state, R, WEB, "cpu").await,
        Err(AutoScalingError::ObjectNotFound(_))
    ));
}

#[tokio::test]
async fn deregistering_takes_policies_alarms_and_scheduled_actions() {
    let state = with_service(1).await;
    register(&state, 1, 4).await;
    let custom = PolicyConfig::TargetTracking(TargetTracking {
        target_value: 10.0,
        metric: TrackedMetric::Customized(Customized::Single {
            namespace: "App".into(),
            metric_name: "Queue".into(),
            dimensions: vec![],
            statistic: Statistic::Average,
            unit: None,
        }),
        scale_out_cooldown: None,
        scale_in_cooldown: None,
        disable_scale_in: false,
    });
    policies::put(&state, R, WEB, "queue", custom)
        .await
        .unwrap();
    let input = ScheduledInput {
        resource_id: WEB.into(),
        name: "nightly".into(),
        schedule: Some("cron(0 2 * * ? *)".into()),
        min_capacity: Some(2),
        ..Default::default()
    };
    scheduled::put(&state, R, &input).await.unwrap();
    assert_eq!(cloudwatch::alarms(&state, R).len(), 2);
    targets::deregister(&state, R, WEB).await.unwrap();
    assert!(cloudwatch::alarms(&state, R).is_empty());
    assert!(policies_of(&state, R, None).is_empty());
    assert!(scheduled_of(&state, R, None).is_empty());
    assert!(matches!(
        targets::deregister(&state, R, WEB).await,
        Err(AutoScalingError::ObjectNotFound(_))
    ));
}
