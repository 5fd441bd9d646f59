//! The alarm evaluator: on the leader only, every `interval` (10 seconds by default), each
//! alarm's data points are read from the metric store, evaluated
//! (`flotilla_telemetry::metrics::alarm::evaluate`, pure), and a change of state is
//! written through the control plane (`flotilla_control::cloudwatch::transition`, which
//! records the history item and yields to a state set by the API meanwhile).
//!
//! Alarm actions are not run here: whoever acts on them (the autoscaling engine) watches
//! the alarms view for a new `state` / `state_updated` in the record.

use std::time::Duration;

use flotilla_control::cloudwatch;
use flotilla_control::State;
use flotilla_telemetry::metrics::{alarm, MetricStore};
use tokio::sync::watch;

/// Evaluate every alarm once at the control plane's clock; answers how many changed state.
pub async fn evaluate_all(state: &State, metrics: &MetricStore) -> usize {
    evaluate_at(state, metrics, state.clock().now().timestamp()).await
}

/// Evaluate every alarm once as of `now` (epoch seconds).
pub async fn evaluate_at(state: &State, metrics: &MetricStore, now: i64) -> usize {
    let mut changed = 0;
    for (region, a) in cloudwatch::all_alarms(state) {
        let points = match alarm::series(metrics, &region, &a, now) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(alarm = %a.name, error = %e, "alarm's metric math failed");
                continue;
            }
        };
        let Some(v) = alarm::evaluate(&a, &points, now) else {
            continue;
        };
        match cloudwatch::transition(
            state,
            &region,
            &a.name,
            a.state,
            v.state,
            v.reason,
            v.reason_data,
        )
        .await
        {
            Ok(true) => {
                changed += 1;
                tracing::info!(alarm = %a.name, state = v.state.as_str(), "alarm changed state");
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(alarm = %a.name, error = %e, "writing an alarm's state failed")
            }
        }
    }
    changed
}

/// Run [`evaluate_all`] every `interval` while this server leads, until shutdown.
pub async fn run(
    state: State,
    metrics: MetricStore,
    interval: Duration,
    leading: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) {
    while_leading(interval, leading, shutdown, || async {
        evaluate_all(&state, &metrics).await;
    })
    .await
}

/// Run `step` every `interval` while this server leads, until shutdown: the shape of the
/// leader's metric loops.
pub(crate) async fn while_leading<F: std::future::Future<Output = ()>>(
    interval: Duration,
    leading: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
    mut step: impl FnMut() -> F,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(interval) => {}
        }
        if *leading.borrow() {
            step().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use flotilla_control::ControlConfig;
    use flotilla_model::cloudwatch::alarm::AlarmMetric;
    use flotilla_model::cloudwatch::{
        AlarmRecord, AlarmState, Comparison, MetricRef, MetricStat, Statistic,
    };
    use flotilla_telemetry::metrics::{Datum, StatSet};

    use super::*;

    fn alarm() -> AlarmRecord {
        let metric = AlarmMetric::Single(MetricStat {
            metric: MetricRef::new("App".into(), "Load".into(), vec![]),
            period: 10,
            stat: Statistic::Maximum,
            unit: None,
        });
        let arn = cloudwatch::alarm_arn("us-east-1", "000000000000", "fast");
        AlarmRecord::new(
            "fast".into(),
            arn,
            metric,
            Comparison::GreaterThanThreshold,
            50.0,
            2,
        )
    }

    async fn put(metrics: &MetricStore, at: i64, v: f64) {
        let d = Datum {
            metric: MetricRef::new("App".into(), "Load".into(), vec![]),
            unit: None,
            timestamp: at,
            set: StatSet::one(v),
            high_resolution: true,
        };
        metrics.put("us-east-1", vec![d]).await.unwrap();
    }

    /// A 10-second alarm follows its data: ALARM, then OK, each with a history item.
    #[tokio::test]
    async fn ten_second_alarms_follow_their_data() {
        let state = State::new(
            Arc::new(flotilla_store::MemoryStore::new()),
            ControlConfig::new("000000000000"),
        )
        .await
        .unwrap();
        let metrics = MetricStore::in_memory();
        cloudwatch::put(&state, "us-east-1", alarm()).await.unwrap();
        let now = state.clock().now().timestamp();
        let last = now - now % 10 - 10;
        put(&metrics, last - 10, 80.0).await;
        put(&metrics, last + 3, 90.0).await;
        assert_eq!(evaluate_at(&state, &metrics, now).await, 1);
        let a = cloudwatch::alarm(&state, "us-east-1", "fast").unwrap();
        assert_eq!(a.state, AlarmState::Alarm);
        assert!(
            a.state_reason
                .starts_with("Threshold Crossed: 2 out of the last 2 datapoints"),
            "{}",
            a.state_reason
        );
        assert_eq!(
            evaluate_at(&state, &metrics, now).await,
            0,
            "no change, no write"
        );
        put(&metrics, last - 10, 1.0).await;
        put(&metrics, last + 4, 1.0).await;
        // Maximum of each period is still above; lower values alone do not clear it.
        assert_eq!(evaluate_at(&state, &metrics, now).await, 0);
        let mut low = alarm();
        low.metric = AlarmMetric::Single(MetricStat {
            metric: MetricRef::new("App".into(), "Load".into(), vec![]),
            period: 10,
            stat: Statistic::Minimum,
            unit: None,
        });
        cloudwatch::put(&state, "us-east-1", low).await.unwrap();
        assert_eq!(evaluate_at(&state, &metrics, now).await, 1);
        let a = cloudwatch::alarm(&state, "us-east-1", "fast").unwrap();
        assert_eq!(a.state, AlarmState::Ok);
        assert_eq!(
            a.history.last().unwrap().summary,
            "Alarm updated from Alarm to OK"
        );
    }
}
