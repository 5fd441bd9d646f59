//! Exponential backoff with jitter, shared by the poll loop, the report sender and the
//! runtime event pump: 0.2 s doubling to 10 s by default, each delay drawn within ±50%.

use std::time::Duration;

use rand::Rng;

/// One retry sequence; [`Backoff::reset`] after a success.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            next: base,
        }
    }

    /// 0.2 s doubling to 10 s.
    pub(crate) fn standard() -> Self {
        Backoff::new(Duration::from_millis(200), Duration::from_secs(10))
    }

    /// The delay before the next attempt (the nominal delay ±50%), and double the nominal.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(self.max);
        nominal.mul_f64(rand::rng().random_range(0.5..1.5))
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.base;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_within_jitter() {
        let mut b = Backoff::standard();
        let mut nominal = Duration::from_millis(200);
        for _ in 0..10 {
            let d = b.next_delay();
            assert!(
                d >= nominal.mul_f64(0.5) && d <= nominal.mul_f64(1.5),
                "{d:?} vs {nominal:?}"
            );
            nominal = (nominal * 2).min(Duration::from_secs(10));
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(300));
    }
}
