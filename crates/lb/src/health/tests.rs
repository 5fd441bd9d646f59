//! The health state machine: examples and a property test of its thresholds.

use super::*;
use flotilla_model::elbv2::target_group::TargetGroupProtocol;
use proptest::prelude::*;

fn hc(healthy: u32, unhealthy: u32) -> HealthCheck {
    HealthCheck {
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
        ..HealthCheck::default_for(TargetGroupProtocol::Http)
    }
}

const PASS: Result<(), UnhealthyReason> = Ok(());

fn fail(code: u16) -> Result<(), UnhealthyReason> {
    Err(UnhealthyReason::ResponseCodeMismatch(code))
}

#[test]
fn one_pass_makes_a_new_target_healthy() {
    let now = Instant::now();
    let h = Health::default().record(PASS, &hc(5, 2), now);
    assert_eq!(h.observed(), Observed::Healthy);
    assert_eq!(h.healthy_since(), Some(now));
}

#[test]
fn failures_in_a_row_make_a_target_unhealthy_and_passes_bring_it_back() {
    let (check, now) = (hc(3, 2), Instant::now());
    let mut h = Health::default().record(PASS, &check, now);
    h = h.record(fail(500), &check, now);
    assert_eq!(h.observed(), Observed::Healthy, "one failure is not enough");
    h = h.record(PASS, &check, now);
    h = h.record(fail(500), &check, now);
    assert_eq!(h.observed(), Observed::Healthy, "a pass resets the count");
    h = h.record(Err(UnhealthyReason::Timeout), &check, now);
    assert_eq!(h.observed(), Observed::Unhealthy(UnhealthyReason::Timeout));
    h = h.record(PASS, &check, now).record(PASS, &check, now);
    assert!(matches!(h.observed(), Observed::Unhealthy(_)));
    h = h.record(fail(404), &check, now);
    assert_eq!(
        h.observed(),
        Observed::Unhealthy(UnhealthyReason::ResponseCodeMismatch(404))
    );
    for _ in 0..3 {
        h = h.record(PASS, &check, now);
    }
    assert_eq!(h.observed(), Observed::Healthy);
}

#[test]
fn a_new_target_that_fails_becomes_unhealthy() {
    let (check, now) = (hc(5, 2), Instant::now());
    let h = Health::default().record(fail(503), &check, now);
    assert_eq!(h.observed(), Observed::Initial);
    let h = h.record(fail(503), &check, now);
    assert_eq!(
        h.observed(),
        Observed::Unhealthy(UnhealthyReason::ResponseCodeMismatch(503))
    );
}

proptest! {
    /// Whatever the sequence of outcomes, the state follows the thresholds: the last
    /// `unhealthy_threshold` failures in a row always leave a target unhealthy, and a
    /// target is never unhealthy right after `healthy_threshold` passes in a row.
    #[test]
    fn thresholds_hold_for_any_sequence(
        outcomes in proptest::collection::vec(any::<bool>(), 0..60),
        healthy in 1u32..6,
        unhealthy in 1u32..6,
    ) {
        let check = hc(healthy, unhealthy);
        let now = Instant::now();
        let mut h = Health::default();
        let mut passes_in_row = 0u32;
        let mut fails_in_row = 0u32;
        for ok in outcomes {
            h = h.record(if ok { PASS } else { fail(500) }, &check, now);
            if ok { passes_in_row += 1; fails_in_row = 0 } else { fails_in_row += 1; passes_in_row = 0 }
            if fails_in_row >= unhealthy {
                prop_assert!(matches!(h.observed(), Observed::Unhealthy(_)));
            }
            if passes_in_row >= healthy {
                prop_assert_eq!(h.observed(), Observed::Healthy);
            }
            if ok {
                prop_assert!(!matches!(h.observed(), Observed::Initial));
            }
        }
    }
}
