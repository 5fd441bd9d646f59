//! The on-disk format of a log stream's files, version 1, and nothing else: the file
//! headers, the framed records of the active segment, the event encoding shared by records
//! and blocks, and the sealed segment's compressed blocks, index and footer. Every number
//! is little-endian.
//!
//! - Active segment `active-<first ord>.log`: header `FLOGACT` + version byte, then
//!   records `[u32 len][u32 crc32 of payload][payload]`; a payload is one appended batch:
//!   `[u64 first ord][u64 producer sequence of its first event, u64::MAX for none]
//!   [events]`. A record that is short or fails its CRC ends the file (a torn tail).
//! - Sealed segment `seg-<first ord>.seg`: header `FLOGSEG` + version byte, blocks (LZ4 of
//!   encoded events, uncompressed size first), the index (one [`BlockMeta`] entry per
//!   block), and a footer `[u64 index offset][u32 index len][u32 index crc][u64 next
//!   sequence][u64 end ord]` + `FLOGEND` + version byte. Sealed files are written whole
//!   under a temporary name and renamed, so they are never torn.
//! - Events: `[i64 timestamp][i64 ingestion time][u32 message len][message]` repeated;
//!   an event's ordinal (its place in the stream's ingestion order) is its block's first
//!   ordinal plus its index.

use super::{InputEvent, StoreError};
use std::path::Path;

pub(crate) const FORMAT_VERSION: u8 = 1;
pub(crate) const ACTIVE_MAGIC: &[u8; 7] = b"FLOGACT";
pub(crate) const SEALED_MAGIC: &[u8; 7] = b"FLOGSEG";
const END_MAGIC: &[u8; 7] = b"FLOGEND";
pub(crate) const HEADER_LEN: u64 = 8;
const FRAME_LEN: usize = 8;
const RECORD_HEAD_LEN: usize = 16;
const EVENT_HEAD_LEN: usize = 20;
const INDEX_ENTRY_LEN: usize = 64;
pub(crate) const FOOTER_LEN: usize = 40;
const NO_SEQUENCE: u64 = u64::MAX;

/// One event as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// When the event happened, milliseconds since the epoch.
    pub timestamp: i64,
    /// When the store accepted it, milliseconds since the epoch.
    pub ingestion_time: i64,
    /// Its place in the stream's ingestion order (0, 1, 2, ...).
    pub ord: u64,
    pub message: String,
}

/// How a block's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Events as encoded, in an active segment's record.
    Raw,
    /// LZ4 of the encoded events, in a sealed segment, with the CRC of the stored bytes.
    Lz4 { crc: u32 },
}

/// Where a run of consecutive events lies and what it holds, for reads to skip it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockMeta {
    /// The first ordinal of the file that holds the block.
    pub file: u64,
    pub sealed: bool,
    pub offset: u64,
    pub len: u32,
    pub encoding: Encoding,
    pub first_ord: u64,
    pub count: u32,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Bytes of the messages (as CloudWatch counts a batch: message bytes + 26 each).
    pub event_bytes: u64,
    pub max_ingestion: i64,
}

impl BlockMeta {
    pub(crate) fn end_ord(&self) -> u64 {
        self.first_ord + u64::from(self.count)
    }
}

pub(crate) fn header(magic: &[u8; 7]) -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..7].copy_from_slice(magic);
    h[7] = FORMAT_VERSION;
    h
}

pub(crate) fn check_header(bytes: &[u8], magic: &[u8; 7], path: &Path) -> Result<(), StoreError> {
    if bytes.len() < 8 || &bytes[..7] != magic {
        return Err(StoreError::corrupt(path, "not a log segment (bad magic)"));
    }
    if bytes[7] != FORMAT_VERSION {
        return Err(StoreError::corrupt(
            path,
            &format!("format version {} is not {FORMAT_VERSION}", bytes[7]),
        ));
    }
    Ok(())
}

/// CloudWatch's size of an event: its message's bytes plus 26.
pub fn event_size(message: &str) -> u64 {
    message.len() as u64 + 26
}

pub(crate) fn encode_event(out: &mut Vec<u8>, timestamp: i64, ingestion: i64, message: &str) {
    out.extend_from_slice(&timestamp.to_le_bytes());
    out.extend_from_slice(&ingestion.to_le_bytes());
    out.extend_from_slice(&(message.len() as u32).to_le_bytes());
    out.extend_from_slice(message.as_bytes());
}

pub(crate) fn decode_events(mut bytes: &[u8], first_ord: u64) -> Option<Vec<StoredEvent>> {
    let mut events = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < EVENT_HEAD_LEN {
            return None;
        }
        let timestamp = i64::from_le_bytes(bytes[0..8].try_into().ok()?);
        let ingestion_time = i64::from_le_bytes(bytes[8..16].try_into().ok()?);
        let len = u32::from_le_bytes(bytes[16..20].try_into().ok()?) as usize;
        let message = bytes.get(EVENT_HEAD_LEN..EVENT_HEAD_LEN + len)?;
        events.push(StoredEvent {
            timestamp,
            ingestion_time,
            ord: first_ord + events.len() as u64,
            message: String::from_utf8(message.to_vec()).ok()?,
        });
        bytes = &bytes[EVENT_HEAD_LEN + len..];
    }
    Some(events)
}

/// Frames one appended batch as an active segment's record, to be written at `offset`
/// of the file that starts at ordinal `file`; with the block it will be (`events` must not
/// be empty).
pub(crate) fn encode_batch(
    events: &[InputEvent],
    ingestion: i64,
    first_ord: u64,
    sequence: Option<u64>,
    (file, offset): (u64, u64),
) -> (Vec<u8>, BlockMeta) {
    let mut out = vec![0; FRAME_LEN];
    out.extend_from_slice(&first_ord.to_le_bytes());
    out.extend_from_slice(&sequence.unwrap_or(NO_SEQUENCE).to_le_bytes());
    for e in events {
        encode_event(&mut out, e.timestamp, ingestion, &e.message);
    }
    let payload_len = (out.len() - FRAME_LEN) as u32;
    let crc = crc32fast::hash(&out[FRAME_LEN..]);
    out[0..4].copy_from_slice(&payload_len.to_le_bytes());
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    let block = BlockMeta {
        file,
        sealed: false,
        offset: offset + (FRAME_LEN + RECORD_HEAD_LEN) as u64,
        len: payload_len - RECORD_HEAD_LEN as u32,
        encoding: Encoding::Raw,
        first_ord,
        count: events.len() as u32,
        min_ts: events.iter().map(|e| e.timestamp).min().unwrap_or_default(),
        max_ts: events.iter().map(|e| e.timestamp).max().unwrap_or_default(),
        event_bytes: events.iter().map(|e| event_size(&e.message)).sum(),
        max_ingestion: ingestion,
    };
    (out, block)
}

/// A record found in an active segment.
pub(crate) struct Record {
    pub block: BlockMeta,
    /// The producer sequence after this record's events, when it carried one.
    pub next_sequence: Option<u64>,
}

/// Reads the records of an active segment (`bytes` is the whole file, header included):
/// the intact ones, and the length of the file they fill (a torn tail starts there).
pub(crate) fn scan_records(bytes: &[u8], file: u64) -> (Vec<Record>, u64) {
    let mut records = Vec::new();
    let mut at = HEADER_LEN as usize;
    while let Some(record) = read_record(bytes, at, file) {
        at = (record.block.offset + u64::from(record.block.len)) as usize;
        records.push(record);
    }
    (records, at as u64)
}

fn read_record(bytes: &[u8], at: usize, file: u64) -> Option<Record> {
    let frame = bytes.get(at..at + FRAME_LEN)?;
    let len = u32::from_le_bytes(frame[0..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(frame[4..8].try_into().ok()?);
    let payload = bytes.get(at + FRAME_LEN..at + FRAME_LEN + len)?;
    if len < RECORD_HEAD_LEN || crc32fast::hash(payload) != crc {
        return None;
    }
    let first_ord = u64::from_le_bytes(payload[0..8].try_into().ok()?);
    let sequence = u64::from_le_bytes(payload[8..16].try_into().ok()?);
    let events_at = at + FRAME_LEN + RECORD_HEAD_LEN;
    let events = decode_events(&payload[RECORD_HEAD_LEN..], first_ord)?;
    let block = summarize(&events, file, false, events_at as u64, Encoding::Raw)?;
    let block = BlockMeta {
        len: (len - RECORD_HEAD_LEN) as u32,
        ..block
    };
    let next_sequence = (sequence != NO_SEQUENCE).then(|| sequence + events.len() as u64);
    Some(Record {
        block,
        next_sequence,
    })
}

/// The metadata of a block holding `events` (which must not be empty).
pub(crate) fn summarize(
    events: &[StoredEvent],
    file: u64,
    sealed: bool,
    offset: u64,
    encoding: Encoding,
) -> Option<BlockMeta> {
    let first = events.first()?;
    Some(BlockMeta {
        file,
        sealed,
        offset,
        len: 0,
        encoding,
        first_ord: first.ord,
        count: events.len() as u32,
        min_ts: events.iter().map(|e| e.timestamp).min()?,
        max_ts: events.iter().map(|e| e.timestamp).max()?,
        event_bytes: events.iter().map(|e| event_size(&e.message)).sum(),
        max_ingestion: events.iter().map(|e| e.ingestion_time).max()?,
    })
}

/// Decodes a block's stored bytes.
pub(crate) fn decode_block(block: &BlockMeta, stored: &[u8]) -> Option<Vec<StoredEvent>> {
    match block.encoding {
        Encoding::Raw => decode_events(stored, block.first_ord),
        Encoding::Lz4 { crc } => {
            if crc32fast::hash(stored) != crc {
                return None;
            }
            let raw = lz4_flex::decompress_size_prepended(stored).ok()?;
            decode_events(&raw, block.first_ord)
        }
    }
}

/// A sealed segment being built in memory.
pub(crate) struct SealedWriter {
    file: u64,
    pub bytes: Vec<u8>,
    pub blocks: Vec<BlockMeta>,
}

impl SealedWriter {
    pub(crate) fn new(file: u64) -> Self {
        SealedWriter {
            file,
            bytes: header(SEALED_MAGIC).to_vec(),
            blocks: Vec::new(),
        }
    }

    /// Adds one block of events (not empty).
    pub(crate) fn push_block(&mut self, events: &[StoredEvent]) {
        let mut raw = Vec::new();
        for e in events {
            encode_event(&mut raw, e.timestamp, e.ingestion_time, &e.message);
        }
        let stored = lz4_flex::compress_prepend_size(&raw);
        let crc = crc32fast::hash(&stored);
        let offset = self.bytes.len() as u64;
        if let Some(block) = summarize(events, self.file, true, offset, Encoding::Lz4 { crc }) {
            self.blocks.push(BlockMeta {
                len: stored.len() as u32,
                ..block
            });
            self.bytes.extend_from_slice(&stored);
        }
    }

    /// Appends the index and the footer; the bytes are then the whole file.
    pub(crate) fn finish(mut self, next_sequence: u64, end_ord: u64) -> (Vec<u8>, Vec<BlockMeta>) {
        let index_offset = self.bytes.len() as u64;
        let mut index = Vec::with_capacity(self.blocks.len() * INDEX_ENTRY_LEN);
        for b in &self.blocks {
            let crc = match b.encoding {
                Encoding::Lz4 { crc } => crc,
                Encoding::Raw => 0,
            };
            index.extend_from_slice(&b.offset.to_le_bytes());
            index.extend_from_slice(&b.len.to_le_bytes());
            index.extend_from_slice(&crc.to_le_bytes());
            index.extend_from_slice(&b.first_ord.to_le_bytes());
            index.extend_from_slice(&u64::from(b.count).to_le_bytes());
            index.extend_from_slice(&b.min_ts.to_le_bytes());
            index.extend_from_slice(&b.max_ts.to_le_bytes());
            index.extend_from_slice(&b.event_bytes.to_le_bytes());
            index.extend_from_slice(&b.max_ingestion.to_le_bytes());
        }
        self.bytes.extend_from_slice(&index);
        self.bytes.extend_from_slice(&index_offset.to_le_bytes());
        self.bytes
            .extend_from_slice(&(index.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&crc32fast::hash(&index).to_le_bytes());
        self.bytes.extend_from_slice(&next_sequence.to_le_bytes());
        self.bytes.extend_from_slice(&end_ord.to_le_bytes());
        self.bytes.extend_from_slice(&header(END_MAGIC));
        (self.bytes, self.blocks)
    }
}

/// What a sealed segment's footer says.
pub(crate) struct Footer {
    pub index_offset: u64,
    pub index_len: u32,
    index_crc: u32,
    pub next_sequence: u64,
    pub end_ord: u64,
}

pub(crate) fn read_footer(bytes: &[u8; FOOTER_LEN], path: &Path) -> Result<Footer, StoreError> {
    check_header(&bytes[32..40], END_MAGIC, path)?;
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
    Ok(Footer {
        index_offset: u64_at(0),
        index_len: u32_at(8),
        index_crc: u32_at(12),
        next_sequence: u64_at(16),
        end_ord: u64_at(24),
    })
}

pub(crate) fn read_index(
    index: &[u8],
    footer: &Footer,
    file: u64,
    path: &Path,
) -> Result<Vec<BlockMeta>, StoreError> {
    if crc32fast::hash(index) != footer.index_crc
        || !index.chunks_exact(INDEX_ENTRY_LEN).remainder().is_empty()
    {
        return Err(StoreError::corrupt(path, "index checksum mismatch"));
    }
    let blocks = index.chunks_exact(INDEX_ENTRY_LEN).map(|e| {
        let u64_at = |i: usize| u64::from_le_bytes(e[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(e[i..i + 4].try_into().unwrap_or_default());
        BlockMeta {
            file,
            sealed: true,
            offset: u64_at(0),
            len: u32_at(8),
            encoding: Encoding::Lz4 { crc: u32_at(12) },
            first_ord: u64_at(16),
            count: u64_at(24) as u32,
            min_ts: u64_at(32) as i64,
            max_ts: u64_at(40) as i64,
            event_bytes: u64_at(48),
            max_ingestion: u64_at(56) as i64,
        }
    });
    Ok(blocks.collect())
}
