//! The store's requests and answers, shaped after the CloudWatch Logs operations they
//! serve (DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents) so the API
//! maps them field by field, and the sizes it works with.

use super::format::StoredEvent;
use crate::logs::pattern::Pattern;

/// A log group: its region and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupId<'a> {
    pub region: &'a str,
    pub name: &'a str,
}

/// A log stream: its group and name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamId<'a> {
    pub group: GroupId<'a>,
    pub name: &'a str,
}

impl<'a> GroupId<'a> {
    pub fn new(region: &'a str, name: &'a str) -> Self {
        GroupId { region, name }
    }

    pub fn stream(self, name: &'a str) -> StreamId<'a> {
        StreamId { group: self, name }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub message: String,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Events stored (those below the stream's next sequence were dropped as re-sent).
    pub stored: usize,
    /// The producer sequence the stream expects next (0 when never given one).
    pub next_sequence: u64,
}

/// An event read back (GetLogEvents' `OutputLogEvent`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
}

impl From<StoredEvent> for LogEvent {
    fn from(e: StoredEvent) -> Self {
        LogEvent {
            timestamp: e.timestamp,
            ingestion_time: e.ingestion_time,
            message: e.message,
        }
    }
}

/// DescribeLogStreams' `LogStream`, less the ARN (the caller knows the account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    pub name: String,
    pub creation_time: i64,
    pub first_event_timestamp: Option<i64>,
    pub last_event_timestamp: Option<i64>,
    pub last_ingestion_time: Option<i64>,
    pub stored_bytes: u64,
}

/// DescribeLogStreams' `orderBy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StreamOrder {
    #[default]
    Name,
    /// By last event timestamp (streams without events first), ties by name.
    LastEventTime,
}

/// A DescribeLogStreams request.
#[derive(Debug, Clone, Default)]
pub struct ListStreams<'a> {
    pub prefix: Option<&'a str>,
    pub order: StreamOrder,
    pub descending: bool,
    /// Default [`DEFAULT_STREAMS`](super::DEFAULT_STREAMS).
    pub limit: Option<usize>,
    pub token: Option<&'a str>,
}

/// A page of streams; `next_token` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamPage {
    pub streams: Vec<StreamInfo>,
    pub next_token: Option<String>,
}

/// A GetLogEvents request. Times are milliseconds since the epoch, `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct GetEvents<'a> {
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// A `next_forward_token` or `next_backward_token` of an earlier page.
    pub token: Option<&'a str>,
    /// Without a token: the first events (true) or the last (false, AWS's default).
    pub start_from_head: bool,
    /// Default [`DEFAULT_EVENTS`](super::DEFAULT_EVENTS); a page also stops at [`MAX_RESPONSE_BYTES`](super::MAX_RESPONSE_BYTES).
    pub limit: Option<usize>,
}

/// A page of GetLogEvents: events in timestamp order and tokens to page on either way.
/// At the end of the stream a token comes back unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsPage {
    pub events: Vec<LogEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

/// Which streams of a group a FilterLogEvents reads.
#[derive(Debug, Clone, Copy, Default)]
pub enum StreamSelector<'a> {
    #[default]
    All,
    Names(&'a [String]),
    Prefix(&'a str),
}

/// A FilterLogEvents request. Times are milliseconds since the epoch, `[start, end)`.
#[derive(Debug, Clone, Default)]
pub struct FilterEvents<'a> {
    pub streams: StreamSelector<'a>,
    pub start: Option<i64>,
    pub end: Option<i64>,
    /// `None` matches every event.
    pub pattern: Option<&'a Pattern>,
    /// Default [`DEFAULT_EVENTS`](super::DEFAULT_EVENTS); a page also stops at [`MAX_RESPONSE_BYTES`](super::MAX_RESPONSE_BYTES).
    pub limit: Option<usize>,
    pub token: Option<&'a str>,
    /// Newest first (AWS's `startFromHead: false`); oldest first by default. A token
    /// keeps its first page's direction.
    pub newest_first: bool,
}

/// FilterLogEvents' `FilteredLogEvent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilteredEvent {
    pub stream: String,
    pub timestamp: i64,
    pub ingestion_time: i64,
    pub message: String,
    /// 56 digits, unique in the group and stable across pages.
    pub event_id: String,
}

/// FilterLogEvents' `SearchedLogStream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchedStream {
    pub name: String,
    /// Every match of this stream (after the token) is on this page.
    pub searched_completely: bool,
}

/// A page of FilterLogEvents; `next_token` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPage {
    pub events: Vec<FilteredEvent>,
    pub next_token: Option<String>,
    pub searched_streams: Vec<SearchedStream>,
}

/// Sizes the store works with; the defaults suit production.
#[derive(Debug, Clone)]
pub struct Limits {
    /// File descriptors the store keeps open at most.
    pub max_open_files: usize,
    /// An active segment this large (bytes) is sealed.
    pub segment_bytes: u64,
    /// An active segment with this many records (appends) is sealed: each record is
    /// indexed in memory until then, so this bounds a stream's index of small appends.
    pub segment_records: usize,
    /// Events per compressed block, in bytes as [`event_size`](super::event_size) counts them.
    pub block_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_open_files: 256,
            segment_bytes: 4 << 20,
            segment_records: 1024,
            block_bytes: 64 << 10,
        }
    }
}
