//! Leader election: every server campaigns for one key held on a store lease; the one
//! holding it runs the controllers. When the leader dies its lease expires and another
//! server's campaign takes the key. A server restarted on the same data directory (same
//! `me`) finds its own key still there and carries on with its lease instead of waiting for
//! it to expire.

use std::sync::Arc;
use std::time::Duration;

use flotilla_store::{Compare, Op, Store, Txn};
use tokio::sync::watch;

use crate::keys;

/// Campaign for leadership as `me` with a lease of `ttl`; the receiver says whether this
/// process leads right now.
pub fn campaign(store: Arc<dyn Store>, ttl: Duration, me: String) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let beat = ttl / 3;
        loop {
            if tx.is_closed() {
                return;
            }
            if let Some(lease) = own_lease(&*store, &me).await {
                lead(&*store, &tx, lease, beat).await;
                continue;
            }
            let lease = match store.lease_grant(ttl).await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "leader campaign: granting a lease failed");
                    tokio::time::sleep(beat).await;
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
                tokio::time::sleep(beat).await;
                continue;
            }
            lead(&*store, &tx, lease, beat).await;
        }
    });
    rx
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
) {
    tracing::info!("this server is the leader: running the controllers");
    let _ = tx.send(true);
    loop {
        tokio::time::sleep(beat).await;
        if let Err(e) = store.lease_keep_alive(lease).await {
            tracing::warn!(error = %e, "leadership lost: the lease could not be kept");
            break;
        }
    }
    let _ = tx.send(false);
}
