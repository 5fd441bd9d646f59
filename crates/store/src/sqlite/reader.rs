//! The read side: a small pool of read connections used on tokio's blocking pool, for
//! `get`, `range` and watch replay. Readers never write; each multi-statement read runs
//! in one read transaction, so a page and its revision come from the same snapshot.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Transaction};
use tokio::sync::Semaphore;

use super::schema::{self, backend, KV_COLUMNS, LOG_COLUMNS};
use crate::shared::{LogChunk, LogSource};
use crate::{KeyValue, RangePage, RangeRequest, Result, Revision, StoreError};

/// A pool of read connections to one database file.
pub(super) struct Reader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// Bounds the connections in use; closed when the store closes.
    permits: Semaphore,
    /// Roughly how many log rows one replay step reads.
    log_chunk: usize,
}

impl Reader {
    pub(super) fn new(path: PathBuf, connections: usize, log_chunk: usize) -> Reader {
        Reader {
            path,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(connections.max(1)),
            log_chunk: log_chunk.max(1),
        }
    }

    /// Refuses further reads and drops the idle connections.
    pub(super) fn close(&self) {
        self.permits.close();
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    pub(super) fn is_closed(&self) -> bool {
        self.permits.is_closed()
    }

    /// Runs `f` on a pooled connection on the blocking pool.
    async fn with<R, F>(self: &Arc<Self>, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let this = self.clone();
        let task = tokio::task::spawn_blocking(move || {
            let idle = this
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let mut conn = match idle {
                Some(conn) => conn,
                None => schema::connect(&this.path)?,
            };
            let out = f(&mut conn);
            if !this.permits.is_closed() {
                this.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
            }
            out
        });
        task.await
            .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }

    pub(super) async fn get(self: &Arc<Self>, key: Vec<u8>) -> Result<Option<KeyValue>> {
        self.with(move |conn| {
            let sql = format!("SELECT {KV_COLUMNS} FROM kv WHERE key = ?1");
            let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
            stmt.query_row([&key], schema::kv_from_row)
                .optional()
                .map_err(backend)
        })
        .await
    }

    pub(super) async fn range(self: &Arc<Self>, req: RangeRequest) -> Result<RangePage> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(backend)?;
            let page = range_in(&tx, &req).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(page)
        })
        .await
    }
}

fn range_in(tx: &Transaction<'_>, req: &RangeRequest) -> rusqlite::Result<RangePage> {
    let (lower_op, lower) = match &req.start_after {
        Some(after) if after.as_slice() >= req.prefix.as_slice() => (">", after.clone()),
        _ => (">=", req.prefix.clone()),
    };
    let end = schema::prefix_end(&req.prefix);
    let upper = if end.is_some() {
        "AND key < ?3"
    } else {
        "AND ?3 IS NULL"
    };
    let sql = format!(
        "SELECT {KV_COLUMNS} FROM kv WHERE key {lower_op} ?1 {upper} ORDER BY key LIMIT ?2"
    );
    // One more than asked for tells whether more keys follow.
    let fetch = if req.limit == 0 {
        -1
    } else {
        i64::try_from(req.limit).unwrap_or(i64::MAX - 1) + 1
    };
    let mut stmt = tx.prepare_cached(&sql)?;
    let mut kvs = stmt
        .query_map(rusqlite::params![lower, fetch, end], schema::kv_from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = req.limit != 0 && kvs.len() > req.limit;
    if more {
        kvs.truncate(req.limit);
    }
    Ok(RangePage {
        kvs,
        more,
        revision: current_revision(tx)?,
    })
}

/// The store revision as of the transaction's snapshot.
fn current_revision(tx: &Transaction<'_>) -> rusqlite::Result<Revision> {
    let mut stmt = tx.prepare_cached("SELECT COALESCE(MAX(rev), 0) FROM log")?;
    stmt.query_row([], |r| r.get(0))
}

// === impl LogSource ===

/// The reader as seen by watch streams.
pub(super) struct Log(pub(super) Arc<Reader>);

#[async_trait]
impl LogSource for Log {
    async fn read_log(&self, prefix: &[u8], after: Revision) -> Result<LogChunk> {
        let prefix = prefix.to_vec();
        let chunk = self.0.log_chunk;
        self.0
            .with(move |conn| {
                let tx = conn.transaction().map_err(backend)?;
                let out = read_log_in(&tx, &prefix, after, chunk)?;
                tx.commit().map_err(backend)?;
                Ok(out)
            })
            .await
    }
}

fn read_log_in(
    tx: &Transaction<'_>,
    prefix: &[u8],
    after: Revision,
    chunk: usize,
) -> Result<LogChunk> {
    let current = current_revision(tx).map_err(backend)?;
    let oldest: Option<Revision> = tx
        .prepare_cached("SELECT MIN(rev) FROM log")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(backend)?;
    let oldest = oldest.unwrap_or(current + 1);
    if after + 1 < oldest {
        return Err(StoreError::Compacted {
            requested: after + 1,
            oldest,
        });
    }
    // The first revision past this chunk: rows of revisions below it are read whole.
    let offset = i64::try_from(chunk).unwrap_or(i64::MAX);
    let bound: Option<Revision> = tx
        .prepare_cached("SELECT rev FROM log WHERE rev > ?1 ORDER BY rev LIMIT 1 OFFSET ?2")
        .and_then(|mut s| s.query_row([after, offset], |r| r.get(0)).optional())
        .map_err(backend)?;
    let (upto, complete) = match bound {
        // One revision larger than a chunk is still read whole.
        Some(bound) if bound == after + 1 => (bound, false),
        Some(bound) => (bound - 1, false),
        None => (current, true),
    };
    let end = schema::prefix_end(prefix);
    let upper = if end.is_some() {
        "AND key < ?4"
    } else {
        "AND ?4 IS NULL"
    };
    let sql = format!(
        "SELECT {LOG_COLUMNS} FROM log WHERE rev > ?1 AND rev <= ?2 AND key >= ?3 {upper} \
         ORDER BY rev, id"
    );
    let mut stmt = tx.prepare_cached(&sql).map_err(backend)?;
    let events = stmt
        .query_map(
            rusqlite::params![after, upto, prefix, end],
            schema::event_from_row,
        )
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(backend)?;
    Ok(LogChunk {
        events,
        through: upto.max(after),
        complete,
    })
}
