//! Time and identity for the simulated runtime.
//!
//! Times are microseconds since the runtime was made ([`Stamp`]), on tokio's clock, so a
//! paused test clock moves simulated containers too; RFC 3339 renderings add them to the
//! wall time of that moment. Container ids are Docker-like 64 hex digits whose first 16
//! are the container's key: a bijective mix of a per-runtime seed and a counter, so keys
//! never repeat within a runtime and look random across runtimes.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Microseconds since the runtime's [`Clock`] started.
pub(super) type Stamp = u64;

pub(super) struct Clock {
    base: Instant,
    wall_micros: u64,
}

impl Clock {
    pub(super) fn new() -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            base: Instant::now(),
            wall_micros: u64::try_from(wall.as_micros()).unwrap_or(u64::MAX),
        }
    }

    pub(super) fn now(&self) -> Stamp {
        u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    pub(super) fn instant(&self, at: Stamp) -> Instant {
        self.base + Duration::from_micros(at)
    }

    /// `at` in nanoseconds since the Unix epoch.
    pub(super) fn unix_nanos(&self, at: Stamp) -> i64 {
        i64::try_from(self.wall_micros.saturating_add(at))
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000)
    }

    /// `at` as RFC 3339 in UTC, nanosecond precision like Docker's.
    pub(super) fn rfc3339(&self, at: Stamp) -> String {
        rfc3339(self.wall_micros.saturating_add(at))
    }
}

/// Unix time in microseconds as `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`.
pub(super) fn rfc3339(unix_micros: u64) -> String {
    let secs = unix_micros / 1_000_000;
    let micros = unix_micros % 1_000_000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}000Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// splitmix64's finalizer: a bijection on u64.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Hands out container keys: unique within a runtime, random-looking across runtimes.
pub(super) struct Keys {
    seed: u64,
    next: u64,
}

impl Keys {
    pub(super) fn new() -> Self {
        static RUNTIMES: AtomicU64 = AtomicU64::new(0);
        let n = RUNTIMES.fetch_add(1, Ordering::Relaxed);
        Keys {
            seed: RandomState::new().hash_one(n),
            next: 0,
        }
    }

    pub(super) fn next(&mut self) -> u64 {
        self.next = self.next.wrapping_add(1);
        // Odd multiplier and mix are both bijective: distinct counters, distinct keys.
        mix(self.seed ^ self.next.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

/// The 64-hex-digit id of the container with key `key`.
pub(super) fn container_id(key: u64) -> String {
    format!(
        "{key:016x}{:016x}{:016x}{:016x}",
        mix(key ^ 0x5bd1_e995),
        mix(key ^ 0x1b87_3593),
        mix(key ^ 0xcc9e_2d51)
    )
}

/// The key an id (or an id prefix of at least 16 digits) names, if it has that form.
pub(super) fn key_of(id: &str) -> Option<u64> {
    if id.len() < 16 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let key = u64::from_str_radix(id.get(..16)?, 16).ok()?;
    container_id(key).starts_with(id).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_renders_utc() {
        assert_eq!(
            rfc3339(1_700_000_000_000_000),
            "2023-11-14T22:13:20.000000000Z"
        );
        assert_eq!(
            rfc3339(951_782_400_000_001),
            "2000-02-29T00:00:00.000001000Z"
        );
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
    }

    #[test]
    fn ids_are_docker_like_and_map_back_to_keys() {
        let mut keys = Keys::new();
        let a = keys.next();
        let b = keys.next();
        assert_ne!(a, b);
        let id = container_id(a);
        assert_eq!(id.len(), 64);
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(key_of(&id), Some(a));
        assert_eq!(key_of(&id[..20]), Some(a));
        assert_eq!(key_of(&id[..12]), None);
        assert_eq!(key_of("web"), None);
        let mut other = id.clone();
        other.replace_range(63.., if id.ends_with('0') { "1" } else { "0" });
        assert_eq!(key_of(&other), None);
    }
}
