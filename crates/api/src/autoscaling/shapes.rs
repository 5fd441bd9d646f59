//! The `ScalingPolicy` answer built from the record: the configurations written back in
//! the wire's shapes (kept apart from the reading in `policies.rs`).

use flotilla_model::autoscaling::{
    Customized, PolicyConfig, ScalingPolicyRecord, StepScaling, TargetTracking, TrackedMetric,
};
use flotilla_model::cloudwatch::{Dimension, MetricQuery};
use serde_json::{json, Value};

fn dims(d: &[Dimension]) -> Vec<Value> {
    d.iter()
        .map(|d| json!({"Name": d.name, "Value": d.value}))
        .collect()
}

fn query(q: &MetricQuery) -> Value {
    json!({
        "Id": q.id,
        "Expression": q.expression,
        "Label": q.label,
        "ReturnData": q.return_data,
        "MetricStat": q.metric_stat.as_ref().map(|s| json!({
            "Metric": {
                "Namespace": s.metric.namespace,
                "MetricName": s.metric.metric_name,
                "Dimensions": dims(&s.metric.dimensions),
            },
            "Stat": s.stat.as_str(),
            "Unit": s.unit,
        })),
    })
}

fn target_tracking(t: &TargetTracking) -> Value {
    let mut v = json!({
        "TargetValue": t.target_value,
        "ScaleOutCooldown": t.out_cooldown(),
        "ScaleInCooldown": t.in_cooldown(),
        "DisableScaleIn": t.disable_scale_in,
    });
    match &t.metric {
        TrackedMetric::Predefined { kind, label } => {
            v["PredefinedMetricSpecification"] =
                json!({"PredefinedMetricType": kind.as_str(), "ResourceLabel": label});
        }
        TrackedMetric::Customized(Customized::Single {
            namespace,
            metric_name,
            dimensions,
            statistic,
            unit,
        }) => {
            v["CustomizedMetricSpecification"] = json!({
                "Namespace": namespace,
                "MetricName": metric_name,
                "Dimensions": dimensions.iter().map(|(n, v)| json!({"Name": n, "Value": v})).collect::<Vec<_>>(),
                "Statistic": statistic.as_str(),
                "Unit": unit,
            });
        }
        TrackedMetric::Customized(Customized::Math(queries)) => {
            v["CustomizedMetricSpecification"] =
                json!({"Metrics": queries.iter().map(query).collect::<Vec<_>>()});
        }
    }
    v
}

fn step(s: &StepScaling) -> Value {
    json!({
        "AdjustmentType": s.adjustment_type,
        "StepAdjustments": s.steps.iter().map(|x| json!({
            "MetricIntervalLowerBound": x.lower,
            "MetricIntervalUpperBound": x.upper,
            "ScalingAdjustment": x.adjustment,
        })).collect::<Vec<_>>(),
        "MinAdjustmentMagnitude": s.min_adjustment_magnitude,
        "Cooldown": s.cooldown,
        "MetricAggregationType": s.aggregation,
    })
}

/// A `ScalingPolicy`.
pub fn policy(p: &ScalingPolicyRecord) -> Value {
    let mut m = super::policies::header(p);
    match &p.config {
        PolicyConfig::TargetTracking(t) => {
            m.insert(
                "TargetTrackingScalingPolicyConfiguration".into(),
                target_tracking(t),
            );
        }
        PolicyConfig::Step(s) => {
            m.insert("StepScalingPolicyConfiguration".into(), step(s));
        }
    }
    Value::Object(m)
}
