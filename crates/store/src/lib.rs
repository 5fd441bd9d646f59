//! The revisioned key-value store every piece of Flotilla state lives in.
//!
//! The semantics are etcd's: one key per resource, a single global revision that every
//! write increments, transactions guarded by comparisons of a key's mod-revision, watches
//! that replay every change from a given revision, and leases whose expiry deletes the keys
//! attached to them. Backends ([`MemoryStore`] for tests, [`SqliteStore`] as the embedded
//! default, `EtcdStore` with the cargo feature `etcd`) implement [`Store`] and must pass
//! the shared conformance suite in `tests/conformance.rs`.
//!
//! This crate knows nothing of ECS: keys and values are bytes. Typed access and the
//! per-process in-memory view live in [`view`].
#![forbid(unsafe_code)]

#[cfg(feature = "etcd")]
mod etcd;
mod memory;
mod shared;
pub mod snapshot;
mod sqlite;
pub mod view;

use std::fmt;

use async_trait::async_trait;
use futures::stream::BoxStream;

#[cfg(feature = "etcd")]
pub use etcd::{
    local::{EtcdTlsFiles, LocalEtcd},
    EtcdOptions, EtcdStore, EtcdTls,
};
pub use memory::{MemoryOptions, MemoryStore};
pub use sqlite::{SqliteOptions, SqliteStore, FORMAT_VERSION};

/// A global store revision. Revision 0 means "no revision": a key that does not exist has
/// mod-revision 0, and the first write of a new store gets revision 1.
pub type Revision = i64;

/// A lease identifier; 0 means "no lease".
pub type LeaseId = i64;

/// Errors a store operation can end with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The requested watch start revision has been compacted away; re-list and watch again.
    #[error("revision {requested} has been compacted (oldest available is {oldest})")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    /// The lease does not exist or has expired.
    #[error("lease {0} not found")]
    LeaseNotFound(LeaseId),
    /// The backend failed (I/O, corruption, a closed connection); retrying may help.
    #[error("store backend error: {0}")]
    Backend(String),
    /// The store has been closed.
    #[error("store is closed")]
    Closed,
}

impl StoreError {
    /// Whether the same call may succeed if retried later.
    pub fn is_retriable(&self) -> bool {
        matches!(self, StoreError::Backend(_))
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One key with its value and revisions, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// Revision of the write that created this key (since its last deletion).
    pub create_revision: Revision,
    /// Revision of the last write to this key.
    pub mod_revision: Revision,
    /// Number of writes since creation (1 after the first put).
    pub version: i64,
    /// Lease the key is attached to, or 0.
    pub lease: LeaseId,
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &String::from_utf8_lossy(&self.key))
            .field("value_len", &self.value.len())
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .field("version", &self.version)
            .field("lease", &self.lease)
            .finish()
    }
}

/// A page of a prefix range.
#[derive(Debug, Clone, Default)]
pub struct RangePage {
    /// Keys in ascending byte order.
    pub kvs: Vec<KeyValue>,
    /// True when more keys match after the last one returned; pass the last key as
    /// `start_after` to continue.
    pub more: bool,
    /// The store revision the page was read at.
    pub revision: Revision,
}

/// A range request: every key starting with `prefix`, strictly after `start_after` when
/// given, at most `limit` keys (0 means no limit).
#[derive(Debug, Clone, Default)]
pub struct RangeRequest {
    pub prefix: Vec<u8>,
    pub start_after: Option<Vec<u8>>,
    pub limit: usize,
}

impl RangeRequest {
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        RangeRequest {
            prefix: prefix.into(),
            start_after: None,
            limit: 0,
        }
    }
}

/// How a compare relates the key's current mod-revision to the given one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Equal,
    NotEqual,
    Less,
    Greater,
}

/// A guard of a transaction: `mod_revision(key) OP revision`. A missing key has
/// mod-revision 0, so `Equal 0` means "does not exist".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compare {
    pub key: Vec<u8>,
    pub op: CompareOp,
    pub mod_revision: Revision,
}

impl Compare {
    /// The key does not exist.
    pub fn absent(key: impl Into<Vec<u8>>) -> Self {
        Compare {
            key: key.into(),
            op: CompareOp::Equal,
            mod_revision: 0,
        }
    }
    /// The key is unchanged since `mod_revision` (0: still absent).
    pub fn unchanged(key: impl Into<Vec<u8>>, mod_revision: Revision) -> Self {
        Compare {
            key: key.into(),
            op: CompareOp::Equal,
            mod_revision,
        }
    }
}

/// A write inside a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Create or replace a key; `lease` 0 for none.
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
        lease: LeaseId,
    },
    /// Delete a key if it exists (a no-op otherwise).
    Delete { key: Vec<u8> },
}

impl Op {
    pub fn put(key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Self {
        Op::Put {
            key: key.into(),
            value: value.into(),
            lease: 0,
        }
    }
    pub fn delete(key: impl Into<Vec<u8>>) -> Self {
        Op::Delete { key: key.into() }
    }
}

/// A transaction: if every compare holds, apply `success`, else apply `failure`. All of it
/// is atomic and durable when [`Store::txn`] returns.
#[derive(Debug, Clone, Default)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub success: Vec<Op>,
    pub failure: Vec<Op>,
}

/// The outcome of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnResult {
    /// Whether the compares held (and `success` was applied).
    pub succeeded: bool,
    /// The store revision after the transaction: the new revision if it wrote anything,
    /// else the current one.
    pub revision: Revision,
}

/// What happened to a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change observed by a watch. For a delete, `kv.value` is empty, `kv.mod_revision`
/// is the revision of the deletion, and `create_revision`, `version` and `lease` are 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub kv: KeyValue,
}

/// A watch stream: batches of events in revision order, all events of one revision in one
/// batch. It ends with an error when the watcher fell too far behind (re-list and watch
/// again) or the store closed.
pub type WatchStream = BoxStream<'static, Result<Vec<Event>>>;

/// One item of a progress watch ([`Store::watch_progress`]): the events under the prefix
/// (possibly none) and the revision through which the watcher has now seen every change
/// under the prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchBatch {
    /// Events in revision order, all events of one revision together; may be empty when
    /// only keys outside the prefix changed.
    pub events: Vec<Event>,
    /// Every change under the prefix with a revision <= `progress` has been delivered.
    pub progress: Revision,
}

/// A watch stream that also reports progress; see [`Store::watch_progress`].
pub type ProgressStream = BoxStream<'static, Result<WatchBatch>>;

/// The revisioned store. Every method is safe to call concurrently.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// One key, or `None`.
    async fn get(&self, key: &[u8]) -> Result<Option<KeyValue>>;

    /// Keys with a prefix, in key order, paginated.
    async fn range(&self, req: RangeRequest) -> Result<RangePage>;

    /// Apply a transaction atomically; durable when it returns.
    async fn txn(&self, txn: Txn) -> Result<TxnResult>;

    /// Every change to keys under `prefix` with revision >= `from` (use the revision of a
    /// range + 1 to continue after a list), then live changes.
    async fn watch(&self, prefix: &[u8], from: Revision) -> Result<WatchStream>;

    /// Like [`Store::watch`], but every item also says how far the watcher has got, and
    /// items without events report progress when only keys outside the prefix changed.
    /// This is what lets a [`view::View`] wait for a revision it has no event for.
    ///
    /// The default derives progress from the events alone (so it only advances when a key
    /// under the prefix changes); backends should override it with real progress, as the
    /// built-in ones do.
    async fn watch_progress(&self, prefix: &[u8], from: Revision) -> Result<ProgressStream> {
        use futures::StreamExt;
        let stream = self.watch(prefix, from).await?;
        Ok(stream
            .map(|item| {
                item.map(|events| WatchBatch {
                    progress: events.last().map_or(0, |e| e.kv.mod_revision),
                    events,
                })
            })
            .boxed())
    }

    /// The current store revision.
    async fn revision(&self) -> Result<Revision>;

    /// Create a lease that expires `ttl` after its last keep-alive.
    async fn lease_grant(&self, ttl: std::time::Duration) -> Result<LeaseId>;

    /// Renew a lease; `LeaseNotFound` if it already expired.
    async fn lease_keep_alive(&self, lease: LeaseId) -> Result<()>;

    /// End a lease now, deleting every key attached to it.
    async fn lease_revoke(&self, lease: LeaseId) -> Result<()>;

    /// Most compares, and most operations in either branch, one transaction may carry
    /// (etcd's `--max-txn-ops`); writers of many keys split their batches to fit.
    fn max_txn_ops(&self) -> usize {
        usize::MAX
    }

    /// Finish what is queued and release the backend's files, leaving them
    /// self-contained (a clean shutdown). Later calls fail with [`StoreError::Closed`].
    /// Backends without files need do nothing.
    async fn close(&self) {}
}

/// Convenience writes built on [`Store::txn`].
#[async_trait]
pub trait StoreExt: Store {
    /// Unconditional put; returns the new revision.
    async fn put(&self, key: &[u8], value: &[u8]) -> Result<Revision> {
        let r = self
            .txn(Txn {
                success: vec![Op::put(key, value)],
                ..Txn::default()
            })
            .await?;
        Ok(r.revision)
    }
    /// Unconditional delete; returns the revision after it.
    async fn delete(&self, key: &[u8]) -> Result<Revision> {
        let r = self
            .txn(Txn {
                success: vec![Op::delete(key)],
                ..Txn::default()
            })
            .await?;
        Ok(r.revision)
    }
    /// Every key under a prefix, following continuations.
    async fn list_all(&self, prefix: &[u8]) -> Result<RangePage> {
        let mut out = RangePage::default();
        let mut start_after = None;
        loop {
            let page = self
                .range(RangeRequest {
                    prefix: prefix.to_vec(),
                    start_after,
                    limit: 1000,
                })
                .await?;
            if out.revision == 0 {
                out.revision = page.revision;
            }
            start_after = page.kvs.last().map(|kv| kv.key.clone());
            out.kvs.extend(page.kvs);
            if !page.more {
                return Ok(out);
            }
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
