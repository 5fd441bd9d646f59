//! Checks only the sqlite backend needs: persistence across reopen and crashes, the
//! format version, lease deadlines across restarts, log retention, closing, and (ignored)
//! group-commit throughput.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla_store::{
    EventKind, Op, RangeRequest, SqliteOptions, SqliteStore, Store, StoreError, StoreExt, Txn,
    FORMAT_VERSION,
};
use futures::StreamExt;

const WAIT: Duration = Duration::from_secs(10);

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path).await.expect("open")
}

/// A clean close leaves the database file self-contained: the WAL is checkpointed and
/// empty, and a copy of `state.db` alone holds every write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_checkpoints_the_wal_into_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = open(&path).await;
    for i in 0..50u32 {
        s.put(format!("k{i}").as_bytes(), b"v").await.unwrap();
    }
    s.close().await;
    let wal = dir.path().join("state.db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the WAL still holds writes");
    // The database file alone, copied elsewhere, has everything.
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(&path, copy.path().join("state.db")).unwrap();
    let again = open(&copy.path().join("state.db")).await;
    assert_eq!(again.get(b"k49").await.unwrap().unwrap().value, b"v");
}

/// The store holds task definitions' environment values: only its owner may read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_its_wal_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // A database left readable by an earlier build is made private too.
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = open(&path).await;
    s.put(b"secret", b"DB_PASSWORD=x").await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("state.db{suffix}"));
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", file.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_and_revision_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = open(&path).await;
    s.put(b"a", b"1").await.unwrap();
    s.put(b"b", b"2").await.unwrap();
    let r = s.put(b"a", b"3").await.unwrap();
    s.close().await;
    let s = open(&path).await;
    assert_eq!(s.revision().await.unwrap(), r);
    let kv = s.get(b"a").await.unwrap().unwrap();
    assert_eq!(
        (kv.value.as_slice(), kv.version, kv.mod_revision),
        (&b"3"[..], 2, r)
    );
    assert_eq!(
        s.range(RangeRequest::prefix("")).await.unwrap().kvs.len(),
        2
    );
    assert_eq!(s.put(b"c", b"4").await.unwrap(), r + 1);
    // History survives too.
    let mut w = s.watch(b"", 1).await.unwrap();
    let batch = tokio::time::timeout(WAIT, w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let revs: Vec<_> = batch.iter().map(|e| e.kv.mod_revision).collect();
    assert_eq!(revs, (1..=r + 1).collect::<Vec<_>>());
}

#[tokio::test]
async fn format_version_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    open(&path).await.close().await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    let format: i64 = conn
        .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(format, FORMAT_VERSION);
    conn.execute("UPDATE meta SET value = 99 WHERE name = 'format'", [])
        .unwrap();
    drop(conn);
    match SqliteStore::open(&path).await {
        Err(StoreError::Backend(msg)) => assert!(msg.contains("format version 99"), "{msg}"),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("opened a store of an unknown format"),
    }
    // Not a database at all.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![7u8; 8192]).unwrap();
    assert!(matches!(
        SqliteStore::open(&junk).await,
        Err(StoreError::Backend(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_deadline_keeps_running_while_down() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let s = open(&path).await;
    let short = s.lease_grant(Duration::from_millis(500)).await.unwrap();
    let long = s.lease_grant(Duration::from_secs(600)).await.unwrap();
    for (key, lease) in [(&b"short"[..], short), (b"long", long)] {
        let op = Op::Put {
            key: key.to_vec(),
            value: vec![],
            lease,
        };
        s.txn(Txn {
            success: vec![op],
            ..Txn::default()
        })
        .await
        .unwrap();
    }
    s.close().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let s = open(&path).await;
    let mut w = s.watch(b"", 0).await.unwrap();
    // Expired while down: deleted soon after start, with an event (unless already gone).
    if s.get(b"short").await.unwrap().is_some() {
        let batch = tokio::time::timeout(WAIT, w.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(batch[0].kind, EventKind::Delete);
    }
    assert!(s.get(b"short").await.unwrap().is_none());
    assert!(matches!(
        s.lease_keep_alive(short).await,
        Err(StoreError::LeaseNotFound(_))
    ));
    // The other lease survived the restart.
    s.lease_keep_alive(long).await.unwrap();
    assert_eq!(s.get(b"long").await.unwrap().unwrap().lease, long);
    s.lease_revoke(long).await.unwrap();
    assert!(s.get(b"long").await.unwrap().is_none());
    // Lease ids are never reused.
    assert!(s.lease_grant(Duration::from_secs(1)).await.unwrap() > long);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_is_compacted_to_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        retain_revisions: 10,
        ..Default::default()
    };
    let s = SqliteStore::open_with(&dir.path().join("db"), options)
        .await
        .unwrap();
    let mut last = 0;
    for i in 0..100 {
        last = s.put(format!("k{}", i % 3).as_bytes(), b"v").await.unwrap();
    }
    assert!(matches!(
        s.watch(b"", 1).await,
        Err(StoreError::Compacted { requested: 1, .. })
    ));
    let mut w = s.watch(b"", last - 9).await.unwrap();
    let batch = tokio::time::timeout(WAIT, w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(batch.len(), 10);
    assert_eq!(
        s.range(RangeRequest::prefix("")).await.unwrap().kvs.len(),
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_ends_calls_and_watches() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir.path().join("db")).await;
    let mut w = s.watch(b"", 0).await.unwrap();
    s.put(b"k", b"v").await.unwrap();
    s.close().await;
    s.close().await;
    assert!(matches!(s.put(b"k", b"v").await, Err(StoreError::Closed)));
    assert!(matches!(s.get(b"k").await, Err(StoreError::Closed)));
    assert!(matches!(s.revision().await, Err(StoreError::Closed)));
    assert!(matches!(s.watch(b"", 0).await, Err(StoreError::Closed)));
    let mut items = Vec::new();
    while let Some(item) = tokio::time::timeout(WAIT, w.next()).await.unwrap() {
        items.push(item);
    }
    assert!(
        matches!(items.last(), Some(Err(StoreError::Closed))),
        "{items:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_never_reuses_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let a = open(&path).await;
    let r1 = a.put(b"a", b"1").await.unwrap();
    let b = open(&path).await;
    let r2 = b.put(b"b", b"1").await.unwrap();
    let r3 = a.put(b"a", b"2").await.unwrap();
    assert_eq!((r2, r3), (r1 + 1, r1 + 2));
    assert_eq!(b.get(b"a").await.unwrap().unwrap().mod_revision, r3);
}

const CRASH_CHILD: &str = "FLOTILLA_STORE_CRASH_CHILD";

/// The child half of `acknowledged_writes_survive_kill_9`: writes until killed,
/// printing each acknowledged key. Does nothing unless run by that test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(path) = std::env::var(CRASH_CHILD) else {
        return;
    };
    let s = open(Path::new(&path)).await;
    for i in 0.. {
        let rev = s.put(format!("k{i:06}").as_bytes(), b"v").await.unwrap();
        println!("acked {i} {rev}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CRASH_CHILD, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("acked ") {
            let mut parts = rest.split(' ');
            let i: u64 = parts.next().unwrap().parse().unwrap();
            let rev: i64 = parts.next().unwrap().parse().unwrap();
            acked.push((i, rev));
            if acked.len() == 200 {
                child.kill().unwrap(); // SIGKILL: no chance to flush anything
                break;
            }
        }
    }
    child.wait().unwrap();
    assert_eq!(acked.len(), 200, "child stopped early");
    let s = open(&path).await;
    for (i, rev) in &acked {
        let kv = s.get(format!("k{i:06}").as_bytes()).await.unwrap();
        assert_eq!(
            kv.map(|kv| kv.mod_revision),
            Some(*rev),
            "acknowledged write k{i:06} lost"
        );
    }
    assert!(s.revision().await.unwrap() >= acked.last().unwrap().1);
}

/// Group commit: N concurrent writers each doing sequential puts.
/// Run with `cargo test -p flotilla-store --test sqlite -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "throughput measurement"]
async fn group_commit_throughput() {
    const WRITERS: usize = 8;
    const PUTS: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(open(&dir.path().join("db")).await);
    let value = vec![b'x'; 512];
    for writers in [1, WRITERS, 64] {
        let started = Instant::now();
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let (s, value) = (s.clone(), value.clone());
                tokio::spawn(async move {
                    for i in 0..PUTS / writers {
                        s.put(format!("bench/{writers}/{w}/{i}").as_bytes(), &value)
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let n = (PUTS / writers) * writers;
        println!(
            "{writers:>3} writers: {n} puts in {secs:.2}s = {:.0} puts/s",
            n as f64 / secs
        );
    }
}
