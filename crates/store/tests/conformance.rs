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

/// A store on an etcd of its own (revisions are etcd's, shared by everything on it, so
/// each test gets a fresh member). Needs Debian's etcd-server; `./scripts/test` installs
/// it and runs these with `--features flotilla-store/etcd`.
#[cfg(feature = "etcd")]
async fn etcd() -> Fixture<flotilla_store::EtcdStore> {
    let dir = tempfile::tempdir().expect("tempdir");
    let etcd = flotilla_store::LocalEtcd::start(dir.path()).expect("start etcd");
    let options = flotilla_store::EtcdOptions::from_url(&etcd.url()).unwrap();
    let store = flotilla_store::EtcdStore::connect(options)
        .await
        .expect("connect to etcd");
    Fixture {
        store: Arc::new(store),
        // Dropped in order: etcd stops, then its directory goes.
        guard: Some(Box::new((etcd, dir))),
    }
}

conformance_tests!(memory_backend, memory());
conformance_tests!(sqlite_backend, sqlite());
#[cfg(feature = "etcd")]
conformance_tests!(etcd_backend, etcd());

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

#[cfg(feature = "etcd")]
mod etcd_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn etcd_lagging_watcher_catches_up() {
        let f = etcd().await;
        let w = f.store.watch(b"lag/", 1).await.unwrap();
        lagging_watcher_catches_up(f.store.as_ref(), w).await;
    }

    type Pem = Vec<u8>;

    /// A CA and a server certificate for 127.0.0.1 it signed, written to `dir`; answers
    /// the CA's PEM and a client certificate it signed with its key.
    fn pki(dir: &std::path::Path) -> (Pem, (Pem, Pem)) {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issue = |usage| {
            let mut p = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
            p.extended_key_usages = vec![usage];
            let key = rcgen::KeyPair::generate().unwrap();
            let cert = p.signed_by(&key, &ca, &ca_key).unwrap();
            (cert.pem().into_bytes(), key.serialize_pem().into_bytes())
        };
        let server = issue(rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let client = issue(rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), &server.0).unwrap();
        std::fs::write(dir.join("server-key.pem"), &server.1).unwrap();
        (ca.pem().into_bytes(), client)
    }

    /// TLS with a client certificate, as `--etcd-ca-file`, `--etcd-cert-file` and
    /// `--etcd-key-file` give it: works with the certificate, not without.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tls_with_a_client_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let (ca, client) = pki(dir.path());
        let files = flotilla_store::EtcdTlsFiles {
            cert: &dir.path().join("server.pem"),
            key: &dir.path().join("server-key.pem"),
            client_ca: &dir.path().join("ca.pem"),
        };
        let etcd = flotilla_store::LocalEtcd::start_tls(dir.path(), &files).unwrap();
        let mut options = flotilla_store::EtcdOptions::from_url(&etcd.url()).unwrap();
        options.connect_timeout = Duration::from_secs(3);
        options.request_timeout = Duration::from_secs(3);
        options.tls = Some(flotilla_store::EtcdTls {
            ca: ca.clone(),
            identity: Some(client),
        });
        let s = flotilla_store::EtcdStore::connect(options.clone())
            .await
            .unwrap();
        let r = s.put(b"over-tls", b"yes").await.unwrap();
        assert_eq!(s.get(b"over-tls").await.unwrap().unwrap().mod_revision, r);

        let without_certificate = flotilla_store::EtcdOptions {
            tls: Some(flotilla_store::EtcdTls { ca, identity: None }),
            ..options.clone()
        };
        assert!(flotilla_store::EtcdStore::connect(without_certificate)
            .await
            .is_err());
        let plain = flotilla_store::EtcdOptions {
            tls: None,
            ..options
        };
        assert!(flotilla_store::EtcdStore::connect(plain).await.is_err());
    }

    /// A full etcd (its NOSPACE alarm) is an error that says what to do, at once, not a
    /// hang; reads go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_etcd_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let etcd =
            flotilla_store::LocalEtcd::start_with(dir.path(), &["--quota-backend-bytes=1048576"])
                .unwrap();
        let options = flotilla_store::EtcdOptions::from_url(&etcd.url()).unwrap();
        let s = flotilla_store::EtcdStore::connect(options).await.unwrap();
        s.put(b"kept", b"1").await.unwrap();
        let value = vec![7u8; 64 * 1024];
        let mut error = None;
        for i in 0..200 {
            match s.put(format!("fill/{i}").as_bytes(), &value).await {
                Ok(_) => {}
                Err(e) => {
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        let error = error.expect("etcd never reported its quota");
        assert!(
            error.contains("NOSPACE") && error.contains("defragment"),
            "{error}"
        );
        assert_eq!(s.get(b"kept").await.unwrap().unwrap().value, b"1");
    }
}
