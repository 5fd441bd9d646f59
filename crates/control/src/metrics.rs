//! The control plane's Prometheus metrics (see `flotilla-prom`): the plan applier's
//! verdicts and the tasks it placed, each controller's reconciles (by outcome, with their
//! duration) and the depth of its work queue, and the tasks of the views by status, read
//! at scrape time.

use std::time::Duration;

use flotilla_prom::{global, Sample, LATENCY_BUCKETS};

use crate::State;

/// The plan applier answered a proposal: `committed`, `conflict` or `failed`.
pub(crate) fn placement(verdict: &'static str) {
    global()
        .counter(
            "flotilla_scheduler_proposals_total",
            "Placement proposals the plan applier answered, by verdict (committed, conflict, failed).",
            &["verdict"],
        )
        .add(&[verdict], 1.0);
}

/// A committed batch placed `tasks` tasks.
pub(crate) fn placement_tasks(tasks: usize) {
    global()
        .counter(
            "flotilla_scheduler_placements_total",
            "Tasks placed by committed proposals.",
            &[],
        )
        .add(&[], tasks as f64);
}

/// One reconcile of `controller` ended, with an error or not, after `took`.
pub(crate) fn reconciled(controller: &'static str, ok: bool, took: Duration) {
    global()
        .counter(
            "flotilla_controller_reconciles_total",
            "Reconciles by controller and result (ok, error).",
            &["controller", "result"],
        )
        .add(&[controller, if ok { "ok" } else { "error" }], 1.0);
    global()
        .histogram(
            "flotilla_controller_reconcile_duration_seconds",
            "How long reconciles took, by controller.",
            &["controller"],
            LATENCY_BUCKETS,
        )
        .observe(&[controller], took.as_secs_f64());
}

/// `controller`'s work queue holds `ready` keys to reconcile now and `delayed` for later.
pub(crate) fn queue_depth(controller: &'static str, ready: usize, delayed: usize) {
    let g = global().gauge(
        "flotilla_controller_queue_depth",
        "Keys waiting in a controller's work queue, by controller and kind (ready: now, delayed: at a later time).",
        &["controller", "kind"],
    );
    g.set(&[controller, "ready"], ready as f64);
    g.set(&[controller, "delayed"], delayed as f64);
}

/// Count the tasks of `state`'s view by last status at every scrape.
pub fn collect_tasks(state: &State) {
    let state = state.clone();
    global().collect(
        "flotilla_tasks",
        "Tasks in the store by last status.",
        Box::new(move |out| {
            let mut counts = std::collections::BTreeMap::<&'static str, u64>::new();
            for (_, entry) in state.tasks().range(crate::keys::TASKS.as_bytes()).iter() {
                *counts.entry(entry.value.last_status.as_str()).or_default() += 1;
            }
            for (status, n) in counts {
                out.push(Sample::new(vec![("status", status.to_string())], n as f64));
            }
        }),
    );
}
