//! Arbitrary input against every operation: an answer or a client error, never a fault.

use super::*;

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,40}".prop_map(Value::from),
        Just(json!("ecs")),
        Just(json!("ecs:service:DesiredCount")),
        Just(json!("service/c/web")),
        Just(json!("TargetTrackingScaling")),
        Just(json!("StepScaling")),
        Just(json!("ECSServiceAverageCPUUtilization")),
        Just(json!("ChangeInCapacity")),
        Just(json!("cron(0 8 * * ? *)")),
        Just(json!("rate(5 minutes)")),
    ];
    let member = prop::sample::select(vec![
        "ServiceNamespace",
        "ResourceId",
        "ResourceIds",
        "ScalableDimension",
        "MinCapacity",
        "MaxCapacity",
        "RoleARN",
        "SuspendedState",
        "Tags",
        "TagKeys",
        "ResourceARN",
        "PolicyName",
        "PolicyNames",
        "PolicyType",
        "TargetTrackingScalingPolicyConfiguration",
        "StepScalingPolicyConfiguration",
        "TargetValue",
        "PredefinedMetricSpecification",
        "PredefinedMetricType",
        "CustomizedMetricSpecification",
        "Metrics",
        "MetricStat",
        "Metric",
        "Stat",
        "Id",
        "Expression",
        "Namespace",
        "MetricName",
        "Statistic",
        "StepAdjustments",
        "ScalingAdjustment",
        "MetricIntervalLowerBound",
        "AdjustmentType",
        "ScheduledActionName",
        "Schedule",
        "Timezone",
        "StartTime",
        "ScalableTargetAction",
        "MaxResults",
        "NextToken",
        "IncludeNotScaledActivities",
    ]);
    crate::testing::nested_json(leaf, member, 6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// No input makes an operation fail with a server error (or panic), with a target
    /// registered so that inputs get past the lookups.
    #[test]
    fn arbitrary_input_never_causes_a_server_error(
        op in prop::sample::select(OPERATIONS.to_vec()),
        body in arbitrary_json(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let a = with_service().await;
            ok(&a, "RegisterScalableTarget", target(json!({"MinCapacity": 1, "MaxCapacity": 4}))).await;
            let mut shaped = body.clone();
            if let Value::Object(m) = &mut shaped {
                m.extend(target(json!({})).as_object().unwrap().clone());
            }
            for b in [body.clone(), shaped] {
                if let Err(e) = call(&a, op, b.clone()).await {
                    prop_assert!(!e.is_server_fault(), "{op} {b}: {e}");
                }
            }
            Ok(())
        })?;
    }
}
