//! Metric alarms' reads: DescribeAlarms (by names or prefix, state, action prefix, alarm
//! types, 1-100 a page), DescribeAlarmsForMetric and DescribeAlarmHistory (StateUpdate and
//! ConfigurationUpdate items, newest first unless `ScanBy` says otherwise), each alarm
//! answered from its record ([`alarm_out`]).

use flotilla_aws::Context;
use flotilla_control::cloudwatch as control;
use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{rules, AlarmRecord, AlarmState, MetricQuery, MetricStat};
use flotilla_model::timestamp::to_epoch_seconds;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{combination, invalid, invalid_token, CwError};
use super::wire::{
    dimensions_out, max_records, metric, metric_out, page, seconds, statistic, unit, DimensionIn,
    MetricIn,
};
use crate::State;

const ALARM_TYPES: [&str; 3] = ["CompositeAlarm", "MetricAlarm", "LogAlarm"];

fn metric_stat_out(s: &MetricStat) -> Value {
    json!({
        "Metric": metric_out(&s.metric),
        "Period": s.period,
        "Stat": s.stat.as_str(),
        "Unit": s.unit,
    })
}

fn query_out(q: &MetricQuery) -> Value {
    json!({
        "Id": q.id,
        "MetricStat": q.metric_stat.as_ref().map(metric_stat_out),
        "Expression": q.expression,
        "Label": q.label,
        "ReturnData": q.return_data,
        "Period": q.period,
    })
}

/// The `MetricAlarm` shape of a record.
pub fn alarm_out(a: &AlarmRecord) -> Value {
    let mut v = json!({
        "AlarmName": a.name,
        "AlarmArn": a.arn,
        "AlarmDescription": a.description,
        "AlarmConfigurationUpdatedTimestamp": to_epoch_seconds(&a.configuration_updated),
        "ActionsEnabled": a.actions_enabled,
        "OKActions": a.ok_actions,
        "AlarmActions": a.alarm_actions,
        "InsufficientDataActions": a.insufficient_data_actions,
        "StateValue": a.state.as_str(),
        "StateReason": a.state_reason,
        "StateReasonData": a.state_reason_data,
        "StateUpdatedTimestamp": to_epoch_seconds(&a.state_updated),
        "StateTransitionedTimestamp": to_epoch_seconds(&a.state_transitioned),
        "EvaluationPeriods": a.evaluation_periods,
        "DatapointsToAlarm": a.datapoints_to_alarm,
        "Threshold": a.threshold,
        "ComparisonOperator": a.comparison.as_str(),
        "TreatMissingData": a.treat_missing_data_given.then(|| a.treat_missing_data.as_str()),
        "EvaluateLowSampleCountPercentile": a.evaluate_low_sample_count_percentile,
    });
    match &a.metric {
        AlarmMetric::Single(s) => {
            v["MetricName"] = json!(s.metric.metric_name);
            v["Namespace"] = json!(s.metric.namespace);
            v["Statistic"] = json!(s.stat.as_str());
            v["Dimensions"] = dimensions_out(&s.metric.dimensions);
            v["Period"] = json!(s.period);
            v["Unit"] = json!(s.unit);
        }
        AlarmMetric::Math(qs) => v["Metrics"] = qs.iter().map(query_out).collect(),
    }
    v
}

/// Whether `AlarmTypes` asks for metric alarms (the default).
fn wants_metric_alarms(types: Option<Vec<String>>) -> Result<bool, CwError> {
    let Some(types) = types else {
        return Ok(true);
    };
    if let Some(bad) = types.iter().find(|t| !ALARM_TYPES.contains(&t.as_str())) {
        return Err(invalid(format!(
            "The value {bad} for parameter AlarmTypes is invalid: it must be CompositeAlarm, MetricAlarm or LogAlarm."
        )));
    }
    Ok(types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlarmsInput {
    alarm_names: Option<Vec<String>>,
    alarm_name_prefix: Option<String>,
    alarm_types: Option<Vec<String>>,
    children_of_alarm_name: Option<String>,
    parents_of_alarm_name: Option<String>,
    state_value: Option<String>,
    action_prefix: Option<String>,
    max_records: Option<i64>,
    next_token: Option<String>,
}

pub fn alarms(state: &State, ctx: &Context, input: AlarmsInput) -> Result<Value, CwError> {
    if input.alarm_names.is_some() && input.alarm_name_prefix.is_some() {
        return Err(combination(
            "The parameters AlarmNames and AlarmNamePrefix are mutually exclusive; give one.",
        ));
    }
    let names = input.alarm_names.unwrap_or_default();
    if names.len() > 100 {
        return Err(invalid(
            "The collection AlarmNames must not have more than 100 members.",
        ));
    }
    if let Some(p) = &input.alarm_name_prefix {
        rules::length("AlarmNamePrefix", p, 1, 255)?;
    }
    if let Some(p) = &input.action_prefix {
        rules::length("ActionPrefix", p, 1, 1024)?;
    }
    let wanted_state = match &input.state_value {
        None => None,
        Some(s) => Some(AlarmState::parse(s).ok_or_else(|| {
            invalid(format!(
                "The value {s} for parameter StateValue is invalid: it must be OK, ALARM or INSUFFICIENT_DATA."
            ))
        })?),
    };
    let size = max_records(input.max_records, 100)?;
    // Composite alarms have no children or parents among metric alarms here.
    let metric_alarms = wants_metric_alarms(input.alarm_types)?
        && input.children_of_alarm_name.is_none()
        && input.parents_of_alarm_name.is_none();
    let list: Vec<_> = if metric_alarms {
        control::alarms(state, &ctx.region)
            .into_iter()
            .filter(|a| names.is_empty() || names.contains(&a.name))
            .filter(|a| {
                input
                    .alarm_name_prefix
                    .as_ref()
                    .is_none_or(|p| a.name.starts_with(p.as_str()))
            })
            .filter(|a| wanted_state.is_none_or(|s| a.state == s))
            .filter(|a| {
                input.action_prefix.as_ref().is_none_or(|p| {
                    a.ok_actions
                        .iter()
                        .chain(&a.alarm_actions)
                        .chain(&a.insufficient_data_actions)
                        .any(|x| x.starts_with(p.as_str()))
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let (list, next) = page(list, |a| a.name.clone(), input.next_token.as_deref(), size)?;
    Ok(json!({
        "MetricAlarms": list.iter().map(|a| alarm_out(a)).collect::<Vec<_>>(),
        "CompositeAlarms": [],
        "NextToken": next,
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForMetricInput {
    metric_name: Option<String>,
    namespace: Option<String>,
    statistic: Option<String>,
    extended_statistic: Option<String>,
    dimensions: Option<Vec<DimensionIn>>,
    period: Option<i64>,
    unit: Option<String>,
}

pub fn for_metric(state: &State, ctx: &Context, input: ForMetricInput) -> Result<Value, CwError> {
    let m = metric(MetricIn {
        namespace: input.namespace,
        metric_name: input.metric_name,
        dimensions: input.dimensions.unwrap_or_default(),
    })?;
    let stat =
        match (&input.statistic, &input.extended_statistic) {
            (Some(_), Some(_)) => return Err(combination(
                "The parameters Statistic and ExtendedStatistic are mutually exclusive; give one.",
            )),
            (Some(s), None) => Some(statistic("Statistic", s)?),
            (None, Some(_)) => return Ok(json!({"MetricAlarms": []})),
            (None, None) => None,
        };
    if let Some(p) = input.period {
        rules::period("Period", p)?;
    }
    let unit = unit(input.unit)?;
    let matches = |s: &MetricStat| {
        s.metric == m
            && stat.is_none_or(|x| x == s.stat)
            && input.period.is_none_or(|p| i64::from(s.period) == p)
            && unit.as_ref().is_none_or(|u| s.unit.as_ref() == Some(u))
    };
    let found: Vec<Value> = control::alarms(state, &ctx.region)
        .iter()
        .filter(|a| match &a.metric {
            AlarmMetric::Single(s) => matches(s),
            AlarmMetric::Math(qs) => qs
                .iter()
                .filter_map(|q| q.metric_stat.as_ref())
                .any(matches),
        })
        .map(|a| alarm_out(a))
        .collect();
    Ok(json!({"MetricAlarms": found}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryInput {
    alarm_name: Option<String>,
    alarm_types: Option<Vec<String>>,
    history_item_type: Option<String>,
    start_date: Option<f64>,
    end_date: Option<f64>,
    max_records: Option<i64>,
    next_token: Option<String>,
    scan_by: Option<String>,
}

pub fn history(state: &State, ctx: &Context, input: HistoryInput) -> Result<Value, CwError> {
    if let Some(n) = &input.alarm_name {
        rules::alarm_name(n)?;
    }
    if let Some(t) = &input.history_item_type {
        if ![
            "ConfigurationUpdate",
            "StateUpdate",
            "Action",
            "AlarmContributorStateUpdate",
            "AlarmContributorAction",
        ]
        .contains(&t.as_str())
        {
            return Err(invalid(format!(
                "The value {t} for parameter HistoryItemType is invalid: it must be ConfigurationUpdate, StateUpdate or Action."
            )));
        }
    }
    let start = input
        .start_date
        .map(|t| seconds("StartDate", Some(t)))
        .transpose()?;
    let end = input
        .end_date
        .map(|t| seconds("EndDate", Some(t)))
        .transpose()?;
    let ascending = match input.scan_by.as_deref() {
        None | Some("TimestampDescending") => false,
        Some("TimestampAscending") => true,
        Some(other) => {
            return Err(invalid(format!(
                "The value {other} for parameter ScanBy is invalid: it must be TimestampDescending or TimestampAscending."
            )))
        }
    };
    let size = max_records(input.max_records, 100)?;
    let skip: usize = match input.next_token.as_deref() {
        None | Some("") => 0,
        Some(t) => t
            .strip_prefix("h1-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(invalid_token)?,
    };
    let metric_alarms = wants_metric_alarms(input.alarm_types)?;
    let mut items: Vec<(f64, Value)> = Vec::new();
    for a in control::alarms(state, &ctx.region) {
        if !metric_alarms || input.alarm_name.as_ref().is_some_and(|n| *n != a.name) {
            continue;
        }
        for h in &a.history {
            let ts = h.timestamp.timestamp();
            let kind = h.kind.as_str();
            if input
                .history_item_type
                .as_deref()
                .is_some_and(|t| t != kind)
                || start.is_some_and(|s| ts < s)
                || end.is_some_and(|e| ts >= e)
            {
                continue;
            }
            let t = to_epoch_seconds(&h.timestamp);
            items.push((
                t,
                json!({
                    "AlarmName": a.name,
                    "AlarmType": "MetricAlarm",
                    "Timestamp": t,
                    "HistoryItemType": kind,
                    "HistorySummary": h.summary,
                    "HistoryData": h.data,
                }),
            ));
        }
    }
    items.sort_by(|a, b| a.0.total_cmp(&b.0));
    if !ascending {
        items.reverse();
    }
    let next = (skip + size < items.len()).then(|| format!("h1-{}", skip + size));
    let page: Vec<Value> = items
        .into_iter()
        .skip(skip)
        .take(size)
        .map(|i| i.1)
        .collect();
    Ok(json!({"AlarmHistoryItems": page, "NextToken": next}))
}
