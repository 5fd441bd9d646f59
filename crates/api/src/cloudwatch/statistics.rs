//! GetMetricStatistics (one metric's statistics per period, at most 1,440 periods) and
//! ListMetrics (the metrics with data in the last two weeks, filtered, 500 a page).

use flotilla_aws::Context;
use flotilla_model::cloudwatch::{rules, MetricRef, Statistic};
use flotilla_telemetry::metrics::query::aligned_start;
use flotilla_telemetry::metrics::{ListFilter, MetricStore};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{combination, invalid, CwError};
use super::wire::{
    dimension_filters, metric, metric_out, page, required, seconds, statistic, unit, DimensionIn,
    MetricIn,
};
use flotilla_model::cloudwatch::RuleError;

/// GetMetricStatistics answers at most this many periods.
const MAX_DATAPOINTS: i64 = 1440;
/// ListMetrics' page.
const LIST_PAGE: usize = 500;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatisticsInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    period: Option<i64>,
    statistics: Option<Vec<String>>,
    extended_statistics: Option<Vec<String>>,
    unit: Option<String>,
}

/// The statistics asked for: 1 to 5 of CloudWatch's five, not with percentiles.
fn wanted(
    statistics: Option<Vec<String>>,
    extended: Option<Vec<String>>,
) -> Result<Vec<Statistic>, CwError> {
    match (statistics, extended) {
        (Some(_), Some(_)) => Err(combination(
            "The parameters Statistics and ExtendedStatistics are mutually exclusive; give one.",
        )),
        (None, Some(_)) => Err(invalid(
            "ExtendedStatistics (percentiles) are not offered by Flotilla; ask for Statistics (SampleCount, Average, Sum, Minimum, Maximum).",
        )),
        (None, None) => Err(RuleError::Missing(
            "One of the parameters Statistics and ExtendedStatistics is required.".into(),
        )
        .into()),
        (Some(s), None) => {
            if s.is_empty() || s.len() > 5 {
                return Err(invalid(
                    "The collection Statistics must have between 1 and 5 members.",
                ));
            }
            s.iter().map(|x| statistic("Statistics.member", x)).collect()
        }
    }
}

pub fn get(
    store: &MetricStore,
    ctx: &Context,
    input: StatisticsInput,
    now: i64,
) -> Result<Value, CwError> {
    let metric = metric(MetricIn {
        namespace: input.namespace,
        metric_name: input.metric_name,
        dimensions: input.dimensions,
    })?;
    let start = seconds("StartTime", input.start_time)?;
    let end = seconds("EndTime", input.end_time)?;
    let period = required("Period", input.period)?;
    rules::period("Period", period)?;
    let stats = wanted(input.statistics, input.extended_statistics)?;
    let unit = unit(input.unit)?;
    if start >= end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let periods = (end - start + period - 1) / period;
    if periods > MAX_DATAPOINTS {
        return Err(combination(format!(
            "You have requested up to {periods} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. Shorten the time range or lengthen the Period."
        )));
    }
    let period = period as u32;
    let found = store.statistics(
        &ctx.region,
        &metric,
        unit.as_deref(),
        aligned_start(start, period),
        end,
        period,
        now,
    );
    let unit = unit.or(found.unit).unwrap_or_else(|| "None".into());
    let datapoints: Vec<Value> = found
        .points
        .iter()
        .map(|p| {
            let mut d = json!({"Timestamp": p.timestamp, "Unit": unit});
            for s in &stats {
                d[s.as_str()] = json!(p.set.get(*s));
            }
            d
        })
        .collect();
    Ok(json!({"Label": metric.metric_name, "Datapoints": datapoints}))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    namespace: Option<String>,
    metric_name: Option<String>,
    #[serde(default)]
    dimensions: Vec<DimensionIn>,
    next_token: Option<String>,
    recently_active: Option<String>,
}

/// The paging key of a metric: its parts joined so that they sort as the metric does.
fn key(m: &MetricRef) -> String {
    let mut k = format!("{}\u{1}{}", m.namespace, m.metric_name);
    for d in &m.dimensions {
        k.push_str(&format!("\u{1}{}\u{2}{}", d.name, d.value));
    }
    k
}

pub fn list(
    store: &MetricStore,
    ctx: &Context,
    input: ListInput,
    now: i64,
) -> Result<Value, CwError> {
    if let Some(n) = &input.namespace {
        rules::namespace(n)?;
    }
    if let Some(m) = &input.metric_name {
        rules::metric_name(m)?;
    }
    let active_since = match input.recently_active.as_deref() {
        None => None,
        Some("PT3H") => Some(now - 3 * 3600),
        Some(other) => {
            return Err(invalid(format!(
                "The value {other} for parameter RecentlyActive is invalid: the only valid value is PT3H."
            )))
        }
    };
    let filter = ListFilter {
        namespace: input.namespace,
        metric_name: input.metric_name,
        dimensions: dimension_filters(input.dimensions)?,
        active_since,
    };
    let mut metrics = store.list(&ctx.region, &filter, now);
    metrics.sort_by_cached_key(key);
    let (metrics, next) = page(metrics, key, input.next_token.as_deref(), LIST_PAGE)?;
    Ok(json!({
        "Metrics": metrics.iter().map(metric_out).collect::<Vec<_>>(),
        "NextToken": next,
    }))
}
