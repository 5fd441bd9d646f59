//! FilterLogEvents: the matching events of several streams of a group, interleaved by
//! timestamp (ties by stream, then ingestion order), with a token that is the last event
//! delivered, so pages never repeat or skip an event that existed when paging began.
//!
//! Streams are read a few events at a time, and only those that may still hold one of
//! the page's events are read further, so a page over hundreds of streams reads about a
//! page's worth of events, not a page per stream.

use super::files::FileCache;
use super::format::StoredEvent;
use super::read::{fitting, just_after, just_before, scan, Pos, Scan};
use super::stream::Stream;
use super::tokens::{event_id, FilterToken};
use super::{FilterEvents, FilterPage, FilteredEvent, SearchedStream, StoreError, DEFAULT_EVENTS};
use std::cmp::Ordering;
use std::sync::Arc;

/// An event's place in the page's order: timestamp, stream id, ordinal.
type Key = (i64, u64, u64);

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

/// One stream's part of the page being built.
struct Source<'a> {
    stream: &'a Stream,
    scan: Scan,
    /// Read to its end (within the request).
    done: bool,
    found: usize,
    /// The key of the last event read, in the page's order.
    last: Option<Key>,
}

struct Page<'a, 'r> {
    files: &'a FileCache,
    req: &'r FilterEvents<'r>,
    forward: bool,
    found: Vec<(Key, usize, StoredEvent)>,
}

/// The order of a page: `forward` or newest first.
fn order(forward: bool, a: &Key, b: &Key) -> Ordering {
    if forward {
        a.cmp(b)
    } else {
        b.cmp(a)
    }
}

impl Page<'_, '_> {
    /// Reads the next events of `source` (number `i`) and moves its scan past them.
    fn read(&mut self, i: usize, source: &mut Source) -> Result<(), StoreError> {
        let pattern = self.req.pattern;
        let mut keep = |e: &StoredEvent| pattern.is_none_or(|p| p.matches(&e.message));
        let mut events = scan(source.stream, self.files, &source.scan, &mut keep)?;
        source.done = events.len() < source.scan.limit;
        source.found += events.len();
        source.scan.limit = source.scan.limit.saturating_mul(2);
        if !self.forward {
            events.reverse();
        }
        let id = source.stream.identity.id;
        if let Some(last) = events.last() {
            if self.forward {
                source.scan.after = Some(last.pos());
            } else {
                source.scan.before = Some(last.pos());
            }
            source.last = Some((last.timestamp, id, last.ord));
        }
        self.found
            .extend(events.into_iter().map(|e| ((e.timestamp, id, e.ord), i, e)));
        Ok(())
    }
}

pub(crate) fn filter_events(
    streams: &[Arc<Stream>],
    files: &FileCache,
    req: &FilterEvents,
) -> Result<FilterPage, StoreError> {
    let token = req.token.map(FilterToken::decode).transpose()?;
    let forward = token.map_or(!req.newest_first, |t| t.forward);
    let limit = req.limit.unwrap_or(DEFAULT_EVENTS).max(1);
    let time = req.start.unwrap_or(i64::MIN)..req.end.unwrap_or(i64::MAX);
    let first_read = (limit / streams.len().max(1)).max(16).min(limit + 1);
    let mut sources: Vec<Source> = streams
        .iter()
        .map(|stream| {
            let mut scan = Scan::new(time.clone(), forward, first_read);
            if let Some(t) = &token {
                bounded(&mut scan, stream.identity.id, t);
            }
            Source {
                stream,
                scan,
                done: false,
                found: 0,
                last: None,
            }
        })
        .collect();
    let mut page = Page {
        files,
        req,
        forward,
        found: Vec::new(),
    };
    for (i, source) in sources.iter_mut().enumerate() {
        page.read(i, source)?;
    }
    // Read further the streams whose next events may still come before the event after
    // the page's last one.
    loop {
        page.found.sort_by(|a, b| order(forward, &a.0, &b.0));
        let bar = page.found.get(limit).map(|f| f.0);
        let mut progressed = false;
        for (i, source) in sources.iter_mut().enumerate() {
            let behind = match (bar, source.last) {
                (Some(bar), Some(last)) => order(forward, &last, &bar) == Ordering::Less,
                _ => true,
            };
            if !source.done && behind {
                page.read(i, source)?;
                progressed = true;
            }
        }
        if !progressed {
            break;
        }
    }
    let mut found = page.found;
    let total = found.len();
    found.truncate(limit);
    found.truncate(fitting(found.iter().map(|f| &f.2)));
    let next_token = (found.len() < total)
        .then(|| found.last())
        .flatten()
        .map(|f| {
            let (ts, stream, ord) = f.0;
            FilterToken {
                forward,
                ts,
                stream,
                ord,
            }
            .encode()
        });
    let mut taken = vec![0; streams.len()];
    for f in &found {
        taken[f.1] += 1;
    }
    let searched_streams = sources
        .iter()
        .zip(&taken)
        .map(|(s, taken)| SearchedStream {
            name: s.stream.identity.name.clone(),
            searched_completely: s.done && s.found == *taken,
        })
        .collect();
    let events = found
        .into_iter()
        .map(|((ts, id, ord), i, e)| FilteredEvent {
            stream: streams[i].identity.name.clone(),
            event_id: event_id(ts, id, ord),
            timestamp: e.timestamp,
            ingestion_time: e.ingestion_time,
            message: e.message,
        })
        .collect();
    Ok(FilterPage {
        events,
        next_token,
        searched_streams,
    })
}
