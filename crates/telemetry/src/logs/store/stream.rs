//! One log stream on disk and in memory: its directory, its recovery on open (`recover`:
//! cutting a torn tail), appends to its active segment with producer-sequence dedupe, sealing a full
//! active segment into compressed blocks, retention, and the list of blocks reads start
//! from. Files of a stream's directory:
//! `stream.json` (who it is), `state.json` (what must survive emptying its segments),
//! `active-<ord>.log` (at most one once open) and `seg-<ord>.seg` (sealed).

mod recover;

use super::commit::Pending;
use super::files::FileCache;
use super::format::{
    self, encode_batch, event_size, BlockMeta, SealedWriter, StoredEvent, ACTIVE_MAGIC, HEADER_LEN,
};
use super::{Appended, InputEvent, Limits, StoreError};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// `stream.json`: written once, when the stream is created.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Identity {
    pub format: u8,
    pub id: u64,
    pub region: String,
    pub group: String,
    pub name: String,
    pub creation_time: i64,
}

/// `state.json`: floors that hold even when every segment is gone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Floors {
    format: u8,
    next_ord: u64,
    next_sequence: u64,
    /// Events older than this are expired.
    cutoff: Option<i64>,
}

pub(crate) struct Stream {
    pub identity: Identity,
    dir: PathBuf,
    inner: Mutex<Inner>,
}

struct Inner {
    /// Blocks of sealed segments then records of the active one, by ordinal.
    blocks: Vec<BlockMeta>,
    /// First ordinal (the name) of the active segment and its length.
    active: u64,
    active_len: u64,
    sealed_files: Vec<(u64, u64)>,
    next_ord: u64,
    /// Ordinals below this are synced and visible to reads.
    durable: u64,
    next_sequence: u64,
    cutoff: Option<i64>,
    deleted: bool,
    /// A rotation of the active segment began and did not finish: nothing may be
    /// appended until it does (the old segment may already be counted as sealed).
    rotating: bool,
    /// The live events' time span, kept up to date for DescribeLogStreams.
    span: Span,
}

/// First and last event timestamps and the last ingestion time of the events kept.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    first: Option<i64>,
    last: Option<i64>,
    ingestion: Option<i64>,
}

impl Span {
    fn add(&mut self, block: &BlockMeta, cutoff: Option<i64>) {
        let cutoff = cutoff.unwrap_or(i64::MIN);
        if block.max_ts >= cutoff {
            let first = block.min_ts.max(cutoff);
            self.first = Some(self.first.map_or(first, |f| f.min(first)));
            self.last = self.last.max(Some(block.max_ts));
            self.ingestion = self.ingestion.max(Some(block.max_ingestion));
        }
    }
}

/// What reads need of a stream at one moment.
pub(crate) struct Snapshot {
    pub blocks: Vec<BlockMeta>,
    pub durable: u64,
    pub cutoff: Option<i64>,
}

/// What DescribeLogStreams says of a stream.
pub(crate) struct Summary {
    pub first_event: Option<i64>,
    pub last_event: Option<i64>,
    pub last_ingestion: Option<i64>,
    pub stored_bytes: u64,
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&tmp)?;
    io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

fn json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec_pretty(value).unwrap_or_default()
}

fn active_name(ord: u64) -> String {
    format!("active-{ord:020}.log")
}

fn sealed_name(ord: u64) -> String {
    format!("seg-{ord:020}.seg")
}

impl Stream {
    /// Makes the directory of a new stream (under a temporary name, then renamed).
    pub(crate) fn create(dir: PathBuf, identity: Identity) -> Result<Stream, StoreError> {
        let tmp = dir.with_extension("new");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        write_atomically(&tmp, "stream.json", &json(&identity))?;
        fs::write(tmp.join(active_name(0)), format::header(ACTIVE_MAGIC))?;
        File::open(tmp.join(active_name(0)))?.sync_all()?;
        fs::rename(&tmp, &dir)?;
        if let Some(parent) = dir.parent() {
            File::open(parent)?.sync_all()?;
        }
        Ok(Stream {
            identity,
            dir,
            inner: Mutex::new(Inner::empty()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn path(&self, sealed: bool, ord: u64) -> PathBuf {
        self.dir.join(if sealed {
            sealed_name(ord)
        } else {
            active_name(ord)
        })
    }

    /// Writes a batch to the active segment (unsynced): the caller commits the result.
    pub(crate) fn append(
        self: &Arc<Self>,
        files: &FileCache,
        limits: &Limits,
        events: &[InputEvent],
        ingestion: i64,
        first_sequence: Option<u64>,
    ) -> Result<(Pending, Appended), StoreError> {
        let mut inner = self.lock();
        if inner.deleted {
            return Err(StoreError::StreamNotFound);
        }
        if inner.rotating {
            self.rotate_active(&mut inner, files)?;
        }
        let skip = match first_sequence {
            Some(first) => (inner.next_sequence.saturating_sub(first) as usize).min(events.len()),
            None => 0,
        };
        let kept = &events[skip..];
        let mut pending = Pending {
            stream: self.clone(),
            file: None,
            end_ord: inner.next_ord,
        };
        if !kept.is_empty() {
            let sequence = first_sequence.map(|f| f + skip as u64);
            let at = (inner.active, inner.active_len);
            let (record, block) = encode_batch(kept, ingestion, inner.next_ord, sequence, at);
            let key = (self.identity.id, false, inner.active);
            let file = files.get(key, &self.path(false, inner.active))?;
            if let Err(e) = file.write_all_at(&record, inner.active_len) {
                let _ = file.set_len(inner.active_len);
                return Err(e.into());
            }
            inner.push_record(block, sequence.map(|s| s + kept.len() as u64));
            inner.active_len += record.len() as u64;
            pending.file = Some(file);
            pending.end_ord = inner.next_ord;
            if inner.active_len >= limits.segment_bytes
                || inner.active_records() >= limits.segment_records
            {
                // The batch is written; a seal that fails is tried again on the next
                // append, and the commit reports trouble with the disk.
                let _ = self.seal(&mut inner, files, limits);
            }
        } else if inner.durable < inner.next_ord {
            // A batch re-sent while its first sending is still being synced: wait for
            // that sync too.
            let key = (self.identity.id, false, inner.active);
            pending.file = Some(files.get(key, &self.path(false, inner.active))?);
        }
        let appended = Appended {
            stored: kept.len(),
            next_sequence: inner.next_sequence,
        };
        Ok((pending, appended))
    }

    /// Seals the active segment into compressed blocks and starts a new one.
    fn seal(
        &self,
        inner: &mut Inner,
        files: &FileCache,
        limits: &Limits,
    ) -> Result<(), StoreError> {
        let start = inner
            .blocks
            .iter()
            .position(|b| !b.sealed)
            .unwrap_or(inner.blocks.len());
        let mut writer = SealedWriter::new(inner.active);
        let mut chunk: Vec<StoredEvent> = Vec::new();
        let mut chunk_bytes = 0u64;
        for block in &inner.blocks[start..] {
            for event in self.read_block(files, block)? {
                chunk_bytes += event_size(&event.message);
                chunk.push(event);
                if chunk_bytes >= limits.block_bytes {
                    writer.push_block(&chunk);
                    chunk.clear();
                    chunk_bytes = 0;
                }
            }
        }
        if !chunk.is_empty() {
            writer.push_block(&chunk);
        }
        let (bytes, blocks) = writer.finish(inner.next_sequence, inner.next_ord);
        let name = sealed_name(inner.active);
        write_atomically(&self.dir, &name, &bytes)?;
        inner.blocks.truncate(start);
        inner.blocks.extend(blocks);
        inner.sealed_files.push((inner.active, bytes.len() as u64));
        self.rotate_active(inner, files)
    }

    /// Starts an empty active segment at the next ordinal and removes the old one. Until
    /// that is done, appends retry it first: one that wrote to the old segment after its
    /// successor's ordinal was recorded would be lost on the next open.
    fn rotate_active(&self, inner: &mut Inner, files: &FileCache) -> Result<(), StoreError> {
        inner.rotating = true;
        let old = inner.active;
        let new = inner.next_ord;
        if new != old {
            let path = self.path(false, new);
            fs::write(&path, format::header(ACTIVE_MAGIC))?;
            File::open(&path)?.sync_all()?;
        }
        self.write_floors(inner)?;
        if new != old {
            files.evict((self.identity.id, false, old));
            match fs::remove_file(self.path(false, old)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        } else {
            let file = files.get((self.identity.id, false, old), &self.path(false, old))?;
            file.set_len(HEADER_LEN)?;
            file.sync_all()?;
        }
        inner.blocks.retain(|b| b.sealed);
        inner.active = new;
        inner.active_len = HEADER_LEN;
        inner.durable = inner.next_ord;
        inner.rotating = false;
        Ok(())
    }

    fn write_floors(&self, inner: &Inner) -> Result<(), StoreError> {
        let floors = Floors {
            format: format::FORMAT_VERSION,
            next_ord: inner.next_ord,
            next_sequence: inner.next_sequence,
            cutoff: inner.cutoff,
        };
        Ok(write_atomically(&self.dir, "state.json", &json(&floors))?)
    }

    /// Makes ordinals below `end_ord` visible (their record is synced).
    pub(crate) fn publish(&self, end_ord: u64) {
        let mut inner = self.lock();
        inner.durable = inner.durable.max(end_ord);
    }

    /// Drops events older than `cutoff`: whole sealed segments, the active segment when
    /// all of it is older; reads hide the rest. Returns the bytes freed.
    pub(crate) fn expire(&self, files: &FileCache, cutoff: i64) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        if inner.deleted || inner.cutoff.is_some_and(|c| c >= cutoff) {
            return Ok(0);
        }
        inner.cutoff = Some(cutoff);
        let before = inner.stored_bytes();
        let mut dropped = Vec::new();
        for &(ord, _) in &inner.sealed_files {
            let in_file = inner.blocks.iter().filter(|b| b.sealed && b.file == ord);
            if in_file.map(|b| b.max_ts).max().is_none_or(|m| m < cutoff) {
                dropped.push(ord);
            }
        }
        let active_old = inner
            .blocks
            .iter()
            .filter(|b| !b.sealed)
            .all(|b| b.max_ts < cutoff);
        if active_old && inner.durable == inner.next_ord && inner.active_len > HEADER_LEN {
            self.rotate_active(&mut inner, files)?;
        } else {
            self.write_floors(&inner)?;
        }
        for ord in dropped {
            files.evict((self.identity.id, true, ord));
            fs::remove_file(self.path(true, ord))?;
            inner.blocks.retain(|b| !(b.sealed && b.file == ord));
            inner.sealed_files.retain(|f| f.0 != ord);
        }
        inner.respan();
        Ok(before - inner.stored_bytes())
    }

    /// Marks the stream deleted (appends fail from now on); the caller removes its files.
    pub(crate) fn mark_deleted(&self) {
        self.lock().deleted = true;
    }

    pub(crate) fn is_deleted(&self) -> bool {
        self.lock().deleted
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn durable(&self) -> u64 {
        self.lock().durable
    }

    pub(crate) fn next_sequence(&self) -> u64 {
        self.lock().next_sequence
    }

    /// The blocks that may hold events with timestamps in `[lo_ts, hi_ts)` and ordinals
    /// from `from_ord`.
    pub(crate) fn snapshot(&self, lo_ts: i64, hi_ts: i64, from_ord: u64) -> Snapshot {
        let inner = self.lock();
        let durable = inner.durable;
        let first = inner.blocks.partition_point(|b| b.end_ord() <= from_ord);
        let blocks = inner.blocks[first..]
            .iter()
            .filter(|b| b.first_ord < durable && b.max_ts >= lo_ts && b.min_ts < hi_ts)
            .cloned()
            .collect();
        Snapshot {
            blocks,
            durable,
            cutoff: inner.cutoff,
        }
    }

    pub(crate) fn summary(&self) -> Summary {
        let inner = self.lock();
        Summary {
            first_event: inner.span.first,
            last_event: inner.span.last,
            last_ingestion: inner.span.ingestion,
            stored_bytes: inner.stored_bytes(),
        }
    }

    pub(crate) fn stored_bytes(&self) -> u64 {
        self.lock().stored_bytes()
    }

    /// Reads and decodes one block.
    pub(crate) fn read_block(
        &self,
        files: &FileCache,
        block: &BlockMeta,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let path = self.path(block.sealed, block.file);
        let file = files.get((self.identity.id, block.sealed, block.file), &path)?;
        let mut stored = vec![0; block.len as usize];
        file.read_exact_at(&mut stored, block.offset)?;
        format::decode_block(block, &stored)
            .ok_or_else(|| StoreError::corrupt(&path, &format!("bad block at {}", block.offset)))
    }
}

impl Inner {
    fn empty() -> Inner {
        Inner {
            blocks: Vec::new(),
            active: 0,
            active_len: HEADER_LEN,
            sealed_files: Vec::new(),
            next_ord: 0,
            durable: 0,
            next_sequence: 0,
            cutoff: None,
            deleted: false,
            rotating: false,
            span: Span::default(),
        }
    }

    fn stored_bytes(&self) -> u64 {
        self.sealed_files.iter().map(|f| f.1).sum::<u64>() + self.active_len
    }

    fn active_records(&self) -> usize {
        self.blocks.iter().rev().take_while(|b| !b.sealed).count()
    }

    fn push_record(&mut self, block: BlockMeta, next_sequence: Option<u64>) {
        self.next_ord = block.end_ord();
        if let Some(s) = next_sequence {
            self.next_sequence = self.next_sequence.max(s);
        }
        self.span.add(&block, self.cutoff);
        self.blocks.push(block);
    }

    /// Recounts the span (after loading, or expiring events).
    fn respan(&mut self) {
        self.span = Span::default();
        for block in &self.blocks {
            self.span.add(block, self.cutoff);
        }
    }
}
