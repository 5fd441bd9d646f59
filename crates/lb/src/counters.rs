//! Traffic counters: running totals per load balancer and per (load balancer, target
//! group), counted on the request path and summed into the health report.
//!
//! The request path is hot, so counting is a relaxed `fetch_add` on a slot of the worker
//! running the request (one cache line per worker: no two workers write the same line),
//! with no lock and no allocation; the reporter sums the slots about once a second.
//! Counters are created with a routing table and carried to the next while their load
//! balancer (and its use of the group) stays, so totals only grow.

use std::sync::atomic::{AtomicU64, Ordering};

use flotilla_model::elbv2::plane::{GroupTraffic, LbTraffic};
use http::StatusCode;
use std::time::Duration;

/// One worker's counts, alone on its cache lines.
#[repr(align(128))]
struct Slot<const N: usize>([AtomicU64; N]);

/// `N` running totals, one slot per worker.
struct Totals<const N: usize> {
    slots: Box<[Slot<N>]>,
}

impl<const N: usize> Totals<N> {
    fn new(workers: usize) -> Self {
        let slots = (0..workers.max(1))
            .map(|_| Slot(std::array::from_fn(|_| AtomicU64::new(0))))
            .collect();
        Totals { slots }
    }

    /// Add `n` to total `i` on the caller's worker's slot.
    #[inline]
    fn add(&self, i: usize, n: u64) {
        let slot = &self.slots[crate::workers::current() % self.slots.len()];
        slot.0[i].fetch_add(n, Ordering::Relaxed);
    }

    fn sum(&self) -> [u64; N] {
        let mut out = [0u64; N];
        for slot in self.slots.iter() {
            for (total, n) in out.iter_mut().zip(&slot.0) {
                *total = total.wrapping_add(n.load(Ordering::Relaxed));
            }
        }
        out
    }
}

/// A load balancer's counters (see [`LbTraffic`]).
pub(crate) struct LbCounters(Totals<6>);

const LB_REQUESTS: usize = 0;
const ELB_3XX: usize = 1;
const ELB_4XX: usize = 2;
const ELB_5XX: usize = 3;
const OPENED: usize = 4;
const CLOSED: usize = 5;

impl LbCounters {
    pub(crate) fn new(workers: usize) -> Self {
        LbCounters(Totals::new(workers))
    }

    pub(crate) fn request(&self) {
        self.0.add(LB_REQUESTS, 1);
    }

    /// An answer the balancer made itself (not a target's).
    pub(crate) fn balancer_answer(&self, status: StatusCode) {
        match status.as_u16() / 100 {
            3 => self.0.add(ELB_3XX, 1),
            4 => self.0.add(ELB_4XX, 1),
            5 => self.0.add(ELB_5XX, 1),
            _ => {}
        }
    }

    /// A client connection accepted; counted as closed when the guard drops.
    pub(crate) fn connection(self: &std::sync::Arc<Self>) -> OpenConnection {
        self.0.add(OPENED, 1);
        OpenConnection(self.clone())
    }

    pub(crate) fn traffic(&self) -> LbTraffic {
        let t = self.0.sum();
        LbTraffic {
            requests: t[LB_REQUESTS],
            elb_3xx: t[ELB_3XX],
            elb_4xx: t[ELB_4XX],
            elb_5xx: t[ELB_5XX],
            connections_opened: t[OPENED],
            connections_closed: t[CLOSED],
        }
    }
}

/// A client connection counted as open until this drops.
pub(crate) struct OpenConnection(std::sync::Arc<LbCounters>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0 .0.add(CLOSED, 1);
    }
}

/// What one load balancer forwarded to one target group (see [`GroupTraffic`]).
pub(crate) struct GroupCounters(Totals<6>);

const TG_REQUESTS: usize = 0;
const TARGET_2XX: usize = 1;
const TARGET_3XX: usize = 2;
const TARGET_4XX: usize = 3;
const TARGET_5XX: usize = 4;
const RESPONSE_US: usize = 5;

impl GroupCounters {
    pub(crate) fn new(workers: usize) -> Self {
        GroupCounters(Totals::new(workers))
    }

    pub(crate) fn request(&self) {
        self.0.add(TG_REQUESTS, 1);
    }

    /// A target's answer with `status`, its headers `elapsed` after the request left.
    pub(crate) fn target_answer(&self, status: StatusCode, elapsed: Duration) {
        let class = match status.as_u16() / 100 {
            0..=2 => TARGET_2XX,
            3 => TARGET_3XX,
            4 => TARGET_4XX,
            _ => TARGET_5XX,
        };
        self.0.add(class, 1);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.0.add(RESPONSE_US, us);
    }

    pub(crate) fn traffic(&self) -> GroupTraffic {
        let t = self.0.sum();
        GroupTraffic {
            requests: t[TG_REQUESTS],
            target_2xx: t[TARGET_2XX],
            target_3xx: t[TARGET_3XX],
            target_4xx: t[TARGET_4XX],
            target_5xx: t[TARGET_5XX],
            response_time_us: t[RESPONSE_US],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_class_and_sums_response_times() {
        let lb = std::sync::Arc::new(LbCounters::new(3));
        lb.request();
        lb.request();
        lb.balancer_answer(StatusCode::SERVICE_UNAVAILABLE);
        lb.balancer_answer(StatusCode::FOUND);
        lb.balancer_answer(StatusCode::OK);
        let open = lb.connection();
        let t = lb.traffic();
        assert_eq!((t.requests, t.elb_3xx, t.elb_4xx, t.elb_5xx), (2, 1, 0, 1));
        assert_eq!((t.connections_opened, t.connections_closed), (1, 0));
        drop(open);
        assert_eq!(lb.traffic().connections_closed, 1);

        let g = GroupCounters::new(2);
        g.request();
        g.request();
        g.target_answer(StatusCode::OK, Duration::from_millis(3));
        g.target_answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            Duration::from_micros(500),
        );
        let t = g.traffic();
        assert_eq!((t.requests, t.target_2xx, t.target_5xx), (2, 1, 1));
        assert_eq!((t.responses(), t.response_time_us), (2, 3_500));
    }

    #[test]
    fn every_worker_has_its_own_cache_line() {
        assert_eq!(std::mem::align_of::<Slot<6>>(), 128);
        assert!(std::mem::size_of::<Slot<6>>() >= 128);
    }
}
