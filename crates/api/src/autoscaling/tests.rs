//! In-process tests of the Application Auto Scaling operations over the memory store:
//! wire shapes, error codes, pagination, the alarms a target tracking policy shows,
//! and arbitrary input against every operation.

mod arbitrary;

use bytes::Bytes;
use flotilla_aws::{AwsError, AwsService, Input, Output};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{AutoScaling, OPERATIONS};
use crate::ecs::Ecs;
use crate::testing::ctx;

async fn call_on(svc: &dyn AwsService, op: &str, body: Value) -> Result<Value, AwsError> {
    let input = Input::Json(Bytes::from(body.to_string()));
    match svc.call(&ctx(), op, input).await? {
        Output::Json(v) => Ok(v),
        other => panic!("unexpected output {other:?}"),
    }
}

async fn call(a: &AutoScaling, op: &str, body: Value) -> Result<Value, AwsError> {
    call_on(a, op, body).await
}

async fn ok(a: &AutoScaling, op: &str, body: Value) -> Value {
    call(a, op, body.clone())
        .await
        .unwrap_or_else(|e| panic!("{op} {body}: {e}"))
}

/// The error code (and message) of a call that must fail with a client error.
async fn code(a: &AutoScaling, op: &str, body: Value) -> (String, String) {
    let e = call(a, op, body.clone())
        .await
        .expect_err(&format!("{op} {body} should fail"));
    assert!(!e.is_server_fault(), "{e}");
    (e.code, e.message)
}

/// Application Auto Scaling over a state with the ECS service `c/web`.
async fn with_service() -> AutoScaling {
    let state = crate::testing::state().await;
    let ecs = Ecs::new(state.clone());
    call_on(&ecs, "CreateCluster", json!({"clusterName": "c"}))
        .await
        .unwrap();
    call_on(
        &ecs,
        "RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "busybox", "memory": 64}]}),
    )
    .await
    .unwrap();
    call_on(
        &ecs,
        "CreateService",
        json!({"cluster": "c", "serviceName": "web", "taskDefinition": "web", "desiredCount": 1}),
    )
    .await
    .unwrap();
    AutoScaling::new(state)
}

fn target(extra: Value) -> Value {
    let mut v = json!({"ServiceNamespace": "ecs", "ResourceId": "service/c/web",
                       "ScalableDimension": "ecs:service:DesiredCount"});
    v.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    v
}

#[tokio::test]
async fn targets_register_describe_update_and_deregister() {
    let a = with_service().await;
    let (c, m) = code(
        &a,
        "RegisterScalableTarget",
        json!({"ServiceNamespace": "ecs",
        "ResourceId": "service/c/nope", "ScalableDimension": "ecs:service:DesiredCount",
        "MinCapacity": 1, "MaxCapacity": 2}),
    )
    .await;
    assert_eq!(
        (c.as_str(), m.as_str()),
        (
            "ValidationException",
            "ECS service doesn't exist: service/c/nope"
        )
    );
    let (c, m) = code(
        &a,
        "RegisterScalableTarget",
        json!({"ServiceNamespace": "dynamodb",
        "ResourceId": "table/t", "ScalableDimension": "dynamodb:table:ReadCapacityUnits",
        "MinCapacity": 1, "MaxCapacity": 2}),
    )
    .await;
    assert_eq!(c, "ValidationException");
    assert!(m.contains("ECS services only"), "{m}");
    let out = ok(
        &a,
        "RegisterScalableTarget",
        target(json!({"MinCapacity": 1, "MaxCapacity": 4,
        "Tags": {"team": "web"}})),
    )
    .await;
    let arn = out["ScalableTargetARN"].as_str().unwrap().to_string();
    assert!(
        arn.starts_with("arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/")
    );
    ok(
        &a,
        "RegisterScalableTarget",
        target(json!({"MaxCapacity": 6,
        "SuspendedState": {"ScheduledScalingSuspended": true}})),
    )
    .await;
    let d = ok(
        &a,
        "DescribeScalableTargets",
        json!({"ServiceNamespace": "ecs"}),
    )
    .await;
    let t = &d["ScalableTargets"][0];
    assert_eq!(
        (t["MinCapacity"].as_i64(), t["MaxCapacity"].as_i64()),
        (Some(1), Some(6))
    );
    assert_eq!(t["SuspendedState"]["ScheduledScalingSuspended"], true);
    assert_eq!(t["ScalableTargetARN"], arn.as_str());
    assert!(t["CreationTime"].is_f64());
    let tags = ok(&a, "ListTagsForResource", json!({"ResourceARN": arn})).await;
    assert_eq!(tags["Tags"], json!({"team": "web"}));
    let (c, _) = code(
        &a,
        "RegisterScalableTarget",
        target(json!({"MinCapacity": 9})),
    )
    .await;
    assert_eq!(c, "ValidationException");
    ok(&a, "DeregisterScalableTarget", target(json!({}))).await;
    let (c, m) = code(&a, "DeregisterScalableTarget", target(json!({}))).await;
    assert_eq!(c, "ObjectNotFoundException");
    assert_eq!(m, "No scalable target found for service namespace: ecs, resource ID: service/c/web, scalable dimension: ecs:service:DesiredCount");
    let (c, _) = code(&a, "ListTagsForResource", json!({"ResourceARN": arn})).await;
    assert_eq!(c, "ResourceNotFoundException");
}

#[tokio::test]
async fn target_tracking_answers_with_its_alarms_and_describes_back() {
    let a = with_service().await;
    let cpu = json!({"PolicyName": "cpu", "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50.0,
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}});
    let (c, _) = code(&a, "PutScalingPolicy", target(cpu.clone())).await;
    assert_eq!(c, "ObjectNotFoundException");
    ok(
        &a,
        "RegisterScalableTarget",
        target(json!({"MinCapacity": 1, "MaxCapacity": 4})),
    )
    .await;
    let out = ok(&a, "PutScalingPolicy", target(cpu)).await;
    let alarms = out["Alarms"].as_array().unwrap();
    assert_eq!(alarms.len(), 2);
    assert!(alarms[0]["AlarmName"]
        .as_str()
        .unwrap()
        .starts_with("TargetTracking-service/c/web-AlarmHigh-"));
    assert!(alarms[1]["AlarmARN"].as_str().unwrap().starts_with(
        "arn:aws:cloudwatch:us-east-1:000000000000:alarm:TargetTracking-service/c/web-AlarmLow-"
    ));
    let d = ok(
        &a,
        "DescribeScalingPolicies",
        json!({"ServiceNamespace": "ecs", "ResourceId": "service/c/web"}),
    )
    .await;
    let p = &d["ScalingPolicies"][0];
    assert_eq!(p["PolicyARN"], out["PolicyARN"]);
    let tt = &p["TargetTrackingScalingPolicyConfiguration"];
    assert_eq!(
        (
            tt["ScaleOutCooldown"].as_i64(),
            tt["ScaleInCooldown"].as_i64()
        ),
        (Some(300), Some(300))
    );
    assert_eq!(
        tt["PredefinedMetricSpecification"]["PredefinedMetricType"],
        "ECSServiceAverageCPUUtilization"
    );
    assert_eq!(p["Alarms"].as_array().unwrap().len(), 2);

    let custom = json!({"PolicyName": "queue", "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 10.0, "ScaleOutCooldown": 5,
            "CustomizedMetricSpecification": {"Metrics": [
                {"Id": "m1", "ReturnData": false, "MetricStat": {"Stat": "Sum",
                    "Metric": {"Namespace": "App", "MetricName": "Backlog"}}},
                {"Id": "e1", "Expression": "m1 / 2"}]}}});
    ok(&a, "PutScalingPolicy", target(custom)).await;
    let step = json!({"PolicyName": "steps", "PolicyType": "StepScaling",
        "StepScalingPolicyConfiguration": {"AdjustmentType": "ChangeInCapacity", "Cooldown": 60,
            "StepAdjustments": [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 2}]}});
    let out = ok(&a, "PutScalingPolicy", target(step)).await;
    assert!(out
        .get("Alarms")
        .is_none_or(|x| x.as_array().unwrap().is_empty()));
    let page = ok(
        &a,
        "DescribeScalingPolicies",
        json!({"ServiceNamespace": "ecs", "MaxResults": 2}),
    )
    .await;
    assert_eq!(page["ScalingPolicies"].as_array().unwrap().len(), 2);
    let rest = ok(
        &a,
        "DescribeScalingPolicies",
        json!({"ServiceNamespace": "ecs", "NextToken": page["NextToken"]}),
    )
    .await;
    assert_eq!(rest["ScalingPolicies"].as_array().unwrap().len(), 1);
    let (c, _) = code(
        &a,
        "DescribeScalingPolicies",
        json!({"ServiceNamespace": "ecs", "NextToken": "zz!"}),
    )
    .await;
    assert_eq!(c, "InvalidNextTokenException");

    ok(
        &a,
        "DeleteScalingPolicy",
        target(json!({"PolicyName": "cpu"})),
    )
    .await;
    let (c, _) = code(
        &a,
        "DeleteScalingPolicy",
        target(json!({"PolicyName": "cpu"})),
    )
    .await;
    assert_eq!(c, "ObjectNotFoundException");
}

#[tokio::test]
async fn bad_policies_say_what_to_fix() {
    let a = with_service().await;
    ok(
        &a,
        "RegisterScalableTarget",
        target(json!({"MinCapacity": 1, "MaxCapacity": 4})),
    )
    .await;
    let cases = [
        json!({"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
               "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50.0}}),
        json!({"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
               "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50.0,
                 "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget"}}}),
        json!({"PolicyName": "p", "PolicyType": "TargetTrackingScaling",
               "TargetTrackingScalingPolicyConfiguration": {"TargetValue": -1.0,
                 "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}}),
        json!({"PolicyName": "p", "PolicyType": "StepScaling",
               "StepScalingPolicyConfiguration": {"AdjustmentType": "Sideways",
                 "StepAdjustments": [{"ScalingAdjustment": 1}]}}),
        json!({"PolicyName": "p", "PolicyType": "PredictiveScaling"}),
    ];
    for c in cases {
        let (code, message) = code(&a, "PutScalingPolicy", target(c.clone())).await;
        assert_eq!(code, "ValidationException", "{c}: {message}");
    }
    let alb = json!({"PolicyName": "alb", "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {"TargetValue": 100.0,
          "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget",
            "ResourceLabel": "app/lb/1234/targetgroup/tg/5678"}}});
    ok(&a, "PutScalingPolicy", target(alb)).await;
}

#[tokio::test]
async fn scheduled_actions_put_describe_and_delete() {
    let a = with_service().await;
    let put = json!({"ScheduledActionName": "morning", "Schedule": "cron(0 8 ? * MON-FRI *)",
        "ScalableTargetAction": {"MinCapacity": 2, "MaxCapacity": 6}});
    let (c, _) = code(&a, "PutScheduledAction", target(put.clone())).await;
    assert_eq!(c, "ObjectNotFoundException");
    ok(
        &a,
        "RegisterScalableTarget",
        target(json!({"MinCapacity": 1, "MaxCapacity": 4})),
    )
    .await;
    ok(&a, "PutScheduledAction", target(put)).await;
    let (c, m) = code(
        &a,
        "PutScheduledAction",
        target(json!({"ScheduledActionName": "x",
        "Schedule": "cron(0 8 * * * *)"})),
    )
    .await;
    assert_eq!(c, "ValidationException", "{m}");
    let (c, _) = code(
        &a,
        "PutScheduledAction",
        target(json!({"ScheduledActionName": "y",
        "Schedule": "rate(1 hour)", "Timezone": "Europe/Paris"})),
    )
    .await;
    assert_eq!(c, "ValidationException");
    let d = ok(
        &a,
        "DescribeScheduledActions",
        json!({"ServiceNamespace": "ecs"}),
    )
    .await;
    let s = &d["ScheduledActions"][0];
    assert_eq!(s["ScheduledActionName"], "morning");
    assert_eq!(
        s["ScalableTargetAction"],
        json!({"MinCapacity": 2, "MaxCapacity": 6})
    );
    assert!(s["ScheduledActionARN"]
        .as_str()
        .unwrap()
        .contains(":scheduledAction:"));
    ok(
        &a,
        "DeleteScheduledAction",
        target(json!({"ScheduledActionName": "morning"})),
    )
    .await;
    let (c, _) = code(
        &a,
        "DeleteScheduledAction",
        target(json!({"ScheduledActionName": "morning"})),
    )
    .await;
    assert_eq!(c, "ObjectNotFoundException");
    let acts = ok(
        &a,
        "DescribeScalingActivities",
        json!({"ServiceNamespace": "ecs",
        "ResourceId": "service/c/web", "IncludeNotScaledActivities": true}),
    )
    .await;
    assert_eq!(acts["ScalingActivities"], json!([]));
}
