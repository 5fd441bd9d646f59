//! Alarm evaluation: each TreatMissingData rule, M out of N, INSUFFICIENT_DATA, and the
//! reasons' wording, and a metric-math alarm read from the store.

use flotilla_model::cloudwatch::alarm::AlarmMetric;
use flotilla_model::cloudwatch::{
    AlarmRecord, AlarmState, Comparison, MetricRef, MetricStat, Statistic, TreatMissingData,
};

use super::*;

/// 2026-03-12 06:03:05 UTC: the range of three one-minute periods is 06:00 to 06:03.
const NOW: i64 = 1_773_295_385;
const T0: i64 = 1_773_295_200;

fn alarm(n: u32, m: Option<u32>, treat: TreatMissingData, state: AlarmState) -> AlarmRecord {
    let metric = AlarmMetric::Single(MetricStat {
        metric: MetricRef::new("App".into(), "CPU".into(), vec![]),
        period: 60,
        stat: Statistic::Average,
        unit: None,
    });
    let arn = "arn:aws:cloudwatch:us-east-1:000000000000:alarm:cpu".into();
    let mut a = AlarmRecord::new(
        "cpu".into(),
        arn,
        metric,
        Comparison::GreaterThanThreshold,
        70.0,
        n,
    );
    a.datapoints_to_alarm = m;
    a.treat_missing_data = treat;
    a.treat_missing_data_given = true;
    a.state = state;
    a
}

fn at(i: i64, v: f64) -> (i64, f64) {
    (T0 + 60 * i, v)
}

fn state_of(a: &AlarmRecord, points: &[(i64, f64)]) -> AlarmState {
    evaluate(a, points, NOW).map_or(a.state, |v| v.state)
}

#[test]
fn three_of_three_breaching_alarms_with_cloudwatchs_words() {
    let a = alarm(3, None, TreatMissingData::Missing, AlarmState::Ok);
    assert_eq!(window(&a, NOW), (T0, T0 + 180));
    let v = evaluate(&a, &[at(0, 85.0), at(1, 80.0), at(2, 90.5)], NOW).expect("a change");
    assert_eq!(v.state, AlarmState::Alarm);
    assert_eq!(
        v.reason,
        "Threshold Crossed: 3 out of the last 3 datapoints [90.5 (12/03/26 06:02:00), 80.0 (12/03/26 06:01:00), 85.0 (12/03/26 06:00:00)] were greater than the threshold (70.0) (minimum 3 datapoints for OK -> ALARM transition)."
    );
    let data: serde_json::Value = serde_json::from_str(&v.reason_data).unwrap();
    assert_eq!(
        data["recentDatapoints"],
        serde_json::json!([90.5, 80.0, 85.0])
    );
    assert_eq!(data["statistic"], "Average");
    assert_eq!(data["startDate"], "2026-03-12T06:00:00.000+0000");
    // Already in ALARM: no change.
    let mut same = a.clone();
    same.state = AlarmState::Alarm;
    assert_eq!(
        evaluate(&same, &[at(0, 85.0), at(1, 80.0), at(2, 90.5)], NOW),
        None
    );
}

#[test]
fn m_out_of_n() {
    let a = alarm(3, Some(2), TreatMissingData::Missing, AlarmState::Ok);
    assert_eq!(
        state_of(&a, &[at(0, 85.0), at(1, 10.0), at(2, 90.0)]),
        AlarmState::Alarm
    );
    let a = alarm(3, Some(2), TreatMissingData::Missing, AlarmState::Alarm);
    let v = evaluate(&a, &[at(0, 85.0), at(1, 10.0), at(2, 9.0)], NOW).unwrap();
    assert_eq!(v.state, AlarmState::Ok);
    assert!(
        v.reason.starts_with("Threshold Crossed: 2 out of the last 3 datapoints [9.0 (12/03/26 06:02:00), 10.0")
            && v.reason.ends_with("were not greater than the threshold (70.0) (minimum 2 datapoints for ALARM -> OK transition)."),
        "{}",
        v.reason
    );
}

#[test]
fn missing_data_as_missing_ignore_breaching_and_not_breaching() {
    use TreatMissingData::*;
    let one_low = [at(2, 10.0)];
    let one_high = [at(2, 99.0)];
    // missing: no data at all is INSUFFICIENT_DATA; one low point of three decides OK
    // (3 breaching are impossible); one high point decides nothing.
    let a = alarm(3, None, Missing, AlarmState::Alarm);
    let v = evaluate(&a, &[], NOW).unwrap();
    assert_eq!(
        (v.state, v.reason.as_str()),
        (
            AlarmState::InsufficientData,
            "Insufficient Data: 3 datapoints were unknown."
        )
    );
    assert_eq!(state_of(&a, &one_low), AlarmState::Ok);
    let a = alarm(3, None, Missing, AlarmState::InsufficientData);
    assert_eq!(state_of(&a, &one_high), AlarmState::InsufficientData);
    // ignore: no data keeps the state.
    let a = alarm(3, None, Ignore, AlarmState::Alarm);
    assert_eq!(evaluate(&a, &[], NOW), None);
    assert_eq!(state_of(&a, &one_low), AlarmState::Ok);
    // breaching: missing periods breach.
    let a = alarm(3, None, Breaching, AlarmState::Ok);
    assert_eq!(state_of(&a, &[]), AlarmState::Alarm);
    assert_eq!(state_of(&a, &one_high), AlarmState::Alarm);
    assert_eq!(state_of(&a, &one_low), AlarmState::Ok);
    // notBreaching: missing periods are fine.
    let a = alarm(3, None, NotBreaching, AlarmState::Alarm);
    assert_eq!(state_of(&a, &[]), AlarmState::Ok);
    assert_eq!(state_of(&a, &one_high), AlarmState::Ok);
    let a = alarm(1, None, NotBreaching, AlarmState::Ok);
    assert_eq!(state_of(&a, &one_high), AlarmState::Alarm);
}

#[test]
fn the_unfinished_period_and_older_points_are_not_evaluated() {
    let a = alarm(1, None, TreatMissingData::Missing, AlarmState::Ok);
    // 06:03 is unfinished at 06:03:05; 06:01 is before the range.
    assert_eq!(
        state_of(&a, &[at(3, 99.0), at(1, 99.0)]),
        AlarmState::InsufficientData
    );
    let v = evaluate(&a, &[at(2, 99.0)], NOW).unwrap();
    assert_eq!(
        v.reason,
        "Threshold Crossed: 1 out of the last 1 datapoints [99.0 (12/03/26 06:02:00)] was greater than the threshold (70.0) (minimum 1 datapoint for OK -> ALARM transition)."
    );
}

#[test]
fn comparisons() {
    for (c, v, breaches) in [
        (Comparison::GreaterThanOrEqualToThreshold, 70.0, true),
        (Comparison::GreaterThanThreshold, 70.0, false),
        (Comparison::LessThanThreshold, 69.0, true),
        (Comparison::LessThanOrEqualToThreshold, 71.0, false),
    ] {
        let mut a = alarm(
            1,
            None,
            TreatMissingData::Missing,
            AlarmState::InsufficientData,
        );
        a.comparison = c;
        let want = if breaches {
            AlarmState::Alarm
        } else {
            AlarmState::Ok
        };
        assert_eq!(state_of(&a, &[at(2, v)]), want, "{c:?}");
    }
}

/// A metric-math alarm reads its queries from the store and is evaluated on the one
/// that returns data.
#[tokio::test]
async fn math_alarms_read_their_expression() {
    use crate::metrics::{Datum, MetricStore, StatSet};
    use flotilla_model::cloudwatch::MetricQuery;

    let store = MetricStore::in_memory();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let minute = now - now % 60 - 60;
    let put = |name: &str, v: f64| Datum {
        metric: MetricRef::new("App".into(), name.into(), vec![]),
        unit: None,
        timestamp: minute + 5,
        set: StatSet::one(v),
        high_resolution: false,
    };
    store
        .put("r", vec![put("Errors", 9.0), put("Requests", 100.0)])
        .await
        .unwrap();
    let stat = |id: &str, name: &str| MetricQuery {
        id: id.into(),
        metric_stat: Some(MetricStat {
            metric: MetricRef::new("App".into(), name.into(), vec![]),
            period: 60,
            stat: Statistic::Sum,
            unit: None,
        }),
        expression: None,
        label: None,
        return_data: false,
        period: None,
    };
    let rate = MetricQuery {
        id: "rate".into(),
        metric_stat: None,
        expression: Some("100 * e / r".into()),
        label: None,
        return_data: true,
        period: None,
    };
    let mut a = alarm(1, None, TreatMissingData::Missing, AlarmState::Ok);
    a.metric = AlarmMetric::Math(vec![stat("e", "Errors"), stat("r", "Requests"), rate]);
    a.threshold = 5.0;
    let points = series(&store, "r", &a, now).unwrap();
    assert_eq!(points, vec![(minute, 9.0)]);
    let v = evaluate(&a, &points, now).expect("a change");
    assert_eq!(v.state, AlarmState::Alarm);
    assert!(!v.reason_data.contains("statistic"), "{}", v.reason_data);
}
