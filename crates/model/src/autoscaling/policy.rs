//! Scaling policies as stored: target tracking (a predefined or customized metric, a
//! target value, cooldowns, DisableScaleIn) or step scaling (steps, adjustment type,
//! cooldown, aggregation), with the alarms the policy owns, and the checks of both
//! configurations against Application Auto Scaling's rules.
//!
//! Key: `/autoscaling/policies/{region}/{resource id}/{policy name}`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{invalid, Result};
use crate::cloudwatch::{MetricQuery, Statistic};
use crate::record::Record;

/// The predefined metrics served for ECS services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Predefined {
    EcsServiceAverageCpuUtilization,
    EcsServiceAverageMemoryUtilization,
    AlbRequestCountPerTarget,
}

impl Predefined {
    pub const ALL: [Predefined; 3] = [
        Predefined::EcsServiceAverageCpuUtilization,
        Predefined::EcsServiceAverageMemoryUtilization,
        Predefined::AlbRequestCountPerTarget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Predefined::EcsServiceAverageCpuUtilization => "ECSServiceAverageCPUUtilization",
            Predefined::EcsServiceAverageMemoryUtilization => "ECSServiceAverageMemoryUtilization",
            Predefined::AlbRequestCountPerTarget => "ALBRequestCountPerTarget",
        }
    }

    /// The type PredefinedMetricType names; an error says which are served.
    pub fn parse(s: &str) -> Result<Predefined> {
        Predefined::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .map_or_else(
                || {
                    invalid(format!(
                        "Unsupported PredefinedMetricType {s}: for ECS services use \
                         ECSServiceAverageCPUUtilization, ECSServiceAverageMemoryUtilization \
                         or ALBRequestCountPerTarget."
                    ))
                },
                Ok,
            )
    }
}

/// A customized metric: one metric's statistic, or metric math whose one returned query
/// is tracked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Customized {
    Single {
        namespace: String,
        metric_name: String,
        #[serde(default)]
        dimensions: Vec<(String, String)>,
        statistic: Statistic,
        #[serde(default)]
        unit: Option<String>,
    },
    Math(Vec<MetricQuery>),
}

/// What a target tracking policy tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TrackedMetric {
    Predefined {
        kind: Predefined,
        /// `app/LB/ID/targetgroup/TG/ID` for ALBRequestCountPerTarget.
        #[serde(default)]
        label: Option<String>,
    },
    Customized(Customized),
}

/// A target tracking configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetTracking {
    pub target_value: f64,
    pub metric: TrackedMetric,
    /// As given; `None` means [`super::DEFAULT_COOLDOWN`].
    #[serde(default)]
    pub scale_out_cooldown: Option<i64>,
    #[serde(default)]
    pub scale_in_cooldown: Option<i64>,
    #[serde(default)]
    pub disable_scale_in: bool,
}

/// One step of a step scaling policy (bounds relative to the alarm's threshold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepAdjustment {
    #[serde(default)]
    pub lower: Option<f64>,
    #[serde(default)]
    pub upper: Option<f64>,
    pub adjustment: i64,
}

/// A step scaling configuration (`adjustment_type` and `aggregation` as the wire spells
/// them, checked on the way in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepScaling {
    pub adjustment_type: String,
    pub steps: Vec<StepAdjustment>,
    #[serde(default)]
    pub min_adjustment_magnitude: Option<i64>,
    #[serde(default)]
    pub cooldown: Option<i64>,
    #[serde(default)]
    pub aggregation: Option<String>,
}

/// A policy's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PolicyConfig {
    TargetTracking(TargetTracking),
    Step(StepScaling),
}

impl PolicyConfig {
    /// The PolicyType of the wire.
    pub fn policy_type(&self) -> &'static str {
        match self {
            PolicyConfig::TargetTracking(_) => "TargetTrackingScaling",
            PolicyConfig::Step(_) => "StepScaling",
        }
    }
}

/// An alarm a policy owns (target tracking) or is invoked by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmRef {
    pub name: String,
    pub arn: String,
}

/// A scaling policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalingPolicyRecord {
    pub name: String,
    /// The UUID in its ARN (and in its alarms' names).
    pub uuid: String,
    pub arn: String,
    pub resource_id: String,
    pub config: PolicyConfig,
    /// The alarms target tracking created for it.
    #[serde(default)]
    pub alarms: Vec<AlarmRef>,
    #[serde(with = "crate::timestamp")]
    pub created: DateTime<Utc>,
}

impl Record for ScalingPolicyRecord {
    const KIND: &'static str = "autoscaling-policy";
    const VERSION: u32 = 1;
}

/// Largest cooldown accepted (a day), in seconds.
pub const MAX_COOLDOWN: i64 = 86_400;

fn check_cooldown(what: &str, c: Option<i64>) -> Result<()> {
    match c {
        Some(n) if !(0..=MAX_COOLDOWN).contains(&n) => invalid(format!(
            "{what} must be between 0 and {MAX_COOLDOWN} seconds; got {n}."
        )),
        _ => Ok(()),
    }
}

impl TargetTracking {
    /// Check the target value, the cooldowns and the metric.
    pub fn check(&self) -> Result<()> {
        let t = self.target_value;
        if !(8.515920e-109..=1.174271e+108).contains(&t) {
            return invalid(format!(
                "TargetValue must be between 8.515920e-109 and 1.174271e+108; got {t}."
            ));
        }
        check_cooldown("ScaleOutCooldown", self.scale_out_cooldown)?;
        check_cooldown("ScaleInCooldown", self.scale_in_cooldown)?;
        match &self.metric {
            TrackedMetric::Predefined { kind, label } => {
                let alb = *kind == Predefined::AlbRequestCountPerTarget;
                match label {
                    None if alb => invalid(
                        "ResourceLabel is required for ALBRequestCountPerTarget: \
                         app/LOAD_BALANCER/ID/targetgroup/TARGET_GROUP/ID.",
                    ),
                    Some(l) if alb => check_label(l),
                    Some(_) => invalid(format!(
                        "ResourceLabel is only used with ALBRequestCountPerTarget, not {}.",
                        kind.as_str()
                    )),
                    None => Ok(()),
                }
            }
            TrackedMetric::Customized(Customized::Math(queries)) => {
                let returned = queries.iter().filter(|q| q.return_data).count();
                if returned != 1 {
                    return invalid(format!(
                        "Exactly one of the Metrics must have ReturnData set to true; got \
                         {returned}."
                    ));
                }
                Ok(())
            }
            TrackedMetric::Customized(Customized::Single { .. }) => Ok(()),
        }
    }

    pub fn out_cooldown(&self) -> i64 {
        self.scale_out_cooldown.unwrap_or(super::DEFAULT_COOLDOWN)
    }

    pub fn in_cooldown(&self) -> i64 {
        self.scale_in_cooldown.unwrap_or(super::DEFAULT_COOLDOWN)
    }
}

/// `app/LB/ID/targetgroup/TG/ID`.
fn check_label(label: &str) -> Result<()> {
    let parts: Vec<&str> = label.split('/').collect();
    match parts.as_slice() {
        ["app", lb, lb_id, "targetgroup", tg, tg_id]
            if [lb, lb_id, tg, tg_id].iter().all(|p| !p.is_empty()) =>
        {
            Ok(())
        }
        _ => invalid(format!(
            "ResourceLabel {label} is not valid: it is \
             app/LOAD_BALANCER/ID/targetgroup/TARGET_GROUP/ID."
        )),
    }
}

impl StepScaling {
    /// Check the adjustment type, the steps (which must not overlap or leave gaps, with
    /// at most one unbounded end each way), the magnitude, the cooldown and aggregation.
    pub fn check(&self) -> Result<()> {
        let kinds = [
            "ChangeInCapacity",
            "PercentChangeInCapacity",
            "ExactCapacity",
        ];
        if !kinds.contains(&self.adjustment_type.as_str()) {
            return invalid(format!(
                "AdjustmentType must be one of {}; got {}.",
                kinds.join(", "),
                self.adjustment_type
            ));
        }
        if let Some(a) = &self.aggregation {
            if !["Average", "Minimum", "Maximum"].contains(&a.as_str()) {
                return invalid(format!(
                    "MetricAggregationType must be Average, Minimum or Maximum; got {a}."
                ));
            }
        }
        check_cooldown("Cooldown", self.cooldown)?;
        if let Some(m) = self.min_adjustment_magnitude {
            if self.adjustment_type != "PercentChangeInCapacity" {
                return invalid(
                    "MinAdjustmentMagnitude is only used with PercentChangeInCapacity.",
                );
            }
            if m < 1 {
                return invalid(format!(
                    "MinAdjustmentMagnitude must be at least 1; got {m}."
                ));
            }
        }
        if self.steps.is_empty() {
            return invalid("StepAdjustments must hold at least one step.");
        }
        if self.adjustment_type == "ExactCapacity" && self.steps.iter().any(|s| s.adjustment < 0) {
            return invalid("ScalingAdjustment cannot be negative with ExactCapacity.");
        }
        check_steps(&self.steps)
    }
}

fn check_steps(steps: &[StepAdjustment]) -> Result<()> {
    let mut sorted: Vec<StepAdjustment> = steps.to_vec();
    for s in &sorted {
        if let (Some(l), Some(u)) = (s.lower, s.upper) {
            if l >= u {
                return invalid(format!(
                    "MetricIntervalLowerBound ({l}) must be less than \
                     MetricIntervalUpperBound ({u})."
                ));
            }
        }
    }
    if sorted.iter().filter(|s| s.lower.is_none()).count() > 1
        || sorted.iter().filter(|s| s.upper.is_none()).count() > 1
    {
        return invalid("Only one step may have a null lower bound, and one a null upper bound.");
    }
    sorted.sort_by(|a, b| {
        let key = |s: &StepAdjustment| s.lower.unwrap_or(f64::NEG_INFINITY);
        key(a).total_cmp(&key(b))
    });
    for pair in sorted.windows(2) {
        if pair[0].upper != pair[1].lower {
            return invalid(
                "Step adjustments must not overlap or leave gaps: each step's \
                 MetricIntervalUpperBound must be the next step's MetricIntervalLowerBound.",
            );
        }
    }
    Ok(())
}
