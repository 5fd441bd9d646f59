//! The CloudWatch alarms a target tracking policy owns, made and removed through
//! CloudWatch's own operations (`crate::cloudwatch::put` / `delete`), so DescribeAlarms
//! shows them as AWS names them:
//! `TargetTracking-service/CLUSTER/SERVICE-AlarmHigh-<uuid>` and `...-AlarmLow-<uuid>`,
//! each with the policy's ARN as its one alarm action.
//!
//! Timing (see docs/autoscaling.md): Flotilla evaluates alarms every 10 s and its
//! metrics have 10-second resolution, so the high alarm is 3 of 3 datapoints of 10 s
//! (30 s of sustained load) and the low alarm 15 of 15 of 10 s (150 s of sustained
//! quiet), where AWS uses 60-second periods (3 and 15 minutes). Thresholds are AWS's: the
//! target value for the high alarm, 90 % of it for the low one. ALBRequestCountPerTarget
//! keeps AWS's 60-second Sum, because its target is a count per minute.

use flotilla_model::autoscaling::{
    AlarmRef, Customized, Predefined, TargetTracking, TrackedMetric,
};
use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{
    AlarmRecord, AlarmState, Comparison, Dimension, MetricQuery, MetricRef, MetricStat, Statistic,
    TreatMissingData,
};

use super::Result;
use crate::cloudwatch;
use crate::State;

/// The period of target tracking's alarms on Flotilla's 10-second metrics.
pub const PERIOD: u32 = 10;
/// Datapoints (of [`PERIOD`]) the high alarm needs: 30 s of sustained load.
pub const HIGH_DATAPOINTS: u32 = 3;
/// Datapoints the low alarm needs: 150 s of sustained quiet.
pub const LOW_DATAPOINTS: u32 = 15;
/// The low alarm's threshold as a share of the target value (AWS's).
pub const LOW_SHARE: f64 = 0.9;

/// Which of a target tracking policy's alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    High,
    Low,
}

impl Side {
    fn word(self) -> &'static str {
        match self {
            Side::High => "AlarmHigh",
            Side::Low => "AlarmLow",
        }
    }
}

/// Which side an alarm of a target tracking policy is, by its name.
pub fn side_of(name: &str) -> Side {
    if name.contains("-AlarmLow-") {
        Side::Low
    } else {
        Side::High
    }
}

/// The metric a policy's alarms watch.
fn watched(resource_id: &str, tt: &TargetTracking) -> AlarmMetric {
    let stat = |namespace: &str, name: &str, dims: Vec<Dimension>, stat, period, unit| {
        AlarmMetric::Single(MetricStat {
            metric: MetricRef::new(namespace.into(), name.into(), dims),
            period,
            stat,
            unit,
        })
    };
    let dim = |name: &str, value: &str| Dimension {
        name: name.into(),
        value: value.into(),
    };
    let service_dims = || {
        let mut parts = resource_id.split('/').skip(1);
        let cluster = parts.next().unwrap_or_default();
        let service = parts.next().unwrap_or_default();
        vec![dim("ClusterName", cluster), dim("ServiceName", service)]
    };
    match &tt.metric {
        TrackedMetric::Predefined { kind, label } => match kind {
            Predefined::EcsServiceAverageCpuUtilization => stat(
                "AWS/ECS",
                "CPUUtilization",
                service_dims(),
                Statistic::Average,
                PERIOD,
                None,
            ),
            Predefined::EcsServiceAverageMemoryUtilization => stat(
                "AWS/ECS",
                "MemoryUtilization",
                service_dims(),
                Statistic::Average,
                PERIOD,
                None,
            ),
            Predefined::AlbRequestCountPerTarget => {
                let tg = label
                    .as_deref()
                    .and_then(|l| l.find("targetgroup/").map(|i| &l[i..]))
                    .unwrap_or_default();
                stat(
                    flotilla_model::cloudwatch::ELB_NAMESPACE,
                    "RequestCountPerTarget",
                    vec![dim("TargetGroup", tg)],
                    Statistic::Sum,
                    60,
                    None,
                )
            }
        },
        TrackedMetric::Customized(Customized::Single {
            namespace,
            metric_name,
            dimensions,
            statistic,
            unit,
        }) => {
            let dims = dimensions.iter().map(|(n, v)| dim(n, v)).collect();
            stat(
                namespace,
                metric_name,
                dims,
                *statistic,
                PERIOD,
                unit.clone(),
            )
        }
        TrackedMetric::Customized(Customized::Math(queries)) => {
            let queries: Vec<MetricQuery> = queries
                .iter()
                .map(|q| {
                    let mut q = q.clone();
                    if let Some(s) = &mut q.metric_stat {
                        s.period = PERIOD;
                    }
                    q
                })
                .collect();
            AlarmMetric::Math(queries)
        }
    }
}

/// The alarm record of one side of a target tracking policy (CloudWatch sets its state
/// and timestamps when it is put).
fn alarm(
    state: &State,
    region: &str,
    name: &str,
    side: Side,
    policy_arn: &str,
    resource_id: &str,
    tt: &TargetTracking,
) -> AlarmRecord {
    let metric = watched(resource_id, tt);
    let (comparison, threshold, datapoints) = match side {
        Side::High => (
            Comparison::GreaterThanThreshold,
            tt.target_value,
            HIGH_DATAPOINTS,
        ),
        Side::Low => (
            Comparison::LessThanThreshold,
            tt.target_value * LOW_SHARE,
            LOW_DATAPOINTS,
        ),
    };
    let now = state.clock().now();
    AlarmRecord {
        name: name.to_string(),
        arn: cloudwatch::alarm_arn(region, state.account(), name),
        description: Some(format!(
            "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {policy_arn}."
        )),
        actions_enabled: true,
        ok_actions: vec![],
        alarm_actions: vec![policy_arn.to_string()],
        insufficient_data_actions: vec![],
        metric,
        evaluation_periods: datapoints,
        datapoints_to_alarm: Some(datapoints),
        threshold,
        comparison,
        treat_missing_data: TreatMissingData::Missing,
        evaluate_low_sample_count_percentile: None,
        treat_missing_data_given: false,
        state: AlarmState::InsufficientData,
        state_reason: String::new(),
        state_reason_data: None,
        state_updated: now,
        state_transitioned: now,
        configuration_updated: now,
        tags: vec![],
        history: vec![],
    }
}

/// Put the alarms of a target tracking policy (keeping the names in `existing`, so a
/// policy update keeps its alarms' states), and delete an existing low alarm when
/// DisableScaleIn is now set. Answers the alarms the policy owns.
pub async fn put_for(
    state: &State,
    region: &str,
    resource_id: &str,
    policy_arn: &str,
    tt: &TargetTracking,
    existing: &[AlarmRef],
) -> Result<Vec<AlarmRef>> {
    let mut sides = vec![Side::High];
    if !tt.disable_scale_in {
        sides.push(Side::Low);
    }
    let mut owned = Vec::new();
    for side in sides {
        let name = existing
            .iter()
            .find(|a| side_of(&a.name) == side)
            .map(|a| a.name.clone())
            .unwrap_or_else(|| {
                format!(
                    "TargetTracking-{resource_id}-{}-{}",
                    side.word(),
                    uuid::Uuid::new_v4()
                )
            });
        let record = alarm(state, region, &name, side, policy_arn, resource_id, tt);
        let put = cloudwatch::put(state, region, record).await?;
        owned.push(AlarmRef {
            name: put.name,
            arn: put.arn,
        });
    }
    let dropped: Vec<AlarmRef> = existing
        .iter()
        .filter(|a| !owned.iter().any(|o| o.name == a.name))
        .cloned()
        .collect();
    remove(state, region, &dropped).await?;
    Ok(owned)
}

/// Delete the alarms of `owned` that still exist (a user may have deleted one).
pub async fn remove(state: &State, region: &str, owned: &[AlarmRef]) -> Result<()> {
    let names: Vec<String> = owned
        .iter()
        .filter(|a| cloudwatch::alarm(state, region, &a.name).is_some())
        .map(|a| a.name.clone())
        .collect();
    if !names.is_empty() {
        cloudwatch::delete(state, region, &names).await?;
    }
    Ok(())
}
