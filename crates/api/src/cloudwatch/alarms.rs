//! Metric alarms' writes: PutMetricAlarm (one metric's statistic, or metric math over
//! `Metrics` with one query returning data), DeleteAlarms, SetAlarmState and
//! Enable/DisableAlarmActions. The definition is checked here against CloudWatch's rules
//! and stored through `flotilla_control::cloudwatch`.

use flotilla_aws::Context;
use flotilla_control::cloudwatch as control;
use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{
    rules, AlarmRecord, AlarmState, Comparison, MetricQuery, MetricStat, TreatMissingData,
};
use flotilla_telemetry::metrics::math;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{combination, invalid, validation, CwError};
use super::wire::{
    metric, queries, required, statistic, tags, unit, DimensionIn, MetricDataQueryIn, MetricIn,
    TagIn,
};
use crate::State;

/// An alarm looks back at most this far (EvaluationPeriods × Period).
const MAX_RANGE: i64 = 7 * 86_400;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutInput {
    alarm_name: Option<String>,
    alarm_description: Option<String>,
    actions_enabled: Option<bool>,
    #[serde(rename = "OKActions")]
    ok_actions: Option<Vec<String>>,
    alarm_actions: Option<Vec<String>>,
    insufficient_data_actions: Option<Vec<String>>,
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    dimensions: Option<Vec<DimensionIn>>,
    period: Option<i64>,
    unit: Option<String>,
    evaluation_periods: Option<i64>,
    datapoints_to_alarm: Option<i64>,
    threshold: Option<f64>,
    comparison_operator: Option<String>,
    treat_missing_data: Option<String>,
    evaluate_low_sample_count_percentile: Option<String>,
    metrics: Option<Vec<MetricDataQueryIn>>,
    #[serde(default)]
    tags: Vec<TagIn>,
    threshold_metric_id: Option<String>,
}

fn comparison(s: &str) -> Result<Comparison, CwError> {
    if let Some(c) = Comparison::parse(s) {
        return Ok(c);
    }
    match s {
        "LessThanLowerOrGreaterThanUpperThreshold"
        | "LessThanLowerThreshold"
        | "GreaterThanUpperThreshold" => Err(validation(format!(
            "The comparison operator {s} compares with an anomaly detection band (ThresholdMetricId), which Flotilla does not offer; use GreaterThanThreshold, GreaterThanOrEqualToThreshold, LessThanThreshold or LessThanOrEqualToThreshold."
        ))),
        _ => Err(invalid(format!(
            "The value {s} for parameter ComparisonOperator is invalid."
        ))),
    }
}

/// The single metric of an alarm, from the members that name it.
fn single(input: &mut PutInput) -> Result<MetricStat, CwError> {
    let m = metric(MetricIn {
        namespace: input.namespace.take(),
        metric_name: input.metric_name.take(),
        dimensions: input.dimensions.take().unwrap_or_default(),
    })?;
    let stat =
        match (input.statistic.take(), input.extended_statistic.take()) {
            (Some(s), None) => statistic("Statistic", &s)?,
            (None, Some(_)) => {
                return Err(invalid(
                    "ExtendedStatistic (percentiles) is not offered by Flotilla; use Statistic.",
                ))
            }
            (None, None) => {
                return Err(rules::RuleError::Missing(
                    "One of the parameters Statistic and ExtendedStatistic is required.".into(),
                )
                .into())
            }
            (Some(_), Some(_)) => return Err(combination(
                "The parameters Statistic and ExtendedStatistic are mutually exclusive; give one.",
            )),
        };
    let period = required("Period", input.period)?;
    rules::alarm_period(period)?;
    Ok(MetricStat {
        metric: m,
        period: period as u32,
        stat,
        unit: unit(input.unit.take())?,
    })
}

/// The metric-math queries of an alarm: exactly one returns data, every expression parses
/// and every metric's period suits an alarm.
fn math_queries(qs: Vec<MetricDataQueryIn>) -> Result<Vec<MetricQuery>, CwError> {
    let qs = queries(qs)?;
    if qs.iter().filter(|q| q.return_data).count() != 1 {
        return Err(validation(
            "Exactly one element of the metrics list should return data.",
        ));
    }
    for q in &qs {
        if let Some(s) = &q.metric_stat {
            rules::alarm_period(i64::from(s.period))?;
        }
        if let Some(e) = &q.expression {
            math::parse(e).map_err(|e| validation(format!("Error in expression {}: {e}", q.id)))?;
        }
    }
    Ok(qs)
}

fn actions(member: &str, a: Option<Vec<String>>) -> Result<Vec<String>, CwError> {
    let a = a.unwrap_or_default();
    rules::actions(member, &a)?;
    Ok(a)
}

/// The alarm's definition as the control plane stores it (state and timestamps are set
/// there).
fn definition(state: &State, ctx: &Context, mut input: PutInput) -> Result<AlarmRecord, CwError> {
    let name = required("AlarmName", input.alarm_name.take())?;
    rules::alarm_name(&name)?;
    if let Some(d) = &input.alarm_description {
        rules::length("AlarmDescription", d, 0, 1024)?;
    }
    if input.threshold_metric_id.is_some() {
        return Err(invalid(
            "ThresholdMetricId (anomaly detection) is not offered by Flotilla; give a Threshold.",
        ));
    }
    let names_a_metric = input.metric_name.is_some()
        || input.namespace.is_some()
        || input.statistic.is_some()
        || input.extended_statistic.is_some()
        || input.dimensions.is_some()
        || input.period.is_some()
        || input.unit.is_some();
    let metric = match input.metrics.take() {
        Some(_) if names_a_metric => {
            return Err(combination(
                "Metrics cannot be given with MetricName, Namespace, Statistic, ExtendedStatistic, Dimensions, Period or Unit.",
            ))
        }
        Some(qs) => AlarmMetric::Math(math_queries(qs)?),
        None => AlarmMetric::Single(single(&mut input)?),
    };
    let evaluation_periods = required("EvaluationPeriods", input.evaluation_periods)?;
    if !(1..=i64::from(u32::MAX)).contains(&evaluation_periods) {
        return Err(invalid(
            "The parameter EvaluationPeriods must be at least 1.",
        ));
    }
    let datapoints_to_alarm = match input.datapoints_to_alarm {
        Some(m) if m < 1 || m > evaluation_periods => {
            return Err(invalid(format!(
                "The parameter DatapointsToAlarm must be between 1 and EvaluationPeriods ({evaluation_periods})."
            )))
        }
        m => m.map(|m| m as u32),
    };
    let threshold = required("Threshold", input.threshold)?;
    rules::datum_value("Threshold", threshold)?;
    let comparison = comparison(&required("ComparisonOperator", input.comparison_operator)?)?;
    let treat = match &input.treat_missing_data {
        None => TreatMissingData::Missing,
        Some(t) => TreatMissingData::parse(t).ok_or_else(|| {
            invalid(format!(
                "The value {t} for parameter TreatMissingData is invalid: it must be breaching, notBreaching, ignore or missing."
            ))
        })?,
    };
    if let Some(e) = &input.evaluate_low_sample_count_percentile {
        if e != "evaluate" && e != "ignore" {
            return Err(invalid(format!(
                "The value {e} for parameter EvaluateLowSampleCountPercentile is invalid: it must be evaluate or ignore."
            )));
        }
    }
    let arn = control::alarm_arn(&ctx.region, state.account(), &name);
    let mut record = AlarmRecord::new(
        name,
        arn,
        metric,
        comparison,
        threshold,
        evaluation_periods as u32,
    );
    record.description = input.alarm_description;
    record.actions_enabled = input.actions_enabled.unwrap_or(true);
    record.ok_actions = actions("OKActions", input.ok_actions)?;
    record.alarm_actions = actions("AlarmActions", input.alarm_actions)?;
    record.insufficient_data_actions =
        actions("InsufficientDataActions", input.insufficient_data_actions)?;
    record.datapoints_to_alarm = datapoints_to_alarm;
    record.treat_missing_data = treat;
    record.treat_missing_data_given = input.treat_missing_data.is_some();
    record.evaluate_low_sample_count_percentile = input.evaluate_low_sample_count_percentile;
    record.tags = tags(input.tags)?;
    if i64::from(record.period()) * evaluation_periods > MAX_RANGE {
        return Err(invalid(
            "The product of EvaluationPeriods and Period must not exceed 604800 seconds (7 days).",
        ));
    }
    Ok(record)
}

pub async fn put(state: &State, ctx: &Context, input: PutInput) -> Result<Value, CwError> {
    let record = definition(state, ctx, input)?;
    control::put(state, &ctx.region, record).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamesInput {
    alarm_names: Option<Vec<String>>,
}

/// `AlarmNames`: required, at most 100 valid names.
fn names(input: NamesInput) -> Result<Vec<String>, CwError> {
    let names = required("AlarmNames", input.alarm_names)?;
    if names.len() > 100 {
        return Err(invalid(
            "The collection AlarmNames must not have more than 100 members.",
        ));
    }
    for n in &names {
        rules::alarm_name(n)?;
    }
    Ok(names)
}

pub async fn delete(state: &State, ctx: &Context, input: NamesInput) -> Result<Value, CwError> {
    control::delete(state, &ctx.region, &names(input)?).await?;
    Ok(json!({}))
}

pub async fn actions_enabled(
    state: &State,
    ctx: &Context,
    input: NamesInput,
    enabled: bool,
) -> Result<Value, CwError> {
    control::set_actions_enabled(state, &ctx.region, &names(input)?, enabled).await?;
    Ok(json!({}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SetStateInput {
    alarm_name: Option<String>,
    state_value: Option<String>,
    state_reason: Option<String>,
    state_reason_data: Option<String>,
}

pub async fn set_state(
    state: &State,
    ctx: &Context,
    input: SetStateInput,
) -> Result<Value, CwError> {
    let name = required("AlarmName", input.alarm_name)?;
    rules::alarm_name(&name)?;
    let value = required("StateValue", input.state_value)?;
    let value = AlarmState::parse(&value).ok_or_else(|| {
        invalid(format!(
            "The value {value} for parameter StateValue is invalid: it must be OK, ALARM or INSUFFICIENT_DATA."
        ))
    })?;
    let reason = required("StateReason", input.state_reason)?;
    rules::length("StateReason", &reason, 0, 1023)?;
    if let Some(d) = &input.state_reason_data {
        rules::length("StateReasonData", d, 0, 4000)?;
    }
    control::set_state(
        state,
        &ctx.region,
        &name,
        value,
        reason,
        input.state_reason_data,
    )
    .await?;
    Ok(json!({}))
}
