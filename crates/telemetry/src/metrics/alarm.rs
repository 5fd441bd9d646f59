//! Alarm evaluation, a pure function: an alarm's definition, the data points of its
//! evaluation range and `now` in; the new state with its reason and reason data, worded
//! as CloudWatch words them, out (or nothing when the state stays).
//!
//! The range is the alarm's `EvaluationPeriods` (N) whole periods ending at the start of
//! the current, unfinished one. A period breaches when its value crosses the threshold
//! by the comparison; `TreatMissingData` says what a period without data is:
//! - `breaching` / `notBreaching`: that;
//! - `missing` / `ignore`: nothing: ALARM needs `DatapointsToAlarm` (M) breaching
//!   periods among those with data; OK needs enough non-breaching ones that M breaching
//!   are no longer possible; otherwise the state stays. With no data at all, `missing`
//!   goes to INSUFFICIENT_DATA and `ignore` keeps the state.
//!
//! [`series`] reads the alarm's data from the store (one metric, or its metric math).

use chrono::{DateTime, Utc};
use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{AlarmRecord, AlarmState, MetricQuery, TreatMissingData};
use serde_json::json;

use super::math::MathError;
use super::{query, MetricStore};

/// A new state and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub state: AlarmState,
    pub reason: String,
    /// JSON.
    pub reason_data: String,
}

/// The evaluation range at `now`: `[start, end)`.
pub fn window(alarm: &AlarmRecord, now: i64) -> (i64, i64) {
    let period = i64::from(alarm.period().max(1));
    let end = now.div_euclid(period) * period;
    (end - period * i64::from(alarm.evaluation_periods), end)
}

/// The alarm's data points in its evaluation range at `now`.
pub fn series(
    store: &MetricStore,
    region: &str,
    alarm: &AlarmRecord,
    now: i64,
) -> Result<Vec<(i64, f64)>, MathError> {
    let (start, end) = window(alarm, now);
    match &alarm.metric {
        AlarmMetric::Single(stat) => {
            Ok(query::metric_series(store, region, stat, start, end, now).points)
        }
        AlarmMetric::Math(queries) => {
            let queries: Vec<MetricQuery> = queries.clone();
            let req = query::Request {
                region,
                queries: &queries,
                start,
                end,
                now,
            };
            Ok(query::run(store, &req)?
                .into_iter()
                .next()
                .map(|o| o.points)
                .unwrap_or_default())
        }
    }
}

fn time(ts: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(ts, 0).unwrap_or_default()
}

/// `85.0 (03/12/26 06:01:00)`.
fn shown(ts: i64, v: f64) -> String {
    format!("{v:?} ({})", time(ts).format("%d/%m/%y %H:%M:%S"))
}

fn iso(ts: DateTime<Utc>) -> String {
    ts.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn was(n: usize) -> &'static str {
    if n == 1 {
        "was"
    } else {
        "were"
    }
}

/// Evaluate `alarm` over `points` (ascending, from its evaluation range) at `now`; None
/// when its state stays.
pub fn evaluate(alarm: &AlarmRecord, points: &[(i64, f64)], now: i64) -> Option<Verdict> {
    let (start, end) = window(alarm, now);
    let period = i64::from(alarm.period().max(1));
    let n = alarm.evaluation_periods as usize;
    let m = alarm.datapoints_to_alarm() as usize;
    // Newest first, as CloudWatch lists them.
    let present: Vec<(i64, f64)> = points
        .iter()
        .rev()
        .filter(|p| p.0 >= start && p.0 < end)
        .copied()
        .collect();
    let missing = n.saturating_sub(present.len());
    let breaches = |v: f64| alarm.comparison.breaches(v, alarm.threshold);
    let breaching = present.iter().filter(|p| breaches(p.1)).count();
    let not_breaching = present.len() - breaching;
    let (breaching, not_breaching) = match alarm.treat_missing_data {
        TreatMissingData::Breaching => (breaching + missing, not_breaching),
        TreatMissingData::NotBreaching => (breaching, not_breaching + missing),
        TreatMissingData::Missing | TreatMissingData::Ignore => (breaching, not_breaching),
    };
    let state = if present.is_empty()
        && matches!(
            alarm.treat_missing_data,
            TreatMissingData::Missing | TreatMissingData::Ignore
        ) {
        if alarm.treat_missing_data == TreatMissingData::Ignore {
            return None;
        }
        AlarmState::InsufficientData
    } else if breaching >= m {
        AlarmState::Alarm
    } else if not_breaching > n.saturating_sub(m) {
        AlarmState::Ok
    } else {
        return None;
    };
    if state == alarm.state {
        return None;
    }
    let listed = present
        .iter()
        .map(|&(t, v)| shown(t, v))
        .collect::<Vec<_>>()
        .join(", ");
    let transition = format!(
        "(minimum {} for {} -> {} transition)",
        plural(m.min(n), "datapoint"),
        alarm.state.as_str(),
        state.as_str()
    );
    let reason = match state {
        AlarmState::InsufficientData => {
            format!("Insufficient Data: {} {} unknown.", plural(n, "datapoint"), was(n))
        }
        AlarmState::Alarm => format!(
            "Threshold Crossed: {breaching} out of the last {n} datapoints [{listed}] {} {} the threshold ({:?}) {transition}.",
            was(breaching),
            alarm.comparison.words(),
            alarm.threshold,
        ),
        AlarmState::Ok => format!(
            "Threshold Crossed: {not_breaching} out of the last {n} datapoints [{listed}] {} not {} the threshold ({:?}) {transition}.",
            was(not_breaching),
            alarm.comparison.words(),
            alarm.threshold,
        ),
    };
    let mut data = json!({
        "version": "1.0",
        "queryDate": iso(time(now)),
        "startDate": iso(time(start)),
        "period": period,
        "recentDatapoints": present.iter().map(|p| p.1).collect::<Vec<_>>(),
        "threshold": alarm.threshold,
        "evaluatedDatapoints": present
            .iter()
            .map(|&(t, v)| json!({"timestamp": iso(time(t)), "value": v}))
            .collect::<Vec<_>>(),
    });
    if let AlarmMetric::Single(s) = &alarm.metric {
        data["statistic"] = json!(s.stat.as_str());
        if let Some(u) = &s.unit {
            data["unit"] = json!(u);
        }
    }
    Some(Verdict {
        state,
        reason,
        reason_data: data.to_string(),
    })
}

#[cfg(test)]
mod tests;
