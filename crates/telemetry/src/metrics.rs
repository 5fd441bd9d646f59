//! Metric series: see the crate documentation.
