//! Targets as the data plane keeps them across configuration changes (health, requests in
//! flight, the drain deadline's cut, a pool of connections), and the choice of one for a
//! request: stickiness first, then healthy targets (or, when none is, every non-draining
//! one: ALB fails open), by round robin or least outstanding requests, with slow start.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flotilla_model::elbv2::listener::WeightedGroup;
use flotilla_model::elbv2::plane::{Observed, TargetKey, TargetPlane, TgPlane, UnhealthyReason};
use flotilla_model::elbv2::target_group::{Algorithm, HealthCheck};
use rand::Rng;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use crate::body::Cut;
use crate::health::Health;
use crate::upstream::Pool;

/// One registered target of one group, kept while the configuration keeps it at the same
/// address.
pub(crate) struct Runtime {
    pub addr: std::net::SocketAddr,
    health: Mutex<Health>,
    in_flight: AtomicU64,
    draining: AtomicBool,
    cut: watch::Sender<bool>,
    /// Open connections waiting for a request, one pool per worker.
    pools: Box<[Pool]>,
    /// Woken whenever what the health report shows of this target may have changed.
    dirty: Arc<Notify>,
}

impl Runtime {
    pub(crate) fn new(plane: &TargetPlane, workers: usize, dirty: Arc<Notify>) -> Self {
        Runtime {
            addr: plane.addr,
            health: Mutex::new(Health::default()),
            in_flight: AtomicU64::new(0),
            draining: AtomicBool::new(plane.draining.is_some()),
            cut: watch::Sender::new(false),
            pools: (0..workers.max(1)).map(|_| Pool::default()).collect(),
            dirty,
        }
    }

    pub(crate) fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn set_draining(&self, draining: bool) {
        if !self.draining.swap(draining, Ordering::SeqCst) && draining {
            self.release_idle_if_drained();
        }
    }

    /// Whether the drain deadline has cut this target's requests (it then is never reused).
    pub(crate) fn is_cut(&self) -> bool {
        *self.cut.borrow()
    }

    /// Cut every request still running on this target: the drain deadline passed.
    pub(crate) fn cut_now(&self) {
        self.cut.send_replace(true);
    }

    /// Resolves once this target's requests are cut.
    pub(crate) fn cut_signal(&self) -> Cut {
        let mut rx = self.cut.subscribe();
        Box::pin(async move {
            if rx.wait_for(|cut| *cut).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }

    /// The connections to this target of the worker running the caller.
    pub(crate) fn pool(&self) -> &Pool {
        &self.pools[crate::workers::current() % self.pools.len()]
    }

    /// Forget what checks found (the group left use: its state is no longer known).
    pub(crate) fn reset_health(&self) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        *health = Health::default();
    }

    pub(crate) fn health(&self) -> Health {
        self.health
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Take in a health check's outcome; wakes the reporter when the state changed.
    pub(crate) fn record(
        &self,
        outcome: Result<(), UnhealthyReason>,
        hc: &HealthCheck,
        now: Instant,
    ) {
        let mut health = self.health.lock().unwrap_or_else(|e| e.into_inner());
        let next = health.record(outcome, hc, now);
        if next.observed() != health.observed() {
            self.dirty.notify_one();
        }
        *health = next;
    }

    /// A draining target with nothing in flight keeps no idle connection open.
    fn release_idle_if_drained(&self) {
        if self.draining.load(Ordering::SeqCst) && self.in_flight() == 0 {
            for pool in &self.pools {
                pool.clear();
            }
        }
    }
}

/// A request counted as in flight on a target until this is dropped.
pub(crate) struct InFlight(Arc<Runtime>);

impl InFlight {
    pub(crate) fn new(rt: Arc<Runtime>) -> Self {
        rt.in_flight.fetch_add(1, Ordering::SeqCst);
        if rt.draining.load(Ordering::SeqCst) {
            rt.dirty.notify_one();
        }
        InFlight(rt)
    }

    /// The target the request is in flight on.
    pub(crate) fn runtime(&self) -> &Runtime {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self.0.draining.load(Ordering::SeqCst) {
            self.0.dirty.notify_one();
            self.0.release_idle_if_drained();
        }
    }
}

/// A target group compiled from the configuration, with its targets' runtimes.
pub(crate) struct Group {
    pub plane: TgPlane,
    pub targets: Vec<Target>,
    /// Some listener forwards to it: it is health-checked and routed to.
    pub in_use: bool,
    next: AtomicUsize,
}

pub(crate) struct Target {
    pub plane: TargetPlane,
    pub rt: Arc<Runtime>,
    /// The `AWSALB` cookie value that names this target.
    pub sticky: String,
}

impl Group {
    pub(crate) fn new(plane: TgPlane, targets: Vec<Target>, in_use: bool) -> Self {
        Group {
            plane,
            targets,
            in_use,
            next: AtomicUsize::new(0),
        }
    }

    /// The state a target shows: the one rule used by both routing and the health report.
    pub(crate) fn observed(&self, target: &Target) -> Observed {
        if target.plane.draining.is_some() {
            Observed::Draining {
                in_flight: target.rt.in_flight(),
            }
        } else if !self.in_use {
            Observed::NotInUse
        } else if !self.plane.health_check.enabled {
            Observed::Healthy
        } else {
            target.rt.health().observed()
        }
    }

    /// The target for a new request; `sticky` are the request's `AWSALB` cookie values.
    pub(crate) fn choose<'a>(
        &self,
        sticky: impl Iterator<Item = &'a str>,
        now: Instant,
    ) -> Option<&Target> {
        let live = |t: &&Target| t.plane.draining.is_none() && !t.rt.is_cut();
        if self.plane.stickiness.is_some() {
            for value in sticky {
                let found = self.targets.iter().filter(live).find(|t| t.sticky == value);
                if let Some(t) = found.filter(|t| self.observed(t) == Observed::Healthy) {
                    return Some(t);
                }
            }
        }
        let healthy: Vec<&Target> = self
            .targets
            .iter()
            .filter(live)
            .filter(|t| self.observed(t) == Observed::Healthy)
            .collect();
        let candidates = if healthy.is_empty() {
            self.targets.iter().filter(live).collect()
        } else {
            healthy
        };
        if candidates.is_empty() {
            return None;
        }
        let weights: Vec<f64> = candidates.iter().map(|t| self.warmth(t, now)).collect();
        let turn = self.next.fetch_add(1, Ordering::Relaxed);
        let index = match self.plane.algorithm {
            Algorithm::LeastOutstandingRequests => least_outstanding(&candidates, &weights, turn),
            Algorithm::RoundRobin if weights.iter().all(|w| *w >= 1.0) => turn % candidates.len(),
            Algorithm::RoundRobin => weighted_random(&weights),
        };
        Some(candidates[index])
    }

    /// A target's share during slow start: from almost nothing up to 1 over the duration
    /// after it became healthy.
    fn warmth(&self, target: &Target, now: Instant) -> f64 {
        if self.plane.slow_start.is_zero() {
            return 1.0;
        }
        match target.rt.health().healthy_since() {
            Some(since) => {
                slow_start_weight(now.saturating_duration_since(since), self.plane.slow_start)
            }
            None => 1.0,
        }
    }
}

/// Linear ramp from 5 % to 100 % over `duration`.
pub(crate) fn slow_start_weight(elapsed: Duration, duration: Duration) -> f64 {
    if duration.is_zero() || elapsed >= duration {
        1.0
    } else {
        (elapsed.as_secs_f64() / duration.as_secs_f64()).max(0.05)
    }
}

fn least_outstanding(candidates: &[&Target], weights: &[f64], turn: usize) -> usize {
    let n = candidates.len();
    // Start the scan at a rotating index so that ties spread over the targets.
    (0..n)
        .map(|i| (turn + i) % n)
        .min_by(|&a, &b| {
            let load = |i: usize| (candidates[i].rt.in_flight() as f64 + 1.0) / weights[i];
            load(a).total_cmp(&load(b))
        })
        .unwrap_or(0)
}

fn weighted_random(weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rand::rng().random_range(0.0..total.max(f64::MIN_POSITIVE));
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// The group a forward action sends a request to: the one its `AWSALBTG` cookie names
/// while the action still lists it (group stickiness), or one drawn by weight (weight
/// zero never). `None` when every weight is zero.
pub(crate) fn choose_group<'g, 'c>(
    groups: &'g [WeightedGroup],
    sticky: impl Iterator<Item = &'c str>,
) -> Option<&'g WeightedGroup> {
    for value in sticky {
        if let Some(g) = groups.iter().find(|g| group_token(&g.arn) == value) {
            return Some(g);
        }
    }
    let total: u64 = groups.iter().map(|g| u64::from(g.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut x = rand::rng().random_range(0..total);
    for g in groups {
        if x < u64::from(g.weight) {
            return Some(g);
        }
        x -= u64::from(g.weight);
    }
    None
}

/// The `AWSALB` value naming a target of a group: opaque, stable across restarts.
pub(crate) fn target_token(group_arn: &str, key: &TargetKey) -> String {
    format!("1{:016x}", fnv(&[group_arn, "\u{0}", &key.to_string()]))
}

/// The `AWSALBTG` value naming a target group.
pub(crate) fn group_token(group_arn: &str) -> String {
    format!("1{:016x}", fnv(&[group_arn]))
}

/// FNV-1a, 64 bits: a stable hash (std's `DefaultHasher` may change between releases).
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
#[path = "targets/tests.rs"]
mod tests;
