//! Reading a stream: the one scan every read is built on (the first or last `limit`
//! matching events between two places, skipping blocks by their time range and stopping
//! as soon as no further block can change the answer), and GetLogEvents' pages with their
//! forward and backward tokens.

use super::files::FileCache;
use super::format::{event_size, StoredEvent};
use super::stream::Stream;
use super::tokens::EventsToken;
use super::{EventsPage, GetEvents, LogEvent, StoreError, DEFAULT_EVENTS, MAX_RESPONSE_BYTES};
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io;
use std::ops::Range;

/// An event's place in a stream's reading order: by timestamp, ties by ingestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub ts: i64,
    pub ord: u64,
}

impl StoredEvent {
    pub(crate) fn pos(&self) -> Pos {
        Pos {
            ts: self.timestamp,
            ord: self.ord,
        }
    }
}

/// What one scan of a stream asks for.
#[derive(Debug, Clone)]
pub(crate) struct Scan {
    /// Timestamps in `[start, end)`.
    pub time: Range<i64>,
    /// Places strictly between these two.
    pub after: Option<Pos>,
    pub before: Option<Pos>,
    /// Ordinals in this range only.
    pub ords: Range<u64>,
    /// Keep the first `limit` (forward) or the last (backward).
    pub forward: bool,
    pub limit: usize,
}

impl Scan {
    pub(crate) fn new(time: Range<i64>, forward: bool, limit: usize) -> Self {
        Scan {
            time,
            after: None,
            before: None,
            ords: 0..u64::MAX,
            forward,
            limit,
        }
    }

    fn wants(&self, e: &StoredEvent, durable: u64, cutoff: Option<i64>) -> bool {
        let p = e.pos();
        self.time.contains(&e.timestamp)
            && cutoff.is_none_or(|c| e.timestamp >= c)
            && e.ord < durable
            && self.ords.contains(&e.ord)
            && self.after.is_none_or(|a| p > a)
            && self.before.is_none_or(|b| p < b)
    }
}

/// A kept event, ordered so that the heap's top is the one to give up first.
struct Kept(StoredEvent, bool);

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        let order = self.0.pos().cmp(&other.0.pos());
        if self.1 {
            order
        } else {
            order.reverse()
        }
    }
}

/// Whether `error` is a file gone between a snapshot and a read: a segment sealed or
/// expired meanwhile (look again), or the stream deleted.
fn vanished(error: &StoreError) -> bool {
    matches!(error, StoreError::Io(e) if e.kind() == io::ErrorKind::NotFound)
}

/// The events `scan` asks for that `keep` accepts, in reading order (ascending).
pub(crate) fn scan(
    stream: &Stream,
    files: &FileCache,
    scan: &Scan,
    keep: &mut dyn FnMut(&StoredEvent) -> bool,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut attempts = 0;
    loop {
        match scan_once(stream, files, scan, keep) {
            Err(e) if vanished(&e) && stream.is_deleted() => {
                return Err(StoreError::StreamNotFound)
            }
            Err(e) if vanished(&e) && attempts < 3 => attempts += 1,
            result => return result,
        }
    }
}

fn scan_once(
    stream: &Stream,
    files: &FileCache,
    q: &Scan,
    keep: &mut dyn FnMut(&StoredEvent) -> bool,
) -> Result<Vec<StoredEvent>, StoreError> {
    let lo = q.time.start.max(q.after.map_or(i64::MIN, |a| a.ts));
    let hi = q
        .time
        .end
        .min(q.before.map_or(i64::MAX, |b| b.ts.saturating_add(1)));
    let snapshot = stream.snapshot(lo, hi, q.ords.start);
    let mut blocks: Vec<_> = snapshot
        .blocks
        .into_iter()
        .filter(|b| b.first_ord < q.ords.end && b.end_ord() > q.ords.start)
        .collect();
    if q.forward {
        blocks.sort_by_key(|b| b.min_ts);
    } else {
        blocks.sort_by_key(|b| std::cmp::Reverse(b.max_ts));
    }
    let mut heap: BinaryHeap<Kept> = BinaryHeap::new();
    for block in blocks {
        if heap.len() >= q.limit {
            let worst = heap.peek().map_or(0, |k| k.0.timestamp);
            if (q.forward && block.min_ts > worst) || (!q.forward && block.max_ts < worst) {
                break;
            }
        }
        for event in stream.read_block(files, &block)? {
            if q.wants(&event, snapshot.durable, snapshot.cutoff) && keep(&event) {
                heap.push(Kept(event, q.forward));
                if heap.len() > q.limit {
                    heap.pop();
                }
            }
        }
    }
    let mut events: Vec<StoredEvent> = heap.into_iter().map(|k| k.0).collect();
    events.sort_by_key(StoredEvent::pos);
    Ok(events)
}

/// How many of `events`, from the first, fit in a response of `MAX_RESPONSE_BYTES`.
pub(crate) fn fitting<'a>(events: impl Iterator<Item = &'a StoredEvent>) -> usize {
    let mut bytes = 0;
    events
        .take_while(|e| {
            bytes += event_size(&e.message);
            bytes <= MAX_RESPONSE_BYTES
        })
        .count()
}

/// The place right after `p` (`q < just_after(p)` is `q <= p`).
pub(crate) fn just_after(p: Pos) -> Pos {
    match p.ord.checked_add(1) {
        Some(ord) => Pos { ts: p.ts, ord },
        None => Pos {
            ts: p.ts.saturating_add(1),
            ord: 0,
        },
    }
}

/// The place right before `p` (`q > just_before(p)` is `q >= p`).
pub(crate) fn just_before(p: Pos) -> Pos {
    match p.ord.checked_sub(1) {
        Some(ord) => Pos { ts: p.ts, ord },
        None => Pos {
            ts: p.ts.saturating_sub(1),
            ord: u64::MAX,
        },
    }
}

/// A page in reading order and the tokens that continue it.
struct Page {
    events: Vec<StoredEvent>,
    forward: EventsToken,
    backward: EventsToken,
}

/// One page of GetLogEvents.
pub(crate) fn get_events(
    stream: &Stream,
    files: &FileCache,
    req: &GetEvents,
) -> Result<EventsPage, StoreError> {
    let time = req.start.unwrap_or(i64::MIN)..req.end.unwrap_or(i64::MAX);
    let limit = req.limit.unwrap_or(DEFAULT_EVENTS).max(1);
    let token = match req.token {
        Some(t) => EventsToken::decode(t)?,
        None if req.start_from_head => EventsToken::Forward {
            after: None,
            seen: 0,
        },
        None => EventsToken::Backward { before: None },
    };
    let durable = stream.durable();
    let read = Read {
        stream,
        files,
        time,
        limit,
        durable,
    };
    let mut page = match token {
        EventsToken::Forward { after, seen } => read.forward(after, seen)?,
        EventsToken::Backward { before } => read.backward(before)?,
    };
    // At either end the token handed in comes back, as AWS does.
    if let (true, Some(t)) = (page.events.is_empty(), req.token) {
        match token {
            EventsToken::Forward { .. } => page.forward = EventsToken::decode(t)?,
            EventsToken::Backward { .. } => page.backward = EventsToken::decode(t)?,
        }
    }
    Ok(EventsPage {
        events: page.events.into_iter().map(LogEvent::from).collect(),
        next_forward_token: page.forward.encode(),
        next_backward_token: page.backward.encode(),
    })
}

struct Read<'a> {
    stream: &'a Stream,
    files: &'a FileCache,
    time: Range<i64>,
    limit: usize,
    durable: u64,
}

impl Read<'_> {
    /// Late arrivals first (events older than `after` that came after the previous page,
    /// in arrival order), then the events after `after`.
    fn forward(&self, after: Option<Pos>, seen: u64) -> Result<Page, StoreError> {
        let mut late = match after {
            Some(a) if seen < self.durable => {
                let mut q = Scan::new(self.time.clone(), true, usize::MAX);
                q.before = Some(just_after(a));
                q.ords = seen..self.durable;
                scan(self.stream, self.files, &q, &mut |_| true)?
            }
            _ => Vec::new(),
        };
        late.sort_by_key(|e| e.ord);
        let fit = fitting(late.iter()).min(self.limit);
        if fit < late.len() || fit == self.limit {
            late.truncate(fit);
            let seen = late.last().map_or(seen, |e| e.ord + 1);
            late.sort_by_key(StoredEvent::pos);
            let backward = self.backward_from(late.first(), after);
            return Ok(Page {
                events: late,
                forward: EventsToken::Forward { after, seen },
                backward,
            });
        }
        late.sort_by_key(StoredEvent::pos);
        let mut q = Scan::new(self.time.clone(), true, self.limit - late.len());
        q.after = after;
        q.ords = 0..self.durable;
        let mut rest = scan(self.stream, self.files, &q, &mut |_| true)?;
        rest.truncate(fitting(late.iter().chain(rest.iter())).saturating_sub(late.len()));
        let forward = EventsToken::Forward {
            after: rest.last().map(StoredEvent::pos).or(after),
            seen: self.durable,
        };
        late.extend(rest);
        let backward = self.backward_from(late.first(), after);
        Ok(Page {
            events: late,
            forward,
            backward,
        })
    }

    fn backward_from(&self, first: Option<&StoredEvent>, after: Option<Pos>) -> EventsToken {
        let before = match (first, after) {
            (Some(e), _) => e.pos(),
            (None, Some(a)) => just_after(a),
            (None, None) => Pos {
                ts: i64::MIN,
                ord: 0,
            },
        };
        EventsToken::Backward {
            before: Some(before),
        }
    }

    /// The last events before `before` (from the end when `None`), in reading order.
    fn backward(&self, before: Option<Pos>) -> Result<Page, StoreError> {
        let mut q = Scan::new(self.time.clone(), false, self.limit);
        q.before = before;
        q.ords = 0..self.durable;
        let mut events = scan(self.stream, self.files, &q, &mut |_| true)?;
        let fit = fitting(events.iter().rev());
        events.drain(..events.len() - fit);
        let after = match (events.last(), before) {
            (Some(e), _) => Some(e.pos()),
            (None, Some(b)) => Some(just_before(b)),
            (None, None) => None,
        };
        let seen = if after.is_some() { self.durable } else { 0 };
        let backward = match events.first() {
            Some(e) => EventsToken::Backward {
                before: Some(e.pos()),
            },
            None => EventsToken::Backward { before },
        };
        Ok(Page {
            events,
            forward: EventsToken::Forward { after, seen },
            backward,
        })
    }
}

/// Calls `f` with every visible event of `stream` in `time`, in ingestion order; false
/// when `f` asked to stop.
pub(crate) fn visit(
    stream: &Stream,
    files: &FileCache,
    time: Range<i64>,
    f: &mut dyn FnMut(LogEvent) -> bool,
) -> Result<bool, StoreError> {
    let q = Scan::new(time.clone(), true, usize::MAX);
    let (mut from_ord, mut attempts) = (0, 0);
    'again: loop {
        let snapshot = stream.snapshot(time.start, time.end, from_ord);
        for block in &snapshot.blocks {
            let events = match stream.read_block(files, block) {
                Err(e) if vanished(&e) && stream.is_deleted() => {
                    return Err(StoreError::StreamNotFound)
                }
                Err(e) if vanished(&e) && attempts < 3 => {
                    attempts += 1;
                    continue 'again;
                }
                other => other?,
            };
            for e in events {
                if e.ord >= from_ord
                    && q.wants(&e, snapshot.durable, snapshot.cutoff)
                    && !f(e.into())
                {
                    return Ok(false);
                }
            }
            from_ord = block.end_ord();
        }
        return Ok(true);
    }
}
