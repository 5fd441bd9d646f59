//! The bounded cache of open segment files: many streams, each with several files, share a
//! fixed number of file descriptors. The least recently used handle is closed first; a
//! handle in use elsewhere (an `Arc`) stays valid until its last user drops it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// A file of a stream: the stream's id, whether it is sealed, its first ordinal.
pub(crate) type FileKey = (u64, bool, u64);

pub(crate) struct FileCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Default)]
struct Lru {
    tick: u64,
    open: HashMap<FileKey, (Arc<File>, u64)>,
}

impl FileCache {
    pub(crate) fn new(capacity: usize) -> Self {
        FileCache {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Lru> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The open handle of `key`, opening `path` (read and write) when it is not open.
    pub(crate) fn get(&self, key: FileKey, path: &Path) -> io::Result<Arc<File>> {
        {
            let mut lru = self.lock();
            lru.tick += 1;
            let tick = lru.tick;
            if let Some((file, used)) = lru.open.get_mut(&key) {
                *used = tick;
                return Ok(file.clone());
            }
        }
        let file = Arc::new(OpenOptions::new().read(true).write(true).open(path)?);
        let mut lru = self.lock();
        lru.tick += 1;
        let tick = lru.tick;
        lru.open.insert(key, (file.clone(), tick));
        if lru.open.len() > self.capacity {
            let oldest = lru
                .open
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                lru.open.remove(&oldest);
            }
        }
        Ok(file)
    }

    /// Forgets a file about to be removed or replaced.
    pub(crate) fn evict(&self, key: FileKey) {
        self.lock().open.remove(&key);
    }

    /// Forgets every file of a stream.
    pub(crate) fn evict_stream(&self, stream: u64) {
        self.lock().open.retain(|k, _| k.0 != stream);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().open.len()
    }
}
