//! One stream's data in memory: a sorted `Vec` of (second, statistic set) buckets per
//! resolution, appended at the end in the usual case (data arrives in time order), and
//! the aggregation of buckets into periods that queries read.

use super::{Index, Point, Statistics, StreamKey, HIGH_RETENTION, STANDARD_RETENTION};

/// SampleCount, Sum, Minimum and Maximum of some values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatSet {
    pub count: f64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
}

impl StatSet {
    /// The set of one value.
    pub fn one(v: f64) -> StatSet {
        StatSet {
            count: 1.0,
            sum: v,
            min: v,
            max: v,
        }
    }

    /// `count` occurrences of `v`.
    pub fn repeated(v: f64, count: f64) -> StatSet {
        StatSet {
            count,
            sum: v * count,
            min: v,
            max: v,
        }
    }

    /// Fold `other` into this set.
    pub fn merge(&mut self, other: &StatSet) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The value of one of CloudWatch's statistics.
    pub fn get(&self, stat: flotilla_model::cloudwatch::Statistic) -> f64 {
        use flotilla_model::cloudwatch::Statistic as S;
        match stat {
            S::SampleCount => self.count,
            S::Sum => self.sum,
            S::Minimum => self.min,
            S::Maximum => self.max,
            S::Average => {
                if self.count > 0.0 {
                    self.sum / self.count
                } else {
                    0.0
                }
            }
        }
    }
}

/// Buckets of one resolution, sorted by time, one per second (or minute) that has data.
#[derive(Debug, Default, Clone)]
pub struct Buckets(pub Vec<(i64, StatSet)>);

impl Buckets {
    /// Fold `set` into the bucket at `ts`.
    pub fn add(&mut self, ts: i64, set: &StatSet) {
        match self.0.last_mut() {
            Some((last, s)) if *last == ts => s.merge(set),
            Some((last, _)) if *last > ts => match self.0.binary_search_by_key(&ts, |b| b.0) {
                Ok(i) => self.0[i].1.merge(set),
                Err(i) => self.0.insert(i, (ts, *set)),
            },
            _ => self.0.push((ts, *set)),
        }
    }

    /// Drop buckets before `cutoff`.
    pub fn expire(&mut self, cutoff: i64) {
        let keep = self.0.partition_point(|b| b.0 < cutoff);
        if keep > 0 {
            self.0.drain(..keep);
        }
    }

    /// The buckets in `[start, end)`.
    pub fn range(&self, start: i64, end: i64) -> &[(i64, StatSet)] {
        let a = self.0.partition_point(|b| b.0 < start);
        let b = self.0.partition_point(|b| b.0 < end);
        &self.0[a..b.max(a)]
    }
}

/// One (region, metric, unit) stream.
#[derive(Debug)]
pub struct Stream {
    pub(crate) key: StreamKey,
    /// Per second (StorageResolution 1 only).
    pub high: Buckets,
    /// Per minute (everything).
    pub standard: Buckets,
    /// The latest timestamp put.
    pub last: i64,
}

impl Stream {
    pub(crate) fn new(key: StreamKey) -> Stream {
        Stream {
            key,
            high: Buckets::default(),
            standard: Buckets::default(),
            last: i64::MIN,
        }
    }

    /// Fold a datum in (both resolutions when it is high-resolution).
    pub fn add(&mut self, timestamp: i64, set: &StatSet, high: bool) {
        if high {
            self.high.add(timestamp, set);
        }
        self.standard.add(timestamp.div_euclid(60) * 60, set);
        self.last = self.last.max(timestamp);
    }
}

/// Drop every bucket past its retention at `now`.
pub(crate) fn expire(index: &mut Index, now: i64) {
    for s in &mut index.streams {
        s.high.expire(now - HIGH_RETENTION);
        s.standard.expire(now - STANDARD_RETENTION);
    }
}

/// The start of the first period of `period` seconds at or before `start`: whole minutes
/// for periods of whole minutes, whole periods otherwise (as CloudWatch rounds).
pub fn aligned_start(start: i64, period: u32) -> i64 {
    let align = if period.is_multiple_of(60) {
        60
    } else {
        i64::from(period.max(1))
    };
    start.div_euclid(align) * align
}

/// Whether a query of `period` from `start` reads the 1-second buckets.
pub fn reads_high_resolution(start: i64, period: u32) -> bool {
    period < 60 || !period.is_multiple_of(60) || start % 60 != 0
}

/// Fold the buckets of `streams` in `[start, end)` into periods of `period` seconds from
/// `start`, within the retention of the resolution read.
pub(crate) fn aggregate<'a>(
    streams: impl Iterator<Item = &'a Stream>,
    start: i64,
    end: i64,
    period: u32,
    now: i64,
) -> Statistics {
    let high = reads_high_resolution(start, period);
    let cutoff = now
        - if high {
            HIGH_RETENTION
        } else {
            STANDARD_RETENTION
        };
    let period = i64::from(period.max(1));
    let mut points: Vec<Point> = Vec::new();
    let mut unit = None;
    for s in streams {
        let buckets = if high { &s.high } else { &s.standard };
        let range = buckets.range(start.max(cutoff), end);
        if range.is_empty() {
            continue;
        }
        unit.get_or_insert_with(|| s.key.unit.clone());
        if points.is_empty() {
            // The usual case: one unit, one stream; nothing to merge with.
            points = periods(range, start, period).collect();
            continue;
        }
        let mut merged = Vec::with_capacity(points.len() + range.len() / 2);
        let mut theirs = periods(range, start, period).peekable();
        let mut ours = points.into_iter().peekable();
        loop {
            match (ours.peek(), theirs.peek()) {
                (Some(a), Some(b)) if a.timestamp == b.timestamp => {
                    let mut p = *a;
                    p.set.merge(&b.set);
                    merged.push(p);
                    ours.next();
                    theirs.next();
                }
                (Some(a), Some(b)) if a.timestamp < b.timestamp => merged.extend(ours.next()),
                (Some(_), Some(_)) | (None, Some(_)) => merged.extend(theirs.next()),
                (Some(_), None) => merged.extend(ours.next()),
                (None, None) => break,
            }
        }
        points = merged;
    }
    Statistics { points, unit }
}

/// Sorted buckets folded into periods of `period` seconds from `start`.
fn periods(
    buckets: &[(i64, StatSet)],
    start: i64,
    period: i64,
) -> impl Iterator<Item = Point> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let (ts, first) = buckets.get(i)?;
        let p = start + (ts - start).div_euclid(period) * period;
        let mut set = *first;
        i += 1;
        while let Some((ts, s)) = buckets.get(i) {
            if *ts >= p + period {
                break;
            }
            set.merge(s);
            i += 1;
        }
        Some(Point { timestamp: p, set })
    })
}
