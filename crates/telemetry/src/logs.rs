//! CloudWatch Logs' data plane as a library, for the Logs API to sit on:
//!
//! - [`store`]: log streams and their events on disk ([`LogStore`]), with what
//!   DescribeLogStreams, PutLogEvents, GetLogEvents and FilterLogEvents need, producer
//!   sequence numbers for exactly-once shipping, and retention.
//! - [`pattern`]: the filter pattern language of FilterLogEvents and metric filters.
//! - [`insights`]: the common subset of the Logs Insights query language.
//!
//! Log groups (their creation, retention and tags) are the control plane's; this module is
//! told what it must know of them.

pub mod insights;
pub mod pattern;
pub mod store;
mod syntax;

pub use syntax::SyntaxError;

pub use store::LogStore;
