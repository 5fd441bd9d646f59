//! The retention controller: on the leader, deletes tasks that have been STOPPED for longer
//! than the retention period (ECS shows stopped tasks for about an hour), so stopped tasks
//! do not pile up in the store and in every server's views; and IAM sessions whose
//! temporary credentials expired.

use std::time::Duration;

use chrono::{DateTime, Utc};
use flotilla_model::task::TaskStatus;
use tokio::sync::watch;

use super::runtime::{self, Action, Reconciler};
use crate::{keys, ControlError, State};

/// Deletes per transaction.
const BATCH: usize = 500;
/// Tasks read from the view at a time.
const PAGE: usize = 10_000;

/// Run the retention controller while `leader` says this process leads, until
/// `shutdown`.
pub fn start(
    state: State,
    leader: watch::Receiver<bool>,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    runtime::run_self_requeuing(Retention { state }, leader, shutdown)
}

/// The retention controller's reconciler: one object, the whole tasks view.
struct Retention {
    state: State,
}

impl Reconciler for Retention {
    type Key = ();

    fn name(&self) -> &'static str {
        "retention"
    }

    fn keys(&self) -> Vec<()> {
        vec![()]
    }

    async fn reconcile(&self, _: &()) -> Result<Action, ControlError> {
        let retention = self.state.config().stopped_task_retention;
        let n = reap(&self.state, self.state.clock().now(), retention).await?;
        if n > 0 {
            tracing::debug!(tasks = n, "deleted tasks stopped longer than the retention");
        }
        let now = self.state.clock().now();
        match crate::iam::roles::reap_sessions(&self.state, now).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "deleted expired IAM sessions"),
            Err(e) => tracing::warn!(error = %e, "deleting expired IAM sessions"),
        }
        let every = (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
        Ok(Action::Requeue(every))
    }
}

/// Delete the tasks that stopped before `now - retention`; how many. Each delete is
/// guarded by the task's mod-revision, so a task that changed meanwhile stays.
pub async fn reap(
    state: &State,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<usize, ControlError> {
    let Ok(retention) = chrono::Duration::from_std(retention) else {
        return Ok(0);
    };
    let cutoff = now - retention;
    // Page through the view so a pass over a million tasks does not copy them all at once.
    let mut old: Vec<(Vec<u8>, i64)> = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (page, more) = state
            .tasks()
            .range_page(keys::TASKS.as_bytes(), after.as_deref(), PAGE);
        after = page.last().map(|(k, _)| k.clone());
        old.extend(
            page.into_iter()
                .filter(|(_, e)| {
                    e.value.last_status == TaskStatus::Stopped
                        && e.value.stopped_at.is_some_and(|at| at < cutoff)
                })
                .map(|(k, e)| (k, e.mod_revision)),
        );
        if !more {
            break;
        }
    }
    state.delete_unchanged(&old, BATCH).await
}
