//! Runs the shared conformance suite (`suite/`) against every built-in backend, plus the
//! few checks that depend on one backend's knobs (paused time, broadcast capacity).

#[macro_use]
mod suite;

use std::sync::Arc;
use std::time::Duration;

use flotilla_store::{
    EventKind, MemoryOptions, MemoryStore, Op, SqliteOptions, SqliteStore, Store, StoreExt, Txn,
    WatchStream,
};
use suite::{events_through, Fixture};

async fn memory() -> Fixture<MemoryStore> {
    Fixture {
        store: Arc::new(MemoryStore::new()),
        guard: None,
    }
}

async fn sqlite() -> Fixture<SqliteStore> {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(&dir.path().join("state.db"))
        .await
        .expect("open sqlite store");
    Fixture {
        store: Arc::new(store),
        guard: Some(Box::new(dir)),
    }
}

conformance_tests!(memory_backend, memory());
conformance_tests!(sqlite_backend, sqlite());

/// With paused time, a lease expires exactly when its TTL has passed.
#[tokio::test(start_paused = true)]
async fn memory_lease_expiry_with_paused_time() {
    let s = MemoryStore::new();
    let lease = s.lease_grant(Duration::from_secs(30)).await.unwrap();
    let op = Op::Put {
        key: b"k".to_vec(),
        value: b"v".to_vec(),
        lease,
    };
    let r = s
        .txn(Txn {
            success: vec![op],
            ..Txn::default()
        })
        .await
        .unwrap()
        .revision;
    let mut w = s.watch(b"k", r + 1).await.unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    s.lease_keep_alive(lease).await.unwrap();
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(s.get(b"k").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let events = events_through(&mut w, r + 1).await;
    assert_eq!(events[0].kind, EventKind::Delete);
    assert!(s.get(b"k").await.unwrap().is_none());
}

/// Writes many revisions without polling `w`, then checks it still delivers every one.
async fn lagging_watcher_catches_up(s: &dyn Store, mut w: WatchStream) {
    let mut last = 0;
    for i in 0..300 {
        last = s
            .put(
                format!("lag/{}", i % 7).as_bytes(),
                i.to_string().as_bytes(),
            )
            .await
            .unwrap();
    }
    let first = last - 299;
    let revs: Vec<_> = events_through(&mut w, last)
        .await
        .iter()
        .map(|e| e.kv.mod_revision)
        .collect();
    assert_eq!(revs, (first..=last).collect::<Vec<_>>());
}

#[tokio::test]
async fn memory_lagging_watcher_catches_up_from_history() {
    let s = MemoryStore::with_options(MemoryOptions {
        broadcast_capacity: 4,
        ..Default::default()
    });
    let w = s.watch(b"lag/", 1).await.unwrap();
    lagging_watcher_catches_up(&s, w).await;
}

#[tokio::test]
async fn memory_lagging_watcher_past_history_gets_compacted() {
    let s = MemoryStore::with_options(MemoryOptions {
        broadcast_capacity: 2,
        history_revisions: 10,
    });
    let mut w = s.watch(b"", 1).await.unwrap();
    for i in 0..50 {
        s.put(format!("k{i}").as_bytes(), b"").await.unwrap();
    }
    use futures::StreamExt;
    let mut saw_error = false;
    while let Some(item) = w.next().await {
        if let Err(e) = item {
            assert!(
                matches!(e, flotilla_store::StoreError::Compacted { .. }),
                "{e}"
            );
            saw_error = true;
        }
    }
    assert!(saw_error, "the stream must end with Compacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lagging_watcher_catches_up_from_log() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        broadcast_capacity: 2,
        replay_chunk: 16,
        ..Default::default()
    };
    let s = SqliteStore::open_with(&dir.path().join("db"), options)
        .await
        .unwrap();
    let w = s.watch(b"lag/", 1).await.unwrap();
    lagging_watcher_catches_up(&s, w).await;
}
