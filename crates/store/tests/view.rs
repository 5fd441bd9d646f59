//! The in-memory view: initial list, live updates, read-your-writes, pagination, decode
//! failures, resync after compaction, and closing.

use std::sync::Arc;
use std::time::Duration;

use flotilla_store::view::{Changed, View};
use flotilla_store::{MemoryOptions, MemoryStore, SqliteStore, Store, StoreError, StoreExt};

const WAIT: Duration = Duration::from_secs(10);

fn decode(_key: &[u8], value: &[u8]) -> Result<u64, String> {
    std::str::from_utf8(value)
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e| format!("{e}"))
}

async fn wait_for(view: &View<u64>, rev: i64) {
    tokio::time::timeout(WAIT, view.wait_for(rev))
        .await
        .expect("wait_for timed out")
        .unwrap();
}

fn values(view: &View<u64>, prefix: &[u8]) -> Vec<(String, u64)> {
    view.range(prefix)
        .into_iter()
        .map(|(k, e)| (String::from_utf8(k).unwrap(), *e.value))
        .collect()
}

#[tokio::test]
async fn lists_then_follows_live_changes() {
    let store = Arc::new(MemoryStore::new());
    store.put(b"t/1", b"1").await.unwrap();
    store.put(b"t/2", b"2").await.unwrap();
    store.put(b"u/1", b"9").await.unwrap();
    let view = View::start(store.clone(), b"t/".to_vec(), decode)
        .await
        .unwrap();
    assert_eq!(values(&view, b"t/"), [("t/1".into(), 1), ("t/2".into(), 2)]);
    assert_eq!(view.revision(), 3);
    assert!(view.get(b"u/1").is_none());

    let r = store.put(b"t/3", b"3").await.unwrap();
    store.delete(b"t/1").await.unwrap();
    let r2 = store.put(b"t/2", b"20").await.unwrap();
    wait_for(&view, r2).await;
    assert_eq!(
        values(&view, b"t/"),
        [("t/2".into(), 20), ("t/3".into(), 3)]
    );
    assert_eq!(view.get(b"t/3").unwrap().mod_revision, r);
    assert_eq!(view.get(b"t/2").unwrap().mod_revision, r2);
    assert_eq!(view.prefix(), b"t/");
}

#[tokio::test]
async fn key_changes_name_each_changed_key_once_per_batch() {
    let store = Arc::new(MemoryStore::new());
    store.put(b"t/1", b"1").await.unwrap();
    let view = View::start(store.clone(), b"t/".to_vec(), decode)
        .await
        .unwrap();
    let mut changes = view.key_changes();
    store.put(b"t/2", b"2").await.unwrap();
    store.put(b"u/1", b"9").await.unwrap();
    store.delete(b"t/1").await.unwrap();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    while seen.len() < 2 {
        match tokio::time::timeout(WAIT, changes.next()).await.unwrap() {
            Some(Changed::Keys(keys)) => seen.extend(keys.iter().cloned()),
            other => panic!("expected keys, got {other:?}"),
        }
    }
    assert_eq!(
        seen,
        [b"t/2".to_vec(), b"t/1".to_vec()],
        "u/1 is not this view's"
    );
}

#[tokio::test]
async fn wait_for_does_not_hang_on_writes_elsewhere() {
    let store = Arc::new(MemoryStore::new());
    let view = View::start(store.clone(), b"mine/".to_vec(), decode)
        .await
        .unwrap();
    let r = store.put(b"other/1", b"1").await.unwrap();
    wait_for(&view, r).await;
    assert!(view.revision() >= r);
    // Read-your-writes: right after wait_for, the write is visible.
    for i in 0..50u64 {
        let r = store
            .put(
                format!("mine/{}", i % 5).as_bytes(),
                i.to_string().as_bytes(),
            )
            .await
            .unwrap();
        wait_for(&view, r).await;
        assert_eq!(
            *view
                .get(format!("mine/{}", i % 5).as_bytes())
                .unwrap()
                .value,
            i
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_your_writes_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("db")).await.unwrap());
    store.put(b"s/0", b"0").await.unwrap();
    let view = View::start(store.clone(), b"s/".to_vec(), decode)
        .await
        .unwrap();
    assert_eq!(view.count_prefix(b"s/"), 1);
    for i in 1..20u64 {
        let r = store
            .put(format!("s/{i}").as_bytes(), i.to_string().as_bytes())
            .await
            .unwrap();
        wait_for(&view, r).await;
        assert_eq!(view.count_prefix(b"s/"), i as usize + 1);
        let r = store.put(b"elsewhere", b"x").await.unwrap();
        wait_for(&view, r).await;
    }
    store.close().await;
    let err = tokio::time::timeout(WAIT, view.wait_for(i64::MAX))
        .await
        .unwrap();
    assert!(matches!(err, Err(StoreError::Closed)), "{err:?}");
}

#[tokio::test]
async fn pagination_and_counts() {
    let store = Arc::new(MemoryStore::new());
    for i in 0..7 {
        store
            .put(format!("p/a/{i}").as_bytes(), b"1")
            .await
            .unwrap();
    }
    store.put(b"p/b/0", b"1").await.unwrap();
    let view = View::start(store.clone(), b"p/".to_vec(), decode)
        .await
        .unwrap();
    assert_eq!(view.count_prefix(b"p/"), 8);
    assert_eq!(view.count_prefix(b"p/a/"), 7);
    assert_eq!(view.count_prefix(b"p/c"), 0);
    let mut seen = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (page, more) = view.range_page(b"p/a/", after.as_deref(), 3);
        assert!(page.len() <= 3);
        after = page.last().map(|(k, _)| k.clone());
        seen.extend(page.into_iter().map(|(k, _)| k));
        if !more {
            break;
        }
    }
    let expected: Vec<Vec<u8>> = (0..7).map(|i| format!("p/a/{i}").into_bytes()).collect();
    assert_eq!(seen, expected);
    let (all, more) = view.range_page(b"p/", None, 0);
    assert_eq!((all.len(), more), (8, false));
}

#[tokio::test]
async fn undecodable_values_are_skipped() {
    let store = Arc::new(MemoryStore::new());
    store.put(b"d/good", b"1").await.unwrap();
    store.put(b"d/bad", b"not a number").await.unwrap();
    let view = View::start(store.clone(), b"d/".to_vec(), decode)
        .await
        .unwrap();
    assert_eq!(values(&view, b"d/"), [("d/good".into(), 1)]);
    // A live update that no longer decodes removes the stale value.
    let r = store.put(b"d/good", b"oops").await.unwrap();
    wait_for(&view, r).await;
    assert!(view.get(b"d/good").is_none());
    let r = store.put(b"d/bad", b"5").await.unwrap();
    wait_for(&view, r).await;
    assert_eq!(values(&view, b"d/"), [("d/bad".into(), 5)]);
}

/// The view falls so far behind that the history it needs is gone: it must re-list.
#[tokio::test]
async fn relists_after_compaction() {
    let options = MemoryOptions {
        history_revisions: 5,
        broadcast_capacity: 2,
    };
    let store = Arc::new(MemoryStore::with_options(options));
    store.put(b"r/gone", b"1").await.unwrap();
    store.put(b"r/kept", b"1").await.unwrap();
    let view = View::start(store.clone(), b"r/".to_vec(), decode)
        .await
        .unwrap();
    // The memory store never yields inside txn, so on this single-threaded runtime the
    // view's task cannot run until we await something else.
    store.delete(b"r/gone").await.unwrap();
    let mut last = 0;
    for i in 0..40u64 {
        last = store
            .put(format!("r/{}", i % 4).as_bytes(), i.to_string().as_bytes())
            .await
            .unwrap();
    }
    let last = store.put(b"r/kept", b"2").await.unwrap().max(last);
    wait_for(&view, last).await;
    assert_eq!(
        values(&view, b"r/"),
        [
            ("r/0".into(), 36),
            ("r/1".into(), 37),
            ("r/2".into(), 38),
            ("r/3".into(), 39),
            ("r/kept".into(), 2)
        ]
    );
    assert_eq!(view.revision(), store.revision().await.unwrap());
}

#[tokio::test]
async fn clones_share_state_and_dropping_stops_the_task() {
    let store = Arc::new(MemoryStore::new());
    let view = View::start(store.clone() as Arc<dyn Store>, b"c/".to_vec(), decode)
        .await
        .unwrap();
    let clone = view.clone();
    let r = store.put(b"c/1", b"1").await.unwrap();
    wait_for(&clone, r).await;
    assert!(view.get(b"c/1").is_some());
    drop(view);
    drop(clone);
    // The task is gone, so nothing holds the store but us.
    tokio::time::timeout(WAIT, async {
        while Arc::strong_count(&store) > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("view task still holds the store");
}
