//! Log and metric storage, the data plane behind CloudWatch Logs and CloudWatch.
//!
//! - [`logs`]: log streams' events outside the revisioned store, in append-only
//!   compressed segments on disk indexed by time, with the CloudWatch Logs filter pattern
//!   language and the common subset of the Logs Insights query language.
//! - [`metrics`]: metric series with their statistics per period, CloudWatch's metric
//!   math, and alarm evaluation.
//!
//! Neither reads the store: what they must know of the control plane's resources (log
//! groups' retention, alarms' definitions) they are told.

pub mod logs;
pub mod metrics;
