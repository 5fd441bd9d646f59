//! FilterLogEvents: the matching events of several streams of a group, interleaved by
//! timestamp (ties by stream, then ingestion order), with a token that is the last event
//! delivered, so pages never repeat or skip an event that existed when paging began.

use super::files::FileCache;
use super::format::StoredEvent;
use super::read::{fitting, just_after, just_before, scan, Pos, Scan};
use super::stream::Stream;
use super::tokens::{event_id, FilterToken};
use super::{FilterEvents, FilterPage, FilteredEvent, SearchedStream, StoreError, DEFAULT_EVENTS};
use std::cmp::Ordering;
use std::sync::Arc;

/// The scan of one stream that yields its events after (or before) `token`.
fn bounded(scan: &mut Scan, id: u64, token: &FilterToken) {
    let at = |ord| Pos { ts: token.ts, ord };
    if token.forward {
        scan.after = Some(match id.cmp(&token.stream) {
            Ordering::Greater => just_before(at(0)),
            Ordering::Equal => at(token.ord),
            Ordering::Less => at(u64::MAX),
        });
    } else {
        scan.before = Some(match id.cmp(&token.stream) {
            Ordering::Less => just_after(at(u64::MAX)),
            Ordering::Equal => at(token.ord),
            Ordering::Greater => at(0),
        });
    }
}

pub(crate) fn filter_events(
    streams: &[Arc<Stream>],
    files: &FileCache,
    req: &FilterEvents,
) -> Result<FilterPage, StoreError> {
    let token = req.token.map(FilterToken::decode).transpose()?;
    let forward = token.map_or(req.start_from_head, |t| t.forward);
    let limit = req.limit.unwrap_or(DEFAULT_EVENTS).max(1);
    let time = req.start.unwrap_or(i64::MIN)..req.end.unwrap_or(i64::MAX);
    let mut found: Vec<(usize, StoredEvent)> = Vec::new();
    let mut counts = Vec::with_capacity(streams.len());
    for (i, stream) in streams.iter().enumerate() {
        let mut q = Scan::new(time.clone(), forward, limit + 1);
        if let Some(t) = &token {
            bounded(&mut q, stream.identity.id, t);
        }
        let events = scan(stream, files, &q, &mut |e| {
            req.pattern.is_none_or(|p| p.matches(&e.message))
        })?;
        counts.push(events.len());
        found.extend(events.into_iter().map(|e| (i, e)));
    }
    let key = |(i, e): &(usize, StoredEvent)| (e.timestamp, streams[*i].identity.id, e.ord);
    found.sort_by_key(key);
    if !forward {
        found.reverse();
    }
    let total = found.len();
    found.truncate(limit);
    found.truncate(fitting(found.iter().map(|f| &f.1)));
    let next_token = (found.len() < total)
        .then(|| found.last())
        .flatten()
        .map(|f| {
            let (ts, stream, ord) = key(f);
            FilterToken {
                forward,
                ts,
                stream,
                ord,
            }
            .encode()
        });
    let mut taken = vec![0; streams.len()];
    for (i, _) in &found {
        taken[*i] += 1;
    }
    let searched_streams = streams
        .iter()
        .zip(counts.iter().zip(&taken))
        .map(|(s, (count, taken))| SearchedStream {
            name: s.identity.name.clone(),
            searched_completely: count == taken,
        })
        .collect();
    let events = found
        .into_iter()
        .map(|(i, e)| {
            let id = streams[i].identity.id;
            FilteredEvent {
                stream: streams[i].identity.name.clone(),
                event_id: event_id(e.timestamp, id, e.ord),
                timestamp: e.timestamp,
                ingestion_time: e.ingestion_time,
                message: e.message,
            }
        })
        .collect();
    Ok(FilterPage {
        events,
        next_token,
        searched_streams,
    })
}
