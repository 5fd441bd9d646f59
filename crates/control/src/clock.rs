//! The control plane's clock. Timestamps the controllers write and the deadlines they
//! compare with (launch backoffs, health check grace periods) come from here, not from
//! `Utc::now()`: wall-clock time at start plus tokio's monotonic clock since, so a test that
//! pauses tokio's clock (`tokio::time::pause`) moves the controllers' time with it.

use chrono::{DateTime, Utc};
use tokio::time::Instant;

/// Wall-clock time that advances with tokio's clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    wall: DateTime<Utc>,
    mono: Instant,
}

impl Clock {
    /// A clock reading the wall clock now.
    pub fn start() -> Clock {
        Clock {
            wall: Utc::now(),
            mono: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.mono);
        self.wall + chrono::Duration::from_std(elapsed).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn moves_with_the_paused_tokio_clock() {
        let clock = Clock::start();
        let before = clock.now();
        tokio::time::advance(std::time::Duration::from_secs(3600)).await;
        assert_eq!(clock.now() - before, chrono::Duration::seconds(3600));
    }
}
