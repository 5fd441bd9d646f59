//! Requests per load balancer and minute, counted from the data plane's reports: what
//! CloudWatch's `AWS/ApplicationELB` `RequestCount` answers. Each server keeps the counts
//! of its own data plane in memory, for the last [`RETAINED_MINUTES`]; a minute without a
//! request has no data point, as on AWS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use flotilla_model::elbv2::plane::HealthReport;

/// How far back counts are kept.
pub const RETAINED_MINUTES: i64 = 3 * 60;

/// One period's statistics over its minutes with requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    pub timestamp: DateTime<Utc>,
    pub sum: f64,
    /// How many minutes had requests.
    pub sample_count: f64,
    pub minimum: f64,
    pub maximum: f64,
}

#[derive(Default)]
struct Inner {
    /// The last total each load balancer reported.
    last: HashMap<String, u64>,
    /// By load balancer ARN, requests per minute (epoch minutes).
    minutes: HashMap<String, BTreeMap<i64, u64>>,
}

/// The request counts of every load balancer this server's data plane serves.
#[derive(Default)]
pub struct RequestCounts {
    inner: Mutex<Inner>,
}

impl RequestCounts {
    /// Count what a report adds to each load balancer's total since the last one (a total
    /// that went down is a data plane that started again: all of it is new).
    pub fn record(&self, report: &HealthReport, now: DateTime<Utc>) {
        let minute = now.timestamp().div_euclid(60);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Inner { last, minutes } = &mut *inner;
        for (arn, &total) in &report.requests {
            let before = last.insert(arn.clone(), total).unwrap_or(0);
            let added = if total >= before {
                total - before
            } else {
                total
            };
            if added > 0 {
                *minutes
                    .entry(arn.clone())
                    .or_default()
                    .entry(minute)
                    .or_insert(0) += added;
            }
        }
        last.retain(|arn, _| report.requests.contains_key(arn));
        for series in minutes.values_mut() {
            series.retain(|m, _| *m > minute - RETAINED_MINUTES);
        }
        minutes.retain(|_, s| !s.is_empty());
    }

    /// The data points of `arn` in `[start, end)`, one per `period_seconds` (a multiple
    /// of 60) that had requests, oldest first.
    pub fn datapoints(
        &self,
        arn: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        period_seconds: i64,
    ) -> Vec<Datapoint> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(series) = inner.minutes.get(arn) else {
            return Vec::new();
        };
        let period = (period_seconds / 60).max(1);
        let first = start.timestamp().div_euclid(60);
        let last = end.timestamp().div_euclid(60);
        let mut periods: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
        for (&m, &n) in series.range(first..last) {
            periods
                .entry(first + (m - first) / period * period)
                .or_default()
                .push(n);
        }
        periods
            .into_iter()
            .filter_map(|(m, counts)| {
                let timestamp = Utc.timestamp_opt(m * 60, 0).single()?;
                let values = counts.iter().map(|&n| n as f64);
                Some(Datapoint {
                    timestamp,
                    sum: values.clone().sum(),
                    sample_count: counts.len() as f64,
                    minimum: values.clone().fold(f64::INFINITY, f64::min),
                    maximum: values.fold(0.0, f64::max),
                })
            })
            .collect()
    }

    /// The load balancers with counts.
    pub fn load_balancers(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut arns: Vec<String> = inner.minutes.keys().cloned().collect();
        arns.sort();
        arns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(counts: &[(&str, u64)]) -> HealthReport {
        HealthReport {
            requests: counts.iter().map(|(a, n)| (a.to_string(), *n)).collect(),
            ..HealthReport::default()
        }
    }

    fn at(minute: i64, second: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(minute * 60 + second, 0).unwrap()
    }

    #[test]
    fn requests_are_counted_per_minute_and_summed_per_period() {
        let c = RequestCounts::default();
        c.record(&report(&[("blue", 5)]), at(100, 1));
        c.record(&report(&[("blue", 8)]), at(100, 30));
        c.record(&report(&[("blue", 8)]), at(101, 0));
        c.record(&report(&[("blue", 10), ("green", 1)]), at(102, 10));
        let per_minute = c.datapoints("blue", at(100, 0), at(103, 0), 60);
        assert_eq!(
            per_minute
                .iter()
                .map(|d| (d.timestamp, d.sum))
                .collect::<Vec<_>>(),
            vec![(at(100, 0), 8.0), (at(102, 0), 2.0)],
            "a minute without requests has no data point"
        );
        let [whole] = &c.datapoints("blue", at(100, 0), at(103, 0), 180)[..] else {
            panic!("one period");
        };
        assert_eq!(
            (whole.sum, whole.sample_count, whole.minimum, whole.maximum),
            (10.0, 2.0, 2.0, 8.0)
        );
        assert!(c.datapoints("blue", at(103, 0), at(104, 0), 60).is_empty());
        assert_eq!(c.load_balancers(), ["blue", "green"]);
    }

    #[test]
    fn a_restarted_plane_counts_from_zero_and_old_minutes_are_dropped() {
        let c = RequestCounts::default();
        c.record(&report(&[("lb", 50)]), at(10, 0));
        c.record(&report(&[("lb", 3)]), at(11, 0));
        assert_eq!(c.datapoints("lb", at(11, 0), at(12, 0), 60)[0].sum, 3.0);
        c.record(&report(&[("lb", 3)]), at(10 + RETAINED_MINUTES + 5, 0));
        assert!(c.datapoints("lb", at(0, 0), at(1000, 0), 60).is_empty());
    }
}
