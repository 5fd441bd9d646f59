//! PutMetricData: up to 1,000 data, each a value, values with counts, or a statistic set,
//! at a time from two weeks ago to two hours ahead, in standard (60) or high (1)
//! resolution, into a namespace of the caller's own (not `AWS/`). Every datum is checked
//! before any is stored; the request is stored in one durable put.

use flotilla_aws::Context;
use flotilla_model::cloudwatch::{rules, MetricRef};
use flotilla_telemetry::metrics::{Datum, MetricStore, StatSet};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{combination, invalid, missing, CwError};
use super::wire::{dimensions, required, unit, DimensionIn};

/// Data per request.
const MAX_DATA: usize = 1000;
/// Distinct values per datum.
const MAX_VALUES: usize = 150;
/// How far back a timestamp may be.
const MAX_AGE: i64 = 14 * 86_400;
/// How far ahead a timestamp may be.
const MAX_AHEAD: i64 = 2 * 3600;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    namespace: Option<String>,
    metric_data: Option<Vec<DatumIn>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StatisticSetIn {
    sample_count: Option<f64>,
    sum: Option<f64>,
    minimum: Option<f64>,
    maximum: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DatumIn {
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
    timestamp: Option<f64>,
    value: Option<f64>,
    statistic_values: Option<StatisticSetIn>,
    values: Option<Vec<f64>>,
    counts: Option<Vec<f64>>,
    unit: Option<String>,
    storage_resolution: Option<i64>,
}

pub async fn put(
    store: &MetricStore,
    ctx: &Context,
    input: Input,
    now: i64,
) -> Result<Value, CwError> {
    let namespace = required("Namespace", input.namespace)?;
    rules::own_namespace(&namespace)?;
    let data = required("MetricData", input.metric_data)?;
    if data.is_empty() || data.len() > MAX_DATA {
        return Err(invalid(format!(
            "The collection MetricData must have between 1 and {MAX_DATA} members ({} given).",
            data.len()
        )));
    }
    let mut out = Vec::with_capacity(data.len());
    for (i, d) in data.into_iter().enumerate() {
        if let Some(datum) = datum(&namespace, &format!("MetricData.member.{}", i + 1), d, now)? {
            out.push(datum);
        }
    }
    store.put(&ctx.region, out).await?;
    Ok(json!({}))
}

/// One datum checked and folded into a statistic set (None: only zero counts).
fn datum(namespace: &str, at: &str, d: DatumIn, now: i64) -> Result<Option<Datum>, CwError> {
    let name = required(&format!("{at}.MetricName"), d.metric_name)?;
    rules::metric_name(&name)?;
    let metric = MetricRef::new(namespace.to_string(), name, dimensions(d.dimensions)?);
    let timestamp = match d.timestamp {
        None => now,
        Some(t) if t.is_finite() && t.abs() < 1e13 => t.floor() as i64,
        Some(_) => {
            return Err(invalid(format!(
                "The parameter {at}.Timestamp is not a valid time."
            )))
        }
    };
    if timestamp < now - MAX_AGE || timestamp > now + MAX_AHEAD {
        return Err(invalid(format!(
            "The parameter {at}.Timestamp must specify a time no more than two weeks in the past and no more than two hours in the future."
        )));
    }
    let given_unit = unit(d.unit)?.filter(|u| u != "None");
    let high_resolution = match d.storage_resolution {
        None | Some(60) => false,
        Some(1) => true,
        Some(r) => {
            return Err(invalid(format!(
                "The value {r} for parameter {at}.StorageResolution is invalid: it must be 1 (high resolution) or 60."
            )))
        }
    };
    let set = match (d.value, d.statistic_values, d.values) {
        (Some(v), None, None) => {
            rules::datum_value(&format!("{at}.Value"), v)?;
            Some(StatSet::one(v))
        }
        (None, Some(s), None) => Some(statistic_set(at, s)?),
        (None, None, Some(values)) => values_with_counts(at, values, d.counts)?,
        (None, None, None) => {
            return Err(missing(&format!(
                "{at}.Value, {at}.StatisticValues or {at}.Values"
            )))
        }
        _ => {
            return Err(combination(format!(
                "The parameters {at}.Value, {at}.StatisticValues and {at}.Values are mutually exclusive; give one."
            )))
        }
    };
    Ok(set.map(|set| Datum {
        metric,
        unit: given_unit,
        timestamp,
        set,
        high_resolution,
    }))
}

fn statistic_set(at: &str, s: StatisticSetIn) -> Result<StatSet, CwError> {
    let member = |m: &str| format!("{at}.StatisticValues.{m}");
    let get = |m: &str, v: Option<f64>| -> Result<f64, CwError> {
        let v = v.ok_or_else(|| missing(&member(m)))?;
        rules::datum_value(&member(m), v)?;
        Ok(v)
    };
    let set = StatSet {
        count: get("SampleCount", s.sample_count)?,
        sum: get("Sum", s.sum)?,
        min: get("Minimum", s.minimum)?,
        max: get("Maximum", s.maximum)?,
    };
    if set.count <= 0.0 {
        return Err(invalid(format!(
            "The parameter {} must be greater than 0.",
            member("SampleCount")
        )));
    }
    if set.min > set.max {
        return Err(invalid(format!(
            "The parameter {} must not be greater than {}.",
            member("Minimum"),
            member("Maximum")
        )));
    }
    Ok(set)
}

fn values_with_counts(
    at: &str,
    values: Vec<f64>,
    counts: Option<Vec<f64>>,
) -> Result<Option<StatSet>, CwError> {
    if values.len() > MAX_VALUES {
        return Err(invalid(format!(
            "The collection {at}.Values must not have more than {MAX_VALUES} members."
        )));
    }
    let counts = counts.unwrap_or_else(|| vec![1.0; values.len()]);
    if counts.len() != values.len() {
        return Err(combination(format!(
            "The collections {at}.Values and {at}.Counts must have the same number of members."
        )));
    }
    let mut set: Option<StatSet> = None;
    for (v, c) in values.into_iter().zip(counts) {
        rules::datum_value(&format!("{at}.Values"), v)?;
        if !c.is_finite() || c < 0.0 {
            return Err(invalid(format!(
                "The members of {at}.Counts must not be negative."
            )));
        }
        if c == 0.0 {
            continue;
        }
        let one = StatSet::repeated(v, c);
        match &mut set {
            Some(s) => s.merge(&one),
            None => set = Some(one),
        }
    }
    Ok(set)
}
