//! Log event storage: the streams of every log group and their events, on disk under one
//! directory, behind [`LogStore`], a cheap-to-clone handle whose methods block (callers
//! run them on a blocking thread). Log groups themselves (creation, retention, tags) are
//! the control plane's; a group here is only the streams that share its name.
//!
//! Each stream is a directory of append-only segment files (see `format` for the bytes):
//! appends go to its active segment, synced by a group commit shared by concurrent
//! appenders, and a full active segment is sealed into LZ4 blocks indexed by time. Reads
//! see only synced events.

mod commit;
mod files;
mod filter;
mod format;
mod list;
mod read;
mod stream;
#[cfg(test)]
mod tests;
mod tokens;
mod types;

use commit::GroupCommit;
use files::FileCache;
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use stream::{Identity, Stream};

pub use format::event_size;
pub use types::*;

/// GetLogEvents' and FilterLogEvents' default page size, in events.
pub const DEFAULT_EVENTS: usize = 10_000;
/// The most a page of events holds, in bytes as [`event_size`] counts them.
pub const MAX_RESPONSE_BYTES: u64 = 1_048_576;
/// DescribeLogStreams' default page size.
pub const DEFAULT_STREAMS: usize = 50;
const STORE_FORMAT: u8 = 1;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The log stream does not exist (or was deleted meanwhile).
    #[error("The specified log stream does not exist.")]
    StreamNotFound,
    /// A log stream of that name exists in the group already.
    #[error("The specified log stream already exists.")]
    StreamExists,
    /// A pagination token this store did not hand out for this operation.
    #[error("The specified nextToken is not valid.")]
    InvalidToken,
    /// A file is not what this version writes: wrong magic, a newer format, a bad checksum.
    #[error("corrupt log file {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Reading, writing or syncing a file failed.
    #[error("log storage I/O: {0}")]
    Io(#[from] io::Error),
}

impl StoreError {
    pub(crate) fn corrupt(path: &Path, reason: &str) -> Self {
        StoreError::Corrupt {
            path: path.to_owned(),
            reason: reason.to_owned(),
        }
    }

    /// Whether trying again may succeed (I/O trouble may pass; the rest will not).
    pub fn is_retriable(&self) -> bool {
        matches!(self, StoreError::Io(_))
    }
}

type Groups = HashMap<(String, String), BTreeMap<String, Arc<Stream>>>;

/// The handle on a store's directory; clones share it.
#[derive(Clone)]
pub struct LogStore {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    limits: Limits,
    groups: RwLock<Groups>,
    next_id: AtomicU64,
    files: FileCache,
    commit: GroupCommit,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoreMeta {
    format: u8,
}

impl LogStore {
    /// Opens (or creates) the store in `dir` with the default [`Limits`].
    pub fn open(dir: impl AsRef<Path>) -> Result<LogStore, StoreError> {
        Self::open_with(dir, Limits::default())
    }

    /// Opens (or creates) the store in `dir`, recovering every stream.
    pub fn open_with(dir: impl AsRef<Path>, limits: Limits) -> Result<LogStore, StoreError> {
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(dir.join("streams"))?;
        let meta_path = dir.join("logstore.json");
        match fs::read(&meta_path) {
            Ok(bytes) => match serde_json::from_slice::<StoreMeta>(&bytes) {
                Ok(m) if m.format == STORE_FORMAT => {}
                Ok(m) => {
                    return Err(StoreError::corrupt(
                        &meta_path,
                        &format!("format {}", m.format),
                    ))
                }
                Err(e) => return Err(StoreError::corrupt(&meta_path, &e.to_string())),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let meta = serde_json::to_vec(&StoreMeta {
                    format: STORE_FORMAT,
                })
                .unwrap_or_default();
                fs::write(&meta_path, meta)?;
            }
            Err(e) => return Err(e.into()),
        }
        let _ = fs::remove_dir_all(dir.join("trash"));
        let mut groups = Groups::new();
        let mut max_id = 0;
        for entry in fs::read_dir(dir.join("streams"))? {
            let path = entry?.path();
            if path.extension().is_some() {
                let _ = fs::remove_dir_all(&path);
                continue;
            }
            let stream = Stream::open(path)?;
            let id = &stream.identity;
            max_id = max_id.max(id.id);
            groups
                .entry((id.region.clone(), id.group.clone()))
                .or_default()
                .insert(id.name.clone(), Arc::new(stream));
        }
        let shared = Shared {
            dir,
            files: FileCache::new(limits.max_open_files),
            limits,
            groups: RwLock::new(groups),
            next_id: AtomicU64::new(max_id + 1),
            commit: GroupCommit::default(),
        };
        Ok(LogStore {
            shared: Arc::new(shared),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Groups> {
        self.shared.groups.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Groups> {
        self.shared
            .groups
            .write()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn stream(&self, id: StreamId) -> Result<Arc<Stream>, StoreError> {
        let groups = self.read();
        let group = groups.get(&(id.group.region.to_owned(), id.group.name.to_owned()));
        group
            .and_then(|g| g.get(id.name))
            .cloned()
            .ok_or(StoreError::StreamNotFound)
    }

    /// The group's streams, by name.
    fn streams(&self, group: GroupId) -> Vec<Arc<Stream>> {
        let groups = self.read();
        let key = (group.region.to_owned(), group.name.to_owned());
        groups
            .get(&key)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Creates an empty stream, made at `now` (ms since the epoch).
    pub fn create_stream(&self, id: StreamId, now: i64) -> Result<(), StoreError> {
        if self.stream(id).is_ok() {
            return Err(StoreError::StreamExists);
        }
        // The directory is made (and synced) without holding up other streams' calls.
        let number = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        let key = (id.group.region.to_owned(), id.group.name.to_owned());
        let identity = Identity {
            format: format::FORMAT_VERSION,
            id: number,
            region: key.0.clone(),
            group: key.1.clone(),
            name: id.name.to_owned(),
            creation_time: now,
        };
        let dir = self
            .shared
            .dir
            .join("streams")
            .join(format!("{number:016x}"));
        let stream = Arc::new(Stream::create(dir, identity)?);
        let mut groups = self.write();
        let group = groups.entry(key).or_default();
        if group.contains_key(id.name) {
            drop(groups);
            // Another call created it meanwhile: this one's directory goes.
            self.remove_files(&stream)?;
            return Err(StoreError::StreamExists);
        }
        group.insert(id.name.to_owned(), stream);
        Ok(())
    }

    /// Deletes a stream and its events.
    pub fn delete_stream(&self, id: StreamId) -> Result<(), StoreError> {
        let stream = {
            let mut groups = self.write();
            let key = (id.group.region.to_owned(), id.group.name.to_owned());
            let group = groups.get_mut(&key).ok_or(StoreError::StreamNotFound)?;
            let stream = group.remove(id.name).ok_or(StoreError::StreamNotFound)?;
            if group.is_empty() {
                groups.remove(&key);
            }
            stream
        };
        self.remove_files(&stream)
    }

    /// Deletes every stream of a group; returns how many there were.
    pub fn delete_group(&self, group: GroupId) -> Result<usize, StoreError> {
        let key = (group.region.to_owned(), group.name.to_owned());
        let streams = self.write().remove(&key).unwrap_or_default();
        for stream in streams.values() {
            self.remove_files(stream)?;
        }
        Ok(streams.len())
    }

    fn remove_files(&self, stream: &Stream) -> Result<(), StoreError> {
        stream.mark_deleted();
        self.shared.files.evict_stream(stream.identity.id);
        let trash = self.shared.dir.join("trash");
        fs::create_dir_all(&trash)?;
        let doomed = trash.join(format!("{:016x}", stream.identity.id));
        fs::rename(stream.dir(), &doomed)?;
        fs::File::open(self.shared.dir.join("streams"))?.sync_all()?;
        Ok(fs::remove_dir_all(&doomed)?)
    }

    /// DescribeLogStreams.
    pub fn list_streams(
        &self,
        group: GroupId,
        req: &ListStreams,
    ) -> Result<StreamPage, StoreError> {
        list::list_streams(self.streams(group), req)
    }

    /// One stream's description.
    pub fn stream_info(&self, id: StreamId) -> Result<StreamInfo, StoreError> {
        Ok(StreamInfo::of(&*self.stream(id)?))
    }

    /// The bytes a group's streams take on disk (DescribeLogGroups' `storedBytes`).
    pub fn stored_bytes(&self, group: GroupId) -> u64 {
        self.streams(group).iter().map(|s| s.stored_bytes()).sum()
    }

    /// Appends a batch, ingested at `ingestion` (ms since the epoch), and returns once it
    /// is on disk. With `first_sequence`, event `i` is the producer's line
    /// `first_sequence + i`, and lines below the stream's next sequence are dropped.
    pub fn append(
        &self,
        id: StreamId,
        events: &[InputEvent],
        ingestion: i64,
        first_sequence: Option<u64>,
    ) -> Result<Appended, StoreError> {
        let stream = self.stream(id)?;
        let shared = &self.shared;
        let (pending, appended) = stream.append(
            &shared.files,
            &shared.limits,
            events,
            ingestion,
            first_sequence,
        )?;
        shared.commit.commit(pending)?;
        Ok(appended)
    }

    /// The producer sequence the stream expects next.
    pub fn next_sequence(&self, id: StreamId) -> Result<u64, StoreError> {
        Ok(self.stream(id)?.next_sequence())
    }

    /// GetLogEvents.
    pub fn get_events(&self, id: StreamId, req: &GetEvents) -> Result<EventsPage, StoreError> {
        read::get_events(&*self.stream(id)?, &self.shared.files, req)
    }

    /// FilterLogEvents (streams named but missing are skipped).
    pub fn filter_events(
        &self,
        group: GroupId,
        req: &FilterEvents,
    ) -> Result<FilterPage, StoreError> {
        let mut streams = self.streams(group);
        match req.streams {
            StreamSelector::All => {}
            StreamSelector::Names(names) => streams.retain(|s| names.contains(&s.identity.name)),
            StreamSelector::Prefix(p) => streams.retain(|s| s.identity.name.starts_with(p)),
        }
        filter::filter_events(&streams, &self.shared.files, req)
    }

    /// Visits every event of a group in `[start, end)` (for Logs Insights), stream by
    /// stream in ingestion order, until `visit` returns false.
    pub fn scan_group(
        &self,
        group: GroupId,
        start: i64,
        end: i64,
        visit: &mut dyn FnMut(&str, LogEvent) -> bool,
    ) -> Result<(), StoreError> {
        for stream in self.streams(group) {
            let name = &stream.identity.name;
            if !read::visit(&stream, &self.shared.files, start..end, &mut |e| {
                visit(name, e)
            })? {
                break;
            }
        }
        Ok(())
    }

    /// Retention: drops the group's events older than `cutoff` (ms since the epoch) and
    /// hides them from reads from now on; returns the bytes freed.
    pub fn expire(&self, group: GroupId, cutoff: i64) -> Result<u64, StoreError> {
        let mut freed = 0;
        for stream in self.streams(group) {
            freed += stream.expire(&self.shared.files, cutoff)?;
        }
        Ok(freed)
    }
}
