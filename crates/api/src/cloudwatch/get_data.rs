//! GetMetricData: up to 500 queries (metrics' statistics and metric math over them) in
//! one time range, each result newest first (or oldest first with `ScanBy`
//! TimestampAscending), at most `MaxDatapoints` data points a page across the results,
//! the rest behind a `NextToken` (results cut short say `PartialData`).

use flotilla_aws::Context;
use flotilla_telemetry::metrics::query::{self, Output};
use flotilla_telemetry::metrics::MetricStore;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{invalid, invalid_token, CwError};
use super::wire::{queries, seconds, MetricDataQueryIn};

/// Data points a page holds unless `MaxDatapoints` says fewer.
const DEFAULT_MAX_DATAPOINTS: i64 = 100_800;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Input {
    #[serde(default)]
    metric_data_queries: Option<Vec<MetricDataQueryIn>>,
    start_time: Option<f64>,
    end_time: Option<f64>,
    next_token: Option<String>,
    scan_by: Option<String>,
    max_datapoints: Option<i64>,
}

/// The data points already answered by earlier pages.
fn offset(token: Option<&str>) -> Result<usize, CwError> {
    match token {
        None | Some("") => Ok(0),
        Some(t) => t
            .strip_prefix("gmd1-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(invalid_token),
    }
}

pub fn get(store: &MetricStore, ctx: &Context, input: Input, now: i64) -> Result<Value, CwError> {
    let queries = queries(super::wire::required(
        "MetricDataQueries",
        input.metric_data_queries,
    )?)?;
    let start = seconds("StartTime", input.start_time)?;
    let end = seconds("EndTime", input.end_time)?;
    if start >= end {
        return Err(invalid(
            "The parameter StartTime must be less than the parameter EndTime.",
        ));
    }
    let descending = match input.scan_by.as_deref() {
        None | Some("TimestampDescending") => true,
        Some("TimestampAscending") => false,
        Some(other) => {
            return Err(invalid(format!(
                "The value {other} for parameter ScanBy is invalid: it must be TimestampDescending or TimestampAscending."
            )))
        }
    };
    let max = input.max_datapoints.unwrap_or(DEFAULT_MAX_DATAPOINTS);
    if max < 1 {
        return Err(invalid("The parameter MaxDatapoints must be at least 1."));
    }
    let skip = offset(input.next_token.as_deref())?;
    let req = query::Request {
        region: &ctx.region,
        queries: &queries,
        start,
        end,
        now,
    };
    let outputs = query::run(store, &req)?;
    Ok(answer(outputs, descending, skip, max as usize))
}

/// The page of `outputs` after `skip` data points, holding at most `max`.
fn answer(outputs: Vec<Output>, descending: bool, skip: usize, max: usize) -> Value {
    let total: usize = outputs.iter().map(|o| o.points.len()).sum();
    let mut at = 0usize;
    let results: Vec<Value> = outputs
        .into_iter()
        .map(|mut o| {
            if descending {
                o.points.reverse();
            }
            let n = o.points.len();
            let from = skip.saturating_sub(at).min(n);
            let to = (skip + max).saturating_sub(at).min(n);
            at += n;
            let points = &o.points[from..to.max(from)];
            json!({
                "Id": o.id,
                "Label": o.label,
                "Timestamps": points.iter().map(|p| p.0).collect::<Vec<_>>(),
                "Values": points.iter().map(|p| p.1).collect::<Vec<_>>(),
                "StatusCode": if to >= n { "Complete" } else { "PartialData" },
                "Messages": [],
            })
        })
        .collect();
    let next = (skip + max < total).then(|| format!("gmd1-{}", skip + max));
    json!({"MetricDataResults": results, "NextToken": next, "Messages": []})
}
