//! Where to resume reading a container's log, in terms Docker's logs endpoint accepts.
//!
//! Docker filters a log by `since`, in whole seconds, and returns every entry stamped at
//! or after it in the order it stored them. So a position is a [`Resume`]: the second to
//! read from and how many lines (as the splitter produces them) to skip there. Several
//! lines in one second, or in one nanosecond, are told apart by counting, not by time.
//!
//! The [`Cursor`] computes the position after each line as it is read. The window starts
//! [`MARGIN_SECONDS`] before the line's second (Docker stamps stdout and stderr entries
//! as they arrive but stores them as they are written, so a slightly older entry may come
//! after a newer one: the margin re-reads it instead of losing it), but never before the
//! second this read started from, since only what this read has seen can be counted.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How far before a line's second the resume window starts.
pub(crate) const MARGIN_SECONDS: i64 = 2;
/// Seconds of counts kept behind the newest one seen.
const KEEP_SECONDS: i64 = 10;

/// Read from `since_seconds`, skip `skip` lines, and the next line is new.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resume {
    pub since_seconds: i64,
    pub skip: u64,
}

/// Counts lines by the second of their key, for one read.
pub(crate) struct Cursor {
    start: i64,
    counts: BTreeMap<i64, u64>,
    newest: i64,
}

impl Cursor {
    /// A cursor for a read that started at `since_seconds`.
    pub(crate) fn new(since_seconds: i64) -> Self {
        Cursor {
            start: since_seconds,
            counts: BTreeMap::new(),
            newest: since_seconds,
        }
    }

    /// Count a line keyed `key_ns` and return the position right after it.
    pub(crate) fn after(&mut self, key_ns: i64) -> Resume {
        let second = key_ns.div_euclid(1_000_000_000).max(self.start);
        *self.counts.entry(second).or_default() += 1;
        if second > self.newest {
            self.newest = second;
            let keep_from = self.newest - KEEP_SECONDS;
            self.counts = self.counts.split_off(&keep_from);
        }
        let since_seconds = (second - MARGIN_SECONDS).max(self.start);
        let skip = self.counts.range(since_seconds..).map(|(_, n)| n).sum();
        Resume {
            since_seconds,
            skip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn lines_with_the_same_timestamp_are_counted() {
        let mut c = Cursor::new(0);
        let t = 1_700_000_000 * S + 5;
        let a = c.after(t);
        let b = c.after(t);
        assert_eq!(
            a,
            Resume {
                since_seconds: 1_700_000_000 - MARGIN_SECONDS,
                skip: 1
            }
        );
        assert_eq!(b.skip, 2);
    }

    #[test]
    fn the_window_counts_every_line_docker_will_return_again() {
        let mut c = Cursor::new(0);
        let base = 1_700_000_000;
        c.after((base - 5) * S); // before the window: Docker will not return it
        c.after((base - 1) * S);
        c.after(base * S);
        let r = c.after(base * S + 1);
        assert_eq!(
            r,
            Resume {
                since_seconds: base - 2,
                skip: 3
            }
        );
        // An older entry stored after a newer one is still inside the window.
        let r = c.after((base - 1) * S + 7);
        assert_eq!(
            r,
            Resume {
                since_seconds: base - 3,
                skip: 4
            }
        );
    }

    #[test]
    fn the_window_never_starts_before_the_read() {
        let mut c = Cursor::new(100);
        let r = c.after(100 * S);
        assert_eq!(
            r,
            Resume {
                since_seconds: 100,
                skip: 1
            }
        );
        let r = c.after(101 * S);
        assert_eq!(
            r,
            Resume {
                since_seconds: 100,
                skip: 2
            }
        );
    }

    /// Reading again from any position, skipping as told, yields exactly the lines after
    /// it: the property the exactly-once guarantee rests on.
    #[test]
    fn resuming_from_any_line_yields_exactly_the_rest() {
        // Keys with repeats, bursts in one second, and a slightly older entry late.
        let keys: Vec<i64> = [
            10, 10, 10, 11, 11, 13, 12, 13, 13, 16, 16, 17, 20, 20, 19, 25,
        ]
        .iter()
        .enumerate()
        .map(|(i, s)| s * S + (i as i64 % 3))
        .collect();
        let read = |since: i64| -> Vec<usize> {
            (0..keys.len()).filter(|&i| keys[i] >= since * S).collect()
        };
        let mut c = Cursor::new(0);
        let positions: Vec<Resume> = keys.iter().map(|k| c.after(*k)).collect();
        for (i, r) in positions.iter().enumerate() {
            let again = read(r.since_seconds);
            let rest: Vec<usize> = again.into_iter().skip(r.skip as usize).collect();
            assert_eq!(
                rest,
                ((i + 1)..keys.len()).collect::<Vec<_>>(),
                "after line {i}"
            );
            // And from there, positions computed by a cursor of that read agree.
            let mut again_cursor = Cursor::new(r.since_seconds);
            let skipped: Vec<Resume> = read(r.since_seconds)
                .into_iter()
                .map(|j| again_cursor.after(keys[j]))
                .collect();
            let last = skipped[r.skip as usize..].last().copied();
            if let Some(last) = last {
                let tail: Vec<usize> = read(last.since_seconds)
                    .into_iter()
                    .skip(last.skip as usize)
                    .collect();
                assert!(tail.is_empty(), "after the last line nothing remains");
            }
        }
    }
}
