//! Wire shapes the CloudWatch operations share (dimensions, metrics, `MetricStat`,
//! `MetricDataQuery`, timestamps, tags, pages) and their translation into the model's
//! types with CloudWatch's checks.

use flotilla_model::cloudwatch::{rules, Dimension, MetricQuery, MetricRef, MetricStat, Statistic};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, invalid_token, missing, validation, CwError};
use crate::pagination::{paginate, Order};

/// At most this many queries per GetMetricData (and metrics per alarm).
pub const MAX_QUERIES: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionIn {
    pub name: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricIn {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<DimensionIn>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricStatIn {
    pub metric: Option<MetricIn>,
    pub period: Option<i64>,
    pub stat: Option<String>,
    pub unit: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataQueryIn {
    pub id: Option<String>,
    pub metric_stat: Option<MetricStatIn>,
    pub expression: Option<String>,
    pub label: Option<String>,
    pub return_data: Option<bool>,
    pub period: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagIn {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// A required member.
pub fn required<T>(member: &str, v: Option<T>) -> Result<T, CwError> {
    v.ok_or_else(|| missing(member))
}

/// A metric's dimensions, checked, in canonical order.
pub fn dimensions(dims: Vec<DimensionIn>) -> Result<Vec<Dimension>, CwError> {
    let dims = dims
        .into_iter()
        .map(|d| {
            Ok(Dimension {
                name: required("Dimensions.member.Name", d.name)?,
                value: required("Dimensions.member.Value", d.value)?,
            })
        })
        .collect::<Result<Vec<_>, CwError>>()?;
    rules::dimensions(&dims)?;
    Ok(dims)
}

/// ListMetrics' dimension filters: at most 10, a value optional.
pub fn dimension_filters(dims: Vec<DimensionIn>) -> Result<Vec<(String, Option<String>)>, CwError> {
    if dims.len() > 10 {
        return Err(invalid(
            "The collection Dimensions must not have more than 10 members.",
        ));
    }
    dims.into_iter()
        .map(|d| {
            let name = required("Dimensions.member.Name", d.name)?;
            rules::dimension_name(&name)?;
            if let Some(v) = &d.value {
                rules::dimension_value(v)?;
            }
            Ok((name, d.value))
        })
        .collect()
}

/// A metric named in full (namespace, name, dimensions).
pub fn metric(m: MetricIn) -> Result<MetricRef, CwError> {
    let namespace = required("Namespace", m.namespace)?;
    rules::namespace(&namespace)?;
    let name = required("MetricName", m.metric_name)?;
    rules::metric_name(&name)?;
    Ok(MetricRef::new(namespace, name, dimensions(m.dimensions)?))
}

/// A statistic's name; percentiles and the other extended statistics are refused.
pub fn statistic(member: &str, s: &str) -> Result<Statistic, CwError> {
    Statistic::parse(s).ok_or_else(|| {
        invalid(format!(
            "The value {s} for parameter {member} is invalid: Flotilla offers SampleCount, Average, Sum, Minimum and Maximum (percentiles and other extended statistics are not kept)."
        ))
    })
}

/// An optional unit, checked.
pub fn unit(u: Option<String>) -> Result<Option<String>, CwError> {
    if let Some(u) = &u {
        rules::unit(u)?;
    }
    Ok(u)
}

fn metric_stat(s: MetricStatIn) -> Result<MetricStat, CwError> {
    let metric = metric(required("MetricStat.Metric", s.metric)?)?;
    let period = required("MetricStat.Period", s.period)?;
    rules::period("MetricStat.Period", period)?;
    let stat = statistic("MetricStat.Stat", &required("MetricStat.Stat", s.stat)?)?;
    Ok(MetricStat {
        metric,
        period: period as u32,
        stat,
        unit: unit(s.unit)?,
    })
}

/// `MetricDataQuery` members, checked: ids unique and well-formed, each query either a
/// `MetricStat` or an `Expression`.
pub fn queries(qs: Vec<MetricDataQueryIn>) -> Result<Vec<MetricQuery>, CwError> {
    if qs.is_empty() {
        return Err(missing("MetricDataQueries"));
    }
    if qs.len() > MAX_QUERIES {
        return Err(validation(format!(
            "At most {MAX_QUERIES} MetricDataQueries may be given ({} given).",
            qs.len()
        )));
    }
    let mut out: Vec<MetricQuery> = Vec::with_capacity(qs.len());
    for q in qs {
        let id = required("MetricDataQueries.member.Id", q.id)?;
        rules::query_id(&id)?;
        if out.iter().any(|o| o.id == id) {
            return Err(validation(format!(
                "The Id {id} is used by more than one MetricDataQuery; Ids must be unique."
            )));
        }
        let (metric_stat, expression) = match (q.metric_stat, q.expression) {
            (Some(s), None) => (Some(metric_stat(s)?), None),
            (None, Some(e)) => {
                rules::length("Expression", &e, 1, 2048)?;
                (None, Some(e))
            }
            _ => {
                return Err(validation(format!(
                    "The MetricDataQuery {id} must have exactly one of MetricStat and Expression."
                )))
            }
        };
        if let Some(p) = q.period {
            rules::period("MetricDataQueries.member.Period", p)?;
        }
        out.push(MetricQuery {
            id,
            metric_stat,
            expression,
            label: q.label,
            return_data: q.return_data.unwrap_or(true),
            period: q.period.map(|p| p as u32),
        });
    }
    Ok(out)
}

/// Epoch seconds of a required timestamp member.
pub fn seconds(member: &str, t: Option<f64>) -> Result<i64, CwError> {
    let t = required(member, t)?;
    if !t.is_finite() || t.abs() > 1e13 {
        return Err(invalid(format!(
            "The parameter {member} is not a valid time."
        )));
    }
    Ok(t.floor() as i64)
}

/// Tags, checked.
pub fn tags(tags: Vec<TagIn>) -> Result<Vec<(String, String)>, CwError> {
    let tags = tags
        .into_iter()
        .map(|t| {
            Ok((
                required("Tags.member.Key", t.key)?,
                required("Tags.member.Value", t.value)?,
            ))
        })
        .collect::<Result<Vec<_>, CwError>>()?;
    rules::tags(&tags)?;
    Ok(tags)
}

pub fn dimensions_out(dims: &[Dimension]) -> Value {
    dims.iter()
        .map(|d| json!({"Name": d.name, "Value": d.value}))
        .collect()
}

pub fn metric_out(m: &MetricRef) -> Value {
    json!({
        "Namespace": m.namespace,
        "MetricName": m.metric_name,
        "Dimensions": dimensions_out(&m.dimensions),
    })
}

/// A page of `items` after `token` (the opaque key of the last item of the page before),
/// and the next token.
pub fn page<T>(
    items: Vec<T>,
    key: impl Fn(&T) -> String,
    token: Option<&str>,
    size: usize,
) -> Result<(Vec<T>, Option<String>), CwError> {
    paginate(items, key, Order::Asc, token, size).map_err(|_| invalid_token())
}

/// `MaxRecords` in `1..=max`, defaulting to `max`.
pub fn max_records(n: Option<i64>, max: usize) -> Result<usize, CwError> {
    match n {
        None => Ok(max),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "The parameter MaxRecords must be between 1 and {max} (got {n})."
        ))),
    }
}
