//! Retention of log events: every few minutes (and at start), each log group with a
//! retention period has its events older than the period dropped from this server's log
//! storage. Reads hide what a group's last enforcement cut off; PutRetentionPolicy also
//! enforces the new period at once (`flotilla_api`'s Logs service).

use std::time::Duration;

use flotilla_control::State;
use flotilla_telemetry::logs::store::GroupId;
use flotilla_telemetry::logs::LogStore;
use tokio::sync::watch;

/// How often retention is enforced.
const INTERVAL: Duration = Duration::from_secs(300);

/// Enforce every group's retention, now and every [`INTERVAL`], until `stop`.
pub(crate) async fn run(state: State, store: LogStore, mut stop: watch::Receiver<bool>) {
    loop {
        enforce(&state, &store).await;
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

async fn enforce(state: &State, store: &LogStore) {
    let now = state.clock().now().timestamp_millis();
    let groups: Vec<(String, String, i64)> = flotilla_control::logs::with_retention(state)
        .into_iter()
        .filter_map(|(region, g)| Some((region, g.name.clone(), g.retained_from(now)?)))
        .collect();
    let store = store.clone();
    let done = tokio::task::spawn_blocking(move || {
        for (region, name, cutoff) in groups {
            if let Err(e) = store.expire(GroupId::new(&region, &name), cutoff) {
                tracing::warn!(region, group = name, error = %e, "enforcing log retention failed");
            }
        }
    });
    let _ = done.await;
}
