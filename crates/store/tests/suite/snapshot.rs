//! Snapshots (a consistent copy taken while writes go on) and loading one into an empty
//! store: what backup and restore are made of.

use std::collections::BTreeMap;
use std::sync::Arc;

use flotilla_store::snapshot::{load, snapshot};
use flotilla_store::{Op, Store, StoreExt, Txn};

use super::{Backend, Fixture};

/// `n` keys `prefix/00000`... with values `v0`..., written in transactions of 100.
async fn fill<S: Store>(s: &S, prefix: &str, n: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let kvs: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
        .map(|i| {
            (
                format!("{prefix}/{i:05}").into_bytes(),
                format!("v{i}").into_bytes(),
            )
        })
        .collect();
    for chunk in kvs.chunks(100) {
        let success = chunk
            .iter()
            .map(|(k, v)| Op::put(k.clone(), v.clone()))
            .collect();
        s.txn(Txn {
            success,
            ..Txn::default()
        })
        .await
        .unwrap();
    }
    kvs
}

pub async fn snapshot_is_the_store_at_one_revision_while_writes_go_on<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    // More keys than one page of a list, so the list itself spans revisions.
    let initial = fill(s.as_ref(), "s", 2500).await;
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            // Each write with its revision: an overwrite, a delete and a new key per round.
            let mut log = Vec::new();
            for i in 0..150 {
                let k = format!("s/{:05}", i * 7).into_bytes();
                log.push((
                    s.put(&k, b"changed").await.unwrap(),
                    k,
                    Some(b"changed".to_vec()),
                ));
                let k = format!("s/{:05}", 2499 - i).into_bytes();
                log.push((s.delete(&k).await.unwrap(), k, None));
                let k = format!("t/{i:05}").into_bytes();
                log.push((s.put(&k, b"new").await.unwrap(), k, Some(b"new".to_vec())));
            }
            log
        })
    };
    let snap = snapshot(s.as_ref() as &dyn Store, b"").await.unwrap();
    let log = writer.await.unwrap();
    // The state at the snapshot's revision, from the initial keys and the writes up to it.
    let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = initial.into_iter().collect();
    let mut seen = 0;
    for (rev, key, value) in log.into_iter().filter(|(rev, ..)| *rev <= snap.revision) {
        assert!(rev > 0);
        seen += 1;
        match value {
            Some(v) => expected.insert(key, v),
            None => expected.remove(&key),
        };
    }
    let got: BTreeMap<Vec<u8>, Vec<u8>> = snap.kvs.into_iter().collect();
    assert_eq!(
        got.len(),
        expected.len(),
        "{seen} writes at or before revision {}",
        snap.revision
    );
    assert!(
        got == expected,
        "the copy differs from the store at revision {}",
        snap.revision
    );
}

pub async fn snapshot_leaves_out_keys_on_a_lease<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    s.put(b"kept", b"v").await.unwrap();
    let lease = s
        .lease_grant(std::time::Duration::from_secs(30))
        .await
        .unwrap();
    s.txn(Txn {
        success: vec![Op::Put {
            key: b"leader".to_vec(),
            value: b"me".to_vec(),
            lease,
        }],
        ..Txn::default()
    })
    .await
    .unwrap();
    let snap = snapshot(s.as_ref() as &dyn Store, b"").await.unwrap();
    assert_eq!(snap.kvs, vec![(b"kept".to_vec(), b"v".to_vec())]);
    s.lease_revoke(lease).await.unwrap();
}

pub async fn load_fills_an_empty_store_and_refuses_one_that_is_not<S: Backend>(f: &Fixture<S>) {
    let s: Arc<dyn Store> = f.store.clone();
    // More keys than etcd's 128 operations a transaction, and values large enough to
    // need the byte limit too (300 × 8 KiB = 2.4 MiB).
    let kvs: Vec<(Vec<u8>, Vec<u8>)> = (0..300)
        .map(|i| (format!("r/{i:05}").into_bytes(), vec![b'x'; 8 << 10]))
        .collect();
    load(s.as_ref(), &kvs).await.unwrap();
    let snap = snapshot(s.as_ref(), b"").await.unwrap();
    assert!(snap.kvs == kvs, "loaded {} keys of 300", snap.kvs.len());
    let err = load(s.as_ref(), &kvs[..1]).await.unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
}
