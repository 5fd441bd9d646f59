//! Watches: replay, live delivery, filtering, deletes, compaction, progress.

use flotilla_store::{EventKind, StoreError, StoreExt};
use futures::StreamExt;

use super::{assert_quiet, events_through, next_batch, Backend, Fixture, WAIT};

pub async fn watch_replays_then_goes_live<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let r1 = s.put(b"w/a", b"1").await.unwrap();
    let r2 = s.put(b"w/b", b"2").await.unwrap();
    let r3 = s.put(b"w/c", b"3").await.unwrap();
    let mut w = s.watch(b"w/", r2).await.unwrap();
    let replayed = events_through(&mut w, r3).await;
    let got: Vec<_> = replayed
        .iter()
        .map(|e| (e.kv.key.clone(), e.kv.mod_revision))
        .collect();
    assert_eq!(got, [(b"w/b".to_vec(), r2), (b"w/c".to_vec(), r3)]);
    assert!(replayed.iter().all(|e| e.kind == EventKind::Put));
    assert_eq!(replayed[0].kv.value, b"2");
    let r4 = s.put(b"w/d", b"4").await.unwrap();
    let live = events_through(&mut w, r4).await;
    assert_eq!(live.len(), 1);
    assert_eq!(
        (live[0].kv.key.as_slice(), live[0].kv.mod_revision),
        (&b"w/d"[..], r4)
    );
    assert_eq!(live[0].kv.create_revision, r4);
    // A second watch from the start sees everything, in order.
    let mut all = s.watch(b"w/", r1).await.unwrap();
    let revs: Vec<_> = events_through(&mut all, r4)
        .await
        .iter()
        .map(|e| e.kv.mod_revision)
        .collect();
    assert_eq!(revs, [r1, r2, r3, r4]);
}

pub async fn watch_filters_by_prefix<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let from = s.revision().await.unwrap() + 1;
    let mut w = s.watch(b"x/", from).await.unwrap();
    s.put(b"y/1", b"").await.unwrap();
    s.put(b"x", b"").await.unwrap();
    let r = s.put(b"x/1", b"").await.unwrap();
    s.put(b"xx", b"").await.unwrap();
    let events = next_batch(&mut w).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kv.key.as_slice(), events[0].kv.mod_revision),
        (&b"x/1"[..], r)
    );
    assert_quiet(&mut w).await;
}

pub async fn watch_delivers_deletes<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let r1 = s.put(b"d/1", b"value").await.unwrap();
    let mut w = s.watch(b"d/", r1 + 1).await.unwrap();
    let r2 = s.delete(b"d/1").await.unwrap();
    s.delete(b"d/1").await.unwrap(); // absent: no event
    let r3 = s.put(b"d/1", b"again").await.unwrap();
    let events = events_through(&mut w, r3).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].kind, EventKind::Delete);
    assert_eq!(
        (events[0].kv.key.as_slice(), events[0].kv.mod_revision),
        (&b"d/1"[..], r2)
    );
    assert!(events[0].kv.value.is_empty());
    assert_eq!(events[1].kind, EventKind::Put);
    assert_eq!(
        (events[1].kv.create_revision, events[1].kv.version),
        (r3, 1)
    );
}

pub async fn watch_from_zero_is_live_only<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    s.put(b"z/old", b"").await.unwrap();
    let mut w = s.watch(b"z/", 0).await.unwrap();
    let r = s.put(b"z/new", b"").await.unwrap();
    let events = next_batch(&mut w).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kv.key.as_slice(), events[0].kv.mod_revision),
        (&b"z/new"[..], r)
    );
}

pub async fn watch_from_compacted_revision_fails<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let mut revs = Vec::new();
    for i in 0..5 {
        revs.push(s.put(format!("c/{i}").as_bytes(), b"").await.unwrap());
    }
    s.compact_to(revs[3]).await.unwrap();
    match s.watch(b"c/", revs[1]).await {
        Err(StoreError::Compacted { requested, oldest }) => {
            assert_eq!(requested, revs[1]);
            assert!(oldest > revs[1] && oldest <= revs[3], "oldest {oldest}");
        }
        Err(e) => panic!("expected Compacted, got {e}"),
        Ok(_) => panic!("expected Compacted, got a stream"),
    }
    // From the compaction revision on, history is still there.
    let mut w = s.watch(b"c/", revs[3]).await.unwrap();
    let got: Vec<_> = events_through(&mut w, revs[4])
        .await
        .iter()
        .map(|e| e.kv.mod_revision)
        .collect();
    assert_eq!(got, [revs[3], revs[4]]);
}

pub async fn watch_progress_covers_other_prefixes<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let from = s.put(b"p/0", b"").await.unwrap() + 1;
    let mut w = s.watch_progress(b"p/", from).await.unwrap();
    let other = s.put(b"q/1", b"").await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let batch = tokio::time::timeout_at(deadline, w.next())
            .await
            .expect("no progress past a write to another prefix")
            .expect("watch ended")
            .expect("watch failed");
        assert!(
            batch.events.is_empty(),
            "unexpected events {:?}",
            batch.events
        );
        if batch.progress >= other {
            break;
        }
    }
    let mine = s.put(b"p/1", b"").await.unwrap();
    let batch = tokio::time::timeout(WAIT, w.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(batch.events.len(), 1);
    assert_eq!(batch.progress, mine);
}
