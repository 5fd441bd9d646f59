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
//!
//! How the `Logs_20140328` operations map onto it (the API validates the request first):
//!
//! | operation | call |
//! | --- | --- |
//! | CreateLogStream, DeleteLogStream | [`LogStore::create_stream`], [`LogStore::delete_stream`] |
//! | DeleteLogGroup | [`LogStore::delete_group`] |
//! | DescribeLogStreams | [`LogStore::list_streams`] |
//! | DescribeLogGroups' `storedBytes` | [`LogStore::stored_bytes`] |
//! | PutLogEvents, the agent's batches | [`LogStore::append`] (with `first_sequence` for the agent) |
//! | GetLogEvents | [`LogStore::get_events`] |
//! | FilterLogEvents | [`pattern::parse`], then [`LogStore::filter_events`] |
//! | StartQuery, GetQueryResults | [`insights::parse`], then [`insights::run_on_store`] |
//! | retention (a controller) | [`LogStore::expire`] |

pub mod insights;
pub mod pattern;
pub mod store;
mod syntax;

pub use syntax::SyntaxError;

pub use store::LogStore;
