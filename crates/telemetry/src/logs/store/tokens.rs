//! Pagination tokens: what a page's caller hands back to continue, encoded as opaque,
//! stable strings. Users see digits behind a prefix, as AWS's tokens look (`f/...` and
//! `b/...` for GetLogEvents); the first digit is the token format's version.
//!
//! - GetLogEvents forward `f/`: every event at or before `after` (by timestamp, then
//!   ingestion order) whose ordinal is below `seen` was delivered already. Events that
//!   arrived later with an older timestamp are the ones with an ordinal at or above
//!   `seen`, so a follow delivers them too, once.
//! - GetLogEvents backward `b/`: the events before `before`.
//! - FilterLogEvents `n`: the events after `(timestamp, stream id, ordinal)` in the
//!   page's direction.
//! - DescribeLogStreams `s/`: the streams after a name, or after (last event time, name).

use super::read::Pos;
use super::StoreError;

const VERSION: char = '1';

/// A place in a GetLogEvents read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventsToken {
    Forward { after: Option<Pos>, seen: u64 },
    Backward { before: Option<Pos> },
}

/// A place in a FilterLogEvents read: the last event delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FilterToken {
    pub forward: bool,
    pub ts: i64,
    pub stream: u64,
    pub ord: u64,
}

/// A place in a DescribeLogStreams listing: the last stream delivered and its sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamsToken {
    pub last_event: Option<i64>,
    pub name: String,
}

fn biased(ts: i64) -> u64 {
    (ts as u64) ^ (1 << 63)
}

fn unbiased(n: u64) -> i64 {
    (n ^ (1 << 63)) as i64
}

/// Reads fixed-width numbers back from a token's digits.
struct Digits<'a>(&'a str);

impl Digits<'_> {
    fn take(&mut self, width: usize) -> Result<u64, StoreError> {
        let (head, rest) = self
            .0
            .split_at_checked(width)
            .ok_or(StoreError::InvalidToken)?;
        self.0 = rest;
        head.parse().map_err(|_| StoreError::InvalidToken)
    }

    fn done(&self) -> Result<(), StoreError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(StoreError::InvalidToken)
        }
    }
}

fn body<'a>(token: &'a str, prefix: &str) -> Option<&'a str> {
    token.strip_prefix(prefix)?.strip_prefix(VERSION)
}

fn pos_digits(pos: Option<Pos>) -> String {
    let p = pos.unwrap_or(Pos { ts: 0, ord: 0 });
    format!(
        "{}{:020}{:020}",
        u8::from(pos.is_some()),
        biased(p.ts),
        p.ord
    )
}

fn read_pos(d: &mut Digits) -> Result<Option<Pos>, StoreError> {
    let some = d.take(1)?;
    let pos = Pos {
        ts: unbiased(d.take(20)?),
        ord: d.take(20)?,
    };
    Ok((some == 1).then_some(pos))
}

impl EventsToken {
    pub(crate) fn encode(&self) -> String {
        match *self {
            EventsToken::Forward { after, seen } => {
                format!("f/{VERSION}{}{seen:020}", pos_digits(after))
            }
            EventsToken::Backward { before } => format!("b/{VERSION}{}", pos_digits(before)),
        }
    }

    pub(crate) fn decode(token: &str) -> Result<Self, StoreError> {
        if let Some(b) = body(token, "f/") {
            let mut d = Digits(b);
            let after = read_pos(&mut d)?;
            let seen = d.take(20)?;
            d.done()?;
            Ok(EventsToken::Forward { after, seen })
        } else if let Some(b) = body(token, "b/") {
            let mut d = Digits(b);
            let before = read_pos(&mut d)?;
            d.done()?;
            Ok(EventsToken::Backward { before })
        } else {
            Err(StoreError::InvalidToken)
        }
    }
}

impl FilterToken {
    pub(crate) fn encode(&self) -> String {
        let dir = u8::from(self.forward);
        format!(
            "n{VERSION}{dir}{:020}{:020}{:020}",
            biased(self.ts),
            self.stream,
            self.ord
        )
    }

    pub(crate) fn decode(token: &str) -> Result<Self, StoreError> {
        let mut d = Digits(body(token, "n").ok_or(StoreError::InvalidToken)?);
        let forward = d.take(1)? == 1;
        let ts = unbiased(d.take(20)?);
        let (stream, ord) = (d.take(20)?, d.take(20)?);
        d.done()?;
        Ok(FilterToken {
            forward,
            ts,
            stream,
            ord,
        })
    }
}

/// The id of an event as FilterLogEvents shows it: 56 digits, unique and stable.
pub(crate) fn event_id(ts: i64, stream: u64, ord: u64) -> String {
    format!(
        "{:020}{:016}{:020}",
        biased(ts),
        stream % 10_000_000_000_000_000,
        ord
    )
}

impl StreamsToken {
    pub(crate) fn encode(&self) -> String {
        let hex: String = self.name.bytes().map(|b| format!("{b:02x}")).collect();
        match self.last_event {
            Some(ts) => format!("s/{VERSION}1{:020}{hex}", biased(ts)),
            None => format!("s/{VERSION}0{hex}"),
        }
    }

    pub(crate) fn decode(token: &str) -> Result<Self, StoreError> {
        let mut d = Digits(body(token, "s/").ok_or(StoreError::InvalidToken)?);
        let last_event = match d.take(1)? {
            1 => Some(unbiased(d.take(20)?)),
            _ => None,
        };
        let hex = d.0.as_bytes();
        if hex.len() % 2 != 0 {
            return Err(StoreError::InvalidToken);
        }
        let bytes: Option<Vec<u8>> = hex
            .chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
            .collect();
        let name = bytes
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(StoreError::InvalidToken)?;
        Ok(StreamsToken { last_event, name })
    }
}
