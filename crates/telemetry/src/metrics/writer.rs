//! The one writer of the metric store: a thread that takes puts from a queue, appends all
//! waiting ones to the log in one write and one fsync (group commit), applies them to
//! memory and only then answers each; every minute it drops expired buckets, and when
//! the log has grown past twice what it last held (and past [`COMPACT_MIN`]) it rewrites
//! it from memory (write a temporary file, fsync, rename, fsync the directory).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::oneshot;

use super::log::{self, Entry, LoggedPoint, PointKind};
use super::series::expire;
use super::{read, write, Datum, Index, MetricsError};

/// The log is not rewritten below this size.
pub const COMPACT_MIN: u64 = 64 << 20;
/// Puts committed together at most.
const MAX_BATCH: usize = 1024;
/// Points per record when compacting.
const CHUNK: usize = 4096;

enum Request {
    Put {
        region: String,
        data: Vec<Datum>,
        reply: oneshot::Sender<Result<(), MetricsError>>,
    },
    Compact(oneshot::Sender<Result<(), MetricsError>>),
}

/// The queue to the writer thread; the thread ends when every handle is gone.
#[derive(Clone)]
pub(crate) struct Handle {
    tx: mpsc::Sender<Request>,
}

impl Handle {
    /// Replay the log in `dir` (when there is one) into `index` and start the writer.
    pub fn start(dir: Option<&Path>, index: Arc<RwLock<Index>>) -> Result<Handle, MetricsError> {
        let log = match dir {
            Some(d) => Some(Log::open(d, &mut write(&index))?),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("metric-writer".into())
            .spawn(move || run(rx, log, index))?;
        Ok(Handle { tx })
    }

    pub async fn put(&self, region: String, data: Vec<Datum>) -> Result<(), MetricsError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Put {
                region,
                data,
                reply,
            })
            .map_err(|_| MetricsError::Closed)?;
        answer.await.map_err(|_| MetricsError::Closed)?
    }

    pub async fn compact(&self) -> Result<(), MetricsError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Request::Compact(reply))
            .map_err(|_| MetricsError::Closed)?;
        answer.await.map_err(|_| MetricsError::Closed)?
    }
}

/// The open log file.
struct Log {
    dir: PathBuf,
    file: File,
    len: u64,
    /// The size after the last rewrite (or open).
    live: u64,
}

fn wall_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Log {
    fn path(dir: &Path) -> PathBuf {
        dir.join("metrics.log")
    }

    /// Open the log in `dir`, replay it into `index` and cut off a torn tail.
    fn open(dir: &Path, index: &mut Index) -> Result<Log, MetricsError> {
        std::fs::create_dir_all(dir)?;
        let _ = std::fs::remove_file(dir.join("metrics.log.tmp"));
        let path = Log::path(dir);
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut bytes)?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
        let len = if bytes.len() < log::HEADER_LEN {
            // New, or torn before its header was whole: start it afresh.
            file.set_len(0)?;
            file.write_all(&log::header())?;
            file.sync_all()?;
            sync_dir(dir)?;
            log::HEADER_LEN as u64
        } else {
            log::check_header(&bytes).map_err(MetricsError::Io)?;
            let (entries, whole) = log::read_records(&bytes[log::HEADER_LEN..]);
            let applied = replay(index, entries);
            let whole = (log::HEADER_LEN + whole.min(applied)) as u64;
            if whole < bytes.len() as u64 {
                file.set_len(whole)?;
                file.sync_all()?;
            }
            whole
        };
        expire(index, wall_clock());
        Ok(Log {
            dir: dir.to_path_buf(),
            file,
            len,
            live: len,
        })
    }

    fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let r = self
            .file
            .write_all(bytes)
            .and_then(|_| self.file.sync_data());
        match r {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Cut off whatever part was written, so the log stays whole.
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    /// Rewrite the log from memory.
    fn compact(&mut self, index: &Index) -> std::io::Result<()> {
        let mut out = log::header();
        for (id, s) in index.streams.iter().enumerate() {
            log::write_stream(&mut out, id as u32, &s.key);
            for (kind, buckets) in [
                (PointKind::HighBucket, &s.high),
                (PointKind::StandardBucket, &s.standard),
            ] {
                for chunk in buckets.0.chunks(CHUNK) {
                    let points: Vec<LoggedPoint> = chunk
                        .iter()
                        .map(|(ts, set)| LoggedPoint {
                            stream: id as u32,
                            kind,
                            timestamp: *ts,
                            set: *set,
                        })
                        .collect();
                    log::write_points(&mut out, &points);
                }
            }
        }
        let tmp = self.dir.join("metrics.log.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(&tmp, Log::path(&self.dir))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new().append(true).open(Log::path(&self.dir))?;
        self.len = out.len() as u64;
        self.live = self.len;
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Apply replayed records; answers the offset past the last consistent one (a stream
/// record out of order or a point of an unknown stream ends the replay).
fn replay(index: &mut Index, entries: Vec<(Entry, usize)>) -> usize {
    let mut applied = 0;
    for (e, end) in entries {
        match &e {
            Entry::Stream(id, key) => {
                if *id as usize != index.streams.len() {
                    break;
                }
                index.stream_id(key);
            }
            Entry::Points(points) => {
                if points
                    .iter()
                    .any(|p| p.stream as usize >= index.streams.len())
                {
                    break;
                }
                for p in points {
                    apply(index, p);
                }
            }
        }
        applied = end;
    }
    applied
}

fn apply(index: &mut Index, p: &LoggedPoint) {
    let s = &mut index.streams[p.stream as usize];
    match p.kind {
        PointKind::Datum => s.add(p.timestamp, &p.set, false),
        PointKind::HighDatum => s.add(p.timestamp, &p.set, true),
        PointKind::HighBucket => {
            s.high.add(p.timestamp, &p.set);
            s.last = s.last.max(p.timestamp);
        }
        PointKind::StandardBucket => {
            s.standard.add(p.timestamp, &p.set);
            s.last = s.last.max(p.timestamp);
        }
    }
}

fn run(rx: mpsc::Receiver<Request>, mut log: Option<Log>, index: Arc<RwLock<Index>>) {
    let mut last_expiry = wall_clock();
    loop {
        let first = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(r) => r,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                last_expiry = wall_clock();
                expire(&mut write(&index), last_expiry);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        let mut puts = Vec::new();
        let mut compactions = Vec::new();
        let mut next = Some(first);
        while let Some(r) = next.take() {
            match r {
                Request::Put {
                    region,
                    data,
                    reply,
                } => puts.push((region, data, reply)),
                Request::Compact(reply) => compactions.push(reply),
            }
            if puts.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !puts.is_empty() {
            commit(&mut log, &index, puts);
        }
        let now = wall_clock();
        if now - last_expiry >= 60 {
            last_expiry = now;
            expire(&mut write(&index), now);
        }
        let grown = log
            .as_ref()
            .is_some_and(|l| l.len > COMPACT_MIN && l.len > 2 * l.live);
        if grown || !compactions.is_empty() {
            let r = match log.as_mut() {
                Some(l) => l.compact(&read(&index)).map_err(MetricsError::from),
                None => Ok(()),
            };
            if let Err(e) = &r {
                tracing::warn!(error = %e, "metric store: rewriting the log failed");
            }
            for reply in compactions {
                let _ = reply.send(r.clone());
            }
        }
    }
}

type Put = (
    String,
    Vec<Datum>,
    oneshot::Sender<Result<(), MetricsError>>,
);

/// Log a batch of puts with one fsync, apply them, answer them.
fn commit(log: &mut Option<Log>, index: &RwLock<Index>, puts: Vec<Put>) {
    let mut bytes = Vec::new();
    let mut points = Vec::new();
    let first_new = {
        let mut idx = write(index);
        let first_new = idx.streams.len();
        for (region, data, _) in &puts {
            for d in data {
                let unit = d.unit.as_deref().unwrap_or("None");
                let (id, new) = idx.stream_id_of(region, &d.metric, unit);
                if new {
                    log::write_stream(&mut bytes, id, &idx.streams[id as usize].key);
                }
                points.push(LoggedPoint {
                    stream: id,
                    kind: if d.high_resolution {
                        PointKind::HighDatum
                    } else {
                        PointKind::Datum
                    },
                    timestamp: d.timestamp,
                    set: d.set,
                });
            }
        }
        first_new
    };
    log::write_points(&mut bytes, &points);
    let result = match log.as_mut() {
        Some(l) => l.append(&bytes).map_err(MetricsError::from),
        None => Ok(()),
    };
    {
        let mut idx = write(index);
        match &result {
            Ok(()) => points.iter().for_each(|p| apply(&mut idx, p)),
            Err(_) => idx.truncate(first_new),
        }
    }
    for (_, _, reply) in puts {
        let _ = reply.send(result.clone());
    }
}
