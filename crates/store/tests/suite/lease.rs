//! Leases: expiry, keep-alive, revoke, unknown leases. Real time, short TTLs, bounded
//! waits, so any backend (with its own clock) can pass.

use std::time::Duration;

use flotilla_store::{EventKind, LeaseId, Op, Store, StoreError, StoreExt, Txn};

use super::{events_through, next_batch, Backend, Fixture, WAIT};

const TTL: Duration = Duration::from_secs(1);

async fn put_leased<S: Store>(s: &S, key: &[u8], lease: LeaseId) -> i64 {
    let op = Op::Put {
        key: key.to_vec(),
        value: b"v".to_vec(),
        lease,
    };
    s.txn(Txn {
        success: vec![op],
        ..Txn::default()
    })
    .await
    .unwrap()
    .revision
}

pub async fn lease_expiry_deletes_keys<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let lease = s.lease_grant(TTL).await.unwrap();
    put_leased(s.as_ref(), b"l/1", lease).await;
    put_leased(s.as_ref(), b"l/2", lease).await;
    let r = s.put(b"l/free", b"v").await.unwrap();
    assert_eq!(s.get(b"l/1").await.unwrap().unwrap().lease, lease);
    let mut w = s.watch(b"l/", r + 1).await.unwrap();
    let events = next_batch(&mut w).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e.kind == EventKind::Delete));
    assert_eq!(events[0].kv.mod_revision, events[1].kv.mod_revision);
    let mut keys: Vec<_> = events.iter().map(|e| e.kv.key.clone()).collect();
    keys.sort();
    assert_eq!(keys, [b"l/1".to_vec(), b"l/2".to_vec()]);
    assert!(s.get(b"l/1").await.unwrap().is_none());
    assert!(s.get(b"l/free").await.unwrap().is_some());
    assert!(
        matches!(s.lease_keep_alive(lease).await, Err(StoreError::LeaseNotFound(l)) if l == lease)
    );
}

pub async fn lease_keep_alive_extends<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let lease = s.lease_grant(TTL).await.unwrap();
    let r = put_leased(s.as_ref(), b"k/1", lease).await;
    let started = tokio::time::Instant::now();
    while started.elapsed() < TTL * 3 {
        tokio::time::sleep(TTL / 4).await;
        s.lease_keep_alive(lease).await.unwrap();
    }
    assert!(
        s.get(b"k/1").await.unwrap().is_some(),
        "kept-alive lease expired"
    );
    let mut w = s.watch(b"k/", r + 1).await.unwrap();
    let events = next_batch(&mut w).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Delete);
    assert!(started.elapsed() < TTL * 3 + WAIT);
}

pub async fn lease_revoke_deletes_now<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let lease = s.lease_grant(Duration::from_secs(60)).await.unwrap();
    put_leased(s.as_ref(), b"r/1", lease).await;
    let r = put_leased(s.as_ref(), b"r/2", lease).await;
    // Re-putting a key without the lease detaches it.
    let detached = put_leased(s.as_ref(), b"r/3", lease).await;
    let kept = s.put(b"r/3", b"mine").await.unwrap();
    assert_eq!(
        (detached + 1, s.get(b"r/3").await.unwrap().unwrap().lease),
        (kept, 0)
    );
    let mut w = s.watch(b"r/", kept + 1).await.unwrap();
    s.lease_revoke(lease).await.unwrap();
    assert!(s.get(b"r/1").await.unwrap().is_none());
    assert!(s.get(b"r/2").await.unwrap().is_none());
    assert!(s.get(b"r/3").await.unwrap().is_some());
    let events = events_through(&mut w, r + 3).await;
    assert_eq!(events.len(), 2);
    assert!(events
        .iter()
        .all(|e| e.kind == EventKind::Delete && e.kv.mod_revision == kept + 1));
    assert!(matches!(
        s.lease_revoke(lease).await,
        Err(StoreError::LeaseNotFound(_))
    ));
    assert!(matches!(
        s.lease_keep_alive(lease).await,
        Err(StoreError::LeaseNotFound(_))
    ));
}

pub async fn lease_not_found<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let missing = 0x7fff_0000_1234;
    assert!(
        matches!(s.lease_keep_alive(missing).await, Err(StoreError::LeaseNotFound(l)) if l == missing)
    );
    assert!(matches!(
        s.lease_revoke(missing).await,
        Err(StoreError::LeaseNotFound(_))
    ));
    let before = s.revision().await.unwrap();
    let op = Op::Put {
        key: b"n/1".to_vec(),
        value: vec![],
        lease: missing,
    };
    let r = s
        .txn(Txn {
            success: vec![Op::put(b"n/0", b""), op],
            ..Txn::default()
        })
        .await;
    assert!(matches!(r, Err(StoreError::LeaseNotFound(_))), "{r:?}");
    assert_eq!(s.revision().await.unwrap(), before);
    assert!(
        s.get(b"n/0").await.unwrap().is_none(),
        "a failed txn must write nothing"
    );
}
