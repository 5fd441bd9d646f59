//! Leader election: every server campaigns for one key held on a store lease; the one
//! holding it runs the controllers. When the leader dies its lease expires, which deletes
//! the key, and the other servers, watching it, campaign at once and one takes it. A
//! server restarted on the same data directory (same `me`) finds its own key still there
//! and carries on with its lease instead of waiting for it to expire.

use std::sync::Arc;
use std::time::Duration;

use flotilla_store::{Compare, Op, Store, Txn};
use tokio::sync::watch;

use crate::keys;

/// Campaign for leadership as `me` with a lease of `ttl`; the receiver says whether this
/// process leads right now. The campaign ends when `shutdown` turns true, or when every
/// receiver is gone; a leader then revokes its lease at once, so another server takes over
/// without waiting for the lease to expire.
pub fn campaign(
    store: Arc<dyn Store>,
    ttl: Duration,
    me: String,
    shutdown: watch::Receiver<bool>,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        let beat = ttl / 3;
        let ended = || tx.is_closed() || *shutdown.borrow();
        loop {
            if ended() {
                return;
            }
            if let Some(lease) = own_lease(&*store, &me).await {
                lead(&*store, &tx, lease, beat, shutdown.clone()).await;
                continue;
            }
            // Watched from before the attempt, so a vacancy after it is not missed.
            let vacancy = store.watch(keys::LEADER.as_bytes(), 0).await.ok();
            let lease = match store.lease_grant(ttl).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "leader campaign: granting a lease failed");
                    pause(beat, shutdown.clone()).await;
                    continue;
                }
            };
            let txn = Txn {
                compares: vec![Compare::absent(keys::LEADER)],
                success: vec![Op::Put {
                    key: keys::LEADER.as_bytes().to_vec(),
                    value: me.clone().into_bytes(),
                    lease,
                }],
                failure: vec![],
            };
            let won = matches!(store.txn(txn).await, Ok(r) if r.succeeded);
            if !won {
                let _ = store.lease_revoke(lease).await;
                until_vacant(vacancy, beat, shutdown.clone()).await;
                continue;
            }
            lead(&*store, &tx, lease, beat, shutdown.clone()).await;
        }
    });
    (rx, task)
}

/// Sleep for `d`, or until shutdown. A shutdown channel whose sender is gone can never
/// ask for a shutdown: the sleep alone ends the pause (returning at once would make the
/// campaign spin).
async fn pause(d: Duration, mut shutdown: watch::Receiver<bool>) {
    let stopped = async move {
        if shutdown.wait_for(|s| *s).await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stopped => {}
    }
}

/// Wait until the leader key is deleted (its lease ended), at most `beat` (the watch may
/// have failed, or the leader may be this server's own previous run), or until shutdown.
async fn until_vacant(
    vacancy: Option<flotilla_store::WatchStream>,
    beat: Duration,
    shutdown: watch::Receiver<bool>,
) {
    use futures::StreamExt;
    let Some(mut changes) = vacancy else {
        return pause(beat, shutdown).await;
    };
    let deleted = async {
        while let Some(Ok(events)) = changes.next().await {
            let gone = events.iter().any(|e| {
                e.kind == flotilla_store::EventKind::Delete && e.kv.key == keys::LEADER.as_bytes()
            });
            if gone {
                return;
            }
        }
        // The watch ended: fall back to the beat.
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = deleted => {}
        _ = pause(beat, shutdown) => {}
    }
}

/// The lease of the leader key if `me` holds it and the lease is still alive.
async fn own_lease(store: &dyn Store, me: &str) -> Option<flotilla_store::LeaseId> {
    let kv = store.get(keys::LEADER.as_bytes()).await.ok()??;
    if kv.value != me.as_bytes() || kv.lease == 0 {
        return None;
    }
    store.lease_keep_alive(kv.lease).await.ok()?;
    Some(kv.lease)
}

/// Lead while the lease can be kept alive.
async fn lead(
    store: &dyn Store,
    tx: &watch::Sender<bool>,
    lease: flotilla_store::LeaseId,
    beat: Duration,
    shutdown: watch::Receiver<bool>,
) {
    tracing::info!("this server is the leader: running the controllers");
    let _ = tx.send(true);
    loop {
        pause(beat, shutdown.clone()).await;
        if tx.is_closed() || *shutdown.borrow() {
            // The server is shutting down: hand over at once.
            let _ = tx.send(false);
            let _ = store.lease_revoke(lease).await;
            tracing::info!("leadership handed over");
            return;
        }
        // A renewal that hangs (a store cut off) must not keep this server leading past
        // its lease, which another server then takes: one beat at most, so a leader steps
        // down two beats after its last renewal, a beat before the lease can expire.
        match tokio::time::timeout(beat, store.lease_keep_alive(lease)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "leadership lost: the lease could not be kept");
                break;
            }
            Err(_) => {
                tracing::warn!(waited = ?beat, "leadership given up: the lease's renewal did not return in time");
                break;
            }
        }
    }
    let _ = tx.send(false);
}

#[cfg(test)]
mod tests {
    use super::*;
    use flotilla_store::MemoryStore;

    async fn wait_until(rx: &mut watch::Receiver<bool>, leading: bool) {
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|l| *l == leading))
            .await
            .expect("leadership did not change in time")
            .expect("campaign ended");
    }

    #[tokio::test]
    async fn one_server_leads_and_hands_over_when_it_goes() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let ttl = Duration::from_millis(300);
        let (_, never) = watch::channel(false);
        let (mut a, _) = campaign(store.clone(), ttl, "a".into(), never.clone());
        wait_until(&mut a, true).await;
        let (mut b, _) = campaign(store.clone(), ttl, "b".into(), never);
        tokio::time::sleep(ttl * 2).await;
        assert!(*a.borrow() && !*b.borrow(), "exactly one leader");
        drop(a);
        wait_until(&mut b, true).await;
        let kv = store.get(keys::LEADER.as_bytes()).await.unwrap().unwrap();
        assert_eq!(kv.value, b"b");
    }

    #[tokio::test]
    async fn a_follower_campaigns_as_soon_as_the_leaders_lease_ends() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        // Beats of 20 s: only the watch on the leader key can make b lead within the wait.
        let ttl = Duration::from_secs(60);
        let (_, never) = watch::channel(false);
        let (mut a, _) = campaign(store.clone(), ttl, "a".into(), never.clone());
        wait_until(&mut a, true).await;
        let (mut b, _) = campaign(store.clone(), ttl, "b".into(), never);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!*b.borrow());
        // a's lease ends (as when a dies and it expires).
        let kv = store.get(keys::LEADER.as_bytes()).await.unwrap().unwrap();
        store.lease_revoke(kv.lease).await.unwrap();
        wait_until(&mut b, true).await;
        let kv = store.get(keys::LEADER.as_bytes()).await.unwrap().unwrap();
        assert_eq!(kv.value, b"b");
    }

    #[tokio::test]
    async fn shutdown_hands_leadership_over_at_once() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        // A lease far longer than the test: only a revoke lets the other server lead.
        let ttl = Duration::from_secs(60);
        let (stop_a, shutdown_a) = watch::channel(false);
        let (mut a, a_task) = campaign(store.clone(), ttl, "a".into(), shutdown_a);
        wait_until(&mut a, true).await;
        let (_, never) = watch::channel(false);
        let (mut b, _) = campaign(store.clone(), Duration::from_millis(300), "b".into(), never);
        stop_a.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), a_task)
            .await
            .expect("the campaign ended")
            .unwrap();
        assert!(!*a.borrow(), "a no longer leads");
        wait_until(&mut b, true).await;
    }

    #[tokio::test]
    async fn a_restarted_server_keeps_its_own_lease() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        // A leader key left by this server's previous run, its lease still alive.
        let lease = store.lease_grant(Duration::from_secs(30)).await.unwrap();
        let txn = Txn {
            compares: vec![],
            success: vec![Op::Put {
                key: keys::LEADER.as_bytes().to_vec(),
                value: b"me".to_vec(),
                lease,
            }],
            failure: vec![],
        };
        store.txn(txn).await.unwrap();
        let (_, never) = watch::channel(false);
        let ttl = Duration::from_secs(30);
        let (mut rx, _) = campaign(store.clone(), ttl, "me".into(), never.clone());
        // Well before the old lease could expire.
        wait_until(&mut rx, true).await;
        let (mut other, _) = campaign(store, ttl, "other".into(), never);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!*other.borrow_and_update());
    }
}
