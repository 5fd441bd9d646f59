//! Metric families: one series per set of label values, each a few atomics. A handle
//! ([`Counter`], [`Gauge`], [`Histogram`]) names the family; `with(&[values])` finds (or
//! makes) the series once, and callers on a hot path keep what it returns.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::encode::{bound, header, line};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram(&'static [f64]),
}

impl Kind {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram(_) => "histogram",
        }
    }
}

/// One series' numbers: a value (an f64's bits) for counters and gauges; for histograms,
/// a count per bucket (and the `+Inf` one), the sum's bits and the count.
pub struct Series {
    value: AtomicU64,
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
}

impl Series {
    fn new(buckets: usize) -> Series {
        Series {
            value: AtomicU64::new(0f64.to_bits()),
            buckets: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
        }
    }

    fn add(&self, delta: f64) {
        let _ = self
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + delta).to_bits())
            });
    }

    fn get(&self) -> f64 {
        f64::from_bits(self.value.load(Ordering::Relaxed))
    }
}

pub(crate) struct Family {
    help: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    series: Mutex<BTreeMap<Vec<String>, Arc<Series>>>,
}

impl Family {
    pub(crate) fn new(help: &'static str, kind: Kind, labels: &'static [&'static str]) -> Family {
        Family {
            help,
            kind,
            labels,
            series: Mutex::default(),
        }
    }

    /// The series of `values` (one per label name; missing ones are empty, extra ones
    /// ignored).
    fn series(&self, values: &[&str]) -> Arc<Series> {
        let key: Vec<String> = (0..self.labels.len())
            .map(|i| values.get(i).copied().unwrap_or("").to_string())
            .collect();
        let buckets = match self.kind {
            Kind::Histogram(b) => b.len() + 1,
            _ => 0,
        };
        self.series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(Series::new(buckets)))
            .clone()
    }

    pub(crate) fn encode(&self, name: &str, out: &mut String) {
        header(out, name, self.help, self.kind.type_name());
        let series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        for (values, s) in series.iter() {
            let labels: Vec<(&'static str, &str)> = self
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            match self.kind {
                Kind::Counter | Kind::Gauge => line(out, name, "", &labels, None, s.get()),
                Kind::Histogram(bounds) => {
                    let mut cumulative = 0u64;
                    for (i, b) in s.buckets.iter().enumerate() {
                        cumulative += b.load(Ordering::Relaxed);
                        let le = bounds.get(i).map_or("+Inf".to_string(), |v| bound(*v));
                        line(
                            out,
                            name,
                            "_bucket",
                            &labels,
                            Some(("le", &le)),
                            cumulative as f64,
                        );
                    }
                    line(out, name, "_sum", &labels, None, s.get());
                    let count = s.count.load(Ordering::Relaxed) as f64;
                    line(out, name, "_count", &labels, None, count);
                }
            }
        }
    }
}

/// A counter family: values only go up.
#[derive(Clone)]
pub struct Counter(Arc<Family>);

impl Counter {
    pub(crate) fn new(family: Arc<Family>) -> Counter {
        Counter(family)
    }

    /// The series of these label values, to keep and [`CounterSeries::inc`].
    pub fn with(&self, values: &[&str]) -> CounterSeries {
        CounterSeries(self.0.series(values))
    }

    /// Add `n` to the series of `values`.
    pub fn add(&self, values: &[&str], n: f64) {
        self.with(values).add(n);
    }
}

/// One counter series.
#[derive(Clone)]
pub struct CounterSeries(Arc<Series>);

impl CounterSeries {
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Add `n` (negative values are ignored: a counter never goes down).
    pub fn add(&self, n: f64) {
        if n > 0.0 {
            self.0.add(n);
        }
    }

    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

/// A gauge family: values go up and down.
#[derive(Clone)]
pub struct Gauge(Arc<Family>);

impl Gauge {
    pub(crate) fn new(family: Arc<Family>) -> Gauge {
        Gauge(family)
    }

    pub fn set(&self, values: &[&str], v: f64) {
        self.0
            .series(values)
            .value
            .store(v.to_bits(), Ordering::Relaxed);
    }

    pub fn add(&self, values: &[&str], delta: f64) {
        self.0.series(values).add(delta);
    }
}

/// A histogram family.
#[derive(Clone)]
pub struct Histogram(Arc<Family>);

impl Histogram {
    pub(crate) fn new(family: Arc<Family>) -> Histogram {
        Histogram(family)
    }

    /// Count one observation of `v` in the series of `values`.
    pub fn observe(&self, values: &[&str], v: f64) {
        let Kind::Histogram(bounds) = self.0.kind else {
            return;
        };
        let s = self.0.series(values);
        let i = bounds.partition_point(|b| *b < v);
        s.buckets[i].fetch_add(1, Ordering::Relaxed);
        s.add(v);
        s.count.fetch_add(1, Ordering::Relaxed);
    }
}
