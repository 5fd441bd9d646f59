//! One stream's lines between the reader and the server: a short queue in memory, then a
//! spool file under `DATA_DIR/log-spool/` when the server falls behind, bounded for the
//! whole agent by one byte [`Budget`] (`--log-buffer-bytes`), then the stream's mode:
//!
//! - blocking: [`Push::Full`]; the reader stops reading the container's log until there is
//!   room again (Docker's json-file keeps what it did not read, so nothing is lost);
//! - non-blocking: lines past the spool are kept in memory up to the container's
//!   `max-buffer-size`, and the oldest of them are dropped beyond it
//!   ([`Push::Dropped`], counted).
//!
//! Order is kept: memory, then the file, then the overflow; a line is only put in memory
//! while nothing waits behind it. The spool is a buffer, not a journal: a restarted agent
//! deletes it and reads Docker's log again from the confirmed position. Its file I/O is
//! plain buffered appends and reads under the stream's lock, done on the async thread:
//! short, and only while the server is behind.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::awslogs::Mode;
use super::position::Resume;

/// Bytes of lines a stream keeps in memory before spooling: two full batches.
pub(crate) const MEMORY_BYTES: usize = 512 * 1024;
/// What CloudWatch Logs counts for each event besides its message.
pub(crate) const EVENT_OVERHEAD: usize = 26;

/// A numbered line, ready to ship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Line {
    #[serde(rename = "s")]
    pub seq: u64,
    #[serde(rename = "t")]
    pub timestamp_ms: i64,
    #[serde(rename = "k")]
    pub key_ns: i64,
    #[serde(rename = "m")]
    pub message: String,
    /// Where reading resumes after this line.
    #[serde(rename = "r")]
    pub resume: Resume,
}

impl Line {
    /// Its size as CloudWatch Logs counts it.
    pub(crate) fn size(&self) -> usize {
        self.message.len() + EVENT_OVERHEAD
    }
}

/// The agent's spool bound, shared by every stream.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: u64,
    used: AtomicU64,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Self {
        Budget {
            limit,
            used: AtomicU64::new(0),
        }
    }

    fn take(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + n <= self.limit).then_some(u + n)
            })
            .is_ok()
    }

    fn give(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                Some(u.saturating_sub(n))
            });
    }

    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// What became of a pushed line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Push {
    Queued,
    /// Blocking and no room: the line comes back; push it again later.
    Full(Box<Line>),
    /// Non-blocking and no room: queued, and these older lines (count, bytes) dropped.
    Dropped(u64, u64),
}

/// One stream's queue.
pub(crate) struct Spool {
    path: PathBuf,
    mem: VecDeque<Line>,
    mem_bytes: usize,
    file: Option<SpoolFile>,
    overflow: VecDeque<Line>,
    overflow_bytes: usize,
}

/// The spooled lines of one stream: appended at the end, read from the front.
struct SpoolFile {
    writer: BufWriter<File>,
    reader: BufReader<File>,
    /// Lines and budget bytes in the file not read back yet.
    lines: usize,
    bytes: u64,
}

impl Spool {
    /// A queue spooling to `path` when it must.
    pub(crate) fn new(path: PathBuf) -> Self {
        Spool {
            path,
            mem: VecDeque::new(),
            mem_bytes: 0,
            file: None,
            overflow: VecDeque::new(),
            overflow_bytes: 0,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.mem.is_empty() && self.spooled() == 0 && self.overflow.is_empty()
    }

    fn spooled(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.lines)
    }

    /// Lines and bytes waiting in memory (what the next batch is cut from).
    pub(crate) fn ready(&self) -> (usize, usize) {
        (self.mem.len(), self.mem_bytes)
    }

    /// Whether more lines wait than memory shows (spooled or overflowing).
    pub(crate) fn backlog(&self) -> bool {
        self.spooled() > 0 || !self.overflow.is_empty()
    }

    pub(crate) fn push(&mut self, line: Line, mode: Mode, budget: &Budget) -> Push {
        if !self.backlog() && self.mem_bytes < MEMORY_BYTES {
            self.mem_bytes += line.size();
            self.mem.push_back(line);
            return Push::Queued;
        }
        if self.overflow.is_empty() {
            match self.spool(&line, budget) {
                Ok(true) => return Push::Queued,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "log spool write failed")
                }
            }
        }
        match mode {
            Mode::Blocking => Push::Full(Box::new(line)),
            Mode::NonBlocking { max_buffer_bytes } => {
                self.overflow_bytes += line.size();
                self.overflow.push_back(line);
                let (mut lines, mut bytes) = (0, 0);
                while self.overflow_bytes > max_buffer_bytes && self.overflow.len() > 1 {
                    if let Some(old) = self.overflow.pop_front() {
                        self.overflow_bytes -= old.size();
                        lines += 1;
                        bytes += old.size() as u64;
                    }
                }
                if lines == 0 {
                    Push::Queued
                } else {
                    Push::Dropped(lines, bytes)
                }
            }
        }
    }

    /// Append `line` to the spool file if the budget allows; whether it did.
    fn spool(&mut self, line: &Line, budget: &Budget) -> std::io::Result<bool> {
        let mut encoded = serde_json::to_vec(line).map_err(std::io::Error::other)?;
        encoded.push(b'\n');
        let n = encoded.len() as u64;
        if !budget.take(n) {
            return Ok(false);
        }
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => match SpoolFile::create(&self.path) {
                Ok(f) => self.file.insert(f),
                Err(e) => {
                    budget.give(n);
                    return Err(e);
                }
            },
        };
        if let Err(e) = file.writer.write_all(&encoded) {
            budget.give(n);
            return Err(e);
        }
        file.lines += 1;
        file.bytes += n;
        Ok(true)
    }

    /// Up to `max_lines` lines / `max_bytes` bytes of consecutive numbers from the front,
    /// refilling memory from the spool file and the overflow first.
    pub(crate) fn take(
        &mut self,
        max_lines: usize,
        max_bytes: usize,
        budget: &Budget,
    ) -> Vec<Line> {
        self.refill(budget);
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some(front) = self.mem.front() {
            let full =
                out.len() >= max_lines || (bytes + front.size() > max_bytes && !out.is_empty());
            // A batch is numbered by its first line: lines dropped in between end it.
            let gap = out.last().is_some_and(|l: &Line| l.seq + 1 != front.seq);
            if full || gap {
                break;
            }
            let line = self.mem.pop_front().expect("front exists");
            self.mem_bytes -= line.size();
            bytes += line.size();
            out.push(line);
        }
        out
    }

    /// Move lines forward into memory while there is room.
    fn refill(&mut self, budget: &Budget) {
        while self.mem_bytes < MEMORY_BYTES && self.spooled() > 0 {
            match self.file.as_mut().map(|f| f.read_line(budget)) {
                Some(Ok(Some(line))) => {
                    self.mem_bytes += line.size();
                    self.mem.push_back(line);
                }
                Some(Ok(None)) | None => break,
                Some(Err(e)) => {
                    tracing::warn!(path = %self.path.display(), error = %e, "log spool unreadable; its lines are dropped");
                    self.discard_file(budget);
                    break;
                }
            }
        }
        if self.spooled() == 0 {
            self.discard_file(budget);
            while self.mem_bytes < MEMORY_BYTES {
                let Some(line) = self.overflow.pop_front() else {
                    break;
                };
                self.overflow_bytes -= line.size();
                self.mem_bytes += line.size();
                self.mem.push_back(line);
            }
        }
    }

    fn discard_file(&mut self, budget: &Budget) {
        if let Some(f) = self.file.take() {
            budget.give(f.bytes);
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// Give the budget back and delete the file (the stream is done).
    pub(crate) fn close(&mut self, budget: &Budget) {
        self.discard_file(budget);
    }
}

impl SpoolFile {
    fn create(path: &PathBuf) -> std::io::Result<SpoolFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let write = File::options()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        let read = File::open(path)?;
        Ok(SpoolFile {
            writer: BufWriter::new(write),
            reader: BufReader::new(read),
            lines: 0,
            bytes: 0,
        })
    }

    /// The oldest spooled line, its bytes given back to the budget.
    fn read_line(&mut self, budget: &Budget) -> std::io::Result<Option<Line>> {
        self.writer.flush()?;
        let mut buf = String::new();
        let n = self.reader.read_line(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.lines -= 1;
        self.bytes = self.bytes.saturating_sub(n as u64);
        budget.give(n as u64);
        if self.lines == 0 {
            // Empty again: start the file over instead of letting it grow.
            self.writer.get_mut().set_len(0)?;
            self.writer.get_mut().seek(SeekFrom::Start(0))?;
            self.reader.seek(SeekFrom::Start(0))?;
        }
        serde_json::from_str(&buf)
            .map(Some)
            .map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests;
