//! What every API operation shares: the store, the per-process views of each resource
//! kind, and the deployment's account id.

use std::sync::Arc;

use flotilla_aws::{AwsError, Context};
use flotilla_model::account_setting::Setting;
use flotilla_model::cluster::ClusterRecord;
use flotilla_model::record::{decode, Record};
use flotilla_model::task_definition_record::TaskDefinitionRecord;
use flotilla_model::Scope;
use flotilla_store::view::View;
use flotilla_store::{Revision, Store, StoreError, Txn, TxnResult};

use crate::error::from_store;
use crate::keys;
use crate::locks::KeyedLocks;

/// Shared API state; cheap to clone.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    account: String,
    clusters: View<ClusterRecord>,
    task_definitions: View<TaskDefinitionRecord>,
    account_settings: View<Setting>,
    /// Keys of the kinds later capabilities own (instances, tasks, services), without
    /// their values: enough to count what a cluster holds.
    contained: [View<()>; 3],
    /// Serialises registrations of one task definition family within this process.
    family_locks: KeyedLocks,
}

/// The kinds a cluster can hold, in the order of `Inner::contained`.
const CONTAINED: [&str; 3] = [keys::CONTAINER_INSTANCES, keys::TASKS, keys::SERVICES];

fn decoder<T: Record>(_key: &[u8], value: &[u8]) -> Result<T, String> {
    decode::<T>(value)
}

fn presence(_key: &[u8], _value: &[u8]) -> Result<(), String> {
    Ok(())
}

impl State {
    /// Load the views from the store and keep them current.
    pub async fn new(
        store: Arc<dyn Store>,
        account: impl Into<String>,
    ) -> Result<State, StoreError> {
        let view = |prefix: &str| prefix.as_bytes().to_vec();
        let clusters = View::start(store.clone(), view(keys::CLUSTERS), decoder).await?;
        let task_definitions =
            View::start(store.clone(), view(keys::TASK_DEFINITIONS), decoder).await?;
        let account_settings =
            View::start(store.clone(), view(keys::ACCOUNT_SETTINGS), decoder).await?;
        let contained = [
            View::start(store.clone(), view(CONTAINED[0]), presence).await?,
            View::start(store.clone(), view(CONTAINED[1]), presence).await?,
            View::start(store.clone(), view(CONTAINED[2]), presence).await?,
        ];
        Ok(State {
            inner: Arc::new(Inner {
                store,
                account: account.into(),
                clusters,
                task_definitions,
                account_settings,
                contained,
                family_locks: KeyedLocks::default(),
            }),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn account(&self) -> &str {
        &self.inner.account
    }

    pub fn clusters(&self) -> &View<ClusterRecord> {
        &self.inner.clusters
    }

    pub fn task_definitions(&self) -> &View<TaskDefinitionRecord> {
        &self.inner.task_definitions
    }

    pub fn family_locks(&self) -> &KeyedLocks {
        &self.inner.family_locks
    }

    pub fn account_settings(&self) -> &View<Setting> {
        &self.inner.account_settings
    }

    /// The region and account a request acts in.
    pub fn scope(&self, ctx: &Context) -> Scope {
        Scope::new(ctx.region.clone(), self.inner.account.clone())
    }

    /// Apply a transaction and wait until every view shows it, so the caller's next read
    /// sees its own write.
    pub async fn commit(&self, txn: Txn) -> Result<TxnResult, AwsError> {
        let result = self.inner.store.txn(txn).await.map_err(from_store)?;
        if result.succeeded {
            self.caught_up(result.revision).await?;
        }
        Ok(result)
    }

    /// Wait until every view has applied revision `rev`.
    pub async fn caught_up(&self, rev: Revision) -> Result<(), AwsError> {
        let i = &self.inner;
        let (a, b, c, d) = tokio::join!(
            i.clusters.wait_for(rev),
            i.task_definitions.wait_for(rev),
            i.account_settings.wait_for(rev),
            futures::future::try_join_all(i.contained.iter().map(|v| v.wait_for(rev))),
        );
        a.and(b).and(c).and(d.map(|_| ())).map_err(from_store)
    }

    /// How many resources of `kind` (one of [`keys::CONTAINER_INSTANCES`],
    /// [`keys::TASKS`], [`keys::SERVICES`]) a cluster holds.
    pub fn count_in_cluster(&self, kind: &str, region: &str, cluster: &str) -> usize {
        let prefix = keys::in_cluster(kind, region, cluster);
        CONTAINED
            .iter()
            .position(|k| *k == kind)
            .map(|i| self.inner.contained[i].count_prefix(prefix.as_bytes()))
            .unwrap_or(0)
    }
}
