//! Prometheus metrics of Flotilla's own processes (the server and each agent), served at
//! `/metrics` in the text exposition format (version 0.0.4).
//!
//! A [`Registry`] holds metric families by name: [`Counter`]s, [`Gauge`]s and
//! [`Histogram`]s, each family with fixed label names and one series per set of label
//! values, created on first use and kept (label values must come from small sets: an
//! operation name, a status, never a request id). Values that already live elsewhere (task
//! counts by status, a queue's depth) are read at scrape time by [`Collector`]s instead of
//! being copied on every change. [`global`] is the process's registry; recording is a few
//! atomic operations after the first lookup of a series.
//!
//! This crate knows nothing of Flotilla's resources and depends on nothing.

#![forbid(unsafe_code)]

mod encode;
mod family;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

pub use encode::{escape_label_value, Sample};
pub use family::{Counter, Gauge, Histogram};
use family::{Family, Kind};

/// Latency buckets in seconds, for request and reconcile durations: 1 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Something read at scrape time: it appends its samples (a family name, help, type, and
/// the samples) to the exposition.
pub type Collector = Box<dyn Fn(&mut Vec<Sample>) + Send + Sync>;

/// A collector's family: its name, help text and type (`gauge` or `counter`).
struct Collected {
    help: &'static str,
    kind: Kind,
    read: Collector,
}

/// Metric families by name.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Arc<Family>>>,
    collected: Mutex<BTreeMap<&'static str, Collected>>,
}

/// The process's registry.
pub fn global() -> &'static Registry {
    static GLOBAL: OnceLock<Registry> = OnceLock::new();
    GLOBAL.get_or_init(Registry::default)
}

impl Registry {
    fn family(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Arc<Family> {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        families
            .entry(name)
            .or_insert_with(|| Arc::new(Family::new(help, kind, labels)))
            .clone()
    }

    /// The counter family `name` with label names `labels` (the same names on every call).
    pub fn counter(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Counter {
        Counter::new(self.family(name, help, Kind::Counter, labels))
    }

    /// The gauge family `name`.
    pub fn gauge(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
    ) -> Gauge {
        Gauge::new(self.family(name, help, Kind::Gauge, labels))
    }

    /// The histogram family `name` with upper bounds `buckets` (ascending; `+Inf` is
    /// added).
    pub fn histogram(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        buckets: &'static [f64],
    ) -> Histogram {
        Histogram::new(self.family(name, help, Kind::Histogram(buckets), labels))
    }

    /// Read `name` from `read` at every scrape (a gauge); registering the name again
    /// replaces the reader (a server started again in the same process).
    pub fn collect(&self, name: &'static str, help: &'static str, read: Collector) {
        self.collect_kind(name, help, Kind::Gauge, read)
    }

    /// Like [`Registry::collect`], for a value that only goes up.
    pub fn collect_counter(&self, name: &'static str, help: &'static str, read: Collector) {
        self.collect_kind(name, help, Kind::Counter, read)
    }

    fn collect_kind(&self, name: &'static str, help: &'static str, kind: Kind, read: Collector) {
        let mut collected = self.collected.lock().unwrap_or_else(|e| e.into_inner());
        collected.insert(name, Collected { help, kind, read });
    }

    /// Everything, in the text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let families: Vec<(&'static str, Arc<Family>)> = self
            .families
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, f)| (*n, f.clone()))
            .collect();
        for (name, family) in families {
            family.encode(name, &mut out);
        }
        let collected = self.collected.lock().unwrap_or_else(|e| e.into_inner());
        for (name, c) in collected.iter() {
            let mut samples = Vec::new();
            (c.read)(&mut samples);
            encode::header(&mut out, name, c.help, c.kind.type_name());
            for sample in &samples {
                sample.encode(name, &mut out);
            }
        }
        out
    }
}

/// The content type of [`Registry::encode`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests;
