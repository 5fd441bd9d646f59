//! The mapping from reports to data points: names, dimensions, units, deltas of running
//! totals, gauges once a second, a data plane that started again.

use super::*;
use flotilla_model::elbv2::plane::{TargetKey, UnhealthyReason};

const LB: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:loadbalancer/app/blue/0123456789abcdef";
const TG: &str =
    "arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/fedcba9876543210";

fn target(port: u16) -> TargetKey {
    TargetKey {
        id: "10.0.0.1".into(),
        port,
    }
}

/// A report of one load balancer forwarding to one group of three targets: two healthy,
/// one unhealthy.
fn report(lb: LbTraffic, tg: GroupTraffic) -> HealthReport {
    let states = [
        (target(1), Observed::Healthy),
        (target(2), Observed::Healthy),
        (target(3), Observed::Unhealthy(UnhealthyReason::Timeout)),
    ];
    HealthReport {
        groups: [(TG.to_string(), states.into())].into(),
        traffic: [(LB.to_string(), lb)].into(),
        group_traffic: [((LB.to_string(), TG.to_string()), tg)].into(),
        ..HealthReport::default()
    }
}

/// The one datum named `name` with exactly these dimension values (in name order).
fn find<'a>(data: &'a [(String, Datum)], name: &str, dims: &[&str]) -> Option<&'a Datum> {
    data.iter().map(|(_, d)| d).find(|d| {
        d.metric.metric_name == name
            && d.metric
                .dimensions
                .iter()
                .map(|x| x.value.as_str())
                .eq(dims.iter().copied())
    })
}

const LB_DIM: &str = "app/blue/0123456789abcdef";
const TG_DIM: &str = "targetgroup/web/fedcba9876543210";

#[test]
fn arns_become_dimensions() {
    assert_eq!(dimension(LB), Some(("us-east-1", LB_DIM)));
    assert_eq!(group_dimension(TG), Some(TG_DIM));
    assert_eq!(group_dimension(LB), None);
}

#[test]
fn totals_become_counts_per_load_balancer_and_target_group() {
    let lb = LbTraffic {
        requests: 12,
        elb_5xx: 2,
        connections_opened: 3,
        connections_closed: 1,
        ..LbTraffic::default()
    };
    let tg = GroupTraffic {
        requests: 10,
        target_2xx: 7,
        target_5xx: 1,
        response_time_us: 400_000,
        ..GroupTraffic::default()
    };
    let mut m = LbMetrics::default();
    let data = m.data(&report(lb, tg), 100);
    assert!(data.iter().all(|(region, d)| region == "us-east-1"
        && d.high_resolution
        && d.timestamp == 100
        && d.metric.namespace == "AWS/ApplicationELB"));
    let sum = |name: &str, dims: &[&str]| find(&data, name, dims).map(|d| d.set.sum);
    assert_eq!(sum("RequestCount", &[LB_DIM]), Some(12.0));
    assert_eq!(sum("HTTPCode_ELB_5XX_Count", &[LB_DIM]), Some(2.0));
    assert_eq!(
        sum("HTTPCode_ELB_4XX_Count", &[LB_DIM]),
        None,
        "zero: not published"
    );
    assert_eq!(sum("NewConnectionCount", &[LB_DIM]), Some(3.0));
    assert_eq!(sum("ActiveConnectionCount", &[LB_DIM]), Some(2.0));
    assert_eq!(sum("HTTPCode_Target_2XX_Count", &[LB_DIM]), Some(7.0));
    assert_eq!(sum("RequestCount", &[LB_DIM, TG_DIM]), Some(10.0));
    assert_eq!(
        sum("HTTPCode_Target_5XX_Count", &[LB_DIM, TG_DIM]),
        Some(1.0)
    );
    assert_eq!(sum("RequestCountPerTarget", &[LB_DIM, TG_DIM]), Some(5.0));
    assert_eq!(sum("RequestCountPerTarget", &[TG_DIM]), Some(5.0));
    assert_eq!(sum("HealthyHostCount", &[LB_DIM, TG_DIM]), Some(2.0));
    assert_eq!(sum("UnHealthyHostCount", &[LB_DIM, TG_DIM]), Some(1.0));
    let time = find(&data, "TargetResponseTime", &[LB_DIM, TG_DIM]).unwrap();
    assert_eq!(time.unit.as_deref(), Some("Seconds"));
    assert_eq!(time.set.count, 8.0);
    assert!((time.set.sum - 0.4).abs() < 1e-9 && (time.set.max - 0.05).abs() < 1e-9);
    assert_eq!(
        find(&data, "RequestCount", &[LB_DIM])
            .unwrap()
            .unit
            .as_deref(),
        Some("Count")
    );
}

#[test]
fn only_growth_counts_gauges_come_once_a_second_and_a_restart_counts_from_zero() {
    let lb = |requests| LbTraffic {
        requests,
        ..LbTraffic::default()
    };
    let tg = |requests, target_5xx| GroupTraffic {
        requests,
        target_5xx,
        ..GroupTraffic::default()
    };
    let mut m = LbMetrics::default();
    m.data(&report(lb(5), tg(5, 1)), 100);
    let names = |data: &[(String, Datum)]| -> Vec<String> {
        data.iter()
            .map(|(_, d)| d.metric.metric_name.clone())
            .collect()
    };
    assert!(
        m.data(&report(lb(5), tg(5, 1)), 100).is_empty(),
        "same second"
    );
    assert_eq!(
        names(&m.data(&report(lb(5), tg(5, 1)), 101)),
        ["HealthyHostCount", "UnHealthyHostCount"],
        "the next second: the gauges only"
    );
    let more = m.data(&report(lb(8), tg(8, 3)), 101);
    let sum = |data: &[(String, Datum)], name: &str, dims: &[&str]| {
        find(data, name, dims).map(|d| d.set.sum)
    };
    assert_eq!(sum(&more, "RequestCount", &[LB_DIM]), Some(3.0));
    assert_eq!(
        sum(&more, "HTTPCode_Target_5XX_Count", &[LB_DIM, TG_DIM]),
        Some(2.0)
    );
    let restarted = m.data(&report(lb(2), tg(2, 0)), 102);
    assert_eq!(sum(&restarted, "RequestCount", &[LB_DIM]), Some(2.0));
    assert_eq!(
        sum(&restarted, "RequestCount", &[LB_DIM, TG_DIM]),
        Some(2.0)
    );
}

#[test]
fn with_no_healthy_target_requests_per_target_divide_by_the_registered_ones() {
    let mut r = report(
        LbTraffic::default(),
        GroupTraffic {
            requests: 6,
            ..GroupTraffic::default()
        },
    );
    for state in r.groups.get_mut(TG).unwrap().values_mut() {
        *state = Observed::Unhealthy(UnhealthyReason::FailedHealthChecks);
    }
    let data = LbMetrics::default().data(&r, 100);
    let per_target = find(&data, "RequestCountPerTarget", &[TG_DIM]).unwrap();
    assert_eq!(per_target.set.sum, 2.0);
    assert_eq!(
        find(&data, "HealthyHostCount", &[LB_DIM, TG_DIM])
            .unwrap()
            .set
            .sum,
        0.0
    );
}
