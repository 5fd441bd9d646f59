//! The load balancer's reports turned into CloudWatch metrics: the one place that maps
//! what the data plane observes to `AWS/ApplicationELB` data points (today
//! `RequestCount`, dimension `LoadBalancer` = `app/NAME/ID`, one datum per report with
//! the requests since the last one, in the load balancer's region). A new metric is a new
//! arm of [`LbMetrics::data`].

use std::collections::HashMap;

use flotilla_model::cloudwatch::{Dimension, MetricRef, ELB_NAMESPACE};
use flotilla_model::elbv2::plane::HealthReport;
use flotilla_telemetry::metrics::{Datum, StatSet};

/// What was last reported, to turn running totals into data points.
#[derive(Default)]
pub struct LbMetrics {
    /// The last request total of each load balancer, by ARN.
    last: HashMap<String, u64>,
}

/// The region and the `LoadBalancer` dimension of a load balancer's ARN
/// (`arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID`).
pub fn dimension(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let region = parts.nth(3)?;
    let resource = parts.nth(1)?;
    Some((region, resource.strip_prefix("loadbalancer/")?))
}

impl LbMetrics {
    /// The data points a report adds at `now`, with their regions. A total lower than
    /// the last one is a data plane that started again: all of it is new.
    pub fn data(&mut self, report: &HealthReport, now: i64) -> Vec<(String, Datum)> {
        let mut out = Vec::new();
        for (arn, &total) in &report.requests {
            let before = self.last.insert(arn.clone(), total).unwrap_or(0);
            let added = if total >= before {
                total - before
            } else {
                total
            };
            let Some((region, lb)) = dimension(arn) else {
                continue;
            };
            if added == 0 {
                continue;
            }
            let metric = MetricRef::new(
                ELB_NAMESPACE.into(),
                "RequestCount".into(),
                vec![Dimension {
                    name: "LoadBalancer".into(),
                    value: lb.into(),
                }],
            );
            out.push((
                region.to_string(),
                Datum {
                    metric,
                    unit: Some("Count".into()),
                    timestamp: now,
                    set: StatSet::one(added as f64),
                    high_resolution: false,
                },
            ));
        }
        self.last.retain(|arn, _| report.requests.contains_key(arn));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str =
        "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/blue/0123456789abcdef";

    fn report(n: u64) -> HealthReport {
        HealthReport {
            requests: [(ARN.to_string(), n)].into(),
            ..HealthReport::default()
        }
    }

    #[test]
    fn totals_become_request_counts_and_a_restart_counts_from_zero() {
        assert_eq!(
            dimension(ARN),
            Some(("us-east-1", "app/blue/0123456789abcdef"))
        );
        let mut m = LbMetrics::default();
        let first = m.data(&report(5), 100);
        assert_eq!(first.len(), 1);
        let (region, d) = &first[0];
        assert_eq!(region, "us-east-1");
        assert_eq!(
            (d.metric.metric_name.as_str(), d.set.sum),
            ("RequestCount", 5.0)
        );
        assert_eq!(d.metric.dimensions[0].value, "app/blue/0123456789abcdef");
        assert!(m.data(&report(5), 101).is_empty(), "nothing new");
        assert_eq!(m.data(&report(8), 102)[0].1.set.sum, 3.0);
        assert_eq!(m.data(&report(2), 103)[0].1.set.sum, 2.0, "restarted plane");
    }
}
