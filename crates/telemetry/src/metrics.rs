//! CloudWatch metric storage: series of statistic sets, kept durably and queried by
//! period, with metric math ([`math`], [`query`]) and alarm evaluation ([`alarm`]).
//!
//! A *stream* is one (region, namespace, metric name, sorted dimensions, unit). Each value
//! put is folded into a statistic set (SampleCount, Sum, Minimum, Maximum) in two
//! resolutions ([`series`]):
//! - per 1-second bucket, for data put with `StorageResolution` 1, kept [`HIGH_RETENTION`]
//!   (3 hours);
//! - per 60-second bucket, for all data, kept [`STANDARD_RETENTION`] (15 days).
//!
//! CloudWatch keeps 1-minute data 15 days too, then rolls it up to 5 minutes (63 days)
//! and 1 hour (455 days); Flotilla keeps neither roll-up (a documented deviation).
//!
//! Durability ([`log`], [`writer`]): [`MetricStore::put`] returns once its data is in an
//! append-only log (a CRC per record) and fsynced; one writer thread commits every put
//! waiting in one write and one fsync (group commit), then applies them to memory, so a
//! reader sees a put once it returned. Opening replays the log (a torn tail from a crash
//! is cut off); the writer rewrites the log from memory when it has grown to twice what
//! it holds, and drops expired buckets every minute.

pub mod alarm;
mod log;
pub mod math;
pub mod query;
pub mod series;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::{Arc, RwLock};

use flotilla_model::cloudwatch::MetricRef;

pub use series::StatSet;

/// How long 1-second data is kept.
pub const HIGH_RETENTION: i64 = 3 * 3600;
/// How long 60-second data is kept.
pub const STANDARD_RETENTION: i64 = 15 * 86_400;
/// ListMetrics lists metrics with data this recent (two weeks, as CloudWatch).
pub const LISTED_FOR: i64 = 14 * 86_400;

/// Why the store failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MetricsError {
    /// The log could not be read, written or synced.
    #[error("metric store I/O: {0}")]
    Io(String),
    /// The writer thread is gone (the store is shutting down).
    #[error("the metric store is closed")]
    Closed,
}

impl From<std::io::Error> for MetricsError {
    fn from(e: std::io::Error) -> Self {
        MetricsError::Io(e.to_string())
    }
}

/// One value or statistic set put for a metric at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub metric: MetricRef,
    /// `None` is CloudWatch's `None` unit.
    pub unit: Option<String>,
    /// Epoch seconds.
    pub timestamp: i64,
    pub set: StatSet,
    /// `StorageResolution` 1: also kept per second.
    pub high_resolution: bool,
}

/// What ListMetrics filters on.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    /// Dimension names the metric must have, each with a value when given.
    pub dimensions: Vec<(String, Option<String>)>,
    /// Only metrics with data at or after this time (epoch seconds).
    pub active_since: Option<i64>,
}

/// The statistics of one period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The period's start, epoch seconds.
    pub timestamp: i64,
    pub set: StatSet,
}

/// A series' periods and the unit its data was put with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Statistics {
    pub points: Vec<Point>,
    pub unit: Option<String>,
}

/// The identity of one stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StreamKey {
    pub region: String,
    pub metric: MetricRef,
    pub unit: String,
}

/// Everything in memory: streams by id (ids are the log's), by the hash of their key
/// (so that a put finds its stream without building a key), and by metric.
#[derive(Default)]
pub(crate) struct Index {
    pub streams: Vec<series::Stream>,
    hasher: RandomState,
    ids: HashMap<u64, Vec<u32>>,
    pub by_metric: BTreeMap<(String, MetricRef), Vec<u32>>,
}

impl Index {
    fn hash(&self, region: &str, metric: &MetricRef, unit: &str) -> u64 {
        self.hasher.hash_one((region, metric, unit))
    }

    /// The id of the stream of (`region`, `metric`, `unit`), created when new (and then
    /// true).
    pub fn stream_id_of(&mut self, region: &str, metric: &MetricRef, unit: &str) -> (u32, bool) {
        let h = self.hash(region, metric, unit);
        let found = self.ids.get(&h).and_then(|ids| {
            ids.iter().copied().find(|&id| {
                let k = &self.streams[id as usize].key;
                k.region == region && k.unit == unit && k.metric == *metric
            })
        });
        if let Some(id) = found {
            return (id, false);
        }
        let id = self.streams.len() as u32;
        let key = StreamKey {
            region: region.to_string(),
            metric: metric.clone(),
            unit: unit.to_string(),
        };
        self.by_metric
            .entry((key.region.clone(), key.metric.clone()))
            .or_default()
            .push(id);
        self.streams.push(series::Stream::new(key));
        self.ids.entry(h).or_default().push(id);
        (id, true)
    }

    /// The id of `key`'s stream, created when new (and then true).
    pub fn stream_id(&mut self, key: &StreamKey) -> (u32, bool) {
        self.stream_id_of(&key.region, &key.metric, &key.unit)
    }

    /// Forget the streams from id `from` on (the last ones, made for a batch whose write
    /// failed).
    pub fn truncate(&mut self, from: usize) {
        let gone: Vec<series::Stream> = self.streams.drain(from..).collect();
        for s in gone {
            let h = self.hash(&s.key.region, &s.key.metric, &s.key.unit);
            if let Some(ids) = self.ids.get_mut(&h) {
                ids.retain(|&id| (id as usize) < from);
                if ids.is_empty() {
                    self.ids.remove(&h);
                }
            }
            let k = (s.key.region, s.key.metric);
            if let Some(ids) = self.by_metric.get_mut(&k) {
                ids.retain(|&id| (id as usize) < from);
                if ids.is_empty() {
                    self.by_metric.remove(&k);
                }
            }
        }
    }
}

/// The handle to the metric store; clones share it.
#[derive(Clone)]
pub struct MetricStore {
    index: Arc<RwLock<Index>>,
    writer: writer::Handle,
}

impl MetricStore {
    /// Open (or create) the store in `dir`, replaying its log.
    pub fn open(dir: &Path) -> Result<MetricStore, MetricsError> {
        let index = Arc::new(RwLock::new(Index::default()));
        let writer = writer::Handle::start(Some(dir), index.clone())?;
        Ok(MetricStore { index, writer })
    }

    /// A store that keeps nothing on disk (tests).
    pub fn in_memory() -> MetricStore {
        let index = Arc::new(RwLock::new(Index::default()));
        let writer = writer::Handle::start(None, index.clone())
            .unwrap_or_else(|_| unreachable!("no I/O without a directory"));
        MetricStore { index, writer }
    }

    /// Store `data` in `region`; durable when this returns Ok.
    pub async fn put(&self, region: &str, data: Vec<Datum>) -> Result<(), MetricsError> {
        if data.is_empty() {
            return Ok(());
        }
        self.writer.put(region.to_string(), data).await
    }

    /// Rewrite the log from memory now (the writer also does it when the log has grown).
    pub async fn compact(&self) -> Result<(), MetricsError> {
        self.writer.compact().await
    }

    /// Drop buckets older than their resolution's retention at `now` (the writer does
    /// this every minute by the wall clock).
    pub fn expire(&self, now: i64) {
        series::expire(&mut write(&self.index), now);
    }

    /// The metrics of `region` that pass `filter` and have data since `now` minus two
    /// weeks, in (namespace, name, dimensions) order.
    pub fn list(&self, region: &str, filter: &ListFilter, now: i64) -> Vec<MetricRef> {
        let index = read(&self.index);
        let since = filter.active_since.unwrap_or(now - LISTED_FOR);
        index
            .by_metric
            .iter()
            .filter(|((r, m), _)| r == region && matches(m, filter))
            .filter(|(_, ids)| {
                ids.iter()
                    .any(|&id| index.streams[id as usize].last >= since)
            })
            .map(|((_, m), _)| m.clone())
            .collect()
    }

    /// The statistics of `metric` in `[start, end)` per `period` seconds, periods
    /// starting at `start`, only data put with `unit` when given (every unit otherwise).
    /// A period under 60 seconds or not dividing into minutes reads the 1-second data;
    /// otherwise the 60-second data. Periods without data are absent.
    #[allow(clippy::too_many_arguments)]
    pub fn statistics(
        &self,
        region: &str,
        metric: &MetricRef,
        unit: Option<&str>,
        start: i64,
        end: i64,
        period: u32,
        now: i64,
    ) -> Statistics {
        let index = read(&self.index);
        let Some(ids) = index.by_metric.get(&(region.to_string(), metric.clone())) else {
            return Statistics::default();
        };
        let streams = ids
            .iter()
            .map(|&id| &index.streams[id as usize])
            .filter(|s| unit.is_none_or(|u| s.key.unit == u));
        series::aggregate(streams, start, end, period, now)
    }
}

fn matches(m: &MetricRef, f: &ListFilter) -> bool {
    f.namespace.as_ref().is_none_or(|n| *n == m.namespace)
        && f.metric_name.as_ref().is_none_or(|n| *n == m.metric_name)
        && f.dimensions.iter().all(|(name, value)| {
            m.dimensions
                .iter()
                .any(|d| d.name == *name && value.as_ref().is_none_or(|v| *v == d.value))
        })
}

pub(crate) fn read(index: &RwLock<Index>) -> std::sync::RwLockReadGuard<'_, Index> {
    index.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write(index: &RwLock<Index>) -> std::sync::RwLockWriteGuard<'_, Index> {
    index.write().unwrap_or_else(|e| e.into_inner())
}
