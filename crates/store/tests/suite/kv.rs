//! Keys, revisions, ranges and transactions.

use std::sync::Arc;

use flotilla_store::{Compare, CompareOp, EventKind, Op, RangeRequest, StoreExt, Txn};

use super::{events_through, Backend, Fixture};

pub async fn put_get_delete<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    assert_eq!(s.get(b"k").await.unwrap(), None);
    let r1 = s.put(b"k", b"v1").await.unwrap();
    let kv = s.get(b"k").await.unwrap().expect("key after put");
    assert_eq!(
        (kv.key.as_slice(), kv.value.as_slice()),
        (&b"k"[..], &b"v1"[..])
    );
    assert_eq!(kv.mod_revision, r1);
    let r2 = s.delete(b"k").await.unwrap();
    assert_eq!(r2, r1 + 1);
    assert_eq!(s.get(b"k").await.unwrap(), None);
    // Deleting an absent key writes nothing.
    assert_eq!(s.delete(b"k").await.unwrap(), r2);
    assert_eq!(s.revision().await.unwrap(), r2);
}

pub async fn revisions_increase_by_one<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let r0 = s.revision().await.unwrap();
    assert_eq!(s.put(b"a", b"1").await.unwrap(), r0 + 1);
    assert_eq!(s.put(b"b", b"1").await.unwrap(), r0 + 2);
    assert_eq!(s.revision().await.unwrap(), r0 + 2);
    // A failed compare with an empty failure branch writes nothing.
    let r = s
        .txn(Txn {
            compares: vec![Compare::absent(b"a".to_vec())],
            success: vec![Op::put(b"a".to_vec(), b"2".to_vec())],
            failure: vec![],
        })
        .await
        .unwrap();
    assert!(!r.succeeded);
    assert_eq!(r.revision, r0 + 2);
    // Many ops, one revision.
    let r = s
        .txn(Txn {
            success: vec![Op::put(b"c", b"1"), Op::put(b"d", b"1"), Op::delete(b"a")],
            ..Txn::default()
        })
        .await
        .unwrap();
    assert!(r.succeeded);
    assert_eq!(r.revision, r0 + 3);
    // A txn whose only op deletes an absent key writes nothing.
    let r = s
        .txn(Txn {
            success: vec![Op::delete(b"zz")],
            ..Txn::default()
        })
        .await
        .unwrap();
    assert_eq!(r.revision, r0 + 3);
    assert_eq!(s.revision().await.unwrap(), r0 + 3);
}

pub async fn key_metadata<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let r1 = s.put(b"m", b"1").await.unwrap();
    let kv = s.get(b"m").await.unwrap().unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version, kv.lease),
        (r1, r1, 1, 0)
    );
    let r2 = s.put(b"m", b"2").await.unwrap();
    let kv = s.get(b"m").await.unwrap().unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (r1, r2, 2)
    );
    s.delete(b"m").await.unwrap();
    let r4 = s.put(b"m", b"3").await.unwrap();
    let kv = s.get(b"m").await.unwrap().unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (r4, r4, 1)
    );
    assert_eq!(kv.value, b"3");
}

pub async fn range_prefix<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    for k in ["a/2", "a/1", "ab/1", "b/1", "a/3", "a"] {
        s.put(k.as_bytes(), k.as_bytes()).await.unwrap();
    }
    let keys = |page: flotilla_store::RangePage| -> Vec<String> {
        page.kvs
            .iter()
            .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
            .collect()
    };
    let page = s.range(RangeRequest::prefix("a/")).await.unwrap();
    assert!(!page.more);
    assert_eq!(page.revision, s.revision().await.unwrap());
    assert_eq!(keys(page), ["a/1", "a/2", "a/3"]);
    let page = s.range(RangeRequest::prefix("a")).await.unwrap();
    assert_eq!(keys(page), ["a", "a/1", "a/2", "a/3", "ab/1"]);
    let page = s.range(RangeRequest::prefix("")).await.unwrap();
    assert_eq!(keys(page), ["a", "a/1", "a/2", "a/3", "ab/1", "b/1"]);
    assert!(s
        .range(RangeRequest::prefix("c"))
        .await
        .unwrap()
        .kvs
        .is_empty());
    // Values come back too, and keys with 0xff bytes sort as bytes.
    s.put(b"z\xff\xff", b"x").await.unwrap();
    s.put(b"z\xff", b"y").await.unwrap();
    let page = s
        .range(RangeRequest::prefix(b"z\xff".to_vec()))
        .await
        .unwrap();
    let got: Vec<_> = page
        .kvs
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (b"z\xff".to_vec(), b"y".to_vec()),
            (b"z\xff\xff".to_vec(), b"x".to_vec())
        ]
    );
}

pub async fn range_limit_and_continuation<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    for i in 0..5 {
        s.put(format!("p/{i}").as_bytes(), b"v").await.unwrap();
    }
    s.put(b"q/0", b"v").await.unwrap();
    let req = |start_after: Option<&str>, limit| RangeRequest {
        prefix: b"p/".to_vec(),
        start_after: start_after.map(|s| s.as_bytes().to_vec()),
        limit,
    };
    let keys = |page: &flotilla_store::RangePage| -> Vec<String> {
        page.kvs
            .iter()
            .map(|kv| String::from_utf8(kv.key.clone()).unwrap())
            .collect()
    };
    let p1 = s.range(req(None, 2)).await.unwrap();
    assert_eq!(
        (keys(&p1), p1.more),
        (vec!["p/0".into(), "p/1".into()], true)
    );
    let p2 = s.range(req(Some("p/1"), 2)).await.unwrap();
    assert_eq!(
        (keys(&p2), p2.more),
        (vec!["p/2".into(), "p/3".into()], true)
    );
    let p3 = s.range(req(Some("p/3"), 2)).await.unwrap();
    assert_eq!((keys(&p3), p3.more), (vec!["p/4".into()], false));
    // A limit that exactly fits is not "more".
    let exact = s.range(req(Some("p/2"), 2)).await.unwrap();
    assert_eq!(
        (keys(&exact), exact.more),
        (vec!["p/3".into(), "p/4".into()], false)
    );
    // start_after sorting before the prefix is harmless; past it, nothing is left.
    assert_eq!(keys(&s.range(req(Some("a"), 0)).await.unwrap()).len(), 5);
    assert!(s.range(req(Some("p/4"), 0)).await.unwrap().kvs.is_empty());
    let all = s.list_all(b"p/").await.unwrap();
    assert_eq!(all.kvs.len(), 5);
}

pub async fn txn_compare_ops<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let rev = s.put(b"c", b"v").await.unwrap();
    let cases = [
        (CompareOp::Equal, rev, true),
        (CompareOp::Equal, rev - 1, false),
        (CompareOp::NotEqual, rev, false),
        (CompareOp::NotEqual, 0, true),
        (CompareOp::Less, rev + 1, true),
        (CompareOp::Less, rev, false),
        (CompareOp::Greater, rev - 1, true),
        (CompareOp::Greater, rev, false),
    ];
    for (op, mod_revision, expect) in cases {
        let cmp = Compare {
            key: b"c".to_vec(),
            op,
            mod_revision,
        };
        let r = s
            .txn(Txn {
                compares: vec![cmp],
                ..Txn::default()
            })
            .await
            .unwrap();
        assert_eq!(r.succeeded, expect, "{op:?} {mod_revision} vs {rev}");
    }
    // An absent key has mod-revision 0.
    let absent = [
        (CompareOp::Equal, 0, true),
        (CompareOp::Less, 1, true),
        (CompareOp::Greater, 0, false),
    ];
    for (op, mod_revision, expect) in absent {
        let cmp = Compare {
            key: b"nope".to_vec(),
            op,
            mod_revision,
        };
        let r = s
            .txn(Txn {
                compares: vec![cmp],
                ..Txn::default()
            })
            .await
            .unwrap();
        assert_eq!(r.succeeded, expect, "absent {op:?} {mod_revision}");
    }
    // Every compare must hold.
    let both = vec![
        Compare::unchanged(b"c".to_vec(), rev),
        Compare::unchanged(b"nope".to_vec(), 1),
    ];
    let r = s
        .txn(Txn {
            compares: both,
            ..Txn::default()
        })
        .await
        .unwrap();
    assert!(!r.succeeded);
}

pub async fn txn_branches_are_atomic<S: Backend>(f: &Fixture<S>) {
    let s = &f.store;
    let r0 = s.put(b"t/z", b"old").await.unwrap();
    let mut w = s.watch(b"t/", r0 + 1).await.unwrap();
    let txn = |cmp_rev| Txn {
        compares: vec![Compare::unchanged(b"t/z".to_vec(), cmp_rev)],
        success: vec![
            Op::put(b"t/x", b"1"),
            Op::put(b"t/y", b"1"),
            Op::delete(b"t/z"),
        ],
        failure: vec![Op::put(b"t/failed", b"1")],
    };
    // Failure branch: only its op applies.
    let r = s.txn(txn(r0 + 100)).await.unwrap();
    assert!(!r.succeeded);
    assert_eq!(r.revision, r0 + 1);
    assert!(s.get(b"t/x").await.unwrap().is_none());
    assert!(s.get(b"t/failed").await.unwrap().is_some());
    // Success branch: all three ops at one revision, delivered in one batch.
    let r = s.txn(txn(r0)).await.unwrap();
    assert!(r.succeeded);
    assert_eq!(r.revision, r0 + 2);
    for key in [&b"t/x"[..], b"t/y"] {
        assert_eq!(s.get(key).await.unwrap().unwrap().mod_revision, r0 + 2);
    }
    assert!(s.get(b"t/z").await.unwrap().is_none());
    let events = events_through(&mut w, r0 + 2).await;
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.kind.clone(), e.kv.key.clone(), e.kv.mod_revision))
        .collect();
    assert_eq!(
        summary,
        [
            (EventKind::Put, b"t/failed".to_vec(), r0 + 1),
            (EventKind::Put, b"t/x".to_vec(), r0 + 2),
            (EventKind::Put, b"t/y".to_vec(), r0 + 2),
            (EventKind::Delete, b"t/z".to_vec(), r0 + 2),
        ]
    );
}

pub async fn concurrent_cas_counter<S: Backend>(f: &Fixture<S>) {
    const TASKS: usize = 8;
    const INCREMENTS: usize = 25;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let s: Arc<S> = f.store.clone();
        handles.push(tokio::spawn(async move {
            let mut retries = 0;
            for _ in 0..INCREMENTS {
                loop {
                    let cur = s.get(b"counter").await.unwrap();
                    let (n, rev) = cur.map_or((0, 0), |kv| {
                        (
                            String::from_utf8(kv.value).unwrap().parse::<u64>().unwrap(),
                            kv.mod_revision,
                        )
                    });
                    let txn = Txn {
                        compares: vec![Compare::unchanged(b"counter".to_vec(), rev)],
                        success: vec![Op::put(b"counter", (n + 1).to_string())],
                        failure: vec![],
                    };
                    if s.txn(txn).await.unwrap().succeeded {
                        break;
                    }
                    retries += 1;
                }
            }
            retries
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let kv = f.store.get(b"counter").await.unwrap().unwrap();
    assert_eq!(kv.value, (TASKS * INCREMENTS).to_string().as_bytes());
    assert_eq!(kv.version, (TASKS * INCREMENTS) as i64);
}
