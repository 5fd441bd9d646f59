//! PutScalingPolicy, DescribeScalingPolicies and DeleteScalingPolicy, with the wire
//! shapes of both configurations read into `flotilla-model`'s (checked there) and written
//! back from the record.

use flotilla_aws::Context;
use flotilla_control::autoscaling::{self as control, policies};
use flotilla_model::autoscaling::{
    Customized, PolicyConfig, Predefined, ScalingPolicyRecord, StepAdjustment, StepScaling,
    TargetTracking, TrackedMetric,
};
use flotilla_model::cloudwatch::{rules, Dimension, MetricQuery, MetricRef, MetricStat, Statistic};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::{invalid, AsWireError};
use super::wire::{self, required};
use crate::State;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireDimension {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireMetric {
    dimensions: Option<Vec<WireDimension>>,
    metric_name: Option<String>,
    namespace: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireMetricStat {
    metric: Option<WireMetric>,
    stat: Option<String>,
    unit: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireQuery {
    id: Option<String>,
    expression: Option<String>,
    label: Option<String>,
    metric_stat: Option<WireMetricStat>,
    return_data: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireCustomized {
    metric_name: Option<String>,
    namespace: Option<String>,
    dimensions: Option<Vec<WireDimension>>,
    statistic: Option<String>,
    unit: Option<String>,
    metrics: Option<Vec<WireQuery>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WirePredefined {
    predefined_metric_type: Option<String>,
    resource_label: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireTargetTracking {
    target_value: Option<f64>,
    predefined_metric_specification: Option<WirePredefined>,
    customized_metric_specification: Option<WireCustomized>,
    scale_out_cooldown: Option<i64>,
    scale_in_cooldown: Option<i64>,
    disable_scale_in: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireStep {
    metric_interval_lower_bound: Option<f64>,
    metric_interval_upper_bound: Option<f64>,
    scaling_adjustment: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WireStepScaling {
    adjustment_type: Option<String>,
    step_adjustments: Option<Vec<WireStep>>,
    min_adjustment_magnitude: Option<i64>,
    cooldown: Option<i64>,
    metric_aggregation_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    policy_name: Option<String>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    policy_type: Option<String>,
    step_scaling_policy_configuration: Option<WireStepScaling>,
    target_tracking_scaling_policy_configuration: Option<WireTargetTracking>,
    predictive_scaling_policy_configuration: Option<Value>,
}

fn rule(r: Result<(), rules::RuleError>) -> Result<(), AsWireError> {
    r.map_err(|e| invalid(e.to_string()))
}

fn dimensions(dims: Option<Vec<WireDimension>>) -> Result<Vec<Dimension>, AsWireError> {
    let dims = dims
        .unwrap_or_default()
        .into_iter()
        .map(|d| {
            Ok(Dimension {
                name: required(&d.name, "Dimensions.Name")?.to_string(),
                value: required(&d.value, "Dimensions.Value")?.to_string(),
            })
        })
        .collect::<Result<Vec<_>, AsWireError>>()?;
    rule(rules::dimensions(&dims))?;
    Ok(dims)
}

fn statistic(s: &str) -> Result<Statistic, AsWireError> {
    Statistic::parse(s).ok_or_else(|| {
        invalid(format!(
            "Statistic {s} is not supported: use Average, Minimum, Maximum, SampleCount or Sum."
        ))
    })
}

fn metric(m: Option<WireMetric>) -> Result<MetricRef, AsWireError> {
    let m = m.ok_or_else(|| invalid("MetricStat.Metric is required."))?;
    let ns = required(&m.namespace, "Metric.Namespace")?;
    let name = required(&m.metric_name, "Metric.MetricName")?;
    rule(rules::namespace(ns))?;
    rule(rules::metric_name(name))?;
    Ok(MetricRef::new(
        ns.into(),
        name.into(),
        dimensions(m.dimensions)?,
    ))
}

fn query(q: WireQuery) -> Result<MetricQuery, AsWireError> {
    let id = required(&q.id, "Metrics.Id")?;
    rule(rules::query_id(id))?;
    let metric_stat = match q.metric_stat {
        Some(s) => {
            let stat = statistic(required(&s.stat, "MetricStat.Stat")?)?;
            if let Some(u) = &s.unit {
                rule(rules::unit(u))?;
            }
            Some(MetricStat {
                metric: metric(s.metric)?,
                period: control::alarms::PERIOD,
                stat,
                unit: s.unit,
            })
        }
        None => None,
    };
    if metric_stat.is_some() == q.expression.is_some() {
        return Err(invalid(format!(
            "Metrics query {id} must have exactly one of Expression and MetricStat."
        )));
    }
    if let Some(e) = &q.expression {
        if !(1..=2048).contains(&e.chars().count()) {
            return Err(invalid("Expression must be 1 to 2048 characters long."));
        }
    }
    Ok(MetricQuery {
        id: id.to_string(),
        metric_stat,
        expression: q.expression,
        label: q.label,
        return_data: q.return_data.unwrap_or(true),
        period: None,
    })
}

fn customized(c: WireCustomized) -> Result<Customized, AsWireError> {
    if let Some(qs) = c.metrics {
        if c.metric_name.is_some() || c.namespace.is_some() || c.statistic.is_some() {
            return Err(invalid(
                "CustomizedMetricSpecification takes either Metrics or MetricName, Namespace \
                 and Statistic, not both.",
            ));
        }
        if qs.is_empty() || qs.len() > 10 {
            return Err(invalid("Metrics must hold 1 to 10 queries."));
        }
        return Ok(Customized::Math(
            qs.into_iter().map(query).collect::<Result<_, _>>()?,
        ));
    }
    let namespace = required(&c.namespace, "CustomizedMetricSpecification.Namespace")?;
    let name = required(&c.metric_name, "CustomizedMetricSpecification.MetricName")?;
    rule(rules::namespace(namespace))?;
    rule(rules::metric_name(name))?;
    if let Some(u) = &c.unit {
        rule(rules::unit(u))?;
    }
    Ok(Customized::Single {
        namespace: namespace.into(),
        metric_name: name.into(),
        statistic: statistic(required(
            &c.statistic,
            "CustomizedMetricSpecification.Statistic",
        )?)?,
        dimensions: dimensions(c.dimensions)?
            .into_iter()
            .map(|d| (d.name, d.value))
            .collect(),
        unit: c.unit,
    })
}

fn target_tracking(w: WireTargetTracking) -> Result<TargetTracking, AsWireError> {
    let target_value = w.target_value.ok_or_else(|| {
        invalid("TargetTrackingScalingPolicyConfiguration.TargetValue is required.")
    })?;
    let metric = match (
        w.predefined_metric_specification,
        w.customized_metric_specification,
    ) {
        (Some(p), None) => TrackedMetric::Predefined {
            kind: Predefined::parse(required(&p.predefined_metric_type, "PredefinedMetricType")?)?,
            label: p.resource_label,
        },
        (None, Some(c)) => TrackedMetric::Customized(customized(c)?),
        _ => {
            return Err(invalid(
                "Exactly one of PredefinedMetricSpecification and \
                 CustomizedMetricSpecification is required.",
            ))
        }
    };
    Ok(TargetTracking {
        target_value,
        metric,
        scale_out_cooldown: w.scale_out_cooldown,
        scale_in_cooldown: w.scale_in_cooldown,
        disable_scale_in: w.disable_scale_in.unwrap_or(false),
    })
}

fn step_scaling(w: WireStepScaling) -> Result<StepScaling, AsWireError> {
    let steps = w
        .step_adjustments
        .unwrap_or_default()
        .into_iter()
        .map(|s| {
            Ok(StepAdjustment {
                lower: s.metric_interval_lower_bound,
                upper: s.metric_interval_upper_bound,
                adjustment: s
                    .scaling_adjustment
                    .ok_or_else(|| invalid("StepAdjustments.ScalingAdjustment is required."))?,
            })
        })
        .collect::<Result<Vec<_>, AsWireError>>()?;
    Ok(StepScaling {
        adjustment_type: required(&w.adjustment_type, "AdjustmentType")?.to_string(),
        steps,
        min_adjustment_magnitude: w.min_adjustment_magnitude,
        cooldown: w.cooldown,
        aggregation: w.metric_aggregation_type,
    })
}

fn config(i: PutInput) -> Result<PolicyConfig, AsWireError> {
    if i.predictive_scaling_policy_configuration.is_some() {
        return Err(invalid(
            "PredictiveScaling is not supported for ECS services by Flotilla.",
        ));
    }
    match i.policy_type.as_deref().unwrap_or("StepScaling") {
        "TargetTrackingScaling" => {
            if i.step_scaling_policy_configuration.is_some() {
                return Err(invalid(
                    "StepScalingPolicyConfiguration cannot be given with PolicyType \
                     TargetTrackingScaling.",
                ));
            }
            let w = i.target_tracking_scaling_policy_configuration.ok_or_else(|| {
                invalid("TargetTrackingScalingPolicyConfiguration is required for PolicyType TargetTrackingScaling.")
            })?;
            Ok(PolicyConfig::TargetTracking(target_tracking(w)?))
        }
        "StepScaling" => {
            if i.target_tracking_scaling_policy_configuration.is_some() {
                return Err(invalid(
                    "TargetTrackingScalingPolicyConfiguration cannot be given with PolicyType \
                     StepScaling.",
                ));
            }
            let w = i.step_scaling_policy_configuration.ok_or_else(|| {
                invalid("StepScalingPolicyConfiguration is required for PolicyType StepScaling.")
            })?;
            Ok(PolicyConfig::Step(step_scaling(w)?))
        }
        other => Err(invalid(format!(
            "PolicyType {other} is not supported: use TargetTrackingScaling or StepScaling."
        ))),
    }
}

fn alarms(p: &ScalingPolicyRecord) -> Vec<Value> {
    p.alarms
        .iter()
        .map(|a| json!({"AlarmName": a.name, "AlarmARN": a.arn}))
        .collect()
}

pub async fn put(s: &State, ctx: &Context, i: PutInput) -> Result<Value, AsWireError> {
    let name = required(&i.policy_name, "PolicyName")?.to_string();
    let resource_id = wire::target(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    let config = config(i)?;
    let p = policies::put(s, &ctx.region, &resource_id, &name, config).await?;
    Ok(json!({"PolicyARN": p.arn, "Alarms": alarms(&p)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeInput {
    policy_names: Option<Vec<String>>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

pub fn describe(s: &State, ctx: &Context, i: DescribeInput) -> Result<Value, AsWireError> {
    let only = wire::filter(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    wire::names(&i.policy_names, "PolicyNames")?;
    let items: Vec<_> = control::policies_of(s, &ctx.region, only.as_deref())
        .into_iter()
        .filter(|p| i.policy_names.as_ref().is_none_or(|n| n.contains(&p.name)))
        .collect();
    let (page, next) = wire::page(
        items,
        |p| format!("{}\u{0}{}", p.resource_id, p.name),
        &i.next_token,
        i.max_results,
    )?;
    Ok(json!({
        "ScalingPolicies": page.iter().map(|p| super::shapes::policy(p)).collect::<Vec<_>>(),
        "NextToken": next,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteInput {
    policy_name: Option<String>,
    service_namespace: Option<String>,
    resource_id: Option<String>,
    scalable_dimension: Option<String>,
}

pub async fn delete(s: &State, ctx: &Context, i: DeleteInput) -> Result<Value, AsWireError> {
    let name = wire::bounded(required(&i.policy_name, "PolicyName")?, "PolicyName")?.to_string();
    let resource_id = wire::target(&i.service_namespace, &i.resource_id, &i.scalable_dimension)?;
    policies::delete(s, &ctx.region, &resource_id, &name).await?;
    Ok(json!({}))
}

/// The `ScalingPolicy` shape's members besides the configuration.
pub(super) fn header(p: &ScalingPolicyRecord) -> Map<String, Value> {
    wire::naming(
        &p.resource_id,
        json!({
            "PolicyARN": p.arn,
            "PolicyName": p.name,
            "PolicyType": p.config.policy_type(),
            "Alarms": alarms(p),
            "CreationTime": wire::time(&p.created),
        }),
    )
}
