//! A consistent copy of every key under a prefix, taken while the store serves writes, and
//! the loading of such a copy into an empty store: what `flotilla backup` and `flotilla
//! restore` are made of. Works the same on every backend, through the [`Store`] trait.
//!
//! A copy is a paged list (each page read at its own revision) brought forward by the
//! changes since the first page, replayed from a progress watch until the watch has
//! passed the revision the store had when the list ended: the result is the store as it
//! was at one revision, [`Snapshot::revision`], whatever was written meanwhile.

use std::collections::BTreeMap;

use futures::StreamExt;

use crate::{
    EventKind, KeyValue, Op, RangeRequest, Result, Revision, Store, StoreError, StoreExt, Txn,
    TxnResult,
};

/// The most bytes of keys and values one loading transaction carries: under etcd's
/// 1.5 MiB request limit with room for its framing.
const LOAD_BATCH_BYTES: usize = 1 << 20;

/// Every key under a prefix as of one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The revision the copy is of.
    pub revision: Revision,
    /// Keys (with the prefix) and values, in key order. Keys held on a lease are left
    /// out: they belong to processes alive when the copy was taken (the leader's key, an
    /// agent's liveness), and a restored store has neither the lease nor the process.
    pub kvs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// A consistent copy of every key under `prefix`.
pub async fn snapshot(store: &dyn Store, prefix: &[u8]) -> Result<Snapshot> {
    let listed = store.list_all(prefix).await?;
    let mut keys: BTreeMap<Vec<u8>, KeyValue> = listed
        .kvs
        .into_iter()
        .map(|kv| (kv.key.clone(), kv))
        .collect();
    let target = store.revision().await?;
    let mut reached = listed.revision;
    if reached < target {
        let mut changes = store.watch_progress(prefix, listed.revision + 1).await?;
        while reached < target {
            let batch = changes.next().await.ok_or_else(|| {
                StoreError::Backend("the store's watch ended before the copy was complete".into())
            })??;
            for event in batch.events {
                let newer = keys
                    .get(&event.kv.key)
                    .is_none_or(|kv| kv.mod_revision < event.kv.mod_revision);
                if !newer {
                    continue;
                }
                match event.kind {
                    EventKind::Put => {
                        keys.insert(event.kv.key.clone(), event.kv);
                    }
                    EventKind::Delete => {
                        keys.remove(&event.kv.key);
                    }
                }
            }
            // Every change up to the batch's progress is applied: the copy is of it.
            reached = reached.max(batch.progress);
        }
    }
    Ok(Snapshot {
        revision: reached,
        kvs: keys
            .into_values()
            .filter(|kv| kv.lease == 0)
            .map(|kv| (kv.key, kv.value))
            .collect(),
    })
}

/// Whether the store holds no key at all.
pub async fn is_empty(store: &dyn Store) -> Result<bool> {
    let page = store
        .range(RangeRequest {
            prefix: Vec::new(),
            start_after: None,
            limit: 1,
        })
        .await?;
    Ok(page.kvs.is_empty())
}

/// Writes every key of `kvs` into `store`, which must be empty (a restore never mixes
/// with existing state), in transactions within the store's limits. Returns the revision
/// after the last one.
pub async fn load(store: &dyn Store, kvs: &[(Vec<u8>, Vec<u8>)]) -> Result<Revision> {
    if !is_empty(store).await? {
        return Err(StoreError::Backend(
            "the store to restore into is not empty: restore into a new data directory, or \
             an etcd cluster (or prefix) with no keys"
                .into(),
        ));
    }
    let max_ops = store.max_txn_ops().max(1);
    let mut revision = store.revision().await?;
    let mut batch: Vec<Op> = Vec::new();
    let mut bytes = 0;
    for (key, value) in kvs {
        let size = key.len() + value.len();
        if !batch.is_empty() && (batch.len() == max_ops || bytes + size > LOAD_BATCH_BYTES) {
            revision = put_all(store, std::mem::take(&mut batch)).await?.revision;
            bytes = 0;
        }
        batch.push(Op::put(key.as_slice(), value.as_slice()));
        bytes += size;
    }
    if !batch.is_empty() {
        revision = put_all(store, batch).await?.revision;
    }
    Ok(revision)
}

async fn put_all(store: &dyn Store, ops: Vec<Op>) -> Result<TxnResult> {
    store
        .txn(Txn {
            success: ops,
            ..Txn::default()
        })
        .await
}
