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
use flotilla_store::{Store, StoreError, Txn, TxnResult};

use crate::error::from_store;
use crate::keys;

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
}

fn decoder<T: Record>(_key: &[u8], value: &[u8]) -> Result<T, String> {
    decode::<T>(value)
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
        Ok(State {
            inner: Arc::new(Inner {
                store,
                account: account.into(),
                clusters,
                task_definitions,
                account_settings,
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
            let i = &self.inner;
            let waits = (
                i.clusters.wait_for(result.revision),
                i.task_definitions.wait_for(result.revision),
                i.account_settings.wait_for(result.revision),
            );
            let (a, b, c) = tokio::join!(waits.0, waits.1, waits.2);
            a.and(b).and(c).map_err(from_store)?;
        }
        Ok(result)
    }

    /// Whether any key exists under `prefix` (read from the store, for kinds without a
    /// view here).
    pub async fn any_under(&self, prefix: String) -> Result<bool, AwsError> {
        let page = self
            .inner
            .store
            .range(flotilla_store::RangeRequest {
                prefix: prefix.into_bytes(),
                start_after: None,
                limit: 1,
            })
            .await
            .map_err(from_store)?;
        Ok(!page.kvs.is_empty())
    }
}
