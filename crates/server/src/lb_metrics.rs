//! The load balancer's reports turned into CloudWatch metrics: the one place that maps
//! what the data plane observes to `AWS/ApplicationELB` data points, in the load
//! balancer's region, as ALB defines them.
//!
//! Counts are the growth of the report's running totals since the last report (a total
//! lower than before is a data plane that started again: all of it is new), published
//! when not zero: per `LoadBalancer` (`app/NAME/ID`) `RequestCount`,
//! `HTTPCode_ELB_3XX/4XX/5XX_Count`, `NewConnectionCount`, `HTTPCode_Target_2XX..5XX_Count`
//! and `TargetResponseTime` (seconds); per `LoadBalancer` + `TargetGroup`
//! (`targetgroup/NAME/ID`) the same target metrics, `RequestCount` and
//! `RequestCountPerTarget` (also per `TargetGroup` alone). Gauges are published once a
//! second whatever the traffic: `HealthyHostCount` and `UnHealthyHostCount` per
//! `LoadBalancer` + `TargetGroup`, `ActiveConnectionCount` (client connections open) per
//! `LoadBalancer` when not zero. Every datum is high resolution, so that alarms and
//! scaling policies with 10-second periods see them.

use std::collections::HashMap;

use flotilla_model::cloudwatch::{Dimension, MetricRef, ELB_NAMESPACE};
use flotilla_model::elbv2::plane::{GroupTraffic, HealthReport, LbTraffic, Observed};
use flotilla_telemetry::metrics::{Datum, StatSet};

/// What was last reported, to turn running totals into data points.
#[derive(Default)]
pub struct LbMetrics {
    /// The last totals of each load balancer, by ARN.
    last: HashMap<String, LbTraffic>,
    /// The last totals of each (load balancer, target group) pair.
    last_groups: HashMap<(String, String), GroupTraffic>,
    /// The second the gauges were last published for.
    gauges_at: Option<i64>,
}

/// The region and resource (`loadbalancer/app/NAME/ID`, `targetgroup/NAME/ID`) of an
/// ELBv2 ARN (`arn:aws:elasticloadbalancing:REGION:ACCOUNT:RESOURCE`).
fn resource(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let region = parts.nth(3)?;
    Some((region, parts.nth(1)?))
}

/// The region and the `LoadBalancer` dimension of a load balancer's ARN.
pub fn dimension(arn: &str) -> Option<(&str, &str)> {
    let (region, resource) = resource(arn)?;
    Some((region, resource.strip_prefix("loadbalancer/")?))
}

/// The `TargetGroup` dimension of a target group's ARN (`targetgroup/NAME/ID`).
pub fn group_dimension(arn: &str) -> Option<&str> {
    resource(arn)
        .map(|(_, r)| r)
        .filter(|r| r.starts_with("targetgroup/"))
}

impl LbMetrics {
    /// The data points a report adds at `now` (epoch seconds), with their regions. Called
    /// again with the same report it adds only the gauges, once per second.
    pub fn data(&mut self, report: &HealthReport, now: i64) -> Vec<(String, Datum)> {
        let gauges = self.gauges_at != Some(now);
        self.gauges_at = Some(now);
        let mut out = Vec::new();
        let mut per_lb: HashMap<&str, GroupTraffic> = HashMap::new();
        for ((lb_arn, tg_arn), total) in &report.group_traffic {
            let key = (lb_arn.clone(), tg_arn.clone());
            let before = self.last_groups.insert(key, *total).unwrap_or_default();
            let added = group_added(total, &before);
            add_to(per_lb.entry(lb_arn).or_default(), &added);
            let (Some((region, lb)), Some(tg)) = (dimension(lb_arn), group_dimension(tg_arn))
            else {
                continue;
            };
            let mut put = Put::new(region, now, &mut out);
            let dims = [("LoadBalancer", lb), ("TargetGroup", tg)];
            put.count("RequestCount", &dims, added.requests);
            put.target_metrics(&dims, &added);
            let states = report.groups.get(tg_arn);
            let healthy = count(states, |o| *o == Observed::Healthy);
            let unhealthy = count(states, |o| matches!(o, Observed::Unhealthy(_)));
            // Divided by the healthy targets, or by the registered ones when none is
            // (the balancer then fails open to all of them).
            let serving = match healthy {
                0 => count(states, |o| !matches!(o, Observed::Draining { .. })),
                n => n,
            };
            if added.requests > 0 && serving > 0 {
                let per_target = StatSet::one(added.requests as f64 / serving as f64);
                put.datum("RequestCountPerTarget", &dims, "Count", per_target);
                put.datum("RequestCountPerTarget", &dims[1..], "Count", per_target);
            }
            if gauges {
                put.gauge("HealthyHostCount", &dims, healthy);
                put.gauge("UnHealthyHostCount", &dims, unhealthy);
            }
        }
        for (arn, total) in &report.traffic {
            let before = self.last.insert(arn.clone(), *total).unwrap_or_default();
            let added = lb_added(total, &before);
            let Some((region, lb)) = dimension(arn) else {
                continue;
            };
            let mut put = Put::new(region, now, &mut out);
            let dims = [("LoadBalancer", lb)];
            put.count("RequestCount", &dims, added.requests);
            put.count("HTTPCode_ELB_3XX_Count", &dims, added.elb_3xx);
            put.count("HTTPCode_ELB_4XX_Count", &dims, added.elb_4xx);
            put.count("HTTPCode_ELB_5XX_Count", &dims, added.elb_5xx);
            put.count("NewConnectionCount", &dims, added.connections_opened);
            if let Some(targets) = per_lb.get(arn.as_str()) {
                put.target_metrics(&dims, targets);
            }
            let open = total
                .connections_opened
                .saturating_sub(total.connections_closed);
            if gauges && open > 0 {
                put.gauge("ActiveConnectionCount", &dims, open);
            }
        }
        self.last.retain(|arn, _| report.traffic.contains_key(arn));
        self.last_groups
            .retain(|key, _| report.group_traffic.contains_key(key));
        out
    }
}

/// How many of a group's targets are in a state `is` accepts.
fn count(
    states: Option<&std::collections::BTreeMap<flotilla_model::elbv2::plane::TargetKey, Observed>>,
    is: impl Fn(&Observed) -> bool,
) -> u64 {
    states.map_or(0, |s| s.values().filter(|o| is(o)).count() as u64)
}

/// A load balancer's traffic since `before` (all of `now` after a restart).
fn lb_added(now: &LbTraffic, before: &LbTraffic) -> LbTraffic {
    let restarted =
        now.requests < before.requests || now.connections_opened < before.connections_opened;
    let b = if restarted {
        LbTraffic::default()
    } else {
        *before
    };
    LbTraffic {
        requests: now.requests.saturating_sub(b.requests),
        elb_3xx: now.elb_3xx.saturating_sub(b.elb_3xx),
        elb_4xx: now.elb_4xx.saturating_sub(b.elb_4xx),
        elb_5xx: now.elb_5xx.saturating_sub(b.elb_5xx),
        connections_opened: now.connections_opened.saturating_sub(b.connections_opened),
        connections_closed: now.connections_closed.saturating_sub(b.connections_closed),
    }
}

/// A pair's traffic since `before` (all of `now` after a restart).
fn group_added(now: &GroupTraffic, before: &GroupTraffic) -> GroupTraffic {
    let restarted = now.requests < before.requests || now.responses() < before.responses();
    let b = if restarted {
        GroupTraffic::default()
    } else {
        *before
    };
    GroupTraffic {
        requests: now.requests.saturating_sub(b.requests),
        target_2xx: now.target_2xx.saturating_sub(b.target_2xx),
        target_3xx: now.target_3xx.saturating_sub(b.target_3xx),
        target_4xx: now.target_4xx.saturating_sub(b.target_4xx),
        target_5xx: now.target_5xx.saturating_sub(b.target_5xx),
        response_time_us: now.response_time_us.saturating_sub(b.response_time_us),
    }
}

/// Fold `more` into `sum` (a load balancer's traffic over its groups).
fn add_to(sum: &mut GroupTraffic, more: &GroupTraffic) {
    sum.requests += more.requests;
    sum.target_2xx += more.target_2xx;
    sum.target_3xx += more.target_3xx;
    sum.target_4xx += more.target_4xx;
    sum.target_5xx += more.target_5xx;
    sum.response_time_us += more.response_time_us;
}

/// Data points of one region at one second.
struct Put<'a> {
    region: &'a str,
    now: i64,
    out: &'a mut Vec<(String, Datum)>,
}

impl<'a> Put<'a> {
    fn new(region: &'a str, now: i64, out: &'a mut Vec<(String, Datum)>) -> Self {
        Put { region, now, out }
    }

    fn datum(&mut self, name: &str, dims: &[(&str, &str)], unit: &str, set: StatSet) {
        let dimensions = dims
            .iter()
            .map(|(name, value)| Dimension {
                name: (*name).into(),
                value: (*value).into(),
            })
            .collect();
        let metric = MetricRef::new(ELB_NAMESPACE.into(), name.into(), dimensions);
        let datum = Datum {
            metric,
            unit: Some(unit.into()),
            timestamp: self.now,
            set,
            high_resolution: true,
        };
        self.out.push((self.region.to_string(), datum));
    }

    /// A count, published when not zero (ALB's reporting criterion).
    fn count(&mut self, name: &str, dims: &[(&str, &str)], n: u64) {
        if n > 0 {
            self.datum(name, dims, "Count", StatSet::one(n as f64));
        }
    }

    /// A value observed now (Average, Minimum and Maximum are what mean something).
    fn gauge(&mut self, name: &str, dims: &[(&str, &str)], n: u64) {
        self.datum(name, dims, "Count", StatSet::one(n as f64));
    }

    /// The targets' answers by class and their response time: `responses` samples whose
    /// mean is the only value known (Minimum and Maximum are that mean).
    fn target_metrics(&mut self, dims: &[(&str, &str)], t: &GroupTraffic) {
        self.count("HTTPCode_Target_2XX_Count", dims, t.target_2xx);
        self.count("HTTPCode_Target_3XX_Count", dims, t.target_3xx);
        self.count("HTTPCode_Target_4XX_Count", dims, t.target_4xx);
        self.count("HTTPCode_Target_5XX_Count", dims, t.target_5xx);
        let n = t.responses();
        if n > 0 {
            let mean = t.response_time_us as f64 / 1e6 / n as f64;
            let set = StatSet::repeated(mean, n as f64);
            self.datum("TargetResponseTime", dims, "Seconds", set);
        }
    }
}

#[cfg(test)]
#[path = "lb_metrics/tests.rs"]
mod tests;
