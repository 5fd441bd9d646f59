//! The embedded default backend: one sqlite database file in WAL mode.
//!
//! Writes go to a single writer thread that group-commits everything queued ([`writer`]);
//! reads use a small pool of read connections on tokio's blocking pool ([`reader`]); the
//! format lives in [`schema`]. A write is fsynced (`synchronous=FULL`) before the caller
//! hears back, so an acknowledged write survives a crash. Watches replay the `log` table
//! and then follow the writer's broadcast (see [`crate::shared`]). The log keeps the newest
//! [`SqliteOptions::retain_revisions`] revisions; older watch starts get `Compacted`.
//! Values are not cached in memory. One process at a time may open a database file.

mod files;
mod reader;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{broadcast, oneshot};

use self::reader::{Log, Reader};
use self::writer::{Request, Writer, WriterConfig};
use crate::shared::{self, Broadcast};
use crate::{
    KeyValue, LeaseId, ProgressStream, RangePage, RangeRequest, Result, Revision, Store,
    StoreError, Txn, TxnResult, WatchStream,
};

pub use self::schema::FORMAT_VERSION;

/// Tuning of a [`SqliteStore`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// How many of the newest revisions the log keeps for watch replay (at least 1).
    pub retain_revisions: i64,
    /// Most write requests applied in one sqlite transaction (one fsync).
    pub max_batch: usize,
    /// Most read connections open at once.
    pub read_connections: usize,
    /// Capacity of the live event broadcast, in write batches; a watcher further behind
    /// goes back to replaying the log.
    pub broadcast_capacity: usize,
    /// Roughly how many log rows a replaying watch reads at a time.
    pub replay_chunk: usize,
    /// The data directory held a store before: refuse to start over on a missing or
    /// empty database file.
    pub expect_existing: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            retain_revisions: 100_000,
            max_batch: 256,
            read_connections: 4,
            broadcast_capacity: 256,
            replay_chunk: 1000,
            expect_existing: false,
        }
    }
}

/// The sqlite-backed [`Store`]. Dropping it stops the writer thread after the queued
/// writes; [`SqliteStore::close`] does the same and waits for it.
pub struct SqliteStore {
    requests: mpsc::Sender<Request>,
    reader: Arc<Reader>,
    /// Taken on close, so watches end.
    events: Mutex<Option<Broadcast>>,
    revision: Arc<AtomicI64>,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with default options.
    ///
    /// Async because it does file I/O (on the blocking pool); needs a tokio runtime.
    /// Fails with a backend error when the file is not a store of [`FORMAT_VERSION`].
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the database at `path` with the given options.
    pub async fn open_with(path: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        let path = path.to_path_buf();
        let (requests, rx) = mpsc::channel();
        let (events, _) = broadcast::channel(options.broadcast_capacity.max(1));
        let config = WriterConfig {
            max_batch: options.max_batch.max(1),
            retain_revisions: options.retain_revisions.max(1),
        };
        let writer_events = events.clone();
        let open_path = path.clone();
        let expect_existing = options.expect_existing;
        let writer = tokio::task::spawn_blocking(move || {
            files::check_expected(&open_path, expect_existing)?;
            files::report_wal(&open_path);
            let mut conn = schema::connect(&open_path)?;
            schema::init(&mut conn)?;
            let file = files::FileIdentity::of(&open_path)?;
            Writer::new(conn, file, rx, writer_events, config)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("open task failed: {e}")))??;
        let revision = writer.revision();
        std::thread::Builder::new()
            .name("flotilla-store-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| StoreError::Backend(format!("starting the writer thread: {e}")))?;
        let reader = Arc::new(Reader::new(
            path.clone(),
            options.read_connections,
            options.replay_chunk,
        ));
        Ok(SqliteStore {
            requests,
            reader,
            events: Mutex::new(Some(events)),
            revision,
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Discards log history before `revision` (clamped to the current revision): a
    /// later watch from an older revision gets `Compacted`. Also done automatically to
    /// keep [`SqliteOptions::retain_revisions`].
    pub async fn compact(&self, revision: Revision) -> Result<()> {
        self.request(|tx| Request::Compact(revision, tx)).await
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Request,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(make(tx))
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl Store for SqliteStore {
    /// Applies the queued writes, checkpoints the WAL into the database file, stops the
    /// writer, closes every connection and ends all watches. Later calls fail with
    /// [`StoreError::Closed`]. Idempotent.
    async fn close(&self) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.reader.close();
        let (tx, rx) = oneshot::channel();
        if self.requests.send(Request::Close(tx)).is_ok() {
            // An error means the writer is already gone, which is what we want.
            let _ = rx.await;
        }
    }
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>> {
        self.reader.get(key.to_vec()).await
    }

    async fn range(&self, req: RangeRequest) -> Result<RangePage> {
        self.reader.range(req).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnResult> {
        self.request(|tx| Request::Txn(txn, tx)).await
    }

    async fn watch(&self, prefix: &[u8], from: Revision) -> Result<WatchStream> {
        Ok(shared::events_only(
            self.watch_progress(prefix, from).await?,
        ))
    }

    async fn watch_progress(&self, prefix: &[u8], from: Revision) -> Result<ProgressStream> {
        let rx = match &*self.events.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(events) => events.subscribe(),
            None => return Err(StoreError::Closed),
        };
        let current = self.revision.load(Ordering::SeqCst);
        shared::watch(
            Arc::new(Log(self.reader.clone())),
            rx,
            prefix,
            from,
            current,
        )
        .await
    }

    async fn revision(&self) -> Result<Revision> {
        if self.reader.is_closed() {
            return Err(StoreError::Closed);
        }
        Ok(self.revision.load(Ordering::SeqCst))
    }

    async fn lease_grant(&self, ttl: Duration) -> Result<LeaseId> {
        self.request(|tx| Request::Grant(ttl, tx)).await
    }

    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<()> {
        self.request(|tx| Request::KeepAlive(lease, tx)).await
    }

    async fn lease_revoke(&self, lease: LeaseId) -> Result<()> {
        self.request(|tx| Request::Revoke(lease, tx)).await
    }
}
