//! DescribeLogStreams: a group's streams with a name prefix, ordered by name or by last
//! event time, either way round, a page at a time; the token is the last stream given
//! with its sort key.

use super::stream::Stream;
use super::tokens::StreamsToken;
use super::{ListStreams, StoreError, StreamInfo, StreamOrder, StreamPage, DEFAULT_STREAMS};
use std::cmp::Ordering;
use std::sync::Arc;

impl StreamInfo {
    pub(crate) fn of(stream: &Stream) -> StreamInfo {
        let s = stream.summary();
        StreamInfo {
            name: stream.identity.name.clone(),
            creation_time: stream.identity.creation_time,
            first_event_timestamp: s.first_event,
            last_event_timestamp: s.last_event,
            last_ingestion_time: s.last_ingestion,
            stored_bytes: s.stored_bytes,
        }
    }
}

/// `streams` is the group's, by name.
pub(crate) fn list_streams(
    streams: Vec<Arc<Stream>>,
    req: &ListStreams,
) -> Result<StreamPage, StoreError> {
    let after = req.token.map(StreamsToken::decode).transpose()?;
    let prefix = req.prefix.unwrap_or("");
    let mut infos: Vec<StreamInfo> = streams
        .iter()
        .filter(|s| s.identity.name.starts_with(prefix))
        .map(|s| StreamInfo::of(s))
        .collect();
    let order = |a: &StreamInfo, b: &StreamInfo| {
        let by_time = match req.order {
            StreamOrder::LastEventTime => a.last_event_timestamp.cmp(&b.last_event_timestamp),
            StreamOrder::Name => Ordering::Equal,
        };
        let o = by_time.then_with(|| a.name.cmp(&b.name));
        if req.descending {
            o.reverse()
        } else {
            o
        }
    };
    infos.sort_by(order);
    if let Some(t) = after {
        let last = StreamInfo {
            name: t.name,
            creation_time: 0,
            first_event_timestamp: None,
            last_event_timestamp: t.last_event,
            last_ingestion_time: None,
            stored_bytes: 0,
        };
        infos.retain(|i| order(i, &last) == Ordering::Greater);
    }
    let limit = req.limit.unwrap_or(DEFAULT_STREAMS).max(1);
    let more = infos.len() > limit;
    infos.truncate(limit);
    let next_token = match (more, infos.last()) {
        (true, Some(last)) => Some(
            StreamsToken {
                last_event: match req.order {
                    StreamOrder::LastEventTime => last.last_event_timestamp,
                    StreamOrder::Name => None,
                },
                name: last.name.clone(),
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(StreamPage {
        streams: infos,
        next_token,
    })
}
