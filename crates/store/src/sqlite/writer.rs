//! The write side: one thread owns the write connection and applies every write.
//!
//! Callers send [`Request`]s over a channel. The thread takes whatever is queued (up to
//! a bound) and applies it in order inside one sqlite transaction — group commit: each
//! transaction's compares see the writes of the earlier ones in the same batch, each
//! transaction that writes gets its own revision, and one commit (one fsync) makes the
//! whole batch durable. Only then are the events broadcast and the callers answered. A
//! failed commit rolls the whole batch back and every caller in it gets a backend error.
//! Lease expiry and log compaction run on the same thread, as part of a batch, so they
//! go through the same write path and emit events like any other write.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use super::files::FileIdentity;
use super::schema::{now_ms, KIND_DELETE, KIND_PUT};
use crate::shared::{compare_holds, Broadcast, Published};
use crate::{
    Event, EventKind, KeyValue, LeaseId, Op, Result, Revision, StoreError, Txn, TxnResult,
};

/// A write request for the writer thread.
pub(super) enum Request {
    Txn(Txn, oneshot::Sender<Result<TxnResult>>),
    Grant(Duration, oneshot::Sender<Result<LeaseId>>),
    KeepAlive(LeaseId, oneshot::Sender<Result<()>>),
    Revoke(LeaseId, oneshot::Sender<Result<()>>),
    Compact(Revision, oneshot::Sender<Result<()>>),
    /// Finish the current batch, close the connection, then answer.
    Close(oneshot::Sender<()>),
}

/// An answer held back until the batch has committed.
enum Reply {
    Txn(oneshot::Sender<Result<TxnResult>>, Result<TxnResult>),
    Lease(oneshot::Sender<Result<LeaseId>>, Result<LeaseId>),
    Unit(oneshot::Sender<Result<()>>, Result<()>),
}

impl Reply {
    /// Sends the answer, or `failure` instead when the batch did not commit. A caller
    /// that went away is no error.
    fn send(self, failure: Option<&str>) {
        let fail = |msg: &str| StoreError::Backend(msg.to_string());
        match self {
            Reply::Txn(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Reply::Lease(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
            Reply::Unit(tx, r) => drop(tx.send(failure.map_or(r, |m| Err(fail(m))))),
        }
    }
}

/// Limits of the writer.
pub(super) struct WriterConfig {
    pub max_batch: usize,
    pub retain_revisions: i64,
}

/// What the writer knows besides the database: the committed revision, the oldest
/// revision in the log, and the live leases with their deadlines.
struct State {
    rev: Revision,
    oldest: Revision,
    leases: HashMap<LeaseId, (i64, i64)>,
    by_deadline: BTreeSet<(i64, LeaseId)>,
}

pub(super) struct Writer {
    conn: Connection,
    /// The database file, to refuse writes once it is deleted or replaced.
    file: FileIdentity,
    /// Whether the lost file was logged already.
    file_lost: bool,
    rx: mpsc::Receiver<Request>,
    events: Broadcast,
    revision: Arc<AtomicI64>,
    config: WriterConfig,
    state: State,
}

/// Upper bound of one wait for requests, so a stuck clock cannot stall lease expiry.
const MAX_IDLE: Duration = Duration::from_secs(60);
/// Pause of the writer after a batch failed to commit.
const FAILURE_PAUSE: Duration = Duration::from_millis(100);
/// Longest a batch waits for the rest of the previous batch's callers.
const COHORT_WAIT: Duration = Duration::from_micros(500);
/// Most log revisions one batch deletes while compacting.
const COMPACT_STEP: i64 = 10_000;

impl Writer {
    pub(super) fn new(
        conn: Connection,
        file: FileIdentity,
        rx: mpsc::Receiver<Request>,
        events: Broadcast,
        config: WriterConfig,
    ) -> Result<Writer> {
        conn.pragma_update(None, "cache_size", -32_768)
            .map_err(super::schema::backend)?;
        let state = load_state(&conn).map_err(super::schema::backend)?;
        let revision = Arc::new(AtomicI64::new(state.rev));
        Ok(Writer {
            conn,
            file,
            file_lost: false,
            rx,
            events,
            revision,
            config,
            state,
        })
    }

    /// The committed revision, published before the events of each batch.
    pub(super) fn revision(&self) -> Arc<AtomicI64> {
        self.revision.clone()
    }

    /// The thread body: batches requests until the channel closes or `Close` arrives.
    pub(super) fn run(mut self) {
        // How many requests the previous batch had: callers answered together tend to
        // come back together, so the next batch waits briefly for that many.
        let mut cohort = 0;
        loop {
            let first = match self.next_wakeup() {
                Some(wait) => self.rx.recv_timeout(wait),
                None => self
                    .rx
                    .recv()
                    .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            let mut batch = Vec::new();
            match first {
                Ok(req) => batch.push(req),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
            self.gather(&mut batch, cohort);
            cohort = batch.len();
            if let Some(close) = self.process(batch) {
                self.checkpoint();
                drop(self);
                let _ = close.send(());
                return;
            }
        }
    }

    /// Copy the WAL into the database file and empty it, so the file is self-contained
    /// after a clean shutdown (readers are closed by then).
    fn checkpoint(&mut self) {
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                r.get::<_, i64>(0)
            })
        {
            tracing::warn!(error = %e, "checkpointing the WAL at shutdown failed");
        }
    }

    /// Adds whatever is queued to `batch`; while it holds fewer than `cohort` requests,
    /// waits up to [`COHORT_WAIT`] for more (far shorter than the fsync it saves).
    fn gather(&self, batch: &mut Vec<Request>, cohort: usize) {
        let max = self.config.max_batch;
        let deadline = Instant::now() + COHORT_WAIT;
        while batch.len() < max {
            match self.rx.try_recv() {
                Ok(req) => {
                    batch.push(req);
                    continue;
                }
                Err(mpsc::TryRecvError::Disconnected) => return,
                Err(mpsc::TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if batch.is_empty() || batch.len() >= cohort.min(max) || now >= deadline {
                return;
            }
            match self.rx.recv_timeout(deadline - now) {
                Ok(req) => batch.push(req),
                Err(_) => return,
            }
        }
    }

    /// How long to wait for requests before a lease needs expiring; `None`: no leases.
    fn next_wakeup(&self) -> Option<Duration> {
        let (deadline, _) = self.state.by_deadline.first()?;
        let ms = u64::try_from(deadline.saturating_sub(now_ms())).unwrap_or(0);
        Some(Duration::from_millis(ms).min(MAX_IDLE))
    }

    /// Applies one batch, commits, publishes, answers. Returns the `Close` request if any.
    fn process(&mut self, batch: Vec<Request>) -> Option<oneshot::Sender<()>> {
        let now = now_ms();
        let lease_due = self
            .state
            .by_deadline
            .first()
            .is_some_and(|(d, _)| *d <= now);
        if batch.is_empty() && !lease_due {
            return None;
        }
        if let Some(why) = self.file.lost() {
            // Writing on would write into an unlinked file: acknowledged, then lost.
            if !self.file_lost {
                tracing::error!("{why}");
                self.file_lost = true;
            }
            // Do not spin on a lease that is due.
            std::thread::sleep(FAILURE_PAUSE);
            return refuse(batch, &why);
        }
        let saved = (self.state.rev, self.state.oldest);
        let mut replies = Vec::with_capacity(batch.len());
        let mut events = Vec::new();
        let mut close = None;
        let result = self.apply_batch(now, batch, &mut replies, &mut events, &mut close);
        match result {
            Ok(()) => {
                if !events.is_empty() {
                    // Revision first: a watch that reads it after subscribing must not
                    // miss this batch's broadcast.
                    self.revision.store(self.state.rev, Ordering::SeqCst);
                    let published = Published {
                        events,
                        revision: self.state.rev,
                    };
                    let _ = self.events.send(Arc::new(published));
                }
                replies.into_iter().for_each(|r| r.send(None));
            }
            Err(e) => {
                tracing::error!(error = %e, "store write batch failed; rolled back");
                (self.state.rev, self.state.oldest) = saved;
                if let Err(e) = self.reload_leases() {
                    tracing::error!(error = %e, "reloading leases after a failed batch");
                }
                let msg = format!("sqlite: {e}");
                replies.into_iter().for_each(|r| r.send(Some(&msg)));
                // Do not spin on a persistent failure (a full disk with a lease due).
                std::thread::sleep(FAILURE_PAUSE);
            }
        }
        close
    }

    fn apply_batch(
        &mut self,
        now: i64,
        batch: Vec<Request>,
        replies: &mut Vec<Reply>,
        events: &mut Vec<Event>,
        close: &mut Option<oneshot::Sender<()>>,
    ) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let st = &mut self.state;
        // Only this thread writes, but if another store object (or process) wrote to the
        // same file, continue after its revisions rather than reuse them.
        let on_disk: Revision = tx
            .prepare_cached("SELECT COALESCE(MAX(rev), 0) FROM log")?
            .query_row([], |r| r.get(0))?;
        if on_disk != st.rev {
            tracing::warn!(
                on_disk,
                expected = st.rev,
                "store file written by another writer"
            );
            st.rev = on_disk;
        }
        // Expire first, so a keep-alive that arrives after the deadline finds no lease.
        while let Some(&(deadline, id)) = st.by_deadline.first() {
            if deadline > now {
                break;
            }
            revoke(&tx, st, id, events)?;
        }
        for req in batch {
            match req {
                Request::Txn(txn, reply) => {
                    let r = apply_txn(&tx, st, &txn, events)?;
                    replies.push(Reply::Txn(reply, r));
                }
                Request::Grant(ttl, reply) => {
                    let ttl_ms = i64::try_from(ttl.as_millis())
                        .unwrap_or(i64::MAX / 2)
                        .max(1);
                    let deadline = now.saturating_add(ttl_ms);
                    tx.prepare_cached("INSERT INTO leases (ttl_ms, deadline_ms) VALUES (?1, ?2)")?
                        .execute([ttl_ms, deadline])?;
                    let id = tx.last_insert_rowid();
                    st.set_lease(id, ttl_ms, deadline);
                    replies.push(Reply::Lease(reply, Ok(id)));
                }
                Request::KeepAlive(id, reply) => {
                    let r = match st.leases.get(&id) {
                        Some(&(ttl_ms, _)) => {
                            let deadline = now.saturating_add(ttl_ms);
                            tx.prepare_cached("UPDATE leases SET deadline_ms = ?2 WHERE id = ?1")?
                                .execute([id, deadline])?;
                            st.set_lease(id, ttl_ms, deadline);
                            Ok(())
                        }
                        None => Err(StoreError::LeaseNotFound(id)),
                    };
                    replies.push(Reply::Unit(reply, r));
                }
                Request::Revoke(id, reply) => {
                    let r = if st.leases.contains_key(&id) {
                        revoke(&tx, st, id, events)?;
                        Ok(())
                    } else {
                        Err(StoreError::LeaseNotFound(id))
                    };
                    replies.push(Reply::Unit(reply, r));
                }
                Request::Compact(rev, reply) => {
                    compact(&tx, st, rev.min(st.rev), i64::MAX)?;
                    replies.push(Reply::Unit(reply, Ok(())));
                }
                Request::Close(reply) => *close = Some(reply),
            }
        }
        let target = st.rev - self.config.retain_revisions + 1;
        let slack = (self.config.retain_revisions / 64).max(1);
        if target - st.oldest >= slack {
            compact(&tx, st, target, COMPACT_STEP)?;
        }
        tx.commit()
    }

    fn reload_leases(&mut self) -> rusqlite::Result<()> {
        let fresh = load_state(&self.conn)?;
        self.state.leases = fresh.leases;
        self.state.by_deadline = fresh.by_deadline;
        Ok(())
    }
}

/// Answer every request of `batch` with `why`; a close request is honoured.
fn refuse(batch: Vec<Request>, why: &str) -> Option<oneshot::Sender<()>> {
    let err = || StoreError::Backend(why.to_string());
    let mut close = None;
    for req in batch {
        match req {
            Request::Txn(_, reply) => drop(reply.send(Err(err()))),
            Request::Grant(_, reply) => drop(reply.send(Err(err()))),
            Request::KeepAlive(_, reply)
            | Request::Revoke(_, reply)
            | Request::Compact(_, reply) => drop(reply.send(Err(err()))),
            Request::Close(reply) => close = Some(reply),
        }
    }
    close
}

impl State {
    fn set_lease(&mut self, id: LeaseId, ttl_ms: i64, deadline: i64) {
        if let Some((_, old)) = self.leases.insert(id, (ttl_ms, deadline)) {
            self.by_deadline.remove(&(old, id));
        }
        self.by_deadline.insert((deadline, id));
    }

    fn remove_lease(&mut self, id: LeaseId) {
        if let Some((_, deadline)) = self.leases.remove(&id) {
            self.by_deadline.remove(&(deadline, id));
        }
    }
}

fn load_state(conn: &Connection) -> rusqlite::Result<State> {
    let rev: Revision =
        conn.query_row("SELECT COALESCE(MAX(rev), 0) FROM log", [], |r| r.get(0))?;
    let oldest: Option<Revision> = conn.query_row("SELECT MIN(rev) FROM log", [], |r| r.get(0))?;
    let mut state = State {
        rev,
        oldest: oldest.unwrap_or(rev + 1),
        leases: HashMap::new(),
        by_deadline: BTreeSet::new(),
    };
    let mut stmt = conn.prepare("SELECT id, ttl_ms, deadline_ms FROM leases")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    for row in rows {
        let (id, ttl_ms, deadline) = row?;
        state.set_lease(id, ttl_ms, deadline);
    }
    Ok(state)
}

/// Evaluates and applies one transaction. The outer error aborts the batch; the inner one
/// is this transaction's own outcome (it then wrote nothing).
fn apply_txn(
    tx: &Transaction<'_>,
    st: &mut State,
    txn: &Txn,
    events: &mut Vec<Event>,
) -> rusqlite::Result<Result<TxnResult>> {
    let mut succeeded = true;
    for compare in &txn.compares {
        let actual: Option<Revision> = tx
            .prepare_cached("SELECT mod_rev FROM kv WHERE key = ?1")?
            .query_row([&compare.key], |r| r.get(0))
            .optional()?;
        if !compare_holds(compare, actual.unwrap_or(0)) {
            succeeded = false;
            break;
        }
    }
    let ops = if succeeded {
        &txn.success
    } else {
        &txn.failure
    };
    for op in ops {
        if let Op::Put { lease, .. } = op {
            if *lease != 0 && !st.leases.contains_key(lease) {
                return Ok(Err(StoreError::LeaseNotFound(*lease)));
            }
        }
    }
    let rev = st.rev + 1;
    let mut wrote = false;
    for op in ops {
        wrote |= match op {
            Op::Put { key, value, lease } => put(tx, key, value, *lease, rev, events)?,
            Op::Delete { key } => delete(tx, key, rev, events)?,
        };
    }
    if wrote {
        st.rev = rev;
    }
    Ok(Ok(TxnResult {
        succeeded,
        revision: st.rev,
    }))
}

fn put(
    tx: &Transaction<'_>,
    key: &[u8],
    value: &[u8],
    lease: LeaseId,
    rev: Revision,
    events: &mut Vec<Event>,
) -> rusqlite::Result<bool> {
    let (create_revision, version): (Revision, i64) = tx
        .prepare_cached(
            "INSERT INTO kv (key, value, create_rev, mod_rev, version, lease) \
             VALUES (?1, ?2, ?3, ?3, 1, ?4) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, \
             mod_rev = excluded.mod_rev, version = kv.version + 1, lease = excluded.lease \
             RETURNING create_rev, version",
        )?
        .query_row(params![key, value, rev, lease], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    log(
        tx,
        rev,
        key,
        KIND_PUT,
        value,
        create_revision,
        version,
        lease,
    )?;
    let kv = KeyValue {
        key: key.to_vec(),
        value: value.to_vec(),
        create_revision,
        mod_revision: rev,
        version,
        lease,
    };
    events.push(Event {
        kind: EventKind::Put,
        kv,
    });
    Ok(true)
}

/// Deletes a key if it exists; returns whether it did.
fn delete(
    tx: &Transaction<'_>,
    key: &[u8],
    rev: Revision,
    events: &mut Vec<Event>,
) -> rusqlite::Result<bool> {
    let existed = tx
        .prepare_cached("DELETE FROM kv WHERE key = ?1 RETURNING mod_rev")?
        .query_row([key], |r| r.get::<_, Revision>(0))
        .optional()?
        .is_some();
    if existed {
        log(tx, rev, key, KIND_DELETE, &[], 0, 0, 0)?;
        let kv = KeyValue {
            key: key.to_vec(),
            value: Vec::new(),
            create_revision: 0,
            mod_revision: rev,
            version: 0,
            lease: 0,
        };
        events.push(Event {
            kind: EventKind::Delete,
            kv,
        });
    }
    Ok(existed)
}

#[allow(clippy::too_many_arguments)]
fn log(
    tx: &Transaction<'_>,
    rev: Revision,
    key: &[u8],
    kind: i64,
    value: &[u8],
    create_revision: Revision,
    version: i64,
    lease: LeaseId,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO log (rev, key, kind, value, create_rev, version, lease) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        rev,
        key,
        kind,
        value,
        create_revision,
        version,
        lease
    ])?;
    Ok(())
}

/// Ends a lease, deleting its keys at one new revision (none if it had no keys).
fn revoke(
    tx: &Transaction<'_>,
    st: &mut State,
    id: LeaseId,
    events: &mut Vec<Event>,
) -> rusqlite::Result<()> {
    let keys = tx
        .prepare_cached("SELECT key FROM kv WHERE lease = ?1 AND lease != 0 ORDER BY key")?
        .query_map([id], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let rev = st.rev + 1;
    let mut wrote = false;
    for key in keys {
        wrote |= delete(tx, &key, rev, events)?;
    }
    if wrote {
        st.rev = rev;
    }
    tx.prepare_cached("DELETE FROM leases WHERE id = ?1")?
        .execute([id])?;
    st.remove_lease(id);
    Ok(())
}

/// Deletes log rows below `target` (at most `step` revisions' worth past the current
/// oldest), never the newest revision, whose row the store revision is read from.
fn compact(
    tx: &Transaction<'_>,
    st: &mut State,
    target: Revision,
    step: i64,
) -> rusqlite::Result<()> {
    let target = target.min(st.rev).min(st.oldest.saturating_add(step));
    if target <= st.oldest {
        return Ok(());
    }
    tx.prepare_cached("DELETE FROM log WHERE rev < ?1")?
        .execute([target])?;
    st.oldest = target;
    Ok(())
}
