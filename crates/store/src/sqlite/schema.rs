//! The on-disk format: connection settings, tables, the format-version check, and the
//! mapping between rows and [`KeyValue`]s.
//!
//! Tables (kine-like):
//! - `meta(name, value)`: `format` (the format version) — checked on open.
//! - `kv(key, value, create_rev, mod_rev, version, lease)`: the current state, one row per
//!   live key; `kv_lease` indexes keys attached to a lease.
//! - `log(id, rev, key, kind, value, create_rev, version, lease)`: every event, for watch
//!   replay; `kind` 0 is a put, 1 a delete; indexed by `rev`. The store revision is the
//!   newest `rev` in the log, so compaction always keeps the newest revision.
//! - `leases(id, ttl_ms, deadline_ms)`: live leases, deadlines in wall-clock
//!   milliseconds since the Unix epoch so they keep running while the process is down.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use crate::{Event, EventKind, KeyValue, StoreError};

/// The format version of the database file this code reads and writes.
pub const FORMAT_VERSION: i64 = 1;

/// Maps any sqlite failure to a retriable backend error.
pub(super) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {e}"))
}

/// Opens a connection with the settings every connection of the store uses.
pub(super) fn connect(path: &Path) -> crate::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    // Before WAL mode creates the -wal and -shm files, which sqlite gives the database
    // file's permissions: the store holds task definitions' environment values.
    owner_only(path)?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    // WAL lets readers run beside the single writer; FULL syncs the WAL on every commit,
    // so a transaction is durable when the caller hears back.
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "sqlite: cannot use WAL journal mode ({mode})"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Make the database file (and its WAL and shared-memory files, where they exist from an
/// earlier run) readable and writable by their owner only.
fn owner_only(path: &Path) -> crate::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    for file in files {
        match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(StoreError::Backend(format!(
                    "making {} private: {e}",
                    file.display()
                )))
            }
        }
    }
    Ok(())
}

/// Creates the schema of a new database or checks the format version of an existing one.
pub(super) fn init(conn: &mut Connection) -> crate::Result<()> {
    let tx = conn.transaction().map_err(backend)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);",
    )
    .map_err(backend)?;
    let format: Option<i64> = tx
        .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
            r.get(0)
        })
        .optional()
        .map_err(backend)?;
    match format {
        Some(FORMAT_VERSION) => {}
        Some(other) => {
            return Err(StoreError::Backend(format!(
                "unsupported store format version {other} (this build reads {FORMAT_VERSION})"
            )))
        }
        None => {
            tx.execute_batch(SCHEMA).map_err(backend)?;
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('format', ?1)",
                [FORMAT_VERSION],
            )
            .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

const SCHEMA: &str = "
CREATE TABLE kv (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL
);
CREATE INDEX kv_lease ON kv(lease) WHERE lease != 0;
CREATE TABLE log (
    id INTEGER PRIMARY KEY,
    rev INTEGER NOT NULL,
    key BLOB NOT NULL,
    kind INTEGER NOT NULL,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL
);
CREATE INDEX log_rev ON log(rev);
CREATE TABLE leases (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ttl_ms INTEGER NOT NULL,
    deadline_ms INTEGER NOT NULL
);
";

/// Columns of `kv` in the order [`kv_from_row`] reads them.
pub(super) const KV_COLUMNS: &str = "key, value, create_rev, mod_rev, version, lease";

pub(super) fn kv_from_row(row: &Row<'_>) -> rusqlite::Result<KeyValue> {
    Ok(KeyValue {
        key: row.get(0)?,
        value: row.get(1)?,
        create_revision: row.get(2)?,
        mod_revision: row.get(3)?,
        version: row.get(4)?,
        lease: row.get(5)?,
    })
}

/// Columns of `log` in the order [`event_from_row`] reads them.
pub(super) const LOG_COLUMNS: &str = "rev, key, kind, value, create_rev, version, lease";

pub(super) const KIND_PUT: i64 = 0;
pub(super) const KIND_DELETE: i64 = 1;

pub(super) fn event_from_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let kind: i64 = row.get(2)?;
    let kind = if kind == KIND_DELETE {
        EventKind::Delete
    } else {
        EventKind::Put
    };
    let kv = KeyValue {
        mod_revision: row.get(0)?,
        key: row.get(1)?,
        value: row.get(3)?,
        create_revision: row.get(4)?,
        version: row.get(5)?,
        lease: row.get(6)?,
    };
    Ok(Event { kind, kv })
}

/// The smallest key greater than every key starting with `prefix`, or `None` when no
/// such key exists (empty prefix, or only 0xff bytes).
pub(super) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Wall-clock milliseconds since the Unix epoch (lease deadlines survive restarts).
pub(super) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
