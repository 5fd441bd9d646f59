//! The policy maths against worked examples: target tracking both ways, steps and their
//! rounding, clamping, and the cooldown rules (a larger scale-out goes through).

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;

use super::*;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn track(direction: Direction, value: f64, current: i64) -> Input {
    Input {
        rule: Rule::Track {
            target: 50.0,
            direction,
        },
        value,
        current,
        min: 1,
        max: 10,
        now: t0(),
        last_out: None,
        last_in: None,
        out_cooldown: 300,
        in_cooldown: 300,
    }
}

#[test]
fn target_tracking_scales_by_the_ratio_of_value_to_target() {
    assert_eq!(decide(&track(Direction::Out, 90.0, 2)), Decision::Scale(4));
    assert_eq!(decide(&track(Direction::Out, 51.0, 2)), Decision::Scale(3));
    assert_eq!(decide(&track(Direction::In, 20.0, 4)), Decision::Scale(2));
    // 1 × 1 / 50 rounds up to 1: at one task a quiet service stays at one.
    assert_eq!(
        decide(&track(Direction::In, 1.0, 1)),
        Decision::NotScaled(NotScaled::AlreadyAtDesiredCapacity)
    );
}

#[test]
fn results_are_clamped_and_say_why_nothing_moved() {
    assert_eq!(
        decide(&track(Direction::Out, 1000.0, 3)),
        Decision::Scale(10)
    );
    assert_eq!(
        decide(&track(Direction::Out, 1000.0, 10)),
        Decision::NotScaled(NotScaled::AlreadyAtMaxCapacity)
    );
    let mut i = track(Direction::In, 0.0, 2);
    i.min = 2;
    assert_eq!(
        decide(&i),
        Decision::NotScaled(NotScaled::AlreadyAtMinCapacity)
    );
}

#[test]
fn a_scale_out_cooldown_lets_only_a_larger_scale_out_through() {
    let mut i = track(Direction::Out, 90.0, 4);
    i.last_out = Some(Mark {
        at: t0() - Duration::seconds(60),
        from: 2,
    });
    // From the 2 tasks before the last scale-out, 90/50 asks for 4: already there.
    assert_eq!(decide(&i), Decision::Cooldown);
    i.value = 140.0;
    assert_eq!(decide(&i), Decision::Scale(6));
    // After the cooldown the capacity now is the base.
    i.value = 90.0;
    i.now = t0() + Duration::seconds(300);
    assert_eq!(decide(&i), Decision::Scale(8));
}

#[test]
fn scale_in_waits_for_its_cooldown_but_scale_out_does_not() {
    let mut i = track(Direction::In, 10.0, 4);
    i.last_in = Some(Mark {
        at: t0() - Duration::seconds(10),
        from: 5,
    });
    assert_eq!(decide(&i), Decision::Cooldown);
    let mut o = track(Direction::Out, 90.0, 4);
    o.last_in = i.last_in;
    assert_eq!(decide(&o), Decision::Scale(8));
}

fn steps(kind: Adjustment, value: f64, current: i64) -> Input {
    let mut i = track(Direction::Out, value, current);
    i.rule = Rule::Steps {
        threshold: 50.0,
        kind,
        steps: vec![
            Step {
                lower: None,
                upper: Some(0.0),
                adjustment: -50,
            },
            Step {
                lower: Some(0.0),
                upper: Some(20.0),
                adjustment: 10,
            },
            Step {
                lower: Some(20.0),
                upper: None,
                adjustment: 300,
            },
        ],
        min_magnitude: None,
    };
    i.max = 100;
    i
}

#[test]
fn steps_pick_their_interval_and_round_percentages_as_aws() {
    use Adjustment::*;
    assert_eq!(
        decide(&steps(ChangeInCapacity, 55.0, 2)),
        Decision::Scale(12)
    );
    // 10 % of 2 is 0.2: rounds up to one task.
    assert_eq!(
        decide(&steps(PercentChangeInCapacity, 55.0, 2)),
        Decision::Scale(3)
    );
    // 300 % of 3 = 9 more.
    assert_eq!(
        decide(&steps(PercentChangeInCapacity, 90.0, 3)),
        Decision::Scale(12)
    );
    // -50 % of 5 is -2.5: towards zero, -2.
    assert_eq!(
        decide(&steps(PercentChangeInCapacity, 10.0, 5)),
        Decision::Scale(3)
    );
    assert_eq!(decide(&steps(ExactCapacity, 90.0, 3)), Decision::Scale(100));
    let mut i = steps(PercentChangeInCapacity, 55.0, 2);
    if let Rule::Steps { min_magnitude, .. } = &mut i.rule {
        *min_magnitude = Some(3);
    }
    assert_eq!(decide(&i), Decision::Scale(5));
}

proptest! {
    /// Whatever the inputs, a scale stays within the bounds and moves the way it says.
    #[test]
    fn decisions_stay_within_bounds(
        value in -1e6f64..1e6, current in 0i64..200, min in 0i64..50, span in 0i64..100,
        out in any::<bool>(),
    ) {
        let direction = if out { Direction::Out } else { Direction::In };
        let mut i = track(direction, value, current);
        i.min = min;
        i.max = min + span;
        if let Decision::Scale(n) = decide(&i) {
            prop_assert!(n >= i.min && n <= i.max);
            let moved = if out { n > current } else { n < current };
            prop_assert!(moved, "{n} from {current}");
        }
    }
}
