//! Active health checks and the health report.
//!
//! Each target of a group some listener uses is checked by its own loop (one per group and
//! target, however many listeners share the group): the first check at once, then every
//! `interval_seconds`. A target's state moves by [`Health::record`]:
//!
//! ```text
//! Initial --1 pass--> Healthy --unhealthy_threshold fails--> Unhealthy
//!    \--unhealthy_threshold fails--> Unhealthy --healthy_threshold passes--> Healthy
//! ```
//!
//! One passing check makes a new target healthy (a Flotilla choice so deployments are
//! quick). The reporter rebuilds the [`HealthReport`] whenever something may have changed
//! (and every second, for the traffic totals, which never wake it) and publishes it only
//! when it did.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use flotilla_model::elbv2::plane::{HealthReport, Observed, TargetKey, UnhealthyReason};
use flotilla_model::elbv2::target_group::{HealthCheck, TargetGroupProtocol};
use http::{header, Request};
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::Table;
use crate::targets::Runtime;
use crate::upstream::Failure;
use crate::Shared;

/// A checked target's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Health {
    /// No check has passed yet; `failures` in a row so far.
    Initial {
        failures: u32,
    },
    Healthy {
        since: Instant,
        failures: u32,
    },
    Unhealthy {
        reason: UnhealthyReason,
        passes: u32,
    },
}

impl Default for Health {
    fn default() -> Self {
        Health::Initial { failures: 0 }
    }
}

impl Health {
    /// The state after one more check with `outcome`.
    pub(crate) fn record(
        &self,
        outcome: Result<(), UnhealthyReason>,
        hc: &HealthCheck,
        now: Instant,
    ) -> Health {
        let unhealthy_after = hc.unhealthy_threshold.max(1);
        let healthy_after = hc.healthy_threshold.max(1);
        match (self, outcome) {
            (Health::Initial { .. }, Ok(())) => Health::Healthy {
                since: now,
                failures: 0,
            },
            (Health::Initial { failures }, Err(reason)) => {
                if failures + 1 >= unhealthy_after {
                    Health::Unhealthy { reason, passes: 0 }
                } else {
                    Health::Initial {
                        failures: failures + 1,
                    }
                }
            }
            (Health::Healthy { since, .. }, Ok(())) => Health::Healthy {
                since: *since,
                failures: 0,
            },
            (Health::Healthy { since, failures }, Err(reason)) => {
                if failures + 1 >= unhealthy_after {
                    Health::Unhealthy { reason, passes: 0 }
                } else {
                    Health::Healthy {
                        since: *since,
                        failures: failures + 1,
                    }
                }
            }
            (Health::Unhealthy { reason, passes }, Ok(())) => {
                if passes + 1 >= healthy_after {
                    Health::Healthy {
                        since: now,
                        failures: 0,
                    }
                } else {
                    Health::Unhealthy {
                        reason: reason.clone(),
                        passes: passes + 1,
                    }
                }
            }
            (Health::Unhealthy { .. }, Err(reason)) => Health::Unhealthy { reason, passes: 0 },
        }
    }

    pub(crate) fn observed(&self) -> Observed {
        match self {
            Health::Initial { .. } => Observed::Initial,
            Health::Healthy { .. } => Observed::Healthy,
            Health::Unhealthy { reason, .. } => Observed::Unhealthy(reason.clone()),
        }
    }

    /// When the target last became healthy (for slow start).
    pub(crate) fn healthy_since(&self) -> Option<Instant> {
        match self {
            Health::Healthy { since, .. } => Some(*since),
            _ => None,
        }
    }
}

/// The health-check loops running, one per checked target of a group in use.
#[derive(Default)]
pub(crate) struct Checkers {
    running: HashMap<(String, TargetKey), (Arc<Runtime>, Aborting)>,
}

/// A task aborted when this is dropped.
struct Aborting(JoinHandle<()>);

impl Drop for Aborting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Checkers {
    /// Check exactly the non-draining targets of groups in use with checks enabled.
    pub(crate) fn reconcile(&mut self, table: &Table, shared: &Arc<Shared>) {
        let mut wanted: HashMap<(String, TargetKey), Arc<Runtime>> = HashMap::new();
        for (arn, group) in &table.groups {
            if !group.in_use || !group.plane.health_check.enabled {
                continue;
            }
            for t in group.targets.iter().filter(|t| t.plane.draining.is_none()) {
                wanted.insert((arn.clone(), t.plane.key.clone()), t.rt.clone());
            }
        }
        self.running
            .retain(|k, (rt, _)| wanted.get(k).is_some_and(|w| Arc::ptr_eq(w, rt)));
        for (k, rt) in wanted {
            if let Entry::Vacant(slot) = self.running.entry(k) {
                let task =
                    tokio::spawn(check_loop(shared.clone(), slot.key().0.clone(), rt.clone()));
                slot.insert((rt, Aborting(task)));
            }
        }
    }
}

/// Check one target until its loop is aborted (or its group leaves the configuration).
async fn check_loop(shared: Arc<Shared>, group_arn: String, rt: Arc<Runtime>) {
    // The first check runs at once, spread a little so that a new group's targets are
    // not all hit in the same instant.
    let jitter = rand::rng().random_range(0..50);
    tokio::time::sleep(Duration::from_millis(jitter)).await;
    loop {
        let Some((hc, protocol)) = shared
            .table()
            .groups
            .get(&group_arn)
            .map(|g| (g.plane.health_check.clone(), g.plane.health_check.protocol))
        else {
            return;
        };
        let outcome = check_once(&shared, &rt, &hc, protocol).await;
        rt.record(outcome, &hc, Instant::now());
        let interval = Duration::from_secs(u64::from(hc.interval_seconds.max(1)));
        tokio::time::sleep(interval).await;
    }
}

/// One check: `GET path` on the check's port (or the target's), answered within the timeout
/// with a code the matcher accepts.
async fn check_once(
    shared: &Shared,
    rt: &Runtime,
    hc: &HealthCheck,
    protocol: TargetGroupProtocol,
) -> Result<(), UnhealthyReason> {
    let port = hc.port.unwrap_or(rt.addr.port());
    let addr = std::net::SocketAddr::new(rt.addr.ip(), port);
    let path = if hc.path.starts_with('/') {
        hc.path.as_str()
    } else {
        "/"
    };
    let request = Request::get(path)
        .header(header::HOST, addr.to_string())
        .header(header::USER_AGENT, "ELB-HealthChecker/2.0")
        .body(crate::body::out_empty())
        .map_err(|_| UnhealthyReason::FailedHealthChecks)?;
    // A new connection per check, as ALB's checks make; it closes when the check ends.
    let check = async {
        let mut sender = shared.dialer.dial(addr, protocol).await?;
        sender.ready().await?;
        Ok::<_, Failure>(sender.send_request(request).await?)
    };
    let timeout = Duration::from_secs(u64::from(hc.timeout_seconds.max(1)));
    match tokio::time::timeout(timeout, check).await {
        Err(_) | Ok(Err(Failure::ConnectTimeout)) => Err(UnhealthyReason::Timeout),
        Ok(Err(_)) => Err(UnhealthyReason::FailedHealthChecks),
        Ok(Ok(response)) => {
            let status = response.status().as_u16();
            if hc.accepts(status) {
                Ok(())
            } else {
                Err(UnhealthyReason::ResponseCodeMismatch(status))
            }
        }
    }
}

/// What the data plane observes now.
pub(crate) fn report(table: &Table, bind_errors: &BTreeMap<String, String>) -> HealthReport {
    let groups = table
        .groups
        .iter()
        .map(|(arn, group)| {
            let targets = group
                .targets
                .iter()
                .map(|t| (t.plane.key.clone(), group.observed(t)))
                .collect();
            (arn.clone(), targets)
        })
        .collect();
    let mut bind_errors = bind_errors.clone();
    for (arn, e) in &table.tls_errors {
        bind_errors.entry(arn.clone()).or_insert_with(|| e.clone());
    }
    let traffic = table
        .traffic
        .iter()
        .map(|(arn, c)| (arn.clone(), c.traffic()))
        .collect();
    let group_traffic = table
        .group_traffic
        .iter()
        .map(|(key, c)| (key.clone(), c.traffic()))
        .collect();
    HealthReport {
        groups,
        bind_errors,
        traffic,
        group_traffic,
    }
}

/// How often traffic totals are published when nothing else changes.
const COUNTS_EVERY: Duration = Duration::from_secs(1);

/// Publish the report whenever it changes (traffic totals at most every
/// [`COUNTS_EVERY`]), until `stop`.
pub(crate) async fn report_loop(
    shared: Arc<Shared>,
    tx: watch::Sender<Arc<HealthReport>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let now = report(&shared.table(), &shared.bind_errors());
        tx.send_if_modified(|current| {
            if **current == now {
                false
            } else {
                *current = Arc::new(now);
                true
            }
        });
        tokio::select! {
            () = shared.dirty.notified() => {}
            () = tokio::time::sleep(COUNTS_EVERY) => {}
            () = crate::until_true(&mut stop) => return,
        }
    }
}

#[cfg(test)]
#[path = "health/tests.rs"]
mod tests;
