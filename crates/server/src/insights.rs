//! Container Insights' task counts: on the leader, every `interval` (10 seconds), each
//! service of a cluster with the `containerInsights` setting on gets its
//! `RunningTaskCount`, `PendingTaskCount` and `DesiredTaskCount` put into the metric store
//! (`flotilla_control::ecs::metrics::service_counts` computes them), at high resolution so
//! that alarms with 10-second periods can read them.

use std::time::Duration;

use flotilla_control::State;
use flotilla_telemetry::metrics::{Datum, MetricStore, StatSet};
use tokio::sync::watch;

/// How often the counts are put.
pub const INTERVAL: Duration = Duration::from_secs(10);

/// Put every service's counts once.
pub async fn publish(state: &State, metrics: &MetricStore) {
    let now = state.clock().now().timestamp();
    let mut by_region: std::collections::BTreeMap<String, Vec<Datum>> = Default::default();
    for (region, p) in flotilla_control::ecs::metrics::service_counts(state, now) {
        by_region.entry(region).or_default().push(Datum {
            metric: p.metric,
            unit: Some(p.unit.into()),
            timestamp: p.timestamp,
            set: StatSet::one(p.value),
            high_resolution: true,
        });
    }
    for (region, data) in by_region {
        if let Err(e) = metrics.put(&region, data).await {
            tracing::warn!(region, error = %e, "putting Container Insights counts failed");
        }
    }
}

/// Run [`publish`] every `interval` while this server leads, until shutdown.
pub async fn run(
    state: State,
    metrics: MetricStore,
    interval: Duration,
    leading: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) {
    crate::alarms::while_leading(interval, leading, shutdown, || async {
        publish(&state, &metrics).await;
    })
    .await
}
