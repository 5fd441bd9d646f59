use proptest::prelude::*;
use rusqlite::Connection;

use super::*;

/// A real WAL: sqlite in WAL mode with autocheckpoint off, `n` committed transactions.
fn real_wal(n: usize) -> (tempfile::TempDir, Vec<u8>, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    let conn = Connection::open(&path).unwrap();
    conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get::<_, String>(0))
        .unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    conn.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
    for i in 0..n {
        conn.execute(
            "INSERT INTO t VALUES (?1)",
            [format!("row {i} {}", "x".repeat(300))],
        )
        .unwrap();
    }
    let wal = std::fs::read(dir.path().join("w.db-wal")).unwrap();
    (dir, wal, conn)
}

#[test]
fn an_intact_log_is_replayed_whole() {
    let (_dir, wal, _conn) = real_wal(5);
    let r = inspect_wal(&wal);
    assert!(r.frames >= 6, "{r:?}");
    assert_eq!(r.committed, r.frames);
    assert_eq!(r.discarded_bytes, 0);
}

#[test]
fn a_damaged_frame_cuts_the_log_there() {
    let (_dir, mut wal, _conn) = real_wal(5);
    let whole = inspect_wal(&wal);
    let frame_len = (wal.len() - WAL_HEADER) / whole.frames as usize;
    // Flip a byte in the page of the third frame: it and everything after are dropped.
    wal[WAL_HEADER + 2 * frame_len + FRAME_HEADER + 100] ^= 0xff;
    let r = inspect_wal(&wal);
    assert_eq!(r.frames, whole.frames);
    assert!(r.committed <= 2, "{r:?}");
    assert!(r.discarded_bytes >= (whole.frames - 2) * frame_len as u64);
    assert_eq!(r.reason, "a frame's checksum is wrong");
    // A torn last frame (a crash mid-write) loses only that frame.
    let (_dir, wal, _conn) = real_wal(5);
    let torn = &wal[..wal.len() - 10];
    let r = inspect_wal(torn);
    assert_eq!(r.frames, whole.frames - 1);
    assert!(r.discarded_bytes > 0);
}

#[test]
fn a_log_with_a_bad_header_is_ignored_whole() {
    let (_dir, mut wal, _conn) = real_wal(1);
    wal[0] = 0;
    let r = inspect_wal(&wal);
    assert_eq!((r.frames, r.committed), (0, 0));
    assert_eq!(r.discarded_bytes, wal.len() as u64);
}

#[test]
fn an_expected_store_must_not_be_missing_or_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    assert!(check_expected(&path, false).is_ok());
    let e = check_expected(&path, true).unwrap_err().to_string();
    assert!(e.contains("missing") && e.contains("backup"), "{e}");
    std::fs::write(&path, b"").unwrap();
    let e = check_expected(&path, true).unwrap_err().to_string();
    assert!(e.contains("empty (0 bytes)"), "{e}");
    std::fs::write(&path, b"SQLite format 3\0").unwrap();
    assert!(check_expected(&path, true).is_ok());
}

#[test]
fn a_deleted_or_replaced_file_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, b"a").unwrap();
    // Held open, as sqlite holds it, so its inode is not reused by the replacement.
    let _open = std::fs::File::open(&path).unwrap();
    let id = FileIdentity::of(&path).unwrap();
    assert_eq!(id.lost(), None);
    std::fs::remove_file(&path).unwrap();
    assert!(id.lost().unwrap().contains("is gone"));
    std::fs::write(&path, b"b").unwrap();
    assert!(id.lost().unwrap().contains("replaced"));
}

proptest! {
    #[test]
    fn any_bytes_are_inspected_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..3000)) {
        let r = inspect_wal(&bytes);
        prop_assert!(r.discarded_bytes <= bytes.len() as u64);
        prop_assert!(r.committed <= r.frames);
    }

    #[test]
    fn damage_anywhere_in_a_real_log_never_keeps_more_than_before(at in 0usize..100_000, bit in 0u8..8) {
        let (_dir, mut wal, _conn) = real_wal(3);
        let whole = inspect_wal(&wal);
        let at = at % wal.len();
        wal[at] ^= 1 << bit;
        let r = inspect_wal(&wal);
        prop_assert!(r.committed <= whole.committed);
    }
}
