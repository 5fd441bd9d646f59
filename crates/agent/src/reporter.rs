//! Status reporting: task actors queue a full [`TaskReport`] on every change; one sender
//! drains the queue in batches into `SubmitTaskReports`.
//!
//! The queue holds at most one report per task (the latest: a report is the whole state of
//! the task as the agent knows it, so an older one adds nothing). A batch that fails, and
//! each report the server answers as not accepted, goes back into the queue unless a newer
//! report for that task arrived meanwhile, and the sender backs off. A final STOPPED report
//! is therefore only ever replaced by nothing newer, and is never dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_model::agent_protocol::SubmitRequest;
use flotilla_model::task::TaskReport;
use tokio::sync::{watch, Notify};

use crate::api::{AgentApi, Identity};
use crate::backoff::Backoff;

/// Reports per `SubmitTaskReports` call.
pub(crate) const BATCH: usize = 100;

/// The queue of reports not yet accepted by the server.
#[derive(Default)]
pub struct ReportQueue {
    inner: Mutex<Inner>,
    notify: Notify,
}

#[derive(Default)]
struct Inner {
    seq: u64,
    pending: BTreeMap<String, (u64, TaskReport)>,
}

/// Reports taken from the queue, with their sequence numbers (to tell whether a newer one
/// came in while they were in flight).
pub(crate) type Batch = Vec<(u64, TaskReport)>;

impl ReportQueue {
    pub fn new() -> Arc<ReportQueue> {
        Arc::new(ReportQueue::default())
    }

    /// Queue a report, replacing any queued one of the same task.
    pub fn push(&self, report: TaskReport) {
        let mut inner = self.lock();
        inner.seq += 1;
        let seq = inner.seq;
        inner.pending.insert(report.task_arn.clone(), (seq, report));
        drop(inner);
        self.notify.notify_one();
    }

    pub fn is_empty(&self) -> bool {
        self.lock().pending.is_empty()
    }

    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// Take up to `max` reports.
    pub(crate) fn take(&self, max: usize) -> Batch {
        let mut inner = self.lock();
        let keys: Vec<String> = inner.pending.keys().take(max).cloned().collect();
        keys.iter()
            .filter_map(|k| inner.pending.remove(k))
            .collect()
    }

    /// Put reports back, unless a newer report of the same task is queued.
    pub(crate) fn requeue(&self, batch: Batch) {
        let mut inner = self.lock();
        for (seq, report) in batch {
            let newer = inner
                .pending
                .get(&report.task_arn)
                .is_some_and(|(s, _)| *s > seq);
            if !newer {
                inner.pending.insert(report.task_arn.clone(), (seq, report));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// How one send went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    /// Nothing was queued.
    Idle,
    /// Every report of the batch was accepted.
    Delivered,
    /// Some or all went back into the queue.
    Requeued,
}

/// Send one batch.
pub(crate) async fn send_once(
    queue: &ReportQueue,
    api: &dyn AgentApi,
    identity: &Identity,
) -> SendOutcome {
    let batch = queue.take(BATCH);
    if batch.is_empty() {
        return SendOutcome::Idle;
    }
    let request = SubmitRequest {
        cluster: identity.cluster().to_string(),
        container_instance_arn: identity.instance_arn(),
        reports: batch.iter().map(|(_, r)| r.clone()).collect(),
    };
    match api.submit(&request).await {
        Ok(answer) => {
            let rejected: Batch = batch
                .into_iter()
                .filter(|(_, r)| {
                    !answer
                        .results
                        .iter()
                        .any(|a| a.task_arn == r.task_arn && a.accepted)
                })
                .collect();
            if rejected.is_empty() {
                return SendOutcome::Delivered;
            }
            for (_, r) in &rejected {
                let why = answer
                    .results
                    .iter()
                    .find(|a| a.task_arn == r.task_arn)
                    .and_then(|a| a.error.clone());
                tracing::debug!(task = %r.task_arn, error = ?why, "report not accepted; will resend");
            }
            queue.requeue(rejected);
            SendOutcome::Requeued
        }
        Err(e) => {
            tracing::debug!(error = %e, reports = batch.len(), "SubmitTaskReports failed; will resend");
            queue.requeue(batch);
            SendOutcome::Requeued
        }
    }
}

/// Send queued reports until `shutdown` turns true.
pub(crate) async fn run_sender(
    queue: Arc<ReportQueue>,
    api: Arc<dyn AgentApi>,
    identity: Arc<Identity>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::standard();
    loop {
        let pause = match send_once(&queue, api.as_ref(), &identity).await {
            SendOutcome::Delivered => {
                backoff.reset();
                continue;
            }
            SendOutcome::Idle => None,
            SendOutcome::Requeued => Some(backoff.next_delay()),
        };
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return,
            _ = queue.notify.notified(), if pause.is_none() => {}
            _ = tokio::time::sleep(pause.unwrap_or_default()), if pause.is_some() => {}
        }
    }
}

/// Deliver what is queued, for at most `limit` (at shutdown).
pub(crate) async fn flush(
    queue: &ReportQueue,
    api: &dyn AgentApi,
    identity: &Identity,
    limit: Duration,
) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    while !queue.is_empty() {
        let attempt = tokio::time::timeout_at(deadline, send_once(queue, api, identity)).await;
        match attempt {
            Err(_) => break,
            Ok(SendOutcome::Requeued) => {
                if tokio::time::timeout_at(deadline, tokio::time::sleep(backoff.next_delay()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Ok(_) => {}
        }
    }
    queue.is_empty()
}

#[cfg(test)]
mod tests;
